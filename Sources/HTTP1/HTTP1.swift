// HTTP1: the pure HTTP/1.1 codec (RFC 9112) of Sluice.
//
// Why it exists: every byte a client or an upstream sends passes through
// these parsers before the proxy acts on it, so framing decisions are made
// here, once, strictly. Ambiguous framing is an error, never a guess.
//
// What it must never do: perform I/O, allocate per request once warm,
// import Foundation, or copy the bytes it parses. Parsers read the caller's
// buffer and describe what they found as offsets into it.

/// Characters classes of RFC 9110 §5.6.2 and §5.5, as branch-light tests.
@usableFromInline
enum ByteClass {
    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    ///         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA   (RFC 9110 §5.6.2)
    @inline(__always) @usableFromInline
    static func isTchar(_ c: UInt8) -> Bool {
        // One bit per byte value, four words (a 256-bit set): a shift and a
        // mask instead of a chain of range compares.
        let word: UInt64
        switch c >> 6 {
        case 0: word = tcharLow
        case 1: word = tcharHigh
        default: return false
        }
        return (word >> UInt64(c & 63)) & 1 != 0
    }

    /// tchar bits for bytes 0-63: ! # $ % & ' * + - . and the digits
    /// (literals, not computed: a lazily initialised static costs a check per use;
    /// a test rebuilds both from the RFC's list).
    @usableFromInline static let tcharLow: UInt64 = 0x3ff6cfa00000000
    /// tchar bits for bytes 64-127: the letters and ^ _ ` | ~.
    @usableFromInline static let tcharHigh: UInt64 = 0x57ffffffc7fffffe

    /// field-vchar / SP / HTAB: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5).
    /// Everything else (NUL, CR, LF, other CTLs, DEL) is refused.
    @inline(__always) @usableFromInline
    static func isFieldValueByte(_ c: UInt8) -> Bool {
        return c >= 0x20 ? c != 0x7F : c == 0x09
    }

    /// Bytes allowed in a request-target: visible ASCII (RFC 9112 §3.2 via
    /// RFC 3986). Whitespace, controls, DEL and raw non-ASCII are refused.
    @inline(__always) @usableFromInline
    static func isTargetByte(_ c: UInt8) -> Bool { c > 0x20 && c < 0x7F }

    @inline(__always) @usableFromInline
    static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    @inline(__always) @usableFromInline
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c &- 0x30
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c &- 0x57
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c &- 0x37
        default: return nil
        }
    }

    @inline(__always) @usableFromInline
    static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    @inline(__always) @usableFromInline
    static func lower(_ c: UInt8) -> UInt8 { (c &- 0x41) < 26 ? c | 0x20 : c }
}

/// ASCII case-insensitive comparison of `count` bytes at `p` with a
/// lower-case literal, without building a String, 8 bytes at a time.
///
/// Setting bit 0x20 lower-cases A-Z, and it is exact here because of two
/// preconditions. The literal holds only a-z, 0-9 and "-". The bytes hold
/// no control characters: they are tchars or checked field-value bytes.
/// Then a byte ORed with 0x20 equals a letter only if it is that letter in
/// either case, and equals "-" or a digit only if it is that character
/// (the other candidates, 0x0D and 0x10-0x19, are controls).
@inline(__always) @usableFromInline
func bytesEqualLowercase(_ p: UnsafePointer<UInt8>, _ count: Int, _ lit: StaticString) -> Bool {
    guard count == lit.utf8CodeUnitCount else { return false }
    let l = lit.utf8Start
    var i = 0
    while i + 8 <= count {
        let a = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) | 0x2020_2020_2020_2020
        if a != UnsafeRawPointer(l + i).loadUnaligned(as: UInt64.self) { return false }
        i += 8
    }
    while i < count {
        if p[i] | 0x20 != l[i] { return false }
        i += 1
    }
    return true
}
