/// One header field as offsets into the buffer the head was parsed from.
/// The value excludes leading and trailing whitespace (RFC 9112 §5).
public struct HeaderField: Equatable, Sendable, BitwiseCopyable {
    public var nameStart: Int32
    public var nameCount: Int32
    public var valueStart: Int32
    public var valueCount: Int32

    @inlinable public var nameRange: Range<Int> { Int(nameStart)..<Int(nameStart + nameCount) }
    @inlinable public var valueRange: Range<Int> { Int(valueStart)..<Int(valueStart + valueCount) }
}

/// Header names the codec itself acts on, recognised while parsing so no
/// later stage has to compare names again.
public enum KnownHeader: UInt8, Sendable, BitwiseCopyable {
    case other, host, contentLength, transferEncoding, connection, expect, upgrade
    case keepAlive, proxyConnection, te, trailer, proxyAuthorization, proxyAuthenticate
    /// Fields the proxy rewrites (recognised here so it never compares names).
    case xForwardedFor, xForwardedProto, xRequestID

    /// Matches a header name case-insensitively.
    @inlinable
    static func classify(_ p: UnsafePointer<UInt8>, _ n: Int) -> KnownHeader {
        switch n {
        case 2: return bytesEqualLowercase(p, n, "te") ? .te : .other
        case 4: return bytesEqualLowercase(p, n, "host") ? .host : .other
        case 6: return bytesEqualLowercase(p, n, "expect") ? .expect : .other
        case 7:
            if bytesEqualLowercase(p, n, "upgrade") { return .upgrade }
            return bytesEqualLowercase(p, n, "trailer") ? .trailer : .other
        case 10:
            if bytesEqualLowercase(p, n, "connection") { return .connection }
            return bytesEqualLowercase(p, n, "keep-alive") ? .keepAlive : .other
        case 12: return bytesEqualLowercase(p, n, "x-request-id") ? .xRequestID : .other
        case 14: return bytesEqualLowercase(p, n, "content-length") ? .contentLength : .other
        case 15: return bytesEqualLowercase(p, n, "x-forwarded-for") ? .xForwardedFor : .other
        case 16: return bytesEqualLowercase(p, n, "proxy-connection") ? .proxyConnection : .other
        case 17:
            if bytesEqualLowercase(p, n, "transfer-encoding") { return .transferEncoding }
            return bytesEqualLowercase(p, n, "x-forwarded-proto") ? .xForwardedProto : .other
        case 18: return bytesEqualLowercase(p, n, "proxy-authenticate") ? .proxyAuthenticate : .other
        case 19: return bytesEqualLowercase(p, n, "proxy-authorization") ? .proxyAuthorization : .other
        default: return .other
        }
    }

    /// Hop-by-hop per RFC 9110 §7.6.1 (plus the de-facto ones): never forwarded.
    @inlinable public var isHopByHop: Bool {
        switch self {
        case .connection, .keepAlive, .proxyConnection, .te, .transferEncoding, .upgrade,
             .proxyAuthorization, .proxyAuthenticate, .trailer:
            return true
        default:
            return false
        }
    }
}

public enum Method: UInt8, Sendable {
    case get, head, post, put, delete, connect, options, trace, patch, other

    @inlinable
    static func classify(_ p: UnsafePointer<UInt8>, _ n: Int) -> Method {
        // Methods are case-sensitive (RFC 9110 §9.1).
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            n == s.utf8CodeUnitCount && memcmpBytes(p, s.utf8Start, n)
        }
        switch n {
        case 3: return eq("GET") ? .get : (eq("PUT") ? .put : .other)
        case 4: return eq("POST") ? .post : (eq("HEAD") ? .head : .other)
        case 5: return eq("PATCH") ? .patch : (eq("TRACE") ? .trace : .other)
        case 6: return eq("DELETE") ? .delete : .other
        case 7: return eq("OPTIONS") ? .options : (eq("CONNECT") ? .connect : .other)
        default: return .other
        }
    }

    /// Idempotent per RFC 9110 §9.2.2: safe to retry on a fresh connection.
    @inlinable public var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete, .options, .trace: return true
        default: return false
        }
    }
}

@inline(__always) @usableFromInline
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n { if a[i] != b[i] { return false }; i += 1 }
    return true
}

