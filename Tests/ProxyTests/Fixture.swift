import Config
import EventLoop
import Foundation
import Harness
import HTTP1
import Proxy
import Routing
import SluiceCore
import XCTest

/// An in-process proxy (real sockets, real workers) in front of scripted
/// backends, on loopback ports picked by the kernel.
final class ProxyFixture: @unchecked Sendable {
    let server: ProxyServer
    var backends: [ScriptedBackend]
    var port: UInt16 { server.boundAddresses[0].port }

    /// `clusters`: name -> backend handler. Routes default to one "predict"
    /// route on /v1/ (active "a", preview "b" when present, 90/10) plus "/"
    /// nowhere (so other paths 404).
    init(backends handlers: [(String, ScriptedBackend.Handler)], routes: [RouteConfig]? = nil, workers: Int = 1,
         tune: (inout SluiceConfig) -> Void = { _ in }) throws {
        var cfg = SluiceConfig()
        cfg.listen = ["127.0.0.1:0"]
        cfg.workers = workers
        var bs: [ScriptedBackend] = []
        for (name, h) in handlers {
            let b = try ScriptedBackend(h)
            bs.append(b)
            cfg.clusters.append(ClusterConfig(name: name, endpoints: [b.address]))
        }
        backends = bs
        cfg.routes = routes ?? [RouteConfig(name: "predict", prefix: "/v1/", active: handlers[0].0,
                                            preview: handlers.count > 1 ? handlers[1].0 : nil,
                                            weights: handlers.count > 1 ? Weights(active: 90, preview: 10)! : Weights(active: 100, preview: 0)!)]
        tune(&cfg)
        server = try ProxyServer(config: cfg)
        server.start()
    }

    deinit {
        server.stop()
        for b in backends { b.stop() }
    }

    func connect(timeout: Int = 10) throws -> (BlockingSocket, MessageReader) {
        let s = try BlockingSocket(connectTo: port, timeoutSeconds: timeout)
        return (s, MessageReader(s))
    }

    /// Sends raw bytes on a new connection and reads one response.
    func exchange(_ raw: String, method: HTTP1.Method = .get) throws -> Response {
        let (s, r) = try connect()
        defer { s.close() }
        try s.write(raw)
        return try Response(r.readResponse(method: method))
    }

    /// Changes a route's weights the way the admin API will: a new snapshot.
    func setWeights(route: String, active: UInt32, preview: UInt32) {
        _ = server.store.update { cur, gen in
            cur.with(route: cur.table.index(named: route)!, weights: Weights(active: active, preview: preview)!, generation: gen)
        }
    }
}

/// A response, decoded for assertions.
struct Response {
    let status: Int
    let headers: [(String, String)]
    let body: [UInt8]
    let head: ResponseHead

    init(_ t: (ResponseHead, [UInt8], [UInt8])) {
        head = t.0
        status = t.0.status
        headers = t.0.h.fields.map { (String(decoding: t.1[$0.nameRange], as: UTF8.self), String(decoding: t.1[$0.valueRange], as: UTF8.self)) }
        body = t.2
    }

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A backend that answers 200 with a JSON body naming `version`.
func versionBackend(_ version: String) -> ScriptedBackend.Handler {
    return { req, res in
        res.respond(headers: [("Content-Type", "application/json"), ("X-Seen-Path", req.target)],
                    body: Array("{\"version\":\"\(version)\"}".utf8))
    }
}

/// A backend that echoes the request body, with request facts in headers.
let echoBackend: ScriptedBackend.Handler = { req, res in
    res.respond(headers: [("X-Method", req.method), ("X-Body-Length", "\(req.body.count)"),
                          ("X-Connection", "\(req.connection)"),
                          ("X-Forwarded-For-Seen", req.header("x-forwarded-for") ?? "-"),
                          ("X-Request-Id-Seen", req.header("x-request-id") ?? "-"),
                          ("X-Proto-Seen", req.header("x-forwarded-proto") ?? "-"),
                          ("X-TE-Seen", req.header("transfer-encoding") ?? "-"),
                          ("X-Hop-Seen", req.header("x-hop") ?? "-"),
                          ("X-Keep-Alive-Seen", req.header("keep-alive") ?? "-")],
                body: req.body)
}

func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: t\r\n\(extra)\r\n" }

// MARK: - Helpers for the body streaming, timing, upgrade and keep-alive tests

extension ProxyFixture {
    /// Runs `body` on worker 0's loop thread (the only thread that may touch
    /// the loop's state, its buffer pool included) and waits up to 5 s for
    /// the result; nil if the loop did not answer.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (EventLoop) -> T) -> T? {
        let loop = server.group.loops[0]
        let result = Locked<T?>(nil)
        loop.execute { let v = body(loop); result.withLock { $0 = v } }
        for _ in 0..<5000 {
            if let v = result.withLock({ $0 }) { return v }
            usleep(1000)
        }
        return nil
    }

    /// The most buffers (16 KiB each) worker 0's pool ever had in use at
    /// once: the proxy's data-plane memory. Int.max if the loop is stuck.
    var poolHighWater: Int { onLoop { $0.pool.highWater } ?? Int.max }
    var poolBufferSize: Int { server.group.loops[0].pool.bufferSize }

