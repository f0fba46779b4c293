import EventLoop
import HTTP1
import SluiceCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A request as a scripted backend received it.
public struct BackendRequest: Sendable {
    public let method: String
    public let target: String
    public let headers: [(String, String)]
    public let body: [UInt8]
    /// Which TCP connection (1, 2, ...) of this backend carried it.
    public let connection: Int

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// What a handler can do with the connection a request arrived on.
public final class BackendResponder: @unchecked Sendable {
    public let socket: BlockingSocket
    /// Set false to close the connection after this response.
    public var keepAlive = true
    /// The connection's reader. When the backend streams request bodies
    /// (`ScriptedBackend.streamRequestBodies`), the handler must read the
    /// body through it (`readRequestBody`) before answering.
    public internal(set) var reader: MessageReader?
    /// The framing of the request being answered.
    public internal(set) var requestFraming: BodyFraming = .none

    /// Streams the request body to `sink` (streaming mode only); returns its length.
    @discardableResult
    public func readRequestBody(_ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        guard let reader else { return 0 }
        return try reader.streamBody(requestFraming, sink)
    }

    init(_ s: BlockingSocket) { socket = s }

    /// A complete response with Content-Length.
    public func respond(status: Int = 200, reason: String = "OK", headers: [(String, String)] = [], body: [UInt8] = []) {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        if !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        try? socket.write(Array(head.utf8) + body)
    }

    public func respond(status: Int = 200, json: String) {
        respond(status: status, headers: [("Content-Type", "application/json")], body: Array(json.utf8))
    }

    /// Raw bytes, exactly as given.
    public func raw(_ bytes: [UInt8]) { try? socket.write(bytes) }
    public func raw(_ s: String) { raw(Array(s.utf8)) }
}

/// A loopback HTTP/1.1 server whose every response is scripted by a closure.
/// Thread per connection; keep-alive unless the handler says otherwise.
public final class ScriptedBackend: @unchecked Sendable {
    public typealias Handler = @Sendable (BackendRequest, BackendResponder) -> Void

    public let port: UInt16
    private let listener: Int32
    private let handler: Handler
    private let stopping = Atomic<Bool>(false)
    private let acceptThread = Locked<WorkerThread?>(nil)
    private let openSockets = Locked<[Int32: BlockingSocket]>([:])
    /// TCP connections accepted so far.
    public let connections = Atomic<Int>(0)
    public let requests = Atomic<Int>(0)
    /// When set, request bodies are not read before the handler runs: the
    /// handler streams them with `BackendResponder.readRequestBody` (for
    /// uploads too large to hold). `BackendRequest.body` is then empty.
    public let streamRequestBodies = Atomic<Bool>(false)

    public init(host: String = "127.0.0.1", _ handler: @escaping Handler) throws {
        self.handler = handler
        Sys.ignoreSIGPIPE()
        let fd = try Sys.listen(SocketAddress(host: host, port: 0)!, backlog: 1024, reusePort: false)
        // Blocking accept with a timeout, so stop() is noticed.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        listener = fd
        port = SocketAddress.local(of: fd)!.port
        let t = WorkerThread(name: "backend-accept") { [self] in acceptLoop() }
        acceptThread.withLock { $0 = t }
    }

    deinit { stop() }

    public var address: String { "127.0.0.1:\(port)" }

    private func acceptLoop() {
        while !stopping.load(ordering: .relaxed) {
            let c = Glibc.accept(listener, nil, nil)
            if c < 0 { continue }
            let n = connections.add(1, ordering: .relaxed).newValue
            let s = BlockingSocket(fd: c)
            s.setTimeout(seconds: 30)
            openSockets.withLock { $0[c] = s }
            WorkerThread.detached(name: "backend-conn") { [self] in serve(s, connection: n) }
        }
    }

    private func serve(_ s: BlockingSocket, connection: Int) {
        let reader = MessageReader(s)
        defer {
            openSockets.withLock { _ = $0.removeValue(forKey: s.fd) }
            s.close()
        }
        while !stopping.load(ordering: .relaxed) {
            let streaming = streamRequestBodies.load(ordering: .relaxed)
            guard let (head, headBytes, body) = try? reader.readRequest(readBody: !streaming) else { return }
            requests.add(1, ordering: .relaxed)
            let headers = head.h.fields.map {
                (String(decoding: headBytes[$0.nameRange], as: UTF8.self), String(decoding: headBytes[$0.valueRange], as: UTF8.self))
            }
            let req = BackendRequest(method: String(decoding: headBytes[head.methodRange], as: UTF8.self),
                                     target: String(decoding: headBytes[head.target], as: UTF8.self),
                                     headers: headers, body: body, connection: connection)
            let responder = BackendResponder(s)
            responder.keepAlive = head.keepAlive
            responder.reader = reader
            responder.requestFraming = head.framing
            handler(req, responder)
            if !responder.keepAlive { return }
        }
    }

    /// Stops accepting and closes every open connection.
    public func stop() {
        if stopping.exchange(true, ordering: .relaxed) { return }
        acceptThread.withLock { $0?.join(); $0 = nil }
        Glibc.close(listener)
        openSockets.withLock { for (_, s) in $0 { s.shutdownWrite(); Glibc.shutdown(s.fd, Int32(SHUT_RD)) } }
    }
}
