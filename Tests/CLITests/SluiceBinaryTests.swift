import Foundation
import Harness
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The real `sluice` binary: check, run, signals.
final class SluiceBinaryTests: XCTestCase {
    static var root: URL { CLI.root }
    var binary: String { CLI.binary }
    func tempFile(_ text: String) throws -> String { try CLI.tempFile(text) }
    func freePort() throws -> UInt16 { try CLI.freePort() }
    func waitFor(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool { CLI.waitFor(seconds, cond) }

    private func run(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testCheckAcceptsTheShippedConfig() throws {
        let (rc, out, _) = try run(["check", "-c", Self.root.appendingPathComponent("conf/sluice.yaml").path])
        XCTAssertEqual(rc, 0)
        XCTAssertTrue(out.contains("ok (2 route(s), 2 cluster(s))"), out)
    }

    func testCheckPrintsEveryProblemWithFileAndLine() throws {
        let path = try tempFile("""
        clusters:
          a: { endpoints: ["127.0.0.1:1"], lb: random }
        routes:
          - { name: r, prefix: /, active: nope }
        timeouts: { idle: forever }
        """)
        defer { unlink(path) }
        let (rc, _, err) = try run(["check", "-c", path])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("\(path):2: "), err)
        XCTAssertTrue(err.contains("\(path):4: route names unknown cluster 'nope'"), err)
        XCTAssertTrue(err.contains("\(path):5: "), err)
    }

    /// `sluice run` proxies, SIGHUP reloads (an invalid file is refused and
    /// the running config stays), SIGTERM drains and exits 0.
    func testRunReloadAndDrain() throws {
        let v1 = try ScriptedBackend { _, res in res.respond(body: Array("v1".utf8)) }
        let v2 = try ScriptedBackend { _, res in res.respond(body: Array("v2".utf8)) }
        defer { v1.stop(); v2.stop() }
        let port = try freePort()
        func config(_ a: Int, _ p: Int) -> String {
            """
            listen: 127.0.0.1:\(port)
            workers: 2
            admin: { listen: "127.0.0.1:0" }
            clusters:
              v1: { endpoints: ["\(v1.address)"] }
              v2: { endpoints: ["\(v2.address)"] }
            routes:
              - { name: predict, prefix: /, active: v1, preview: v2, weights: { active: \(a), preview: \(p) } }
            """
        }
        let path = try tempFile(config(100, 0))
        defer { unlink(path) }
        let err = Pipe()
        let p = try CLI.startRun(path, binary: binary, stderr: err)
        defer { if p.isRunning { p.terminate() } }
        XCTAssertTrue(waitFor { (try? BlockingSocket(connectTo: port)) != nil }, "sluice did not start listening")

        func body() throws -> String {
            let s = try BlockingSocket(connectTo: port)
            defer { s.close() }
            try s.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let (_, _, b) = try MessageReader(s).readResponse()
            return String(decoding: b, as: UTF8.self)
        }
        XCTAssertEqual(try body(), "v1")
        try config(0, 100).write(toFile: path, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(waitFor { (try? body()) == "v2" }, "SIGHUP reload did not apply")
        try "routes: [".write(toFile: path, atomically: true, encoding: .utf8)
        kill(p.processIdentifier, SIGHUP)
        usleep(300_000)
        XCTAssertEqual(try body(), "v2", "an invalid file must leave the running config")
        XCTAssertTrue(p.isRunning)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(log.contains("reload refused"), log)
        XCTAssertTrue(log.contains("drained"), log)
    }

    func testDemoRunsAndReportsTheSplit() throws {
        let (rc, out, err) = try run(["demo", "--port", "0", "--requests", "200"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("active    v1"), out)
        XCTAssertTrue(out.contains("preview   v2"), out)
        XCTAssertTrue(out.contains("200 responses"), out)
    }

    /// `sluice weights|promote|rollback|status` against a running `sluice run`.
    func testAdminClientCommands() throws {
        let v1 = try ScriptedBackend { _, res in res.respond(body: Array("v1".utf8)) }
        let v2 = try ScriptedBackend { _, res in res.respond(body: Array("v2".utf8)) }
        defer { v1.stop(); v2.stop() }
        let port = try freePort(), adminPort = try freePort()
        let path = try tempFile("""
        listen: 127.0.0.1:\(port)
        workers: 1
        admin: { listen: "127.0.0.1:\(adminPort)" }
        clusters:
          v1: { endpoints: ["\(v1.address)"] }
          v2: { endpoints: ["\(v2.address)"] }
        routes:
          - { name: predict, prefix: /, active: v1, preview: v2, weights: { active: 90, preview: 10 } }
        """)
        defer { unlink(path) }
        let p = try CLI.startRun(path, binary: binary)
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
        XCTAssertTrue(waitFor { (try? BlockingSocket(connectTo: adminPort)) != nil })
        let admin = ["--admin", "http://127.0.0.1:\(adminPort)"]

        var (rc, out, err) = try run(["weights"] + admin)
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("predict") && out.contains("90/10"), out)
        (rc, out, err) = try run(["weights", "predict", "--active", "30", "--preview", "70"] + admin)
        XCTAssertEqual(rc, 0, err)
        XCTAssertTrue(out.contains("30/70"), out)
        (rc, out, err) = try run(["weights", "predict", "--json"] + admin)
        XCTAssertTrue(out.contains("\"weights\":{\"active\":30,\"preview\":70}"), out)
        (rc, _, err) = try run(["weights", "nope", "--active", "1", "--preview", "1"] + admin)
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("unknown_route"), err)
        (rc, out, _) = try run(["promote", "predict"] + admin)
        XCTAssertEqual(rc, 0)
        XCTAssertTrue(out.contains("0/100"), out)
        (rc, out, _) = try run(["rollback", "predict"] + admin)
        XCTAssertEqual(rc, 0)
        XCTAssertTrue(out.contains("100/0"), out)
        // Some traffic, then status.
        for _ in 0..<5 {
            let s = try BlockingSocket(connectTo: port)
            try s.write("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            _ = try MessageReader(s).readResponse()
            s.close()
        }
        (rc, out, err) = try run(["status", "--json", "--interval", "0.2"] + admin)
        XCTAssertEqual(rc, 0, err)
        let rows = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.first { $0["backend"] as? String == "active" }?["requests"] as? Int, 5)
        (rc, out, _) = try run(["status", "--interval", "0.2"] + admin)
        XCTAssertTrue(out.contains("ROUTE") && out.contains("predict"), out)
        (rc, _, err) = try run(["weights", "--admin", "http://127.0.0.1:1"])
        XCTAssertNotEqual(rc, 0)
        XCTAssertTrue(err.contains("cannot reach"), err)
    }

}
