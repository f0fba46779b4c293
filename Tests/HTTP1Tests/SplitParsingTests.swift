import XCTest
import HTTP1

/// However the bytes are segmented by the network, the verdict is the same:
/// parsing a prefix and then the whole message, for every prefix length,
/// and growing the buffer one byte at a time, give what one call on the
/// whole message gives. The same for the chunked decoder fed in pieces.
final class SplitParsingTests: XCTestCase {
    static let validRequests: [String] = [
        "GET /hello.txt HTTP/1.1\r\nUser-Agent: curl/7.64.1\r\nHost: www.example.com\r\nAccept-Language: en, mi\r\n\r\n",
        "GET http://www.example.org/pub/WWW/TheProject.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
        "CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com:80\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n",
        "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
        "PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nExpect: 100-continue\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n\r\nabc",
        "GET /q?x=1 HTTP/1.1\r\nHost:a\r\nX-Ws:  \t v \t \r\nX-Empty:\r\nx!#$%&'*+-.^_`|~: 1\r\n\r\n",
    ]

    /// Refused requests, including the limits: the first byte to cross a
    /// limit decides, so the verdict does not depend on segmentation.
    static let invalidRequests: [(String, HeadLimits)] = [
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", HeadLimits()),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", HeadLimits()),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", HeadLimits()),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", HeadLimits()),
        ("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", HeadLimits()),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HeadLimits()),
        ("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HeadLimits()),
        ("GET /" + String(repeating: "a", count: 80) + " HTTP/1.1\r\nHost: a\r\n\r\n", smallLimits()),
        ("GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\nHost: a\r\n\r\n", smallLimits(head: 100, startLine: 200)),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 80) + "\r\n\r\n", smallLimits()),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 80) + "\n\r\n", smallLimits()),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 60) + "\r\nY: " + String(repeating: "v", count: 60)
            + "\r\n\r\n", smallLimits(head: 100)),
        ("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", smallLimits()),
        ("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "A: 1\r\n", count: 20) + "\r\n", smallLimits(head: 64, headers: 8)),
    ]

    static let responses: [(String, HTTP1.Method)] = [
        ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", .get),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", .get),
        ("HTTP/1.1 200 OK\r\n\r\nuntil close", .get),
        ("HTTP/1.1 204\r\n\r\n", .get),
        ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .put),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}", .get),
        ("HTTP/1.1 200 Connection Established\r\n\r\n", .connect),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", .head),
        ("\r\nHTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", .get),
        // Refused ones.
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", .get),
        ("HTTP/1.1 99 Too Low\r\n\r\n", .get),
        ("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", .get),
        ("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", .get),
    ]

    func testRequestsSplitAnywhere() {
        for s in Self.validRequests {
            let whole = parseRequest(s)
            guard case .complete = whole.result else { return XCTFail("not accepted: \(s.debugDescription)") }
            assertSameUnderSegmentation(Array(s.utf8), HeadLimits())
        }
    }

    func testRefusedRequestsSplitAnywhere() {
        for (s, limits) in Self.invalidRequests {
            let whole = parseRequest(s, limits: limits)
            guard case .error = whole.result else { return XCTFail("not refused: \(s.debugDescription)") }
            assertSameUnderSegmentation(Array(s.utf8), limits)
        }
    }

    func testResponsesSplitAnywhere() {
        for (s, method) in Self.responses {
            let bytes = Array(s.utf8)
            let whole = parseResponse(bytes: bytes, method: method)
            XCTAssertNotEqual(whole.result, .incomplete, s.debugDescription)
            for k in 0...bytes.count {
                var parser = ResponseParser()
                var head = ResponseHead()
                var r = bytes[..<k].withUnsafeBytes { parser.parse($0, requestMethod: method, into: &head) }
                if r == .incomplete { r = bytes.withUnsafeBytes { parser.parse($0, requestMethod: method, into: &head) } }
                XCTAssertEqual(r, whole.result, "split at \(k): \(s.debugDescription)")
                if case .complete = r { assertSameHead(head, whole.head, "split at \(k)") }
            }
            var parser = ResponseParser()
            var head = ResponseHead()
            var r = HeadResult.incomplete
            var n = 0
            while r == .incomplete && n < bytes.count {
                n += 1
                r = bytes[..<n].withUnsafeBytes { parser.parse($0, requestMethod: method, into: &head) }
            }
            XCTAssertEqual(r, whole.result, "byte at a time: \(s.debugDescription)")
            if case .complete = r { assertSameHead(head, whole.head, "byte at a time") }
        }
    }

    // MARK: Chunked decoder

    static let chunkedBodies: [String] = [
        "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
        "5;name=value\r\nhello\r\n3 ; a ; b = \"q\\\"x\" ;c=tok\r\nabc\r\n0;last\r\n\r\n",
        "1F\r\n0123456789012345678901234567890\r\n0\r\nX-Checksum: abc\r\nServer-Timing: a;dur=1\r\n\r\n",
        "3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        "0\r\n\r\n",
        "00005\r\nhello\r\n000\r\n\r\n",
        // Refused ones.
        "5\r\nhello0\r\n\r\n",
        "5;a\nhello\r\n0\r\n\r\n",
        "5;\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "10000000000000005\r\nhello\r\n0\r\n\r\n",
        "0\r\nX: a\r\n b\r\n\r\n",
        "5\r\nhello\r\n0\r\n\n",
    ]

    func testChunkedBodiesSplitAnywhere() {
        for s in Self.chunkedBodies {
            let bytes = Array(s.utf8)
            let whole = decodeChunked(pieces: [bytes])
            XCTAssertNotEqual(whole.last, .needMore, s.debugDescription)
            for k in 0...bytes.count {
                let split = decodeChunked(pieces: [Array(bytes[..<k]), Array(bytes[k...])])
                XCTAssertEqual(split, whole, "split at \(k): \(s.debugDescription)")
            }
            let byByte = decodeChunked(pieces: bytes.map { [$0] })
            XCTAssertEqual(byByte, whole, "byte at a time: \(s.debugDescription)")
        }
    }

    func testChunkedBodiesSplitInThree() {
        let s = Array("5;a=\"b\"\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\nnext".utf8)
        let whole = decodeChunked(pieces: [s])
        XCTAssertEqual(whole.last, .end)
        XCTAssertEqual(whole.consumed, s.count - 4)
        for i in 0...s.count {
            for j in i...s.count {
                let split = decodeChunked(pieces: [Array(s[..<i]), Array(s[i..<j]), Array(s[j...])])
                XCTAssertEqual(split, whole, "split at \(i), \(j)")
            }
        }
    }

    // MARK: Helpers

    /// Every two-step segmentation and byte-at-a-time growth give the whole-buffer verdict.
    func assertSameUnderSegmentation(_ bytes: [UInt8], _ limits: HeadLimits, file: StaticString = #filePath, line: UInt = #line) {
        let whole = parseRequest(bytes: bytes, limits: limits)
        let label = decode(bytes[...]).debugDescription
        for k in 0...bytes.count {
            var parser = RequestParser(limits: limits)
            var head = RequestHead()
            var r = bytes[..<k].withUnsafeBytes { parser.parse($0, into: &head) }
            // After .complete a parser must be reset; after .error it is done.
            if r == .incomplete { r = bytes.withUnsafeBytes { parser.parse($0, into: &head) } }
            XCTAssertEqual(r, whole.result, "split at \(k): \(label)", file: file, line: line)
            if case .complete = r { assertSameHead(head, whole.head, "split at \(k): \(label)", file: file, line: line) }
        }
        var parser = RequestParser(limits: limits)
        var head = RequestHead()
        var r = HeadResult.incomplete
        var n = 0
        while r == .incomplete && n < bytes.count {
            n += 1
            r = bytes[..<n].withUnsafeBytes { parser.parse($0, into: &head) }
        }
        XCTAssertEqual(r, whole.result, "byte at a time: \(label)", file: file, line: line)
        if case .complete = r { assertSameHead(head, whole.head, "byte at a time: \(label)", file: file, line: line) }
    }

    func assertSameHead(_ a: RequestHead, _ b: RequestHead, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.method, b.method, message, file: file, line: line)
        XCTAssertEqual(a.methodRange, b.methodRange, message, file: file, line: line)
        XCTAssertEqual(a.target, b.target, message, file: file, line: line)
        XCTAssertEqual(a.path, b.path, message, file: file, line: line)
        XCTAssertEqual(a.hostIndex, b.hostIndex, message, file: file, line: line)
        XCTAssertEqual(a.expectContinue, b.expectContinue, message, file: file, line: line)
        XCTAssertEqual(a.upgrade, b.upgrade, message, file: file, line: line)
        XCTAssertEqual(a.framing, b.framing, message, file: file, line: line)
        assertSameFields(a.h, b.h, message, file: file, line: line)
    }

    func assertSameHead(_ a: ResponseHead, _ b: ResponseHead, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.status, b.status, message, file: file, line: line)
        XCTAssertEqual(a.reason, b.reason, message, file: file, line: line)
        XCTAssertEqual(a.framing, b.framing, message, file: file, line: line)
        assertSameFields(a.h, b.h, message, file: file, line: line)
    }

    func assertSameFields(_ a: HeadFields, _ b: HeadFields, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.fields, b.fields, message, file: file, line: line)
        XCTAssertEqual(a.kinds, b.kinds, message, file: file, line: line)
        XCTAssertEqual(a.version, b.version, message, file: file, line: line)
        XCTAssertEqual(a.connection, b.connection, message, file: file, line: line)
        XCTAssertEqual(a.contentLength, b.contentLength, message, file: file, line: line)
        XCTAssertEqual(a.chunked, b.chunked, message, file: file, line: line)
        XCTAssertEqual(a.headStart, b.headStart, message, file: file, line: line)
        XCTAssertEqual(a.headEnd, b.headEnd, message, file: file, line: line)
    }
}
