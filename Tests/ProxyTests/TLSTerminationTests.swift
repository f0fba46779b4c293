import Config
import Foundation
import Harness
import Proxy
import TestSupport
import XCTest

/// TLS termination on `tls.listen` through real clients: curl and Python's
/// `ssl` module, verifying against a CA made for the test.
final class TLSTerminationTests: XCTestCase {
    var pki: TestPKI!
    var f: ProxyFixture!
    var tlsPort: UInt16 { f.server.tlsBoundAddress!.port }

    override func setUpWithError() throws {
        pki = try TestPKI()
        let main = try pki.issue("localhost", dnsNames: ["localhost"])
        let models = try pki.issue("models", dnsNames: ["models.example.com"])
        let wild = try pki.issue("wild", dnsNames: ["*.fleet.example.com"])
        f = try ProxyFixture(backends: [("a", echoBackend)]) { cfg in
            cfg.tls = TLSListenConfig(listen: "127.0.0.1:0", cert: main.cert, key: main.key, certificates: [
                .init(serverNames: ["models.example.com"], cert: models.cert, key: models.key),
                .init(serverNames: ["*.fleet.example.com"], cert: wild.cert, key: wild.key),
            ])
        }
    }

    override func tearDown() {
        f = nil
        pki = nil
    }

    private func curl(_ args: [String]) throws -> ToolResult {
        try runTool("/usr/bin/curl", ["-sS", "--max-time", "20", "--cacert", pki.caCert] + args)
    }

