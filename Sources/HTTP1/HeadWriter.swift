/// Appends a head's bytes into caller-owned memory, never past its end.
/// Used for the heads the proxy writes itself (its own errors, the lines it
/// adds); forwarded heads are mostly slices of the received buffer.
public struct HeadWriter {
    public let base: UnsafeMutableRawPointer
    public let capacity: Int
    // Settable so the appends can be inlined into the proxy; only the
    // writer's own methods change them.
    public var count = 0
    /// Set when an append did not fit; the content is then incomplete.
    public var overflowed = false

    public init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress!
        capacity = buffer.count
    }

    @inlinable @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        guard count + bytes.count <= capacity else { overflowed = true; return }
        if bytes.count <= 8 {
            // Separators and short values: a call to memcpy costs more than the copy.
            for k in 0..<bytes.count { base.storeBytes(of: bytes[k], toByteOffset: count + k, as: UInt8.self) }
        } else {
            (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        count += bytes.count
    }

    /// Literals land here (no String is made for them).
    @inlinable @inline(__always)
    public mutating func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func append(string s: String) {
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inlinable @inline(__always)
    public mutating func append(byte: UInt8) {
        guard count < capacity else { overflowed = true; return }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    public mutating func append(decimal v: Int) {
        if v < 0 { append(byte: UInt8(ascii: "-")) }
        // The magnitude, as `-v` would overflow for Int.min.
        var x = v.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat { d[n] = UInt8(x % 10) + 0x30; x /= 10; n += 1 } while x > 0
            while n > 0 { n -= 1; append(byte: d[n]) }
        }
    }

    /// "HTTP/1.1 <status> <reason>\r\n"
    public mutating func appendStatusLine(_ status: Int) {
        append("HTTP/1.1 ")
        append(decimal: status)
        append(byte: 0x20)
        append(StatusReason.phrase(status))
        append("\r\n")
    }

    /// "<name>: <value>\r\n"
    public mutating func appendField(_ name: StaticString, _ value: StaticString) {
        append(name); append(": "); append(value); append("\r\n")
    }

    public mutating func appendField(_ name: StaticString, decimal value: Int) {
        append(name); append(": "); append(decimal: value); append("\r\n")
    }
}

/// Reason phrases for the statuses the proxy itself writes (RFC 9110 §15).
public enum StatusReason {
    public static func phrase(_ status: Int) -> StaticString {
        switch status {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 417: return "Expectation Failed"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Unknown"
        }
    }
}
