import XCTest
import HTTP1

/// The response parser: status lines, and how a response's body is framed
/// given the request it answers (RFC 9112 §4, §6.3).
final class ResponseParserTests: XCTestCase {
    // MARK: Status line (RFC 9112 §4)

    func testStatusLines() {
        let cases: [(line: String, status: Int, reason: String)] = [
            ("HTTP/1.1 200 OK", 200, "OK"),
            ("HTTP/1.1 404 Not Found", 404, "Not Found"),
            ("HTTP/1.1 599 Custom", 599, "Custom"),
            ("HTTP/1.1 100 Continue", 100, "Continue"),
            ("HTTP/1.0 503 Service Unavailable", 503, "Service Unavailable"),
            // The reason phrase is optional, and may be empty after its SP.
            ("HTTP/1.1 204", 204, ""),
            ("HTTP/1.1 204 ", 204, ""),
            // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
            ("HTTP/1.1 200  two  spaces\tand tab ", 200, " two  spaces\tand tab "),
            ("HTTP/1.1 299 ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", 299, "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"),
        ]
        for c in cases {
            let p = parseResponse(c.line + "\r\nContent-Length: 0\r\n\r\n")
            XCTAssertEqual(p.error, nil, c.line)
            XCTAssertEqual(p.head.status, c.status, c.line)
            XCTAssertEqual(p.reason, c.reason, c.line)
        }
    }

    func testReasonWithObsText() {
        let bytes = Array("HTTP/1.1 200 Tr".utf8) + [0xE8, 0xF6] + Array("s bien\r\n\r\n".utf8)
        let p = parseResponse(bytes: bytes)
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(Array(bytes[p.head.reason]), Array("Tr".utf8) + [0xE8, 0xF6] + Array("s bien".utf8))
    }

    func testVersions() {
        XCTAssertEqual(parseResponse("HTTP/1.0 200 OK\r\n\r\n").head.h.version, .http10)
        XCTAssertEqual(parseResponse("HTTP/1.1 200 OK\r\n\r\n").head.h.version, .http11)
        XCTAssertEqual(parseResponse("HTTP/1.7 200 OK\r\n\r\n").head.h.version, .http11)
    }

    func testSpanEntryPoint() {
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        var parser = ResponseParser()
        var head = ResponseHead()
        XCTAssertEqual(parser.parse(bytes.span, requestMethod: .get, into: &head), .complete(bytes.count - 2))
        XCTAssertEqual(head.framing, .length(2))
    }

    // MARK: Framing (RFC 9112 §6.3, in its order)

