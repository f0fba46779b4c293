import Config
import CSysShim
import EventLoop
import SluiceCore
import Synchronization
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// The data plane of a process: N workers, each with its own SO_REUSEPORT
/// listener per configured address, sharing one snapshot store.
public final class ProxyServer: @unchecked Sendable {
    public let store: SnapshotStore
    public let group: WorkerGroup
    public let stats: [WorkerStats]
    /// The bound addresses (ports resolved when the config asked for port 0).
    public let boundAddresses: [SocketAddress]
    /// The TLS listener's bound address, when `tls` is configured.
    public let tlsBoundAddress: SocketAddress?
    private let listenersPerWorker: [[Int32]]
    /// Per listener (same order in every worker): whether it is the TLS one.
    private let listenerIsTLS: [Bool]
    private let workers = Locked<[ProxyWorker?]>([])
    private let maxConnectionsPerWorker: Int
    private let resolve: @Sendable (String, UInt16) throws -> [SocketAddress]
    private let resolverStop = Atomic<Bool>(false)
    private var resolverThread: WorkerThread?
    /// Completed re-resolution passes (for tests).
    public let resolvePasses = Atomic<Int>(0)
    /// Active health checks for clusters that configure them.
    public let health: HealthChecker
    /// Every worker's metric shard and the series registry.
    public let telemetry: Telemetry

    /// `resolve` turns endpoint names into addresses (tests inject their own).
    public init(config: SluiceConfig, workers count: Int? = nil,
                resolve: @escaping @Sendable (String, UInt16) throws -> [SocketAddress] = Resolver.resolve) throws {
        Sys.ignoreSIGPIPE()
        Sys.raiseFileLimit()
        self.resolve = resolve
        let n = max(1, count ?? config.workers ?? Sys.cpuCount)
        telemetry = Telemetry(workers: n, records: config.monitor.push != nil || config.monitor.accessLog != nil)
        let snap = try ProxySnapshot.build(config, registry: telemetry.registry, resolve: resolve)
        store = SnapshotStore(snap)
        health = HealthChecker(store: store)
        group = try WorkerGroup(count: n)
        stats = (0..<n).map { _ in WorkerStats() }
        maxConnectionsPerWorker = max(1, config.limits.maxConnections / n)
        var perWorker: [[Int32]] = Array(repeating: [], count: n)
        var bound: [SocketAddress] = []
        var isTLS: [Bool] = []
        var tlsBound: SocketAddress?
        do {
            for text in config.listen + (config.tls.map { [$0.listen] } ?? []) {
                guard var addr = SocketAddress(text) else { throw SysError("bad listen address \(text)", 0) }
                for w in 0..<n {
                    let fd = try Sys.listen(addr, backlog: 4096, reusePort: true)
                    if w == 0, addr.port == 0, let actual = SocketAddress.local(of: fd) { addr = actual }
                    perWorker[w].append(fd)
                }
                if isTLS.count == config.listen.count { tlsBound = addr } else { bound.append(addr) }
                isTLS.append(isTLS.count == config.listen.count)
            }
        } catch {
            for l in perWorker { for fd in l { Sys.close(fd) } }
            throw error
        }
        listenersPerWorker = perWorker
        listenerIsTLS = isTLS
        boundAddresses = bound
        tlsBoundAddress = tlsBound
        workers.withLock { $0 = Array(repeating: nil, count: n) }
    }

    /// Starts the workers (each builds its ProxyWorker on its own thread).
    public func start(pin: Bool = false) {
        let store = self.store, stats = self.stats, listeners = listenersPerWorker, isTLS = listenerIsTLS
        let maxConn = maxConnectionsPerWorker, workers = self.workers, shards = telemetry.shards, rings = telemetry.rings
        group.start(pin: pin, name: "sluice-w") { i, loop in
            let w = try! ProxyWorker(loop: loop, store: store, listeners: listeners[i], listenerIsTLS: isTLS, stats: stats[i], shard: shards[i],
                                     ring: rings.isEmpty ? nil : rings[i], maxConnections: maxConn)
            workers.withLock { $0[i] = w }
            return w
        }
        // Wait until every worker is listening.
        while workers.withLock({ $0.contains { $0 == nil } }) { usleep(1000) }
        health.start()
    }

