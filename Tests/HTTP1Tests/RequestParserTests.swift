import XCTest
import HTTP1

/// What the request parser accepts, and what it reports about it.
final class RequestParserTests: XCTestCase {
    // MARK: Request line

    func testMethodsAreRecognisedCaseSensitively() {
        let known: [(String, HTTP1.Method)] = [
            ("GET", .get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
            ("OPTIONS", .options), ("TRACE", .trace), ("PATCH", .patch),
        ]
        for (name, method) in known {
            let p = parseRequest(request("\(name) / HTTP/1.1", "Host: a"))
            XCTAssertEqual(p.error, nil, name)
            XCTAssertEqual(p.head.method, method, name)
            XCTAssertEqual(p.method, name)
        }
        // Methods are case-sensitive tokens (RFC 9110 §9.1): any token is a
        // valid method, an unknown one is `.other`, and "get" is not GET.
        for name in ["get", "Get", "PROPFIND", "M-SEARCH", "BREW", "X!#$%&'*+-.^_`|~1"] {
            let p = parseRequest(request("\(name) / HTTP/1.1", "Host: a"))
            XCTAssertEqual(p.error, nil, name)
            XCTAssertEqual(p.head.method, .other, name)
            XCTAssertEqual(p.method, name)
        }
    }

    func testIdempotentMethods() {
        XCTAssertTrue(HTTP1.Method.get.isIdempotent)
        XCTAssertTrue(HTTP1.Method.put.isIdempotent)
        XCTAssertTrue(HTTP1.Method.delete.isIdempotent)
        XCTAssertFalse(HTTP1.Method.post.isIdempotent)
        XCTAssertFalse(HTTP1.Method.patch.isIdempotent)
        XCTAssertFalse(HTTP1.Method.connect.isIdempotent)
        XCTAssertFalse(HTTP1.Method.other.isIdempotent)
    }

    func testTargetAndPath() {
        let cases: [(target: String, path: String)] = [
            ("/", "/"),
            ("/a/b/c", "/a/b/c"),
            ("/search?q=1&r=%20", "/search"),
            ("/?", "/"),
            ("/a?b?c", "/a"),
            ("/%7Euser/", "/%7Euser/"),
            ("http://example.com", ""),
            ("http://example.com?x=1", ""),
            ("http://example.com/", "/"),
            ("https://user@example.com:8443/v1/models/m?x=y", "/v1/models/m"),
            ("HTTP://EXAMPLE.COM/X", "/X"),
            ("coap+tcp://h/p", "/p"),
        ]
        for c in cases {
            let p = parseRequest(request("GET \(c.target) HTTP/1.1", "Host: a"))
            XCTAssertEqual(p.error, nil, c.target)
            XCTAssertEqual(p.target, c.target)
            XCTAssertEqual(p.path, c.path, c.target)
        }
    }

    func testConnectTargets() {
        for target in ["example.com:443", "[::1]:8443", "10.0.0.1:1", "a:0"] {
            let p = parseRequest(request("CONNECT \(target) HTTP/1.1", "Host: \(target)"))
            XCTAssertEqual(p.error, nil, target)
            XCTAssertEqual(p.target, target)
            XCTAssertTrue(p.head.path.isEmpty)
        }
    }

    func testVersions() {
        let p10 = parseRequest("GET / HTTP/1.0\r\n\r\n")
        XCTAssertEqual(p10.error, nil)
        XCTAssertEqual(p10.head.h.version, .http10)
        XCTAssertEqual(p10.head.hostIndex, -1, "Host is optional in HTTP/1.0")
        // A higher minor version is answered as the highest we speak (RFC 9112 §2.3).
        let p19 = parseRequest(request("GET / HTTP/1.9", "Host: a"))
        XCTAssertEqual(p19.error, nil)
        XCTAssertEqual(p19.head.h.version, .http11)
    }

    func testSpanEntryPointAgreesWithPointerEntryPoint() {
        let bytes = Array(request("POST /x HTTP/1.1", "Host: a", "Content-Length: 3").utf8) + Array("abc".utf8)
        var parser = RequestParser()
        var head = RequestHead()
        let result = parser.parse(bytes.span, into: &head)
        let p = parseRequest(bytes: bytes)
        XCTAssertEqual(result, p.result)
        XCTAssertEqual(head.h.fields, p.head.h.fields)
        XCTAssertEqual(head.framing, .length(3))
    }

    // MARK: Fields

    func testFieldValuesExcludeSurroundingWhitespace() {
        let p = parseRequest("GET / HTTP/1.1\r\nHost:a\r\nX-A:   spaced   \r\nX-B:\t\ttabbed\t\r\nX-C: in  ner \t ws\r\nX-Empty:\r\nX-Blank:   \r\n\r\n")
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(p.fields, [
            Field("Host", "a"),
            Field("X-A", "spaced"),
            Field("X-B", "tabbed"),
            Field("X-C", "in  ner \t ws"),
            Field("X-Empty", ""),
            Field("X-Blank", ""),
        ])
    }

    func testFieldNamesAreAnyToken() {
        let p = parseRequest(request("GET / HTTP/1.1", "Host: a", "x!#$%&'*+-.^_`|~09: v", "Content_Length: 5", "Transfer_Encoding: chunked"))
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(p.fields.map(\.name), ["Host", "x!#$%&'*+-.^_`|~09", "Content_Length", "Transfer_Encoding"])
        // Names with "_" are other fields, never the framing ones (Http11Probe
        // SMUG-TRANSFER_ENCODING, NORM-UNDERSCORE-TE).
        XCTAssertEqual(Array(p.head.h.kinds), [.host, .other, .other, .other])
        XCTAssertEqual(p.head.framing, BodyFraming.none)
        XCTAssertFalse(p.head.h.hasTransferEncoding)
    }

    func testObsTextAndVisibleBytesAreAllowedInValues() {
        // RFC 9110 §5.5: field-vchar includes obs-text (0x80-0xFF).
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf".utf8) + [0xE9, 0xFF, 0x80] + Array(" ~!\"\r\n\r\n".utf8)
        let p = parseRequest(bytes: bytes)
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(Array(p.bytes[p.head.h.fields[1].valueRange]), Array("caf".utf8) + [0xE9, 0xFF, 0x80] + Array(" ~!\"".utf8))
    }

