import XCTest
import HTTP1

/// Request smuggling: every documented way of making two parsers disagree on
/// where a request ends, refused before anything is forwarded (SPEC §5: "No
/// request ever reaches an upstream unless its framing is unambiguous").
/// Chunk-level variants (chunk sizes, extensions, terminators) are in
/// ChunkedDecoderTests.
final class RequestSmugglingTests: XCTestCase {
    static let post = "POST / HTTP/1.1\r\nHost: example.com\r\n"

    /// CL.TE and TE.CL: both framing fields at once (RFC 9112 §6.1, §6.3:
    /// "ought to be handled as an error"). PortSwigger Web Security Academy,
    /// https://portswigger.net/web-security/request-smuggling; Http11Probe
    /// SMUG-CLTE-PIPELINE, https://mda2av.github.io/Http11Probe/docs/smuggling/clte-pipeline;
    /// envoyproxy/envoy#15244 (the same with tabs around the values).
    static let clAndTE: [Refusal] = [
        Refusal("CL.TE", post + "Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED",
                .contentLengthWithTransferEncoding, 400),
        Refusal("TE.CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
        Refusal("CL.TE pipeline (CL 4 then a GET)",
                post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
        Refusal("CL 0 with TE", post + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
        Refusal("CL with an unknown TE", post + "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\nhello",
                .contentLengthWithTransferEncoding, 400),
        Refusal("CL with a TE that is not chunked-final", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\nContent-Length: 5\r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
        Refusal("CL and TE with tabs", post + "Transfer-Encoding:\tchunked\t\r\nContent-Length:\t5\r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
        Refusal("CL and TE written as lists", post + "Content-Length: 5, 5\r\nTransfer-Encoding: chunked, \r\n\r\n",
                .contentLengthWithTransferEncoding, 400),
    ]

    /// TE in HTTP/1.0 is faulty framing (RFC 9112 §6.1; httpwg/http-core#879).
    static let teInHTTP10: [Refusal] = [
        Refusal("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .transferEncodingInHTTP10, 400),
        Refusal("TE and CL in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                .transferEncodingInHTTP10, 400),
        Refusal("unknown TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", .transferEncodingInHTTP10, 400),
    ]

    /// TE.TE: an obfuscated Transfer-Encoding that one parser honours and
    /// another ignores. PortSwigger "Obfuscating the TE header"
    /// (https://portswigger.net/web-security/request-smuggling, lab
    /// lab-obfuscating-te-header; defparam/smuggler#32); Http11Probe
    /// SMUG-TE-XCHUNKED, SMUG-TE-OBS-FOLD, SMUG-CHUNKED-WITH-PARAMS;
    /// tiny-http/tiny-http#173 ("Transfer-Encoding : chunked");
    /// envoyproxy/envoy#9316 (unknown codings refused).
    static let obfuscatedTE: [Refusal] = [
        Refusal("TE: xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n", .unsupportedTransferCoding, 501),
        Refusal("TE name with SP before colon", post + "Transfer-Encoding : chunked\r\n\r\n", .whitespaceBeforeColon, 400),
        Refusal("TE name with HTAB before colon", post + "Transfer-Encoding\t: chunked\r\n\r\n", .whitespaceBeforeColon, 400),
        Refusal("TE line with leading SP, first field", "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n",
                .whitespaceAfterStartLine, 400),
        Refusal("TE line with leading SP, later field", post + " Transfer-Encoding: chunked\r\n\r\n", .obsFold, 400),
        Refusal("TE line with leading HTAB", post + "\tTransfer-Encoding: chunked\r\n\r\n", .obsFold, 400),
        Refusal("TE chunked twice in two fields", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                .repeatedChunked, 400),
        Refusal("TE chunked twice in one field", post + "Transfer-Encoding: chunked, chunked\r\n\r\n", .repeatedChunked, 400),
        Refusal("TE chunked, then gzip and chunked", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                .repeatedChunked, 400),
        Refusal("TE chunked then TE x", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n", .chunkedNotFinal, 400),
        Refusal("TE chunked, identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n", .chunkedNotFinal, 400),
        Refusal("TE chunked, gzip", post + "Transfer-Encoding: chunked, gzip\r\n\r\n", .chunkedNotFinal, 400),
        Refusal("TE identity, chunked", post + "Transfer-Encoding: identity, chunked\r\n\r\n", .unsupportedTransferCoding, 501),
        Refusal("TE x then TE chunked", post + "Transfer-Encoding: x\r\nTransfer-Encoding: chunked\r\n\r\n", .unsupportedTransferCoding, 501),
        Refusal("TE gzip, chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding, 501),
        Refusal("TE gzip", post + "Transfer-Encoding: gzip\r\n\r\n", .unsupportedTransferCoding, 501),
        Refusal("TE chunked with parameters", post + "Transfer-Encoding: chunked;q=1\r\n\r\n", .unsupportedTransferCoding, 501),
        Refusal("TE parameters without a coding", post + "Transfer-Encoding: ;chunked\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE empty", post + "Transfer-Encoding:\r\n\r\n", .emptyTransferEncoding, 400),
        Refusal("TE only a comma", post + "Transfer-Encoding: ,\r\n\r\n", .emptyTransferEncoding, 400),
        // The empty first line is refused before its continuation is seen.
        Refusal("TE value on an obs-fold line", post + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\nhello",
                .emptyTransferEncoding, 400),
        Refusal("TE continued by obs-fold", post + "Transfer-Encoding: gzip\r\n chunked\r\n\r\n", .obsFold, 400),
        Refusal("TE chunked continued by obs-fold", post + "Transfer-Encoding: chunked\r\n x\r\n\r\n", .obsFold, 400),
        Refusal("TE with vertical tab before", post + "Transfer-Encoding:\u{0B}chunked\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE with vertical tab after", post + "Transfer-Encoding: chunked\u{0B}\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE with form feed before", post + "Transfer-Encoding:\u{0C}chunked\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE with form feed after", post + "Transfer-Encoding: chunked\u{0C}\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE with NUL", post + "Transfer-Encoding: chunked\u{0}\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE with bare CR inside", post + "Transfer-Encoding: chunked\rX: y\r\n\r\n", .bareCR, 400),
        Refusal("TE with bare CR at the end", post + "Transfer-Encoding: chunked\r\r\n\r\n", .bareCR, 400),
        Refusal("TE after a bare LF", post + "X: X\nTransfer-Encoding: chunked\r\n\r\n", .bareLF, 400),
        Refusal("TE name and value on two lines", post + "Transfer-Encoding\r\n: chunked\r\n\r\n", .badHeaderName, 400),
        Refusal("TE name with NUL", post + "Transfer-Encoding\u{0}: chunked\r\n\r\n", .badHeaderName, 400),
        Refusal("TE name with vertical tab", post + "Transfer-Encoding\u{0B}: chunked\r\n\r\n", .badHeaderName, 400),
        Refusal("TE quoted", post + "Transfer-Encoding: \"chunked\"\r\n\r\n", .badHeaderValue, 400),
        Refusal("TE with SP inside the coding", post + "Transfer-Encoding: chu nked\r\n\r\n", .badHeaderValue, 400),
    ]

    /// Content-Length = 1*DIGIT, one value or a list of equal ones (RFC 9110
    /// §8.6, RFC 9112 §6.3 item 5). Http11Probe CL-PLUS-SIGN and SMUG-CL-HEX-PREFIX,
    /// https://mda2av.github.io/Http11Probe/docs/content-length/cl-plus-sign;
    /// "Body and Framing", https://mda2av.github.io/Http11Probe/docs/http-overview/body-and-framing.
    static let contentLength: [Refusal] = [
        Refusal("two differing CL fields", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", .conflictingContentLength, 400),
        Refusal("differing CL list", post + "Content-Length: 5, 6\r\n\r\nhello!", .conflictingContentLength, 400),
        Refusal("CL field then differing list", post + "Content-Length: 5\r\nContent-Length: 5, 50\r\n\r\n",
                .conflictingContentLength, 400),
        Refusal("CL 0 then CL 5", post + "Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello", .conflictingContentLength, 400),
        Refusal("CL +5", post + "Content-Length: +5\r\n\r\nhello", .badContentLength, 400),
        Refusal("CL -1", post + "Content-Length: -1\r\n\r\n", .badContentLength, 400),
        Refusal("CL 0x10", post + "Content-Length: 0x10\r\n\r\n", .badContentLength, 400),
        Refusal("CL 5 5", post + "Content-Length: 5 5\r\n\r\n", .badContentLength, 400),
        Refusal("CL 20 digits", post + "Content-Length: 99999999999999999999\r\n\r\n", .badContentLength, 400),
        Refusal("CL Int64.max + 1", post + "Content-Length: 9223372036854775808\r\n\r\n", .badContentLength, 400),
        Refusal("CL empty", post + "Content-Length:\r\n\r\n", .badContentLength, 400),
        Refusal("CL blank", post + "Content-Length:   \r\n\r\n", .badContentLength, 400),
        Refusal("CL trailing comma", post + "Content-Length: 5,\r\n\r\n", .badContentLength, 400),
        Refusal("CL leading comma", post + "Content-Length: ,5\r\n\r\n", .badContentLength, 400),
        Refusal("CL 1e3", post + "Content-Length: 1e3\r\n\r\n", .badContentLength, 400),
        Refusal("CL 5.0", post + "Content-Length: 5.0\r\n\r\n", .badContentLength, 400),
        Refusal("CL quoted", post + "Content-Length: \"5\"\r\n\r\n", .badContentLength, 400),
        Refusal("CL with a unit", post + "Content-Length: 5bytes\r\n\r\n", .badContentLength, 400),
        Refusal("CL fullwidth digit", post + "Content-Length: ５\r\n\r\n", .badContentLength, 400),
        Refusal("CL with SP before colon", post + "Content-Length : 5\r\n\r\nhello", .whitespaceBeforeColon, 400),
        Refusal("CL with vertical tab", post + "Content-Length: 5\u{0B}\r\n\r\nhello", .badHeaderValue, 400),
        Refusal("CL on an obs-fold line", post + "Content-Length: 5\r\n 0\r\n\r\nhello", .obsFold, 400),
    ]

    static var all: [Refusal] { clAndTE + teInHTTP10 + obfuscatedTE + contentLength }

    func testContentLengthWithTransferEncoding() { assertRequestsRefused(Self.clAndTE) }
    func testTransferEncodingInHTTP10() { assertRequestsRefused(Self.teInHTTP10) }
    func testObfuscatedTransferEncoding() { assertRequestsRefused(Self.obfuscatedTE) }
    func testContentLength() { assertRequestsRefused(Self.contentLength) }

    /// The one obfuscation that is valid: HTAB is OWS (RFC 9110 §5.6.3).
    func testTabAfterColonIsValid() {
        let p = parseRequest(Self.post + "Transfer-Encoding:\tchunked\r\n\r\n")
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(p.head.framing, .chunked)
    }

    /// Transfer-coding names are case-insensitive (RFC 9112 §7; Http11Probe SMUG-TE-CASE-MISMATCH).
    func testCodingNamesAreCaseInsensitive() {
        XCTAssertEqual(parseRequest(Self.post + "transfer-encoding: CHUNKED\r\n\r\n").head.framing, .chunked)
    }

    /// Look-alike names are other fields, and do not frame the message (Http11Probe SMUG-TRANSFER_ENCODING).
    func testLookAlikeNamesDoNotFrame() {
        let p = parseRequest(Self.post + "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello")
        XCTAssertEqual(p.error, nil)
        XCTAssertEqual(p.head.framing, .length(5))
        let q = parseRequest(Self.post + "Transfer-Encodings: chunked\r\nContent_Length: 5\r\n\r\n")
        XCTAssertEqual(q.error, nil)
        XCTAssertEqual(q.head.framing, BodyFraming.none)
    }

    /// Accepted framing is never ambiguous: a chunked head never carries a length.
    func testAcceptedFramingIsUnambiguous() {
        let accepted = [
            Self.post + "Transfer-Encoding: chunked\r\n\r\n",
            Self.post + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
            Self.post + "Content-Length: 5, 5\r\n\r\n",
        ]
        for s in accepted {
            let p = parseRequest(s)
            XCTAssertEqual(p.error, nil, s)
            if p.head.framing == .chunked { XCTAssertEqual(p.head.h.contentLength, -1) }
        }
    }
}
