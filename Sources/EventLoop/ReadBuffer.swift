/// A connection's input: a pool buffer with the unconsumed bytes in
/// `[start, end)`. Bytes before `start` may still back queued writes (slices
/// of this buffer handed to another connection's queue hold a reference), so
/// they are never overwritten: a shared buffer is left to its readers and a
/// new one taken. An idle connection holds no buffer (`id < 0`).
public struct ReadBuffer {
    public var id: BufferID = -1
    public var start = 0
    public var end = 0

    public init() {}

    public var isEmpty: Bool { start == end }
    public var count: Int { end - start }

    /// Makes room after `end` and returns how many bytes can be read there,
    /// or nil when none can be made now (the pool is at its cap, or the
    /// buffer is full of bytes nobody consumed yet). `allowLarge` lets a
    /// head that outgrew a normal buffer move to the pool's large class.
    public mutating func makeSpace(_ pool: BufferPool, allowLarge: Bool) -> Int? {
        if id < 0 {
            guard let b = pool.take() else { return nil }
            self = ReadBuffer(id: b)
            return pool.bufferSize
        }
        if start == end {
            if pool.refCount(id) == 1 && !pool.isLarge(id) {
                start = 0
                end = 0
            } else {
                pool.release(id)
                guard let b = pool.take() else { self = ReadBuffer(); return nil }
                self = ReadBuffer(id: b)
            }
            return pool.bufferSize
        }
        let cap = pool.capacity(of: id)
        if end < cap { return cap - end }
        // Full: move the unconsumed bytes to the front of a fresh buffer.
        let keep = end - start
        if start == 0 && (!allowLarge || pool.isLarge(id)) { return nil }
        let fresh: BufferID?
        if keep < pool.bufferSize { fresh = pool.take() } else if allowLarge { fresh = pool.takeLarge() } else { fresh = nil }
        guard let b = fresh else { return nil }
        pool.pointer(b).copyMemory(from: pool.pointer(id) + start, byteCount: keep)
        pool.release(id)
        self = ReadBuffer(id: b, count: keep)
        return pool.capacity(of: b) - keep
    }

    /// Gives the buffer back when nothing in it is left to consume.
    public mutating func releaseIfEmpty(_ pool: BufferPool) {
        guard id >= 0, start == end else { return }
        pool.release(id)
        self = ReadBuffer()
    }

    /// Gives the buffer back whatever it holds (connection closed).
    public mutating func release(_ pool: BufferPool) {
        if id >= 0 { pool.release(id) }
        self = ReadBuffer()
    }

    private init(id: BufferID, count: Int = 0) {
        self.id = id
        start = 0
        end = count
    }
}
