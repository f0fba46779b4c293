import Foundation
import Routing
import SluiceCore
import Yams

/// Reads and validates a config file. Every problem is collected with its
/// line, so `sluice check` can print them all at once.
public enum ConfigLoader {
    public static func load(path: String) throws -> SluiceConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(problems: [ConfigProblem(file: path, line: 0, message: "cannot read the file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(problems: [ConfigProblem(file: path, line: 0, message: "the file is not UTF-8")])
        }
        var c = try parse(text, file: path)
        c.sourcePath = path
        return c
    }

    public static func parse(_ text: String, file: String = "<config>") throws -> SluiceConfig {
        var p = Parser(file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw ConfigError(problems: [p.yamlProblem(e)])
        }
        guard let root else {
            throw ConfigError(problems: [ConfigProblem(file: file, line: 1, message: "the file is empty")])
        }
        let config = p.config(root)
        if !p.problems.isEmpty { throw ConfigError(problems: p.problems) }
        return config
    }
}

/// Parses durations "250ms", "1s", "5m", "1h" into milliseconds.
public func parseDuration(_ s: String) -> Millis? {
    let units: [(String, Millis)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
    for (suffix, mult) in units where s.hasSuffix(suffix) {
        let digits = s.dropLast(suffix.count)
        // "5ms" also ends in "s": only accept all-digit numbers.
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let v = Millis(digits) else { continue }
        let (r, overflow) = v.multipliedReportingOverflow(by: mult)
        return overflow ? nil : r
    }
    return nil
}

/// Walks the YAML tree, collecting problems instead of stopping at the first.
struct Parser {
    let file: String
    var problems: [ConfigProblem] = []

    init(file: String) { self.file = file }

    mutating func problem(_ node: Node?, _ message: String) {
        problems.append(ConfigProblem(file: file, line: node?.mark?.line ?? 0, message: message))
    }

    func yamlProblem(_ e: YamlError) -> ConfigProblem {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return ConfigProblem(file: file, line: mark.line, message: "YAML: \(problem)")
        case .duplicatedKeysInMapping(let dups, let ctx):
            return ConfigProblem(file: file, line: ctx.mark.line, message: "duplicate key \(dups.joined(separator: ", "))")
        default:
            return ConfigProblem(file: file, line: 0, message: "YAML: \(e)")
        }
    }

    /// The pairs of a mapping, reporting unknown and repeated keys.
    mutating func mapping(_ node: Node, _ what: String, allowed: Set<String>) -> [(String, Node, Node)] {
        guard case .mapping(let m) = node else {
            problem(node, "\(what) must be a mapping")
            return []
        }
        var out: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (k, v) in m {
            guard let key = k.string else { problem(k, "\(what): keys must be strings"); continue }
            if !seen.insert(key).inserted { problem(k, "\(what): duplicate key '\(key)'"); continue }
            if !allowed.contains(key) {
                problem(k, "\(what): unknown key '\(key)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            out.append((key, k, v))
        }
        return out
    }

    func isNull(_ n: Node) -> Bool {
        if case .scalar(let s) = n { return s.tag.description.hasSuffix(":null") || s.string == "null" || s.string == "~" || (s.string.isEmpty && s.style == .plain) }
        return false
    }

    mutating func string(_ n: Node, _ what: String) -> String? {
        guard case .scalar(let s) = n, !isNull(n) else { problem(n, "\(what) must be a string"); return nil }
        return s.string
    }

    mutating func optionalString(_ n: Node, _ what: String) -> String? {
        if isNull(n) { return nil }
        return string(n, what)
    }

    mutating func int(_ n: Node, _ what: String, min lo: Int = 0, max hi: Int = Int.max) -> Int? {
        guard case .scalar(let s) = n, let v = Int(s.string) else {
            problem(n, "\(what) must be an integer")
            return nil
        }
        if v < lo || v > hi {
            problem(n, "\(what) must be between \(lo) and \(hi), got \(v)")
            return nil
        }
        return v
    }

    mutating func bool(_ n: Node, _ what: String) -> Bool? {
        guard case .scalar(let s) = n else { problem(n, "\(what) must be true or false"); return nil }
        switch s.string { case "true": return true; case "false": return false
        default: problem(n, "\(what) must be true or false, got '\(s.string)'"); return nil }
    }

    mutating func duration(_ n: Node, _ what: String, allowZero: Bool = false) -> Millis? {
        guard case .scalar(let s) = n, let d = parseDuration(s.string) else {
            problem(n, "\(what) must be a duration like 250ms, 1s, 5m or 1h")
            return nil
        }
        if d == 0 && !allowZero { problem(n, "\(what) must be greater than zero"); return nil }
        return d
    }

    mutating func address(_ n: Node, _ what: String) -> String? {
        guard let s = string(n, what) else { return nil }
        if !validListenAddress(s) {
            problem(n, "\(what) '\(s)' is not an address like 0.0.0.0:80 or [::]:80")
            return nil
        }
        return s
    }

    // MARK: sections

    mutating func config(_ root: Node) -> SluiceConfig {
        var c = SluiceConfig()
        let keys: Set<String> = ["listen", "workers", "admin", "tls", "limits", "timeouts", "clusters", "routes", "monitor"]
        var routeNodes: Node?
        var sawClusters = false
        for (key, _, v) in mapping(root, "config", allowed: keys) {
            switch key {
            case "listen":
                if case .sequence(let seq) = v {
                    let list = seq.compactMap { address($0, "listen") }
                    if list.isEmpty { problem(v, "listen needs at least one address") } else { c.listen = list }
                } else if let a = address(v, "listen") {
                    c.listen = [a]
                }
            case "workers":
                if case .scalar(let s) = v, s.string == "auto" { c.workers = nil }
                else if let n = int(v, "workers (or auto)", min: 1, max: 1024) { c.workers = n }
            case "admin": c.admin = admin(v)
            case "tls": c.tls = isNull(v) ? nil : tls(v)
            case "limits": c.limits = limits(v)
            case "timeouts": c.timeouts = timeouts(v)
            case "clusters":
                sawClusters = true
                c.clusters = clusters(v)
            case "routes": routeNodes = v
            case "monitor": c.monitor = monitor(v)
            default: break
            }
        }
        if !sawClusters { problem(root, "clusters: at least one cluster is required") }
        if let r = routeNodes { c.routes = routes(r, clusters: c.clusters) } else { problem(root, "routes: at least one route is required") }
        return c
    }

    mutating func admin(_ n: Node) -> AdminConfig {
        var a = AdminConfig()
        for (key, _, v) in mapping(n, "admin", allowed: ["listen", "token_file", "state_file"]) {
            switch key {
            case "listen": if let s = address(v, "admin.listen") { a.listen = s }
            case "token_file": a.tokenFile = optionalString(v, "admin.token_file")
            case "state_file": a.stateFile = optionalString(v, "admin.state_file")
            default: break
            }
        }
        return a
    }

    mutating func tls(_ n: Node) -> TLSListenConfig? {
        var listen: String?, cert: String?, key: String?
        var extra: [TLSListenConfig.SNICertificate] = []
        for (k, _, v) in mapping(n, "tls", allowed: ["listen", "cert", "key", "certificates"]) {
            switch k {
            case "listen": listen = address(v, "tls.listen")
            case "cert": cert = string(v, "tls.cert")
            case "key": key = string(v, "tls.key")
            case "certificates":
                guard case .sequence(let seq) = v else { problem(v, "tls.certificates must be a list"); continue }
                for item in seq {
                    var names: [String] = [], c2: String?, k2: String?
                    for (kk, _, vv) in mapping(item, "tls.certificates[]", allowed: ["server_names", "cert", "key"]) {
                        switch kk {
                        case "server_names":
                            if case .sequence(let s) = vv { names = s.compactMap { string($0, "server_names[]") } }
                            else { problem(vv, "server_names must be a list") }
                        case "cert": c2 = string(vv, "cert")
                        case "key": k2 = string(vv, "key")
                        default: break
                        }
                    }
                    if names.isEmpty || c2 == nil || k2 == nil { problem(item, "tls.certificates[] needs server_names, cert and key") }
                    else { extra.append(.init(serverNames: names, cert: c2!, key: k2!)) }
                }
            default: break
            }
        }
        guard let l = listen, let c = cert, let k = key else {
            problem(n, "tls needs listen, cert and key")
            return nil
        }
        return TLSListenConfig(listen: l, cert: c, key: k, certificates: extra)
    }

    mutating func limits(_ n: Node) -> Limits {
        var l = Limits()
        for (k, _, v) in mapping(n, "limits", allowed: ["max_connections", "max_request_header_bytes", "max_request_body_bytes"]) {
            switch k {
            case "max_connections": if let x = int(v, "limits.max_connections", min: 1, max: 10_000_000) { l.maxConnections = x }
            case "max_request_header_bytes":
                if let x = int(v, "limits.max_request_header_bytes", min: 1024, max: 1 << 20) { l.maxRequestHeaderBytes = x }
            case "max_request_body_bytes": if let x = int(v, "limits.max_request_body_bytes") { l.maxRequestBodyBytes = Int64(x) }
            default: break
            }
        }
        return l
    }

    mutating func timeouts(_ n: Node) -> Timeouts {
        var t = Timeouts()
        for (k, _, v) in mapping(n, "timeouts", allowed: ["connect", "request", "idle", "header", "drain"]) {
            guard let d = duration(v, "timeouts.\(k)") else { continue }
            switch k {
            case "connect": t.connect = d
            case "request": t.request = d
            case "idle": t.idle = d
            case "header": t.header = d
            case "drain": t.drain = d
            default: break
            }
        }
        return t
    }

    mutating func clusters(_ n: Node) -> [ClusterConfig] {
        var out: [ClusterConfig] = []
        let allowed: Set<String> = ["endpoints", "lb", "tls", "health_check", "max_connections", "max_pending"]
        guard case .mapping(let m) = n else { problem(n, "clusters must be a mapping of name to cluster"); return [] }
        var seen = Set<String>()
        for (kn, v) in m {
            guard let name = kn.string, !name.isEmpty else { problem(kn, "cluster names must be strings"); continue }
            if !seen.insert(name).inserted { problem(kn, "duplicate cluster '\(name)'"); continue }
            var c = ClusterConfig(name: name, endpoints: [])
            var sawEndpoints = false
            for (k, _, vv) in mapping(v, "cluster '\(name)'", allowed: allowed) {
                switch k {
                case "endpoints":
                    sawEndpoints = true
                    guard case .sequence(let seq) = vv, !seq.isEmpty else { problem(vv, "cluster '\(name)': endpoints must be a non-empty list"); continue }
                    for e in seq {
                        guard let s = string(e, "endpoint") else { continue }
                        if validEndpoint(s) { c.endpoints.append(s) }
                        else { problem(e, "cluster '\(name)': endpoint '\(s)' is not host:port") }
                    }
                case "lb":
                    if let s = string(vv, "lb") {
                        if let p = LBPolicy(rawValue: s) { c.lb = p } else { problem(vv, "cluster '\(name)': lb must be round_robin or least_request, got '\(s)'") }
                    }
                case "tls": c.tls = upstreamTLS(vv, name)
                case "health_check": c.healthCheck = healthCheck(vv, name)
                case "max_connections": if let x = int(vv, "max_connections", min: 1, max: 1_000_000) { c.maxConnections = x }
                case "max_pending": if let x = int(vv, "max_pending", min: 0, max: 1_000_000) { c.maxPending = x }
                default: break
                }
            }
            if !sawEndpoints { problem(kn, "cluster '\(name)': endpoints are required") }
            out.append(c)
        }
        return out
    }

    mutating func upstreamTLS(_ n: Node, _ cluster: String) -> UpstreamTLSConfig? {
        if case .scalar = n, let b = bool(n, "cluster '\(cluster)': tls") { return b ? UpstreamTLSConfig() : nil }
        if case .scalar = n { return nil }
        var t = UpstreamTLSConfig()
        for (k, _, v) in mapping(n, "cluster '\(cluster)': tls", allowed: ["ca_file", "server_name", "verify"]) {
            switch k {
            case "ca_file": t.caFile = optionalString(v, "ca_file")
            case "server_name": t.serverName = optionalString(v, "server_name")
            case "verify": if let b = bool(v, "verify") { t.verify = b }
            default: break
            }
        }
        return t
    }

    mutating func healthCheck(_ n: Node, _ cluster: String) -> HealthCheckConfig? {
        var h = HealthCheckConfig()
        for (k, _, v) in mapping(n, "cluster '\(cluster)': health_check",
                                 allowed: ["path", "interval", "timeout", "unhealthy_threshold", "healthy_threshold"]) {
            switch k {
            case "path":
                if let s = string(v, "health_check.path") {
                    if s.hasPrefix("/") { h.path = s } else { problem(v, "health_check.path must start with /") }
                }
            case "interval": if let d = duration(v, "health_check.interval") { h.interval = d }
            case "timeout": if let d = duration(v, "health_check.timeout") { h.timeout = d }
            case "unhealthy_threshold": if let x = int(v, "unhealthy_threshold", min: 1, max: 100) { h.unhealthyThreshold = x }
            case "healthy_threshold": if let x = int(v, "healthy_threshold", min: 1, max: 100) { h.healthyThreshold = x }
            default: break
            }
        }
        return h
    }

    mutating func routes(_ n: Node, clusters: [ClusterConfig]) -> [RouteConfig] {
        guard case .sequence(let seq) = n else { problem(n, "routes must be a list"); return [] }
        if seq.isEmpty { problem(n, "routes: at least one route is required") }
        var out: [RouteConfig] = []
        var names = Set<String>()
        let clusterNames = Set(clusters.map(\.name))
        let allowed: Set<String> = ["name", "prefix", "active", "preview", "weights", "sticky", "override_header", "timeout", "retries"]
        for item in seq {
            var name: String?, prefix: String?, active: String?, preview: String?
            var weights: (UInt32, UInt32)?
            var weightsNode: Node?
            var r = RouteConfig(name: "", prefix: "", active: "", preview: nil, weights: Weights(active: 100, preview: 0)!)
            var ok = true
            for (k, kn, v) in mapping(item, "route", allowed: allowed) {
                switch k {
                case "name":
                    name = string(v, "route name")
                    if let nm = name {
                        if nm.isEmpty || nm.contains("/") || nm.contains(where: { $0.isWhitespace }) {
                            problem(v, "route name '\(nm)' must be non-empty without '/' or spaces"); ok = false
                        } else if !names.insert(nm).inserted { problem(v, "duplicate route name '\(nm)'"); ok = false }
                    }
                case "prefix":
                    prefix = string(v, "prefix")
                    if let p = prefix, !p.hasPrefix("/") { problem(v, "prefix '\(p)' must start with /"); ok = false }
                case "active":
                    active = string(v, "active")
                    if let a = active, !clusterNames.contains(a) { problem(v, "route names unknown cluster '\(a)'"); ok = false }
                case "preview":
                    preview = optionalString(v, "preview")
                    if let p = preview, !clusterNames.contains(p) { problem(v, "route names unknown cluster '\(p)'"); ok = false }
                case "weights":
                    weightsNode = kn
                    var a: Int?, p: Int?
                    for (wk, _, wv) in mapping(v, "weights", allowed: ["active", "preview"]) {
                        let x = int(wv, "weights.\(wk) (a non-negative integer)", min: 0, max: Int(UInt32.max))
                        if wk == "active" { a = x } else { p = x }
                        if x == nil { ok = false }
                    }
                    if a == nil || p == nil { if ok { problem(v, "weights need both active and preview") }; ok = false }
                    else if a! + p! == 0 { problem(v, "weights must not both be zero"); ok = false }
                    else { weights = (UInt32(a!), UInt32(p!)) }
                case "sticky":
                    if let s = string(v, "sticky") {
                        if s.hasPrefix("header:"), s.count > 7 { r.sticky = .header(String(s.dropFirst(7)).lowercased()) }
                        else if s.hasPrefix("cookie:"), s.count > 7 { r.sticky = .cookie(String(s.dropFirst(7))) }
                        else { problem(v, "sticky must be header:NAME or cookie:NAME, got '\(s)'"); ok = false }
                    }
                case "override_header":
                    if let s = optionalString(v, "override_header") {
                        if s.isEmpty || s.contains(where: { $0 == ":" || $0.isWhitespace }) { problem(v, "override_header '\(s)' is not a header name"); ok = false }
                        else { r.overrideHeader = s.lowercased() }
                    }
                case "timeout": r.timeout = duration(v, "route timeout")
                case "retries": if let rp = retries(v) { r.retry = rp } else { ok = false }
                default: break
                }
            }
            if name == nil { problem(item, "route needs a name"); ok = false }
            if prefix == nil { problem(item, "route '\(name ?? "?")' needs a prefix"); ok = false }
            if active == nil { problem(item, "route '\(name ?? "?")' needs an active cluster"); ok = false }
            if preview == nil, let w = weights, w.1 > 0 {
                problem(weightsNode, "route '\(name ?? "?")' has no preview, so its weights cannot give the preview traffic"); ok = false
            }
            guard ok, let nm = name, let px = prefix, let ac = active else { continue }
            r.name = nm
            r.prefix = px
            r.active = ac
            r.preview = preview
            if let w = weights {
                r.weights = Weights(active: w.0, preview: w.1)!
                r.weightsFromFile = true
            } else {
                r.weights = preview == nil ? Weights(active: 100, preview: 0)! : Weights(active: 100, preview: 0)!
            }
            out.append(r)
        }
        return out
    }

    mutating func retries(_ n: Node) -> RetryPolicy? {
        var p = RetryPolicy(attempts: 1, onConnectFailure: false, onReset: false)
        var sawOn = false
        for (k, _, v) in mapping(n, "retries", allowed: ["attempts", "on"]) {
            switch k {
            case "attempts": guard let a = int(v, "retries.attempts", min: 0, max: 5) else { return nil }; p.attempts = a
            case "on":
                sawOn = true
                guard case .sequence(let seq) = v else { problem(v, "retries.on must be a list"); return nil }
                for e in seq {
                    switch e.string {
                    case "connect_failure": p.onConnectFailure = true
                    case "reset": p.onReset = true
                    default: problem(e, "retries.on: unknown condition '\(e.string ?? "?")' (connect_failure, reset)"); return nil
                    }
                }
            default: break
            }
        }
        if !sawOn { p.onConnectFailure = true; p.onReset = true }
        return p
    }

    mutating func monitor(_ n: Node) -> MonitorConfig {
        var m = MonitorConfig()
        for (k, _, v) in mapping(n, "monitor", allowed: ["push", "access_log", "envoy_metrics"]) {
            switch k {
            case "push":
                if isNull(v) { continue }
                var url: String?
                var p = PushConfig(url: "")
                for (pk, _, pv) in mapping(v, "monitor.push", allowed: ["url", "interval", "batch_max", "gzip"]) {
                    switch pk {
                    case "url":
                        url = string(pv, "monitor.push.url")
                        if let u = url, !u.hasPrefix("http://") { problem(pv, "monitor.push.url must be an http:// URL"); url = nil }
                    case "interval": if let d = duration(pv, "monitor.push.interval") { p.interval = d }
                    case "batch_max": if let x = int(pv, "monitor.push.batch_max", min: 1, max: 1_000_000) { p.batchMax = x }
                    case "gzip": if let b = bool(pv, "monitor.push.gzip") { p.gzip = b }
                    default: break
                    }
                }
                if let u = url { p.url = u; m.push = p } else if !problems.contains(where: { $0.message.contains("push.url") }) {
                    problem(v, "monitor.push needs a url")
                }
            case "access_log": m.accessLog = optionalString(v, "monitor.access_log")
            case "envoy_metrics": if let b = bool(v, "monitor.envoy_metrics") { m.envoyMetrics = b }
            default: break
            }
        }
        return m
    }
}

/// "a.b.c.d:port" or "[v6]:port" with a numeric address.
func validListenAddress(_ s: String) -> Bool {
    guard let (host, port) = splitHostPort(s), port != nil else { return false }
    var a4 = in_addr(), a6 = in6_addr()
    return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1
}

/// "host:port" where host is a name or an address and port is 1...65535.
func validEndpoint(_ s: String) -> Bool {
    guard let (host, port) = splitHostPort(s), let p = port, p > 0, !host.isEmpty else { return false }
    return host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":") }
}

/// Splits "host:port" / "[v6]:port"; port nil when it is not a number.
public func splitHostPort(_ s: String) -> (String, UInt16?)? {
    if s.hasPrefix("[") {
        guard let close = s.firstIndex(of: "]") else { return nil }
        let host = String(s[s.index(after: s.startIndex)..<close])
        let rest = s[s.index(after: close)...]
        guard rest.hasPrefix(":") else { return nil }
        return (host, UInt16(rest.dropFirst()))
    }
    guard let colon = s.lastIndex(of: ":") else { return nil }
    let host = String(s[..<colon])
    if host.contains(":") { return nil }
    return (host, UInt16(s[s.index(after: colon)...]))
}
