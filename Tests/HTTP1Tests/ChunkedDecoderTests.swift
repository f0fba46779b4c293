import XCTest
import HTTP1

/// The chunked transfer coding decoder (RFC 9112 §7.1): what it accepts,
/// where it stops, and every framing byte it refuses.
final class ChunkedDecoderTests: XCTestCase {
    // MARK: Accepted bodies

    func testSingleChunk() {
        let d = decodeChunked("5\r\nhello\r\n0\r\n\r\n")
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(decode(d.data[...]), "hello")
        XCTAssertEqual(d.bodyBytes, 5)
        XCTAssertEqual(d.consumed, 15)
    }

    func testEmptyBody() {
        let d = decodeChunked("0\r\n\r\n")
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(d.data, [])
        XCTAssertEqual(d.bodyBytes, 0)
        XCTAssertEqual(d.consumed, 5)
    }

    func testHexSizesInEitherCaseAndWithLeadingZeros() {
        let ten = "0123456789"
        let body = "a\r\n\(ten)\r\nA\r\n\(ten)\r\n000A\r\n\(ten)\r\n1F\r\n" + String(repeating: "x", count: 31) + "\r\n000\r\n\r\n"
        let d = decodeChunked(body)
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(decode(d.data[...]), ten + ten + ten + String(repeating: "x", count: 31))
        XCTAssertEqual(d.bodyBytes, 61)
    }

    func testDataMayContainAnyBytes() {
        let data: [UInt8] = [0x00, 0x0D, 0x0A, 0x0D, 0x0A, 0x30, 0x0D, 0x0A, 0xFF]
        let body = Array("9\r\n".utf8) + data + Array("\r\n0\r\n\r\n".utf8)
        let d = decodeChunked(pieces: [body])
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(d.data, data)
    }

    /// RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
    func testExtensions() {
        let extensions = [
            ";name", ";name=value", ";a;b;c", ";a=1;b=2", " ;a", "\t;a", "; a", ";a =1", ";a= 1", ";a = 1",
            ";a=\"quoted value\"", ";a=\"with \\\"escapes\\\" and \\\\\"", ";a=\"\"", ";a=\"tab\there\"",
            ";a=\"semi;colon=equals\"", " ; a = \"x\" ; b = y ;c", ";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
        ]
        for ext in extensions {
            let d = decodeChunked("5\(ext)\r\nhello\r\n0\(ext)\r\n\r\n")
            XCTAssertEqual(d.last, .end, ext)
            XCTAssertEqual(decode(d.data[...]), "hello", ext)
        }
        // obs-text in a quoted value.
        let bytes = Array("5;a=\"".utf8) + [0xE9, 0xFF] + Array("\"\r\nhello\r\n0\r\n\r\n".utf8)
        XCTAssertEqual(decodeChunked(pieces: [bytes]).last, .end)
    }

    /// RFC 9112 §7.1.2: trailer fields after the last chunk.
    func testTrailers() {
        let body = "3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0d6963f7d28e17f72\r\nServer-Timing: db;dur=53, app;dur=47.2\r\n"
            + "X-Empty:\r\nX-Tab:\tv\t\r\n\r\n"
        let d = decodeChunked(body)
        XCTAssertEqual(d.last, .end)
        XCTAssertEqual(decode(d.data[...]), "abc")
        XCTAssertEqual(d.consumed, body.utf8.count)
        XCTAssertEqual(d.bodyBytes, 3)
    }

    func testLargeSizes() {
        // 0x100000005: a 32-bit parser would read 5 (oven-sh/bun#26931); this
        // one waits for 4 GiB + 5 bytes.
        var decoder = ChunkedDecoder()
        var i = 0
        let header = Array("100000005\r\n".utf8)
        XCTAssertEqual(header.withUnsafeBytes { decoder.next($0, at: &i) }, .needMore)
        XCTAssertEqual(i, header.count)
        let data = [UInt8](repeating: 0x41, count: 4096)
        var k = 0
        XCTAssertEqual(data.withUnsafeBytes { decoder.next($0, at: &k) }, .data(start: 0, count: 4096))
        XCTAssertEqual(decoder.bodyBytes, 4096)
        XCTAssertFalse(decoder.isDone)

        // The largest size that fits in Int64.
        var big = ChunkedDecoder()
        var j = 0
        let maxHeader = Array("7fffffffffffffff\r\nxyz".utf8)
        XCTAssertEqual(maxHeader.withUnsafeBytes { big.next($0, at: &j) }, .data(start: 18, count: 3))
        // Leading zeros do not count towards overflow.
        let zeros = decodeChunked("00000000000000000000000000000005\r\nhello\r\n0\r\n\r\n")
        XCTAssertEqual(zeros.last, .end)
        XCTAssertEqual(decode(zeros.data[...]), "hello")
    }

