// Runtime: one running Sluice: the data plane and the admin port, wired
// together. It is where Admin meets Proxy (Admin never imports Proxy; this
// module hands it closures), so the executable and the tests start exactly
// the same thing.
import Admin
import Config
import EventLoop
import Monitor
import Proxy
import Routing
import SluiceCore
import Synchronization
import Telemetry

public final class SluiceRuntime: @unchecked Sendable {
    public let proxy: ProxyServer
    public private(set) var admin: AdminServer?
    /// The push export and access log, when configured.
    public private(set) var monitor: MonitorExporter?
    private let draining = Atomic<Bool>(false)
    /// The config file (for reloads), and the config as last read from it
    /// (to tell which weights the file changed).
    let configPath: String?
    let fileConfig: Locked<SluiceConfig>
    let stateFile: String?
    /// Problems met at start that did not stop it (a corrupt state file).
    public private(set) var warnings: [String] = []

    /// Builds the data plane and binds the admin port (`config.admin.listen`;
    /// nil skips it).
    public init(config: SluiceConfig, workers: Int? = nil, adminListen: String? = nil,
                resolve: @escaping @Sendable (String, UInt16) throws -> [SocketAddress] = Resolver.resolve) throws {
        configPath = config.sourcePath
        fileConfig = Locked(config)
        stateFile = config.admin.stateFile
        let adminAddress = adminListen ?? config.admin.listen
        var token: String?
        if let tf = config.admin.tokenFile {
            guard var t = try? String(contentsOfFile: tf, encoding: .utf8) else { throw StartError("admin.token_file \(tf) cannot be read") }
            if t.hasSuffix("\n") { t.removeLast() }
            guard !t.isEmpty else { throw StartError("admin.token_file \(tf) is empty") }
            token = t
        }
        if token == nil, let a = SocketAddress(adminAddress), !a.isLoopback {
            throw StartError("admin.listen \(adminAddress) is not a loopback address: set admin.token_file, or bind 127.0.0.1 / [::1]")
        }
        proxy = try ProxyServer(config: config, workers: workers, resolve: resolve)
        if let path = stateFile {
            switch StateFile.read(path) {
            case .success(let saved):
                // Saved runtime weights win over the file's, for routes that still exist with a preview.
                for (name, w) in saved {
                    _ = proxy.store.update { cur, gen in
                        guard let i = cur.table.index(named: name), cur.table.routes[i].previewCluster != nil else { return cur }
                        return cur.with(route: i, weights: w, generation: gen)
                    }
                }
            case .failure(let e):
                warnings.append(e.description)
            }
        }
        let m = config.monitor
        if m.push != nil || m.accessLog != nil {
            monitor = try MonitorExporter(
                telemetry: proxy.telemetry,
                push: m.push.map { PushTarget(url: $0.url, intervalMillis: $0.interval, batchMax: $0.batchMax, gzip: $0.gzip) },
                accessLog: m.accessLog)
        }
        admin = try AdminServer(listen: adminAddress, hooks: hooks(), token: token)
    }

    public func start() throws {
        // Workers first (their records wait in the rings until the exporter
        // runs); scripts/profile relies on the worker being the first thread.
        proxy.start()
        do { try monitor?.start() } catch {
            proxy.stop()
            throw error
        }
        proxy.startResolver()
        admin?.start()
    }

    /// Readiness goes false at once (probes pull the pod), then the drain.
    @discardableResult
    public func drainAndStop(timeout: Millis) -> Bool {
        draining.store(true, ordering: .relaxed)
        let clean = proxy.drainAndStop(timeout: timeout)
        admin?.stop()
        monitor?.stop()
        return clean
    }

    public func stop() {
        proxy.stop()
        admin?.stop()
        monitor?.stop()
    }

    // MARK: what the admin port sees

    private func hooks() -> AdminHooks {
        AdminHooks(
            metrics: { [unowned self] in PrometheusText.render(proxy.telemetry.collect(), metricsContext()) },
            stats: { [unowned self] in StatsJSON.render(proxy.telemetry.collect(), weights: metricsContext().routeWeights) },
            ready: { [unowned self] in !draining.load(ordering: .relaxed) },
            extra: { [unowned self] req in handleAdmin(req) }
        )
    }

    /// Writes the current weights to the state file, when one is configured.
    func persistWeights(_ snap: ProxySnapshot) throws {
        guard let path = stateFile else { return }
        try StateFile.write(path, StateFile.encode(snap))
    }

    /// Re-reads the config file and swaps it in (SIGHUP, POST /reload). A
    /// route keeps weights set at runtime unless the file changed that
    /// route's weights. Throws, changing nothing, when the file is invalid.
    public func reloadFromFile() throws {
        guard let path = configPath else { throw StartError("no config file to reload (started without -c)") }
        let raw = try ConfigLoader.load(path: path)
        var next = raw
        let running = proxy.store.load()
        let previousFile = fileConfig.withLock { $0 }
        // What cannot change without a restart stays as running.
        next.listen = running.config.listen
        // The TLS listener's socket stays; its certificates are re-read.
        if (next.tls == nil) != (running.config.tls == nil) {
            throw StartError("adding or removing the tls listener needs a restart")
        }
        if let t = running.config.tls { next.tls?.listen = t.listen }
        next.admin = running.config.admin
        next.workers = running.config.workers
        next.monitor = running.config.monitor
        for (i, r) in next.routes.enumerated() {
            let before = previousFile.routes.first { $0.name == r.name }
            let live = running.table.routes.first { $0.name == r.name }
            if let b = before, let l = live, b.weights == r.weights, r.preview != nil, l.previewCluster != nil {
                next.routes[i].weights = l.weights
            }
        }
        try proxy.reload(next)
        fileConfig.withLock { $0 = raw }
        try? persistWeights(proxy.store.load())
    }

    func metricsContext() -> MetricsContext {
        let snap = proxy.store.load()
        var ctx = MetricsContext()
        for r in snap.table.routes {
            ctx.routeWeights.append((r.name, "active", r.weights.active))
            if r.previewCluster != nil { ctx.routeWeights.append((r.name, "preview", r.weights.preview)) }
        }
        ctx.downstreamConnections = proxy.total { $0.downstreamOpen.load(ordering: .relaxed) }
        ctx.tlsHandshakes = proxy.total { $0.tlsHandshakes.load(ordering: .relaxed) }
        ctx.tlsHandshakeErrors = proxy.total { $0.tlsHandshakeErrors.load(ordering: .relaxed) }
        for (i, c) in snap.clusters.enumerated() {
            ctx.upstreamConnections.append((c.name, proxy.telemetry.gauge(snap.clusterGaugeSlots[i])))
            for (e, name) in c.endpointNames.enumerated() {
                ctx.endpointHealth.append((c.name, name, c.health[e].isHealthy))
            }
        }
        ctx.recordsDropped = monitor?.dropped ?? 0
        ctx.envoyMetrics = snap.config.monitor.envoyMetrics
        return ctx
    }
}

/// A reason Sluice refuses to start, said plainly.
public struct StartError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
