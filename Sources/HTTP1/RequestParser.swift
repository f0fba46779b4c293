/// The outcome of feeding bytes to a head parser.
public enum HeadResult: Equatable, Sendable {
    /// More bytes are needed; call again with the grown buffer.
    case incomplete
    /// The head is complete and ends (exclusive) at this offset.
    case complete(Int)
    /// The head is refused; the connection must be answered and closed.
    case error(HTTPParseError)
}

/// Incremental, zero-copy request head parser (RFC 9112 §2–§6).
///
/// Feed it the request's bytes from the first one, each time the buffer
/// grows; it scans only the new bytes for the end of the head and parses
/// the whole head once when it is complete. The result describes the head
/// as offsets into the caller's buffer. Not thread-safe; one per connection
/// (or per worker, reused across connections).
public struct RequestParser: Sendable {
    public var limits: HeadLimits
    var scanner = HeadScanner()

    public init(limits: HeadLimits = HeadLimits()) { self.limits = limits }

    /// Prepares for the next request on the connection.
    public mutating func reset() { scanner.reset() }

    public mutating func parse(_ bytes: UnsafeRawBufferPointer, into head: inout RequestHead) -> HeadResult {
        let b = bytes.bindMemory(to: UInt8.self)
        switch scanner.scan(b, limits, request: true) {
        case .incomplete: return .incomplete
        case .error(let e): return .error(e)
        case .complete(let end):
            if let e = Self.parseHead(b, from: scanner.headStart, end: end, into: &head, limits: limits) {
                return .error(e)
            }
            return .complete(end)
        }
    }

    /// Parses a complete head in `[from, end)`.
    static func parseHead(_ b: UnsafeBufferPointer<UInt8>, from: Int, end: Int,
                          into r: inout RequestHead, limits: HeadLimits) -> HTTPParseError? {
        r.h.reset()
        r.hostIndex = -1
        r.expectContinue = false
        r.upgrade = false
        r.framing = .none
        r.h.headStart = from
        r.h.headEnd = end

        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
        let lf = FieldParsing.lineEnd(b, from, end)
        let le = lf - 1
        var i = from
        while i < le && ByteClass.isTchar(b[i]) { i += 1 }
        if i == from || i == le || b[i] != 0x20 { return i == from ? .badMethod : .badRequestLine }
        r.methodRange = from..<i
        r.method = Method.classify(b.baseAddress! + from, i - from)
        i += 1
        let ts = i
        while i < le && b[i] != 0x20 {
            let c = b[i]
            if !ByteClass.isTargetByte(c) || c == UInt8(ascii: "#") { return c == 0x0D ? .bareCR : .badTarget }
            i += 1
        }
        if i == ts { return .badTarget }
        if i == le { return .badRequestLine }  // no version: HTTP/0.9 is not spoken
        r.target = ts..<i
        i += 1
        if le - i != 8 { return .badVersion }
        guard let v = FieldParsing.version(b, i) else { return .badVersion }
        if v.major != 1 { return .unsupportedVersion }
        r.h.version = v.minor == 0 ? .http10 : .http11
        if let e = targetForm(b, &r) { return e }

        if let e = FieldParsing.parseFields(b, from: lf + 1, end: end, into: &r.h, limits: limits) { return e }
        return finish(b, &r)
    }

