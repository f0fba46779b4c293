/// A handle into a `Slab`: an index plus the generation it was issued for,
/// packed into 64 bits so it fits an epoll registration's user data.
public struct SlabHandle: Hashable, Sendable {
    public let index: Int32
    public let generation: UInt32

    public init(index: Int32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }

    @inlinable public var packed: UInt64 { UInt64(generation) << 32 | UInt64(UInt32(bitPattern: index)) }

    @inlinable public init(packed: UInt64) {
        index = Int32(bitPattern: UInt32(truncatingIfNeeded: packed))
        generation = UInt32(truncatingIfNeeded: packed >> 32)
    }
}

/// Values reached by small integer index, with a generation per slot so a
/// stale handle (an event for an fd since closed and reused) is detected
/// instead of reaching the new occupant. Freed slots are reused LIFO; the
/// storage only grows. Not thread-safe: owned by one loop.
public struct Slab<Element> {
    @usableFromInline var values: [Element?] = []
    @usableFromInline var generations: [UInt32] = []
    @usableFromInline var free: [Int32] = []
    public private(set) var count = 0

    public init(capacity: Int = 0) {
        values.reserveCapacity(capacity)
        generations.reserveCapacity(capacity)
        free.reserveCapacity(capacity)
    }

    /// Stores `value` and returns its handle.
    public mutating func insert(_ value: Element) -> SlabHandle {
        count += 1
        if let i = free.popLast() {
            values[Int(i)] = value
            return SlabHandle(index: i, generation: generations[Int(i)])
        }
        values.append(value)
        generations.append(1)
        return SlabHandle(index: Int32(values.count - 1), generation: 1)
    }

    /// Whether `h` still names a live element.
    @inlinable public func contains(_ h: SlabHandle) -> Bool {
        let i = Int(h.index)
        return i >= 0 && i < values.count && generations[i] == h.generation && values[i] != nil
    }

    /// The current generation of slot `index` (for handles rebuilt from tokens).
    @inlinable public func generation(at index: Int32) -> UInt32? {
        let i = Int(index)
        return i >= 0 && i < values.count && values[i] != nil ? generations[i] : nil
    }

    /// The element at a live handle (nil when stale).
    public subscript(h: SlabHandle) -> Element? {
        get { contains(h) ? values[Int(h.index)] : nil }
    }

    /// In-place access by index; the slot must be live.
    @inlinable public subscript(index i: Int32) -> Element {
        _read { yield values[Int(i)]! }
        _modify { yield &values[Int(i)]! }
    }

    /// Frees the slot; its generation moves on, so old handles go stale.
    @discardableResult
    public mutating func remove(_ h: SlabHandle) -> Element? {
        guard contains(h) else { return nil }
        let i = Int(h.index)
        let v = values[i]
        values[i] = nil
        generations[i] &+= 1
        if generations[i] == 0 { generations[i] = 1 }
        free.append(h.index)
        count -= 1
        return v
    }

    /// Handles of all live elements (for shutdown and tests; allocates).
    public var handles: [SlabHandle] {
        var out: [SlabHandle] = []
        for i in 0..<values.count where values[i] != nil {
            out.append(SlabHandle(index: Int32(i), generation: generations[i]))
        }
        return out
    }
}