    func testKnownHeadersAreClassifiedCaseInsensitively() {
        let p = parseRequest("GET / HTTP/1.1\r\n"
            + "HOST: a\r\ncontent-LENGTH: 0\r\nConnection: keep-alive\r\nexpect: \r\nUpgrade: x\r\n"
            + "Keep-Alive: timeout=5\r\nProxy-Connection: x\r\nTE: trailers\r\nTrailer: X\r\n"
            + "Proxy-Authorization: x\r\nProxy-Authenticate: x\r\nX-Other: x\r\n\r\n")
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(Array(p.head.h.kinds), [
            .host, .contentLength, .connection, .expect, .upgrade, .keepAlive, .proxyConnection,
            .te, .trailer, .proxyAuthorization, .proxyAuthenticate, .other,
        ])
        XCTAssertEqual(p.head.h.first(.te), 7)
        XCTAssertEqual(p.head.h.first(.transferEncoding), nil)
    }

    func testHopByHopHeaders() {
        let hop: [KnownHeader] = [.connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .upgrade,
                                  .proxyAuthorization, .proxyAuthenticate, .trailer]
        for k in hop { XCTAssertTrue(k.isHopByHop, "\(k)") }
        for k in [KnownHeader.other, .host, .contentLength, .expect] { XCTAssertFalse(k.isHopByHop, "\(k)") }
    }

    func testFieldsAtTheLimitsAreAccepted() {
        let limits = smallLimits(head: 200, startLine: 20, fieldLine: 20, headers: 3)
        // Start line of exactly 20 bytes, field lines of exactly 20 bytes, 3 fields.
        let start = "GET /" + String(repeating: "a", count: 6) + " HTTP/1.1"
        XCTAssertEqual(start.utf8.count, 20)
        let field = "X: " + String(repeating: "v", count: 17)
        XCTAssertEqual(field.utf8.count, 20)
        let s = request(start, "Host: a", field, field)
        let p = parseRequest(s, limits: limits)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        // And a head of exactly maxHeadBytes.
        let exact = smallLimits(head: s.utf8.count, startLine: 20, fieldLine: 20, headers: 3)
        XCTAssertEqual(parseRequest(s, limits: exact).result, .complete(s.utf8.count))
    }

    func testUpToFourEmptyLinesBeforeTheRequestLineAreIgnored() {
        // RFC 9112 §2.2: "SHOULD ignore at least one empty line (CRLF) received prior to the request-line".
        let s = "\r\n\r\n\r\n\r\n" + request("GET / HTTP/1.1", "Host: a")
        let p = parseRequest(s)
        XCTAssertEqual(p.result, .complete(s.utf8.count))
        XCTAssertEqual(p.head.h.headStart, 8)
        XCTAssertEqual(p.target, "/")
        XCTAssertEqual(p.method, "GET")
    }

