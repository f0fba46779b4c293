/// Incremental, zero-copy response head parser (RFC 9112 §4, §6.3).
///
/// Body framing depends on the request (a response to HEAD has no body, a
/// 2xx to CONNECT is a tunnel), so the request's method is passed in.
public struct ResponseParser: Sendable {
    public var limits: HeadLimits
    var scanner = HeadScanner()

    public init(limits: HeadLimits = HeadLimits()) { self.limits = limits }

    public mutating func reset() { scanner.reset() }

    public mutating func parse(_ bytes: UnsafeRawBufferPointer, requestMethod: Method,
                               into head: inout ResponseHead) -> HeadResult {
        let b = bytes.bindMemory(to: UInt8.self)
        switch scanner.scan(b, limits, request: false) {
        case .incomplete: return .incomplete
        case .error(let e): return .error(e)
        case .complete(let end):
            if let e = Self.parseHead(b, from: scanner.headStart, end: end, method: requestMethod,
                                      into: &head, limits: limits) {
                return .error(e)
            }
            return .complete(end)
        }
    }

    static func parseHead(_ b: UnsafeBufferPointer<UInt8>, from: Int, end: Int, method: Method,
                          into r: inout ResponseHead, limits: HeadLimits) -> HTTPParseError? {
        r.h.reset()
        r.framing = .none
        r.h.headStart = from
        r.h.headEnd = end
        // status-line = HTTP-version SP status-code SP [ reason-phrase ]
        let lf = FieldParsing.lineEnd(b, from, end)
        let le = lf - 1
        if le - from < 12 { return .badStatusLine }
        guard let v = FieldParsing.version(b, from), v.major == 1 else { return .badStatusLine }
        r.h.version = v.minor == 0 ? .http10 : .http11
        var i = from + 8
        if b[i] != 0x20 { return .badStatusLine }
        i += 1
        guard ByteClass.isDigit(b[i]), ByteClass.isDigit(b[i + 1]), ByteClass.isDigit(b[i + 2]) else {
            return .badStatusCode
        }
        r.status = Int(b[i] &- 0x30) * 100 + Int(b[i + 1] &- 0x30) * 10 + Int(b[i + 2] &- 0x30)
        if r.status < 100 || r.status > 599 { return .badStatusCode }
        i += 3
        if i < le {
            // The reason phrase is optional but must follow a single SP.
            if b[i] != 0x20 { return .badStatusLine }
            i += 1
            var k = i
            while k < le {
                let c = b[k]
                if !ByteClass.isFieldValueByte(c) { return c == 0x0D ? .bareCR : .badStatusLine }
                k += 1
            }
        }
        r.reason = i..<le
        if let e = FieldParsing.parseFields(b, from: lf + 1, end: end, into: &r.h, limits: limits) { return e }
        return framing(&r, method: method)
    }

    /// RFC 9112 §6.3, in its order; CL together with TE is refused outright
    /// rather than resolved in favour of TE (SPEC §5: no guessing).
    static func framing(_ r: inout ResponseHead, method: Method) -> HTTPParseError? {
        let s = r.status
        if r.h.hasTransferEncoding && r.h.contentLength >= 0 { return .contentLengthWithTransferEncoding }
        if r.h.hasTransferEncoding && r.h.version == .http10 { return .transferEncodingInHTTP10 }
        if s == 101 { r.framing = .tunnel; return nil }
        if method == .head || (s >= 100 && s < 200) || s == 204 || s == 304 {
            r.framing = .none
            return nil
        }
        if method == .connect && s >= 200 && s < 300 { r.framing = .tunnel; return nil }
        if r.h.hasTransferEncoding {
            if r.h.chunkedMisplaced && r.h.chunked { return .repeatedChunked }
            r.framing = r.h.chunked ? .chunked : .untilClose
            return nil
        }
        if r.h.contentLength >= 0 {
            r.framing = r.h.contentLength == 0 ? .none : .length(r.h.contentLength)
            return nil
        }
        r.framing = .untilClose
        return nil
    }
}
