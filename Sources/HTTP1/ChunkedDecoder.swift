/// What the chunked decoder found next in its input.
public enum ChunkedEvent: Equatable, Sendable {
    /// All input was consumed; feed more.
    case needMore
    /// Body bytes at `[start, start + count)` of the input.
    case data(start: Int, count: Int)
    /// The last chunk and the trailer section ended; the index points past them.
    case end
    case error(HTTPParseError)
}

/// Incremental decoder for the chunked transfer coding (RFC 9112 §7.1),
/// strict about every framing byte: hex sizes without sign, prefix or
/// overflow, extensions of tokens and quoted strings only, CRLF exactly
/// after each chunk, trailer fields validated like header fields.
///
/// It does not copy: it reports where the data bytes lie in the input, and
/// everything it has consumed is valid framing, so a proxy may forward the
/// consumed bytes as they are.
public struct ChunkedDecoder: Sendable {
    enum State: UInt8 {
        case sizeStart, size, sizeWhitespace, sizeLF
        // chunk-ext, one state per position in its grammar (RFC 9112 §7.1.1).
        case extNameStart, extName, extNameEnd, extValueStart, extToken, quoted, quotedEscape, extValueEnd
        case data, dataCR, dataLF
        case trailerLineStart, trailerName, trailerValue, trailerLF, finalLF
        case done, failed
    }

    var state: State = .sizeStart
    var remaining: Int64 = 0
    var digits = 0
    var headerBytes = 0
    var trailerBytes = 0
    public let maxChunkHeaderBytes: Int
    public let maxTrailerBytes: Int
    /// Body bytes decoded so far.
    public private(set) var bodyBytes: Int64 = 0

