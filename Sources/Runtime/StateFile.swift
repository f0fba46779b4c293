import Config
import Foundation
import Proxy
import Routing
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// Runtime weights on disk (`admin.state_file`): written before a change is
/// acknowledged (temp file, fsync, rename, fsync of the directory, so a
/// crash at any point leaves the old or the new file), read at start over
/// the config file's weights. A corrupt file is reported and ignored.
enum StateFile {
    /// `{"routes":{"name":{"active":N,"preview":N},...}}`, routes with a preview only.
    static func encode(_ snap: ProxySnapshot) -> String {
        let items = snap.table.routes.filter { $0.previewCluster != nil }.map {
            "\(StatsJSON.json($0.name)):{\"active\":\($0.weights.active),\"preview\":\($0.weights.preview)}"
        }
        return "{\"routes\":{" + items.joined(separator: ",") + "}}\n"
    }

    static func write(_ path: String, _ text: String) throws {
        let dir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { let e = errno; close(fd); unlink(tmp); throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EIO) }
            off += n
        }
        if fsync(fd) != 0 { let e = errno; close(fd); unlink(tmp); throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EIO) }
        close(fd)
        if rename(tmp, path) != 0 { let e = errno; unlink(tmp); throw POSIXError(POSIXErrorCode(rawValue: e) ?? .EIO) }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Route name -> weights, or an error describing why the file is unusable.
    static func read(_ path: String) -> Result<[String: Weights], StateError> {
        guard FileManager.default.fileExists(atPath: path) else { return .success([:]) }
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let routes = obj["routes"] as? [String: Any] else {
            return .failure(StateError(message: "\(path): not a Sluice state file; ignored"))
        }
        var out: [String: Weights] = [:]
        for (name, v) in routes {
            guard let w = v as? [String: Any], let a = w["active"] as? Int, let p = w["preview"] as? Int,
                  a >= 0, p >= 0, a <= Int(UInt32.max), p <= Int(UInt32.max),
                  let weights = Weights(active: UInt32(a), preview: UInt32(p)) else {
                return .failure(StateError(message: "\(path): bad weights for route \(name); file ignored"))
            }
            out[name] = weights
        }
        return .success(out)
    }

    struct StateError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

/// The running config as JSON for `GET /config` (secrets never included:
/// the token file's path is shown, not its content).
enum ConfigJSON {
    static func render(_ c: SluiceConfig) -> String {
        func opt(_ s: String?) -> String { s.map(StatsJSON.json) ?? "null" }
        let clusters = c.clusters.map { cl in
            "\(StatsJSON.json(cl.name)):{\"endpoints\":[\(cl.endpoints.map(StatsJSON.json).joined(separator: ","))],"
                + "\"lb\":\(StatsJSON.json(cl.lb.rawValue)),\"max_connections\":\(cl.maxConnections),\"max_pending\":\(cl.maxPending),"
                + "\"health_check\":\(cl.healthCheck.map { "{\"path\":\(StatsJSON.json($0.path)),\"interval_ms\":\($0.interval),\"timeout_ms\":\($0.timeout)}" } ?? "null")}"
        }
        let routes = c.routes.map { r in
            "{\"name\":\(StatsJSON.json(r.name)),\"prefix\":\(StatsJSON.json(r.prefix)),\"active\":\(StatsJSON.json(r.active)),"
                + "\"preview\":\(opt(r.preview)),\"weights\":{\"active\":\(r.weights.active),\"preview\":\(r.weights.preview)},"
                + "\"timeout_ms\":\(r.timeout.map(String.init) ?? "null")}"
        }
        return "{\"listen\":[\(c.listen.map(StatsJSON.json).joined(separator: ","))],"
            + "\"workers\":\(c.workers.map(String.init) ?? "\"auto\""),"
            + "\"admin\":{\"listen\":\(StatsJSON.json(c.admin.listen)),\"token_file\":\(opt(c.admin.tokenFile)),\"state_file\":\(opt(c.admin.stateFile))},"
            + "\"limits\":{\"max_connections\":\(c.limits.maxConnections),\"max_request_header_bytes\":\(c.limits.maxRequestHeaderBytes),\"max_request_body_bytes\":\(c.limits.maxRequestBodyBytes)},"
            + "\"timeouts_ms\":{\"connect\":\(c.timeouts.connect),\"request\":\(c.timeouts.request),\"idle\":\(c.timeouts.idle),\"header\":\(c.timeouts.header),\"drain\":\(c.timeouts.drain)},"
            + "\"clusters\":{\(clusters.joined(separator: ","))},"
            + "\"routes\":[\(routes.joined(separator: ","))],"
            + "\"monitor\":{\"push\":\(c.monitor.push.map { "{\"url\":\(StatsJSON.json($0.url))}" } ?? "null"),\"access_log\":\(opt(c.monitor.accessLog)),\"envoy_metrics\":\(c.monitor.envoyMetrics)}}\n"
    }
}
