import Config
import Harness
import Proxy
import SluiceCore
import TestSupport
import XCTest

/// Active health checks take a failing endpoint out of rotation and bring
/// it back; with none left the proxy answers 503 no_healthy_endpoint.
final class HealthCheckTests: XCTestCase {
    func testFailingEndpointLeavesAndReturns() throws {
        let sick = Locked(false)
        let a = try ScriptedBackend { req, res in
            if req.target == "/healthz" { res.respond(status: sick.withLock { $0 } ? 503 : 200, reason: "X"); return }
            res.respond(body: Array("a".utf8))
        }
        let b = try ScriptedBackend { req, res in
            if req.target == "/healthz" { res.respond(); return }
            res.respond(body: Array("b".utf8))
        }
        defer { a.stop(); b.stop() }
        let f = try ProxyFixture(backends: [("m", echoBackend)]) {
            $0.clusters[0].endpoints = [a.address, b.address]
            $0.clusters[0].healthCheck = HealthCheckConfig(path: "/healthz", interval: 50, timeout: 500,
                                                           unhealthyThreshold: 2, healthyThreshold: 2)
        }
        func bodies(_ n: Int) throws -> [String] { try (0..<n).map { _ in try f.exchange(get("/v1/x")).text } }
        XCTAssertEqual(Set(try bodies(10)), ["a", "b"], "both endpoints serve while healthy")
        sick.withLock { $0 = true }
        XCTAssertTrue(waitUntil(5) { f.server.snapshotHealth(cluster: 0, endpoint: 0) == false }, "never marked down")
        XCTAssertEqual(Set(try bodies(10)), ["b"], "a down endpoint gets no traffic")
        sick.withLock { $0 = false }
        XCTAssertTrue(waitUntil(5) { f.server.snapshotHealth(cluster: 0, endpoint: 0) == true }, "never came back")
        XCTAssertEqual(Set(try bodies(10)), ["a", "b"])
    }

    func testNoHealthyEndpointIs503() throws {
        let a = try ScriptedBackend { _, res in res.respond(status: 500, reason: "X") }
        defer { a.stop() }
        let f = try ProxyFixture(backends: [("m", echoBackend)]) {
            $0.clusters[0].endpoints = [a.address]
            $0.clusters[0].healthCheck = HealthCheckConfig(path: "/healthz", interval: 50, timeout: 500,
                                                           unhealthyThreshold: 1, healthyThreshold: 1)
        }
        XCTAssertTrue(waitUntil(5) { f.server.snapshotHealth(cluster: 0, endpoint: 0) == false })
        let r = try f.exchange(get("/v1/x"))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, "{\"error\":\"no_healthy_endpoint\"}\n")
    }

}