    func testEndLeavesPipelinedBytesUnconsumed() {
        let body = "4\r\nWiki\r\n0\r\nX: y\r\n\r\n"
        let next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        let bytes = Array((body + next).utf8)
        var decoder = ChunkedDecoder()
        var i = 0
        var events: [ChunkedEvent] = []
        while true {
            let e = bytes.withUnsafeBytes { decoder.next($0, at: &i) }
            events.append(e)
            if e == .end || events.count > 10 { break }
        }
        XCTAssertEqual(events, [.data(start: 3, count: 4), .end])
        XCTAssertEqual(i, body.utf8.count)
        XCTAssertTrue(decoder.isDone)
        // Once done, it stays done and consumes nothing more.
        XCTAssertEqual(bytes.withUnsafeBytes { decoder.next($0, at: &i) }, .end)
        XCTAssertEqual(i, body.utf8.count)
        // The rest is the next request, intact.
        let p = parseRequest(bytes: Array(bytes[i...]))
        XCTAssertEqual(p.result, .complete(next.utf8.count))
        XCTAssertEqual(p.path, "/next")
    }

    func testDataRunsStopAtEachChunkAndAtTheInputEnd() {
        let bytes = Array("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".utf8)
        var decoder = ChunkedDecoder()
        var i = 0
        var events: [ChunkedEvent] = []
        while events.last != .end && events.count < 10 { events.append(bytes.withUnsafeBytes { decoder.next($0, at: &i) }) }
        XCTAssertEqual(events, [.data(start: 3, count: 3), .data(start: 11, count: 2), .end])
        XCTAssertEqual(decoder.bodyBytes, 5)

        // A chunk cut by the end of the input comes out in two runs.
        var d2 = ChunkedDecoder()
        let part1 = Array("5\r\nhel".utf8), part2 = Array("lo\r\n0\r\n\r\n".utf8)
        var a = 0, b = 0
        XCTAssertEqual(part1.withUnsafeBytes { d2.next($0, at: &a) }, .data(start: 3, count: 3))
        XCTAssertEqual(part1.withUnsafeBytes { d2.next($0, at: &a) }, .needMore)
        XCTAssertEqual(part2.withUnsafeBytes { d2.next($0, at: &b) }, .data(start: 0, count: 2))
        XCTAssertEqual(part2.withUnsafeBytes { d2.next($0, at: &b) }, .end)
        XCTAssertEqual(b, part2.count)
        XCTAssertEqual(d2.bodyBytes, 5)
    }

    func testSpanEntryPoint() {
        let bytes = Array("2\r\nok\r\n0\r\n\r\n".utf8)
        var d = ChunkedDecoder()
        var i = 0
        XCTAssertEqual(d.next(bytes.span, at: &i), .data(start: 3, count: 2))
        XCTAssertEqual(d.next(bytes.span, at: &i), .end)
        XCTAssertEqual(i, bytes.count)
    }

    func testResetStartsANewBody() {
        var d = ChunkedDecoder(maxChunkHeaderBytes: 100, maxTrailerBytes: 200)
        var i = 0
        let a = Array("1\r\nx\r\n0\r\n\r\n".utf8)
        XCTAssertEqual(a.withUnsafeBytes { d.next($0, at: &i) }, .data(start: 3, count: 1))
        XCTAssertEqual(a.withUnsafeBytes { d.next($0, at: &i) }, .end)
        XCTAssertTrue(d.isDone)
        d.reset()
        XCTAssertFalse(d.isDone)
        XCTAssertEqual(d.bodyBytes, 0)
        XCTAssertEqual(d.maxChunkHeaderBytes, 100)
        XCTAssertEqual(d.maxTrailerBytes, 200)
        XCTAssertEqual(decodeChunked(pieces: [a], decoder: d).last, .end)
    }

