import SluiceCore
import XCTest

final class SlabTests: XCTestCase {
    func testStaleHandlesAreRejected() {
        var s = Slab<String>()
        let a = s.insert("a")
        XCTAssertEqual(s[a], "a")
        XCTAssertEqual(s.remove(a), "a")
        let b = s.insert("b")
        XCTAssertEqual(a.index, b.index, "the slot is reused")
        XCTAssertNotEqual(a.generation, b.generation)
        XCTAssertNil(s[a], "an event for the old occupant must not reach the new one")
        XCTAssertEqual(s[b], "b")
        XCTAssertNil(s.remove(a))
        XCTAssertEqual(s.count, 1)
    }

    func testPackedRoundTrip() {
        let h = SlabHandle(index: 123_456, generation: 0xDEAD_BEEF)
        XCTAssertEqual(SlabHandle(packed: h.packed), h)
    }

    func testDiscardByIndexFreesTheSlot() {
        var s = Slab<[Int]>(capacity: 1)
        let a = s.insert([1]), b = s.insert([2])  // grows past its capacity
        s.discard(index: a.index)
        XCTAssertNil(s[a], "the discarded slot's handle is stale")
        XCTAssertEqual(s[b], [2])
        XCTAssertEqual(s.count, 1)
        let c = s.insert([3])
        XCTAssertEqual(c.index, a.index, "the slot is reused")
        XCTAssertEqual(s[unchecked: c.index], [3])
        XCTAssertEqual(s.count, 2)
    }

    func testInPlaceMutation() {
        var s = Slab<[Int]>()
        let h = s.insert([1])
        s[index: h.index].append(2)
        XCTAssertEqual(s[h], [1, 2])
    }
}

final class FastRandomTests: XCTestCase {
    func testDeterministicForASeed() {
        var a = FastRandom(seed: 7), b = FastRandom(seed: 7)
        for _ in 0..<100 { XCTAssertEqual(a.next(), b.next()) }
    }

    func testBelowIsUniformEnough() {
        var r = FastRandom(seed: 1)
        var counts = [Int](repeating: 0, count: 10)
        let n = 100_000
        for _ in 0..<n { counts[Int(r.below(10))] += 1 }
        // Each bucket expects 10,000; 5 sigma is about 475.
        for c in counts { XCTAssertLessThan(abs(c - n / 10), 500) }
    }
}

final class LockedTests: XCTestCase {
    func testConcurrentIncrements() {
        let counter = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.withLock { $0 += 1 } }
        }
        XCTAssertEqual(counter.withLock { $0 }, 80_000)
    }
}
