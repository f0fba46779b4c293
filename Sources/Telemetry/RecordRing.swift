import Synchronization

/// A single-producer, single-consumer ring of request records: the worker
/// pushes (never blocking, never allocating), the exporter thread pops. A
/// full ring drops the record and counts it: the data plane never waits
/// for the monitor.
public final class RecordRing: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<RequestRecord>
    public let capacity: Int
    private let head = Atomic<Int>(0)   // next to pop (consumer)
    private let tail = Atomic<Int>(0)   // next to push (producer)
    /// Records the ring had no room for (written by the producer only).
    public let dropped = Atomic<UInt64>(0)

    public init(capacity: Int = 8192) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: RequestRecord(), count: capacity)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Producer side (the worker). Returns false when the record was dropped.
    @inline(__always) @discardableResult
    public func push(_ r: borrowing RequestRecord) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t - head.load(ordering: .acquiring) >= capacity {
            dropped.store(dropped.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
            return false
        }
        slots[t % capacity] = copy r
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Consumer side (the exporter): hands every waiting record to `body`.
    public func drain(_ body: (borrowing RequestRecord) -> Void) -> Int {
        let h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        var i = h
        while i < t {
            body(slots[i % capacity])
            i += 1
        }
        head.store(t, ordering: .releasing)
        return t - h
    }
}

/// Records being built, one per client slot, in place (no copy-on-write
/// checks per field as an Array would make). Owned by one worker.
public struct RecordDrafts: ~Copyable {
    private var base: UnsafeMutablePointer<RequestRecord>
    public private(set) var count: Int

    public init(capacity: Int = 64) {
        count = max(1, capacity)
        base = .allocate(capacity: count)
        base.initialize(repeating: RequestRecord(), count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    /// Makes index `i` valid (doubling; only when a new slot index appears).
    public mutating func reserve(_ i: Int) {
        guard i >= count else { return }
        var n = count
        while n <= i { n *= 2 }
        let nb = UnsafeMutablePointer<RequestRecord>.allocate(capacity: n)
        nb.moveInitialize(from: base, count: count)
        (nb + count).initialize(repeating: RequestRecord(), count: n - count)
        base.deallocate()
        base = nb
        count = n
    }

    public subscript(i: Int) -> RequestRecord {
        unsafeAddress { UnsafePointer(base + i) }
        unsafeMutableAddress { base + i }
    }
}
