// Routing: which route a request takes, which backend (active or preview)
// serves it, and which endpoint of that backend's cluster.
//
// Why it exists: the split is Sluice's product; its rules (first-match
// prefix, weights, sticky monotonicity, override) must be exact and testable
// without sockets. What it must never do: I/O, read clocks or the system
// random source, allocate per request. Randomness comes in as a parameter.
import SluiceCore

/// The two sides of a route's split.
public enum Backend: UInt8, Sendable, CaseIterable {
    case active = 0
    case preview = 1

    public var name: StaticString { self == .active ? "active" : "preview" }
    public var label: String { self == .active ? "active" : "preview" }
}

/// A route's weights. The preview's share is preview / (active + preview);
/// for sticky keys it is expressed in basis points of [0, 10000).
public struct Weights: Equatable, Sendable, CustomStringConvertible {
    public let active: UInt32
    public let preview: UInt32

    /// nil when both are zero (a route must send traffic somewhere).
    public init?(active: UInt32, preview: UInt32) {
        guard UInt64(active) + UInt64(preview) > 0 else { return nil }
        self.active = active
        self.preview = preview
    }

    public var total: UInt64 { UInt64(active) + UInt64(preview) }

    /// Sticky buckets below this go to the preview.
    public var previewBasisPoints: UInt32 { UInt32(UInt64(preview) * 10_000 / total) }

    public var description: String { "\(active)/\(preview)" }
}

/// Where a sticky key comes from.
public enum StickySource: Equatable, Sendable {
    /// A request header, named in lower case.
    case header(String)
    /// A cookie of this name.
    case cookie(String)
}

/// Retries a route allows (only ever for idempotent requests).
public struct RetryPolicy: Equatable, Sendable {
    public var attempts: Int
    public var onConnectFailure: Bool
    public var onReset: Bool

    public init(attempts: Int = 1, onConnectFailure: Bool = true, onReset: Bool = true) {
        self.attempts = attempts
        self.onConnectFailure = onConnectFailure
        self.onReset = onReset
    }

    public static let none = RetryPolicy(attempts: 0, onConnectFailure: false, onReset: false)
}

/// One route of the table, immutable within a config snapshot.
public struct Route: Sendable {
    public let name: String
    public let prefix: [UInt8]
    /// Cluster indices into the snapshot's cluster list.
    public let activeCluster: Int
    public let previewCluster: Int?
    public let weights: Weights
    public let sticky: StickySource?
    /// Lower-case header name, when the route honours an override header.
    public let overrideHeader: String?
    public let timeoutMillis: Millis
    public let retry: RetryPolicy

    public init(name: String, prefix: String, activeCluster: Int, previewCluster: Int?, weights: Weights,
                sticky: StickySource? = nil, overrideHeader: String? = nil, timeoutMillis: Millis = 30_000,
                retry: RetryPolicy = RetryPolicy()) {
        self.name = name
        self.prefix = Array(prefix.utf8)
        self.activeCluster = activeCluster
        self.previewCluster = previewCluster
        self.weights = weights
        self.sticky = sticky
        self.overrideHeader = overrideHeader?.lowercased()
        self.timeoutMillis = timeoutMillis
        self.retry = retry
    }

    /// The same route with other weights (runtime changes build a new snapshot).
    public func with(weights w: Weights) -> Route {
        Route(name: name, prefix: String(decoding: prefix, as: UTF8.self), activeCluster: activeCluster,
              previewCluster: previewCluster, weights: w, sticky: sticky, overrideHeader: overrideHeader,
              timeoutMillis: timeoutMillis, retry: retry)
    }

    public func cluster(for b: Backend) -> Int {
        b == .preview ? (previewCluster ?? activeCluster) : activeCluster
    }
}
