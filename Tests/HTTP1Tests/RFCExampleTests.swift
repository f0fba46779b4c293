import XCTest
import HTTP1

/// The examples the RFCs themselves give, parsed field by field.
final class RFCExampleTests: XCTestCase {
    /// RFC 9110 §3.9 (Example Message Exchange), the request.
    func testHelloTxtRequest() {
        let s = "GET /hello.txt HTTP/1.1\r\n"
            + "User-Agent: curl/7.64.1\r\n"
            + "Host: www.example.com\r\n"
            + "Accept-Language: en, mi\r\n"
            + "\r\n"
        let p = parseRequest(s)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        XCTAssertEqual(p.head.method, .get)
        XCTAssertEqual(p.method, "GET")
        XCTAssertEqual(p.target, "/hello.txt")
        XCTAssertEqual(p.path, "/hello.txt")
        XCTAssertEqual(p.head.h.version, .http11)
        XCTAssertEqual(p.fields, [
            Field("User-Agent", "curl/7.64.1"),
            Field("Host", "www.example.com"),
            Field("Accept-Language", "en, mi"),
        ])
        XCTAssertEqual(Array(p.head.h.kinds), [.other, .host, .other])
        XCTAssertEqual(p.head.hostIndex, 1)
        XCTAssertEqual(p.head.framing, BodyFraming.none)
        XCTAssertEqual(p.head.h.contentLength, -1)
        XCTAssertFalse(p.head.h.hasTransferEncoding)
        XCTAssertTrue(p.head.keepAlive)
        XCTAssertFalse(p.head.expectContinue)
        XCTAssertFalse(p.head.upgrade)
        XCTAssertEqual(p.head.h.headStart, 0)
        XCTAssertEqual(p.head.h.headEnd, s.utf8.count)
    }

    /// RFC 9110 §3.9, the response to the request above (51-byte body).
    func testHelloTxtResponse() {
        let head = "HTTP/1.1 200 OK\r\n"
            + "Date: Mon, 27 Jul 2009 12:28:53 GMT\r\n"
            + "Server: Apache\r\n"
            + "Last-Modified: Wed, 22 Jul 2009 19:15:56 GMT\r\n"
            + "ETag: \"34aa387-d-1568eb00\"\r\n"
            + "Accept-Ranges: bytes\r\n"
            + "Content-Length: 51\r\n"
            + "Vary: Accept-Encoding\r\n"
            + "Content-Type: text/plain\r\n"
            + "\r\n"
        let body = "Hello World! My content includes a trailing CRLF.\r\n"
        XCTAssertEqual(body.utf8.count, 51)
        let p = parseResponse(head + body)
        XCTAssertEqual(p.result, .complete(head.utf8.count))
        XCTAssertEqual(p.head.status, 200)
        XCTAssertEqual(p.reason, "OK")
        XCTAssertEqual(p.head.h.version, .http11)
        XCTAssertEqual(p.fields, [
            Field("Date", "Mon, 27 Jul 2009 12:28:53 GMT"),
            Field("Server", "Apache"),
            Field("Last-Modified", "Wed, 22 Jul 2009 19:15:56 GMT"),
            Field("ETag", "\"34aa387-d-1568eb00\""),
            Field("Accept-Ranges", "bytes"),
            Field("Content-Length", "51"),
            Field("Vary", "Accept-Encoding"),
            Field("Content-Type", "text/plain"),
        ])
        XCTAssertEqual(p.head.framing, .length(51))
        XCTAssertTrue(p.head.keepAlive)
        XCTAssertFalse(p.head.isInterim)
    }

