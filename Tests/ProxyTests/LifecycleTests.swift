import EventLoop
import Foundation
import Harness
import HTTP1
import Proxy
import SluiceCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Timeouts, retries and draining.
final class LifecycleTests: XCTestCase {
    /// Slowloris: a head trickling in is cut off at the header timeout.
    func testSlowHeadGets408AtHeaderTimeout() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)]) { $0.timeouts.header = 300 }
        let (s, reader) = try f.connect()
        defer { s.close() }
        let t0 = Date()
        try s.write("GET /v1/x HTTP/1.1\r\nHost: t\r\n")
        usleep(150_000)
        try s.write("X-Slow: 1\r\n")
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 408)
        XCTAssertTrue(r.text.contains("header_timeout"), r.text)
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2.0)
        XCTAssertTrue(try s.read().isEmpty, "closed after the 408")
        XCTAssertEqual(f.backends[0].requests.load(ordering: .relaxed), 0)
    }

    /// An idle keep-alive client is closed at the idle timeout, silently.
    func testIdleKeepAliveConnectionClosed() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)]) { $0.timeouts.idle = 300 }
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/x"))
        XCTAssertEqual(try Response(reader.readResponse()).status, 200)
        let t0 = Date()
        XCTAssertTrue(try s.read().isEmpty, "the proxy closed the idle connection")
        let waited = Date().timeIntervalSince(t0)
        XCTAssertGreaterThan(waited, 0.2)
        XCTAssertLessThan(waited, 3)
    }

    /// The stale keep-alive race: the pooled connection was closed by the
    /// upstream just as it was reused; an idempotent request is retried once
    /// on a fresh connection and the client never sees the failure.
    func testStaleKeepAliveIsRetriedForIdempotentRequests() throws {
        // Answers with keep-alive, then closes right after (a server whose keep-alive timeout just fired).
        let f = try ProxyFixture(backends: [("a", { req, res in
            res.respond(headers: [("X-Conn", "\(req.connection)")], body: Array("ok".utf8))
            usleep(20_000)
            res.keepAlive = false
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        for i in 0..<5 {
            try s.write(get("/v1/x"))
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, 200, "request \(i)")
            usleep(60_000)  // let the upstream close the pooled connection
        }
        XCTAssertGreaterThanOrEqual(f.backends[0].connections.load(ordering: .relaxed), 5)
    }

    /// A POST is not retried: the failure reaches the client as 502.
    func testNonIdempotentRequestIsNotRetried() throws {
        let count = Locked(0)
        let f = try ProxyFixture(backends: [("a", { _, res in
            count.withLock { $0 += 1 }
            res.keepAlive = false
            res.socket.reset()
        })])
        let r = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(r.status, 502)
        usleep(50_000)
        XCTAssertEqual(count.withLock { $0 }, 1, "sent exactly once")
    }

    /// Connect failures are retried on another attempt when the route allows it.
    func testConnectFailureRetriedToHealthyEndpoint() throws {
        let good = try ScriptedBackend(versionBackend("good"))
        defer { good.stop() }
        let dead = try ScriptedBackend(versionBackend("dead"))
        let deadAddress = dead.address
        dead.stop()
        let f = try ProxyFixture(backends: [("a", echoBackend)]) {
            $0.clusters[0].endpoints = [deadAddress, good.address]
        }
        for _ in 0..<6 {
            let r = try f.exchange(get("/v1/x"))
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.text, "{\"version\":\"good\"}")
        }
    }

    /// max_connections reached and max_pending full: 503 overflow; a queued
    /// request is served when a connection frees up.
    func testPendingQueueAndOverflow() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in usleep(300_000); res.respond(body: Array("slow".utf8)) })]) {
            $0.clusters[0].maxConnections = 1
            $0.clusters[0].maxPending = 1
        }
        let a = try f.connect(), b = try f.connect(), c = try f.connect()
        defer { a.0.close(); b.0.close(); c.0.close() }
        try a.0.write(get("/v1/a"))
        usleep(50_000)
        try b.0.write(get("/v1/b"))
        usleep(50_000)
        try c.0.write(get("/v1/c"))
        let rc = try Response(c.1.readResponse())
        XCTAssertEqual(rc.status, 503)
        XCTAssertEqual(rc.text, "{\"error\":\"overflow\"}\n")
        XCTAssertEqual(try Response(a.1.readResponse()).status, 200)
        XCTAssertEqual(try Response(b.1.readResponse()).status, 200, "the queued request was served")
        XCTAssertEqual(f.backends[0].connections.load(ordering: .relaxed), 1)
    }

    /// Drain: new connections are refused, the in-flight request finishes
    /// (with connection: close), and the drain reports completion.
    func testDrainFinishesInFlightRequest() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in usleep(400_000); res.respond(body: Array("done".utf8)) })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/slow"))
        usleep(100_000)
        let finished = Locked<Bool?>(nil)
        let drainer = WorkerThread(name: "drain") { finished.withLock { $0 = f.server.drainAndStop(timeout: 5000) } }
        usleep(100_000)
        XCTAssertThrowsError(try BlockingSocket(connectTo: f.port), "the listener is closed while draining")
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "done")
        XCTAssertEqual(r.header("connection"), "close")
        drainer.join()
        XCTAssertEqual(finished.withLock { $0 }, true)
    }
}
