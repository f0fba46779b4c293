import Config
import EventLoop
import Foundation
import Harness
import HTTP1
import Routing
import Runtime
import SluiceCore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The admin API through the real admin port (SPEC §6): every refusal is
/// answered and changes nothing.
final class AdminAPITests: XCTestCase {
    final class Env: @unchecked Sendable {
        let runtime: SluiceRuntime
        let v1: ScriptedBackend, v2: ScriptedBackend
        var port: UInt16 { runtime.proxy.boundAddresses[0].port }
        var adminPort: UInt16 { runtime.admin!.address.port }

        init(tune: (inout SluiceConfig) -> Void = { _ in }) throws {
            v1 = try ScriptedBackend { _, res in res.respond(body: Array("v1".utf8)) }
            v2 = try ScriptedBackend { _, res in res.respond(body: Array("v2".utf8)) }
            var cfg = SluiceConfig()
            cfg.listen = ["127.0.0.1:0"]
            cfg.workers = 2
            cfg.admin.listen = "127.0.0.1:0"
            cfg.clusters = [ClusterConfig(name: "model-v1", endpoints: [v1.address]), ClusterConfig(name: "model-v2", endpoints: [v2.address])]
            cfg.routes = [RouteConfig(name: "predict", prefix: "/v1/", active: "model-v1", preview: "model-v2",
                                      weights: Weights(active: 90, preview: 10)!),
                          RouteConfig(name: "plain", prefix: "/", active: "model-v1")]
            tune(&cfg)
            runtime = try SluiceRuntime(config: cfg)
            try runtime.start()
        }

        deinit {
            runtime.stop()
            v1.stop()
            v2.stop()
        }

        func call(_ method: String, _ path: String, body: String? = nil, token: String? = nil, extra: String = "") throws -> (Int, String) {
            let s = try BlockingSocket(connectTo: adminPort)
            defer { s.close() }
            var req = "\(method) \(path) HTTP/1.1\r\nHost: admin\r\n\(extra)"
            if let t = token { req += "Authorization: Bearer \(t)\r\n" }
            if let b = body { req += "Content-Type: application/json\r\nContent-Length: \(b.utf8.count)\r\n\r\n\(b)" } else { req += "\r\n" }
            try s.write(req)
            let (head, _, respBody) = try MessageReader(s).readResponse()
            return (head.status, String(decoding: respBody, as: UTF8.self))
        }

        func weights(_ route: String = "predict") throws -> [String: Int] {
            let (st, body) = try call("GET", "/routes/\(route)")
            XCTAssertEqual(st, 200)
            let obj = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
            return obj["weights"] as! [String: Int]
        }

        func backends(_ n: Int) throws -> [String: Int] {
            let s = try BlockingSocket(connectTo: port)
            defer { s.close() }
            let r = MessageReader(s)
            var seen: [String: Int] = [:]
            for _ in 0..<n {
                try s.write("GET /v1/x HTTP/1.1\r\nHost: t\r\n\r\n")
                let (head, bytes, _) = try r.readResponse()
                XCTAssertEqual(head.status, 200)
                seen[headerValue(head.h, bytes, "x-sluice-backend") ?? "?", default: 0] += 1
            }
            return seen
        }
    }

    func testRoutesAndOneRoute() throws {
        let e = try Env()
        let (st, body) = try e.call("GET", "/routes")
        XCTAssertEqual(st, 200)
        let arr = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [[String: Any]]
        XCTAssertEqual(arr.map { $0["name"] as! String }, ["predict", "plain"])
        XCTAssertEqual(arr[0]["preview"] as? String, "model-v2")
        XCTAssertTrue(arr[1]["preview"] is NSNull)
        XCTAssertEqual(arr[0]["weights"] as? [String: Int], ["active": 90, "preview": 10])
        XCTAssertEqual(try e.call("GET", "/routes/nope").0, 404)
    }

    func testPutWeightsAppliesToTraffic() throws {
        let e = try Env()
        let (st, body) = try e.call("PUT", "/routes/predict/weights", body: "{\"active\":0,\"preview\":100}")
        XCTAssertEqual(st, 200, body)
        XCTAssertTrue(body.contains("\"weights\":{\"active\":0,\"preview\":100}"), body)
        XCTAssertEqual(try e.backends(50), ["preview": 50])
        XCTAssertEqual(try e.call("POST", "/routes/predict/rollback").0, 200)
        XCTAssertEqual(try e.weights(), ["active": 100, "preview": 0])
        XCTAssertEqual(try e.backends(30), ["active": 30])
        XCTAssertEqual(try e.call("POST", "/routes/predict/promote").0, 200)
        XCTAssertEqual(try e.weights(), ["active": 0, "preview": 100])
        // The weight gauge follows.
        let metrics = try e.call("GET", "/metrics").1
        XCTAssertTrue(metrics.contains("sluice_route_weight{route=\"predict\",backend=\"preview\"} 100"), metrics)
    }

