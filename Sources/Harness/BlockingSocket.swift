// Harness: loopback model backends and a small HTTP client, for the demo,
// the integration tests and the benchmarks.
//
// Why it exists: tests need backends whose behaviour each test scripts
// (delay, status, reset mid-body, chunked, SSE, invalid responses), and the
// demo needs two model servers. They use blocking sockets and a thread per
// connection: simple and obviously correct, not a data plane.
import EventLoop
import HTTP1
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket with timeouts.
public final class BlockingSocket: @unchecked Sendable {
    public let fd: Int32
    private var closed = false

    public init(fd: Int32) { self.fd = fd }

    /// Connects to 127.0.0.1:port (or `host`).
    public init(connectTo port: UInt16, host: String = "127.0.0.1", timeoutSeconds: Int = 10) throws {
        guard let addr = SocketAddress(host: host, port: port) else { throw SysError("bad host \(host)", 0) }
        let s = socket(addr.family, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SysError("socket", errno) }
        fd = s
        setTimeout(seconds: timeoutSeconds)
        let rc = addr.withSockAddr { Glibc.connect(s, $0, $1) }
        if rc != 0 { let e = errno; Glibc.close(s); closed = true; throw SysError("connect \(addr)", e) }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close() }

    public func setTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ s: String) throws { try write(Array(s.utf8)) }

    public func write(_ raw: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < raw.count {
            let n = Glibc.send(fd, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
            if n < 0 { if errno == EINTR { continue }; throw SysError("send", errno) }
            off += n
        }
    }

    /// Reads up to `max` bytes; empty at EOF.
    public func read(max: Int = 65536) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress!, max, 0) }
            if n >= 0 { return Array(buf[0..<n]) }
            if errno == EINTR { continue }
            throw SysError("recv", errno)
        }
    }

    public func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Closes with an RST instead of a FIN (SO_LINGER 0).
    public func reset() {
        var l = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    public func close() {
        if !closed { closed = true; Glibc.close(fd) }
    }
}

/// Reads one HTTP message at a time from a blocking socket, keeping any
/// bytes past the message for the next one.
public final class MessageReader {
    public let socket: BlockingSocket
    public var buffer: [UInt8] = []
    public private(set) var eof = false

    public init(_ s: BlockingSocket) { socket = s }

    @discardableResult
    func fill() throws -> Bool {
        if eof { return false }
        let chunk = try socket.read()
        if chunk.isEmpty { eof = true; return false }
        buffer.append(contentsOf: chunk)
        return true
    }

    /// Reads a request head and body; nil at a clean EOF before any byte.
    /// With `readBody: false` the body is left unread (the caller streams it
    /// with `streamBody(head.framing, ...)`) and the returned body is empty.
    public func readRequest(readBody wantBody: Bool = true) throws -> (RequestHead, [UInt8], [UInt8])? {
        var parser = RequestParser()
        var head = RequestHead()
        while true {
            let r = buffer.withUnsafeBytes { parser.parse($0, into: &head) }
            switch r {
            case .complete(let n):
                let headBytes = Array(buffer[0..<n])
                buffer.removeFirst(n)
                let body = wantBody ? try readBody(head.framing) : []
                return (head, headBytes, body)
            case .error(let e):
                throw SysError("bad request: \(e)", 0)
            case .incomplete:
                if !(try fill()) {
                    if buffer.isEmpty { return nil }
                    throw SysError("EOF inside a request head", 0)
                }
            }
        }
    }

    /// Reads a response head and body for a request of `method`.
    public func readResponse(method: Method = .get) throws -> (ResponseHead, [UInt8], [UInt8]) {
        let (head, headBytes) = try readResponseHead(method: method)
        let body = head.framing == .tunnel ? [] : try readBody(head.framing)
        return (head, headBytes, body)
    }

    /// Reads a final response head (skipping interim 1xx heads), leaving the
    /// body unread: stream it with `streamBody(head.framing, ...)`.
    public func readResponseHead(method: Method = .get) throws -> (ResponseHead, [UInt8]) {
        while true {
            var parser = ResponseParser()
            var head = ResponseHead()
            let r = buffer.withUnsafeBytes { parser.parse($0, requestMethod: method, into: &head) }
            switch r {
            case .complete(let n):
                let headBytes = Array(buffer[0..<n])
                buffer.removeFirst(n)
                if head.isInterim { continue }
                return (head, headBytes)
            case .error(let e):
                throw SysError("bad response: \(e)", 0)
            case .incomplete:
                if !(try fill()) { throw SysError("EOF inside a response head", 0) }
            }
        }
    }

