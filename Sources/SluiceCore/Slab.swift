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
///
/// Elements live in one manually managed buffer and are reached through
/// addressors (`subscript(index:)`), so reading or mutating one field of a
/// large element touches that field only: no copy of the element, no
/// retain of what it holds. Noncopyable, so the buffer has one owner.
public struct Slab<Element>: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<Element>
    @usableFromInline var live: UnsafeMutablePointer<Bool>
    @usableFromInline var generations: UnsafeMutablePointer<UInt32>
    @usableFromInline var capacity: Int
    /// Slots ever used (the rest of `capacity` is uninitialised).
    @usableFromInline var used = 0
    @usableFromInline var free: [Int32] = []
    @usableFromInline var _count = 0
    public var count: Int { _count }

    public init(capacity: Int = 16) {
        let c = max(1, capacity)
        self.capacity = c
        base = .allocate(capacity: c)
        live = .allocate(capacity: c)
        generations = .allocate(capacity: c)
        free.reserveCapacity(c)
    }

    deinit {
        for i in 0..<used where live[i] { (base + i).deinitialize(count: 1) }
        base.deallocate()
        live.deallocate()
        generations.deallocate()
    }

    /// Stores `value` and returns its handle. Inlinable (as `remove` is) so
    /// it is specialized for its element: generic, each call looked up type
    /// metadata and copied the element through a value witness.
    @inlinable
    public mutating func insert(_ value: consuming Element) -> SlabHandle {
        _count += 1
        if let i = free.popLast() {
            (base + Int(i)).initialize(to: value)
            live[Int(i)] = true
            return SlabHandle(index: i, generation: generations[Int(i)])
        }
        if used == capacity { grow() }
        let i = used
        used += 1
        (base + i).initialize(to: value)
        live[i] = true
        generations[i] = 1
        return SlabHandle(index: Int32(i), generation: 1)
    }

    @usableFromInline
    mutating func grow() {
        let c = capacity * 2
        let nb = UnsafeMutablePointer<Element>.allocate(capacity: c)
        nb.moveInitialize(from: base, count: used)  // freed slots hold no value; moving them is moving nothing
        let nl = UnsafeMutablePointer<Bool>.allocate(capacity: c)
        nl.initialize(from: live, count: used)
        let ng = UnsafeMutablePointer<UInt32>.allocate(capacity: c)
        ng.initialize(from: generations, count: used)
        base.deallocate(); live.deallocate(); generations.deallocate()
        base = nb; live = nl; generations = ng
        capacity = c
        free.reserveCapacity(c)
    }

    /// Whether `h` still names a live element.
    @inlinable public func contains(_ h: SlabHandle) -> Bool {
        let i = Int(h.index)
        return i >= 0 && i < used && live[i] && generations[i] == h.generation
    }

    /// The current generation of slot `index` (for handles rebuilt from tokens).
    @inlinable public func generation(at index: Int32) -> UInt32? {
        let i = Int(index)
        return i >= 0 && i < used && live[i] ? generations[i] : nil
    }

    /// A copy of the element at a live handle (nil when stale).
    public subscript(h: SlabHandle) -> Element? {
        contains(h) ? base[Int(h.index)] : nil
    }

    /// In-place access by index; the slot must be live.
    @inlinable public subscript(index i: Int32) -> Element {
        unsafeAddress {
            precondition(Int(i) < used && live[Int(i)], "slab slot not live")
            return UnsafePointer(base + Int(i))
        }
        unsafeMutableAddress {
            precondition(Int(i) < used && live[Int(i)], "slab slot not live")
            return base + Int(i)
        }
    }

    /// In-place access by index, checked only in debug builds: for slots
    /// the owner tracks itself (an exchange slot held by its connection),
    /// reached many times per request.
    @inlinable public subscript(unchecked i: Int32) -> Element {
        unsafeAddress {
            assert(Int(i) < used && live[Int(i)], "slab slot not live")
            return UnsafePointer(base + Int(i))
        }
        unsafeMutableAddress {
            assert(Int(i) < used && live[Int(i)], "slab slot not live")
            return base + Int(i)
        }
    }

    /// Frees the slot; its generation moves on, so old handles go stale.
    @inlinable @discardableResult
    public mutating func remove(_ h: SlabHandle) -> Element? {
        guard contains(h) else { return nil }
        let i = Int(h.index)
        let v = (base + i).move()
        live[i] = false
        generations[i] &+= 1
        if generations[i] == 0 { generations[i] = 1 }
        free.append(h.index)
        _count -= 1
        return v
    }

    /// Frees live slot `index`, dropping its element in place (for owners
    /// that keep indices, not handles; nothing is copied out).
    @inlinable
    public mutating func discard(index: Int32) {
        let i = Int(index)
        precondition(i < used && live[i], "slab slot not live")
        (base + i).deinitialize(count: 1)
        live[i] = false
        generations[i] &+= 1
        if generations[i] == 0 { generations[i] = 1 }
        free.append(index)
        _count -= 1
    }

    /// Handles of all live elements (for shutdown and tests; allocates).
    public var handles: [SlabHandle] {
        var out: [SlabHandle] = []
        for i in 0..<used where live[i] {
            out.append(SlabHandle(index: Int32(i), generation: generations[i]))
        }
        return out
    }
}