    // MARK: Host (RFC 9112 §3.2, RFC 9110 §7.2)

    func testHostValues() {
        for host in ["example.com", "example.com:8080", "[2001:db8::1]:443", "127.0.0.1", "xn--bcher-kva.example",
                     "a_b~c!$&'()*+,;=%20", ""] {
            let p = parseRequest("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            XCTAssertEqual(p.error, nil, host)
            XCTAssertEqual(p.head.hostIndex, 0)
            XCTAssertEqual(p.value("Host"), host)
        }
    }

    func testHostIndexPointsAtTheHostField() {
        let p = parseRequest(request("GET / HTTP/1.1", "Accept: */*", "User-Agent: t", "host: h"))
        XCTAssertEqual(p.head.hostIndex, 2)
        XCTAssertEqual(p.head.h.first(.host), 2)
    }

    // MARK: Framing (RFC 9112 §6.3)

    func testFramingByContentLength() {
        let cases: [(String, BodyFraming, Int64)] = [
            ("Content-Length: 0", .none, 0),
            ("Content-Length: 5", .length(5), 5),
            ("Content-Length: 007", .length(7), 7),
            ("Content-Length: 9223372036854775807", .length(Int64.max), Int64.max),
            // RFC 9112 §6.3: a list of identical values is one value.
            ("Content-Length: 5, 5", .length(5), 5),
            ("Content-Length: 5,5 ,  5", .length(5), 5),
            ("Content-Length:\t12\t", .length(12), 12),
        ]
        for (line, framing, cl) in cases {
            let p = parseRequest(request("POST / HTTP/1.1", "Host: a", line))
            XCTAssertEqual(p.error, nil, line)
            XCTAssertEqual(p.head.framing, framing, line)
            XCTAssertEqual(p.head.h.contentLength, cl, line)
        }
        // Repeated fields with the same value.
        let p = parseRequest(request("POST / HTTP/1.1", "Host: a", "Content-Length: 3", "Content-Length: 3"))
        XCTAssertEqual(p.head.framing, .length(3))
    }

    func testFramingByTransferEncoding() {
        for value in ["chunked", "Chunked", "CHUNKED", "\tchunked", ", chunked", "chunked,", " chunked ,  "] {
            let p = parseRequest(request("POST / HTTP/1.1", "Host: a", "Transfer-Encoding:\(value)"))
            XCTAssertEqual(p.error, nil, value)
            XCTAssertEqual(p.head.framing, .chunked, value)
            XCTAssertTrue(p.head.h.chunked)
            XCTAssertFalse(p.head.h.otherCodings)
            XCTAssertFalse(p.head.h.chunkedMisplaced)
        }
        // An empty Transfer-Encoding line besides a chunked one adds nothing.
        let p = parseRequest(request("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Transfer-Encoding:"))
        XCTAssertEqual(p.head.framing, .chunked)
    }

    func testNoBodyWithoutFramingFields() {
        for method in ["GET", "POST", "PUT", "DELETE"] {
            let p = parseRequest(request("\(method) / HTTP/1.1", "Host: a"))
            XCTAssertEqual(p.head.framing, BodyFraming.none, method)
        }
    }

    func testHeadEndLeavesTheBodyAndPipelinedRequestsUnread() {
        let first = request("POST /a HTTP/1.1", "Host: a", "Content-Length: 5")
        let second = request("GET /b HTTP/1.1", "Host: a")
        let bytes = Array((first + "hello" + second).utf8)
        let p = parseRequest(bytes: bytes)
        XCTAssertEqual(p.result, .complete(first.utf8.count))
        XCTAssertEqual(p.head.framing, .length(5))
        // The next request starts after the body; the caller passes it from its first byte.
        let next = Array(bytes[(first.utf8.count + 5)...])
        let q = parseRequest(bytes: next)
        XCTAssertEqual(q.result, .complete(second.utf8.count))
        XCTAssertEqual(q.path, "/b")
    }

    func testParserAndHeadAreReusableAfterReset() {
        var parser = RequestParser()
        var head = RequestHead()
        let a = Array(request("POST /a HTTP/1.1", "Host: a", "Content-Length: 5", "Expect: 100-continue",
                              "Connection: close, upgrade", "Upgrade: x").utf8)
        let b = Array(request("GET /b HTTP/1.0").utf8)
        XCTAssertEqual(a.withUnsafeBytes { parser.parse($0, into: &head) }, .complete(a.count))
        XCTAssertTrue(head.expectContinue)
        XCTAssertTrue(head.upgrade)
        XCTAssertEqual(head.framing, .length(5))
        parser.reset()
        XCTAssertEqual(b.withUnsafeBytes { parser.parse($0, into: &head) }, .complete(b.count))
        // Nothing of the first head survives into the second.
        XCTAssertEqual(head.h.fields.count, 0)
        XCTAssertEqual(head.hostIndex, -1)
        XCTAssertFalse(head.expectContinue)
        XCTAssertFalse(head.upgrade)
        XCTAssertEqual(head.framing, BodyFraming.none)
        XCTAssertEqual(head.h.contentLength, -1)
        XCTAssertEqual(head.h.connection, [])
        XCTAssertEqual(head.h.version, .http10)
    }

    // MARK: Connection and keep-alive (RFC 9112 §9.3)

    func testKeepAliveByVersionAndConnection() {
        let cases: [(version: String, connection: String?, keepAlive: Bool)] = [
            ("HTTP/1.1", nil, true),
            ("HTTP/1.1", "keep-alive", true),
            ("HTTP/1.1", "close", false),
            ("HTTP/1.1", "Close", false),
            ("HTTP/1.1", "keep-alive, close", false),
            ("HTTP/1.1", "foo, CLOSE ,bar", false),
            ("HTTP/1.1", "x-custom", true),
            ("HTTP/1.0", nil, false),
            ("HTTP/1.0", "keep-alive", true),
            ("HTTP/1.0", "Keep-Alive", true),
            ("HTTP/1.0", "close", false),
            ("HTTP/1.0", "keep-alive, close", false),
            ("HTTP/1.0", "closed", false),
        ]
        for c in cases {
            var lines = ["Host: a"]
            if let conn = c.connection { lines.append("Connection: \(conn)") }
            let s = "GET / \(c.version)\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
            let p = parseRequest(s)
            XCTAssertEqual(p.error, nil, s)
            XCTAssertEqual(p.head.keepAlive, c.keepAlive, "\(c.version) Connection: \(c.connection ?? "-")")
        }
    }

    func testConnectionOptions() {
        let p = parseRequest(request("GET / HTTP/1.1", "Host: a", "Connection: keep-alive, Upgrade", "Connection: ,, x-hop , "))
        XCTAssertEqual(p.head.h.connection, [.keepAlive, .upgrade, .others])
        let q = parseRequest(request("GET / HTTP/1.1", "Host: a", "Connection:"))
        XCTAssertEqual(q.head.h.connection, [])
    }

    // MARK: Expect (RFC 9110 §10.1.1) and Upgrade (RFC 9110 §7.8)

    func testExpectContinue() {
        XCTAssertTrue(parseRequest(request("PUT / HTTP/1.1", "Host: a", "Expect: 100-continue")).head.expectContinue)
        XCTAssertTrue(parseRequest(request("PUT / HTTP/1.1", "Host: a", "Expect: 100-Continue")).head.expectContinue)
        // An empty Expect expects nothing.
        let empty = parseRequest(request("PUT / HTTP/1.1", "Host: a", "Expect:"))
        XCTAssertEqual(empty.error, nil)
        XCTAssertFalse(empty.head.expectContinue)
        // "A server that receives a 100-continue expectation in an HTTP/1.0 request MUST ignore that expectation."
        let old = parseRequest(request("PUT / HTTP/1.0", "Expect: 100-continue"))
        XCTAssertEqual(old.error, nil)
        XCTAssertFalse(old.head.expectContinue)
    }

    func testUpgradeNeedsBothFields() {
        XCTAssertTrue(parseRequest(request("GET / HTTP/1.1", "Host: a", "Upgrade: websocket", "Connection: Upgrade")).head.upgrade)
        XCTAssertFalse(parseRequest(request("GET / HTTP/1.1", "Host: a", "Upgrade: websocket")).head.upgrade)
        XCTAssertFalse(parseRequest(request("GET / HTTP/1.1", "Host: a", "Connection: upgrade")).head.upgrade)
    }

    // MARK: Incomplete input

    func testIncompleteHeads() {
        for s in ["", "G", "GET / HTTP/1.1", "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n",
                  "GET / HTTP/1.1\r\nHost: a\r\n\r", "\r\n", "\r\n\r\n\r\n\r\n"] {
            XCTAssertEqual(parseRequest(s).result, .incomplete, s.debugDescription)
        }
    }
}
