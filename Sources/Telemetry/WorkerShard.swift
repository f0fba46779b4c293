import SluiceCore
import Synchronization

/// One worker's counters. Only the owning worker writes (a relaxed load and
/// store per counter: no read-modify-write, no lock); any thread may read
/// (relaxed loads), so a reader sums all shards for a moment's totals.
///
/// Per series slot (see `SeriesRegistry`) a block of counters is allocated
/// the first time the worker records into it, and published with a release
/// store; nothing is allocated per request.
public final class WorkerShard: @unchecked Sendable {
    // Block layout, in counters.
    static let codePairs = 32                       // (code, count) pairs
    static let classOverflow = 2 * codePairs        // 5 classes, codes that found no pair
    static let sluiceBuckets = classOverflow + 5    // 16 (15 bounds + Inf)
    static let sluiceSum = sluiceBuckets + 16       // µs
    static let total = sluiceSum + 1
    static let envoyBuckets = total + 1             // 20 (19 bounds + Inf)
    static let envoySum = envoyBuckets + 20         // µs (rendered in ms)
    static let errors = envoySum + 1                // one per ErrorReason
    static let hdr = errors + ErrorReason.allCases.count
    static let blockSize = hdr + LatencyBuckets.count

    private let table: UnsafeMutablePointer<Atomic<UInt>>
    /// Gauges by slot (open upstream connections per cluster), single writer.
    private let gauges: UnsafeMutablePointer<Atomic<Int>>
    private let envoyMicros: [UInt64]

    public init() {
        table = .allocate(capacity: SeriesRegistry.capacity)
        for i in 0..<SeriesRegistry.capacity { (table + i).initialize(to: Atomic<UInt>(0)) }
        gauges = .allocate(capacity: SeriesRegistry.capacity)
        for i in 0..<SeriesRegistry.capacity { (gauges + i).initialize(to: Atomic<Int>(0)) }
        envoyMicros = envoyBucketsMillis.map { UInt64($0 * 1000) }
    }

    /// Moves gauge `slot` by `delta`. Owning worker only.
    @inline(__always)
    public func adjustGauge(_ slot: Int, by delta: Int) {
        guard slot >= 0 && slot < SeriesRegistry.capacity else { return }
        gauges[slot].store(gauges[slot].load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }

    public func gauge(_ slot: Int) -> Int {
        guard slot >= 0 && slot < SeriesRegistry.capacity else { return 0 }
        return gauges[slot].load(ordering: .relaxed)
    }

    // Blocks are never freed: a series' slot lives as long as the process.

    @inline(__always)
    private func block(_ slot: Int) -> UnsafeMutablePointer<Atomic<UInt64>>? {
        let raw = table[slot].load(ordering: .acquiring)
        return UnsafeMutablePointer(bitPattern: raw)
    }

    private func makeBlock(_ slot: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        let b = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: WorkerShard.blockSize)
        for i in 0..<WorkerShard.blockSize { (b + i).initialize(to: Atomic<UInt64>(0)) }
        table[slot].store(UInt(bitPattern: b), ordering: .releasing)
        return b
    }

