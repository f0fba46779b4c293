/// Up to `capacity` bytes of text stored inline (no heap): the request's
/// path, method, id and endpoint travel to the exporter this way.
public struct InlineText128: Sendable {
    private var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public private(set) var count: UInt8 = 0
    /// The source was longer and was cut.
    public private(set) var truncated = false
    public static let capacity = 128

    public init() {}

    public mutating func set(_ bytes: UnsafeRawBufferPointer) {
        let n = min(bytes.count, InlineText128.capacity)
        withUnsafeMutableBytes(of: &storage) { dst in
            if n > 0 { dst.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
        }
        count = UInt8(n)
        truncated = bytes.count > n
    }

    public mutating func clear() {
        count = 0
        truncated = false
    }

    public mutating func set(_ s: String) {
        var t = s
        t.withUTF8 { set(UnsafeRawBufferPointer($0)) }
    }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<Int(count)])) }
    }

    public var string: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}

/// One request as the monitor receives it (SPEC §7 keys). Fixed size, so
/// it moves through the per-worker ring without allocation.
public struct RequestRecord: Sendable {
    /// Wall-clock time the request started, ms since the epoch.
    public var tsMillis: UInt64 = 0
    public var latencyMicros: UInt64 = 0
    /// Upstream time to first response byte; -1 when no upstream answered.
    public var upstreamMicros: Int64 = -1
    public var bytesIn: Int64 = 0
    public var bytesOut: Int64 = 0
    public var status: UInt16 = 0
    public var error: ErrorReason = .none
    /// Series slot (route, backend, cluster names come from the registry).
    public var seriesSlot: Int32 = -1
    public var method = InlineText128()
    public var path = InlineText128()
    public var requestID = InlineText128()
    public var endpoint = InlineText128()

    public init() {}
}

/// JSON lines for the push export and the access log: one object per
/// record with exactly SPEC §7's keys.
public enum RecordJSON {
    /// Appends one JSON line. No allocation beyond `out`'s growth: numbers
    /// and names are written straight into it (the exporter formats tens of
    /// thousands of these per second).
    public static func append(_ r: RequestRecord, _ key: SeriesKey, to out: inout [UInt8]) {
        append(r, labels: labelsFragment(key), to: &out)
    }

    /// `,"route":…,"backend":…,"cluster":…` for a series, escaped once: the
    /// exporter keeps one per series instead of re-escaping names per record.
    public static func labelsFragment(_ key: SeriesKey) -> [UInt8] {
        var out: [UInt8] = []
        func text(_ s: String) { var s = s; s.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), &out) } }
        out.append(contentsOf: Array(",\"route\":".utf8)); text(key.route)
        out.append(contentsOf: Array(",\"backend\":".utf8)); text(key.backend)
        out.append(contentsOf: Array(",\"cluster\":".utf8)); text(key.cluster)
        return out
    }

    /// Appends one JSON line, with the series' labels already rendered.
    public static func append(_ r: RequestRecord, labels: [UInt8], to out: inout [UInt8]) {
        func lit(_ s: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
        func str(_ t: InlineText128) { t.withBytes { appendJSONString($0, &out) } }
        lit("{\"ts\":\"")
        appendRFC3339(r.tsMillis, &out)
        lit("\",\"request_id\":"); str(r.requestID)
        out.append(contentsOf: labels)
        lit(",\"endpoint\":")
        if r.endpoint.count == 0 { lit("null") } else { str(r.endpoint) }
        lit(",\"method\":"); str(r.method)
        lit(",\"path\":"); str(r.path)
        lit(",\"status\":"); appendDecimal(UInt64(r.status), &out)
        lit(",\"latency_ms\":"); appendMillis(r.latencyMicros, &out)
        lit(",\"upstream_ms\":")
        if r.upstreamMicros < 0 { lit("null") } else { appendMillis(UInt64(r.upstreamMicros), &out) }
        lit(",\"bytes_in\":"); appendDecimal(UInt64(max(0, r.bytesIn)), &out)
        lit(",\"bytes_out\":"); appendDecimal(UInt64(max(0, r.bytesOut)), &out)
        lit(",\"error\":")
        if r.error == .none { lit("null") } else { lit("\""); out.append(contentsOf: r.error.label.utf8); lit("\"") }
        lit("}\n")
    }

    static func appendDecimal(_ v: UInt64, _ out: inout [UInt8]) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { d in
            var n = 0
            var x = v
            repeat { d[n] = UInt8(x % 10) + 48; x /= 10; n += 1 } while x > 0
            while n > 0 { n -= 1; out.append(d[n]) }
        }
    }

    /// µs as milliseconds with up to three decimals ("12.345", "0.5", "3").
    static func appendMillis(_ micros: UInt64, _ out: inout [UInt8]) {
        appendDecimal(micros / 1000, &out)
        var frac = micros % 1000
        guard frac > 0 else { return }
        out.append(UInt8(ascii: "."))
        var width = 3
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        var div: UInt64 = 1
        for _ in 1..<width { div *= 10 }
        while div > 0 { out.append(UInt8(frac / div % 10) + 48); div /= 10 }
    }

    /// A JSON string from bytes; invalid UTF-8 and controls are escaped.
    static func appendJSONString(_ b: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Fast path: most values need no escaping and go in with one copy.
        var clean = true
        for c in b where c < 0x20 || c >= 0x7F || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { clean = false; break }
        if clean {
            out.append(contentsOf: b)
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for c in b {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0..<0x20, 0x7F...0xFF:
                // Bytes outside printable ASCII are escaped one by one (paths are
                // bytes, not guaranteed UTF-8), so every line is valid JSON.
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// "2026-11-26T19:03:31.123Z" (RFC 3339, milliseconds, UTC).
    public static func appendRFC3339(_ ms: UInt64, _ out: inout [UInt8]) {
        let secs = Int64(ms / 1000)
        let millis = Int(ms % 1000)
        var days = secs / 86_400
        let rem = Int(secs % 86_400)
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        days += 719_468
        let era = days / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        var y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        if m <= 2 { y += 1 }
        func two(_ v: Int) { out.append(UInt8(48 + v / 10)); out.append(UInt8(48 + v % 10)) }
        appendDecimal(UInt64(max(0, y)), &out)
        out.append(UInt8(ascii: "-")); two(Int(m))
        out.append(UInt8(ascii: "-")); two(Int(d))
        out.append(UInt8(ascii: "T")); two(rem / 3600)
        out.append(UInt8(ascii: ":")); two(rem % 3600 / 60)
        out.append(UInt8(ascii: ":")); two(rem % 60)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(48 + millis / 100)); out.append(UInt8(48 + millis / 10 % 10)); out.append(UInt8(48 + millis % 10))
        out.append(UInt8(ascii: "Z"))
    }
}
