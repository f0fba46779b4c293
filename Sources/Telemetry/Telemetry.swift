// Telemetry: what Sluice measures about every request, per worker, with no
// lock and no allocation on the request path; merged only when read.
//
// Why it exists: canaries are judged on these numbers, so they must be
// exact (counts add up to the requests answered) and cheap (the data plane
// pays for them on every request). What it must never do: I/O, locks or
// allocation in `record`, Foundation.
import SluiceCore
import Synchronization

/// Why an exchange failed, as the monitor names it (SPEC §7 `error`).
public enum ErrorReason: UInt8, Sendable, CaseIterable {
    case none = 0
    case connectFailure, timeout, reset, badResponse, noHealthyEndpoint, overflow, clientAbort, badRequest, noRoute, tlsFailure

    public var label: String {
        switch self {
        case .none: return ""
        case .connectFailure: return "connect_failure"
        case .timeout: return "timeout"
        case .reset: return "reset"
        case .badResponse: return "bad_response"
        case .noHealthyEndpoint: return "no_healthy_endpoint"
        case .overflow: return "overflow"
        case .clientAbort: return "client_abort"
        case .badRequest: return "bad_request"
        case .noRoute: return "no_route"
        case .tlsFailure: return "tls_failure"
        }
    }

    /// Reasons counted in `sluice_upstream_errors_total` (failures of or
    /// toward an upstream, not of the client's request).
    public var isUpstream: Bool {
        switch self {
        case .connectFailure, .timeout, .reset, .badResponse, .noHealthyEndpoint, .overflow, .tlsFailure: return true
        default: return false
        }
    }
}

/// Bucket bounds of `sluice_request_duration_seconds` (SPEC §7), in µs.
public let sluiceBucketsMicros: [UInt64] = [500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
                                            500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000]
/// The same bounds as Prometheus writes them.
public let sluiceBucketLabels = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                 "0.5", "1", "2.5", "5", "10", "30"]
/// Envoy's default histogram buckets (ms), for `envoy_cluster_upstream_rq_time`.
public let envoyBucketsMillis: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
                                           60000, 300000, 600000, 1800000, 3600000]
public let envoyBucketLabels = ["0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000",
                                "10000", "30000", "60000", "300000", "600000", "1800000", "3600000"]