    /// Stops accepting and waits up to `timeout` ms for in-flight requests to
    /// finish; then stops every worker. Returns whether the drain completed.
    @discardableResult
    public func drainAndStop(timeout: Millis) -> Bool {
        let ws = workers.withLock { $0 }
        for (i, w) in ws.enumerated() {
            guard let w else { continue }
            group.loops[i].execute { w.beginDrain() }
        }
        let deadline = sl_coarse_ms() + timeout
        var done = false
        while sl_coarse_ms() < deadline {
            if ws.allSatisfy({ $0?.drained.load(ordering: .acquiring) ?? true }) { done = true; break }
            usleep(2000)
        }
        stop()
        return done
    }

    /// Re-resolves endpoint hostnames every `interval` ms on a thread of its
    /// own (getaddrinfo blocks; workers never call it) and publishes a new
    /// snapshot when an address changed. A failed lookup keeps the old address.
    public func startResolver(interval: Millis = 30_000) {
        guard resolverThread == nil else { return }
        let store = self.store, resolve = self.resolve
        resolverThread = WorkerThread(name: "sluice-dns") { [self] in
            var slept: Millis = 0
            while !resolverStop.load(ordering: .relaxed) {
                usleep(20_000)
                slept += 20
                if slept < interval { continue }
                slept = 0
                let cur = store.load()
                var changed = false
                var clusters = cur.clusters
                for (ci, c) in cur.clusters.enumerated() {
                    var addrs = c.addresses
                    for (ei, name) in c.endpointNames.enumerated() {
                        guard let (host, port) = splitHostPort(name), let p = port,
                              let fresh = try? resolve(host, p).first else { continue }
                        if fresh != addrs[ei] { addrs[ei] = fresh; changed = true }
                    }
                    clusters[ci] = ClusterRuntime(name: c.name, endpointNames: c.endpointNames, addresses: addrs, lb: c.lb,
                                                  maxConnections: c.maxConnections, maxPending: c.maxPending, health: c.health,
                                                  tls: c.tls)
                }
                if changed {
                    _ = store.update { now, gen in
                        // Only if nothing else replaced the clusters meanwhile.
                        guard now.clusters.map(\.endpointNames) == clusters.map(\.endpointNames) else { return now }
                        return now.with(clusters: clusters, generation: gen)
                    }
                }
                resolvePasses.add(1, ordering: .relaxed)
            }
        }
    }

    /// Stops every worker now, closing all connections.
    public func stop() {
        health.stop()
        resolverStop.store(true, ordering: .relaxed)
        resolverThread?.join()
        resolverThread = nil
        let ws = workers.withLock { $0 }
        for (i, w) in ws.enumerated() {
            guard let w else { continue }
            group.loops[i].execute { w.closeAll() }
        }
        group.stopAndJoin()
        workers.withLock { $0 = $0.map { _ in nil } }
    }

    /// Rebuilds the snapshot from a new config (reload), keeping health
    /// state and series slots; throws (changing nothing) when it cannot build.
    @discardableResult
    public func reload(_ config: SluiceConfig) throws -> ProxySnapshot {
        try store.update { cur, gen in
            try ProxySnapshot.build(config, generation: gen, previous: cur, registry: telemetry.registry, resolve: resolve)
        }
    }

    /// Whether an endpoint is currently marked healthy.
    public func snapshotHealth(cluster: Int, endpoint: Int) -> Bool {
        store.load().clusters[cluster].health[endpoint].isHealthy
    }

    /// Exchanges in progress on worker `i`. Call it on that worker's loop
    /// (tests: every exchange must leave the slab when it ends).
    public func exchangesInProgress(worker i: Int) -> Int {
        workers.withLock { $0[i] }?.exchanges.count ?? 0
    }

    /// Sum of a counter over workers.
    public func total(_ read: (WorkerStats) -> Int) -> Int {
        stats.reduce(0) { $0 + read($1) }
    }
}

