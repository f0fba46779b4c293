// Proxy: the data plane. Downstream sessions, upstream attempts and their
// pools, on the event loop, for one config snapshot at a time.
//
// Why it exists: it assembles the codec, routing and the loop into Sluice's
// main job. What it must never do: block a worker, take a lock on the
// request path (other than the once-per-tick snapshot check), or let an
// ambiguous request reach an upstream.
import Config
import EventLoop
import Routing
import SluiceCore
import Synchronization
import Telemetry
import TLS

/// A cluster as the data plane sees it: resolved endpoints and limits.
public struct ClusterRuntime: Sendable {
    public let name: String
    /// As configured ("host:port"), for labels and logs.
    public let endpointNames: [String]
    /// One resolved address per configured endpoint.
    public let addresses: [SocketAddress]
    public let lb: LBPolicy
    public let maxConnections: Int
    public let maxPending: Int
    /// Per endpoint, set by the health checker (all healthy without checks).
    public let health: [HealthFlag]
    /// Per endpoint, its `NameTable.endpoints` slot (request records carry the number, not the text).
    public let endpointSlots: [Int32]
    /// Set when the cluster originates TLS to its endpoints.
    public let tls: TLSClient?
    /// Per endpoint, its host (the name TLS sends and verifies by default).
    public let endpointHosts: [String]

    public init(name: String, endpointNames: [String], addresses: [SocketAddress], lb: LBPolicy,
                maxConnections: Int, maxPending: Int, health: [HealthFlag]? = nil, tls: TLSClient? = nil) {
        self.tls = tls
        endpointHosts = endpointNames.map { splitHostPort($0)?.0 ?? $0 }
        self.name = name
        self.endpointNames = endpointNames
        self.addresses = addresses
        self.lb = lb
        self.maxConnections = maxConnections
        self.maxPending = maxPending
        self.health = health ?? addresses.map { _ in HealthFlag() }
        endpointSlots = endpointNames.map { NameTable.endpoints.slot($0) }
    }
}

/// Per-route data the request path needs, precomputed as bytes.
public struct RouteRuntime: Sendable {
    public let stickyHeader: [UInt8]?
    public let stickyCookie: String?
    public let overrideHeader: [UInt8]?
    public let timeout: Millis
}

/// One immutable generation of everything the data plane reads. Workers
/// pick up a new one once per loop tick; a request keeps the snapshot it
/// started with until it ends (ARC frees the old one after the last).
public final class ProxySnapshot: Sendable {
    public let generation: UInt64
    public let config: SluiceConfig
    public let table: RouteTable
    public let routeData: [RouteRuntime]
    public let clusters: [ClusterRuntime]
    /// Telemetry series slot per route and backend ([route][backend.rawValue]).
    public let seriesSlots: [[Int]]
    /// The slot of requests that matched no route ("-", "-", "-").
    public let unroutedSlot: Int
    /// Per cluster, the slot of its open-connections gauge.
    public let clusterGaugeSlots: [Int]
    /// The TLS listener's certificates (loaded from files at start and at
    /// each reload; connections keep the ones they were accepted with).
    public let tls: TLSServer?

    public init(generation: UInt64, config: SluiceConfig, table: RouteTable, routeData: [RouteRuntime], clusters: [ClusterRuntime],
                seriesSlots: [[Int]], unroutedSlot: Int, clusterGaugeSlots: [Int], tls: TLSServer? = nil) {
        self.tls = tls
        self.generation = generation
        self.config = config
        self.table = table
        self.routeData = routeData
        self.clusters = clusters
        self.seriesSlots = seriesSlots
        self.unroutedSlot = unroutedSlot
        self.clusterGaugeSlots = clusterGaugeSlots
    }

    /// The same snapshot under a new generation with other clusters (re-resolution).
    public func with(clusters: [ClusterRuntime], generation: UInt64) -> ProxySnapshot {
        ProxySnapshot(generation: generation, config: config, table: table, routeData: routeData, clusters: clusters,
                      seriesSlots: seriesSlots, unroutedSlot: unroutedSlot, clusterGaugeSlots: clusterGaugeSlots, tls: tls)
    }

