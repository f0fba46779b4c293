// Admin: the operator's HTTP port (SPEC §6): health, readiness, metrics,
// stats, and (with the admin issue) runtime weight changes.
//
// Why it exists: rollout controllers and Prometheus talk to Sluice here,
// on a listener of its own (loopback by default), never on the data plane.
// What it must never do: import Proxy. It reads and changes the data plane
// only through the closures the executable hands it (`AdminHooks`), so the
// dependency arrow stays one-way.
import Compression
import EventLoop
#if canImport(Glibc)
import Glibc
#endif
import HTTP1
import SluiceCore

/// A request as the admin API sees it.
public struct AdminRequest: Sendable {
    public let method: String
    public let path: String
    public let headers: [(String, String)]
    public let body: [UInt8]

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.0.lowercased() == n }?.1
    }
}

/// A response from an admin endpoint.
public struct AdminResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    public init(status: Int = 200, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func json(_ status: Int, _ text: String) -> AdminResponse {
        AdminResponse(status: status, body: Array(text.utf8))
    }

    public static func error(_ status: Int, _ reason: String) -> AdminResponse {
        json(status, "{\"error\":\"\(reason)\"}\n")
    }
}

/// What the admin port can see of the process: plain closures, called on
/// the admin thread.
public struct AdminHooks: Sendable {
    /// Prometheus text (SPEC §7).
    public var metrics: @Sendable () -> String
    /// `/stats` JSON.
    public var stats: @Sendable () -> String
    /// True while listening with a config loaded; false once draining.
    public var ready: @Sendable () -> Bool
    /// Endpoints beyond the built-in ones (routes, weights, reload...):
    /// nil means "not mine" (404).
    public var extra: @Sendable (AdminRequest) -> AdminResponse?

    public init(metrics: @escaping @Sendable () -> String, stats: @escaping @Sendable () -> String,
                ready: @escaping @Sendable () -> Bool,
                extra: @escaping @Sendable (AdminRequest) -> AdminResponse? = { _ in nil }) {
        self.metrics = metrics
        self.stats = stats
        self.ready = ready
        self.extra = extra
    }
}

/// The admin HTTP server: one loop on one thread of its own, HTTP/1.1 with
/// keep-alive, strict parsing (the same codec as the data plane), bodies up
/// to 64 KiB (413 beyond).
public final class AdminServer: @unchecked Sendable {
    public let address: SocketAddress
    private let loop: EventLoop
    private var thread: WorkerThread?
    private let listener: Int32
    private let hooks: AdminHooks
    private let token: [UInt8]?

    public static let maxBody = 64 * 1024

    /// With `token`, every call that is not GET or HEAD needs
    /// `Authorization: Bearer <token>` (compared in constant time).
    public init(listen: String, hooks: AdminHooks, token: String? = nil) throws {
        self.token = token.map { Array($0.utf8) }
        guard let addr = SocketAddress(listen) else { throw SysError("bad admin address \(listen)", 0) }
        listener = try Sys.listen(addr, backlog: 256, reusePort: false)
        address = SocketAddress.local(of: listener) ?? addr
        loop = try EventLoop(bufferSize: 16384, maxBuffers: 256)
        self.hooks = hooks
    }

    public func start() {
        let loop = self.loop, listener = self.listener, hooks = self.hooks, token = self.token
        let ready = Locked(false)
        thread = WorkerThread(name: "sluice-admin") {
            let h = AdminHandler(loop: loop, listener: listener, hooks: hooks, token: token)
            ready.withLock { $0 = true }
            loop.run(h)
            h.closeAll()
        }
        while !ready.withLock({ $0 }) { usleep(1000) }
    }

    public func stop() {
        loop.stop()
        thread?.join()
        thread = nil
    }
}

/// Connections of the admin port (admin thread only). Allocation is fine
/// here: this is not the data plane.
final class AdminHandler: LoopHandler {
    struct Conn {
        var fd: Int32
        var input: [UInt8] = []
        var output: [UInt8] = []
        var closeAfterWrite = false
        var closed = false
    }

