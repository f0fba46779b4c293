import EventLoop
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The syscall seam: injected EAGAIN, EINTR, short writes and resets must
/// leave the write queue consistent and the bytes in order.
final class FaultInjectionTests: XCTestCase {
    private var fds: [Int32] = [-1, -1]

    override func setUp() {
        super.setUp()
        Sys.ignoreSIGPIPE()
        fds = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds), 0)
    }

    override func tearDown() {
        FaultInjector.clear()
        for fd in fds where fd >= 0 { Glibc.close(fd) }
        super.tearDown()
    }

    private func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, 4096) }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    private func queue(_ pool: BufferPool, _ pieces: [String]) -> WriteQueue {
        var q = WriteQueue()
        for p in pieces {
            let id = pool.take()!
            let bytes = Array(p.utf8)
            bytes.withUnsafeBytes { pool.pointer(id).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            XCTAssertTrue(q.append(WriteSegment(base: pool.pointer(id), count: bytes.count, buffer: id), pool: pool))
        }
        return q
    }

    #if DEBUG
    func testShortWritesKeepOrderAndReleaseBuffers() {
        let pool = BufferPool(bufferSize: 64)
        var q = queue(pool, ["hello ", "wide ", "world"])
        FaultInjector.inject([.short(3), .short(4)], .write, fd: fds[0])
        XCTAssertEqual(q.flush(fds[0], pool: pool), .pending)
        XCTAssertEqual(q.bytes, 16 - 3)
        XCTAssertEqual(q.flush(fds[0], pool: pool), .pending)
        XCTAssertEqual(q.bytes, 16 - 6, "a short write never spans past the first segment here")
        XCTAssertEqual(pool.inUse, 2, "the first buffer was fully written and released")
        XCTAssertEqual(q.flush(fds[0], pool: pool), .drained)
        XCTAssertEqual(pool.inUse, 0)
        XCTAssertEqual(String(decoding: readAll(fds[1]), as: UTF8.self), "hello wide world")
    }

    func testEAGAINLeavesEverythingQueued() {
        let pool = BufferPool(bufferSize: 64)
        var q = queue(pool, ["abc", "def"])
        FaultInjector.inject([.eagain], .write, fd: fds[0])
        XCTAssertEqual(q.flush(fds[0], pool: pool), .pending)
        XCTAssertEqual(q.bytes, 6)
        XCTAssertEqual(q.flush(fds[0], pool: pool), .drained)
        XCTAssertEqual(String(decoding: readAll(fds[1]), as: UTF8.self), "abcdef")
    }

    func testEINTRIsRetriedTransparently() {
        let pool = BufferPool(bufferSize: 64)
        var q = queue(pool, ["xyz"])
        FaultInjector.inject([.eintr], .write, fd: fds[0])
        XCTAssertEqual(q.flush(fds[0], pool: pool), .drained)
        FaultInjector.inject([.eintr], .read, fd: fds[1])
        var buf = [UInt8](repeating: 0, count: 8)
        let r = buf.withUnsafeMutableBytes { Sys.read(fds[1], $0.baseAddress!, 8) }
        XCTAssertEqual(r, .bytes(3))
    }

    func testResetIsAnErrorAndDiscardReleases() {
        let pool = BufferPool(bufferSize: 64)
        var q = queue(pool, ["abc", "def"])
        FaultInjector.inject([.reset], .write, fd: fds[0])
        guard case .error = q.flush(fds[0], pool: pool) else { return XCTFail("reset not reported") }
        q.discard(pool: pool)
        XCTAssertEqual(pool.inUse, 0)
        XCTAssertTrue(q.isEmpty)
        FaultInjector.inject([.reset, .eagain], .read, fd: fds[1])
        var buf = [UInt8](repeating: 0, count: 8)
        guard case .error = buf.withUnsafeMutableBytes({ Sys.read(fds[1], $0.baseAddress!, 8) }) else { return XCTFail() }
        XCTAssertEqual(buf.withUnsafeMutableBytes { Sys.read(fds[1], $0.baseAddress!, 8) }, .wouldBlock)
    }
    #endif

    /// A real full socket buffer: writev takes part, the rest waits.
    func testRealPartialWriteOnFullSocket() {
        let pool = BufferPool(bufferSize: 65536)
        Sys.setBufferSizes(fds[0], send: 4096)
        var q = WriteQueue(highWater: 1 << 30)
        var expected: [UInt8] = []
        for k in 0..<8 {
            let id = pool.take()!
            let p = pool.pointer(id).assumingMemoryBound(to: UInt8.self)
            for i in 0..<65536 { p[i] = UInt8((i &* 31 &+ k) & 0xFF) }
            expected.append(contentsOf: UnsafeBufferPointer(start: p, count: 65536))
            q.append(WriteSegment(base: UnsafeRawPointer(p), count: 65536, buffer: id), pool: pool)
        }
        var got: [UInt8] = []
        var partials = 0
        var rounds = 0
        while !q.isEmpty && rounds < 100_000 {
            rounds += 1
            switch q.flush(fds[0], pool: pool) {
            case .pending: partials += 1
            case .drained: break
            case .error(let e): return XCTFail("errno \(e)")
            }
            got.append(contentsOf: readAll(fds[1]))
        }
        got.append(contentsOf: readAll(fds[1]))
        XCTAssertGreaterThan(partials, 0)
        XCTAssertEqual(got.count, expected.count)
        XCTAssertTrue(got == expected)
        XCTAssertEqual(pool.inUse, 0)
    }

    func testQueueRefusesBeyondCapacity() {
        let pool = BufferPool(bufferSize: 16)
        var q = WriteQueue()
        for _ in 0..<WriteQueue.capacity {
            let id = pool.take()!
            XCTAssertTrue(q.append(WriteSegment(base: pool.pointer(id), count: 1, buffer: id), pool: pool))
        }
        XCTAssertTrue(q.isFull)
        let extra = pool.take()!
        XCTAssertFalse(q.append(WriteSegment(base: pool.pointer(extra), count: 1, buffer: extra), pool: pool))
        pool.release(extra)
        q.discard(pool: pool)
        XCTAssertEqual(pool.inUse, 0)
    }

    func testPoolCapIsBackPressureNotMalloc() {
        let pool = BufferPool(bufferSize: 32, maxBuffers: 4, perChunk: 2)
        let ids = (0..<4).compactMap { _ in pool.take() }
        XCTAssertEqual(ids.count, 4)
        XCTAssertNil(pool.take())
        pool.release(ids[0])
        XCTAssertNotNil(pool.take())
        XCTAssertEqual(pool.allocated, 4)
    }
}
