import COpenSSL
import CTLSShim
#if canImport(Glibc)
import Glibc
#endif

/// What a handshake step, read or write on a session did.
public enum TLSResult: Equatable, Sendable {
    /// This many bytes moved (reads and writes); 0 from a completed handshake.
    case ok(Int)
    /// Waits for the socket to become readable.
    case wantRead
    /// Waits for the socket to become writable.
    case wantWrite
    /// The peer closed (close_notify, or EOF between records).
    case closed
    /// A protocol or verification failure; `TLSSession.lastError` says which.
    case failed
}

/// One TLS connection over a non-blocking socket: a plain handle, so the
/// connection structs that hold it stay plain data (no reference counting
/// on the request path). Whoever made it frees it exactly once.
public struct TLSSession: Equatable, @unchecked Sendable {
    @usableFromInline let ssl: OpaquePointer

    /// A server session accepting on `fd`.
    public static func accept(_ server: TLSServer, fd: Int32) -> TLSSession? {
        sl_tls_new(server.context.ctx, fd, 1).map(TLSSession.init(ssl:))
    }

    /// A client session on connected `fd`, checking the peer against `host`
    /// (a DNS name, sent as SNI too, or an IP literal) when the client verifies.
    public static func connect(_ client: TLSClient, fd: Int32, host: String) -> TLSSession? {
        guard let ssl = sl_tls_new(client.context.ctx, fd, 0) else { return nil }
        let name = client.serverName ?? host
        let ok = client.verify ? sl_tls_verify_host(ssl, name) : (isIPLiteral(name) ? 1 : sl_tls_set_sni(ssl, name))
        guard ok == 1 else { sl_tls_free(ssl, 0); return nil }
        return TLSSession(ssl: ssl)
    }

    init(ssl: OpaquePointer) { self.ssl = ssl }

    @inline(__always)
    static func result(_ code: Int32, _ n: Int32) -> TLSResult {
        switch code {
        case Int32(SL_TLS_OK): return .ok(Int(n))
        case Int32(SL_TLS_WANT_READ): return .wantRead
        case Int32(SL_TLS_WANT_WRITE): return .wantWrite
        case Int32(SL_TLS_CLOSED): return .closed
        default: return .failed
        }
    }

    public func handshake() -> TLSResult { TLSSession.result(sl_tls_handshake(ssl), 0) }

    public func read(_ p: UnsafeMutableRawPointer, _ count: Int) -> TLSResult {
        var n: Int32 = 0
        return TLSSession.result(sl_tls_read(ssl, p, Int32(clamping: count), &n), n)
    }

    public func write(_ p: UnsafeRawPointer, _ count: Int) -> TLSResult {
        var n: Int32 = 0
        return TLSSession.result(sl_tls_write(ssl, p, Int32(clamping: count), &n), n)
    }

    /// Frees the session. A graceful close first sends close_notify (one
    /// attempt, no wait); an abort does not, so the peer cannot take a cut
    /// stream for a complete one.
    public func free(graceful: Bool) { sl_tls_free(ssl, graceful ? 1 : 0) }

    /// Whether the peer has sent any byte yet (a TCP probe sends none).
    public var peerSentAnything: Bool { sl_tls_bytes_read(ssl) > 0 }

    /// OpenSSL holds input not handed out yet (a record read ahead).
    public var hasBufferedInput: Bool { sl_tls_has_pending(ssl) == 1 }

    /// Why the last handshake or I/O call failed (verification first).
    public var lastError: String {
        var buf = [CChar](repeating: 0, count: 256)
        sl_tls_last_error(ssl, &buf, Int32(buf.count))
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

func isIPLiteral(_ s: String) -> Bool {
    var a4 = in_addr(), a6 = in6_addr()
    return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1
}
