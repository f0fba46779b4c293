import Config
import Foundation
import Harness
import HTTP1
import Routing
import Runtime
import SluiceCore
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What Sluice measures, read back through the real admin port (SPEC §7).
final class MetricsTests: XCTestCase {
    final class Setup: @unchecked Sendable {
        let runtime: SluiceRuntime
        let v1: ScriptedBackend, v2: ScriptedBackend
        var port: UInt16 { runtime.proxy.boundAddresses[0].port }
        var adminPort: UInt16 { runtime.admin!.address.port }

        init(envoy: Bool = true) throws {
            // The backends answer the status the path asks for: /v1/status/503 -> 503.
            let handler: ScriptedBackend.Handler = { req, res in
                let code = req.target.split(separator: "/").last.flatMap { Int($0) } ?? 200
                res.respond(status: code, reason: "X", body: Array("ok".utf8))
            }
            v1 = try ScriptedBackend(handler)
            v2 = try ScriptedBackend(handler)
            var cfg = SluiceConfig()
            cfg.listen = ["127.0.0.1:0"]
            cfg.workers = 2
            cfg.clusters = [ClusterConfig(name: "model-v1", endpoints: [v1.address]), ClusterConfig(name: "model-v2", endpoints: [v2.address])]
            cfg.routes = [RouteConfig(name: "predict", prefix: "/v1/", active: "model-v1", preview: "model-v2",
                                      weights: Weights(active: 70, preview: 30)!)]
            cfg.monitor.envoyMetrics = envoy
            runtime = try SluiceRuntime(config: cfg, adminListen: "127.0.0.1:0")
            try runtime.start()
        }

        deinit {
            runtime.stop()
            v1.stop()
            v2.stop()
        }

        /// Sends `n` requests to `path` over one connection; returns statuses by backend.
        @discardableResult
        func send(_ n: Int, _ path: String) throws -> [String: Int] {
            let s = try BlockingSocket(connectTo: port)
            defer { s.close() }
            let r = MessageReader(s)
            var seen: [String: Int] = [:]
            for _ in 0..<n {
                try s.write("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
                let (head, bytes, _) = try r.readResponse()
                seen[headerValue(head.h, bytes, "x-sluice-backend") ?? "-", default: 0] += 1
            }
            return seen
        }

        func admin(_ path: String, headers: String = "") throws -> (Int, [String: String], [UInt8]) {
            let s = try BlockingSocket(connectTo: adminPort)
            defer { s.close() }
            try s.write("GET \(path) HTTP/1.1\r\nHost: admin\r\n\(headers)\r\n")
            let (head, bytes, body) = try MessageReader(s).readResponse()
            var h: [String: String] = [:]
            for f in head.h.fields {
                h[String(decoding: bytes[f.nameRange], as: UTF8.self).lowercased()] = String(decoding: bytes[f.valueRange], as: UTF8.self)
            }
            return (head.status, h, body)
        }

        func metrics() throws -> String { String(decoding: try admin("/metrics").2, as: UTF8.self) }
    }

