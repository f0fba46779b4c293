import Config
import CSysShim
import EventLoop
import SluiceCore
import TLS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One endpoint's health, written by the health checker, read by workers
/// (a relaxed load on the request path).
public final class HealthFlag: Sendable {
    private let up = Atomic<Bool>(true)
    public init() {}
    @inline(__always) public var isHealthy: Bool { up.load(ordering: .relaxed) }
    func set(_ v: Bool) { up.store(v, ordering: .relaxed) }
}

/// Active health checks (SPEC §3 `health_check`): on a thread of its own,
/// each endpoint of a cluster that configures checks gets `GET path` every
/// `interval`; `unhealthy_threshold` failures in a row mark it down,
/// `healthy_threshold` successes bring it back. A success is a 2xx within
/// `timeout`. Checks are blocking and sequential (they never touch a
/// worker); endpoints start healthy.
public final class HealthChecker: @unchecked Sendable {
    private let store: SnapshotStore
    private let stopping = Atomic<Bool>(false)
    private var thread: WorkerThread?
    /// Completed check rounds (for tests).
    public let rounds = Atomic<Int>(0)

    public init(store: SnapshotStore) { self.store = store }

    public func start() {
        guard thread == nil else { return }
        thread = WorkerThread(name: "sluice-health") { [self] in run() }
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        thread?.join()
        thread = nil
    }

    private struct Streak { var ok = 0; var fail = 0 }

    private func run() {
        var streaks: [String: Streak] = [:]
        var nextDue: [String: Millis] = [:]
        while !stopping.load(ordering: .relaxed) {
            let snap = store.load()
            let now = sl_coarse_ms()
            var any = false
            for (ci, c) in snap.clusters.enumerated() {
                guard let hc = snap.config.clusters[ci].healthCheck else { continue }
                any = true
                for (ei, addr) in c.addresses.enumerated() {
                    let key = "\(c.name)/\(ei)/\(addr)"
                    if let due = nextDue[key], due > now { continue }
                    nextDue[key] = now + hc.interval
                    let ok = probe(addr, host: c.endpointNames[ei], tlsHost: c.endpointHosts[ei], tls: c.tls, path: hc.path, timeout: hc.timeout)
                    var s = streaks[key] ?? Streak()
                    if ok { s.ok += 1; s.fail = 0 } else { s.fail += 1; s.ok = 0 }
                    streaks[key] = s
                    let flag = c.health[ei]
                    if flag.isHealthy && s.fail >= hc.unhealthyThreshold { flag.set(false) }
                    if !flag.isHealthy && s.ok >= hc.healthyThreshold { flag.set(true) }
                    if stopping.load(ordering: .relaxed) { return }
                }
            }
            if any { rounds.add(1, ordering: .relaxed) }
            usleep(any ? 20_000 : 200_000)
        }
    }

    /// One check: connect, send the request, read the status line.
    /// One blocking GET on this thread (never a worker's), over TLS when
    /// the cluster originates it: a 2xx status line is healthy.
    private func probe(_ addr: SocketAddress, host: String, tlsHost: String, tls: TLSClient?, path: String, timeout: Millis) -> Bool {
        let fd = socket(addr.family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout / 1000), tv_usec: Int((timeout % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard addr.withSockAddr({ connect(fd, $0, $1) }) == 0 else { return false }
        var session: TLSSession?
        if let tls {
            // A blocking socket: the handshake completes or fails (or times out) here.
            guard let s = TLSSession.connect(tls, fd: fd, host: tlsHost) else { return false }
            session = s
            guard s.handshake() == .ok(0) else { s.free(graceful: false); return false }
        }
        defer { session?.free(graceful: true) }
        let req = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: sluice-health\r\nConnection: close\r\n\r\n".utf8)
        let sent = req.withUnsafeBytes { b -> Int in
            if let s = session { if case .ok(let n) = s.write(b.baseAddress!, b.count) { return n }; return -1 }
            return send(fd, b.baseAddress!, b.count, Int32(MSG_NOSIGNAL))
        }
        guard sent == req.count else { return false }
        var buf = [UInt8](repeating: 0, count: 64)
        var got = 0
        while got < 12 {
            let n = buf.withUnsafeMutableBytes { b -> Int in
                if let s = session { if case .ok(let n) = s.read(b.baseAddress! + got, 64 - got) { return n }; return -1 }
                return recv(fd, b.baseAddress! + got, 64 - got, 0)
            }
            if n <= 0 { return false }
            got += n
        }
        // "HTTP/1.x 2xx"
        return buf[0] == UInt8(ascii: "H") && buf[9] == UInt8(ascii: "2")
    }
}
