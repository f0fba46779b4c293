#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Field-line parsing and the framing fields shared by requests and
/// responses (RFC 9112 §5, §6; RFC 9110 §5, §7.6.1, §8.6).
enum FieldParsing {
    /// Index of the LF ending the line that starts at `from` (the scanner
    /// has already proved every line in the head ends in CRLF).
    @inline(__always)
    static func lineEnd(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ end: Int) -> Int {
        let base = b.baseAddress!
        let hit = memchr(base + from, 0x0A, end - from)!
        return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
    }

    /// Parses the field lines in `[from, end - 2)` (the head minus its final
    /// CRLF) into `h`, and interprets the framing fields.
    static func parseFields(_ b: UnsafeBufferPointer<UInt8>, from: Int, end: Int,
                            into h: inout HeadFields, limits: HeadLimits) -> HTTPParseError? {
        let stop = end - 2
        let base = b.baseAddress!
        var ls = from
        var first = true
        while ls < stop {
            let c0 = b[ls]
            if ByteClass.isOWS(c0) {
                // RFC 9112 §2.2 (whitespace after the start line) and §5.2 (obs-fold).
                return first ? .whitespaceAfterStartLine : .obsFold
            }
            // The name: tchars up to the colon. The line's CR stops the scan
            // at the latest (the scanner proved every line ends in CRLF).
            var i = ls
            while ByteClass.isTchar(b[i]) { i += 1 }
            if b[i] != UInt8(ascii: ":") {
                // RFC 9112 §5.1: no whitespace between field name and colon.
                return ByteClass.isOWS(b[i]) ? .whitespaceBeforeColon : .badHeaderName
            }
            if i == ls { return .badHeaderName }
            let nameEnd = i
            i += 1
            while ByteClass.isOWS(b[i]) { i += 1 }
            let vs = i
            // The value runs to the first control byte (or DEL), which must be
            // the line's CR: one pass both validates it and finds the line end.
            var k = vs
            k = skipFieldValueWords(base, k, end)
            while true {
                let c = b[k]
                if c >= 0x20 ? c == 0x7F : c != 0x09 { break }
                k += 1
            }
            if b[k] != 0x0D { return .badHeaderValue }
            if b[k + 1] != 0x0A { return .bareCR }
            let le = k
            let lf = k + 1
            var ve = le
            while ve > vs && ByteClass.isOWS(b[ve - 1]) { ve -= 1 }
            if h.fields.count >= limits.maxHeaders { return .tooManyHeaders }
            let kind = KnownHeader.classify(base + ls, nameEnd - ls)
            h.fields.append(HeaderField(nameStart: Int32(ls), nameCount: Int32(nameEnd - ls),
                                        valueStart: Int32(vs), valueCount: Int32(ve - vs)))
            h.kinds.append(kind)
            switch kind {
            case .contentLength:
                if let e = contentLength(b, vs, ve, &h) { return e }
            case .transferEncoding:
                if let e = transferEncoding(b, vs, ve, &h) { return e }
            case .connection:
                connection(b, vs, ve, &h)
            default:
                break
            }
            first = false
            ls = lf + 1
        }
        return nil
    }

    /// From `k`, skips whole 8-byte words in which every byte is a plain
    /// field-value byte (no control byte, no DEL; obs-text is fine); stops
    /// at the word holding the first other byte, or where 8 more bytes
    /// would pass `end`. The byte loop after it decides exactly.
    @inline(__always)
    static func skipFieldValueWords(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        var k = start
        while k + 8 <= end {
            let w = UnsafeRawPointer(base + k).loadUnaligned(as: UInt64.self)
            // Some byte below 0x20 (exact as a yes/no for a limit under 0x80;
            // bytes with the top bit set are excluded by `~w`), or equal to 0x7F.
            let low = (w &- ones &* 0x20) & ~w & highs
            let x = w ^ (ones &* 0x7F)
            let del = (x &- ones) & ~x & highs
            if low | del != 0 { break }
            k += 8
        }
        return k
    }