    let loop: EventLoop
    let listener: Int32
    let hooks: AdminHooks
    let token: [UInt8]?
    var conns = Slab<Conn>(capacity: 16)
    var dead: [SlabHandle] = []

    init(loop: EventLoop, listener: Int32, hooks: AdminHooks, token: [UInt8]?) {
        self.loop = loop
        self.listener = listener
        self.hooks = hooks
        self.token = token
        try? loop.register(listener, token: 0, interest: .readable)
    }

    func onEvent(_ token: UInt64, _ events: IOEvents) {
        if token == 0 {
            while case .bytes(let raw) = Sys.accept(listener) {
                let fd = Int32(raw)
                let h = conns.insert(Conn(fd: fd))
                if (try? loop.register(fd, token: h.packed, interest: .edgeTriggered)) == nil {
                    conns.remove(h)
                    Sys.close(fd)
                    continue
                }
                loop.timers.arm(Int(h.index), at: loop.now + 30_000)
            }
            return
        }
        let h = SlabHandle(packed: token)
        guard conns.contains(h), !conns[index: h.index].closed else { return }
        if events.contains(.readable) || events.contains(.readHangup) { readAll(h) }
        if events.contains(.writable) { flush(h) }
    }

    func onTimer(_ id: Int) {
        let slot = Int32(id)
        if let g = conns.generation(at: slot) { close(SlabHandle(index: slot, generation: g)) }
    }

    func onTickEnd() {
        for h in dead { conns.remove(h) }
        dead.removeAll()
    }

