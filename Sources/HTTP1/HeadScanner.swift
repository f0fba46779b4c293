#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the end of a head incrementally: each call resumes where the last
/// one stopped, so a head arriving one byte at a time is scanned once.
/// It also enforces the size limits before the head is complete, so a
/// client cannot make the proxy buffer an endless line (slowloris).
///
/// Only CRLF ends a line (RFC 9112 §2.2): a bare LF is refused rather than
/// tolerated, because tolerating it is how parsers come to disagree.
struct HeadScanner {
    /// The next byte to examine.
    var scanned = 0
    /// Start of the line being scanned.
    var lineStart = 0
    /// Start of the head, after any empty lines before the start line.
    var headStart = 0
    /// Non-empty lines seen so far (the start line included).
    var lines = 0
    var emptyLines = 0

    mutating func reset() { self = HeadScanner() }

    enum Outcome { case incomplete, complete(end: Int), error(HTTPParseError) }

    /// `b` is the message so far, from its first byte; it only ever grows
    /// between calls.
    ///
    /// The verdict does not depend on how the bytes were segmented: a limit is
    /// reported at the byte that crosses it, as if the bytes had arrived one
    /// at a time, even when a whole buffer also shows a later fault.
    mutating func scan(_ b: UnsafeBufferPointer<UInt8>, _ limits: HeadLimits, request: Bool) -> Outcome {
        let n = b.count
        guard let base = b.baseAddress, n > 0 else { return .incomplete }
        while scanned < n {
            guard let hit = memchr(base + scanned, 0x0A, n - scanned) else {
                scanned = n
                break
            }
            // memchr returns a pointer into `b`; its offset is within [scanned, n).
            let lf = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
            if let e = limitCrossed(through: lf - 1, limits, request: request) { return .error(e) }
            if lf == 0 || base[lf - 1] != 0x0D { return .error(.bareLF) }
            let lineLength = lf - 1 - lineStart
            if lineLength == 0 {
                if lines == 0 {
                    // RFC 9112 §2.2: ignore empty lines before the start line (a few).
                    emptyLines += 1
                    if emptyLines > 4 { return .error(.tooManyEmptyLines) }
                    lineStart = lf + 1
                    headStart = lf + 1
                    scanned = lf + 1
                    continue
                }
                let end = lf + 1
                if end - headStart > limits.maxHeadBytes { return .error(.headTooLarge) }
                scanned = end
                return .complete(end: end)
            }
            lines += 1
            if lines - 1 > limits.maxHeaders { return .error(.tooManyHeaders) }
            lineStart = lf + 1
            scanned = lf + 1
            if lineStart - headStart > limits.maxHeadBytes { return .error(.headTooLarge) }
        }
        // Incomplete: the partial line and the head so far must already be within limits.
        if let e = limitCrossed(through: n - 1, limits, request: request) { return .error(e) }
        return .incomplete
    }

    /// The first limit crossed by the bytes up to index `last` of the line
    /// being scanned, if any. The line is too long once it holds more than
    /// its limit plus a possible CR; the head once it holds more than
    /// `maxHeadBytes`. When both are crossed, the earlier crossing wins (the
    /// line on a tie), so a byte-at-a-time reader and a whole-buffer reader
    /// agree (RFC 9112 §3 and RFC 6585 §5: 414 for the line, 431 for the head).
    @inline(__always)
    private func limitCrossed(through last: Int, _ limits: HeadLimits, request: Bool) -> HTTPParseError? {
        let lineLimit = lines == 0 ? limits.maxStartLineBytes : limits.maxFieldLineBytes
        let lineCrossed = last - lineStart > lineLimit
        let headCrossed = last - headStart >= limits.maxHeadBytes
        // When crossed, both crossing indices are <= last, so the sums cannot overflow.
        if lineCrossed && (!headCrossed || lineStart + lineLimit + 1 <= headStart + limits.maxHeadBytes) {
            if lines == 0 { return request ? .requestLineTooLong : .badStatusLine }
            return .headerLineTooLong
        }
        return headCrossed ? .headTooLarge : nil
    }
}
