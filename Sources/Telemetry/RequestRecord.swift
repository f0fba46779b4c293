import SluiceCore

/// Up to `capacity` bytes of text stored inline (no heap): the request's
/// path, id and any non-standard method travel to the exporter this way.
public struct InlineText128: Sendable {
    private var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                          UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    public private(set) var count: UInt8 = 0
    public static let capacity = 128

    public init() {}

    public mutating func set(_ bytes: UnsafeRawBufferPointer) {
        let n = min(bytes.count, InlineText128.capacity)
        withUnsafeMutableBytes(of: &storage) { dst in
            if n > 0 { dst.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n) }
        }
        count = UInt8(n)
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
/// it moves through the per-worker ring without allocation. Names the
/// exporter can look up (series labels, endpoint, standard method) travel
/// as small numbers, so the worker copies only the request's own text.
public struct RequestRecord: Sendable {
    /// The numbers (and the names' slots), as the worker hands them over.
    public var fields = RecordFields()
    public var method = InlineText128()
    public var path = InlineText128()
    public var requestID = InlineText128()

    public init() {}

    /// The methods with a code, in the order of `HTTP1.Method`'s raw values
    /// (Telemetry does not depend on HTTP1; a test keeps the two in step).
    public static let methodNames = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
    public static let customMethod: UInt8 = 0xFF
}

/// Endpoint names ("host:port" as configured) to small stable numbers, so a
/// record carries 4 bytes instead of the text. Process-wide and
/// append-only: a slot never changes meaning, and the exporter caches
/// each name's JSON once. Interned when snapshots are built (cold path).
public final class NameTable: Sendable {
    public static let endpoints = NameTable(capacity: 1 << 16)
    public let capacity: Int
    private let state = Locked<(slots: [String: Int32], names: [String])>(([:], []))

    public init(capacity: Int) { self.capacity = capacity }

    /// The slot for `name`; -1 once `capacity` distinct names were seen.
    public func slot(_ name: String) -> Int32 {
        state.withLock { s in
            if let i = s.slots[name] { return i }
            guard s.names.count < capacity else { return -1 }
            s.names.append(name)
            s.slots[name] = Int32(s.names.count - 1)
            return Int32(s.names.count - 1)
        }
    }

    /// Names from slot `from` on (the exporter extends its cache with them).
    public func names(from: Int) -> [String] {
        state.withLock { s in from < s.names.count ? Array(s.names[from...]) : [] }
    }
}

/// A growable byte buffer written through a raw pointer: the exporter
/// formats tens of thousands of records a second into it, and Array's
/// per-append uniqueness and capacity checks cost more than the JSON.
/// Writers `reserve` an upper bound once, then `put` without checks.
public struct ByteSink: ~Copyable {
    public internal(set) var base: UnsafeMutablePointer<UInt8>
    public internal(set) var count = 0
    public private(set) var capacity: Int

    public init(capacity: Int = 64 * 1024) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Room for `n` more bytes.
    @inline(__always) public mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ need: Int) {
        var c = capacity
        while c < need { c *= 2 }
        let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        nb.update(from: base, count: count)
        base.deallocate()
        base = nb
        capacity = c
    }

    // Unchecked writes: each caller reserved their bound first.
    @inline(__always) mutating func put(_ b: UInt8) {
        base[count] = b
        count &+= 1
    }

    @inline(__always) mutating func put(_ p: UnsafeRawPointer, _ n: Int) {
        (base + count).update(from: p.assumingMemoryBound(to: UInt8.self), count: n)
        count &+= n
    }

    @inline(__always) mutating func put(_ s: StaticString) { put(s.utf8Start, s.utf8CodeUnitCount) }

    /// Appends bytes, reserving room for them.
    public mutating func append(_ b: UnsafeRawBufferPointer) {
        guard let p = b.baseAddress, b.count > 0 else { return }
        reserve(b.count)
        put(p, b.count)
    }

    public mutating func append(_ s: StaticString) {
        reserve(s.utf8CodeUnitCount)
        put(s)
    }

