import EventLoop
import SluiceCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A test echo server on the real loop: edge-triggered connections, pooled
/// read buffers, a bounded write queue and back-pressure (it stops reading a
/// client whose echoes it cannot write). It exercises every loop facility
/// the proxy will use, without HTTP.
final class EchoServer: LoopHandler {
    struct Conn {
        var fd: Int32
        var out: WriteQueue
        /// Reading stopped because `out` is full.
        var paused = false
        var peerClosed = false
        var closed = false
    }

    let loop: EventLoop
    let listener: Int32
    var conns = Slab<Conn>()
    private var dead: [SlabHandle] = []
    let highWater: Int
    /// Shared with the test thread.
    let stats: Stats

    final class Stats: Sendable {
        let accepted = Atomic<Int>(0)
        let open = Atomic<Int>(0)
        let peakOpen = Atomic<Int>(0)
        let bytesEchoed = Atomic<Int>(0)
        let pausedCount = Atomic<Int>(0)
        let poolHighWater = Atomic<Int>(0)
    }

    static let listenerToken: UInt64 = 0  // slab handles never have generation 0

    init(loop: EventLoop, listener: Int32, highWater: Int = 64 * 1024, stats: Stats) throws {
        self.loop = loop
        self.listener = listener
        self.highWater = highWater
        self.stats = stats
        try loop.register(listener, token: EchoServer.listenerToken, interest: .readable)
    }

    func onEvent(_ token: UInt64, _ events: IOEvents) {
        if token == EchoServer.listenerToken { acceptAll(); return }
        let h = SlabHandle(packed: token)
        guard conns.contains(h), !conns[index: h.index].closed else { return }
        if events.contains(.writable) { flush(h) }
        if events.contains(.readable) || events.contains(.readHangup) { readAll(h) }
    }

    func onTimer(_ id: Int) {}

    func onTickEnd() {
        for h in dead { conns.remove(h) }
        dead.removeAll(keepingCapacity: true)
        stats.poolHighWater.store(loop.pool.highWater, ordering: .relaxed)
    }

    private func acceptAll() {
        while case .bytes(let raw) = Sys.accept(listener) {
            let fd = Int32(raw)
            Sys.setNoDelay(fd)
            let h = conns.insert(Conn(fd: fd, out: WriteQueue(highWater: highWater)))
            do { try loop.register(fd, token: h.packed, interest: .edgeTriggered) } catch {
                conns.remove(h)
                Sys.close(fd)
                continue
            }
            stats.accepted.add(1, ordering: .relaxed)
            let open = stats.open.add(1, ordering: .relaxed).newValue
            if open > stats.peakOpen.load(ordering: .relaxed) { stats.peakOpen.store(open, ordering: .relaxed) }
        }
    }

    private func readAll(_ h: SlabHandle) {
        let pool = loop.pool
        while true {
            if conns[index: h.index].out.isFull {
                if !conns[index: h.index].paused { stats.pausedCount.add(1, ordering: .relaxed) }
                conns[index: h.index].paused = true
                return
            }
            guard let buf = pool.take() else { conns[index: h.index].paused = true; return }
            let fd = conns[index: h.index].fd
            switch Sys.read(fd, pool.pointer(buf), pool.bufferSize) {
            case .bytes(let n):
                conns[index: h.index].out.append(WriteSegment(base: pool.pointer(buf), count: n, buffer: buf), pool: pool)
                stats.bytesEchoed.add(n, ordering: .relaxed)
                flush(h)
                if conns[index: h.index].closed { return }
                if n < pool.bufferSize { return }  // a short read: the socket is drained
            case .eof:
                pool.release(buf)
                conns[index: h.index].peerClosed = true
                if conns[index: h.index].out.isEmpty { close(h) }
                return
            case .wouldBlock:
                pool.release(buf)
                return
            case .error:
                pool.release(buf)
                close(h)
                return
            }
        }
    }

    private func flush(_ h: SlabHandle) {
        let fd = conns[index: h.index].fd
        switch conns[index: h.index].out.flush(fd, pool: loop.pool) {
        case .drained:
            if conns[index: h.index].peerClosed { close(h); return }
            if conns[index: h.index].paused {
                // Edge-triggered: the readable edge may be long gone, so read now.
                conns[index: h.index].paused = false
                readAll(h)
            }
        case .pending:
            if conns[index: h.index].paused && !conns[index: h.index].out.isFull {
                conns[index: h.index].paused = false
                readAll(h)
            }
        case .error:
            close(h)
        }
    }

    private func close(_ h: SlabHandle) {
        guard !conns[index: h.index].closed else { return }
        conns[index: h.index].closed = true
        conns[index: h.index].out.discard(pool: loop.pool)
        Sys.close(conns[index: h.index].fd)
        dead.append(h)
        stats.open.subtract(1, ordering: .relaxed)
    }

    /// Closes the listener and every connection (on the loop thread, at stop).
    func shutdown() {
        Sys.close(listener)
        for h in conns.handles { close(h) }
        onTickEnd()
    }
}

/// Starts an echo server on its own loop thread, on 127.0.0.1 and a free port.
final class EchoServerThread: @unchecked Sendable {
    let loop: EventLoop
    let port: UInt16
    let stats = EchoServer.Stats()
    private var thread: WorkerThread?

    init(highWater: Int = 64 * 1024, bufferSize: Int = 16384) throws {
        loop = try EventLoop(bufferSize: bufferSize)
        let fd = try Sys.listen(SocketAddress("127.0.0.1:0")!, backlog: 4096)
        port = SocketAddress.local(of: fd)!.port
        let loop = self.loop, stats = self.stats
        let ready = Locked(false)
        thread = WorkerThread(name: "echo") {
            let server = try! EchoServer(loop: loop, listener: fd, highWater: highWater, stats: stats)
            ready.withLock { $0 = true }
            loop.run(server)
            server.shutdown()
        }
        while !ready.withLock({ $0 }) { usleep(1000) }
    }

    func stop() {
        loop.stop()
        thread?.join()
        thread = nil
    }

    deinit { stop() }
}
