import SluiceCore
import XCTest

/// The timer wheel is pure: time is passed in, so these tests move a fake clock.
final class TimerWheelTests: XCTestCase {
    private func drain(_ w: inout TimerWheel, now: Millis) -> [Int] {
        var fired: [Int] = []
        while let id = w.popExpired(now: now) { fired.append(id) }
        return fired
    }

    func testFiresAtDeadlineNotBefore() {
        var w = TimerWheel(now: 1000)
        w.arm(1, at: 1050)
        XCTAssertEqual(drain(&w, now: 1049), [])
        XCTAssertEqual(drain(&w, now: 1050), [1])
        XCTAssertFalse(w.isArmed(1))
        XCTAssertEqual(w.armedCount, 0)
    }

    func testCancelledTimersNeverFire() {
        var w = TimerWheel(now: 0)
        for id in 0..<100 { w.arm(id, at: 10 + Millis(id)) }
        for id in stride(from: 0, to: 100, by: 2) { w.cancel(id) }
        let fired = drain(&w, now: 500).sorted()
        XCTAssertEqual(fired, Array(stride(from: 1, to: 100, by: 2)))
    }

    func testRearmMovesTheDeadline() {
        var w = TimerWheel(now: 0)
        w.arm(7, at: 100)
        w.arm(7, at: 300)
        XCTAssertEqual(drain(&w, now: 200), [])
        XCTAssertEqual(w.deadline(7), 300)
        XCTAssertEqual(drain(&w, now: 300), [7])
    }

    func testLazyRearmKeepsCloseDeadline() {
        var w = TimerWheel(now: 0)
        w.arm(3, at: 1000)
        w.rearmLazily(3, at: 1100, slack: 300)
        XCTAssertEqual(w.deadline(3), 1000, "within the slack the old deadline stays")
        w.rearmLazily(3, at: 1500, slack: 300)
        XCTAssertEqual(w.deadline(3), 1500)
        w.rearmLazily(3, at: 1200, slack: 300)
        XCTAssertEqual(w.deadline(3), 1200, "an earlier deadline is always taken")
    }

    func testDeadlinesBeyondOneTurn() {
        // 4096 one-ms slots: 30 s is more than seven turns away.
        var w = TimerWheel(now: 0)
        w.arm(1, at: 30_000)
        w.arm(2, at: 4096 + 5)
        var now: Millis = 0
        var fired: [(Int, Millis)] = []
        while now <= 31_000 {
            now += 7
            while let id = w.popExpired(now: now) { fired.append((id, now)) }
        }
        XCTAssertEqual(fired.map(\.0), [2, 1])
        XCTAssertTrue(fired[0].1 >= 4101 && fired[0].1 < 4101 + 7)
        XCTAssertTrue(fired[1].1 >= 30_000 && fired[1].1 < 30_007)
    }

    func testClockJumpVisitsEveryBucketOnce() {
        var w = TimerWheel(now: 0)
        for id in 0..<5000 { w.arm(id, at: Millis(id * 3 + 1)) }
        let fired = drain(&w, now: 100_000)
        XCTAssertEqual(fired.count, 5000)
        XCTAssertEqual(Set(fired).count, 5000)
    }

    func testPastDeadlineFiresOnNextPass() {
        var w = TimerWheel(now: 100)
        _ = drain(&w, now: 100)
        w.arm(9, at: 50)
        XCTAssertEqual(w.timeout(now: 100, cap: 1000), 0)
        XCTAssertEqual(drain(&w, now: 101), [9])
    }

    func testRearmDuringExpiryDoesNotLoop() {
        var w = TimerWheel(now: 0)
        w.arm(1, at: 10)
        var count = 0
        while let id = w.popExpired(now: 10) {
            count += 1
            w.arm(id, at: 10)  // re-armed at a deadline already due
            if count > 5 { break }
        }
        XCTAssertEqual(count, 1, "a timer re-armed while expiring waits for the next tick")
        XCTAssertEqual(drain(&w, now: 11), [1])
    }

    func testTimeoutReportsNearestDeadline() {
        var w = TimerWheel(now: 0)
        XCTAssertEqual(w.timeout(now: 0, cap: 1000), 1000, "nothing armed: the cap")
        w.arm(1, at: 250)
        w.arm(2, at: 40)
        XCTAssertEqual(w.timeout(now: 0, cap: 1000), 40)
        XCTAssertEqual(w.timeout(now: 0, cap: 20), 20)
        w.cancel(2)
        XCTAssertEqual(w.timeout(now: 0, cap: 1000), 250)
    }

