import EventLoop
import SluiceCore
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback client socket for tests (with a receive timeout so a
/// broken server fails the test instead of hanging it).
struct BlockingClient {
    let fd: Int32

    init(port: UInt16, receiveBuffer: Int32? = nil, timeoutSeconds: Int = 10) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SysError("socket", errno) }
        if let r = receiveBuffer { Sys.setBufferSizes(s, receive: r) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let addr = SocketAddress(host: "127.0.0.1", port: port)!
        let rc = addr.withSockAddr { connect(s, $0, $1) }
        guard rc == 0 else { let e = errno; Glibc.close(s); throw SysError("connect", e) }
        fd = s
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw SysError("send", errno) }
            off += n
        }
    }

    /// Reads exactly `count` bytes (or throws on EOF / timeout).
    func receive(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var off = 0
        while off < count {
            let n = out.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress! + off, count - off, 0) }
            if n <= 0 { throw SysError("recv", n == 0 ? 0 : errno) }
            off += n
        }
        return out
    }

    func close() { Glibc.close(fd) }
}

/// Many non-blocking client connections driven by a loop of their own: each
/// connects, sends one message, and waits for its echo. All stay open until
/// every echo has arrived, so the server holds them all at once.
final class ManyClients: LoopHandler {
    struct C {
        var fd: Int32
        var message: [UInt8]
        var sent = false
        var got: [UInt8] = []
        var done = false
    }

    let loop: EventLoop
    var clients: [C] = []
    var completed = 0
    var failures = 0

    init(loop: EventLoop, port: UInt16, count: Int) throws {
        self.loop = loop
        let addr = SocketAddress(host: "127.0.0.1", port: port)!
        for i in 0..<count {
            let (fd, _) = try Sys.connect(addr)
            let msg = Array("client \(i) says hello \(String(repeating: "x", count: i % 50))\n".utf8)
            clients.append(C(fd: fd, message: msg))
            try loop.register(fd, token: UInt64(i + 1), interest: .edgeTriggered)
        }
    }

    func onEvent(_ token: UInt64, _ events: IOEvents) {
        let i = Int(token) - 1
        if events.contains(.writable) && !clients[i].sent {
            if Sys.socketError(clients[i].fd) != 0 { failures += 1; clients[i].done = true; return }
            let r = clients[i].message.withUnsafeBytes { Sys.write(clients[i].fd, $0.baseAddress!, $0.count) }
            if case .bytes(let n) = r, n == clients[i].message.count { clients[i].sent = true }
            else { failures += 1 }
        }
        if events.contains(.readable) && !clients[i].done {
            var buf = [UInt8](repeating: 0, count: 512)
            while true {
                let r = buf.withUnsafeMutableBytes { Sys.read(clients[i].fd, $0.baseAddress!, 512) }
                guard case .bytes(let n) = r else { break }
                clients[i].got.append(contentsOf: buf[0..<n])
            }
            if clients[i].got.count >= clients[i].message.count {
                clients[i].done = true
                if clients[i].got == clients[i].message { completed += 1 } else { failures += 1 }
            }
        }
    }

    func onTimer(_ id: Int) {}
    func onTickEnd() {}

    func closeAll() { for c in clients { Sys.close(c.fd) } }
}

