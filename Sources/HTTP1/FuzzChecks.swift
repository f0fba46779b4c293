/// Invariants checked on arbitrary input, shared by the libFuzzer targets
/// and by the ordinary test that replays `Fuzz/corpus` and `Fuzz/crashes`.
/// A violated invariant traps (precondition), which is what libFuzzer
/// reports as a crash.
public enum FuzzChecks {
    /// Parses `data` as a request head (whole, then in two pieces at a
    /// data-chosen split) and, if it has a chunked body, decodes it.
    public static func request(_ data: UnsafeRawBufferPointer) {
        var limits = HeadLimits()
        limits.maxHeadBytes = 8192
        limits.maxHeaders = 64
        var parser = RequestParser(limits: limits)
        var head = RequestHead()
        let whole = parser.parse(data, into: &head)
        checkRequest(whole, head, data)

        // Byte-at-a-time equivalence at one split point: the same verdict.
        if data.count > 1 {
            let split = Int(data[0]) % data.count
            var p2 = RequestParser(limits: limits)
            var h2 = RequestHead()
            var r = p2.parse(UnsafeRawBufferPointer(rebasing: data[0..<split]), into: &h2)
            if r == .incomplete { r = p2.parse(data, into: &h2) }
            // The scanner reports the first limit crossed at the byte that crosses
            // it, so the verdict must not depend on segmentation at all.
            switch (whole, r) {
            case (.complete(let a), .complete(let b)):
                precondition(a == b && h2.h.fields == head.h.fields && h2.framing == head.framing, "split changed the head")
            default:
                precondition(whole == r, "split changed the verdict: \(whole) vs \(r)")
            }
        }

        if case .complete(let end) = whole, head.framing == .chunked {
            decodeChunked(UnsafeRawBufferPointer(rebasing: data[end...]))
        }
    }

    /// Parses `data` as a response head for a GET and for a HEAD, then
    /// decodes a chunked body if there is one.
    public static func response(_ data: UnsafeRawBufferPointer) {
        var parser = ResponseParser()
        var head = ResponseHead()
        let r = parser.parse(data, requestMethod: .get, into: &head)
        if case .complete(let end) = r {
            precondition(end <= data.count && head.h.headEnd == end)
            precondition(head.status >= 100 && head.status <= 599)
            for f in head.h.fields { precondition(f.valueRange.upperBound <= end && f.nameCount > 0) }
            if head.framing == .chunked { decodeChunked(UnsafeRawBufferPointer(rebasing: data[end...])) }
            var p2 = ResponseParser()
            var h2 = ResponseHead()
            let r2 = p2.parse(data, requestMethod: .head, into: &h2)
            precondition(r2 == r, "verdict depends on method beyond framing")
            precondition(h2.framing == .none || h2.framing == .tunnel)
        }
    }

    static func checkRequest(_ r: HeadResult, _ head: RequestHead, _ data: UnsafeRawBufferPointer) {
        guard case .complete(let end) = r else { return }
        precondition(end <= data.count && end == head.h.headEnd)
        precondition(head.target.upperBound <= end && !head.target.isEmpty)
        precondition(head.path.upperBound <= head.target.upperBound)
        for (i, f) in head.h.fields.enumerated() {
            precondition(f.nameCount > 0 && f.valueRange.upperBound <= end)
            for k in f.valueRange { precondition(ByteClass.isFieldValueByte(data[k])) }
            for k in f.nameRange { precondition(ByteClass.isTchar(data[k])) }
            precondition(head.h.kinds[i] == KnownHeader.classify(
                data.baseAddress!.assumingMemoryBound(to: UInt8.self) + f.nameRange.lowerBound, f.nameRange.count))
        }
        // Framing is never ambiguous once accepted.
        if head.framing == .chunked { precondition(head.h.contentLength < 0) }
        if head.h.version == .http11 { precondition(head.hostIndex >= 0) }
    }

    /// Decodes a chunked body; data runs must tile the consumed bytes.
    static func decodeChunked(_ body: UnsafeRawBufferPointer) {
        var d = ChunkedDecoder()
        var i = 0
        var total: Int64 = 0
        var guardSteps = 0
        loop: while true {
            guardSteps += 1
            precondition(guardSteps < 1_000_000)
            let before = i
            switch d.next(body, at: &i) {
            case .data(let s, let c):
                precondition(s >= before && c > 0 && s + c == i && i <= body.count)
                total += Int64(c)
            case .needMore:
                precondition(i == body.count)
                break loop
            case .end:
                precondition(d.isDone && i <= body.count)
                break loop
            case .error:
                break loop
            }
        }
        precondition(total == d.bodyBytes)
    }
}
