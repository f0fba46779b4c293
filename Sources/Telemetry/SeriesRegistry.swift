import SluiceCore

/// The labels of one series: (route, backend, cluster). Requests that
/// matched no route use "-" for all three (SPEC §7).
public struct SeriesKey: Hashable, Sendable {
    public let route: String
    public let backend: String
    public let cluster: String
    public init(route: String, backend: String, cluster: String) {
        self.route = route
        self.backend = backend
        self.cluster = cluster
    }
    public static let unrouted = SeriesKey(route: "-", backend: "-", cluster: "-")
}

/// Series names to small stable slots, append-only so a slot keeps its
/// meaning across config reloads (a renamed route gets a new slot; the old
/// one keeps its totals, as Prometheus counters must). Cold path: used
/// when snapshots are built and when metrics are rendered.
public final class SeriesRegistry: Sendable {
    public static let capacity = 4096
    private let state = Locked<(slots: [SeriesKey: Int], keys: [SeriesKey])>(([:], []))

    public init() {}

    /// The slot for `key`, allocated on first use; nil past `capacity`.
    public func slot(_ key: SeriesKey) -> Int? {
        state.withLock { s in
            if let i = s.slots[key] { return i }
            guard s.keys.count < SeriesRegistry.capacity else { return nil }
            s.keys.append(key)
            s.slots[key] = s.keys.count - 1
            return s.keys.count - 1
        }
    }

    public var keys: [SeriesKey] { state.withLock { $0.keys } }
}
