import EventLoop
import SluiceCore
import TLS
#if canImport(Glibc)
import Glibc
#endif

/// TLS on the worker: handshakes driven by readiness events, and reads and
/// writes mapped onto the plain-socket results the rest of the worker uses.
extension ProxyWorker {
    /// A TLS read as an `IOResult`. Want-write (the session must send first,
    /// e.g. a key update) is a wait like want-read, flagged so a writable
    /// event retries the read.
    @inline(__always)
    func tlsRead(_ s: TLSSession, _ p: UnsafeMutableRawPointer, _ count: Int, wantsWrite: inout Bool) -> IOResult {
        switch s.read(p, count) {
        case .ok(let n): return .bytes(n)
        case .wantRead: return .wouldBlock
        case .wantWrite: wantsWrite = true; return .wouldBlock
        case .closed: return .eof
        case .failed: return .error(0)
        }
    }

    @inline(__always)
    func tlsWrite(_ s: TLSSession, _ p: UnsafeRawPointer, _ count: Int) -> IOResult {
        switch s.write(p, count) {
        case .ok(let n): return .bytes(n)
        case .wantRead, .wantWrite: return .wouldBlock
        case .closed, .failed: return .error(0)
        }
    }

    /// Advances a client's handshake; once done, reads what followed it.
    /// The header timeout armed at accept also bounds the handshake.
    func downHandshake(_ h: SlabHandle) {
        let i = h.index
        guard let s = down[index: i].tls else { return }
        switch s.handshake() {
        case .ok:
            down[index: i].handshaking = false
            down[index: i].readWantsWrite = false
            stats.tlsHandshakes.add(1, ordering: .relaxed)
            downReadable(h)
            flushDown(h)
        case .wantRead:
            down[index: i].readWantsWrite = false
        case .wantWrite:
            down[index: i].readWantsWrite = true
        case .closed where !s.peerSentAnything:
            // A TCP connect and close (a port probe, a load balancer's
            // check): not a TLS failure, nothing to log.
            closeDown(h)
        case .closed, .failed:
            stats.tlsHandshakeErrors.add(1, ordering: .relaxed)
            let peer = down[index: i].peer.withBytes { String(decoding: $0, as: UTF8.self) }
            logTLS("handshake with client \(peer) failed: \(s.lastError)")
            closeDown(h)
        }
    }

    /// Advances an upstream's handshake (TCP is connected). A failure —
    /// a certificate that does not verify, a wrong name, an expired one, a
    /// peer that does not speak TLS — is a 503 `tls_failure`.
    func upHandshake(_ u: SlabHandle) {
        let i = u.index
        guard let s = up[index: i].tls else { return }
        switch s.handshake() {
        case .ok:
            up[index: i].handshaking = false
            stats.tlsHandshakes.add(1, ordering: .relaxed)
            loop.timers.cancel(timerID(i, .upConnectOrIdle))
            upConnected(u)
            flushUp(u)
        case .wantRead, .wantWrite:
            return
        case .closed, .failed:
            stats.tlsHandshakeErrors.add(1, ordering: .relaxed)
            logTLS("handshake with \(upstreamName(u)) failed: \(s.lastError)")
            let owner = up[index: i].owner
            loop.timers.cancel(timerID(i, .upConnectOrIdle))
            closeUp(u)
            if let o = owner { upstreamFailed(o, .tlsFailure) }
        }
    }

    /// "cluster endpoint host:port", for log lines.
    func upstreamName(_ u: SlabHandle) -> String {
        let c = up[index: u.index].cluster, e = up[index: u.index].endpoint
        guard c < snapshot.clusters.count, e < snapshot.clusters[c].endpointNames.count else { return "upstream" }
        return "\(snapshot.clusters[c].name) endpoint \(snapshot.clusters[c].endpointNames[e])"
    }

    /// Reads a pooled TLS connection that became readable while idle: true
    /// when that was only protocol records (it stays pooled).
    func tlsIdleReadIsQuiet(_ s: TLSSession) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { b in
            s.read(b.baseAddress!, b.count) == .wantRead
        }
    }

    /// One line per failure on stderr, at most 10 a second per worker (a
    /// scan of the TLS port must not flood the log); the rest are counted
    /// and reported with the next line that gets through.
    func logTLS(_ message: String) {
        let second = loop.now / 1000
        if second != tlsLogSecond {
            tlsLogSecond = second
            tlsLogCount = 0
        }
        tlsLogCount += 1
        guard tlsLogCount <= 10 else { tlsLogSuppressed += 1; return }
        var line = "sluice: tls: \(message)"
        if tlsLogSuppressed > 0 {
            line += " (\(tlsLogSuppressed) earlier failures not logged)"
            tlsLogSuppressed = 0
        }
        line += "\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
