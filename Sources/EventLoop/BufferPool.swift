/// Index of a buffer in a `BufferPool`; -1 means none.
public typealias BufferID = Int32

/// Fixed-size I/O buffers for one loop, allocated in chunks and recycled,
/// so reads and writes allocate nothing once warm. Buffers carry a
/// reference count so one read buffer can back several queued writes
/// (slices of a head, say). `take` returns nil past `maxBuffers`: that is
/// back-pressure, never a malloc on the request path.
///
/// Not thread-safe: owned by one loop.
public final class BufferPool {
    /// Ids at or above this belong to the large size class (`large`).
    public static let largeBase: BufferID = 1 << 28
    /// An optional second size class for the rare big head; its buffers are
    /// reached through this pool with ids offset by `largeBase`.
    public internal(set) var large: BufferPool?
    public let bufferSize: Int
    public let maxBuffers: Int
    // Internal but visible to inlined code: `pointer`, `retain` and
    // `release` run several times per request from the proxy module.
    @usableFromInline let perChunk: Int
    @usableFromInline var chunks: [UnsafeMutableRawPointer] = []
    @usableFromInline var free: [BufferID] = []
    @usableFromInline var refs: [UInt32] = []
    public private(set) var inUse = 0
    /// The most buffers ever in use at once.
    public private(set) var highWater = 0

    public init(bufferSize: Int = 16384, maxBuffers: Int = 1 << 20, perChunk: Int = 64) {
        self.bufferSize = bufferSize
        self.maxBuffers = maxBuffers
        self.perChunk = perChunk
    }

    /// Write queues' segment rings: a free list threaded through the free
    /// rings themselves (no Array traffic per request), filled a chunk at a
    /// time and never shrunk (like the buffers).
    private var freeRing: UnsafeMutablePointer<WriteSegment>?
    private var ringChunks: [UnsafeMutablePointer<WriteSegment>] = []
    public private(set) var ringsOut = 0

    deinit {
        for c in chunks { c.deallocate() }
        for c in ringChunks { c.deallocate() }
    }

    /// A ring of `WriteQueue.capacity` segments (contents undefined).
    public func takeRing() -> UnsafeMutablePointer<WriteSegment> {
        if freeRing == nil {
            let per = 64, n = WriteQueue.capacity
            let chunk = UnsafeMutablePointer<WriteSegment>.allocate(capacity: per * n)
            ringChunks.append(chunk)
            for k in 0..<per { returnRing(chunk + k * n) }
            ringsOut += per
        }
        let r = freeRing!
        // The next free ring's address is kept in the first segment's base.
        freeRing = UnsafeRawPointer(r).load(as: UnsafeMutablePointer<WriteSegment>?.self)
        ringsOut += 1
        return r
    }

    public func returnRing(_ r: UnsafeMutablePointer<WriteSegment>) {
        UnsafeMutableRawPointer(r).storeBytes(of: freeRing, as: UnsafeMutablePointer<WriteSegment>?.self)
        freeRing = r
        ringsOut -= 1
    }

    /// Buffers allocated so far (in use or free).
    public var allocated: Int { refs.count }

    /// A buffer with a reference count of one, or nil when the pool is at its cap.
    public func take() -> BufferID? {
        if free.isEmpty {
            guard refs.count < maxBuffers else { return nil }
            grow()
        }
        let id = free.removeLast()
        refs[Int(id)] = 1
        inUse += 1
        if inUse > highWater { highWater = inUse }
        return id
    }

    /// Adds a large size class of `size`-byte buffers (at most `max`).
    public func enableLarge(size: Int, max: Int) {
        precondition(large == nil)
        large = BufferPool(bufferSize: size, maxBuffers: max, perChunk: 4)
    }

    /// A buffer of the large class (nil when none is configured or at its cap).
    public func takeLarge() -> BufferID? {
        guard let l = large, let id = l.take() else { return nil }
        return id + BufferPool.largeBase
    }

    @inline(__always)
    public func isLarge(_ id: BufferID) -> Bool { id >= BufferPool.largeBase }

    /// The size of buffer `id`.
    @inline(__always)
    public func capacity(of id: BufferID) -> Int { isLarge(id) ? large!.bufferSize : bufferSize }

    @inlinable @inline(__always)
    public func retain(_ id: BufferID) {
        if isLarge(id) { return retainLarge(id) }
        refs[Int(id)] += 1
    }

    /// References held on `id` (1 means only its taker).
    public func refCount(_ id: BufferID) -> UInt32 {
        isLarge(id) ? large!.refCount(id - BufferPool.largeBase) : refs[Int(id)]
    }

    @inlinable @inline(__always)
    public func release(_ id: BufferID) {
        if isLarge(id) { large!.releaseSlow(id - BufferPool.largeBase); return }
        let i = Int(id)
        precondition(refs[i] > 0, "buffer released twice")
        refs[i] -= 1
        if refs[i] == 0 { recycle(id) }
    }

    /// Back on the free list (the last reference went).
    @usableFromInline func recycle(_ id: BufferID) {
        free.append(id)
        inUse -= 1
    }

    @usableFromInline func retainLarge(_ id: BufferID) { large!.retain(id - BufferPool.largeBase) }

    @usableFromInline func largePointer(_ id: BufferID) -> UnsafeMutableRawPointer {
        large!.pointer(id - BufferPool.largeBase)
    }

    /// Not inlined: the large class's release, off the common path.
    @usableFromInline func releaseSlow(_ id: BufferID) { release(id) }

    @inlinable @inline(__always)
    public func pointer(_ id: BufferID) -> UnsafeMutableRawPointer {
        // The large class out of line: a recursive call here kept this from inlining.
        if id >= BufferPool.largeBase { return largePointer(id) }
        let i = Int(id)
        return chunks[i / perChunk] + (i % perChunk) * bufferSize
    }

    private func grow() {
        let n = min(perChunk, maxBuffers - refs.count)
        // 64-byte alignment keeps buffers on their own cache lines.
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: perChunk * bufferSize, alignment: 64)
        chunks.append(chunk)
        let first = refs.count
        refs.append(contentsOf: repeatElement(0, count: n))
        free.reserveCapacity(refs.count)
        // Push in reverse so the lowest id is handed out first.
        for k in stride(from: first + n - 1, through: first, by: -1) { free.append(BufferID(k)) }
    }
}