    public mutating func removeAll() { count = 0 }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// JSON lines for the push export and the access log: one object per
/// record with exactly SPEC §7's keys. Holds the last second's formatted
/// date, which most records of a batch share, and the names' JSON
/// fragments (escaped once, not per record).
public struct RecordJSON {
    private var second: UInt64 = .max
    /// "YYYY-MM-DDTHH:MM:SS." of `second`.
    private var datePrefix: [UInt8] = []
    /// Per series slot: `,"route":…,"backend":…,"cluster":…`.
    private var labels: [[UInt8]] = []
    /// Per endpoint slot: the name as a JSON string.
    private var endpoints: [[UInt8]] = []
    private let unroutedLabels = RecordJSON.labelsFragment(.unrouted)
    private let registry: SeriesRegistry?
    private let names: NameTable

    public init(registry: SeriesRegistry?, names: NameTable = .endpoints) {
        self.registry = registry
        self.names = names
    }

    /// `,"route":…,"backend":…,"cluster":…` for a series.
    public static func labelsFragment(_ key: SeriesKey) -> [UInt8] {
        var sink = ByteSink(capacity: 256)
        func text(_ s: String) { var s = s; s.withUTF8 { appendString(UnsafeRawBufferPointer($0), &sink) } }
        sink.append(",\"route\":"); text(key.route)
        sink.append(",\"backend\":"); text(key.backend)
        sink.append(",\"cluster\":"); text(key.cluster)
        return Array(sink.bytes)
    }

    /// A string as JSON (quotes included).
    public static func stringFragment(_ s: String) -> [UInt8] {
        var sink = ByteSink(capacity: 256)
        var s = s
        s.withUTF8 { appendString(UnsafeRawBufferPointer($0), &sink) }
        return Array(sink.bytes)
    }

    /// Appends one JSON line for `r`.
    public mutating func append(_ r: borrowing RequestRecord, to out: inout ByteSink) {
        let slot = Int(r.fields.seriesSlot)
        if slot >= labels.count, let registry {
            let keys = registry.keys
            while labels.count < keys.count { labels.append(RecordJSON.labelsFragment(keys[labels.count])) }
        }
        let e = Int(r.fields.endpointSlot)
        if e >= endpoints.count {
            for n in names.names(from: endpoints.count) { endpoints.append(RecordJSON.stringFragment(n)) }
        }
        // The bound: fixed text and numbers under 400 bytes, each inline
        // text at most 128 bytes escaped to 6 bytes each.
        out.reserve(400 + 3 * 6 * InlineText128.capacity + 16 * 3)
        if r.fields.tsMillis / 1000 != second { setSecond(r.fields.tsMillis / 1000) }
        out.put("{\"ts\":\"")
        datePrefix.withUnsafeBytes { out.put($0.baseAddress!, $0.count) }
        let ms = Int(r.fields.tsMillis % 1000)
        out.put(UInt8(48 + ms / 100)); out.put(UInt8(48 + ms / 10 % 10)); out.put(UInt8(48 + ms % 10))
        out.put("Z\",\"request_id\":")
        r.requestID.withBytes { RecordJSON.putString($0, &out) }
        let fragment = slot >= 0 && slot < labels.count ? labels[slot] : unroutedLabels
        fragment.withUnsafeBytes { out.append($0) }
        out.put(",\"endpoint\":")
        if e >= 0 && e < endpoints.count {
            endpoints[e].withUnsafeBytes { out.append($0) }
        } else {
            out.put("null")
        }
        out.put(",\"method\":")
        if Int(r.fields.methodCode) < RecordJSON.methodJSON.count {
            RecordJSON.methodJSON[Int(r.fields.methodCode)].withUnsafeBytes { out.put($0.baseAddress!, $0.count) }
        } else {
            r.method.withBytes { RecordJSON.putString($0, &out) }
        }
        out.put(",\"path\":"); r.path.withBytes { RecordJSON.putString($0, &out) }
        out.put(",\"status\":"); RecordJSON.putDecimal(UInt64(r.fields.status), &out)
        out.put(",\"latency_ms\":"); RecordJSON.putMillis(r.fields.latencyMicros, &out)
        out.put(",\"upstream_ms\":")
        if r.fields.upstreamMicros < 0 { out.put("null") } else { RecordJSON.putMillis(UInt64(r.fields.upstreamMicros), &out) }
        out.put(",\"bytes_in\":"); RecordJSON.putDecimal(UInt64(max(0, r.fields.bytesIn)), &out)
        out.put(",\"bytes_out\":"); RecordJSON.putDecimal(UInt64(max(0, r.fields.bytesOut)), &out)
        out.put(",\"error\":")
        if r.fields.error == .none {
            out.put("null")
        } else {
            RecordJSON.errorJSON[Int(r.fields.error.rawValue)].withUnsafeBytes { out.append($0) }
        }
        out.put("}\n")
    }