    /// Content-Length = 1*DIGIT; a list of identical values is accepted and
    /// differing ones refused (RFC 9110 §8.6, RFC 9112 §6.3 item 5).
    static func contentLength(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int,
                              _ h: inout HeadFields) -> HTTPParseError? {
        var i = vs
        while true {
            while i < ve && ByteClass.isOWS(b[i]) { i += 1 }
            var v: Int64 = 0
            var digits = 0
            while i < ve && ByteClass.isDigit(b[i]) {
                let d = Int64(b[i] &- 0x30)
                if v > (Int64.max - d) / 10 { return .badContentLength }
                v = v * 10 + d
                digits += 1
                i += 1
            }
            if digits == 0 { return .badContentLength }
            while i < ve && ByteClass.isOWS(b[i]) { i += 1 }
            if h.contentLength >= 0 && h.contentLength != v { return .conflictingContentLength }
            h.contentLength = v
            if i == ve { return nil }
            if b[i] != UInt8(ascii: ",") { return .badContentLength }
            i += 1
        }
    }

    /// Transfer-Encoding is a list of codings; only `chunked`, last and
    /// once, gives a determinable length (RFC 9112 §6.1, §6.3).
    static func transferEncoding(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int,
                                 _ h: inout HeadFields) -> HTTPParseError? {
        h.hasTransferEncoding = true
        var i = vs
        var sawCoding = false
        while i <= ve {
            while i < ve && ByteClass.isOWS(b[i]) { i += 1 }
            let ts = i
            while i < ve && ByteClass.isTchar(b[i]) { i += 1 }
            let te = i
            // Parameters (";q=...") belong to the coding; skip them whole.
            var hasParams = false
            while i < ve && b[i] != UInt8(ascii: ",") {
                let c = b[i]
                if c == UInt8(ascii: ";") { hasParams = true } else if !hasParams && !ByteClass.isOWS(c) {
                    return .badHeaderValue
                }
                if !ByteClass.isFieldValueByte(c) { return .badHeaderValue }
                i += 1
            }
            if te > ts {
                sawCoding = true
                let isChunked = !hasParams && bytesEqualLowercase(b.baseAddress! + ts, te - ts, "chunked")
                if h.chunked { h.chunkedMisplaced = true }  // anything after chunked
                if isChunked { h.chunked = true } else { h.otherCodings = true; if h.chunked { h.chunked = false; h.chunkedMisplaced = true } }
            } else if hasParams {
                return .badHeaderValue
            }
            i += 1  // past the comma (or past the end)
        }
        if !sawCoding && !h.chunked && !h.otherCodings { return .emptyTransferEncoding }
        return nil
    }

    /// Connection options (RFC 9110 §7.6.1): close, keep-alive, upgrade,
    /// and any other token naming a hop-by-hop field.
    static func connection(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int, _ h: inout HeadFields) {
        var i = vs
        while i < ve {
            while i < ve && (ByteClass.isOWS(b[i]) || b[i] == UInt8(ascii: ",")) { i += 1 }
            let ts = i
            while i < ve && b[i] != UInt8(ascii: ",") { i += 1 }
            var te = i
            while te > ts && ByteClass.isOWS(b[te - 1]) { te -= 1 }
            if te == ts { continue }
            let p = b.baseAddress! + ts
            let n = te - ts
            if bytesEqualLowercase(p, n, "close") { h.connection.insert(.close) }
            else if bytesEqualLowercase(p, n, "keep-alive") { h.connection.insert(.keepAlive) }
            else if bytesEqualLowercase(p, n, "upgrade") { h.connection.insert(.upgrade) }
            else { h.connection.insert(.others) }
        }
    }

    /// "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
    static func version(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> (major: UInt8, minor: UInt8)? {
        guard b[at] == UInt8(ascii: "H"), b[at + 1] == UInt8(ascii: "T"), b[at + 2] == UInt8(ascii: "T"),
              b[at + 3] == UInt8(ascii: "P"), b[at + 4] == UInt8(ascii: "/"),
              ByteClass.isDigit(b[at + 5]), b[at + 6] == UInt8(ascii: "."), ByteClass.isDigit(b[at + 7])
        else { return nil }
        return (b[at + 5] &- 0x30, b[at + 7] &- 0x30)
    }

    /// Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): only
    /// the characters those allow; an empty value is allowed.
    static func validHost(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int) -> Bool {
        var i = vs
        while i < ve {
            let c = b[i]
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
                 UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
                 UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
                 UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: "%"),
                 UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
                i += 1
            default:
                return false
            }
        }
        return true
    }
}
