import SluiceCore

/// How a cluster spreads requests over its endpoints.
public enum LBPolicy: String, Sendable, Equatable {
    case roundRobin = "round_robin"
    case leastRequest = "least_request"
}

/// Per-worker, per-cluster balancer state. Endpoints marked down (health
/// checks, outlier ejection) are skipped; nil means none is usable (503).
public struct LoadBalancer: Sendable {
    public let policy: LBPolicy
    private var cursor = 0

    public init(policy: LBPolicy) { self.policy = policy }

    /// Picks an endpoint index in [0, count).
    ///  - `healthy(i)`: whether endpoint i may be used.
    ///  - `active(i)`: requests in flight to endpoint i (this worker's view),
    ///    for least_request's power of two choices.
    public mutating func pick<R: RandomNumberGenerator>(count: Int, healthy: (Int) -> Bool, active: (Int) -> Int,
                                                       rng: inout R) -> Int? {
        guard count > 0 else { return nil }
        switch policy {
        case .roundRobin:
            for _ in 0..<count {
                let i = cursor % count
                cursor = (cursor &+ 1) & Int.max
                if healthy(i) { return i }
            }
            return nil
        case .leastRequest:
            if count == 1 { return healthy(0) ? 0 : nil }
            // Power of two choices: two distinct random endpoints, the less loaded wins.
            let a = Int(rng.next() % UInt64(count))
            var b = Int(rng.next() % UInt64(count - 1))
            if b >= a { b += 1 }
            switch (healthy(a), healthy(b)) {
            case (true, true): return active(b) < active(a) ? b : a
            case (true, false): return a
            case (false, true): return b
            case (false, false):
                // Both down: fall back to a scan so any healthy endpoint is found.
                var best: Int?
                for i in 0..<count where healthy(i) {
                    if best == nil || active(i) < active(best!) { best = i }
                }
                return best
            }
        }
    }
}
