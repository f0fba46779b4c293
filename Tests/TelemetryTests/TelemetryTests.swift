import Telemetry
import XCTest

final class LatencyBucketsTests: XCTestCase {
    func testIndexIsMonotoneAndRangesContainTheirValues() {
        var last = -1
        var v: UInt64 = 0
        while v < 1 << 36 {
            let i = LatencyBuckets.index(micros: v)
            XCTAssertGreaterThanOrEqual(i, last)
            let r = LatencyBuckets.range(i)
            XCTAssertTrue(v >= r.low && v < r.low + r.width, "\(v) not in bucket \(i) \(r)")
            // Relative width at most 1/16.
            if v >= 16 { XCTAssertLessThanOrEqual(Double(r.width) / Double(r.low), 1.0 / 16 + 1e-9) }
            last = i
            v = v < 64 ? v + 1 : v + v / 7
        }
        XCTAssertEqual(LatencyBuckets.index(micros: UInt64.max), LatencyBuckets.count - 1)
    }

    func testQuantilesWithinOneBucket() {
        var counts = [UInt64](repeating: 0, count: LatencyBuckets.count)
        // 1000 samples: 1..1000 ms.
        for ms in 1...1000 { counts[LatencyBuckets.index(micros: UInt64(ms) * 1000)] += 1 }
        for (q, exact) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
            let v = LatencyBuckets.quantile(counts, q)!
            XCTAssertEqual(v, exact, accuracy: exact / 16, "q\(q)")
        }
        XCTAssertNil(LatencyBuckets.quantile([UInt64](repeating: 0, count: LatencyBuckets.count), 0.5))
    }
}

final class ShardTests: XCTestCase {
    func testRecordAndSumOverWorkers() {
        let t = Telemetry(workers: 3)
        let a = t.registry.slot(SeriesKey(route: "r", backend: "active", cluster: "c1"))!
        let b = t.registry.slot(SeriesKey(route: "r", backend: "preview", cluster: "c2"))!
        XCTAssertEqual(t.registry.slot(SeriesKey(route: "r", backend: "active", cluster: "c1")), a, "stable slots")
        for (w, shard) in t.shards.enumerated() {
            for i in 0..<100 { shard.record(slot: a, status: i % 10 == 0 ? 503 : 200, latencyMicros: UInt64(100 * (w + 1)), error: .none) }
            shard.record(slot: b, status: 502, latencyMicros: 40_000, error: .reset)
        }
        let all = Dictionary(uniqueKeysWithValues: t.collect().map { ($0.0.backend, $0.1) })
        XCTAssertEqual(all["active"]!.total, 300)
        XCTAssertEqual(all["active"]!.codes[200], 270)
        XCTAssertEqual(all["active"]!.codes[503], 30)
        XCTAssertEqual(all["active"]!.classes, [0, 270, 0, 0, 30])
        XCTAssertEqual(all["preview"]!.errors[Int(ErrorReason.reset.rawValue)], 3)
        XCTAssertEqual(all["preview"]!.sluiceBuckets[6], 3, "40 ms falls in (25 ms, 50 ms]")
        XCTAssertEqual(all["active"]!.sluiceBuckets[0], 300, "<= 0.5 ms")
        let expectedSum: UInt64 = 10_000 + 20_000 + 30_000
        XCTAssertEqual(all["active"]!.sluiceSumMicros, expectedSum)
    }

    func testManyDistinctCodesStillAddUp() {
        let t = Telemetry(workers: 1)
        let s = t.registry.slot(SeriesKey(route: "r", backend: "active", cluster: "c"))!
        for code in 200..<260 { t.shards[0].record(slot: s, status: code, latencyMicros: 1, error: .none) }
        let c = t.collect()[0].1
        XCTAssertEqual(c.classes[1], 60, "codes beyond the per-series table land in the class overflow")
        XCTAssertEqual(c.total, 60)
    }

    func testGauges() {
        let t = Telemetry(workers: 2)
        let g = t.clusterGaugeSlot("c")
        t.shards[0].adjustGauge(g, by: 3)
        t.shards[1].adjustGauge(g, by: 2)
        t.shards[0].adjustGauge(g, by: -1)
        XCTAssertEqual(t.gauge(g), 4)
        XCTAssertTrue(t.collect().isEmpty, "gauge slots are not request series")
    }
}

final class RenderTests: XCTestCase {
    func testExactDecimals() {
        XCTAssertEqual(PrometheusText.seconds(0), "0")
        XCTAssertEqual(PrometheusText.seconds(1_500_000), "1.5")
        XCTAssertEqual(PrometheusText.seconds(1_234), "0.001234")
        XCTAssertEqual(PrometheusText.millis(2_500), "2.5")
    }

    func testLabelEscaping() {
        XCTAssertEqual(PrometheusText.esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd")
        XCTAssertEqual(StatsJSON.json("x\"\u{1}"), "\"x\\\"\\u0001\"")
    }
}
