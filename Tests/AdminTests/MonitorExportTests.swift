import Compression
import Config
import Foundation
import Harness
import Telemetry
import HTTP1
import Monitor
import Synchronization
import Routing
import Runtime
import SluiceCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The per-request records: pushed to a monitor (gzip JSON lines, batched,
/// retried) and written to the access log, never slowing the data plane.
final class MonitorExportTests: XCTestCase {
    static let keys: Set<String> = ["ts", "request_id", "route", "backend", "cluster", "endpoint", "method", "path", "status",
                                    "latency_ms", "upstream_ms", "bytes_in", "bytes_out", "error"]

    final class World: @unchecked Sendable {
        let runtime: SluiceRuntime
        let backend: ScriptedBackend
        var port: UInt16 { runtime.proxy.boundAddresses[0].port }

        init(push: PushConfig?, accessLog: String? = nil, backendDelayMicros: UInt32 = 0) throws {
            backend = try ScriptedBackend { req, res in
                if backendDelayMicros > 0 { usleep(backendDelayMicros) }
                res.respond(body: Array("answer for \(req.target)".utf8))
            }
            var cfg = SluiceConfig()
            cfg.listen = ["127.0.0.1:0"]
            cfg.workers = 2
            cfg.clusters = [ClusterConfig(name: "m1", endpoints: [backend.address])]
            cfg.routes = [RouteConfig(name: "predict", prefix: "/v1/", active: "m1")]
            cfg.monitor.push = push
            cfg.monitor.accessLog = accessLog
            runtime = try SluiceRuntime(config: cfg, adminListen: "127.0.0.1:0")
            try runtime.start()
        }

        deinit {
            runtime.stop()
            backend.stop()
        }

        /// Sends requests over `connections` keep-alive connections; returns client-side latencies (ms).
        @discardableResult
        func send(_ n: Int, path: String = "/v1/models/m:predict", connections: Int = 2) throws -> [Double] {
            var lat: [Double] = []
            let per = n / connections
            for c in 0..<connections {
                let s = try BlockingSocket(connectTo: port)
                let r = MessageReader(s)
                for k in 0..<(c == connections - 1 ? n - per * (connections - 1) : per) {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    try s.write("GET \(path)?k=\(k) HTTP/1.1\r\nHost: t\r\n\r\n")
                    _ = try r.readResponse()
                    lat.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
                }
                s.close()
            }
            return lat
        }
    }

    /// A monitor that counts what it receives (gzip JSON lines).
    final class Sink: @unchecked Sendable {
        let records = Locked<[[String: Any]]>([])
        let posts = Locked(0)
        var server: ScriptedBackend!

        init() throws {
            server = try ScriptedBackend { [unowned self] req, res in
                posts.withLock { $0 += 1 }
                var body = req.body
                if req.header("content-encoding") == "gzip" { body = (try? Gunzip.decompress(body)) ?? [] }
                let lines = String(decoding: body, as: UTF8.self).split(separator: "\n")
                let parsed = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                records.withLock { $0.append(contentsOf: parsed) }
                res.respond(status: 204, reason: "No Content")
            }
        }
    }

    private func wait(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { if cond() { return true }; usleep(20_000) }
        return cond()
    }

    func testPushDeliversEveryRecordGzipped() throws {
        let sink = try Sink()
        defer { sink.server.stop() }
        var push = PushConfig(url: "http://\(sink.server.address)/ingest")
        push.interval = 200
        push.batchMax = 64
        let w = try World(push: push)
        try w.send(300)
        try w.send(5, path: "/nowhere")
        let m = w.runtime.monitor!
        XCTAssertTrue(wait(10) { m.delivered.load(ordering: .relaxed) == 305 }, "delivered \(m.delivered.load(ordering: .relaxed))")
        let recs = sink.records.withLock { $0 }
        // A record delivered twice would show here as a repeated id.
        var perID: [String: Int] = [:]
        for r in recs { if let id = r["request_id"] as? String, !id.isEmpty { perID[id, default: 0] += 1 } }
        XCTAssertEqual(perID.values.filter { $0 > 1 }.count, 0, "records delivered more than once")
        XCTAssertEqual(recs.count, 305)
        XCTAssertGreaterThanOrEqual(sink.posts.withLock { $0 }, 5, "batched: 64 records at most per POST")
        XCTAssertEqual(m.dropped, 0)
        for r in recs { XCTAssertEqual(Set(r.keys), Self.keys, "\(r)") }
        let routed = recs.filter { ($0["route"] as? String) == "predict" }
        XCTAssertEqual(routed.count, 300)
        let r0 = routed[0]
        XCTAssertEqual(r0["backend"] as? String, "active")
        XCTAssertEqual(r0["cluster"] as? String, "m1")
        XCTAssertEqual(r0["endpoint"] as? String, w.backend.address)
        XCTAssertEqual(r0["method"] as? String, "GET")
        XCTAssertTrue((r0["path"] as? String)?.hasPrefix("/v1/models/m:predict?k=") ?? false)
        XCTAssertEqual(r0["status"] as? Int, 200)
        XCTAssertTrue(r0["error"] is NSNull)
        XCTAssertNotNil(r0["upstream_ms"] as? Double)
        XCTAssertEqual((r0["request_id"] as? String)?.count, 36)
        XCTAssertGreaterThan(r0["bytes_out"] as? Int ?? 0, 0)
        XCTAssertTrue((r0["ts"] as? String)?.hasSuffix("Z") ?? false)
        let unrouted = recs.filter { ($0["route"] as? String) == "-" }
        XCTAssertEqual(unrouted.count, 5)
        XCTAssertEqual(unrouted[0]["error"] as? String, "no_route")
        XCTAssertEqual(unrouted[0]["status"] as? Int, 404)
        XCTAssertTrue(unrouted[0]["upstream_ms"] is NSNull)
        XCTAssertEqual((unrouted[0]["request_id"] as? String)?.count, 36, "refused requests get an id too")
    }

    /// A dead monitor: records wait (bounded) and are retried; what does not
    /// fit is dropped and counted. Delivered + dropped + waiting = sent.
    func testDeadMonitorDropsAndCounts() throws {
        let dead = try ScriptedBackend { _, _ in }
        let address = dead.address
        dead.stop()  // connections are refused from here on
        var push = PushConfig(url: "http://\(address)/ingest")
        push.interval = 50
        push.batchMax = 10
        let w = try World(push: push)
        try w.send(400)
        let m = w.runtime.monitor!
        XCTAssertTrue(wait(10) { m.collected.load(ordering: .relaxed) == 400 })
        usleep(300_000)
        let delivered = m.delivered.load(ordering: .relaxed)
        let waiting = m.queued.load(ordering: .relaxed) + m.filling.load(ordering: .relaxed)
        XCTAssertEqual(delivered, 0)
        XCTAssertGreaterThan(m.dropped, 0, "the bounded queue overflowed")
        XCTAssertEqual(delivered + m.dropped + waiting, 400)
        XCTAssertGreaterThan(m.pushAttempts.load(ordering: .relaxed), 1, "retried")
        // The drop count is exported.
        let metrics = try adminGet(w, "/metrics")
        let exported = metrics.split(separator: "\n").first { $0.hasPrefix("sluice_monitor_records_dropped_total ") }
        XCTAssertEqual(exported.flatMap { UInt64($0.split(separator: " ")[1]) }, m.dropped, metrics)
    }

    /// A monitor that accepts connections and never answers must not slow
    /// the data plane: client latency stays close to a healthy monitor's.
    func testBlackHoleMonitorDoesNotSlowTheDataPlane() throws {
        let hole = try ScriptedBackend { _, _ in usleep(3_000_000) }
        defer { hole.stop() }
        let sink = try Sink()
        defer { sink.server.stop() }
        func p50(_ url: String) throws -> Double {
            var push = PushConfig(url: url)
            push.interval = 20
            push.batchMax = 20
            let w = try World(push: push, backendDelayMicros: 200)
            try w.send(50)  // warm up
            let lat = try w.send(400).sorted()
            return lat[lat.count / 2]
        }
        let healthy = try p50("http://\(sink.server.address)/ingest")
        let blackHoled = try p50("http://\(hole.address)/ingest")
        XCTAssertLessThan(blackHoled, healthy * 1.5 + 1.0, "p50 with a black-holed monitor \(blackHoled) ms vs \(healthy) ms")
    }

    func testAccessLogLines() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-access-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log").path
        defer { unlink(path) }
        let w = try World(push: nil, accessLog: path)
        try w.send(50)
        try w.send(2, path: "/nowhere")
        // An extension method travels as text (standard ones as a code).
        let s = try BlockingSocket(connectTo: w.port)
        try s.write("PURGE /v1/cache HTTP/1.1\r\nHost: t\r\nX-Request-Id: purge-1\r\n\r\n")
        _ = try MessageReader(s).readResponse()
        s.close()
        let started = Date().timeIntervalSince1970
        var lines: [Substring] = []
        XCTAssertTrue(wait(5) {
            lines = (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n") ?? []
            return lines.count == 53
        }, "\(lines.count) lines")
        var routed = 0
        for l in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            XCTAssertEqual(Set(obj.keys), Self.keys)
            let ts = ISO8601DateFormatter.withMillis.date(from: obj["ts"] as? String ?? "")
            XCTAssertNotNil(ts, "\(l)")
            if let ts { XCTAssertEqual(ts.timeIntervalSince1970, started, accuracy: 60) }
            if obj["route"] as? String == "predict" {
                routed += 1
                XCTAssertEqual(obj["endpoint"] as? String, w.backend.address, "\(l)")
                XCTAssertEqual(obj["cluster"] as? String, "m1")
                XCTAssertEqual(obj["status"] as? Int, 200)
            } else {
                XCTAssertTrue(obj["endpoint"] is NSNull, "\(l)")
            }
        }
        XCTAssertEqual(routed, 51)
        XCTAssertEqual(lines.filter { $0.contains("\"error\":\"no_route\"") }.count, 2)
        XCTAssertEqual(lines.filter { $0.contains("\"method\":\"GET\"") }.count, 52)
        XCTAssertEqual(lines.filter { $0.contains("\"method\":\"PURGE\",\"path\":\"/v1/cache\"") && $0.contains("purge-1") }.count, 1)
    }

    func testRecordMethodCodesMatchTheCodec() {
        for (code, name) in RequestRecord.methodNames.enumerated() {
            let m = HTTP1.Method(rawValue: UInt8(code))
            XCTAssertNotNil(m)
            XCTAssertNotEqual(m, .other, name)
            var parser = RequestParser()
            var head = RequestHead()
            let raw = Array("\(name) / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
            _ = raw.withUnsafeBytes { parser.parse($0, into: &head) }
            XCTAssertEqual(head.method, m, name)
        }
        XCTAssertEqual(Int(HTTP1.Method.other.rawValue), RequestRecord.methodNames.count)
    }

    private func adminGet(_ w: World, _ path: String) throws -> String {
        let s = try BlockingSocket(connectTo: w.runtime.admin!.address.port)
        defer { s.close() }
        try s.write("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")
        return String(decoding: try MessageReader(s).readResponse().2, as: UTF8.self)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withMillis: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