    func testLimitsAreInclusive() {
        // A chunk line of exactly maxChunkHeaderBytes (size, extensions and CR).
        let line = "5;e=" + String(repeating: "v", count: 11)  // 15 bytes + CR = 16
        let ok = decodeChunked("\(line)\r\nhello\r\n0\r\n\r\n", decoder: ChunkedDecoder(maxChunkHeaderBytes: 16))
        XCTAssertEqual(ok.last, .end)
        let tooLong = decodeChunked("\(line)v\r\nhello\r\n0\r\n\r\n", decoder: ChunkedDecoder(maxChunkHeaderBytes: 16))
        XCTAssertEqual(tooLong.last, .error(.chunkExtensionTooLong))
        // The limit is per chunk line, not per body.
        let many = String(repeating: "1;e=vvvv\r\nx\r\n", count: 50) + "0\r\n\r\n"
        XCTAssertEqual(decodeChunked(many, decoder: ChunkedDecoder(maxChunkHeaderBytes: 16)).last, .end)
    }

    // MARK: Refused bodies

    /// chunk-size = 1*HEXDIG: no sign, prefix, whitespace, junk or overflow.
    /// kenballus: apache/trafficserver#10580 ("1these-bytes-never-get-validated"),
    /// openwrt/uhttpd#3 ("0_0", "\r0", "0x1"); oven-sh/bun#26931 (size truncation);
    /// CVE-2025-22871 (Go accepted a bare LF ending the chunk-size line).
    static let chunkSize: [Refusal] = [
        Refusal("empty chunk size", "\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("negative chunk size", "-5\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("plus sign", "+5\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("0x1 then Z (uhttpd)", "0x1\r\nZ\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("0_0 (uhttpd)", "0_0\r\n\r\n", .badChunkSize, 400),
        Refusal("CR before the size (uhttpd)", "\r0\r\n\r\n", .badChunkSize, 400),
        Refusal("SP before the size", " 5\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("junk after the size (trafficserver)", "1these-bytes-never-get-validated\r\nZ\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("non-hex letter", "5g\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("decimal point", "5.0\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("bare LF after the size", "5\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("bare CR after the size", "5\rhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("CR CR after the size", "5\r\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("SP after the size with no extension", "5 \r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("overflow by 17 hex digits", "10000000000000005\r\nhello\r\n0\r\n\r\n", .chunkSizeOverflow, 400),
        Refusal("overflow at 2^63", "8000000000000000\r\nhello\r\n0\r\n\r\n", .chunkSizeOverflow, 400),
        Refusal("overflow all F", "FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n", .chunkSizeOverflow, 400),
        Refusal("NUL as size", "\u{0}\r\n\r\n", .badChunkSize, 400),
    ]

    /// Extensions: tokens and quoted strings only, CRLF-terminated.
    /// TERM.EXT / EXT.TERM: valyala/fasthttp#1899 (LF in an extension),
    /// CVE-2025-55315 (Kestrel, chunk-extension line endings); Http11Probe
    /// SMUG-CHUNK-EXT-LF, SMUG-CHUNK-EXT-CTRL, SMUG-CHUNK-BARE-SEMICOLON,
    /// https://mda2av.github.io/Http11Probe/docs/smuggling/chunk-bare-semicolon.
    static let extensions: [Refusal] = [
        Refusal("bare LF in an extension", "5;a\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("bare LF right after the semicolon", "5;\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("bare LF in an extension value", "5;a=b\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", .badChunkSize, 400),
        Refusal("NUL in an extension", "5;\u{0}ext\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("control byte in an extension value", "5;a=b\u{1}\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("DEL in an extension name", "5;a\u{7F}\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("control byte in a quoted value", "5;a=\"\u{1}\"\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("CR inside a quoted value", "5;a=\"x\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("LF after a quoted-pair backslash", "5;a=\"\\\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("bare semicolon", "5;\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("two semicolons", "5;;a\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("trailing semicolon", "5;a;\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("equals without a name", "5;=x\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("equals without a value", "5;a=\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("two equals", "5;a==b\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("two names without a separator", "5;a b\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("bytes after a quoted value", "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("quote inside a token value", "5;a=b\"c\"\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("non-token byte in a name", "5;a/b\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("whitespace before CRLF after an extension", "5;a \r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
        Refusal("text after the size without a semicolon", "5 a\r\nhello\r\n0\r\n\r\n", .badChunkExtension, 400),
    ]

    /// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF: exactly CRLF after
    /// the data. pound (graygnuorg/pound#43, data longer than the size),
    /// enghitalo/vanilla#110 ("5\r\nhello0\r\n\r\n"), Http11Probe SMUG-CHUNK-LF-TERM.
    static let terminators: [Refusal] = [
        Refusal("data longer than its size", "5\r\nAAAAAXXX\r\n0\r\n\r\n", .badChunkTerminator, 400),
        Refusal("data shorter than its size", "5\r\nhell\r\n0\r\n\r\n", .badChunkTerminator, 400),
        Refusal("no CRLF after the data", "5\r\nhello0\r\n\r\n", .badChunkTerminator, 400),
        Refusal("bare LF after the data", "5\r\nhello\n0\r\n\r\n", .badChunkTerminator, 400),
        Refusal("bare CR after the data", "5\r\nhello\r0\r\n\r\n", .badChunkTerminator, 400),
        Refusal("LF CR after the data", "5\r\nhello\n\r0\r\n\r\n", .badChunkTerminator, 400),
    ]

    /// trailer-section = *( field-line CRLF ), then CRLF; field lines as in a head,
    /// without obs-fold. Http11Probe SMUG-CHUNK-LF-TRAILER.
    static let trailers: [Refusal] = [
        Refusal("obs-fold in trailers", "0\r\nX: a\r\n b\r\n\r\n", .badTrailer, 400),
        Refusal("SP inside a trailer name", "0\r\nX Y: a\r\n\r\n", .badTrailer, 400),
        Refusal("SP before a trailer colon", "0\r\nX : a\r\n\r\n", .badTrailer, 400),
        Refusal("empty trailer name", "0\r\n: a\r\n\r\n", .badTrailer, 400),
        Refusal("trailer without colon", "0\r\nNoColon\r\n\r\n", .badTrailer, 400),
        Refusal("NUL in a trailer value", "0\r\nX: a\u{0}\r\n\r\n", .badTrailer, 400),
        Refusal("bare LF ending a trailer", "0\r\nX: a\n\r\n", .badTrailer, 400),
        Refusal("bare CR in a trailer", "0\r\nX: a\rb\r\n\r\n", .badTrailer, 400),
        Refusal("bare LF ending the trailer section", "5\r\nhello\r\n0\r\n\n", .badTrailer, 400),
        Refusal("CR without LF ending the body", "0\r\n\rX", .badTrailer, 400),
        Refusal("body text after the last chunk", "0\r\nhello world\r\n\r\n", .badTrailer, 400),
    ]

    func testChunkSize() { assertBodiesRefused(Self.chunkSize) }
    func testExtensionsRefused() { assertBodiesRefused(Self.extensions) }
    func testTerminators() { assertBodiesRefused(Self.terminators) }
    func testTrailersRefused() { assertBodiesRefused(Self.trailers) }

    /// 413 for a chunk line or a trailer section over its limit.
    func testLimits() {
        assertBodiesRefused([
            Refusal("long extension", "5;e=" + String(repeating: "v", count: 100) + "\r\nhello\r\n0\r\n\r\n",
                    .chunkExtensionTooLong, 413),
            Refusal("many leading zeros", String(repeating: "0", count: 100) + "5\r\nhello\r\n0\r\n\r\n",
                    .chunkExtensionTooLong, 413),
        ], decoder: ChunkedDecoder(maxChunkHeaderBytes: 64))
        assertBodiesRefused([
            Refusal("large trailers", "0\r\n" + String(repeating: "X-T: 0123456789\r\n", count: 10) + "\r\n",
                    .trailersTooLarge, 413),
        ], decoder: ChunkedDecoder(maxTrailerBytes: 64))
        // An extension of the default 4 KiB limit is refused, even unterminated.
        let d = decodeChunked("5;e=" + String(repeating: "v", count: 5000), decoder: ChunkedDecoder())
        XCTAssertEqual(d.last, .error(.chunkExtensionTooLong))
    }

    func testIncompleteBodiesNeedMore() {
        for s in ["", "5", "5\r", "5\r\n", "5\r\nhel", "5\r\nhello", "5\r\nhello\r", "5\r\nhello\r\n0", "5\r\nhello\r\n0\r\n",
                  "0\r\nX: y", "0\r\nX: y\r\n", "0\r\n\r", "5;a=\"x", "5;a=\"\\"] {
            let d = decodeChunked(s)
            XCTAssertEqual(d.last, .needMore, s.debugDescription)
            XCTAssertEqual(d.consumed, s.utf8.count)
        }
    }
}