    func testBadInputIsRefusedAndChangesNothing() throws {
        let e = try Env()
        let bodies: [(String, String)] = [
            ("{\"active\":90", "malformed"), ("not json", "malformed"), ("", "empty"),
            ("{\"active\":-1,\"preview\":10}", "negative"), ("{\"active\":1.5,\"preview\":10}", "fraction"),
            ("{\"active\":\"90\",\"preview\":10}", "string"), ("{\"active\":0,\"preview\":0}", "all zero"),
            ("{\"active\":90,\"preview\":10,\"canary\":1}", "unknown field"), ("{\"active\":90,\"active\":80,\"preview\":10}", "duplicate key"),
            ("{\"active\":99999999999999999999,\"preview\":1}", "huge"), ("{\"active\":4294967296,\"preview\":1}", "past UInt32"),
            ("{\"active\":90}", "missing preview"), ("{\"active\":9e1,\"preview\":10}", "exponent"),
            ("{\"active\":90,\"preview\":10} x", "trailing"), ("[90,10]", "array"), ("{\"active\":090,\"preview\":10}", "leading zero"),
        ]
        for (b, why) in bodies {
            let (st, resp) = try e.call("PUT", "/routes/predict/weights", body: b)
            XCTAssertEqual(st, 400, "\(why): \(resp)")
            XCTAssertTrue(resp.hasPrefix("{\"error\":"), resp)
            XCTAssertEqual(try e.weights(), ["active": 90, "preview": 10], "\(why) changed the state")
        }
        XCTAssertEqual(try e.call("PUT", "/routes/nope/weights", body: "{\"active\":1,\"preview\":1}").0, 404)
        XCTAssertEqual(try e.call("PUT", "/routes/plain/weights", body: "{\"active\":1,\"preview\":1}").0, 400, "no preview: no weights")
        XCTAssertEqual(try e.call("GET", "/routes/predict/weights").0, 405)
        XCTAssertEqual(try e.call("POST", "/routes/predict/weights", body: "{\"active\":1,\"preview\":1}").0, 405)
        XCTAssertEqual(try e.call("DELETE", "/routes").0, 405)
        XCTAssertEqual(try e.call("GET", "/routes/predict/promote").0, 405)
        let big = "{\"active\":1,\"preview\":1" + String(repeating: " ", count: 70_000) + "}"
        XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: big).0, 413)
        XCTAssertEqual(try e.weights(), ["active": 90, "preview": 10])
    }

    func testTokenGuardsMutatingCalls() throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-token-\(getpid())").path
        try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { unlink(tokenFile) }
        let e = try Env { $0.admin.tokenFile = tokenFile }
        XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: "{\"active\":1,\"preview\":1}").0, 401)
        XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: "{\"active\":1,\"preview\":1}", token: "wrong").0, 401)
        XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: "{\"active\":1,\"preview\":1}", token: "s3cret-token-and-more").0, 401)
        XCTAssertEqual(try e.call("POST", "/routes/predict/promote").0, 401)
        XCTAssertEqual(try e.weights(), ["active": 90, "preview": 10])
        XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: "{\"active\":1,\"preview\":1}", token: "s3cret-token").0, 200)
        XCTAssertEqual(try e.call("GET", "/routes").0, 200, "reads need no token")
        let config = try e.call("GET", "/config").1
        XCTAssertFalse(config.contains("s3cret"), "the token never appears in /config")
        XCTAssertTrue(config.contains(tokenFile))
    }

    func testNonLoopbackAdminWithoutTokenIsRefused() {
        XCTAssertThrowsError(try Env { $0.admin.listen = "0.0.0.0:0" }) { e in
            XCTAssertTrue("\(e)".contains("not a loopback address"), "\(e)")
        }
    }

    func testStateFileSurvivesRestartAndCorruptionIsIgnored() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json").path
        defer { unlink(state) }
        do {
            let e = try Env { $0.admin.stateFile = state }
            XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: "{\"active\":30,\"preview\":70}").0, 200)
            // Written before the answer.
            let text = try String(contentsOfFile: state, encoding: .utf8)
            XCTAssertTrue(text.contains("\"predict\":{\"active\":30,\"preview\":70}"), text)
        }
        do {
            let e = try Env { $0.admin.stateFile = state }
            XCTAssertEqual(try e.weights(), ["active": 30, "preview": 70], "restored over the config's 90/10")
        }
        try "{garbage".write(toFile: state, atomically: true, encoding: .utf8)
        let e = try Env { $0.admin.stateFile = state }
        XCTAssertEqual(try e.weights(), ["active": 90, "preview": 10])
        XCTAssertTrue(e.runtime.warnings.contains { $0.contains("ignored") }, "\(e.runtime.warnings)")
    }

    /// A crash between writing the temporary file and the rename leaves the
    /// old state in place (the leftover temporary file is not read).
    func testInterruptedWriteLeavesTheOldState() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json").path
        defer { unlink(state); unlink(state + ".tmp.1") }
        try "{\"routes\":{\"predict\":{\"active\":60,\"preview\":40}}}\n".write(toFile: state, atomically: false, encoding: .utf8)
        try "{\"routes\":{\"predict\":{\"act".write(toFile: state + ".tmp.1", atomically: false, encoding: .utf8)
        let e = try Env { $0.admin.stateFile = state }
        XCTAssertEqual(try e.weights(), ["active": 60, "preview": 40])
        XCTAssertTrue(e.runtime.warnings.isEmpty, "\(e.runtime.warnings)")
    }

    /// 8 threads change weights while traffic flows: no request is lost and
    /// the state ends at the last accepted write.
    func testConcurrentWeightChangesUnderTraffic() throws {
        let e = try Env()
        let failures = Locked(0), served = Locked(0)
        let stop = Locked(false)
        let traffic = (0..<2).map { _ in
            WorkerThread(name: "traffic") {
                guard let s = try? BlockingSocket(connectTo: e.port) else { failures.withLock { $0 += 1 }; return }
                let r = MessageReader(s)
                var n = 0
                while !stop.withLock({ $0 }) && n < 5000 {
                    do {
                        try s.write("GET /v1/x HTTP/1.1\r\nHost: t\r\n\r\n")
                        let (h, _, _) = try r.readResponse()
                        if h.status == 200 { served.withLock { $0 += 1 } } else { failures.withLock { $0 += 1 } }
                    } catch { failures.withLock { $0 += 1 }; return }
                    n += 1
                }
                s.close()
            }
        }
        // Traffic is flowing before the first change.
        let start = Date().addingTimeInterval(5)
        while served.withLock({ $0 }) < 20 && Date() < start { usleep(5_000) }
        let servedBefore = served.withLock { $0 }
        let writes = Locked<[[String: Int]]>([])
        let writers = (0..<8).map { t in
            WorkerThread(name: "writer") {
                for k in 0..<20 {
                    let w = ["active": t * 100 + k, "preview": 1 + k]
                    if let (st, _) = try? e.call("PUT", "/routes/predict/weights", body: "{\"active\":\(w["active"]!),\"preview\":\(w["preview"]!)}"), st == 200 {
                        writes.withLock { $0.append(w) }
                    }
                }
            }
        }
        for w in writers { w.join() }
        let servedDuring = served.withLock { $0 } - servedBefore
        let final = try e.weights()
        XCTAssertEqual(writes.withLock { $0.count }, 160)
        XCTAssertTrue(writes.withLock { $0.contains(final) }, "final \(final) was never written")
        XCTAssertEqual(try e.call("PUT", "/routes/predict/weights", body: "{\"active\":7,\"preview\":3}").0, 200)
        XCTAssertEqual(try e.weights(), ["active": 7, "preview": 3])
        stop.withLock { $0 = true }
        for t in traffic { t.join() }
        XCTAssertEqual(failures.withLock { $0 }, 0, "a request was lost while weights changed")
        XCTAssertGreaterThanOrEqual(servedBefore, 20)
        XCTAssertGreaterThan(servedDuring, 0, "traffic flowed while the weights changed")
    }

    func testReloadEndpointAndTheWeightRule() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-reload-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let v1 = try ScriptedBackend { _, res in res.respond(body: Array("v1".utf8)) }
        let v2 = try ScriptedBackend { _, res in res.respond(body: Array("v2".utf8)) }
        defer { v1.stop(); v2.stop() }
        let path = dir.appendingPathComponent("sluice.yaml").path
        func write(_ predictWeights: String, extraRoute: Bool = false) throws {
            try """
            listen: 127.0.0.1:0
            workers: 1
            admin: { listen: "127.0.0.1:0" }
            clusters:
              model-v1: { endpoints: ["\(v1.address)"] }
              model-v2: { endpoints: ["\(v2.address)"] }
            routes:
              - { name: predict, prefix: /v1/, active: model-v1, preview: model-v2, weights: \(predictWeights) }
            \(extraRoute ? "  - { name: other, prefix: /other/, active: model-v2 }" : "")
            """.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try write("{ active: 90, preview: 10 }")
        let rt = try SluiceRuntime(config: ConfigLoader.load(path: path))
        try rt.start()
        defer { rt.stop() }
        func call(_ m: String, _ p: String, _ b: String? = nil) throws -> (Int, String) {
            let s = try BlockingSocket(connectTo: rt.admin!.address.port)
            defer { s.close() }
            var req = "\(m) \(p) HTTP/1.1\r\nHost: a\r\n"
            if let b { req += "Content-Length: \(b.utf8.count)\r\n\r\n\(b)" } else { req += "\r\n" }
            try s.write(req)
            let (h, _, body) = try MessageReader(s).readResponse()
            return (h.status, String(decoding: body, as: UTF8.self))
        }
        XCTAssertEqual(try call("PUT", "/routes/predict/weights", "{\"active\":50,\"preview\":50}").0, 200)
        // The file did not change predict's weights: the runtime 50/50 survives a reload that adds a route.
        try write("{ active: 90, preview: 10 }", extraRoute: true)
        XCTAssertEqual(try call("POST", "/reload").0, 200)
        XCTAssertTrue(try call("GET", "/routes/predict").1.contains("{\"active\":50,\"preview\":50}"))
        XCTAssertEqual(try call("GET", "/routes/other").0, 200)
        // The file changes them: the file wins.
        try write("{ active: 80, preview: 20 }", extraRoute: true)
        XCTAssertEqual(try call("POST", "/reload").0, 200)
        XCTAssertTrue(try call("GET", "/routes/predict").1.contains("{\"active\":80,\"preview\":20}"))
        // An invalid file is refused with its errors; nothing changes.
        try "routes: [".write(toFile: path, atomically: true, encoding: .utf8)
        let (st, body) = try call("POST", "/reload")
        XCTAssertEqual(st, 400)
        XCTAssertTrue(body.contains("invalid_config") && body.contains("sluice.yaml"), body)
        XCTAssertTrue(try call("GET", "/routes/predict").1.contains("{\"active\":80,\"preview\":20}"))
    }

    func testReadyGoesFalseWhenDraining() throws {
        // A slow in-flight request keeps the drain going while we probe /ready.
        let slow = try ScriptedBackend { _, res in usleep(1_500_000); res.respond() }
        defer { slow.stop() }
        var c = SluiceConfig()
        c.listen = ["127.0.0.1:0"]
        c.workers = 1
        c.admin.listen = "127.0.0.1:0"
        c.clusters = [ClusterConfig(name: "s", endpoints: [slow.address])]
        c.routes = [RouteConfig(name: "r", prefix: "/", active: "s")]
        let rt = try SluiceRuntime(config: c)
        try rt.start()
        let adminPort = rt.admin!.address.port
        func ready() -> Int {
            guard let s = try? BlockingSocket(connectTo: adminPort) else { return -1 }
            defer { s.close() }
            guard (try? s.write("GET /ready HTTP/1.1\r\nHost: a\r\n\r\n")) != nil else { return -1 }
            return (try? MessageReader(s).readResponse().0.status) ?? -1
        }
        XCTAssertEqual(ready(), 200)
        let client = try BlockingSocket(connectTo: rt.proxy.boundAddresses[0].port)
        try client.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(100_000)
        let drainer = WorkerThread(name: "drainer") { _ = rt.drainAndStop(timeout: 5000) }
        var seen = ready()
        let end = Date().addingTimeInterval(1.2)
        while seen != 503 && Date() < end { usleep(20_000); seen = ready() }
        XCTAssertEqual(seen, 503, "readiness drops as soon as draining starts, while a request is in flight")
        XCTAssertEqual(try MessageReader(client).readResponse().0.status, 200, "the in-flight request still finishes")
        client.close()
        drainer.join()
    }
}
