/// `/stats` (SPEC §6): per route and backend: requests, errors by class,
/// p50/p90/p99 latency from the log-linear histogram, current weights.
public enum StatsJSON {
    public static func render(_ series: [(SeriesKey, SeriesCounts)], weights: [(route: String, backend: String, weight: UInt32)]) -> String {
        var groups: [String: (route: String, backend: String, s: SeriesCounts)] = [:]
        var order: [String] = []
        for (k, s) in series {
            let key = k.route + "\u{0}" + k.backend
            if var e = groups[key] {
                e.s.total += s.total
                for (c, n) in s.codes { e.s.codes[c, default: 0] += n }
                for i in 0..<5 { e.s.classOverflow[i] += s.classOverflow[i] }
                for i in 0..<e.s.latency.count { e.s.latency[i] += s.latency[i] }
                for i in 0..<e.s.errors.count { e.s.errors[i] += s.errors[i] }
                groups[key] = e
            } else {
                groups[key] = (k.route, k.backend, s)
                order.append(key)
            }
        }
        var rows: [String] = []
        for key in order {
            let g = groups[key]!
            let cls = g.s.classes
            let w = weights.first { $0.route == g.route && $0.backend == g.backend }?.weight
            func q(_ x: Double) -> String {
                guard let v = LatencyBuckets.quantile(g.s.latency, x) else { return "null" }
                return PrometheusText.decimal(UInt64(v * 1000), scale: 1_000_000)  // µs*1000 -> ms with 3 decimals
            }
            var errs: [String] = []
            for r in ErrorReason.allCases where r != .none && g.s.errors[Int(r.rawValue)] > 0 {
                errs.append("\"\(r.label)\":\(g.s.errors[Int(r.rawValue)])")
            }
            rows.append("{\"route\":\(json(g.route)),\"backend\":\(json(g.backend)),\"requests\":\(g.s.total),"
                + "\"responses\":{\"1xx\":\(cls[0]),\"2xx\":\(cls[1]),\"3xx\":\(cls[2]),\"4xx\":\(cls[3]),\"5xx\":\(cls[4])},"
                + "\"errors\":{\(errs.joined(separator: ","))},"
                + "\"latency_ms\":{\"p50\":\(q(0.5)),\"p90\":\(q(0.9)),\"p99\":\(q(0.99))},"
                + "\"weight\":\(w.map { String($0) } ?? "null")}")
        }
        return "{\"stats\":[" + rows.joined(separator: ",") + "]}\n"
    }

    /// A JSON string literal.
    public static func json(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
