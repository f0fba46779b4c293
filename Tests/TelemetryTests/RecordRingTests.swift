import Foundation
import Telemetry
import XCTest

final class RecordRingTests: XCTestCase {
    private static func publish(_ ring: RecordRing, _ k: Int, path: String) -> Bool {
        var f = RecordFields()
        f.status = UInt16(200 + k % 300)
        f.latencyMicros = UInt64(k)
        f.seriesSlot = Int32(k % 7)
        f.endpointSlot = Int32(k % 3) - 1
        f.methodCode = k % 5 == 0 ? RequestRecord.customMethod : UInt8(k % 9)
        let method = Array((k % 5 == 0 ? "M\(k)" : "").utf8)
        let id = Array("id-\(k)".utf8)
        var p = Array(path.utf8)
        return method.withUnsafeBytes { m in p.withUnsafeMutableBytes { pb in id.withUnsafeBytes { q in
            ring.publish(f, method: m, path: UnsafeRawBufferPointer(pb), requestID: q)
        } } }
    }

    private func check(_ r: RequestRecord, _ k: Int, path: String) {
        XCTAssertEqual(r.fields.latencyMicros, UInt64(k))
        XCTAssertEqual(r.fields.status, UInt16(200 + k % 300))
        XCTAssertEqual(r.fields.seriesSlot, Int32(k % 7))
        XCTAssertEqual(r.fields.endpointSlot, Int32(k % 3) - 1)
        XCTAssertEqual(r.method.string, k % 5 == 0 ? "M\(k)" : "")
        XCTAssertEqual(r.path.string, path)
        XCTAssertEqual(r.requestID.string, "id-\(k)")
    }

    func testOrderTextAndWrapAround() {
        let ring = RecordRing(capacity: 4096)
        XCTAssertEqual(ring.capacity, 4096)
        var next = 0, seen = 0
        // Entries of varied size wrap the 4 KiB buffer many times (with filler).
        for round in 0..<200 {
            let batch = 1 + round % 9
            for j in 0..<batch { XCTAssertTrue(Self.publish(ring, next + j, path: "/v1/" + String(repeating: "x", count: (next + j) % 120))) }
            let n = ring.drain { r in
                check(copy r, seen, path: "/v1/" + String(repeating: "x", count: seen % 120))
                seen += 1
            }
            XCTAssertEqual(n, batch)
            next += batch
        }
        XCTAssertEqual(seen, next)
        XCTAssertEqual(ring.dropped.load(ordering: .relaxed), 0)
    }

    func testFullRingDropsAndCounts() {
        let ring = RecordRing(capacity: 4096)
        var accepted = 0
        for k in 0..<200 where Self.publish(ring, k, path: "/p") { accepted += 1 }
        XCTAssertGreaterThan(accepted, 10)
        XCTAssertLessThan(accepted, 200)
        XCTAssertEqual(Int(ring.dropped.load(ordering: .relaxed)), 200 - accepted)
        var seen = 0
        XCTAssertEqual(ring.drain { r in check(copy r, seen, path: "/p"); seen += 1 }, accepted)
        // Room again after the drain.
        XCTAssertTrue(Self.publish(ring, accepted, path: "/p"))
    }

    func testTextIsCutAt128Bytes() {
        let ring = RecordRing(capacity: 4096)
        var drafts = RecordDrafts(capacity: 1)
        drafts.reserve(3)
        drafts.open(3, methodCode: 2)
        let long = Array(repeating: UInt8(ascii: "a"), count: 300)
        long.withUnsafeBytes { drafts.set(3, .path, $0) }
        Array("rid".utf8).withUnsafeBytes { drafts.set(3, .requestID, $0) }
        XCTAssertTrue(drafts.isOpen(3))
        XCTAssertTrue(drafts.publish(3, RecordFields(), to: ring))
        XCTAssertFalse(drafts.isOpen(3))
        _ = ring.drain { r in
            let r = copy r
            XCTAssertEqual(r.path.count, 128)
            XCTAssertEqual(r.requestID.string, "rid")
            XCTAssertEqual(r.method.count, 0)
        }
    }

    /// One producer thread and one consumer thread: every record arrives
    /// once, in order, or is counted dropped.
    func testConcurrentProducerAndConsumer() {
        let ring = RecordRing(capacity: 8192)
        let total = 200_000
        let producer = Thread {
            for k in 0..<total { _ = RecordRingTests.publish(ring, k, path: "/c") }
        }
        producer.start()
        var received = 0, lastK = -1, ordered = true
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            received += ring.drain { r in
                let k = Int(r.fields.latencyMicros)
                if k <= lastK { ordered = false }
                lastK = k
            }
            if received + Int(ring.dropped.load(ordering: .relaxed)) == total { break }
        }
        XCTAssertTrue(ordered)
        XCTAssertEqual(received + Int(ring.dropped.load(ordering: .relaxed)), total)
    }
}