    private static let methodJSON: [[UInt8]] = RequestRecord.methodNames.map { Array("\"\($0)\"".utf8) }
    private static let errorJSON: [[UInt8]] = ErrorReason.allCases.map { Array("\"\($0.label)\"".utf8) }

    private mutating func setSecond(_ s: UInt64) {
        second = s
        var sink = ByteSink(capacity: 64)
        RecordJSON.appendRFC3339(s * 1000, &sink)
        datePrefix = Array(sink.bytes.prefix(20))  // through "SS."
    }

    /// Digits of `v`, written back to front in place.
    @inline(__always) static func putDecimal(_ v: UInt64, _ out: inout ByteSink) {
        var n = 1
        var t = v
        while t >= 10 { t /= 10; n += 1 }
        var x = v
        var k = n
        while k > 0 {
            k -= 1
            out.base[out.count + k] = UInt8(truncatingIfNeeded: x % 10) &+ 48
            x /= 10
        }
        out.count += n
    }

    /// µs as milliseconds with up to three decimals ("12.345", "0.5", "3").
    static func putMillis(_ micros: UInt64, _ out: inout ByteSink) {
        putDecimal(micros / 1000, &out)
        var frac = micros % 1000
        guard frac > 0 else { return }
        out.put(UInt8(ascii: "."))
        var width = 3
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        var div: UInt64 = 1
        for _ in 1..<width { div *= 10 }
        while div > 0 { out.put(UInt8(frac / div % 10) + 48); div /= 10 }
    }

    /// A JSON string from bytes (reserving room), for cold callers.
    static func appendString(_ b: UnsafeRawBufferPointer, _ out: inout ByteSink) {
        out.reserve(2 + 6 * b.count)
        putString(b, &out)
    }

    /// A JSON string from bytes; invalid UTF-8 and controls are escaped.
    /// The caller reserved 2 + 6 × count bytes.
    static func putString(_ b: UnsafeRawBufferPointer, _ out: inout ByteSink) {
        out.put(UInt8(ascii: "\""))
        // Fast path: copy while checking; most values need no escaping.
        let dst = out.base + out.count
        var k = 0
        while k < b.count {
            let c = b[k]
            if c &- 0x20 >= 0x5F || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { break }
            dst[k] = c
            k += 1
        }
        out.count += k
        while k < b.count {
            let c = b[k]
            k += 1
            switch c {
            case UInt8(ascii: "\""): out.put(0x5C); out.put(0x22)
            case UInt8(ascii: "\\"): out.put(0x5C); out.put(0x5C)
            case 0..<0x20, 0x7F...0xFF:
                // Bytes outside printable ASCII are escaped one by one (paths are
                // bytes, not guaranteed UTF-8), so every line is valid JSON.
                out.put("\\u00")
                out.put(hexDigit(c >> 4)); out.put(hexDigit(c & 15))
            default: out.put(c)
            }
        }
        out.put(UInt8(ascii: "\""))
    }

    @inline(__always) static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }

    /// "2026-11-26T19:03:31.123Z" (RFC 3339, milliseconds, UTC).
    public static func appendRFC3339(_ ms: UInt64, _ out: inout ByteSink) {
        out.reserve(40)
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
        func two(_ v: Int) { out.put(UInt8(48 + v / 10)); out.put(UInt8(48 + v % 10)) }
        // Four-digit years (0000-9999), as RFC 3339 requires.
        let year = min(max(0, Int(y)), 9999)
        two(year / 100); two(year % 100)
        out.put(UInt8(ascii: "-")); two(Int(m))
        out.put(UInt8(ascii: "-")); two(Int(d))
        out.put(UInt8(ascii: "T")); two(rem / 3600)
        out.put(UInt8(ascii: ":")); two(rem % 3600 / 60)
        out.put(UInt8(ascii: ":")); two(rem % 60)
        out.put(UInt8(ascii: "."))
        out.put(UInt8(48 + millis / 100)); out.put(UInt8(48 + millis / 10 % 10)); out.put(UInt8(48 + millis % 10))
        out.put(UInt8(ascii: "Z"))
    }
}
