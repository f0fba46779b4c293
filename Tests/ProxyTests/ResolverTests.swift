import Config
import EventLoop
import Harness
import Proxy
import Routing
import SluiceCore
import XCTest

/// Hostnames are resolved at start and re-resolved in the background; a
/// changed address reaches the data plane without a restart.
final class ResolverTests: XCTestCase {
    func testReResolutionMovesTrafficToTheNewAddress() throws {
        let old = try ScriptedBackend { _, res in res.respond(body: Array("old".utf8)) }
        let new = try ScriptedBackend { _, res in res.respond(body: Array("new".utf8)) }
        defer { old.stop(); new.stop() }
        let current = Locked(old.port)
        var cfg = SluiceConfig()
        cfg.listen = ["127.0.0.1:0"]
        cfg.workers = 1
        cfg.clusters = [ClusterConfig(name: "m", endpoints: ["model.test:80"])]
        cfg.routes = [RouteConfig(name: "r", prefix: "/", active: "m")]
        let server = try ProxyServer(config: cfg) { host, _ in
            XCTAssertEqual(host, "model.test")
            return [SocketAddress(host: "127.0.0.1", port: current.withLock { $0 })!]
        }
        server.start()
        server.startResolver(interval: 100)
        defer { server.stop() }
        func body() throws -> String {
            let s = try BlockingSocket(connectTo: server.boundAddresses[0].port)
            defer { s.close() }
            try s.write("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            return String(decoding: try MessageReader(s).readResponse().2, as: UTF8.self)
        }
        XCTAssertEqual(try body(), "old")
        current.withLock { $0 = new.port }
        let passes = server.resolvePasses.load(ordering: .relaxed)
        let deadline = Date().addingTimeInterval(5)
        while server.resolvePasses.load(ordering: .relaxed) < passes + 2 && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(try body(), "new")
    }

    func testUnresolvableEndpointRefusesToStart() {
        var cfg = SluiceConfig()
        cfg.listen = ["127.0.0.1:0"]
        cfg.clusters = [ClusterConfig(name: "m", endpoints: ["no-such-host.invalid:80"])]
        cfg.routes = [RouteConfig(name: "r", prefix: "/", active: "m")]
        XCTAssertThrowsError(try ProxyServer(config: cfg, workers: 1)) { e in
            XCTAssertTrue("\(e)".contains("no-such-host.invalid"), "\(e)")
        }
    }
}