    func testFramingTable() {
        let cases: [(name: String, head: String, method: HTTP1.Method, framing: BodyFraming)] = [
            ("CL", "HTTP/1.1 200 OK\r\nContent-Length: 51\r\n\r\n", .get, .length(51)),
            ("CL 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .get, .none),
            ("CL list", "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", .get, .length(7)),
            ("chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .get, .chunked),
            ("gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .get, .chunked),
            ("gzip and chunked fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", .get, .chunked),
            // §6.3 item 4: a response whose final coding is not chunked is delimited by close.
            ("TE gzip only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .get, .untilClose),
            ("chunked then gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .get, .untilClose),
            ("chunked with parameters", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=y\r\n\r\n", .get, .untilClose),
            // §6.3 item 8: neither field: read until close.
            ("no CL, no TE", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", .get, .untilClose),
            ("HTTP/1.0 no CL", "HTTP/1.0 200 OK\r\n\r\n", .get, .untilClose),
            ("404 with CL", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", .post, .length(9)),
            // §6.3 item 1: HEAD, 1xx, 204, 304 never have a body, whatever the fields say.
            ("HEAD with CL", "HTTP/1.1 200 OK\r\nContent-Length: 51\r\n\r\n", .head, .none),
            ("HEAD with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .head, .none),
            ("HEAD without fields", "HTTP/1.1 200 OK\r\n\r\n", .head, .none),
            ("HEAD 404", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n", .head, .none),
            ("204 with CL", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", .get, .none),
            ("204 with chunked", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", .get, .none),
            ("304 with CL", "HTTP/1.1 304 Not Modified\r\nContent-Length: 51\r\n\r\n", .get, .none),
            ("304 without fields", "HTTP/1.1 304 Not Modified\r\n\r\n", .get, .none),
            ("100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", .put, .none),
            ("103 Early Hints", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", .get, .none),
            ("1xx with CL", "HTTP/1.1 102 Processing\r\nContent-Length: 5\r\n\r\n", .get, .none),
            // §6.3 item 2: a 2xx to CONNECT is a tunnel; other answers to CONNECT are framed.
            ("CONNECT 200", "HTTP/1.1 200 Connection Established\r\n\r\n", .connect, .tunnel),
            ("CONNECT 200 with CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", .connect, .tunnel),
            ("CONNECT 204", "HTTP/1.1 204 No Content\r\n\r\n", .connect, .none),
            ("CONNECT 299", "HTTP/1.1 299 Whatever\r\n\r\n", .connect, .tunnel),
            ("CONNECT 407", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\n", .connect, .length(3)),
            ("CONNECT 502 no CL", "HTTP/1.1 502 Bad Gateway\r\n\r\n", .connect, .untilClose),
            // 101 switches protocols: the rest of the connection is a tunnel.
            ("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", .get, .tunnel),
            ("101 to HEAD", "HTTP/1.1 101 Switching Protocols\r\n\r\n", .head, .tunnel),
        ]
        for c in cases {
            let p = parseResponse(c.head, method: c.method)
            XCTAssertEqual(p.result, .complete(c.head.utf8.count), c.name)
            XCTAssertEqual(p.head.framing, c.framing, c.name)
        }
    }

    func testInterimResponses() {
        for status in [100, 102, 103, 199] {
            let p = parseResponse("HTTP/1.1 \(status) Info\r\n\r\n")
            XCTAssertTrue(p.head.isInterim, "\(status)")
            XCTAssertEqual(p.head.framing, BodyFraming.none)
        }
        for status in [101, 200, 204, 304, 404, 500] {
            XCTAssertFalse(parseResponse("HTTP/1.1 \(status) X\r\nContent-Length: 0\r\n\r\n").head.isInterim, "\(status)")
        }
    }

    /// An interim response is followed by the final one; each head is parsed
    /// on its own, from its first byte.
    func testInterimThenFinal() {
        let interim = "HTTP/1.1 100 Continue\r\n\r\n"
        let final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        let bytes = Array((interim + final + "ok").utf8)
        var parser = ResponseParser()
        var head = ResponseHead()
        XCTAssertEqual(bytes.withUnsafeBytes { parser.parse($0, requestMethod: .put, into: &head) }, .complete(interim.utf8.count))
        XCTAssertTrue(head.isInterim)
        parser.reset()
        let rest = Array(bytes[interim.utf8.count...])
        XCTAssertEqual(rest.withUnsafeBytes { parser.parse($0, requestMethod: .put, into: &head) }, .complete(final.utf8.count))
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.framing, .length(2))
        XCTAssertEqual(head.h.fields.count, 1)
    }

    // MARK: Connection reuse (RFC 9112 §9.3)

    func testKeepAlive() {
        let cases: [(name: String, head: String, keepAlive: Bool)] = [
            ("1.1 with CL", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", true),
            ("1.1 chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true),
            ("1.1 no body", "HTTP/1.1 204 No Content\r\n\r\n", true),
            ("1.1 close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", false),
            ("1.1 keep-alive, close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\n", false),
            ("1.1 close-delimited", "HTTP/1.1 200 OK\r\n\r\n", false),
            ("1.1 TE gzip (close-delimited)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false),
            ("1.0 with CL", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false),
            ("1.0 keep-alive with CL", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n", true),
            ("1.0 Keep-Alive with CL 0", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true),
            ("1.0 keep-alive, close-delimited", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false),
            ("1.0 keep-alive and close", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false),
            ("101 tunnel", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false),
        ]
        for c in cases {
            let p = parseResponse(c.head)
            XCTAssertEqual(p.error, nil, c.name)
            XCTAssertEqual(p.head.keepAlive, c.keepAlive, c.name)
        }
        XCTAssertFalse(parseResponse("HTTP/1.1 200 OK\r\n\r\n", method: .connect).head.keepAlive, "a CONNECT tunnel")
    }

    func testLeadingEmptyLinesAndFields() {
        let s = "\r\nHTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 0\r\n\r\n"
        let p = parseResponse(s)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        XCTAssertEqual(p.head.h.headStart, 2)
        XCTAssertEqual(p.fields, [Field("Server", "x"), Field("Content-Length", "0")])
    }

    // MARK: Refused responses (the proxy answers 502)

    static let refused: [Refusal] = [
        Refusal("status 99", "HTTP/1.1 99 X\r\n\r\n", .badStatusCode, 400),
        Refusal("status 1000", "HTTP/1.1 1000\r\n\r\n", .badStatusLine, 400),
        Refusal("status 1000 with reason", "HTTP/1.1 1000 X\r\n\r\n", .badStatusLine, 400),
        Refusal("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", .badStatusCode, 400),
        Refusal("status 099", "HTTP/1.1 099 X\r\n\r\n", .badStatusCode, 400),
        Refusal("status 600", "HTTP/1.1 600 X\r\n\r\n", .badStatusCode, 400),
        Refusal("status 000", "HTTP/1.1 000 X\r\n\r\n", .badStatusCode, 400),
        Refusal("letter in status", "HTTP/1.1 2x0 OK\r\n\r\n", .badStatusCode, 400),
        Refusal("SP before status", "HTTP/1.1  200 OK\r\n\r\n", .badStatusCode, 400),
        Refusal("tab after status", "HTTP/1.1 200\tOK\r\n\r\n", .badStatusLine, 400),
        Refusal("tab before status", "HTTP/1.1\t200 OK\r\n\r\n", .badStatusLine, 400),
        Refusal("HTTP/2", "HTTP/2 200\r\n\r\n", .badStatusLine, 400),
        Refusal("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", .badStatusLine, 400),
        Refusal("HTTP/0.9 style body", "<html>hello</html>\r\n\r\n", .badStatusLine, 400),
        Refusal("lowercase version", "http/1.1 200 OK\r\n\r\n", .badStatusLine, 400),
        Refusal("ICY", "ICY 200 OK\r\n\r\n", .badStatusLine, 400),
        Refusal("version only", "HTTP/1.1\r\n\r\n", .badStatusLine, 400),
        Refusal("SP before version", " HTTP/1.1 200 OK\r\n\r\n", .badStatusLine, 400),
        Refusal("NUL in reason", "HTTP/1.1 200 O\u{0}K\r\n\r\n", .badStatusLine, 400),
        Refusal("bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", .bareCR, 400),
        Refusal("bare LF after status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .bareLF, 400),
        Refusal("CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
        Refusal("TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10, 400),
        Refusal("chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", .repeatedChunked, 400),
        Refusal("TE empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", .emptyTransferEncoding, 400),
        Refusal("differing CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .conflictingContentLength, 400),
        Refusal("CL -1", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .badContentLength, 400),
        Refusal("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", .obsFold, 400),
        Refusal("SP after status line", "HTTP/1.1 200 OK\r\n Server: x\r\n\r\n", .whitespaceAfterStartLine, 400),
        Refusal("SP before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", .whitespaceBeforeColon, 400),
        Refusal("status line over the limit", "HTTP/1.1 200 " + String(repeating: "x", count: 60) + "\r\n\r\n",
                .badStatusLine, 400, limits: smallLimits()),
        Refusal("field line over the limit", "HTTP/1.1 200 OK\r\nX: " + String(repeating: "x", count: 70) + "\r\n\r\n",
                .headerLineTooLong, 431, limits: smallLimits()),
        Refusal("too many fields", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
                .tooManyHeaders, 431, limits: smallLimits()),
    ]

    func testRefusedResponses() { assertResponsesRefused(Self.refused) }

    /// CL with TE is refused even where the body would be ignored.
    func testContentLengthWithTransferEncodingIsRefusedForEveryRequest() {
        for method in [HTTP1.Method.get, .head, .connect] {
            let p = parseResponse("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", method: method)
            XCTAssertEqual(p.error, .contentLengthWithTransferEncoding, "\(method)")
        }
    }

    /// Repeated chunked only matters where the body is read.
    func testRepeatedChunkedIsIgnoredWhereThereIsNoBody() {
        let s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
        XCTAssertEqual(parseResponse(s, method: .get).error, .repeatedChunked)
        XCTAssertEqual(parseResponse(s, method: .head).head.framing, BodyFraming.none)
    }
}