public enum Version: UInt8, Sendable {
    case http10, http11
}

/// How the body of a message is delimited (RFC 9112 §6.3).
public enum BodyFraming: Equatable, Sendable {
    /// No body at all.
    case none
    /// Exactly this many bytes.
    case length(Int64)
    /// Chunked transfer coding, final.
    case chunked
    /// Read until the connection closes (responses only).
    case untilClose
    /// The connection becomes a byte tunnel (101 Switching Protocols, 2xx to CONNECT).
    case tunnel
}

/// What `Connection` said, as flags.
public struct ConnectionOptions: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let close = ConnectionOptions(rawValue: 1)
    public static let keepAlive = ConnectionOptions(rawValue: 2)
    public static let upgrade = ConnectionOptions(rawValue: 4)
    /// Other tokens, naming further hop-by-hop fields the proxy must strip.
    public static let others = ConnectionOptions(rawValue: 8)
}

/// The fields every head has. Offsets are relative to the buffer passed to
/// the parser (not to the head's start), so callers can use them directly.
public struct HeadFields: Sendable {
    /// Index fields in order of arrival. Storage is kept across requests,
    /// so a warm parser does not allocate.
    public var fields: FieldTable<HeaderField>
    /// `KnownHeader` per field, same indices as `fields`.
    public var kinds: FieldTable<KnownHeader>
    public var version: Version = .http11
    public var connection: ConnectionOptions = []
    /// Parsed `Content-Length` (-1 when absent).
    public var contentLength: Int64 = -1
    /// A `Transfer-Encoding` field was present (whatever its value).
    public var hasTransferEncoding = false
    /// `chunked` is the final (and only supported) transfer coding.
    public var chunked = false
    /// Codings other than `chunked` were listed.
    public var otherCodings = false
    /// `chunked` appeared more than once, or was followed by another coding.
    public var chunkedMisplaced = false
    /// Offset of the first head byte and the byte after the empty line.
    public var headStart = 0
    public var headEnd = 0

    public init(capacity: Int = 32) {
        fields = FieldTable(capacity: capacity)
        kinds = FieldTable(capacity: capacity)
    }

    mutating func reset() {
        fields.reset()
        kinds.reset()
        version = .http11
        connection = []
        contentLength = -1
        hasTransferEncoding = false
        chunked = false
        otherCodings = false
        chunkedMisplaced = false
        headStart = 0
        headEnd = 0
    }

    /// Whether the connection may carry another message after this one,
    /// judging by version and `Connection` (RFC 9112 §9.3).
    public var wantsKeepAlive: Bool {
        if connection.contains(.close) { return false }
        return version == .http11 || connection.contains(.keepAlive)
    }

    /// Index of the first field of `kind`, if any.
    public func first(_ kind: KnownHeader) -> Int? {
        var i = 0
        while i < kinds.count { if kinds[i] == kind { return i }; i += 1 }
        return nil
    }
}

/// A parsed request head.
public struct RequestHead: Sendable {
    public var method: Method = .get
    public var methodRange: Range<Int> = 0..<0
    public var target: Range<Int> = 0..<0
    /// The path part of the target ("/..." up to "?"), also for absolute-form.
    public var path: Range<Int> = 0..<0
    public var h: HeadFields
    /// Index of the Host field, or -1.
    public var hostIndex = -1
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    public var expectContinue = false
    /// `Upgrade` present and named in `Connection`.
    public var upgrade = false
    public var framing: BodyFraming = .none

    public init(capacity: Int = 32) { h = HeadFields(capacity: capacity) }

    public var keepAlive: Bool { h.wantsKeepAlive }
}

/// A parsed response head.
public struct ResponseHead: Sendable {
    public var status = 0
    public var reason: Range<Int> = 0..<0
    public var h: HeadFields
    public var framing: BodyFraming = .none

    public init(capacity: Int = 32) { h = HeadFields(capacity: capacity) }

    /// 1xx other than 101: an interim response, another head follows.
    public var isInterim: Bool { status >= 100 && status < 200 && status != 101 }
    /// Whether the upstream connection can be reused after this response.
    public var keepAlive: Bool { framing != .untilClose && framing != .tunnel && h.wantsKeepAlive }
}
