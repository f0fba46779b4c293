import EventLoop
import Foundation
import Harness
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Connection limits and the connect timeout.
final class LimitsTests: XCTestCase {
    /// Past `limits.max_connections` a new client is closed at once.
    func testMaxConnections() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)]) { $0.limits.maxConnections = 2 }
        let a = try f.connect(), b = try f.connect()
        defer { a.0.close(); b.0.close() }
        try a.0.write(get("/v1/a"))
        XCTAssertEqual(try Response(a.1.readResponse()).status, 200)
        try b.0.write(get("/v1/b"))
        XCTAssertEqual(try Response(b.1.readResponse()).status, 200)
        let c = try f.connect()
        defer { c.0.close() }
        try? c.0.write(get("/v1/c"))
        XCTAssertTrue((try? c.0.read())?.isEmpty ?? true, "the third connection is refused")
        a.0.close()
        usleep(100_000)
        let d = try f.connect()
        defer { d.0.close() }
        try d.0.write(get("/v1/d"))
        XCTAssertEqual(try Response(d.1.readResponse()).status, 200, "a freed slot is usable again")
    }

    /// An endpoint that never completes the handshake (its accept queue is
    /// full, so SYNs are dropped) fails at `timeouts.connect` with 503.
    func testConnectTimeoutIs503() throws {
        let l = try Sys.listen(SocketAddress("127.0.0.1:0")!, backlog: 0, reusePort: false)
        defer { Sys.close(l) }
        let port = SocketAddress.local(of: l)!.port
        // Fill the accept queue (never accepted).
        var fillers: [Int32] = []
        defer { for fd in fillers { Sys.close(fd) } }
        for _ in 0..<4 {
            if let (fd, _) = try? Sys.connect(SocketAddress(host: "127.0.0.1", port: port)!) { fillers.append(fd) }
        }
        usleep(100_000)
        let f = try ProxyFixture(backends: [("a", echoBackend)]) {
            $0.clusters[0].endpoints = ["127.0.0.1:\(port)"]
            $0.timeouts.connect = 200
            $0.routes[0].retry = .none
        }
        let t0 = Date()
        let r = try f.exchange(get("/v1/x"))
        let took = Date().timeIntervalSince(t0)
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, "{\"error\":\"connect_failure\"}\n")
        XCTAssertGreaterThan(took, 0.15)
        XCTAssertLessThan(took, 3)
    }
}
