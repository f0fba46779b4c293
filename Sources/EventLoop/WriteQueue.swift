#if canImport(Glibc)
import Glibc
#endif

/// One pending piece of output: bytes at `base`, and the pool buffer that
/// owns them (released when the piece is written), or -1 for memory that
/// outlives the queue (static strings).
public struct WriteSegment {
    public var base: UnsafeRawPointer
    public var count: Int
    public var buffer: BufferID

    public init(base: UnsafeRawPointer, count: Int, buffer: BufferID) {
        self.base = base
        self.count = count
        self.buffer = buffer
    }
}

/// What a flush achieved.
public enum FlushResult: Equatable, Sendable {
    /// Everything queued was written.
    case drained
    /// The socket's send buffer is full; wait for writability.
    case pending
    case error(Int32)
}

/// A connection's bounded outgoing queue, written with writev.
///
/// Bounded twice: at most `WriteQueue.capacity` segments, and callers stop
/// reading from the other side once `bytes >= highWater` (back-pressure),
/// resuming when a flush brings it under. Partial writes and EAGAIN leave
/// the rest queued in order. Its segment ring comes from the buffer pool
/// with the first segment and goes back when the queue drains, so an idle
/// connection holds none (40 bytes instead of 416 per connection).
public struct WriteQueue {
    public static let capacity = 16
    /// `capacity` segments from the pool while anything is queued; nil when empty.
    private var ring: UnsafeMutablePointer<WriteSegment>?
    private var head = 0
    public private(set) var segments = 0
    /// Bytes queued and not yet written.
    public private(set) var bytes = 0
    public var highWater: Int

    public init(highWater: Int = 256 * 1024) {
        self.highWater = highWater
    }

    public var isEmpty: Bool { segments == 0 }
    /// True when the producer must stop (back-pressure).
    public var isFull: Bool { segments == WriteQueue.capacity || bytes >= highWater }
    public var hasRoom: Bool { segments < WriteQueue.capacity }

    /// Queues a segment; the queue takes over one reference to `buffer`.
    /// Returns false (taking nothing) when all segment slots are used.
    @discardableResult
    public mutating func append(_ s: WriteSegment, pool: BufferPool) -> Bool {
        guard segments < WriteQueue.capacity else { return false }
        guard s.count > 0 else { return true }
        if ring == nil { ring = pool.takeRing(); head = 0 }
        ring![(head + segments) & (WriteQueue.capacity - 1)] = s
        segments += 1
        bytes += s.count
        return true
    }

    /// Writes as much as the socket takes. Stops at the first short write
    /// (the send buffer is full: another writev would only say EAGAIN).
    public mutating func flush(_ fd: Int32, pool: BufferPool) -> FlushResult {
        while segments > 0, let r = ring {
            let n = min(segments, WriteQueue.capacity)
            let result: IOResult = withUnsafeTemporaryAllocation(of: iovec.self, capacity: WriteQueue.capacity) { iov in
                for k in 0..<n {
                    let s = r[(head + k) & (WriteQueue.capacity - 1)]
                    iov[k] = iovec(iov_base: UnsafeMutableRawPointer(mutating: s.base), iov_len: s.count)
                }
                return Sys.writev(fd, iov.baseAddress!, Int32(n))
            }
            switch result {
            case .bytes(let written):
                let wanted = bytes
                consume(written, pool: pool)
                if written < wanted { return .pending }
            case .wouldBlock, .eof:
                return .pending
            case .error(let e):
                return .error(e)
            }
        }
        return .drained
    }

    /// Writes through `write` (a TLS session) instead of writev: segments
    /// are gathered into `scratch` so a head and a small body go out as one
    /// record, and a segment at least as large as `scratch` is passed as it
    /// is. A retry after `.wouldBlock` passes the same leading bytes again
    /// (nothing was consumed) and no fewer of them, as TLS requires.
    public mutating func flush(pool: BufferPool, scratch: UnsafeMutableRawBufferPointer,
                               write: (UnsafeRawPointer, Int) -> IOResult) -> FlushResult {
        while segments > 0, let r = ring {
            let first = r[head & (WriteQueue.capacity - 1)]
            var base = first.base, count = first.count
            if first.count < scratch.count && segments > 1 {
                count = 0
                var k = 0
                while k < segments && count < scratch.count {
                    let s = r[(head + k) & (WriteQueue.capacity - 1)]
                    let n = min(s.count, scratch.count - count)
                    (scratch.baseAddress! + count).copyMemory(from: s.base, byteCount: n)
                    count += n
                    k += 1
                }
                base = UnsafeRawPointer(scratch.baseAddress!)
            }
            switch write(base, count) {
            case .bytes(let written):
                consume(written, pool: pool)
            case .wouldBlock, .eof:
                return .pending
            case .error(let e):
                return .error(e)
            }
        }
        return .drained
    }

    /// Drops `count` written bytes from the front, releasing finished buffers.
    private mutating func consume(_ count: Int, pool: BufferPool) {
        guard let r = ring else { return }
        var left = count
        bytes -= count
        while left > 0 {
            let i = head & (WriteQueue.capacity - 1)
            let s = r[i]
            if left >= s.count {
                left -= s.count
                if s.buffer >= 0 { pool.release(s.buffer) }
                head = (head + 1) & (WriteQueue.capacity - 1)
                segments -= 1
            } else {
                r[i].base = s.base + left
                r[i].count = s.count - left
                left = 0
            }
        }
        if segments == 0 { giveBackRing(pool) }
    }

    /// Releases everything queued without writing it (connection closed).
    public mutating func discard(pool: BufferPool) {
        if let r = ring {
            while segments > 0 {
                let s = r[head & (WriteQueue.capacity - 1)]
                if s.buffer >= 0 { pool.release(s.buffer) }
                head = (head + 1) & (WriteQueue.capacity - 1)
                segments -= 1
            }
        }
        bytes = 0
        giveBackRing(pool)
    }

    private mutating func giveBackRing(_ pool: BufferPool) {
        if let r = ring { pool.returnRing(r) }
        ring = nil
        head = 0
    }
}
