import HTTP1
import Telemetry

/// Why the proxy itself answered (or cut) an exchange. Status, metric
/// reason and retry verdict derive from it here, in one place (SPEC §5, §7).
public enum ProxyError: Equatable, Sendable {
    case badRequest(HTTPParseError)
    case noRoute
    case bodyTooLarge
    case noHealthyEndpoint
    case overflow
    case connectFailure
    /// The upstream's TLS handshake failed (verification included).
    case tlsFailure
    case upstreamTimeout
    case reset
    case badResponse
    case headerTimeout
    case clientAbort

    public var status: Int {
        switch self {
        case .badRequest(let e): return e.status
        case .noRoute: return 404
        case .bodyTooLarge: return 413
        case .noHealthyEndpoint, .overflow, .connectFailure, .tlsFailure: return 503
        case .upstreamTimeout: return 504
        case .reset, .badResponse: return 502
        case .headerTimeout: return 408
        case .clientAbort: return 499
        }
    }

    /// The `error` value of the record and the JSON body (SPEC §7).
    public var reason: StaticString {
        switch self {
        case .badRequest, .bodyTooLarge, .headerTimeout: return "bad_request"
        case .noRoute: return "no_route"
        case .noHealthyEndpoint: return "no_healthy_endpoint"
        case .overflow: return "overflow"
        case .connectFailure: return "connect_failure"
        case .tlsFailure: return "tls_failure"
        case .upstreamTimeout: return "timeout"
        case .reset: return "reset"
        case .badResponse: return "bad_response"
        case .clientAbort: return "client_abort"
        }
    }

    /// The same reason as the telemetry vocabulary names it.
    public var telemetryReason: ErrorReason {
        switch self {
        case .badRequest, .bodyTooLarge, .headerTimeout: return .badRequest
        case .noRoute: return .noRoute
        case .noHealthyEndpoint: return .noHealthyEndpoint
        case .overflow: return .overflow
        case .connectFailure: return .connectFailure
        case .tlsFailure: return .tlsFailure
        case .upstreamTimeout: return .timeout
        case .reset: return .reset
        case .badResponse: return .badResponse
        case .clientAbort: return .clientAbort
        }
    }

    /// The detail written into the JSON body, more precise than `reason`.
    public var detail: StaticString {
        switch self {
        case .badRequest(let e): return e.reason
        case .bodyTooLarge: return "body_too_large"
        case .headerTimeout: return "header_timeout"
        default: return reason
        }
    }

}
