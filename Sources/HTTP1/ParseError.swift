/// Why a message was refused. Each reason maps to exactly one status code
/// (SPEC §5), in one place: `status`.
public enum HTTPParseError: Error, Equatable, Sendable {
    // 400: malformed or ambiguous (RFC 9112 §2.2, §3, §5, §6).
    case badRequestLine
    case badMethod
    case badTarget
    case badVersion
    case bareLF
    case bareCR
    case whitespaceAfterStartLine
    case obsFold
    case badHeaderName
    case whitespaceBeforeColon
    case badHeaderValue
    case missingHost
    case duplicateHost
    case badHost
    case badContentLength
    case conflictingContentLength
    case contentLengthWithTransferEncoding
    case transferEncodingInHTTP10
    case chunkedNotFinal
    case repeatedChunked
    case emptyTransferEncoding
    case badChunkSize
    case chunkSizeOverflow
    case badChunkExtension
    case badChunkTerminator
    case badTrailer
    case tooManyEmptyLines
    // 413 / 414 / 431: limits.
    case chunkExtensionTooLong
    case requestLineTooLong
    case headerLineTooLong
    case headTooLarge
    case tooManyHeaders
    case trailersTooLarge
    // 417
    case unsupportedExpectation
    // 501
    case unsupportedTransferCoding
    // 505
    case unsupportedVersion
    // Responses (the proxy answers 502 for any of these).
    case badStatusLine
    case badStatusCode

    /// The status the proxy answers a client with when its request fails so.
    public var status: Int {
        switch self {
        case .requestLineTooLong: return 414
        case .headerLineTooLong, .headTooLarge, .tooManyHeaders: return 431
        case .unsupportedExpectation: return 417
        case .unsupportedTransferCoding: return 501
        case .unsupportedVersion: return 505
        case .chunkExtensionTooLong, .trailersTooLarge: return 413
        default: return 400
        }
    }

    /// A short machine-readable reason, used in logs and error bodies.
    public var reason: StaticString {
        switch self {
        case .badRequestLine: return "bad_request_line"
        case .badMethod: return "bad_method"
        case .badTarget: return "bad_target"
        case .badVersion: return "bad_version"
        case .bareLF: return "bare_lf"
        case .bareCR: return "bare_cr"
        case .whitespaceAfterStartLine: return "whitespace_after_start_line"
        case .obsFold: return "obs_fold"
        case .badHeaderName: return "bad_header_name"
        case .whitespaceBeforeColon: return "whitespace_before_colon"
        case .badHeaderValue: return "bad_header_value"
        case .missingHost: return "missing_host"
        case .duplicateHost: return "duplicate_host"
        case .badHost: return "bad_host"
        case .badContentLength: return "bad_content_length"
        case .conflictingContentLength: return "conflicting_content_length"
        case .contentLengthWithTransferEncoding: return "content_length_with_transfer_encoding"
        case .transferEncodingInHTTP10: return "transfer_encoding_in_http10"
        case .chunkedNotFinal: return "chunked_not_final"
        case .repeatedChunked: return "repeated_chunked"
        case .emptyTransferEncoding: return "empty_transfer_encoding"
        case .badChunkSize: return "bad_chunk_size"
        case .chunkSizeOverflow: return "chunk_size_overflow"
        case .badChunkExtension: return "bad_chunk_extension"
        case .badChunkTerminator: return "bad_chunk_terminator"
        case .badTrailer: return "bad_trailer"
        case .tooManyEmptyLines: return "too_many_empty_lines"
        case .chunkExtensionTooLong: return "chunk_extension_too_long"
        case .requestLineTooLong: return "request_line_too_long"
        case .headerLineTooLong: return "header_line_too_long"
        case .headTooLarge: return "head_too_large"
        case .tooManyHeaders: return "too_many_headers"
        case .trailersTooLarge: return "trailers_too_large"
        case .unsupportedExpectation: return "unsupported_expectation"
        case .unsupportedTransferCoding: return "unsupported_transfer_coding"
        case .unsupportedVersion: return "unsupported_version"
        case .badStatusLine: return "bad_status_line"
        case .badStatusCode: return "bad_status_code"
        }
    }
}

/// Size limits for heads. Defaults follow SPEC §3 (`limits`).
public struct HeadLimits: Sendable, Equatable {
    /// The whole head, start line to the empty line (431 beyond it).
    public var maxHeadBytes: Int
    /// The request line (414 beyond it) or status line.
    public var maxStartLineBytes: Int
    /// One header field line (431 beyond it).
    public var maxFieldLineBytes: Int
    /// Number of header fields (431 beyond it).
    public var maxHeaders: Int

    public init(maxHeadBytes: Int = 65536, maxStartLineBytes: Int = 16384,
                maxFieldLineBytes: Int = 16384, maxHeaders: Int = 128) {
        self.maxHeadBytes = maxHeadBytes
        self.maxStartLineBytes = maxStartLineBytes
        self.maxFieldLineBytes = maxFieldLineBytes
        self.maxHeaders = maxHeaders
    }
}
