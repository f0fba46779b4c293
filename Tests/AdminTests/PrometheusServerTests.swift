import Foundation
import Harness
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus server (Debian's `prometheus`) scrapes Sluice's admin
/// port on loopback; its query API must report the traffic we sent.
final class PrometheusServerTests: XCTestCase {
    func testPrometheusSeesTheSplit() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            return XCTFail("prometheus is not installed (scripts/deps test installs it)")
        }
        let s = try MetricsTests.Setup()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-prom-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let webPort = try freePort()
        try """
        global: { scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s }
        scrape_configs:
          - job_name: sluice
            static_configs: [{ targets: ["127.0.0.1:\(s.adminPort)"] }]
        """.write(to: dir.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        p.arguments = ["--config.file=\(dir.appendingPathComponent("prometheus.yml").path)",
                       "--storage.tsdb.path=\(dir.appendingPathComponent("data").path)",
                       "--web.listen-address=127.0.0.1:\(webPort)", "--log.level=error"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        XCTAssertTrue(wait(20) { (try? self.query(webPort, "up")) != nil }, "prometheus did not come up")

        // Traffic in batches, each scraped before the next is sent, so the
        // counters have several increasing samples (what rate() needs).
        var sent: [String: Int] = [:]
        var seen: [String: Double] = [:]
        for batch in 0..<5 {
            for (k, v) in try s.send(120, "/v1/status/200") { sent[k, default: 0] += v }
            XCTAssertTrue(wait(30) {
                seen = (try? self.query(webPort, "sum by (backend) (sluice_requests_total{route=\"predict\"})")) ?? [:]
                return seen["active"] == Double(sent["active"] ?? 0) && seen["preview"] == Double(sent["preview"] ?? 0)
            }, "batch \(batch): prometheus saw \(seen), we sent \(sent)")
        }
        // The canary query: per-backend rate, positive, in the split's proportion.
        let rate = try query(webPort, "sum by (backend) (rate(sluice_requests_total{route=\"predict\"}[10m]))")
        let a = rate["active"] ?? 0, pv = rate["preview"] ?? 0
        XCTAssertGreaterThan(a, 0)
        XCTAssertGreaterThan(pv, 0)
        let sentShare = Double(sent["preview"] ?? 0) / 600
        XCTAssertEqual(pv / (a + pv), sentShare, accuracy: 0.08, "rate share \(rate) vs sent \(sent)")
        // Envoy's names answer the same question for Flagger-style queries.
        let envoy = try query(webPort, "sum(envoy_cluster_upstream_rq{envoy_cluster_name=\"model-v2\"})", by: nil)
        XCTAssertEqual(envoy[""], Double(sent["preview"] ?? 0))
    }

    /// Runs an instant query; returns value by the `by` label ("" when none).
    private func query(_ port: UInt16, _ q: String, by label: String? = "backend") throws -> [String: Double] {
        let s = try BlockingSocket(connectTo: port, timeoutSeconds: 5)
        defer { s.close() }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "+&=")
        let enc = q.addingPercentEncoding(withAllowedCharacters: allowed)!
        try s.write("GET /api/v1/query?query=\(enc) HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
        let (head, _, body) = try MessageReader(s).readResponse()
        guard head.status == 200 else { throw NSError(domain: "prom", code: head.status) }
        let json = try JSONSerialization.jsonObject(with: Data(body)) as! [String: Any]
        let data = json["data"] as! [String: Any]
        var out: [String: Double] = [:]
        for r in data["result"] as! [[String: Any]] {
            let metric = r["metric"] as! [String: String]
            let value = r["value"] as! [Any]
            out[label.flatMap { metric[$0] } ?? ""] = Double(value[1] as! String)
        }
        return out
    }

    private func wait(_ seconds: Double, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { if cond() { return true }; usleep(200_000) }
        return false
    }

    private func freePort() throws -> UInt16 { try freeLoopbackPort() }
}
