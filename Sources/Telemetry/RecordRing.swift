import Synchronization

/// The fixed-size part of a request record, as the worker hands it over.
public struct RecordFields: Sendable {
    /// Wall-clock time the request started, ms since the epoch.
    public var tsMillis: UInt64 = 0
    public var latencyMicros: UInt64 = 0
    /// Upstream time to first response byte; -1 when no upstream answered.
    public var upstreamMicros: Int64 = -1
    public var bytesIn: Int64 = 0
    public var bytesOut: Int64 = 0
    public var status: UInt16 = 0
    public var error: ErrorReason = .none
    /// Index into `RequestRecord.methodNames`, or `customMethod` (then the record's `method` holds the text).
    public var methodCode: UInt8 = RequestRecord.customMethod
    /// Series slot (route, backend, cluster names come from the registry).
    public var seriesSlot: Int32 = -1
    /// `NameTable.endpoints` slot of the endpoint that served it; -1 for none.
    public var endpointSlot: Int32 = -1

    public init() {}
}

/// A single-producer, single-consumer ring of request records: the worker
/// publishes (never blocking, never allocating), the exporter thread
/// drains. Entries are variable-length bytes (the fixed fields, then only
/// the text actually used), so a typical record touches two cache lines
/// instead of the ~450 bytes of a fixed `RequestRecord`, and the ring's
/// memory is a few hundred KiB per worker. A full ring drops the record
/// and counts it: the data plane never waits for the monitor.
public final class RecordRing: @unchecked Sendable {
    private let bytes: UnsafeMutableRawPointer
    /// Bytes, a power of two.
    public let capacity: Int
    private let head = Atomic<Int>(0)   // next byte to read (consumer), monotonic
    private let tail = Atomic<Int>(0)   // next byte to write (producer), monotonic
    /// Records the ring had no room for (written by the producer only).
    public let dropped = Atomic<UInt64>(0)

    /// Entry layout: a 4-byte length (of the whole entry, padded to 8; the
    /// top bit marks filler up to the end of the buffer), the three text
    /// lengths, a spare byte, then `RecordFields`, then the text bytes.
    static let fieldsOffset = 8
    static let textOffset = fieldsOffset + MemoryLayout<RecordFields>.stride
    static let fillerBit: UInt32 = 1 << 31

    /// `capacity` is rounded up to a power of two (at least 4 KiB).
    public init(capacity: Int = 1 << 20) {
        var c = 4096
        while c < capacity { c *= 2 }
        self.capacity = c
        bytes = .allocate(byteCount: c, alignment: 16)
    }

    deinit { bytes.deallocate() }

    /// Producer side (the worker): the fields and the draft's text (method,
    /// path, request id, each at most `InlineText128.capacity` bytes).
    /// Returns false when the record was dropped.
    @inline(__always) @discardableResult
    public func publish(_ f: RecordFields, method: UnsafeRawBufferPointer, path: UnsafeRawBufferPointer,
                        requestID: UnsafeRawBufferPointer) -> Bool {
        let textCount = method.count + path.count + requestID.count
        let size = (RecordRing.textOffset + textCount + 7) & ~7
        var t = tail.load(ordering: .relaxed)
        let h = head.load(ordering: .acquiring)
        var at = t & (capacity - 1)
        // An entry never wraps: the end of the buffer is skipped with a filler.
        let skip = capacity - at < size ? capacity - at : 0
        if t + skip + size - h > capacity {
            dropped.store(dropped.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
            return false
        }
        if skip > 0 {
            // Safe: `skip` ≥ 8 because entries and the capacity are multiples of 8.
            bytes.storeBytes(of: UInt32(skip) | RecordRing.fillerBit, toByteOffset: at, as: UInt32.self)
            t += skip
            at = 0
        }
        let e = bytes + at
        e.storeBytes(of: UInt32(size), as: UInt32.self)
        e.storeBytes(of: UInt8(method.count), toByteOffset: 4, as: UInt8.self)
        e.storeBytes(of: UInt8(path.count), toByteOffset: 5, as: UInt8.self)
        e.storeBytes(of: UInt8(requestID.count), toByteOffset: 6, as: UInt8.self)
        e.storeBytes(of: f, toByteOffset: RecordRing.fieldsOffset, as: RecordFields.self)
        var o = RecordRing.textOffset
        if method.count > 0 { (e + o).copyMemory(from: method.baseAddress!, byteCount: method.count); o += method.count }
        if path.count > 0 { (e + o).copyMemory(from: path.baseAddress!, byteCount: path.count); o += path.count }
        if requestID.count > 0 { (e + o).copyMemory(from: requestID.baseAddress!, byteCount: requestID.count) }
        tail.store(t + size, ordering: .releasing)
        return true
    }

    /// Consumer side (the exporter): hands every waiting record to `body`,
    /// decoded into one reused `RequestRecord`. Returns how many.
    public func drain(_ body: (borrowing RequestRecord) -> Void) -> Int {
        var h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        var r = RequestRecord()
        var n = 0
        while h < t {
            let e = UnsafeRawPointer(bytes + (h & (capacity - 1)))
            let word = e.load(as: UInt32.self)
            if word & RecordRing.fillerBit != 0 {
                h += Int(word & ~RecordRing.fillerBit)
                continue
            }
            let m = Int(e.load(fromByteOffset: 4, as: UInt8.self))
            let p = Int(e.load(fromByteOffset: 5, as: UInt8.self))
            let q = Int(e.load(fromByteOffset: 6, as: UInt8.self))
            r.fields = e.load(fromByteOffset: RecordRing.fieldsOffset, as: RecordFields.self)
            let text = e + RecordRing.textOffset
            r.method.set(UnsafeRawBufferPointer(start: text, count: m))
            r.path.set(UnsafeRawBufferPointer(start: text + m, count: p))
            r.requestID.set(UnsafeRawBufferPointer(start: text + m + p, count: q))
            body(r)
            h += Int(word)
            n += 1
        }
        head.store(h, ordering: .releasing)
        return n
    }
}

/// Records being built, one per client slot, in place: only the text a
/// record needs from the request head (method, path, request id), which is
/// gone by the time the exchange ends. Owned by one worker.
public struct RecordDrafts: ~Copyable {
    private var base: UnsafeMutableRawPointer
    public private(set) var count: Int

