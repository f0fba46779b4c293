import Config
import Routing
import XCTest

final class ConfigTests: XCTestCase {
    static let good = """
    listen: 127.0.0.1:8080
    workers: 2
    clusters:
      model-v1:
        endpoints: ["127.0.0.1:8081", "models.internal:8081"]
        lb: least_request
      model-v2:
        endpoints: ["[::1]:8082"]
    routes:
      - name: predict
        prefix: /v1/models/
        active: model-v1
        preview: model-v2
        weights: { active: 90, preview: 10 }
        sticky: header:X-User-Id
        override_header: x-sluice-backend
        timeout: 2s
        retries: { attempts: 1, on: [connect_failure] }
      - name: default
        prefix: /
        active: model-v1
    timeouts: { connect: 250ms, idle: 5m }
    """

    func testGoodConfigParses() throws {
        let c = try ConfigLoader.parse(Self.good, file: "good.yaml")
        XCTAssertEqual(c.listen, ["127.0.0.1:8080"])
        XCTAssertEqual(c.workers, 2)
        XCTAssertEqual(c.clusters.map(\.name), ["model-v1", "model-v2"])
        XCTAssertEqual(c.clusters[0].lb, .leastRequest)
        XCTAssertEqual(c.routes.count, 2)
        let r = c.routes[0]
        XCTAssertEqual(r.weights, Weights(active: 90, preview: 10))
        XCTAssertEqual(r.sticky, .header("x-user-id"))
        XCTAssertEqual(r.overrideHeader, "x-sluice-backend")
        XCTAssertEqual(r.timeout, 2000)
        XCTAssertEqual(r.retry, RetryPolicy(attempts: 1, onConnectFailure: true, onReset: false))
        XCTAssertNil(c.routes[1].preview)
        XCTAssertEqual(c.timeouts.connect, 250)
        XCTAssertEqual(c.timeouts.idle, 300_000)
        XCTAssertEqual(c.timeouts.header, 10_000, "defaults stay")
    }

    func testShippedDefaultConfigIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try ConfigLoader.load(path: root.appendingPathComponent("conf/sluice.yaml").path)
        XCTAssertEqual(c.listen, ["0.0.0.0:80"])
        XCTAssertEqual(c.routes.first?.weights, Weights(active: 90, preview: 10))
    }

    private func problems(_ text: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(text, file: "bad.yaml")
            return []
        } catch let e as ConfigError {
            return e.problems.map(\.description)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    private func assertProblem(_ text: String, line: Int, contains: String, file: StaticString = #filePath, fileLine: UInt = #line) {
        let p = problems(text)
        XCTAssertTrue(p.contains { $0.hasPrefix("bad.yaml:\(line): ") && $0.contains(contains) },
                      "expected bad.yaml:\(line): …\(contains)…, got \(p)", file: file, line: fileLine)
    }

    private let base = """
    clusters:
      a: { endpoints: ["127.0.0.1:1"] }
      b: { endpoints: ["127.0.0.1:2"] }
    """

    func testUnknownKeyIsAnErrorWithItsLine() {
        assertProblem(base + "\nroutes:\n  - { name: r, prefix: /, active: a }\nlisten_port: 80\n", line: 6, contains: "unknown key 'listen_port'")
        assertProblem(base + "\nroutes:\n  - name: r\n    prefix: /\n    active: a\n    wieghts: { active: 1, preview: 0 }\n", line: 8, contains: "unknown key 'wieghts'")
    }

    func testBadDuration() {
        assertProblem(base + "\nroutes:\n  - { name: r, prefix: /, active: a }\ntimeouts:\n  connect: 5\n", line: 7, contains: "duration")
        assertProblem(base + "\nroutes:\n  - { name: r, prefix: /, active: a }\ntimeouts:\n  idle: 1.5s\n", line: 7, contains: "duration")
        XCTAssertEqual(parseDuration("250ms"), 250)
        XCTAssertEqual(parseDuration("5m"), 300_000)
        XCTAssertNil(parseDuration("-1s"))
        XCTAssertNil(parseDuration("s"))
        XCTAssertNil(parseDuration("99999999999999999999s"))
    }

    func testNegativeAndAllZeroWeights() {
        assertProblem(base + "\nroutes:\n  - name: r\n    prefix: /\n    active: a\n    preview: b\n    weights: { active: -1, preview: 10 }\n",
                      line: 9, contains: "non-negative")
        assertProblem(base + "\nroutes:\n  - name: r\n    prefix: /\n    active: a\n    preview: b\n    weights: { active: 0, preview: 0 }\n",
                      line: 9, contains: "both be zero")
        assertProblem(base + "\nroutes:\n  - name: r\n    prefix: /\n    active: a\n    weights: { active: 0, preview: 10 }\n",
                      line: 8, contains: "no preview")
    }

    func testUnknownClusterAndDuplicateNames() {
        assertProblem(base + "\nroutes:\n  - { name: r, prefix: /, active: nope }\n", line: 5, contains: "unknown cluster 'nope'")
        assertProblem(base + "\nroutes:\n  - { name: r, prefix: /a, active: a }\n  - { name: r, prefix: /b, active: b }\n",
                      line: 6, contains: "duplicate route name 'r'")
        let dupCluster = "clusters:\n  a: { endpoints: [\"127.0.0.1:1\"] }\n  a: { endpoints: [\"127.0.0.1:2\"] }\nroutes:\n  - { name: r, prefix: /, active: a }\n"
        XCTAssertTrue(problems(dupCluster).contains { $0.contains("duplicate") }, "\(problems(dupCluster))")
    }

    func testEveryProblemIsReported() {
        let text = base + "\nroutes:\n  - { name: r, prefix: nope, active: zz }\ntimeouts: { connect: soon }\nworkers: 0\n"
        let p = problems(text)
        XCTAssertGreaterThanOrEqual(p.count, 4, "\(p)")
    }

    func testBadEndpointsAndAddresses() {
        assertProblem("clusters:\n  a: { endpoints: [\"no-port\"] }\nroutes:\n  - { name: r, prefix: /, active: a }\n", line: 2, contains: "not host:port")
        assertProblem(base + "\nroutes:\n  - { name: r, prefix: /, active: a }\nlisten: localhost:80\n", line: 6, contains: "not an address")
    }

    func testYAMLSyntaxErrorHasALine() {
        let p = problems("clusters:\n  a: [\n")
        XCTAssertEqual(p.count, 1)
        XCTAssertTrue(p[0].hasPrefix("bad.yaml:"), p[0])
    }

    func testMissingFile() {
        XCTAssertThrowsError(try ConfigLoader.load(path: "/nonexistent/sluice.yaml")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/sluice.yaml:0: cannot read"), "\(e)")
        }
    }
}
