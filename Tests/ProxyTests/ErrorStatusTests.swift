import Harness
import HTTP1
import XCTest

/// Every row of SPEC §5, through a real socket: the status, a small JSON
/// body, and no ambiguous request ever reaching the upstream.
final class ErrorStatusTests: XCTestCase {
    func testAmbiguousFramingIs400AndNeverReachesUpstream() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        let cases = [
            "POST /v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "POST /v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "GET /v1/x HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
            "GET /v1/x HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n",
            "GET /v1/x HTTP/1.1\r\nHost : t\r\n\r\n",
            "GET /v1/x HTTP/1.1\r\n\r\n",
            "GET /v1/x HTTP/1.1\nHost: t\n\n",
            "POST /v1/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        ]
        for raw in cases {
            let r = try f.exchange(raw)
            XCTAssertEqual(r.status, 400, raw.debugDescription)
            XCTAssertEqual(r.header("content-type"), "application/json")
            XCTAssertTrue(r.text.hasPrefix("{\"error\":\"bad_request\""), r.text)
            XCTAssertEqual(r.header("connection"), "close")
        }
        XCTAssertEqual(f.backends[0].requests.load(ordering: .relaxed), 0, "an ambiguous request reached the upstream")
    }

    func testHeadTooLargeIs431() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)]) { $0.limits.maxRequestHeaderBytes = 4096 }
        let r = try f.exchange("GET /v1/x HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 3000))\r\nX-Big2: \(String(repeating: "b", count: 3000))\r\n\r\n")
        XCTAssertEqual(r.status, 431)
        XCTAssertTrue(r.text.contains("head_too_large"), r.text)
    }

    func testHeadLargerThanOneBufferButWithinLimitIsProxied() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        // 40 KB of fields (each line under the 16 KiB line limit) outgrow a 16 KiB read buffer.
        let big = String(repeating: "v", count: 10_000)
        let r = try f.exchange("GET /v1/x HTTP/1.1\r\nHost: t\r\nX-B1: \(big)\r\nX-B2: \(big)\r\nX-B3: \(big)\r\nX-B4: \(big)\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        let tooLong = String(repeating: "w", count: 20_000)
        XCTAssertEqual(try f.exchange("GET /v1/x HTTP/1.1\r\nHost: t\r\nX-Long: \(tooLong)\r\n\r\n").status, 431, "one field line over 16 KiB")
    }

    /// A head that needed the large buffer class, followed by a body in the
    /// same read: the body is forwarded from the large buffer intact.
    func testLargeHeadWithBodyIsForwardedIntact() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        let big = String(repeating: "h", count: 10_000)
        let body = String((0..<30_000).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
        let r = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nX-B1: \(big)\r\nX-B2: \(big)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)",
                               method: .post)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, body)
        let chunked = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nX-B1: \(big)\r\nX-B2: \(big)\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     + String(body.utf8.count, radix: 16) + "\r\n\(body)\r\n0\r\n\r\n", method: .post)
        XCTAssertEqual(chunked.status, 200)
        XCTAssertEqual(chunked.text, body)
    }

    func testBodyOverLimitIs413() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)]) { $0.limits.maxRequestBodyBytes = 100 }
        let r = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" + String(repeating: "x", count: 101))
        XCTAssertEqual(r.status, 413)
        let chunk = String(repeating: "y", count: 80)
        let r2 = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n\(chunk)\r\n50\r\n\(chunk)\r\n0\r\n\r\n")
        XCTAssertEqual(r2.status, 413)
        XCTAssertEqual(f.backends[0].requests.load(ordering: .relaxed) <= 1, true)
    }

    func testUnsupportedTransferCodingIs501() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        let r = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        XCTAssertEqual(r.status, 501)
        XCTAssertEqual(f.backends[0].requests.load(ordering: .relaxed), 0)
    }

    func testNoRouteIs404WithJSON() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        let r = try f.exchange(get("/other"))
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.text, "{\"error\":\"no_route\"}\n")
        XCTAssertNil(r.header("x-sluice-backend"))
    }

    func testConnectFailureIs503() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        f.backends[0].stop()  // the port now refuses connections
        let r = try f.exchange(get("/v1/x"))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, "{\"error\":\"connect_failure\"}\n")
        XCTAssertEqual(r.header("x-sluice-backend"), "active")
    }

    func testInvalidResponseIs502() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in res.keepAlive = false; res.raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc") })])
        let r = try f.exchange(get("/v1/x"))
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(r.text, "{\"error\":\"bad_response\"}\n")
        let g = try ProxyFixture(backends: [("a", { _, res in res.keepAlive = false; res.raw("HTTP/1.1 2xx OK\r\n\r\n") })])
        XCTAssertEqual(try g.exchange(get("/v1/x")).status, 502)
    }

    func testResetBeforeAnyByteIs502() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in res.keepAlive = false; res.socket.reset() })])
        let r = try f.exchange("POST /v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(r.text, "{\"error\":\"reset\"}\n")
    }

    func testUpstreamTimeoutIs504() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in usleep(1_500_000); res.respond(body: Array("late".utf8)) })]) {
            $0.routes[0].timeout = 300
        }
        let t0 = Date()
        let r = try f.exchange(get("/v1/x"))
        XCTAssertEqual(r.status, 504)
        XCTAssertEqual(r.text, "{\"error\":\"timeout\"}\n")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.2)
    }

    /// After the head went out, a failure cuts the client with a reset:
    /// never a faked end, even for a body delimited by the close (where a
    /// FIN would read as the end of it).
    func testResetMidBodyCutsTheClient() throws {
        for head in ["HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"] {
            let f = try ProxyFixture(backends: [("a", { _, res in
                res.raw(head + String(repeating: "z", count: 1000))
                usleep(100_000)
                res.keepAlive = false
                res.socket.reset()
            })])
            let (s, reader) = try f.connect()
            defer { s.close() }
            try s.write(get("/v1/x"))
            XCTAssertThrowsError(try reader.readResponse(), head) { e in
                XCTAssertTrue("\(e)".contains("reset by peer"), "\(head): \(e)")
            }
            XCTAssertTrue(reader.buffer.count <= 1000)
        }
    }
}
