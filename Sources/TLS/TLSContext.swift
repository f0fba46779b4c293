// TLS: non-blocking OpenSSL sessions for the event loop.
//
// Why it exists: TLS termination and origination go through the system
// OpenSSL; this module owns every call into it so the rest of Sluice sees
// contexts and sessions, never raw SSL pointers. What it must never do:
// block a worker (handshakes report want-read / want-write as values).
import COpenSSL
import CTLSShim

public struct TLSError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Drains OpenSSL's error queue into one message.
    static func fromQueue(_ what: String) -> TLSError {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(parts.isEmpty ? what : "\(what): \(parts.joined(separator: "; "))")
    }
}

/// An OpenSSL SSL_CTX configured for TLS 1.2 and 1.3 only. Immutable once
/// built; shared by the sessions created from it.
public final class TLSContext: @unchecked Sendable {
    public enum Role { case server, client }
    let ctx: OpaquePointer
    public let role: Role

    public init(role: Role) throws {
        guard let method = role == .server ? TLS_server_method() : TLS_client_method(),
              let ctx = SSL_CTX_new(method) else { throw TLSError.fromQueue("SSL_CTX_new failed") }
        self.ctx = ctx
        self.role = role
        guard sl_tls_ctx_set_min_tls12(ctx) == 1, sl_tls_ctx_set_max_tls13(ctx) == 1 else {
            SSL_CTX_free(ctx)
            throw TLSError.fromQueue("cannot restrict protocol versions")
        }
        if role == .server { _ = sl_tls_ctx_set_session_cache_server(ctx) }
    }

    deinit { SSL_CTX_free(ctx) }

    /// Loads a PEM certificate chain and its private key, and checks they match.
    public func useCertificate(chainFile: String, keyFile: String) throws {
        guard SSL_CTX_use_certificate_chain_file(ctx, chainFile) == 1 else {
            throw TLSError.fromQueue("cannot load certificate chain \(chainFile)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.fromQueue("cannot load private key \(keyFile)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError.fromQueue("private key \(keyFile) does not match certificate \(chainFile)")
        }
    }

    /// The protocol version bounds in force (for checks and tests).
    public var minProtocolVersion: Int { Int(SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nil)) }
    public var maxProtocolVersion: Int { Int(SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MAX_PROTO_VERSION, 0, nil)) }

    public static let tls12 = Int(TLS1_2_VERSION)
    public static let tls13 = Int(TLS1_3_VERSION)

    /// The linked OpenSSL's version string.
    public static var libraryVersion: String { String(cString: OpenSSL_version(0)) }
}