    func testCurlWithVerificationGetsTheBackendOverHTTPS() throws {
        let r = try curl(["-D", "-", "-H", "X-Forwarded-Proto: http", "https://localhost:\(tlsPort)/v1/x"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("HTTP/1.1 200"), r.stdout)
        // Behind our TLS the scheme is ours to state: the client's value is replaced.
        XCTAssertTrue(r.stdout.lowercased().contains("x-proto-seen: https"), r.stdout)
        XCTAssertTrue(r.stdout.lowercased().contains("x-sluice-backend: active"), r.stdout)
        // The plain listener still serves plain HTTP.
        XCTAssertEqual(try f.exchange(get("/v1/x")).header("X-Proto-Seen"), "http")
        XCTAssertEqual(f.server.total { $0.tlsHandshakes.load(ordering: .relaxed) }, 1)
    }

    func testSNIChoosesTheCertificate() throws {
        let program = """
        import socket, ssl, sys
        port, ca = int(sys.argv[1]), sys.argv[2]
        for name in ["models.example.com", "a.fleet.example.com", "localhost", "unknown.example.org", None]:
            ctx = ssl.create_default_context(cafile=ca)
            ctx.check_hostname = False
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=name)
            cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
            print(name, cn)
            s.close()
        """
        let r = try python(program, ["\(tlsPort)", pki.caCert])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n"), [
            "models.example.com models.example.com",
            "a.fleet.example.com *.fleet.example.com",
            "localhost localhost",
            "unknown.example.org localhost",  // an unknown name gets the default certificate
            "None localhost",
        ])
    }

    func testPythonVersionsALPNAndResumption() throws {
        let program = """
        import socket, ssl, sys
        port, ca = int(sys.argv[1]), sys.argv[2]
        def conn(ctx, session=None):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost", session=session)
            s.sendall(b"GET /v1/r HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n")
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                data += s.recv(4096)
            return s, data.split(b"\\r\\n")[0].decode()
        for v in [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]:
            ctx = ssl.create_default_context(cafile=ca)
            ctx.minimum_version = ctx.maximum_version = v
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            s, status = conn(ctx)
            print(s.version(), s.selected_alpn_protocol(), status)
            session = s.session
            s.close()
            s, status = conn(ctx, session)
            print("resumed", s.session_reused, status)
            s.close()
        # Below TLS 1.2 is refused; so is a client that offers only h2.
        for what in ["tls11", "h2only"]:
            ctx = ssl.create_default_context(cafile=ca)
            if what == "tls11":
                ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            else:
                ctx.set_alpn_protocols(["h2"])
            try:
                conn(ctx)
                print(what, "accepted")
            except (ssl.SSLError, OSError) as e:
                print(what, "refused")
        """
        let r = try python(program, ["\(tlsPort)", pki.caCert])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n"), [
            "TLSv1.2 http/1.1 HTTP/1.1 200 OK", "resumed True HTTP/1.1 200 OK",
            "TLSv1.3 http/1.1 HTTP/1.1 200 OK", "resumed True HTTP/1.1 200 OK",
            "tls11 refused", "h2only refused",
        ])
    }

    /// Plain HTTP to the TLS port, a handshake cut short, garbage: each is
    /// closed, counted, and leaves no connection behind; the port serves on.
    func testBadClientsAreClosedAndCounted() throws {
        let plain = try BlockingSocket(connectTo: tlsPort, timeoutSeconds: 5)
        try plain.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(try plain.readToEOF().count, 0, "no bytes answer a plain request on the TLS port")
        plain.close()
        // The first bytes of a ClientHello, then the client goes away.
        let cut = try BlockingSocket(connectTo: tlsPort, timeoutSeconds: 5)
        try cut.write([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        cut.close()
        let garbage = try BlockingSocket(connectTo: tlsPort, timeoutSeconds: 5)
        try garbage.write(Array(repeating: 0xAB, count: 600))
        _ = try? garbage.readToEOF()
        garbage.close()
        // A TCP probe (connect, close, no byte sent) is not a failed handshake.
        let probe = try BlockingSocket(connectTo: tlsPort, timeoutSeconds: 5)
        probe.close()
        XCTAssertTrue(waitUntil(5) { self.f.server.total { $0.downstreamOpen.load(ordering: .relaxed) } == 0 },
                      "connections left open")
        XCTAssertEqual(f.server.total { $0.tlsHandshakeErrors.load(ordering: .relaxed) }, 3)
        let r = try curl(["-o", "/dev/null", "-w", "%{http_code}", "https://localhost:\(tlsPort)/v1/x"])
        XCTAssertEqual(r.stdout, "200", r.stderr)
    }

    /// A client that starts a handshake and stalls is closed by the header
    /// timeout (which covers the handshake), counted, and leaves nothing open.
    func testStalledHandshakeIsClosedByTheHeaderTimeout() throws {
        let main = (cert: pki.path("localhost.crt"), key: pki.path("localhost.key"))
        let g = try ProxyFixture(backends: [("a", echoBackend)]) { cfg in
            cfg.timeouts.header = 300
            cfg.tls = TLSListenConfig(listen: "127.0.0.1:0", cert: main.cert, key: main.key)
        }
        let s = try BlockingSocket(connectTo: g.server.tlsBoundAddress!.port, timeoutSeconds: 5)
        defer { s.close() }
        try s.write([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])
        let start = Date()
        XCTAssertEqual(try s.readToEOF().count, 0)
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 0.2, "closed before the header timeout")
        XCTAssertLessThan(waited, 3, "the stalled handshake was not timed out")
        XCTAssertTrue(waitUntil(5) { g.server.total { $0.downstreamOpen.load(ordering: .relaxed) } == 0 })
    }

    /// 1,000 handshakes (each a request on a new connection): descriptors
    /// and memory stay flat once warm.
    func testThousandHandshakesDoNotGrowDescriptorsOrMemory() throws {
        let program = """
        import socket, ssl, sys
        port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
        ctx = ssl.create_default_context(cafile=ca)
        for i in range(n):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
            s.sendall(b"GET /v1/h HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n")
            data = b""
            while True:
                c = s.recv(65536)
                if not c: break
                data += c
            assert data.startswith(b"HTTP/1.1 200"), data[:100]
            s.close()
        print("ok")
        """
        func openFDs() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }
        func rssKB() -> Int {
            let s = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = s.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        XCTAssertEqual(try python(program, ["\(tlsPort)", pki.caCert, "200"]).stdout, "ok\n")
        XCTAssertTrue(waitUntil(5) { self.f.server.total { $0.downstreamOpen.load(ordering: .relaxed) } == 0 })
        let fds = openFDs(), rss = rssKB()
        let r = try python(program, ["\(tlsPort)", pki.caCert, "1000"])
        XCTAssertEqual(r.stdout, "ok\n", r.stderr)
        XCTAssertTrue(waitUntil(5) { self.f.server.total { $0.downstreamOpen.load(ordering: .relaxed) } == 0 })
        XCTAssertLessThanOrEqual(openFDs(), fds + 2, "descriptors grew")
        XCTAssertLessThan(rssKB() - rss, 4096, "memory grew by \(rssKB() - rss) kB over 1,000 handshakes")
        XCTAssertEqual(f.server.total { $0.tlsHandshakes.load(ordering: .relaxed) }, 1200)
        XCTAssertEqual(f.server.total { $0.tlsHandshakeErrors.load(ordering: .relaxed) }, 0)
    }

}
