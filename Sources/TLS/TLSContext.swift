// TLS: non-blocking OpenSSL sessions for the event loop.
//
// Why it exists: TLS termination and origination go through the system
// OpenSSL; this module owns every call into it so the rest of Sluice sees
// contexts and session handles, never OpenSSL's API. What it must never
// do: block a worker (handshakes and I/O report want-read / want-write as
// values) or allocate on the I/O path.
import COpenSSL
import CTLSShim
#if canImport(Glibc)
import Glibc
#endif

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
/// built; shared by the sessions created from it (each session holds its
/// own reference, so a context replaced by a reload lives on until the
/// last connection made from it closes).
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
        if role == .server {
            guard sl_tls_ctx_server_setup(ctx) == 1 else {
                SSL_CTX_free(ctx)
                throw TLSError.fromQueue("cannot set up the server context")
            }
        } else {
            sl_tls_ctx_defaults(ctx)
        }
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

    /// Client side: verify peers against `caFile` (PEM), or the system's
    /// trust store when nil; or not at all when `verify` is false.
    public func useTrust(caFile: String?, verify: Bool) throws {
        if !verify {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            return
        }
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw TLSError.fromQueue("cannot load CA file \(caFile)")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
                throw TLSError.fromQueue("cannot load the system CA store")
            }
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
    }

    /// The protocol version bounds in force (for checks and tests).
    public var minProtocolVersion: Int { Int(SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nil)) }
    public var maxProtocolVersion: Int { Int(SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MAX_PROTO_VERSION, 0, nil)) }

    public static let tls12 = Int(TLS1_2_VERSION)
    public static let tls13 = Int(TLS1_3_VERSION)

    /// The linked OpenSSL's version string.
    public static var libraryVersion: String { String(cString: OpenSSL_version(0)) }
}

/// A listener's certificates: the default one and those chosen by SNI.
/// Loaded whole or not at all, so a reload with a bad file keeps the old.
public final class TLSServer: @unchecked Sendable {
    public let context: TLSContext

    public init(cert: String, key: String, alternatives alts: [(names: [String], cert: String, key: String)]) throws {
        context = try TLSContext(role: .server)
        try context.useCertificate(chainFile: cert, keyFile: key)
        var loaded: [(names: [String], context: TLSContext)] = []
        for a in alts {
            let c = try TLSContext(role: .server)
            try c.useCertificate(chainFile: a.cert, keyFile: a.key)
            loaded.append((a.names, c))
        }
        // The default context's SNI table holds its own reference to each
        // alternative, so they live as long as any session made from it.
        if !loaded.isEmpty {
            var names: [String] = [], ctxs: [OpaquePointer?] = []
            for (ns, c) in loaded { for n in ns { names.append(n.lowercased()); ctxs.append(c.ctx) } }
            let ok = withCStrings(names) { cnames in
                ctxs.withUnsafeBufferPointer { sl_tls_ctx_set_sni_table(context.ctx, cnames, $0.baseAddress, Int32(names.count)) }
            }
            guard ok == 1 else { throw TLSError.fromQueue("cannot install the SNI table") }
        }
    }
}

/// A cluster's client side: trust, and the name its endpoints are checked against.
public final class TLSClient: @unchecked Sendable {
    public let context: TLSContext
    /// Sent as SNI and verified; nil uses each endpoint's host.
    public let serverName: String?
    public let verify: Bool

    public init(caFile: String?, serverName: String?, verify: Bool) throws {
        context = try TLSContext(role: .client)
        try context.useTrust(caFile: caFile, verify: verify)
        self.serverName = serverName
        self.verify = verify
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let dup = strings.map { strdup($0) }
    defer { for p in dup { free(p) } }
    let ptrs = dup.map { UnsafePointer<CChar>($0) }
    return ptrs.withUnsafeBufferPointer { body($0.baseAddress!) }
}