    private func readAll(_ h: SlabHandle) {
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let fd = conns[index: h.index].fd
            let r = buf.withUnsafeMutableBytes { Sys.read(fd, $0.baseAddress!, $0.count) }
            switch r {
            case .bytes(let n):
                conns[index: h.index].input.append(contentsOf: buf[0..<n])
                if conns[index: h.index].input.count > AdminServer.maxBody + 70_000 {
                    respond(h, .error(413, "body_too_large"), close: true)
                    return
                }
                process(h)
                if n < buf.count { return }
            case .eof:
                if conns[index: h.index].output.isEmpty { close(h) } else { conns[index: h.index].closeAfterWrite = true }
                return
            case .wouldBlock:
                return
            case .error:
                close(h)
                return
            }
        }
    }

    /// Parses and answers every complete request in the input, in order.
    private func process(_ h: SlabHandle) {
        while !conns[index: h.index].closed && !conns[index: h.index].closeAfterWrite {
            let input = conns[index: h.index].input
            var parser = RequestParser(limits: HeadLimits(maxHeadBytes: 65536))
            var head = RequestHead()
            let r = input.withUnsafeBytes { parser.parse($0, into: &head) }
            switch r {
            case .incomplete:
                return
            case .error(let e):
                respond(h, .error(e.status, "bad_request"), close: true)
                return
            case .complete(let n):
                var bodyLength = 0
                switch head.framing {
                case .length(let l):
                    if l > Int64(AdminServer.maxBody) {
                        respond(h, .error(413, "body_too_large"), close: true)
                        return
                    }
                    bodyLength = Int(l)
                case .chunked:
                    respond(h, .error(411, "length_required"), close: true)
                    return
                default:
                    break
                }
                guard input.count >= n + bodyLength else { return }
                let method = String(decoding: input[head.methodRange], as: UTF8.self)
                var path = String(decoding: input[head.path], as: UTF8.self)
                if path.isEmpty { path = "/" }
                let headers = head.h.fields.map {
                    (String(decoding: input[$0.nameRange], as: UTF8.self), String(decoding: input[$0.valueRange], as: UTF8.self))
                }
                let req = AdminRequest(method: method, path: path, headers: headers, body: Array(input[n..<n + bodyLength]))
                conns[index: h.index].input.removeFirst(n + bodyLength)
                respond(h, handle(req), close: !head.keepAlive, gzip: acceptsGzip(req.header("accept-encoding")),
                        headOnly: req.method == "HEAD")
            }
        }
    }

    /// Whether a mutating call carries the token. Constant time in the
    /// token's length: every byte is compared, whatever differs first.
    func authorized(_ req: AdminRequest) -> Bool {
        guard let t = token else { return true }
        guard let h = req.header("authorization"), h.hasPrefix("Bearer ") else { return false }
        let given = Array(h.utf8.dropFirst(7))
        var diff = UInt8(given.count == t.count ? 0 : 1)
        for i in 0..<t.count { diff |= t[i] ^ (i < given.count ? given[i] : 0) }
        return diff == 0
    }

    /// The built-in endpoints, then the hooks' own.
    func handle(_ req: AdminRequest) -> AdminResponse {
        if req.method != "GET" && req.method != "HEAD" && !authorized(req) {
            return .error(401, "unauthorized")
        }
        switch req.path {
        case "/healthz":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            return .json(200, "{\"status\":\"ok\"}\n")
        case "/ready":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            return hooks.ready() ? .json(200, "{\"ready\":true}\n") : .json(503, "{\"ready\":false}\n")
        case "/metrics":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            return AdminResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(hooks.metrics().utf8))
        case "/stats":
            guard req.method == "GET" || req.method == "HEAD" else { return .error(405, "method_not_allowed") }
            return .json(200, hooks.stats())
        default:
            return hooks.extra(req) ?? .error(404, "not_found")
        }
    }

    /// Whether Accept-Encoding allows gzip (present, and not with q=0).
    private func acceptsGzip(_ value: String?) -> Bool {
        guard let v = value?.lowercased() else { return false }
        for part in v.split(separator: ",") {
            let items = part.split(separator: ";").map { String($0.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()) }
            guard let coding = items.first, coding == "gzip" || coding == "*" else { continue }
            let q = items.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
        return false
    }

    private func respond(_ h: SlabHandle, _ resp: AdminResponse, close: Bool, gzip: Bool = false, headOnly: Bool = false) {
        var body = resp.body
        var encoding: String?
        // gzip when the client asks for it (Prometheus does) and it pays.
        if gzip && body.count > 1024, let gz = try? GzipCompressor.compress(body) {
            body = gz
            encoding = "gzip"
        }
        var head = "HTTP/1.1 \(resp.status) \(StatusReason.phrase(resp.status))\r\n"
        head += "content-type: \(resp.contentType)\r\n"
        if let e = encoding { head += "content-encoding: \(e)\r\n" }
        head += "vary: accept-encoding\r\n"
        head += "content-length: \(body.count)\r\n"
        if close { head += "connection: close\r\n" }
        head += "\r\n"
        conns[index: h.index].output.append(contentsOf: Array(head.utf8))
        if !headOnly { conns[index: h.index].output.append(contentsOf: body) }
        if close { conns[index: h.index].closeAfterWrite = true }
        flush(h)
    }

    private func flush(_ h: SlabHandle) {
        while !conns[index: h.index].output.isEmpty {
            let fd = conns[index: h.index].fd
            let r = conns[index: h.index].output.withUnsafeBytes { Sys.write(fd, $0.baseAddress!, $0.count) }
            switch r {
            case .bytes(let n): conns[index: h.index].output.removeFirst(n)
            case .wouldBlock: return
            default: close(h); return
            }
        }
        if conns[index: h.index].closeAfterWrite { close(h) }
    }

    private func close(_ h: SlabHandle) {
        guard conns.contains(h), !conns[index: h.index].closed else { return }
        conns[index: h.index].closed = true
        loop.timers.cancel(Int(h.index))
        Sys.close(conns[index: h.index].fd)
        dead.append(h)
    }

    func closeAll() {
        Sys.close(listener)
        for h in conns.handles { close(h) }
        onTickEnd()
    }
}