    /// Checks the target's form against the method (RFC 9112 §3.2) and finds its path.
    static func targetForm(_ b: UnsafeBufferPointer<UInt8>, _ r: inout RequestHead) -> HTTPParseError? {
        let ts = r.target.lowerBound, te = r.target.upperBound
        let c0 = b[ts]
        if r.method == .connect {
            // authority-form = uri-host ":" port, nothing else (RFC 9112 §3.2.3); the
            // port is required (RFC 9110 §9.3.6) and is 1*DIGIT (RFC 3986 §3.2.3).
            var colon = -1
            var j = ts
            while j < te {
                let c = b[j]
                if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "@") { return .badTarget }
                if c == UInt8(ascii: ":") { colon = j }
                j += 1
            }
            if colon <= ts || colon == te - 1 || !FieldParsing.validHost(b, ts, colon) { return .badTarget }
            j = colon + 1
            while j < te { if !ByteClass.isDigit(b[j]) { return .badTarget }; j += 1 }
            r.path = te..<te
            return nil
        }
        if c0 == UInt8(ascii: "/") {
            r.path = ts..<queryStart(b, ts, te)
            return nil
        }
        if c0 == UInt8(ascii: "*") {
            // asterisk-form: only "*", only for OPTIONS.
            if te - ts != 1 || r.method != .options { return .badTarget }
            r.path = ts..<te
            return nil
        }
        // absolute-form: scheme "://" authority [path-abempty] [ "?" query ]
        var j = ts
        guard (c0 | 0x20) >= UInt8(ascii: "a") && (c0 | 0x20) <= UInt8(ascii: "z") else { return .badTarget }
        while j < te {
            let c = b[j]
            let alnum = ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")) || ByteClass.isDigit(c)
            if !(alnum || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")) { break }
            j += 1
        }
        guard te - j >= 3, b[j] == UInt8(ascii: ":"), b[j + 1] == UInt8(ascii: "/"), b[j + 2] == UInt8(ascii: "/")
        else { return .badTarget }
        j += 3
        let authorityStart = j
        while j < te && b[j] != UInt8(ascii: "/") && b[j] != UInt8(ascii: "?") { j += 1 }
        if j == authorityStart { return .badTarget }
        if j < te && b[j] == UInt8(ascii: "/") {
            r.path = j..<queryStart(b, j, te)
        } else {
            r.path = j..<j  // empty path means "/"
        }
        return nil
    }

    @inline(__always)
    static func queryStart(_ b: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Int {
        var j = from
        while j < to && b[j] != UInt8(ascii: "?") { j += 1 }
        return j
    }

    /// Request-specific field rules and the body's framing (RFC 9112 §6.3).
    static func finish(_ b: UnsafeBufferPointer<UInt8>, _ r: inout RequestHead) -> HTTPParseError? {
        var hosts = 0
        var upgradeField = false
        var k = 0
        while k < r.h.kinds.count {
            let f = r.h.fields[k]
            switch r.h.kinds[k] {
            case .host:
                hosts += 1
                if hosts > 1 { return .duplicateHost }  // RFC 9112 §3.2
                if !FieldParsing.validHost(b, f.valueRange.lowerBound, f.valueRange.upperBound) { return .badHost }
                r.hostIndex = k
            case .expect:
                // RFC 9110 §10.1.1: only 100-continue is defined; ignored for HTTP/1.0.
                let p = b.baseAddress! + Int(f.valueStart)
                if bytesEqualLowercase(p, Int(f.valueCount), "100-continue") {
                    if r.h.version == .http11 { r.expectContinue = true }
                } else if f.valueCount > 0 {
                    return .unsupportedExpectation
                }
            case .upgrade:
                upgradeField = true
            default:
                break
            }
            k += 1
        }
        if hosts == 0 && r.h.version == .http11 { return .missingHost }
        r.upgrade = upgradeField && r.h.connection.contains(.upgrade)

        if r.h.hasTransferEncoding {
            // RFC 9112 §6.1: TE in HTTP/1.0 is faulty framing; SPEC §5: CL+TE is ambiguous.
            if r.h.version == .http10 { return .transferEncodingInHTTP10 }
            if r.h.contentLength >= 0 { return .contentLengthWithTransferEncoding }
            if r.h.chunkedMisplaced { return r.h.chunked ? .repeatedChunked : .chunkedNotFinal }
            if r.h.otherCodings { return .unsupportedTransferCoding }
            if !r.h.chunked { return .emptyTransferEncoding }
            r.framing = .chunked
        } else if r.h.contentLength > 0 {
            r.framing = .length(r.h.contentLength)
        } else {
            r.framing = .none
        }
        return nil
    }
}
