import XCTest
import HTTP1

/// Each refusal maps to exactly one status (SPEC §5) and one reason, in one place.
final class ParseErrorTests: XCTestCase {
    /// Every HTTPParseError, with the status the proxy answers a client with.
    static let statuses: [(HTTPParseError, Int, String)] = [
        (.badRequestLine, 400, "bad_request_line"),
        (.badMethod, 400, "bad_method"),
        (.badTarget, 400, "bad_target"),
        (.badVersion, 400, "bad_version"),
        (.bareLF, 400, "bare_lf"),
        (.bareCR, 400, "bare_cr"),
        (.whitespaceAfterStartLine, 400, "whitespace_after_start_line"),
        (.obsFold, 400, "obs_fold"),
        (.badHeaderName, 400, "bad_header_name"),
        (.whitespaceBeforeColon, 400, "whitespace_before_colon"),
        (.badHeaderValue, 400, "bad_header_value"),
        (.missingHost, 400, "missing_host"),
        (.duplicateHost, 400, "duplicate_host"),
        (.badHost, 400, "bad_host"),
        (.badContentLength, 400, "bad_content_length"),
        (.conflictingContentLength, 400, "conflicting_content_length"),
        (.contentLengthWithTransferEncoding, 400, "content_length_with_transfer_encoding"),
        (.transferEncodingInHTTP10, 400, "transfer_encoding_in_http10"),
        (.chunkedNotFinal, 400, "chunked_not_final"),
        (.repeatedChunked, 400, "repeated_chunked"),
        (.emptyTransferEncoding, 400, "empty_transfer_encoding"),
        (.badChunkSize, 400, "bad_chunk_size"),
        (.chunkSizeOverflow, 400, "chunk_size_overflow"),
        (.badChunkExtension, 400, "bad_chunk_extension"),
        (.badChunkTerminator, 400, "bad_chunk_terminator"),
        (.badTrailer, 400, "bad_trailer"),
        (.tooManyEmptyLines, 400, "too_many_empty_lines"),
        (.chunkExtensionTooLong, 413, "chunk_extension_too_long"),
        (.trailersTooLarge, 413, "trailers_too_large"),
        (.requestLineTooLong, 414, "request_line_too_long"),
        (.headerLineTooLong, 431, "header_line_too_long"),
        (.headTooLarge, 431, "head_too_large"),
        (.tooManyHeaders, 431, "too_many_headers"),
        (.unsupportedExpectation, 417, "unsupported_expectation"),
        (.unsupportedTransferCoding, 501, "unsupported_transfer_coding"),
        (.unsupportedVersion, 505, "unsupported_version"),
        (.badStatusLine, 400, "bad_status_line"),
        (.badStatusCode, 400, "bad_status_code"),
    ]

    static var allErrors: [HTTPParseError] { statuses.map(\.0) }

    func testStatusAndReasonOfEveryError() {
        for (e, status, reason) in Self.statuses {
            XCTAssertEqual(e.status, status, "\(e)")
            XCTAssertEqual("\(e.reason)", reason, "\(e)")
        }
    }

    func testReasonsAreUniqueSnakeCase() {
        let reasons = Self.statuses.map { "\($0.0.reason)" }
        XCTAssertEqual(Set(reasons).count, reasons.count)
        for r in reasons {
            XCTAssertTrue(r.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, r)
        }
    }

    func testEveryErrorIsListedOnce() {
        XCTAssertEqual(Self.statuses.count, 38)
        XCTAssertEqual(Set(Self.statuses.map { "\($0.0)" }).count, Self.statuses.count)
        for e in Self.allErrors { Self.exhaustive(e) }
    }

    /// Stops compiling when HTTPParseError gains a case, so the table above is revisited.
    static func exhaustive(_ e: HTTPParseError) {
        switch e {
        case .badRequestLine, .badMethod, .badTarget, .badVersion, .bareLF, .bareCR, .whitespaceAfterStartLine,
             .obsFold, .badHeaderName, .whitespaceBeforeColon, .badHeaderValue, .missingHost, .duplicateHost,
             .badHost, .badContentLength, .conflictingContentLength, .contentLengthWithTransferEncoding,
             .transferEncodingInHTTP10, .chunkedNotFinal, .repeatedChunked, .emptyTransferEncoding, .badChunkSize,
             .chunkSizeOverflow, .badChunkExtension, .badChunkTerminator, .badTrailer, .tooManyEmptyLines,
             .chunkExtensionTooLong, .requestLineTooLong, .headerLineTooLong, .headTooLarge, .tooManyHeaders,
             .trailersTooLarge, .unsupportedExpectation, .unsupportedTransferCoding, .unsupportedVersion,
             .badStatusLine, .badStatusCode:
            break
        }
    }
}
