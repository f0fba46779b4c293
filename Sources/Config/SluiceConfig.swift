// Config: YAML (SPEC §3) into typed, validated, immutable values.
//
// Why it exists: a typo in a canary config must fail loudly at load time,
// with FILE:LINE, never at 3 a.m. in the data plane. What it must never do:
// be used on the request path (it uses Foundation and allocates freely);
// the proxy reads the snapshot built from it.
import Routing
import SluiceCore

/// The whole configuration, validated.
public struct SluiceConfig: Sendable, Equatable {
    public var listen: [String] = ["0.0.0.0:80"]
    /// nil means one worker per core.
    public var workers: Int?
    public var admin = AdminConfig()
    public var tls: TLSListenConfig?
    public var limits = Limits()
    public var timeouts = Timeouts()
    public var clusters: [ClusterConfig] = []
    public var routes: [RouteConfig] = []
    public var monitor = MonitorConfig()
    /// The file this came from (for reloads and messages).
    public var sourcePath: String?

    public init() {}

    public func clusterIndex(_ name: String) -> Int? { clusters.firstIndex { $0.name == name } }
}

public struct AdminConfig: Sendable, Equatable {
    public var listen = "127.0.0.1:9901"
    public var tokenFile: String?
    public var stateFile: String?
}

public struct TLSListenConfig: Sendable, Equatable {
    public struct SNICertificate: Sendable, Equatable {
        public var serverNames: [String]
        public var cert: String
        public var key: String

        public init(serverNames: [String], cert: String, key: String) {
            self.serverNames = serverNames
            self.cert = cert
            self.key = key
        }
    }
    public var listen: String
    public var cert: String
    public var key: String
    public var certificates: [SNICertificate] = []

    public init(listen: String, cert: String, key: String, certificates: [SNICertificate] = []) {
        self.listen = listen
        self.cert = cert
        self.key = key
        self.certificates = certificates
    }
}

public struct Limits: Sendable, Equatable {
    public var maxConnections = 10_000
    public var maxRequestHeaderBytes = 65_536
    /// 0 = unlimited (streamed).
    public var maxRequestBodyBytes: Int64 = 0
}

public struct Timeouts: Sendable, Equatable {
    public var connect: Millis = 1_000
    public var request: Millis = 30_000
    public var idle: Millis = 60_000
    public var header: Millis = 10_000
    public var drain: Millis = 20_000
}

public struct UpstreamTLSConfig: Sendable, Equatable {
    public var caFile: String?
    public var serverName: String?
    public var verify = true

    public init(caFile: String? = nil, serverName: String? = nil, verify: Bool = true) {
        self.caFile = caFile
        self.serverName = serverName
        self.verify = verify
    }
}

public struct HealthCheckConfig: Sendable, Equatable {
    public var path = "/healthz"
    public var interval: Millis = 5_000
    public var timeout: Millis = 1_000
    public var unhealthyThreshold = 3
    public var healthyThreshold = 2

    public init(path: String = "/healthz", interval: Millis = 5_000, timeout: Millis = 1_000,
                unhealthyThreshold: Int = 3, healthyThreshold: Int = 2) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.unhealthyThreshold = unhealthyThreshold
        self.healthyThreshold = healthyThreshold
    }
}

public struct ClusterConfig: Sendable, Equatable {
    public var name: String
    /// "host:port" strings, as written.
    public var endpoints: [String]
    public var lb: LBPolicy = .roundRobin
    public var tls: UpstreamTLSConfig?
    public var healthCheck: HealthCheckConfig?
    public var maxConnections = 1024
    public var maxPending = 1024

    public init(name: String, endpoints: [String], lb: LBPolicy = .roundRobin) {
        self.name = name
        self.endpoints = endpoints
        self.lb = lb
    }
}

public struct RouteConfig: Sendable, Equatable {
    public var name: String
    public var prefix: String
    public var active: String
    public var preview: String?
    public var weights: Weights
    public var sticky: StickySource?
    public var overrideHeader: String?
    public var timeout: Millis?
    public var retry = RetryPolicy()
    /// Whether the file set `weights` explicitly (reload rules).
    public var weightsFromFile = false

    public init(name: String, prefix: String, active: String, preview: String? = nil,
                weights: Weights = Weights(active: 100, preview: 0)!) {
        self.name = name
        self.prefix = prefix
        self.active = active
        self.preview = preview
        self.weights = weights
    }
}

public struct PushConfig: Sendable, Equatable {
    public var url: String
    public var interval: Millis = 5_000
    public var batchMax = 5_000
    public var gzip = true

    public init(url: String) { self.url = url }
}

public struct MonitorConfig: Sendable, Equatable {
    public var push: PushConfig?
    public var accessLog: String?
    public var envoyMetrics = true
}

/// One problem in a config file, as `FILE:LINE: message`.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file):\(line): \(message)" }
}

/// Every problem found in a file (never just the first).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