    public func readBody(_ framing: BodyFraming) throws -> [UInt8] {
        switch framing {
        case .none, .tunnel:
            return []
        case .length(let n):
            while buffer.count < Int(n) { if !(try fill()) { throw SysError("EOF inside a body", 0) } }
            let body = Array(buffer[0..<Int(n)])
            buffer.removeFirst(Int(n))
            return body
        case .untilClose:
            while try fill() {}
            let body = buffer
            buffer = []
            return body
        case .chunked:
            var dec = ChunkedDecoder()
            var body: [UInt8] = []
            var idx = 0
            while true {
                let ev = buffer.withUnsafeBytes { dec.next($0, at: &idx) }
                switch ev {
                case .data(let s, let c): body.append(contentsOf: buffer[s..<s + c])
                case .end:
                    buffer.removeFirst(idx)
                    return body
                case .error(let e): throw SysError("bad chunked body: \(e)", 0)
                case .needMore:
                    if !(try fill()) { throw SysError("EOF inside a chunked body", 0) }
                }
            }
        }
    }
}

extension MessageReader {
    /// Passes a body to `sink` piece by piece as it arrives, never holding
    /// more than one read of it (for transfers too large to keep in memory,
    /// and for observing when each piece arrives). Chunked framing is
    /// decoded: the sink sees data only. Returns the body's length.
    @discardableResult
    public func streamBody(_ framing: BodyFraming, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int64 {
        var total: Int64 = 0
        switch framing {
        case .none, .tunnel:
            return 0
        case .length(let n):
            while total < n {
                if buffer.isEmpty, !(try fill()) { throw SysError("EOF inside a body", 0) }
                let take = Int(min(n - total, Int64(buffer.count)))
                try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<take])) }
                buffer.removeFirst(take)
                total += Int64(take)
            }
        case .untilClose:
            repeat {
                if !buffer.isEmpty {
                    try buffer.withUnsafeBytes { try sink($0) }
                    total += Int64(buffer.count)
                    buffer.removeAll(keepingCapacity: true)
                }
            } while try fill()
        case .chunked:
            var dec = ChunkedDecoder()
            var idx = 0
            while true {
                let ev = buffer.withUnsafeBytes { dec.next($0, at: &idx) }
                switch ev {
                case .data(let s, let c):
                    try buffer.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[s..<s + c])) }
                    total += Int64(c)
                case .end:
                    buffer.removeFirst(idx)
                    return total
                case .error(let e):
                    throw SysError("bad chunked body: \(e)", 0)
                case .needMore:
                    // Everything up to idx is decoded: drop it before reading more.
                    buffer.removeFirst(idx)
                    idx = 0
                    if !(try fill()) { throw SysError("EOF inside a chunked body", 0) }
                }
            }
        }
        return total
    }
}

/// Convenience accessors over parsed heads (tests and the demo; allocate freely).
public func headerValue(_ head: HeadFields, _ bytes: [UInt8], _ name: String) -> String? {
    let lower = name.lowercased()
    for f in head.fields {
        let n = String(decoding: bytes[f.nameRange], as: UTF8.self).lowercased()
        if n == lower { return String(decoding: bytes[f.valueRange], as: UTF8.self) }
    }
    return nil
}

public func headerValues(_ head: HeadFields, _ bytes: [UInt8], _ name: String) -> [String] {
    let lower = name.lowercased()
    return head.fields.compactMap { f in
        String(decoding: bytes[f.nameRange], as: UTF8.self).lowercased() == lower
            ? String(decoding: bytes[f.valueRange], as: UTF8.self) : nil
    }
}

/// A loopback TCP port that was free a moment ago (the kernel picks it),
/// for tests and tools that must name a port before something listens.
public func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SysError("socket", errno) }
    defer { close(fd) }
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else { throw SysError("bind", errno) }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return UInt16(bigEndian: a.sin_port)
}
