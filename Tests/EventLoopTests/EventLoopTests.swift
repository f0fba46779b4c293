import EventLoop
import SluiceCore
import Synchronization
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class EventLoopTests: XCTestCase {
    override class func setUp() {
        super.setUp()
        Sys.ignoreSIGPIPE()
        Sys.raiseFileLimit()
    }

    /// 2,000 connections open at once on one loop, each echoed correctly.
    func testTwoThousandConcurrentConnections() throws {
        XCTAssertGreaterThan(Sys.raiseFileLimit(), 4200, "needs file descriptors for both ends")
        let server = try EchoServerThread()
        defer { server.stop() }
        let clientLoop = try EventLoop()
        let clients = try ManyClients(loop: clientLoop, port: server.port, count: 2000)
        defer { clients.closeAll() }
        let deadline = DispatchTime.now().uptimeNanoseconds + 30_000_000_000
        while clients.completed + clients.failures < 2000 && DispatchTime.now().uptimeNanoseconds < deadline {
            clientLoop.runOnce(clients)
        }
        XCTAssertEqual(clients.failures, 0)
        XCTAssertEqual(clients.completed, 2000)
        XCTAssertEqual(server.stats.peakOpen.load(ordering: .relaxed), 2000, "all 2,000 were open at once")
        clients.closeAll()
        XCTAssertTrue(waitUntil(10) { server.stats.open.load(ordering: .relaxed) == 0 }, "server saw every close")
    }

    /// A client that writes fast and reads slowly: the server's queue fills,
    /// it stops reading (back-pressure) instead of buffering, its pool stays
    /// small, and every byte still arrives intact once the client reads.
    func testSlowReaderBackpressureKeepsMemoryBounded() throws {
        let server = try EchoServerThread(highWater: 64 * 1024)
        defer { server.stop() }
        let client = try BlockingClient(port: server.port, receiveBuffer: 16 * 1024)
        defer { client.close() }
        let total = 24 * 1024 * 1024
        var payload = [UInt8](repeating: 0, count: total)
        var rng = FastRandom(seed: 99)
        for i in stride(from: 0, to: total, by: 8) {
            let v = rng.next()
            withUnsafeBytes(of: v) { for k in 0..<8 where i + k < total { payload[i + k] = $0[k] } }
        }
        let sent = payload
        let writer = WorkerThread(name: "writer") { try? client.send(sent) }
        // Do not read for a while: the server must pause rather than buffer.
        XCTAssertTrue(waitUntil(10) { server.stats.pausedCount.load(ordering: .relaxed) > 0 }, "server never applied back-pressure")
        usleep(200_000)
        let echoedWhilePaused = server.stats.bytesEchoed.load(ordering: .relaxed)
        XCTAssertLessThan(echoedWhilePaused, 8 * 1024 * 1024, "server kept reading a client it could not write to")
        // Now read everything back, slowly at first.
        var received: [UInt8] = []
        received.reserveCapacity(total)
        while received.count < total {
            let chunk = try client.receive(min(256 * 1024, total - received.count))
            received.append(contentsOf: chunk)
            if received.count < 2 * 1024 * 1024 { usleep(5000) }
        }
        writer.join()
        XCTAssertEqual(received.count, total)
        XCTAssertTrue(received == payload, "echoed bytes differ")
        // Queue bound: 64 KiB high water, 16 segments of at most one 16 KiB buffer each.
        let peak = server.stats.poolHighWater.load(ordering: .relaxed)
        XCTAssertLessThanOrEqual(peak, WriteQueue.capacity + 2, "pool grew to \(peak) buffers")
    }

    /// Timers armed on a running loop fire once, not before their deadline;
    /// cancelled ones never fire.
    func testTimersFireAndCancelledOnesDoNot() throws {
        final class TimerProbe: LoopHandler {
            let loop: EventLoop
            var deadlines: [Int: Millis] = [:]
            var fired: [Int: Millis] = [:]
            init(loop: EventLoop) { self.loop = loop }
            func onEvent(_ token: UInt64, _ events: IOEvents) {}
            func onTimer(_ id: Int) {
                XCTAssertNil(fired[id], "timer \(id) fired twice")
                fired[id] = loop.now
            }
            func onTickEnd() {}
        }
        let loop = try EventLoop()
        let probe = TimerProbe(loop: loop)
        let start = loop.now
        for id in 0..<2000 {
            let d = start + 20 + Millis(id % 100)
            probe.deadlines[id] = d
            loop.timers.arm(id, at: d)
        }
        for id in stride(from: 0, to: 2000, by: 2) { loop.timers.cancel(id) }
        let end = DispatchTime.now().uptimeNanoseconds + 2_000_000_000
        while probe.fired.count < 1000 && DispatchTime.now().uptimeNanoseconds < end { loop.runOnce(probe) }
        XCTAssertEqual(probe.fired.count, 1000)
        for (id, at) in probe.fired {
            XCTAssertEqual(id % 2, 1, "cancelled timer \(id) fired")
            XCTAssertGreaterThanOrEqual(at, probe.deadlines[id]!)
        }
        XCTAssertEqual(loop.timers.armedCount, 0)
    }

    /// The loop sleeps in epoll_wait for up to 10 s; a task posted from
    /// another thread must wake it at once (eventfd).
    func testWakeUpFromAnotherThread() throws {
        final class Idle: LoopHandler {
            func onEvent(_ token: UInt64, _ events: IOEvents) {}
            func onTimer(_ id: Int) {}
            func onTickEnd() {}
        }
        let loop = try EventLoop()
        loop.maxWaitMillis = 10_000
        let ranOn = Locked<UInt64>(0)
        let t = WorkerThread(name: "loop") { loop.run(Idle()) }
        usleep(100_000)  // let it block in epoll_wait
        let posted = DispatchTime.now().uptimeNanoseconds
        loop.execute { ranOn.withLock { $0 = DispatchTime.now().uptimeNanoseconds } }
        XCTAssertTrue(waitUntil(2) { ranOn.withLock { $0 } != 0 })
        let latencyMs = Double(ranOn.withLock { $0 } - posted) / 1e6
        XCTAssertLessThan(latencyMs, 500, "task waited \(latencyMs) ms")
        let stopAt = DispatchTime.now().uptimeNanoseconds
        loop.stop()
        t.join()
        XCTAssertLessThan(Double(DispatchTime.now().uptimeNanoseconds - stopAt) / 1e6, 500, "stop is prompt")
    }

    /// Many tasks from many threads all run, each once.
    func testTasksFromManyThreads() throws {
        final class Idle: LoopHandler {
            func onEvent(_ token: UInt64, _ events: IOEvents) {}
            func onTimer(_ id: Int) {}
            func onTickEnd() {}
        }
        let loop = try EventLoop()
        let count = Atomic<Int>(0)
        let t = WorkerThread(name: "loop") { loop.run(Idle()) }
        let posters = (0..<4).map { _ in
            WorkerThread(name: "poster") { for _ in 0..<1000 { loop.execute { count.add(1, ordering: .relaxed) } } }
        }
        for p in posters { p.join() }
        XCTAssertTrue(waitUntil(5) { count.load(ordering: .relaxed) == 4000 })
        loop.stop()
        t.join()
    }

    /// Two workers, each with its own SO_REUSEPORT listener on one port: the
    /// kernel spreads connections, and the group stops in order.
    func testWorkerGroupSharesAPortAndStops() throws {
        let group = try WorkerGroup(count: 2)
        let probe = try Sys.listen(SocketAddress("127.0.0.1:0")!)
        let port = SocketAddress.local(of: probe)!.port
        let listeners = try (0..<2).map { _ in try Sys.listen(SocketAddress(host: "127.0.0.1", port: port)!) }
        Sys.close(probe)
        let stats = (0..<2).map { _ in EchoServer.Stats() }
        group.start { i, loop in try! EchoServer(loop: loop, listener: listeners[i], stats: stats[i]) }
        var clients: [BlockingClient] = []
        for i in 0..<200 {
            let c = try BlockingClient(port: port)
            try c.send(Array("ping \(i)\n".utf8))
            let back = try c.receive("ping \(i)\n".utf8.count)
            XCTAssertEqual(back, Array("ping \(i)\n".utf8))
            clients.append(c)
        }
        let a = stats[0].accepted.load(ordering: .relaxed), b = stats[1].accepted.load(ordering: .relaxed)
        XCTAssertEqual(a + b, 200)
        XCTAssertGreaterThan(a, 0, "worker 0 accepted nothing")
        XCTAssertGreaterThan(b, 0, "worker 1 accepted nothing")
        for c in clients { c.close() }
        group.stopAndJoin()
        for l in listeners { Sys.close(l) }
    }
}