    /// Sends raw bytes on a new connection and reads one response.
    func exchange(bytes: [UInt8], method: HTTP1.Method = .get) throws -> Response {
        let (s, r) = try connect()
        defer { s.close() }
        try s.write(bytes)
        return try Response(r.readResponse(method: method))
    }
}

/// This process's resident set size in bytes (/proc/self/statm).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// Monotonic nanoseconds, comparable across threads of this process.
func nowNanos() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// `n` pseudo-random bytes (SplitMix64, seeded from the system generator).
func randomBytes(_ n: Int) -> [UInt8] {
    var state = UInt64.random(in: .min ... .max)
    var out = [UInt8](repeating: 0, count: n)
    out.withUnsafeMutableBytes { p in
        var i = 0
        while i < n {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            withUnsafeBytes(of: z) { w in
                let k = min(8, n - i)
                p.baseAddress!.advanced(by: i).copyMemory(from: w.baseAddress!, byteCount: k)
            }
            i += 8
        }
    }
    return out
}

/// An order-sensitive digest of a byte stream that does not depend on how
/// the stream was split into pieces (Hasher is seeded once per process, and
/// both ends of every transfer run in this process).
struct StreamDigest {
    private var hasher = Hasher()
    private(set) var count: Int64 = 0

    mutating func update(_ p: UnsafeRawBufferPointer) {
        hasher.combine(bytes: p)
        count += Int64(p.count)
    }

    var value: Int { var h = hasher; return h.finalize() }
    /// "length:digest", for a header.
    var text: String { "\(count):\(value)" }
}

/// A stream of random bytes of any length, emitted in pieces cut from a
/// 4 MiB random pool at shifting offsets, so hundreds of MiB can be sent
/// without ever existing in memory at once.
struct RandomSource: Sendable {
    let pool: [UInt8]

    init(poolSize: Int = 4 << 20) { pool = randomBytes(poolSize) }

    /// Calls `emit` with consecutive pieces of at most `piece` bytes that
    /// add up to `total` bytes.
    func forEachPiece(total: Int64, piece: Int = 64 << 10, _ emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        precondition(piece < pool.count)
        var sent: Int64 = 0
        var k = 0
        try pool.withUnsafeBytes { p in
            while sent < total {
                let n = Int(min(Int64(piece), total - sent))
                let offset = (k &* 1_000_003) % (pool.count - piece)
                try emit(UnsafeRawBufferPointer(rebasing: p[offset..<offset + n]))
                sent += Int64(n)
                k += 1
            }
        }
    }
}

/// A chunked body: each piece as one chunk (with `ext` after its size when
/// given), then the last chunk and `trailers` ("Name: value" lines).
func chunkedBody(_ pieces: [[UInt8]], ext: [String?] = [], trailers: [String] = []) -> [UInt8] {
    var out: [UInt8] = []
    for (k, p) in pieces.enumerated() where !p.isEmpty {
        let e = k < ext.count ? ext[k].map { ";" + $0 } ?? "" : ""
        out += Array((String(p.count, radix: 16) + e + "\r\n").utf8) + p + Array("\r\n".utf8)
    }
    out += Array("0\r\n".utf8)
    for t in trailers { out += Array((t + "\r\n").utf8) }
    out += Array("\r\n".utf8)
    return out
}

extension MessageReader {
    /// Reads until `count` bytes are buffered; returns (and drops) them.
    func readRaw(count: Int) throws -> [UInt8] {
        while buffer.count < count {
            let b = try socket.read()
            if b.isEmpty { throw SysError("EOF after \(buffer.count) of \(count) raw bytes", 0) }
            buffer += b
        }
        let out = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return out
    }

    /// Reads until `marker` is buffered; returns (and drops) the bytes through it.
    func readRaw(through marker: String) throws -> [UInt8] {
        let m = Array(marker.utf8)
        var searchFrom = 0
        while true {
            if buffer.count >= m.count {
                for i in searchFrom...(buffer.count - m.count) where buffer[i..<i + m.count].elementsEqual(m) {
                    let out = Array(buffer[0..<i + m.count])
                    buffer.removeFirst(i + m.count)
                    return out
                }
                searchFrom = buffer.count - m.count + 1
            }
            let b = try socket.read()
            if b.isEmpty { throw SysError("EOF before \(marker.debugDescription)", 0) }
            buffer += b
        }
    }

    /// Whether the peer closes the connection within `seconds` (EOF or
    /// reset), discarding whatever else arrives. False when it stays open.
    func closesWithin(seconds: Int) -> Bool {
        socket.setTimeout(seconds: seconds)
        defer { socket.setTimeout(seconds: 10) }
        for _ in 0..<10_000 {
            do {
                if try socket.read().isEmpty { return true }
            } catch let e as SysError {
                return e.errno == ECONNRESET  // EAGAIN: the timeout passed, still open
            } catch {
                return false
            }
        }
        return false
    }
}

/// Polls `condition` every 10 ms for up to `seconds`; whether it held.
func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

extension ProxyFixture {
    /// Returns once worker 0 has completed a full tick after this call, so a
    /// snapshot published before it (setWeights) is the one it now uses.
    func waitForSnapshotPickup() {
        // A task runs before the tick's snapshot check; the second task's tick
        // starts after the first one's check has run.
        _ = onLoop { _ in 0 }
        _ = onLoop { _ in 0 }
    }
}
