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

    /// Builds the data plane and binds the admin port (`config.admin.listen`;
    /// nil skips it).
    public init(config: SluiceConfig, workers: Int? = nil, adminListen: String? = nil,
                resolve: @escaping @Sendable (String, UInt16) throws -> [SocketAddress] = Resolver.resolve) throws {
        proxy = try ProxyServer(config: config, workers: workers, resolve: resolve)
        let m = config.monitor
        if m.push != nil || m.accessLog != nil {
            monitor = try MonitorExporter(
                telemetry: proxy.telemetry,
                push: m.push.map { PushTarget(url: $0.url, intervalMillis: $0.interval, batchMax: $0.batchMax, gzip: $0.gzip) },
                accessLog: m.accessLog)
        }
        if let a = adminListen ?? Optional(config.admin.listen) {
            admin = try AdminServer(listen: a, hooks: hooks())
        }
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
            ready: { [unowned self] in !draining.load(ordering: .relaxed) }
        )
    }

    func metricsContext() -> MetricsContext {
        let snap = proxy.store.load()
        var ctx = MetricsContext()
        for r in snap.table.routes {
            ctx.routeWeights.append((r.name, "active", r.weights.active))
            if r.previewCluster != nil { ctx.routeWeights.append((r.name, "preview", r.weights.preview)) }
        }
        ctx.downstreamConnections = proxy.total { $0.downstreamOpen.load(ordering: .relaxed) }
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
