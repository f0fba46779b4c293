/// A hashed timer wheel: O(1) arm, re-arm and cancel, for tens of thousands
/// of timeouts (header, idle, request, connect) on one loop.
///
/// Timers are identified by small integers the owner chooses (typically a
/// connection slot times the number of timer kinds), so nothing is allocated
/// per timer: the wheel keeps intrusive doubly-linked lists in node chunks
/// of 1,024 ids, added only when a larger id is first used and never moved
/// (so memory follows the highest id in use, with no copy on growth). Deadlines are absolute
/// milliseconds; the wheel has `slots` buckets of `resolution` ms each, and
/// a timer further away than one turn stays in its bucket, skipped on each
/// pass until a pass finds its deadline reached.
///
/// Not thread-safe: owned by one loop.
public struct TimerWheel: @unchecked Sendable {
    public let resolution: Millis
    private let slotMask: Int
    /// Per timer id: its list links, bucket and deadline (0 when not armed).
    private struct Node { var next: Int32 = -1; var prev: Int32 = -1; var bucket: Int32 = -1; var deadline: Millis = 0 }
    /// Owns the raw storage below (freed when the last copy of the wheel
    /// goes). Arm and cancel run several times per request, and Array's
    /// uniqueness and bounds checks were most of their cost. (A wheel is
    /// meant to have one owner: copies share its storage.)
    private final class Storage: @unchecked Sendable {
        var blocks: [UnsafeMutableRawPointer] = []
        func allocate<T>(_ type: T.Type, _ n: Int) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: n)
            blocks.append(UnsafeMutableRawPointer(p))
            return p
        }
        deinit { for b in blocks { b.deallocate() } }
    }
    private let storage = Storage()
    /// Node chunks, each `chunkSize` nodes; the table itself doubles when full.
    private var chunks: UnsafeMutablePointer<UnsafeMutablePointer<Node>>
    private var chunkCount = 0
    private var chunkTableCapacity: Int
    /// Ids below this have a node.
    private var nodeCount = 0
    private static var chunkShift: Int { 10 }
    private static var chunkSize: Int { 1 << chunkShift }
    /// Head timer id per bucket, -1 when empty.
    private let heads: UnsafeMutablePointer<Int32>
    /// One bit per bucket: set when the bucket holds a timer, so finding the
    /// next deadline skips empty buckets 64 at a time.
    private let occupied: UnsafeMutablePointer<UInt64>
    private let occupiedWords: Int
    /// The next tick whose bucket has not been processed.
    private var cursorTick: UInt64
    /// Expired ids collected from one bucket, handed out by `popExpired`.
    private var due: [Int32] = []
    private var dueIndex = 0
    public private(set) var armedCount = 0
    /// A lower bound on every armed deadline, exact (the earliest one) when
    /// `hintExact`: `timeout` answers from it without scanning on most loop
    /// iterations (two per proxied request).
    private var hint: Millis = .max
    private var hintExact = false

    /// `slots` is rounded up to a power of two (at least 64).
    public init(now: Millis, slots: Int = 4096, resolution: Millis = 1, capacity: Int = 1024) {
        // At least 64 buckets: the occupancy bitmap works in 64-bit words.
        var s = 64
        while s < slots { s <<= 1 }
        self.resolution = max(1, resolution)
        slotMask = s - 1
        heads = storage.allocate(Int32.self, s)
        heads.initialize(repeating: -1, count: s)
        occupiedWords = max(1, s / 64)
        occupied = storage.allocate(UInt64.self, occupiedWords)
        occupied.initialize(repeating: 0, count: occupiedWords)
        chunkTableCapacity = 16
        chunks = storage.allocate(UnsafeMutablePointer<Node>.self, chunkTableCapacity)
        cursorTick = now / self.resolution
        due.reserveCapacity(64)
        reserve(max(1, capacity))
    }

    /// The node of timer `id` (which must be below `nodeCount`).
    @inline(__always)
    private func node(_ id: Int) -> UnsafeMutablePointer<Node> {
        chunks[id >> Self.chunkShift] + (id & (Self.chunkSize - 1))
    }

    /// Ensures ids below `capacity` can be used without growth. Chunks are
    /// added, never moved; an outgrown chunk table stays with the storage
    /// until the wheel goes (8 bytes per chunk: nothing next to the chunks).
    public mutating func reserve(_ capacity: Int) {
        while nodeCount < capacity {
            if chunkCount == chunkTableCapacity {
                let bigger = storage.allocate(UnsafeMutablePointer<Node>.self, chunkTableCapacity * 2)
                bigger.initialize(from: chunks, count: chunkCount)
                chunks = bigger
                chunkTableCapacity *= 2
            }
            let c = storage.allocate(Node.self, Self.chunkSize)
            c.initialize(repeating: Node(), count: Self.chunkSize)
            (chunks + chunkCount).initialize(to: c)
            chunkCount += 1
            nodeCount += Self.chunkSize
        }
    }

    public func isArmed(_ id: Int) -> Bool { id >= 0 && id < nodeCount && node(id).pointee.deadline != 0 }
    public func deadline(_ id: Int) -> Millis? { isArmed(id) ? node(id).pointee.deadline : nil }

    /// Arms (or moves) timer `id` to fire at `deadline`.
    public mutating func arm(_ id: Int, at deadline: Millis) {
        precondition(id >= 0, "timer ids are not negative")
        if id >= nodeCount { reserve(id + 1) }
        if node(id).pointee.deadline != 0 { unlink(id) }
        let d = max(deadline, 1)
        // A deadline already in the past goes to the next bucket processed.
        let tick = max(tickFor(d), cursorTick)
        let bucket = Int(tick & UInt64(slotMask))
        if d <= hint { hint = d; hintExact = true }
        let h = heads[bucket]
        node(id).pointee = Node(next: h, prev: -1, bucket: Int32(bucket), deadline: d)
        if h >= 0 { node(Int(h)).pointee.prev = Int32(id) } else { occupied[bucket >> 6] |= 1 << UInt64(bucket & 63) }
        heads[bucket] = Int32(id)
        armedCount += 1
    }

    /// Like `arm`, but leaves a timer alone when its deadline moves later by
    /// less than `slack` (nginx's lazy re-arm: most per-read resets cost nothing).
    public mutating func rearmLazily(_ id: Int, at deadline: Millis, slack: Millis) {
        if id >= 0, id < nodeCount, node(id).pointee.deadline != 0, deadline >= node(id).pointee.deadline, deadline - node(id).pointee.deadline < slack { return }
        arm(id, at: deadline)
    }

    public mutating func cancel(_ id: Int) {
        guard id >= 0, id < nodeCount, node(id).pointee.deadline != 0 else { return }
        unlink(id)
    }

    private mutating func unlink(_ id: Int) {
        let n = node(id).pointee.next, p = node(id).pointee.prev
        if p >= 0 { node(Int(p)).pointee.next = n } else {
            let b = Int(node(id).pointee.bucket)
            heads[b] = n
            if n < 0 { occupied[b >> 6] &= ~(1 << UInt64(b & 63)) }
        }
        if n >= 0 { node(Int(n)).pointee.prev = p }
        if node(id).pointee.deadline == hint { hintExact = false }  // still a lower bound
        node(id).pointee = Node()
        armedCount -= 1
    }

    /// Milliseconds from `now` until the earliest armed deadline, capped
    /// at `cap` (returned as well when nothing is armed). Never later than
    /// the earliest deadline; earlier (a wake to look again) only when that
    /// deadline is more than one turn of the wheel away.
    public mutating func timeout(now: Millis, cap: Millis) -> Millis {
        guard armedCount > 0 else { return cap }
        if hint > now && hint - now >= cap { return cap }
        if hintExact { return hint <= now ? 0 : hint - now }
        let found = scan(now: now, cap: cap)
        if let d = found { hint = d; hintExact = true; return d <= now ? 0 : min(d - now, cap) }
        // Nothing within the scan: wake by the bound it left (one turn of a
        // wheel smaller than the cap; else about the cap) and look again.
        return hint <= now ? 0 : min(hint - now, cap)
    }

    /// The earliest deadline within `cap`, by scanning buckets; records a
    /// lower bound in `hint` when there is none.
    private mutating func scan(now: Millis, cap: Millis) -> Millis? {
        let limit = cursorTick + min(cap / resolution + 1, UInt64(slotMask))
        var t = cursorTick
        while t <= limit {
            let b = Int(t & UInt64(slotMask))
            let word = occupied[b >> 6] >> UInt64(b & 63)
            if word == 0 {
                t += UInt64(64 - (b & 63))  // the rest of this word is empty
                continue
            }
            t += UInt64(word.trailingZeroBitCount)
            if t > limit { break }
            var id = heads[Int(t & UInt64(slotMask))]
            var best = Millis.max
            while id >= 0 {
                let d = node(Int(id)).pointee.deadline
                if tickFor(d) <= t { best = min(best, d) }
                id = node(Int(id)).pointee.next
            }
            if best != Millis.max { return best }
            t += 1
        }
        // Every armed deadline d has tickFor(d) > limit, so d > limit * resolution.
        hint = Millis(limit) * resolution
        hintExact = false
        return nil
    }

    /// Removes and returns one timer whose deadline is at or before `now`,
    /// or nil when none is left. The caller handles each as it comes and may
    /// arm or cancel timers (this one too) before asking for the next.
    public mutating func popExpired(now: Millis) -> Int? {
        while true {
            while dueIndex < due.count {
                let id = Int(due[dueIndex])
                dueIndex += 1
                if node(id).pointee.deadline != 0 && node(id).pointee.deadline <= now {
                    unlink(id)
                    return id
                }
            }
            let nowTick = now / resolution
            if cursorTick > nowTick { return nil }
            // Never walk more than one turn: every bucket is then visited once.
            if nowTick - cursorTick > UInt64(slotMask) { cursorTick = nowTick - UInt64(slotMask) }
            due.removeAll(keepingCapacity: true)
            dueIndex = 0
            var id = heads[Int(cursorTick & UInt64(slotMask))]
            while id >= 0 {
                if node(Int(id)).pointee.deadline <= now { due.append(id) }
                id = node(Int(id)).pointee.next
            }
            cursorTick += 1
        }
    }

    /// The tick whose bucket holds a deadline: rounded up, so that when the
    /// cursor reaches the bucket the deadline has passed.
    @inline(__always)
    private func tickFor(_ d: Millis) -> UInt64 { (d + resolution - 1) / resolution }
}