    @inline(__always)
    private static func bump(_ b: UnsafeMutablePointer<Atomic<UInt64>>, _ i: Int, by n: UInt64 = 1) {
        b[i].store(b[i].load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }

    /// Records one answered request. Owning worker only.
    @inline(__always)
    public func record(slot: Int, status: Int, latencyMicros: UInt64, error: ErrorReason) {
        guard slot >= 0 && slot < SeriesRegistry.capacity else { return }
        let b = block(slot) ?? makeBlock(slot)
        // The status code's pair: found, or claimed (code written first, then counted).
        let code = UInt64(status)
        var k = 0
        var counted = false
        while k < WorkerShard.codePairs {
            let c = b[2 * k].load(ordering: .relaxed)
            if c == code { WorkerShard.bump(b, 2 * k + 1); counted = true; break }
            if c == 0 {
                b[2 * k].store(code, ordering: .relaxed)
                b[2 * k + 1].store(1, ordering: .releasing)
                counted = true
                break
            }
            k += 1
        }
        if !counted { WorkerShard.bump(b, WorkerShard.classOverflow + max(0, min(4, status / 100 - 1))) }
        var i = 0
        while i < sluiceBucketsMicros.count && latencyMicros > sluiceBucketsMicros[i] { i += 1 }
        WorkerShard.bump(b, WorkerShard.sluiceBuckets + i)
        WorkerShard.bump(b, WorkerShard.sluiceSum, by: latencyMicros)
        WorkerShard.bump(b, WorkerShard.total)
        var e = 0
        while e < envoyMicros.count && latencyMicros > envoyMicros[e] { e += 1 }
        WorkerShard.bump(b, WorkerShard.envoyBuckets + e)
        WorkerShard.bump(b, WorkerShard.envoySum, by: latencyMicros)
        if error != .none { WorkerShard.bump(b, WorkerShard.errors + Int(error.rawValue)) }
        WorkerShard.bump(b, WorkerShard.hdr + LatencyBuckets.index(micros: latencyMicros))
    }

    /// Adds this shard's counters for `slot` into `into` (reader side).
    public func accumulate(slot: Int, into s: inout SeriesCounts) {
        guard let b = block(slot) else { return }
        for k in 0..<WorkerShard.codePairs {
            let code = b[2 * k].load(ordering: .acquiring)
            if code == 0 { break }
            let n = b[2 * k + 1].load(ordering: .relaxed)
            s.codes[Int(code), default: 0] += n
        }
        for c in 0..<5 { s.classOverflow[c] += b[WorkerShard.classOverflow + c].load(ordering: .relaxed) }
        for i in 0..<16 { s.sluiceBuckets[i] += b[WorkerShard.sluiceBuckets + i].load(ordering: .relaxed) }
        s.sluiceSumMicros += b[WorkerShard.sluiceSum].load(ordering: .relaxed)
        s.total += b[WorkerShard.total].load(ordering: .relaxed)
        for i in 0..<20 { s.envoyBuckets[i] += b[WorkerShard.envoyBuckets + i].load(ordering: .relaxed) }
        s.envoySumMicros += b[WorkerShard.envoySum].load(ordering: .relaxed)
        for r in ErrorReason.allCases { s.errors[Int(r.rawValue)] += b[WorkerShard.errors + Int(r.rawValue)].load(ordering: .relaxed) }
        for i in 0..<LatencyBuckets.count { s.latency[i] += b[WorkerShard.hdr + i].load(ordering: .relaxed) }
        s.present = true
    }
}

/// One series' counters summed over workers (reader side; allocates freely).
public struct SeriesCounts: Sendable {
    public var present = false
    public var codes: [Int: UInt64] = [:]
    public var classOverflow = [UInt64](repeating: 0, count: 5)
    public var sluiceBuckets = [UInt64](repeating: 0, count: 16)
    public var sluiceSumMicros: UInt64 = 0
    public var total: UInt64 = 0
    public var envoyBuckets = [UInt64](repeating: 0, count: 20)
    public var envoySumMicros: UInt64 = 0
    public var errors = [UInt64](repeating: 0, count: ErrorReason.allCases.count)
    public var latency = [UInt64](repeating: 0, count: LatencyBuckets.count)

    public init() {}

    /// Requests per status class (index 0 = 1xx ... 4 = 5xx).
    public var classes: [UInt64] {
        var c = classOverflow
        for (code, n) in codes { c[max(0, min(4, code / 100 - 1))] += n }
        return c
    }
}

/// All workers' shards and the series registry: what readers sum.
public final class Telemetry: Sendable {
    public let registry = SeriesRegistry()
    public let shards: [WorkerShard]
    /// Per worker, the ring its request records go to (empty when neither
    /// the push export nor the access log is on: then no record is made).
    public let rings: [RecordRing]
    public let recordsDropped = Atomic<UInt64>(0)

    public init(workers: Int, records: Bool = false, ringCapacity: Int = 1 << 20) {
        shards = (0..<max(1, workers)).map { _ in WorkerShard() }
        rings = records ? (0..<max(1, workers)).map { _ in RecordRing(capacity: ringCapacity) } : []
    }

    /// A gauge summed over workers.
    public func gauge(_ slot: Int) -> Int { shards.reduce(0) { $0 + $1.gauge(slot) } }

    /// The gauge slot of a cluster's open upstream connections.
    public func clusterGaugeSlot(_ cluster: String) -> Int {
        registry.slot(SeriesKey(route: "", backend: "", cluster: cluster)) ?? -1
    }

    /// Every series with its summed counters, in slot order.
    public func collect() -> [(SeriesKey, SeriesCounts)] {
        registry.keys.enumerated().compactMap { slot, key in
            if key.route.isEmpty { return nil }  // gauge slots
            var s = SeriesCounts()
            for sh in shards { sh.accumulate(slot: slot, into: &s) }
            return s.present ? (key, s) : nil
        }
    }
}
