/// Log-linear latency buckets in microseconds, HdrHistogram-style: exact
/// below 16 µs, then 16 sub-buckets per power of two (at most 1/16 = 6 %
/// relative error), up to 2^40 µs. Fine enough for p50/p90/p99 of a canary.
public enum LatencyBuckets {
    public static let subBits = 4
    public static let sub = 1 << subBits
    public static let maxPower = 40
    public static let count = sub + (maxPower - subBits + 1) * sub

    @inline(__always)
    public static func index(micros v: UInt64) -> Int {
        if v < UInt64(sub) { return Int(v) }
        let p = 63 - v.leadingZeroBitCount  // floor(log2 v) >= subBits
        if p > maxPower { return count - 1 }
        let s = Int((v >> UInt64(p - subBits)) & UInt64(sub - 1))
        return sub + (p - subBits) * sub + s
    }

    /// The bucket's lower bound and width in µs.
    public static func range(_ index: Int) -> (low: UInt64, width: UInt64) {
        if index < sub { return (UInt64(index), 1) }
        let k = index - sub
        let p = k / sub + subBits
        let s = UInt64(k % sub)
        let width = UInt64(1) << UInt64(p - subBits)
        return ((UInt64(sub) + s) * width, width)
    }

    /// The value at quantile `q` (0...1) of counts per bucket, in µs (bucket midpoint).
    public static func quantile(_ counts: [UInt64], _ q: Double) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = max(1, UInt64((q * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank {
                let r = range(i)
                return Double(r.low) + Double(r.width) / 2
            }
        }
        return nil
    }
}
