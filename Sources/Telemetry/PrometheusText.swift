/// Gauges and weights the renderer needs besides the request counters.
public struct MetricsContext: Sendable {
    public var routeWeights: [(route: String, backend: String, weight: UInt32)] = []
    public var downstreamConnections = 0
    public var upstreamConnections: [(cluster: String, count: Int)] = []
    public var endpointHealth: [(cluster: String, endpoint: String, healthy: Bool)] = []
    public var recordsDropped: UInt64 = 0
    public var envoyMetrics = true
    /// TLS handshakes completed and failed (client and upstream sides together).
    public var tlsHandshakes = 0
    public var tlsHandshakeErrors = 0

    public init() {}
}

/// Prometheus text exposition format 0.0.4 (SPEC §7).
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ series: [(SeriesKey, SeriesCounts)], _ ctx: MetricsContext) -> String {
        var o = ""
        o.reserveCapacity(4096 + series.count * 2048)

        o += "# HELP sluice_requests_total Requests answered, by route, backend, cluster and status.\n"
        o += "# TYPE sluice_requests_total counter\n"
        for (k, s) in series {
            for code in s.codes.keys.sorted() {
                o += "sluice_requests_total{\(base(k)),code=\"\(code)\",class=\"\(code / 100)xx\"} \(s.codes[code]!)\n"
            }
            for (c, n) in s.classOverflow.enumerated() where n > 0 {
                o += "sluice_requests_total{\(base(k)),code=\"other\",class=\"\(c + 1)xx\"} \(n)\n"
            }
        }

        // Histograms by route and backend (clusters of one route/backend summed).
        var byRB: [String: (route: String, backend: String, s: SeriesCounts)] = [:]
        var order: [String] = []
        for (k, s) in series {
            let key = k.route + "\u{0}" + k.backend
            if var e = byRB[key] {
                for i in 0..<16 { e.s.sluiceBuckets[i] += s.sluiceBuckets[i] }
                e.s.sluiceSumMicros += s.sluiceSumMicros
                e.s.total += s.total
                byRB[key] = e
            } else {
                byRB[key] = (k.route, k.backend, s)
                order.append(key)
            }
        }
        o += "# HELP sluice_request_duration_seconds Time from the first request byte to the last response byte.\n"
        o += "# TYPE sluice_request_duration_seconds histogram\n"
        for key in order {
            let e = byRB[key]!
            let l = "route=\"\(esc(e.route))\",backend=\"\(esc(e.backend))\""
            histogram("sluice_request_duration_seconds", l, sluiceBucketLabels, e.s.sluiceBuckets,
                      sum: seconds(e.s.sluiceSumMicros), count: e.s.total, into: &o)
        }

        o += "# HELP sluice_upstream_errors_total Failed exchanges with an upstream, by reason.\n"
        o += "# TYPE sluice_upstream_errors_total counter\n"
        for (k, s) in series {
            for r in ErrorReason.allCases where r.isUpstream && s.errors[Int(r.rawValue)] > 0 {
                o += "sluice_upstream_errors_total{\(base(k)),reason=\"\(r.label)\"} \(s.errors[Int(r.rawValue)])\n"
            }
        }

        o += "# HELP sluice_route_weight The configured weight of each side of a route.\n"
        o += "# TYPE sluice_route_weight gauge\n"
        for w in ctx.routeWeights {
            o += "sluice_route_weight{route=\"\(esc(w.route))\",backend=\"\(esc(w.backend))\"} \(w.weight)\n"
        }
        o += "# HELP sluice_downstream_connections Open client connections.\n"
        o += "# TYPE sluice_downstream_connections gauge\n"
        o += "sluice_downstream_connections \(ctx.downstreamConnections)\n"
        o += "# HELP sluice_tls_handshakes_total TLS handshakes completed, with clients and upstreams.\n"
        o += "# TYPE sluice_tls_handshakes_total counter\n"
        o += "sluice_tls_handshakes_total \(ctx.tlsHandshakes)\n"
        o += "# HELP sluice_tls_handshake_errors_total TLS handshakes that failed (each is also logged with its reason).\n"
        o += "# TYPE sluice_tls_handshake_errors_total counter\n"
        o += "sluice_tls_handshake_errors_total \(ctx.tlsHandshakeErrors)\n"
        o += "# HELP sluice_upstream_connections Open upstream connections, by cluster.\n"
        o += "# TYPE sluice_upstream_connections gauge\n"
        for u in ctx.upstreamConnections {
            o += "sluice_upstream_connections{cluster=\"\(esc(u.cluster))\"} \(u.count)\n"
        }
        o += "# HELP sluice_endpoint_healthy Whether an endpoint is in rotation (1) or marked down (0).\n"
        o += "# TYPE sluice_endpoint_healthy gauge\n"
        for e in ctx.endpointHealth {
            o += "sluice_endpoint_healthy{cluster=\"\(esc(e.cluster))\",endpoint=\"\(esc(e.endpoint))\"} \(e.healthy ? 1 : 0)\n"
        }
        o += "# HELP sluice_monitor_records_dropped_total Per-request records the monitor export had to drop.\n"
        o += "# TYPE sluice_monitor_records_dropped_total counter\n"
        o += "sluice_monitor_records_dropped_total \(ctx.recordsDropped)\n"

        if ctx.envoyMetrics { renderEnvoy(series, into: &o) }
        return o
    }

    /// The names Flagger's and Argo Rollouts' Envoy queries use, per cluster.
    static func renderEnvoy(_ series: [(SeriesKey, SeriesCounts)], into o: inout String) {
        var byCluster: [String: SeriesCounts] = [:]
        var order: [String] = []
        for (k, s) in series where k.cluster != "-" {
            if var e = byCluster[k.cluster] {
                for (c, n) in s.codes { e.codes[c, default: 0] += n }
                for i in 0..<5 { e.classOverflow[i] += s.classOverflow[i] }
                for i in 0..<20 { e.envoyBuckets[i] += s.envoyBuckets[i] }
                e.envoySumMicros += s.envoySumMicros
                e.total += s.total
                byCluster[k.cluster] = e
            } else {
                byCluster[k.cluster] = s
                order.append(k.cluster)
            }
        }
        o += "# HELP envoy_cluster_upstream_rq Upstream requests by response code (Envoy's name).\n"
        o += "# TYPE envoy_cluster_upstream_rq counter\n"
        for c in order {
            let s = byCluster[c]!
            for code in s.codes.keys.sorted() {
                o += "envoy_cluster_upstream_rq{envoy_response_code=\"\(code)\",envoy_cluster_name=\"\(esc(c))\"} \(s.codes[code]!)\n"
            }
        }
        o += "# HELP envoy_cluster_upstream_rq_xx Upstream requests by response code class (Envoy's name).\n"
        o += "# TYPE envoy_cluster_upstream_rq_xx counter\n"
        for c in order {
            for (i, n) in byCluster[c]!.classes.enumerated() where n > 0 {
                o += "envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"\(i + 1)\",envoy_cluster_name=\"\(esc(c))\"} \(n)\n"
            }
        }
        o += "# HELP envoy_cluster_upstream_rq_time Request time in milliseconds (Envoy's name and buckets).\n"
        o += "# TYPE envoy_cluster_upstream_rq_time histogram\n"
        for c in order {
            let s = byCluster[c]!
            let l = "envoy_cluster_name=\"\(esc(c))\""
            histogram("envoy_cluster_upstream_rq_time", l, envoyBucketLabels, s.envoyBuckets,
                      sum: millis(s.envoySumMicros), count: s.total, into: &o)
        }
    }

    /// One histogram's samples: cumulative buckets (the last count is +Inf), sum, count.
    static func histogram(_ name: String, _ labels: String, _ bounds: [String], _ buckets: [UInt64],
                          sum: String, count: UInt64, into o: inout String) {
        var cum: UInt64 = 0
        for (i, bound) in bounds.enumerated() {
            cum += buckets[i]
            o += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cum)\n"
        }
        cum += buckets[bounds.count]
        o += "\(name)_bucket{\(labels),le=\"+Inf\"} \(cum)\n"
        o += "\(name)_sum{\(labels)} \(sum)\n"
        o += "\(name)_count{\(labels)} \(count)\n"
    }

    static func base(_ k: SeriesKey) -> String {
        "route=\"\(esc(k.route))\",backend=\"\(esc(k.backend))\",cluster=\"\(esc(k.cluster))\""
    }

    /// Label value escaping (backslash, double quote, line feed).
    public static func esc(_ s: String) -> String {
        guard s.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return s }
        var out = ""
        for ch in s {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(ch)
            }
        }
        return out
    }

    public static func seconds(_ micros: UInt64) -> String { decimal(micros, scale: 1_000_000) }
    public static func millis(_ micros: UInt64) -> String { decimal(micros, scale: 1_000) }

    /// An exact decimal of `v / scale` (no floating-point rounding in sums).
    static func decimal(_ v: UInt64, scale: UInt64) -> String {
        let whole = v / scale, frac = v % scale
        if frac == 0 { return "\(whole)" }
        var f = String(frac)
        let digits = String(scale).count - 1
        f = String(repeating: "0", count: digits - f.count) + f
        while f.hasSuffix("0") { f.removeLast() }
        return "\(whole).\(f)"
    }
}