    /// Parses `name{labels} value` lines into (labels, value) for one metric name.
    static func samples(_ text: String, _ name: String) -> [([String: String], Double)] {
        text.split(separator: "\n").compactMap { line -> ([String: String], Double)? in
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " ") else { return nil }
            var labels: [String: String] = [:]
            if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                for pair in line[line.index(after: open)..<close].split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    labels[String(kv[0])] = String(kv[1].dropFirst().dropLast())
                }
            }
            guard let v = Double(line.split(separator: " ").last!) else { return nil }
            return (labels, v)
        }
    }

    /// After N requests the counters add up to N exactly, per class and per backend.
    func testCountsAreExact() throws {
        let s = try Setup()
        var byBackend: [String: Int] = [:]
        for (k, v) in try s.send(300, "/v1/status/200") { byBackend[k, default: 0] += v }
        for (k, v) in try s.send(50, "/v1/status/503") { byBackend[k, default: 0] += v }
        for (k, v) in try s.send(20, "/v1/status/404") { byBackend[k, default: 0] += v }
        try s.send(7, "/nowhere")  // no route: counted under "-"
        let text = try s.metrics()
        let req = Self.samples(text, "sluice_requests_total")
        XCTAssertEqual(req.reduce(0) { $0 + $1.1 }, 377, text)
        let byClass = Dictionary(grouping: req, by: { $0.0["class"]! }).mapValues { $0.reduce(0) { $0 + $1.1 } }
        XCTAssertEqual(byClass["2xx"], 300)
        XCTAssertEqual(byClass["5xx"], 50)
        XCTAssertEqual(byClass["4xx"], 27)
        for backend in ["active", "preview"] {
            let n = req.filter { $0.0["backend"] == backend && $0.0["route"] == "predict" }.reduce(0) { $0 + $1.1 }
            XCTAssertEqual(Int(n), byBackend[backend] ?? 0, "\(backend) counted as it answered")
        }
        XCTAssertEqual(req.filter { $0.0["route"] == "-" }.reduce(0) { $0 + $1.1 }, 7)
        XCTAssertTrue(req.contains { $0.0["route"] == "-" && $0.0["cluster"] == "-" && $0.0["code"] == "404" })
        // Histogram counts match too, and buckets are cumulative.
        let count = Self.samples(text, "sluice_request_duration_seconds_count").reduce(0) { $0 + $1.1 }
        XCTAssertEqual(count, 377)
        let inf = Self.samples(text, "sluice_request_duration_seconds_bucket").filter { $0.0["le"] == "+Inf" }.reduce(0) { $0 + $1.1 }
        XCTAssertEqual(inf, 377)
        // Weights are exported as configured.
        let w = Self.samples(text, "sluice_route_weight")
        XCTAssertEqual(w.first { $0.0["backend"] == "active" }?.1, 70)
        XCTAssertEqual(w.first { $0.0["backend"] == "preview" }?.1, 30)
    }

    func testEnvoyCompatibleFamilyAndSwitch() throws {
        let s = try Setup()
        try s.send(40, "/v1/status/200")
        try s.send(10, "/v1/status/500")
        let text = try s.metrics()
        let rq = Self.samples(text, "envoy_cluster_upstream_rq")
        XCTAssertEqual(rq.reduce(0) { $0 + $1.1 }, 50)
        XCTAssertTrue(rq.allSatisfy { ["model-v1", "model-v2"].contains($0.0["envoy_cluster_name"]!) })
        let xx = Self.samples(text, "envoy_cluster_upstream_rq_xx")
        XCTAssertEqual(xx.filter { $0.0["envoy_response_code_class"] == "5" }.reduce(0) { $0 + $1.1 }, 10)
        XCTAssertEqual(Self.samples(text, "envoy_cluster_upstream_rq_time_count").reduce(0) { $0 + $1.1 }, 50)
        XCTAssertTrue(text.contains("envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"model-v1\",le=\"0.5\"}"))

        let off = try Setup(envoy: false)
        try off.send(5, "/v1/status/200")
        XCTAssertFalse(try off.metrics().contains("envoy_"))
    }

    func testGzipWhenAsked() throws {
        let s = try Setup()
        try s.send(20, "/v1/status/200")
        let (status, headers, body) = try s.admin("/metrics", headers: "Accept-Encoding: gzip\r\n")
        XCTAssertEqual(status, 200)
        XCTAssertEqual(headers["content-encoding"], "gzip")
        XCTAssertEqual(Array(body.prefix(2)), [0x1F, 0x8B])
        let plain = try s.admin("/metrics")
        XCTAssertNil(plain.1["content-encoding"])
        XCTAssertTrue(plain.1["content-type"]!.hasPrefix("text/plain; version=0.0.4"))
        // The system gunzip reads what we sent.
        let out = String(decoding: try systemGunzip(body), as: UTF8.self)
        XCTAssertTrue(out.contains("sluice_requests_total{route=\"predict\""), out)
    }

    /// promtool (the real Prometheus checker) accepts what we export. With
    /// the Envoy family on, its only remarks are that Envoy's counter names
    /// lack `_total`: those names are Envoy's own, kept so Flagger's and
    /// Argo Rollouts' queries work unchanged.
    func testPromtoolAcceptsTheExposition() throws {
        for envoy in [false, true] {
            let s = try Setup(envoy: envoy)
            try s.send(30, "/v1/status/200")
            try s.send(5, "/v1/status/502")
            try s.send(3, "/other")
            let (rc, out) = try promtool(try s.metrics())
            if envoy {
                let remarks = out.split(separator: "\n").filter { !$0.isEmpty }
                XCTAssertFalse(remarks.isEmpty, "expected Envoy naming remarks")
                for r in remarks {
                    XCTAssertTrue(r.hasPrefix("envoy_cluster_upstream_rq") && r.contains("should have \"_total\" suffix"), String(r))
                }
            } else {
                XCTAssertEqual(rc, 0, out)
                XCTAssertTrue(out.isEmpty, out)
            }
        }
    }

    private func promtool(_ text: String) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        p.arguments = ["check", "metrics"]
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardError = outPipe
        p.standardOutput = outPipe
        try p.run()
        inPipe.fileHandleForWriting.write(Data(text.utf8))
        try inPipe.fileHandleForWriting.close()
        let out = String(decoding: outPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    func testStatsJSON() throws {
        let s = try Setup()
        try s.send(100, "/v1/status/200")
        try s.send(10, "/v1/status/503")
        let (status, _, body) = try s.admin("/stats")
        XCTAssertEqual(status, 200)
        let json = try JSONSerialization.jsonObject(with: Data(body)) as! [String: Any]
        let rows = json["stats"] as! [[String: Any]]
        let total = rows.reduce(0) { $0 + ($1["requests"] as! Int) }
        XCTAssertEqual(total, 110)
        for r in rows {
            let lat = r["latency_ms"] as! [String: Any]
            let p50 = lat["p50"] as! Double, p99 = lat["p99"] as! Double
            XCTAssertGreaterThan(p50, 0)
            XCTAssertLessThanOrEqual(p50, p99)
            XCTAssertLessThan(p99, 1000)
            XCTAssertNotNil(r["weight"] as? Int)
        }
        let fives = rows.reduce(0) { $0 + (($1["responses"] as! [String: Int])["5xx"] ?? 0) }
        XCTAssertEqual(fives, 10)
    }

    func testHealthReadyAndUnknownPaths() throws {
        let s = try Setup()
        XCTAssertEqual(try s.admin("/healthz").0, 200)
        XCTAssertEqual(try s.admin("/ready").0, 200)
        XCTAssertEqual(try s.admin("/nope").0, 404)
    }
}
