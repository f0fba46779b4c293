import CSysShim
import EventLoop
import HTTP1
import Routing
import SluiceCore
import Synchronization
import Telemetry
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// What a worker shares with the process outside its metric shard: the
/// open client connections (the `sluice_downstream_connections` gauge).
public final class WorkerStats: Sendable {
    public let downstreamOpen = Atomic<Int>(0)
    /// TLS handshakes completed and failed, both sides.
    public let tlsHandshakes = Atomic<Int>(0)
    public let tlsHandshakeErrors = Atomic<Int>(0)
    public init() {}
}

/// The data plane of one worker: accepts clients, parses requests, routes
/// and splits them, proxies them over pooled upstream connections, and
/// answers the proxy's own errors. Runs only on its loop's thread; it is
/// handed across threads once (to post drain and close tasks to its loop).
public final class ProxyWorker: LoopHandler, @unchecked Sendable {
    let loop: EventLoop
    let pool: BufferPool
    let store: SnapshotStore
    var snapshot: ProxySnapshot
    var clusterEpoch: UInt64 = 0
    let stats: WorkerStats
    /// This worker's metric counters (only this thread writes them).
    let shard: WorkerShard
    /// Where finished requests' records go (nil when nobody consumes them).
    let ring: RecordRing?
    /// False only with SLUICE_TELEMETRY=off in the environment: a switch for
    /// measuring what telemetry costs (scripts/bench), not for production.
    let recording: Bool
    /// The record being built per client slot (method, path, id are copied
    /// while the head is in the buffer; the rest when the exchange ends).
    var drafts = RecordDrafts()
    var listeners: [Int32]
    /// Per listener: connections accepted there speak TLS.
    let listenerIsTLS: [Bool]
    /// Where TLS writes gather a head and a small body into one record.
    let tlsScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 * 1024, alignment: 16)
    /// Failure lines logged in the current second, and those held back.
    var tlsLogSecond: UInt64 = 0
    var tlsLogCount = 0
    var tlsLogSuppressed = 0
    var down = Slab<Downstream>(capacity: 1024)
    /// Exchanges in progress, reached by `Downstream.xSlot`.
    var exchanges = Slab<Exchange>(capacity: 256)
    var up = Slab<Upstream>(capacity: 256)
    var deadDown: [SlabHandle] = []
    var deadUp: [SlabHandle] = []
    /// Idle upstream connections per cluster, per endpoint (LIFO: warmest first).
    var idle: [[[SlabHandle]]] = []
    var connCount: [[Int]] = []
    var activeRequests: [[Int]] = []
    var pending: [[SlabHandle]] = []
    var balancers: [LoadBalancer] = []
    var rng = FastRandom()
    /// Parse target reused for every request (no allocation per request).
    var scratch = RequestHead(capacity: 64)
    var respScratch = ResponseHead(capacity: 64)
    var headLimits: HeadLimits
    var draining = false
    let maxConnections: Int
    /// Set once draining finished (no client connection left).
    public let drained = Atomic<Bool>(false)

    public init(loop: EventLoop, store: SnapshotStore, listeners: [Int32], listenerIsTLS: [Bool] = [],
                stats: WorkerStats, shard: WorkerShard, ring: RecordRing? = nil, maxConnections: Int) throws {
        self.listenerIsTLS = listeners.indices.map { $0 < listenerIsTLS.count && listenerIsTLS[$0] }
        self.shard = shard
        self.ring = ring
        recording = getenv("SLUICE_TELEMETRY").map { String(cString: $0) != "off" } ?? true
        self.loop = loop
        self.pool = loop.pool
        self.store = store
        self.snapshot = store.load()
        self.stats = stats
        self.listeners = listeners
        self.maxConnections = maxConnections
        let limit = snapshot.config.limits.maxRequestHeaderBytes
        headLimits = HeadLimits(maxHeadBytes: limit, maxStartLineBytes: min(16384, limit), maxFieldLineBytes: min(16384, limit), maxHeaders: 128)
        if limit + 1024 > loop.pool.bufferSize && loop.pool.large == nil {
            loop.pool.enableLarge(size: limit + 1024, max: 4096)
        }
        rebuildPools()
        for (i, fd) in listeners.enumerated() {
            try loop.register(fd, token: makeToken(.listener, SlabHandle(index: Int32(i), generation: 1)), interest: .readable)
        }
        loop.onTick = { [unowned self] in self.refreshSnapshot() }
    }

    deinit { tlsScratch.deallocate() }

    // MARK: LoopHandler

    public func onEvent(_ token: UInt64, _ events: IOEvents) {
        let (kind, h) = decodeToken(token)
        switch kind {
        case .listener: acceptAll(Int(h.index))
        case .downstream:
            guard down.contains(h), !down[index: h.index].closed else { return }
            // Edge-triggered: a FIN that comes with the last data gets no event of
            // its own, so remember it (a tunnel's close was missed without this).
            if !events.isDisjoint(with: [.readHangup, .hangup]) { down[index: h.index].hangupSeen = true }
            if down[index: h.index].handshaking {
                // Writability alone (the first event after registering) moves
                // a handshake only when its last step asked to write.
                if !events.isDisjoint(with: [.readable, .readHangup, .hangup])
                    || (events.contains(.writable) && down[index: h.index].readWantsWrite) { downHandshake(h) }
                return
            }
            if events.contains(.writable) { downWritable(h) }
            if events.contains(.readable) || events.contains(.readHangup) { downReadable(h) }
        case .upstream:
            guard up.contains(h), up[index: h.index].state != .closed else { return }
            if !events.isDisjoint(with: [.readHangup, .hangup]) { up[index: h.index].hangupSeen = true }
            if up[index: h.index].handshaking { upHandshake(h); return }
            if events.contains(.writable) { upWritable(h) }
            if events.contains(.readable) || events.contains(.readHangup) { upReadable(h) }
        case nil: break
        }
    }

    public func onTimer(_ id: Int) {
        let slot = Int32(id >> 2)
        switch id & 3 {
        case TimerKind.downIdleOrHeader.rawValue:
            guard let g = down.generation(at: slot) else { return }
            downIdleOrHeaderTimeout(SlabHandle(index: slot, generation: g))
        case TimerKind.downRequest.rawValue:
            guard let g = down.generation(at: slot) else { return }
            requestTimeout(SlabHandle(index: slot, generation: g))
        case TimerKind.upConnectOrIdle.rawValue:
            guard let g = up.generation(at: slot) else { return }
            upTimeout(SlabHandle(index: slot, generation: g))
        default: break
        }
    }

    public func onTickEnd() {
        for h in deadDown { down.remove(h) }
        deadDown.removeAll(keepingCapacity: true)
        for h in deadUp { up.remove(h) }
        deadUp.removeAll(keepingCapacity: true)
        if draining && down.count == 0 { drained.store(true, ordering: .releasing) }
    }

    // MARK: snapshots

    /// Once per tick: pick up a newer snapshot. Requests in flight keep theirs.
    func refreshSnapshot() {
        let g = store.currentGeneration
        guard g != snapshot.generation else { return }
        let next = store.load()
        let clustersChanged = !sameClusters(snapshot.clusters, next.clusters)
        snapshot = next
        if clustersChanged { rebuildPools() }
    }

    private func sameClusters(_ a: [ClusterRuntime], _ b: [ClusterRuntime]) -> Bool {
        guard a.count == b.count else { return false }
        // A reload makes new TLS client contexts: pooled connections made
        // under the old trust settings are not reused.
        for (x, y) in zip(a, b) where x.name != y.name || x.addresses != y.addresses || x.lb != y.lb
            || x.maxConnections != y.maxConnections || x.maxPending != y.maxPending || x.tls !== y.tls { return false }
        return true
    }

    /// New pools for a new cluster layout; idle connections of the old one close,
    /// busy ones close when their exchange ends (their epoch no longer matches).
    func rebuildPools() {
        for list in idle { for per in list { for h in per { closeUp(h) } } }
        clusterEpoch &+= 1
        let cs = snapshot.clusters
        idle = cs.map { Array(repeating: [], count: $0.addresses.count) }
        connCount = cs.map { Array(repeating: 0, count: $0.addresses.count) }
        activeRequests = cs.map { Array(repeating: 0, count: $0.addresses.count) }
        // Requests waiting for a connection of the old layout fail over to 503.
        let waiting = pending.flatMap { $0 }
        pending = cs.map { _ in [] }
        balancers = cs.map { LoadBalancer(policy: $0.lb) }
        for h in waiting where down.contains(h) { failExchange(h, .noHealthyEndpoint) }
    }

    // MARK: accept

    private func acceptAll(_ index: Int) {
        guard index < listeners.count else { return }
        // The snapshot is otherwise refreshed at the end of a tick: a client
        // accepted now must get the certificates of the latest reload.
        refreshSnapshot()
        let lfd = listeners[index]
        while case .bytes(let raw) = Sys.accept(lfd) {
            let fd = Int32(raw)
            if draining || down.count >= maxConnections {
                Sys.close(fd)
                continue
            }
            Sys.setNoDelay(fd)
            var d = Downstream(fd: fd, parser: RequestParser(limits: headLimits))
            if listenerIsTLS[index] {
                guard let server = snapshot.tls, let session = TLSSession.accept(server, fd: fd) else {
                    Sys.close(fd)
                    continue
                }
                d.tls = session
                d.handshaking = true
            }
            d.peer = PeerText(SocketAddress.peer(of: fd)?.host ?? "unknown")
            let h = down.insert(d)
            do { try loop.register(fd, token: makeToken(.downstream, h), interest: .edgeTriggered) } catch {
                d.tls?.free(graceful: false)
                down.remove(h)
                Sys.close(fd)
                continue
            }
            stats.downstreamOpen.add(1, ordering: .relaxed)
            // The first request's head must arrive within the header timeout.
            loop.timers.arm(timerID(h.index, .downIdleOrHeader), at: loop.now + snapshot.config.timeouts.header)
        }
    }

    // MARK: draining

    /// Stops accepting, closes idle clients, and lets in-flight exchanges finish
    /// with `Connection: close`. Loop thread.
    public func beginDrain() {
        guard !draining else { return }
        draining = true
        for fd in listeners {
            loop.deregister(fd)
            Sys.close(fd)
        }
        listeners.removeAll()
        for h in down.handles {
            let d = down[index: h.index]
            if !d.hasX && d.input.start == d.input.end && !d.closed { closeDown(h) }
        }
        if down.count - deadDown.count == 0 { drained.store(true, ordering: .releasing) }
    }

    /// Closes everything (shutdown after the drain deadline). Loop thread.
    public func closeAll() {
        for fd in listeners { Sys.close(fd) }
        listeners.removeAll()
        for h in down.handles where !down[index: h.index].closed { closeDown(h) }
        for h in up.handles where up[index: h.index].state != .closed { closeUp(h) }
        onTickEnd()
    }
}
