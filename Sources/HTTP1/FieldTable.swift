/// The field index of a parsed head: a growable list of plain values with
/// value semantics, where appending costs a store and a count.
///
/// `ContiguousArray` checked uniqueness and capacity on every append (two
/// appends per field line), which showed in profiles. Here uniqueness is
/// settled once, when the parser resets the list for the next head: a copy
/// still alive then (a caller holding an earlier head) keeps the old
/// storage and the list takes new storage; otherwise the old storage is
/// reused. Between a reset and the next one only the parser appends.
public struct FieldTable<Element: BitwiseCopyable>: RandomAccessCollection, Sendable {
    @usableFromInline
    final class Storage: @unchecked Sendable {
        @usableFromInline let base: UnsafeMutablePointer<Element>
        @usableFromInline let capacity: Int
        @usableFromInline init(capacity: Int) {
            self.capacity = Swift.max(1, capacity)
            base = .allocate(capacity: self.capacity)
        }
        deinit { base.deallocate() }
    }

    @usableFromInline var storage: Storage
    @usableFromInline var _count = 0
    @inlinable public var count: Int { _count }

    public init(capacity: Int) { storage = Storage(capacity: capacity) }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { _count }

    @inlinable public subscript(i: Int) -> Element {
        precondition(i >= 0 && i < _count, "field index out of range")
        return storage.base[i]
    }

    /// Empties the list for the next head (keeping its capacity).
    @inlinable public mutating func reset() {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(capacity: storage.capacity) }
        _count = 0
    }

    /// Appends; valid only after `reset` on this value (the parser's use).
    @inlinable public mutating func append(_ e: Element) {
        if _count == storage.capacity { grow() }
        (storage.base + _count).initialize(to: e)
        _count += 1
    }

    @usableFromInline mutating func grow() {
        let bigger = Storage(capacity: storage.capacity * 2)
        bigger.base.initialize(from: storage.base, count: _count)
        storage = bigger
    }
}

extension FieldTable: Equatable where Element: Equatable {
    public static func == (a: FieldTable, b: FieldTable) -> Bool { a.elementsEqual(b) }
}