    /// Per slot: open flag, method code, three lengths, then three 128-byte texts.
    static let stride = 8 + 3 * InlineText128.capacity

    public init(capacity: Int = 64) {
        count = max(1, capacity)
        base = .allocate(byteCount: count * RecordDrafts.stride, alignment: 8)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: count * RecordDrafts.stride)
    }

    deinit { base.deallocate() }

    /// Makes index `i` valid (doubling; only when a new slot index appears).
    public mutating func reserve(_ i: Int) {
        guard i >= count else { return }
        var n = count
        while n <= i { n *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: n * RecordDrafts.stride, alignment: 8)
        nb.copyMemory(from: base, byteCount: count * RecordDrafts.stride)
        (nb + count * RecordDrafts.stride).initializeMemory(as: UInt8.self, repeating: 0, count: (n - count) * RecordDrafts.stride)
        base.deallocate()
        base = nb
        count = n
    }

    @inline(__always) private func slot(_ i: Int) -> UnsafeMutableRawPointer { base + i * RecordDrafts.stride }

    /// Starts slot `i`'s draft for a new exchange: no text yet.
    @inline(__always) public mutating func open(_ i: Int, methodCode: UInt8) {
        slot(i).storeBytes(of: 1, as: UInt8.self)
        slot(i).storeBytes(of: methodCode, toByteOffset: 1, as: UInt8.self)
        slot(i).storeBytes(of: 0, toByteOffset: 2, as: UInt32.self)  // the three lengths and a pad byte
    }

    @inline(__always) public func isOpen(_ i: Int) -> Bool { slot(i).load(as: UInt8.self) != 0 }
    @inline(__always) public func methodCode(_ i: Int) -> UInt8 { slot(i).load(fromByteOffset: 1, as: UInt8.self) }

    public enum Text: Int { case method = 0, path = 1, requestID = 2 }

    /// Stores up to 128 bytes of `bytes` (the rest is cut).
    @inline(__always) public mutating func set(_ i: Int, _ which: Text, _ bytes: UnsafeRawBufferPointer) {
        let n = min(bytes.count, InlineText128.capacity)
        let s = slot(i)
        if n > 0 { (s + 8 + which.rawValue * InlineText128.capacity).copyMemory(from: bytes.baseAddress!, byteCount: n) }
        s.storeBytes(of: UInt8(n), toByteOffset: 2 + which.rawValue, as: UInt8.self)
    }

    @inline(__always) public func text(_ i: Int, _ which: Text) -> UnsafeRawBufferPointer {
        let s = slot(i)
        let n = Int(s.load(fromByteOffset: 2 + which.rawValue, as: UInt8.self))
        return UnsafeRawBufferPointer(start: s + 8 + which.rawValue * InlineText128.capacity, count: n)
    }

    /// Hands slot `i`'s record to `ring` and closes the draft.
    @inline(__always) @discardableResult
    public mutating func publish(_ i: Int, _ f: RecordFields, to ring: RecordRing) -> Bool {
        slot(i).storeBytes(of: 0, as: UInt8.self)
        return ring.publish(f, method: text(i, .method), path: text(i, .path), requestID: text(i, .requestID))
    }
}