    func testCoarseResolution() {
        var w = TimerWheel(now: 0, slots: 512, resolution: 10)
        w.arm(1, at: 95)
        XCTAssertEqual(drain(&w, now: 94), [])
        XCTAssertEqual(drain(&w, now: 95), [])  // bucket 100 not reached yet: fires up to one tick late, never early
        XCTAssertEqual(drain(&w, now: 100), [1])
    }

    func testTensOfThousandsOfTimers() {
        var w = TimerWheel(now: 0, capacity: 50_000)
        var rng = FastRandom(seed: 42)
        var expected = Set<Int>()
        for id in 0..<50_000 {
            w.arm(id, at: 1 + rng.below(60_000))
        }
        // 200k re-arms, then cancel a third.
        for _ in 0..<200_000 {
            let id = Int(rng.below(50_000))
            w.arm(id, at: 1 + rng.below(60_000))
        }
        for id in 0..<50_000 where id % 3 == 0 { w.cancel(id) } 
        for id in 0..<50_000 where id % 3 != 0 { expected.insert(id) }
        XCTAssertEqual(w.armedCount, expected.count)
        var fired = Set<Int>()
        var now: Millis = 0
        while now < 61_000 {
            now += 13
            while let id = w.popExpired(now: now) {
                XCTAssertLessThanOrEqual(w.deadline(id) ?? 0, now)
                fired.insert(id)
            }
        }
        XCTAssertEqual(fired, expected)
        XCTAssertEqual(w.armedCount, 0)
    }

    /// Node storage grows a chunk at a time as larger ids are first used;
    /// timers armed before a growth keep their place and fire once.
    func testGrowthKeepsArmedTimers() {
        var w = TimerWheel(now: 0, capacity: 1)
        var expected: [Int: Millis] = [:]
        // Ids climb across many chunk boundaries (and the chunk table's
        // doubling), each arm growing the wheel while earlier ones are armed.
        var id = 0
        var rng = FastRandom(seed: 7)
        while id < 70_000 {
            let d = 1 + rng.below(5_000)
            w.arm(id, at: d)
            expected[id] = d
            id += 1 + Int(rng.below(700))
        }
        for (i, d) in expected { XCTAssertEqual(w.deadline(i), d) }
        XCTAssertFalse(w.isArmed(id + 10_000), "an id past every chunk is not armed")
        w.cancel(id + 10_000)  // and cancelling it is harmless
        var fired: [Int: Millis] = [:]
        var now: Millis = 0
        while now < 5_100 {
            now += 7
            while let i = w.popExpired(now: now) {
                XCTAssertNil(fired[i], "fired twice")
                XCTAssertLessThanOrEqual(expected[i] ?? .max, now)
                fired[i] = now
            }
        }
        XCTAssertEqual(Set(fired.keys), Set(expected.keys))
        XCTAssertEqual(w.armedCount, 0)
    }

    /// `timeout` answers from a cached bound most of the time: against a
    /// brute-force reference over random arms, re-arms, cancels and expiries.
    func testTimeoutMatchesReferenceUnderRandomOperations() {
        var rng = SystemRandomNumberGenerator()
        for slots in [64, 4096] {
            var now: Millis = 5_000
            var w = TimerWheel(now: now, slots: slots)
            var ref: [Int: Millis] = [:]
            for step in 0..<20_000 {
                let id = Int.random(in: 0..<40, using: &rng)
                switch Int.random(in: 0..<10, using: &rng) {
                case 0...3:
                    let d = now + Millis.random(in: 1...6_000, using: &rng)
                    w.arm(id, at: d)
                    ref[id] = max(d, 1)
                case 4:
                    let d = now + Millis.random(in: 1...6_000, using: &rng)
                    w.rearmLazily(id, at: d, slack: 50)
                    if let old = ref[id], d >= old, d - old < 50 {} else { ref[id] = max(d, 1) }
                case 5, 6:
                    w.cancel(id)
                    ref[id] = nil
                default:
                    now += Millis.random(in: 0...400, using: &rng)
                }
                var fired = Set(drain(&w, now: now))
                let due = Set(ref.filter { $0.value <= now }.map { $0.key })
                XCTAssertEqual(fired, due, "step \(step)")
                for k in due { ref[k] = nil }
                fired.removeAll()
                let expected = ref.values.min().map { $0 <= now ? 0 : min($0 - now, 1000) } ?? 1000
                let t = w.timeout(now: now, cap: 1000)
                // Never oversleeps; exact when the cap is within one turn of the wheel.
                XCTAssertLessThanOrEqual(t, expected, "step \(step), slots \(slots)")
                if slots > 1000 { XCTAssertEqual(t, expected, "step \(step), slots \(slots)") }
                if t > expected || (slots > 1000 && t != expected) { return }
            }
        }
    }
}