    /// RFC 9112 §3.2.1: origin-form, with a query.
    func testOriginForm() {
        let p = parseRequest("GET /where?q=now HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(p.target, "/where?q=now")
        XCTAssertEqual(p.path, "/where")
        XCTAssertEqual(p.value("host"), "www.example.org")
    }

    /// RFC 9112 §3.2.2: absolute-form, as sent to a proxy. Host is still
    /// required in HTTP/1.1 (RFC 9112 §3.2), the path is found in the target.
    func testAbsoluteForm() {
        let s = "GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n"
        let p = parseRequest(s)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        XCTAssertEqual(p.head.method, .get)
        XCTAssertEqual(p.target, "http://www.example.org/pub/WWW/TheProject.html")
        XCTAssertEqual(p.path, "/pub/WWW/TheProject.html")
        XCTAssertEqual(p.head.h.version, .http11)
        XCTAssertEqual(p.fields, [Field("Host", "www.example.org")])
        XCTAssertEqual(p.head.framing, BodyFraming.none)
        XCTAssertTrue(p.head.keepAlive)
    }

    /// RFC 9112 §3.2.3: authority-form, only for CONNECT; there is no path.
    func testAuthorityForm() {
        let s = "CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
        let p = parseRequest(s)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        XCTAssertEqual(p.head.method, .connect)
        XCTAssertEqual(p.target, "www.example.com:80")
        XCTAssertEqual(p.path, "")
        XCTAssertEqual(p.fields, [Field("Host", "www.example.com")])
        XCTAssertEqual(p.head.framing, BodyFraming.none)
    }

    /// RFC 9112 §3.2.4: asterisk-form, only for OPTIONS, and the
    /// absolute-form it is derived from at the last proxy.
    func testAsteriskForm() {
        let p = parseRequest("OPTIONS * HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n")
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(p.head.method, .options)
        XCTAssertEqual(p.target, "*")
        XCTAssertEqual(p.path, "*")
        XCTAssertEqual(p.value("Host"), "www.example.org:8001")

        let q = parseRequest("OPTIONS http://www.example.org:8001 HTTP/1.1\r\nHost: www.example.org:8001\r\n\r\n")
        XCTAssertEqual(q.error, nil)
        XCTAssertEqual(q.target, "http://www.example.org:8001")
        XCTAssertEqual(q.path, "", "an empty path in absolute-form stands for \"/\"")
    }

    /// RFC 9110 §10.1.1: the Expect example, with a large Content-Length.
    func testExpectContinueExample() {
        let s = "PUT /somewhere/fun HTTP/1.1\r\n"
            + "Host: origin.example.com\r\n"
            + "Content-Type: video/h264\r\n"
            + "Content-Length: 1234567890987\r\n"
            + "Expect: 100-continue\r\n"
            + "\r\n"
        let p = parseRequest(s)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        XCTAssertEqual(p.head.method, .put)
        XCTAssertEqual(p.path, "/somewhere/fun")
        XCTAssertEqual(p.fields, [
            Field("Host", "origin.example.com"),
            Field("Content-Type", "video/h264"),
            Field("Content-Length", "1234567890987"),
            Field("Expect", "100-continue"),
        ])
        XCTAssertEqual(p.head.framing, .length(1_234_567_890_987))
        XCTAssertTrue(p.head.expectContinue)
        XCTAssertTrue(p.head.keepAlive)
    }

    /// After RFC 9110 §7.8 (Upgrade): the request and the 101 that turns the
    /// connection into a tunnel.
    func testUpgradeExample() {
        let p = parseRequest("GET /hello HTTP/1.1\r\n"
            + "Host: www.example.com\r\n"
            + "Connection: upgrade\r\n"
            + "Upgrade: websocket, IRC/6.9, RTA/x11\r\n"
            + "\r\n")
        XCTAssertEqual(p.error, nil)
        XCTAssertTrue(p.head.upgrade)
        XCTAssertTrue(p.head.h.connection.contains(.upgrade))
        XCTAssertEqual(p.value("Upgrade"), "websocket, IRC/6.9, RTA/x11")
        XCTAssertEqual(Array(p.head.h.kinds), [.host, .connection, .upgrade])

        let r = parseResponse("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        XCTAssertEqual(r.error, nil)
        XCTAssertEqual(r.head.status, 101)
        XCTAssertEqual(r.reason, "Switching Protocols")
        XCTAssertEqual(r.head.framing, .tunnel)
        XCTAssertFalse(r.head.isInterim)
        XCTAssertFalse(r.head.keepAlive, "a tunnel never returns to HTTP")
    }

    /// RFC 9112 §7.1 (chunked transfer coding), as a request body, with the
    /// well-known "Wikipedia in chunks." example (a chunk of 0xE bytes).
    func testChunkedExample() {
        let head = "POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
        let p = parseRequest(head + body)
        XCTAssertEqual(p.result, .complete(head.utf8.count))
        XCTAssertEqual(p.head.method, .post)
        XCTAssertEqual(p.head.framing, .chunked)
        XCTAssertTrue(p.head.h.hasTransferEncoding)
        XCTAssertTrue(p.head.h.chunked)
        XCTAssertEqual(p.head.h.contentLength, -1)

        let d = decodeChunked(body)
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(decode(d.data[...]), "Wikipedia in\r\n\r\nchunks.")
        XCTAssertEqual(d.bodyBytes, 23)
        XCTAssertEqual(d.consumed, body.utf8.count)
    }

    /// The MDN Transfer-Encoding example, as a response (0x11 = 17 bytes).
    func testChunkedResponseExample() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "7\r\nMozilla\r\n11\r\nDeveloper Network\r\n0\r\n\r\n"
        let p = parseResponse(head + body)
        XCTAssertEqual(p.result, .complete(head.utf8.count))
        XCTAssertEqual(p.head.framing, .chunked)
        XCTAssertTrue(p.head.keepAlive)
        let d = decodeChunked(body)
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(decode(d.data[...]), "MozillaDeveloper Network")
    }

    /// RFC 9112 §7.1.2: a trailer section after the last chunk.
    func testChunkedTrailerExample() {
        let body = "5\r\nhello\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\nX-Checksum: abc\r\n\r\n"
        let d = decodeChunked(body)
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(decode(d.data[...]), "hello")
        XCTAssertEqual(d.consumed, body.utf8.count)
    }
}