    public init(maxChunkHeaderBytes: Int = 4096, maxTrailerBytes: Int = 16384) {
        self.maxChunkHeaderBytes = maxChunkHeaderBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    public var isDone: Bool { state == .done }

    public mutating func reset() { self = ChunkedDecoder(maxChunkHeaderBytes: maxChunkHeaderBytes, maxTrailerBytes: maxTrailerBytes) }

    /// Advances over `input` from `index`, stopping after each data run, at
    /// the end, at an error, or when the input is used up (`.needMore`).
    public mutating func next(_ input: UnsafeRawBufferPointer, at index: inout Int) -> ChunkedEvent {
        let b = input.bindMemory(to: UInt8.self)
        let n = b.count
        var i = index
        defer { index = i }
        while i < n {
            let c = b[i]
            switch state {
            case .data:
                let take = Int(min(remaining, Int64(n - i)))
                let start = i
                i += take
                remaining -= Int64(take)
                bodyBytes += Int64(take)
                if remaining == 0 { state = .dataCR }
                return .data(start: start, count: take)
            case .sizeStart, .size:
                if let h = ByteClass.hexValue(c) {
                    if state == .sizeStart { digits = 0; remaining = 0; headerBytes = 0 }
                    // Leading zeros add no magnitude; the header byte limit bounds them.
                    if remaining > (Int64.max >> 4) { return fail(.chunkSizeOverflow) }
                    remaining = remaining << 4 | Int64(h)
                    digits += 1
                    state = .size
                } else if state == .sizeStart {
                    return fail(.badChunkSize)
                } else if c == 0x0D {
                    state = .sizeLF
                } else if c == UInt8(ascii: ";") {
                    state = .extNameStart
                } else if ByteClass.isOWS(c) {
                    state = .sizeWhitespace  // BWS before ";" (RFC 9112 §7.1.1)
                } else {
                    return fail(.badChunkSize)
                }
            case .sizeWhitespace:
                if c == UInt8(ascii: ";") { state = .extNameStart }
                else if !ByteClass.isOWS(c) { return fail(.badChunkExtension) }
            // chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ):
            // a name is required after each ";", a value after each "=".
            case .extNameStart:
                if ByteClass.isTchar(c) { state = .extName }
                else if !ByteClass.isOWS(c) { return fail(.badChunkExtension) }
            case .extName:
                if c == 0x0D { state = .sizeLF }
                else if c == UInt8(ascii: ";") { state = .extNameStart }
                else if c == UInt8(ascii: "=") { state = .extValueStart }
                else if ByteClass.isOWS(c) { state = .extNameEnd }
                else if !ByteClass.isTchar(c) { return fail(.badChunkExtension) }
            case .extNameEnd:
                if c == UInt8(ascii: ";") { state = .extNameStart }
                else if c == UInt8(ascii: "=") { state = .extValueStart }
                else if !ByteClass.isOWS(c) { return fail(.badChunkExtension) }
            case .extValueStart:
                if c == UInt8(ascii: "\"") { state = .quoted }
                else if ByteClass.isTchar(c) { state = .extToken }
                else if !ByteClass.isOWS(c) { return fail(.badChunkExtension) }
            case .extToken, .extValueEnd:
                if c == 0x0D { state = .sizeLF }
                else if c == UInt8(ascii: ";") { state = .extNameStart }
                else if ByteClass.isOWS(c) { state = .sizeWhitespace }
                else if state == .extValueEnd || !ByteClass.isTchar(c) { return fail(.badChunkExtension) }
            case .quoted:
                if c == UInt8(ascii: "\"") { state = .extValueEnd }
                else if c == UInt8(ascii: "\\") { state = .quotedEscape }
                else if !ByteClass.isFieldValueByte(c) { return fail(.badChunkExtension) }
            case .quotedEscape:
                if !ByteClass.isFieldValueByte(c) { return fail(.badChunkExtension) }
                state = .quoted
            case .sizeLF:
                if c != 0x0A { return fail(.badChunkSize) }
                if remaining == 0 {
                    state = .trailerLineStart
                } else {
                    state = .data
                }
            case .dataCR:
                if c != 0x0D { return fail(.badChunkTerminator) }
                state = .dataLF
            case .dataLF:
                if c != 0x0A { return fail(.badChunkTerminator) }
                state = .sizeStart
            case .trailerLineStart:
                if c == 0x0D { state = .finalLF }
                else if ByteClass.isTchar(c) { state = .trailerName }
                else { return fail(.badTrailer) }  // obs-fold and junk alike
            case .trailerName:
                if c == UInt8(ascii: ":") { state = .trailerValue }
                else if !ByteClass.isTchar(c) { return fail(.badTrailer) }
            case .trailerValue:
                if c == 0x0D { state = .trailerLF }
                else if !ByteClass.isFieldValueByte(c) { return fail(.badTrailer) }
            case .trailerLF:
                if c != 0x0A { return fail(.badTrailer) }
                state = .trailerLineStart
            case .finalLF:
                if c != 0x0A { return fail(.badTrailer) }
                i += 1
                state = .done
                return .end
            case .done:
                return .end
            case .failed:
                return .error(.badChunkSize)
            }
            i += 1
            // Limits on framing bytes (not data): a chunk header and the trailers.
            switch state {
            case .size, .sizeWhitespace, .sizeLF, .extNameStart, .extName, .extNameEnd, .extValueStart,
                 .extToken, .quoted, .quotedEscape, .extValueEnd:
                headerBytes += 1
                if headerBytes > maxChunkHeaderBytes { return fail(.chunkExtensionTooLong) }
            case .trailerName, .trailerValue, .trailerLF, .trailerLineStart, .finalLF:
                trailerBytes += 1
                if trailerBytes > maxTrailerBytes { return fail(.trailersTooLarge) }
            default:
                break
            }
        }
        if state == .done { return .end }
        return .needMore
    }

    private mutating func fail(_ e: HTTPParseError) -> ChunkedEvent {
        state = .failed
        return .error(e)
    }
}

/// Writes chunked framing (RFC 9112 §7.1).
public enum ChunkedEncoder {
    /// The last chunk with an empty trailer section.
    public static let lastChunk: StaticString = "0\r\n\r\n"
    public static let crlf: StaticString = "\r\n"

    /// Writes "<hex size>\r\n" at `out`; returns the bytes written (at most 18).
    @discardableResult
    public static func writeChunkHeader(size: Int, into out: UnsafeMutableRawPointer) -> Int {
        precondition(size > 0)
        var digits = 0
        var v = size
        while v > 0 { digits += 1; v >>= 4 }
        var k = digits - 1
        v = size
        while k >= 0 {
            let d = UInt8(v & 0xF)
            out.storeBytes(of: d < 10 ? d + 0x30 : d + 0x57, toByteOffset: k, as: UInt8.self)
            v >>= 4
            k -= 1
        }
        out.storeBytes(of: 0x0D, toByteOffset: digits, as: UInt8.self)
        out.storeBytes(of: 0x0A, toByteOffset: digits + 1, as: UInt8.self)
        return digits + 2
    }
}
