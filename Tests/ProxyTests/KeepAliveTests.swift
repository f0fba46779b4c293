import Foundation
import Harness
import HTTP1
import SluiceCore
import XCTest

/// Persistent connections (RFC 9112 §9.3): client connections carry many
/// requests, pipelined ones answered in order; upstream connections are
/// pooled and reused; `Connection: close` and HTTP/1.0 rules are honoured;
/// responses without a body (HEAD, 204, 304) leave the connection usable;
/// `Expect: 100-continue` is answered by the proxy.
final class KeepAliveTests: XCTestCase {
    func testSequentialRequestsOnOneClientConnectionReuseUpstreamConnections() throws {
        let f = try ProxyFixture(backends: [("a", versionBackend("v1"))])
        let (s, reader) = try f.connect()
        defer { s.close() }
        for i in 0..<500 {
            try s.write(get("/v1/seq/\(i)"))
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("x-seen-path"), "/v1/seq/\(i)")
            XCTAssertNil(r.header("connection"), "a keep-alive response needs no Connection field")
            if r.status != 200 { break }
        }
        XCTAssertEqual(f.backends[0].requests.load(ordering: .relaxed), 500)
        XCTAssertLessThanOrEqual(f.backends[0].connections.load(ordering: .relaxed), 2,
                                 "upstream connections were not reused")
    }

    /// Ten requests in one write: ten responses, in request order.
    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let f = try ProxyFixture(backends: [("a", { req, res in
            // Later requests answer faster: order must come from the proxy, not the timing.
            let n = Int(req.target.split(separator: "/").last!)!
            usleep(UInt32((10 - n) * 2000))
            res.respond(headers: [("X-Seen-Path", req.target), ("X-Id-Seen", req.header("x-id") ?? "-")],
                        body: Array("response \(n)".utf8))
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write((0..<10).map { get("/v1/p/\($0)", "X-Id: id-\($0)\r\n") }.joined())
        for i in 0..<10 {
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.header("x-seen-path"), "/v1/p/\(i)")
            XCTAssertEqual(r.header("x-id-seen"), "id-\(i)")
            XCTAssertEqual(r.text, "response \(i)")
        }
    }

    /// The request after a POST's body, in the same write, is its own request:
    /// the body is not taken for a head and the head not for body.
    func testPipelinedRequestAfterAPostWithABody() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        let (s, reader) = try f.connect()
        defer { s.close() }
        let body = "GET /v1/fake HTTP/1.1\r\n\r\n"  // looks like a request, is body
        try s.write("POST /v1/a HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "POST /v1/b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                    + get("/v1/c"))
        let a = try Response(reader.readResponse())
        XCTAssertEqual(a.header("x-method"), "POST")
        XCTAssertEqual(a.text, body)
        let b = try Response(reader.readResponse())
        XCTAssertEqual(b.text, "abc")
        let c = try Response(reader.readResponse())
        XCTAssertEqual(c.header("x-method"), "GET")
        XCTAssertEqual(c.header("x-body-length"), "0")
        XCTAssertEqual(f.backends[0].requests.load(ordering: .relaxed), 3)
    }

    func testConnectionCloseFromTheClientClosesAfterTheResponse() throws {
        let f = try ProxyFixture(backends: [("a", versionBackend("v1"))])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/x", "Connection: close\r\n"))
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "{\"version\":\"v1\"}")
        XCTAssertEqual(r.header("connection"), "close")
        XCTAssertTrue(reader.closesWithin(seconds: 5), "the proxy kept a `Connection: close` connection open")
    }

    func testHTTP10ClientWithoutKeepAliveGetsConnectionClose() throws {
        let f = try ProxyFixture(backends: [("a", versionBackend("v1"))])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write("GET /v1/x HTTP/1.0\r\nHost: t\r\n\r\n")
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "{\"version\":\"v1\"}")
        XCTAssertEqual(r.header("connection"), "close")
        XCTAssertTrue(reader.closesWithin(seconds: 5))
    }

    func testHTTP10ClientWithKeepAliveKeepsTheConnection() throws {
        let f = try ProxyFixture(backends: [("a", versionBackend("v1"))])
        let (s, reader) = try f.connect()
        defer { s.close() }
        for i in 0..<3 {
            try s.write("GET /v1/ka/\(i) HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n")
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("x-seen-path"), "/v1/ka/\(i)")
            XCTAssertEqual(r.header("connection")?.lowercased(), "keep-alive")
            XCTAssertNotNil(r.header("content-length"), "an HTTP/1.0 keep-alive response needs a length")
        }
    }

    /// HEAD: the head of a GET, Content-Length included, and no body
    /// (RFC 9110 §9.3.2); the next response on the connection parses cleanly.
    func testHeadGetsHeadersWithoutBodyAndTheConnectionStaysUsable() throws {
        let f = try ProxyFixture(backends: [("a", { req, res in
            if req.method == "HEAD" {
                res.raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n")
            } else {
                res.respond(headers: [("Content-Type", "text/plain")], body: Array("hello world".utf8))
            }
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write("HEAD /v1/doc HTTP/1.1\r\nHost: t\r\n\r\n")
        let h = try Response(reader.readResponse(method: .head))
        XCTAssertEqual(h.status, 200)
        XCTAssertEqual(h.header("content-length"), "11")
        XCTAssertTrue(h.body.isEmpty)
        XCTAssertTrue(reader.buffer.isEmpty, "bytes after a HEAD response head")
        try s.write(get("/v1/doc"))
        let g = try Response(reader.readResponse())
        XCTAssertEqual(g.text, "hello world")
        XCTAssertEqual(f.backends[0].connections.load(ordering: .relaxed), 1)
    }

    /// 204 and 304 have no body whatever their fields say (RFC 9112 §6.3).
    func testNoContentAndNotModifiedHaveNoBody() throws {
        let f = try ProxyFixture(backends: [("a", { req, res in
            switch req.target {
            case "/v1/204": res.raw("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
            case "/v1/304": res.raw("HTTP/1.1 304 Not Modified\r\nETag: \"v7\"\r\nContent-Length: 1234\r\n\r\n")
            default: res.respond(body: Array("after".utf8))
            }
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        for (path, status) in [("/v1/204", 204), ("/v1/304", 304), ("/v1/204", 204)] {
            try s.write(get(path, status == 304 ? "If-None-Match: \"v7\"\r\n" : ""))
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, status)
            XCTAssertTrue(r.body.isEmpty)
            XCTAssertNil(r.header("transfer-encoding"), "\(status) must not be given a body framing")
            if status == 304 { XCTAssertEqual(r.header("etag"), "\"v7\"") }
            XCTAssertTrue(reader.buffer.isEmpty, "bytes after a \(status) head")
            try s.write(get("/v1/after"))
            XCTAssertEqual(try Response(reader.readResponse()).text, "after")
        }
    }

    /// The proxy answers `Expect: 100-continue` itself, before the body is
    /// sent; the backend never sees the expectation, only the body.
    func testExpectContinueGets100FirstAndTheBackendNeverSeesExpect() throws {
        let f = try ProxyFixture(backends: [("a", { req, res in
            res.respond(headers: [("X-Expect-Seen", req.header("expect") ?? "-")], body: req.body)
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        let body = randomBytes(20_000)
        try s.write("POST /v1/upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\nExpect: 100-continue\r\n\r\n")
        // The body is held back until the 100 arrives.
        let interim = try reader.readRaw(through: "\r\n\r\n")
        XCTAssertEqual(String(decoding: interim, as: UTF8.self), "HTTP/1.1 100 Continue\r\n\r\n")
        try s.write(body)
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("x-expect-seen"), "-", "the Expect field reached the backend")
        XCTAssertTrue(r.body == body)
        // And the connection goes on.
        try s.write(get("/v1/next"))
        XCTAssertEqual(try Response(reader.readResponse()).status, 200)
    }
}
