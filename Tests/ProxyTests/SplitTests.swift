import Config
import Harness
import HTTP1
import Routing
import XCTest

/// The weighted split through real sockets (SPEC §4).
final class ProxySplitTests: XCTestCase {
    private func countPreview(_ f: ProxyFixture, n: Int, extra: (Int) -> String = { _ in "" }) throws -> (Int, [String]) {
        let (s, reader) = try f.connect()
        defer { s.close() }
        var previews = 0
        var seen: [String] = []
        for i in 0..<n {
            try s.write(get("/v1/models/m:predict", extra(i)))
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, 200)
            let b = r.header("x-sluice-backend") ?? "?"
            // The header names the backend that really answered.
            XCTAssertEqual(r.text, b == "preview" ? "{\"version\":\"v2\"}" : "{\"version\":\"v1\"}")
            if b == "preview" { previews += 1 }
            seen.append(b)
        }
        return (previews, seen)
    }

    /// Over thousands of requests the preview's share stays within a 5-sigma
    /// binomial bound, at several weights, on one keep-alive connection.
    func testSplitWithinBinomialBound() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))])
        let n = 1500
        for (a, p) in [(90, 10), (50, 50), (0, 100), (100, 0)] as [(UInt32, UInt32)] {
            f.setWeights(route: "predict", active: a, preview: p)
            let (previews, _) = try countPreview(f, n: n)
            let share = Double(p) / 100
            let sigma = (Double(n) * share * (1 - share)).squareRoot()
            XCTAssertLessThanOrEqual(abs(Double(previews) - Double(n) * share), 5 * sigma + 0.5, "\(a)/\(p): \(previews) of \(n)")
        }
    }

    /// A weight change reaches requests on connections opened before it.
    func testWeightChangeReachesOpenKeepAliveConnections() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))])
        f.setWeights(route: "predict", active: 100, preview: 0)
        let (s, reader) = try f.connect()
        defer { s.close() }
        for _ in 0..<20 {
            try s.write(get("/v1/x"))
            XCTAssertEqual(try Response(reader.readResponse()).header("x-sluice-backend"), "active")
        }
        f.setWeights(route: "predict", active: 0, preview: 100)
        usleep(50_000)  // one loop tick at most
        for _ in 0..<20 {
            try s.write(get("/v1/x"))
            XCTAssertEqual(try Response(reader.readResponse()).header("x-sluice-backend"), "preview", "the same connection sees the new weights")
        }
    }

    /// Sticky keys keep their backend, and raising the preview's weight only
    /// moves keys from active to preview.
    func testStickyHeaderMonotonicity() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))]) {
            $0.routes[0].sticky = .header("x-user-id")
        }
        let users = 300
        var previous = [String](repeating: "active", count: users)
        for p in [0, 10, 40, 80, 100] as [UInt32] {
            f.setWeights(route: "predict", active: 100 - p, preview: p)
            let (_, first) = try countPreview(f, n: users) { "X-User-Id: user-\($0)\r\n" }
            let (_, again) = try countPreview(f, n: users) { "X-User-Id: user-\($0)\r\n" }
            XCTAssertEqual(first, again, "same key, same backend at \(p)%")
            for u in 0..<users where previous[u] == "preview" {
                XCTAssertEqual(first[u], "preview", "user-\(u) moved back to active at \(p)%")
            }
            let share = Double(first.filter { $0 == "preview" }.count) / Double(users)
            XCTAssertEqual(share, Double(p) / 100, accuracy: 0.12)
            previous = first
        }
    }

    func testStickyCookie() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))]) {
            $0.routes[0].sticky = .cookie("uid")
            $0.routes[0].weights = Weights(active: 50, preview: 50)!
        }
        let (_, a) = try countPreview(f, n: 100) { "Cookie: theme=dark; uid=u\($0 % 10)\r\n" }
        for i in 0..<100 { XCTAssertEqual(a[i], a[i % 10], "cookie uid=u\(i % 10) switched backend") }
        XCTAssertTrue(Set(a).count == 2, "50/50 over ten keys used both backends")
    }

    func testOverrideHeaderForcesBackend() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))]) {
            $0.routes[0].overrideHeader = "x-sluice-backend"
            $0.routes[0].weights = Weights(active: 100, preview: 0)!
        }
        let (p, seen) = try countPreview(f, n: 50) { _ in "X-Sluice-Backend: preview\r\n" }
        XCTAssertEqual(p, 50, "\(seen)")
        let (p2, _) = try countPreview(f, n: 20) { _ in "X-Sluice-Backend: Active\r\n" }
        XCTAssertEqual(p2, 0)
        let (p3, _) = try countPreview(f, n: 20) { _ in "X-Sluice-Backend: nonsense\r\n" }
        XCTAssertEqual(p3, 0, "an unknown value is no override: the weights apply")
    }

    func testOverrideIgnoredWhenNotConfigured() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))]) {
            $0.routes[0].weights = Weights(active: 100, preview: 0)!
        }
        let (p, _) = try countPreview(f, n: 20) { _ in "X-Sluice-Backend: preview\r\n" }
        XCTAssertEqual(p, 0)
    }

    func testRouteWithoutPreviewAndFirstMatch() throws {
        let f = try ProxyFixture(backends: [("v1", versionBackend("v1")), ("v2", versionBackend("v2"))],
                                 routes: [RouteConfig(name: "special", prefix: "/v1/models/special", active: "v2"),
                                          RouteConfig(name: "predict", prefix: "/v1/", active: "v1", preview: "v2",
                                                      weights: Weights(active: 100, preview: 0)!)])
        let r = try f.exchange(get("/v1/models/special:predict"))
        XCTAssertEqual(r.text, "{\"version\":\"v2\"}")
        XCTAssertEqual(r.header("x-sluice-backend"), "active", "a route's only backend is its active one")
        XCTAssertEqual(try f.exchange(get("/v1/models/other")).text, "{\"version\":\"v1\"}")
    }
}