    /// Builds a snapshot, resolving endpoint names (blocking: never call on a worker).
    /// `previous` lends its health flags to endpoints that stay (a reload
    /// does not forget that an endpoint is down).
    public static func build(_ c: SluiceConfig, generation: UInt64 = 1, previous: ProxySnapshot? = nil,
                             registry: SeriesRegistry = SeriesRegistry(),
                             resolve: (String, UInt16) throws -> [SocketAddress] = Resolver.resolve) throws -> ProxySnapshot {
        // Every endpoint resolves at start, or the config is refused.
        var clusters: [ClusterRuntime] = []
        for cl in c.clusters {
            var addrs: [SocketAddress] = []
            for e in cl.endpoints {
                guard let (host, port) = splitHostPort(e), let p = port else { throw SysError("bad endpoint \(e)", 0) }
                guard let first = try resolve(host, p).first else { throw SysError("no address for \(e)", 0) }
                addrs.append(first)
            }
            let old = previous?.clusters.first { $0.name == cl.name }
            let health = cl.endpoints.map { name -> HealthFlag in
                if let o = old, let k = o.endpointNames.firstIndex(of: name) { return o.health[k] }
                return HealthFlag()
            }
            var client: TLSClient?
            if let t = cl.tls {
                do { client = try TLSClient(caFile: t.caFile, serverName: t.serverName, verify: t.verify) } catch {
                    throw SysError("cluster '\(cl.name)': tls: \(error)", 0)
                }
            }
            clusters.append(ClusterRuntime(name: cl.name, endpointNames: cl.endpoints, addresses: addrs, lb: cl.lb,
                                           maxConnections: cl.maxConnections, maxPending: cl.maxPending, health: health,
                                           tls: client))
        }
        var routes: [Route] = []
        var data: [RouteRuntime] = []
        for r in c.routes {
            guard let a = c.clusterIndex(r.active) else { throw SysError("unknown cluster \(r.active)", 0) }
            let p = r.preview.flatMap { c.clusterIndex($0) }
            routes.append(Route(name: r.name, prefix: r.prefix, activeCluster: a, previewCluster: p, weights: r.weights,
                                sticky: r.sticky, overrideHeader: r.overrideHeader,
                                timeoutMillis: r.timeout ?? c.timeouts.request, retry: r.retry))
            var header: [UInt8]?, cookie: String?
            switch r.sticky {
            case .header(let h): header = Array(h.lowercased().utf8)
            case .cookie(let n): cookie = n
            case nil: break
            }
            data.append(RouteRuntime(stickyHeader: header, stickyCookie: cookie,
                                     overrideHeader: r.overrideHeader.map { Array($0.lowercased().utf8) },
                                     timeout: r.timeout ?? c.timeouts.request))
        }
        // Series slots are stable across reloads: the registry is append-only.
        let slots = routes.map { r in
            Backend.allCases.map { b in
                registry.slot(SeriesKey(route: r.name, backend: b.label, cluster: clusters[r.cluster(for: b)].name)) ?? -1
            }
        }
        // Certificates load whole or not at all: a bad file refuses the config.
        var server: TLSServer?
        if let t = c.tls {
            do {
                server = try TLSServer(cert: t.cert, key: t.key,
                                       alternatives: t.certificates.map { ($0.serverNames, $0.cert, $0.key) })
            } catch { throw SysError("tls: \(error)", 0) }
        }
        return ProxySnapshot(generation: generation, config: c, table: RouteTable(routes), routeData: data, clusters: clusters,
                             seriesSlots: slots, unroutedSlot: registry.slot(.unrouted) ?? -1,
                             clusterGaugeSlots: clusters.map { registry.slot(SeriesKey(route: "", backend: "", cluster: $0.name)) ?? -1 },
                             tls: server)
    }

    /// The same snapshot with one route's weights changed (runtime changes).
    public func with(route index: Int, weights: Weights, generation: UInt64) -> ProxySnapshot {
        var routes = table.routes
        routes[index] = routes[index].with(weights: weights)
        var cfg = config
        cfg.routes[index].weights = weights
        return ProxySnapshot(generation: generation, config: cfg, table: RouteTable(routes), routeData: routeData, clusters: clusters,
                             seriesSlots: seriesSlots, unroutedSlot: unroutedSlot, clusterGaugeSlots: clusterGaugeSlots, tls: tls)
    }
}

/// Publishes snapshots to every worker: readers compare an atomic
/// generation once per tick and take the lock only when it moved.
public final class SnapshotStore: Sendable {
    private let generation = Atomic<UInt64>(0)
    private let current: Locked<ProxySnapshot>

    public init(_ initial: ProxySnapshot) {
        current = Locked(initial)
        generation.store(initial.generation, ordering: .releasing)
    }

    public func publish(_ s: ProxySnapshot) {
        current.withLock { $0 = s }
        generation.store(s.generation, ordering: .releasing)
    }

    public var currentGeneration: UInt64 { generation.load(ordering: .acquiring) }

    public func load() -> ProxySnapshot { current.withLock { $0 } }

    /// Builds and publishes the next generation from the current one, atomically
    /// with respect to other updaters.
    public func update(_ body: (ProxySnapshot, UInt64) throws -> ProxySnapshot) rethrows -> ProxySnapshot {
        try current.withLock { cur in
            let next = try body(cur, cur.generation &+ 1)
            cur = next
            generation.store(next.generation, ordering: .releasing)
            return next
        }
    }
}
