import Config
import EventLoop
import Foundation
import Harness
import Proxy
import Telemetry
import TestSupport
import XCTest

/// A TLS model backend: Python's http.server behind its `ssl` module. It
/// answers GET /big?n=N with N pattern bytes, POST with the body's SHA-256
/// and length, anything else with what it saw (SNI, x-forwarded-proto, the
/// connection it came on).
final class PythonTLSBackend {
    let process = Process()
    let port: UInt16
    private let output = Pipe()

    static let program = #"""
    import hashlib, http.server, socket, ssl, sys, threading
    cert, key = sys.argv[1], sys.argv[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    seen_sni = {}
    def sni(sock, name, _ctx):
        seen_sni[id(sock)] = name or "-"
    ctx.sni_callback = sni
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def reply(self, body, extra=()):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra: self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            if self.path.startswith("/closedelim"):
                # A body delimited by the close; "clean" ends it with close_notify,
                # else with a bare TCP close (what a forged FIN looks like).
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"x" * 100000)
                self.wfile.flush()
                if "clean" in self.path:
                    self.connection.unwrap()
                self.close_connection = True
                return
            if self.path == "/junk":
                # A response, then bytes past its end in a record of their own.
                self.connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                self.connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\njunk!")
                self.close_connection = True
                return
            if self.path.startswith("/big?n="):
                n = int(self.path[7:])
                self.send_response(200)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                block = bytes(range(256)) * 256
                while n > 0:
                    k = min(n, len(block)); self.wfile.write(block[:k]); n -= k
                return
            self.reply(b"ok", [("X-SNI", seen_sni.get(id(self.connection), "-")),
                               ("X-Proto-Seen", self.headers.get("x-forwarded-proto", "-")),
                               ("X-Conn", str(id(self.connection)))])
        def do_POST(self):
            n = int(self.headers.get("content-length", "0"))
            h = hashlib.sha256()
            while n > 0:
                c = self.rfile.read(min(n, 1 << 16))
                if not c: break
                h.update(c); n -= len(c)
            self.reply(h.hexdigest().encode())
    class S(http.server.ThreadingHTTPServer):
        daemon_threads = True
        def get_request(self):
            s, a = self.socket.accept()
            return ctx.wrap_socket(s, server_side=True, do_handshake_on_connect=False), a
        def handle_error(self, request, address): pass
    srv = S(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
    """#

    init(cert: String, key: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", PythonTLSBackend.program, cert, key]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let d = output.fileHandleForReading.availableData
            if d.isEmpty { break }
            line.append(d)
        }
        guard let p = UInt16(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw NSError(domain: "PythonTLSBackend", code: 1, userInfo: [NSLocalizedDescriptionKey: "no port"])
        }
        port = p
    }

    var address: String { "127.0.0.1:\(port)" }

    deinit {
        process.terminate()
        process.waitUntilExit()
    }
}

/// TLS origination per cluster: verified against the CA and the name by
/// default; every way verification fails is a 503 `tls_failure`, counted
/// as an upstream error.
final class UpstreamTLSTests: XCTestCase {
    var pki: TestPKI!

    override func setUpWithError() throws {
        pki = try TestPKI()
        try pki.issue("localhost", dnsNames: ["localhost"])
        try pki.issue("expired", dnsNames: ["localhost"], days: -1)
        try pki.otherCA("rogue")
        try pki.issue("untrusted", dnsNames: ["localhost"], signedBy: "rogue")
    }

    override func tearDown() { pki = nil }

    private func backend(_ name: String) throws -> PythonTLSBackend {
        try PythonTLSBackend(cert: pki.path("\(name).crt"), key: pki.path("\(name).key"))
    }

    /// A proxy with one route to cluster "m" at `endpoint` with `tls`.
    private func proxy(_ endpoint: String, _ tls: UpstreamTLSConfig, terminate: Bool = false) throws -> ProxyFixture {
        let f = try ProxyFixture(backends: [("unused", echoBackend)]) { cfg in
            var c = ClusterConfig(name: "m", endpoints: [endpoint])
            c.tls = tls
            cfg.clusters.append(c)
            cfg.routes = [RouteConfig(name: "predict", prefix: "/", active: "m")]
            if terminate {
                cfg.tls = TLSListenConfig(listen: "127.0.0.1:0", cert: self.pki.path("localhost.crt"), key: self.pki.path("localhost.key"))
            }
        }
        return f
    }

    private func tlsFailures(_ f: ProxyFixture) -> UInt64 {
        f.server.telemetry.collect().reduce(0) { $0 + $1.1.errors[Int(ErrorReason.tlsFailure.rawValue)] }
    }

    func testVerifiedByAddressAndByNameWithPooledReuse() throws {
        let b = try backend("localhost")
        // By the endpoint's IP (the certificate carries IP:127.0.0.1).
        var f = try proxy(b.address, UpstreamTLSConfig(caFile: pki.caCert))
        let (s, r) = try f.connect()
        try s.write(get("/a"))
        let first = try Response(r.readResponse())
        XCTAssertEqual(first.status, 200, first.text)
        XCTAssertEqual(first.text, "ok")
        XCTAssertEqual(first.header("X-SNI"), "-", "no SNI for an IP literal")
        XCTAssertEqual(first.header("X-Proto-Seen"), "http")
        usleep(100_000)  // session tickets arrive while the connection idles in the pool
        try s.write(get("/b"))
        let second = try Response(r.readResponse())
        XCTAssertEqual(second.status, 200)
        XCTAssertEqual(second.header("X-Conn"), first.header("X-Conn"), "the pooled TLS connection is reused")
        s.close()
        // By a configured name, sent as SNI.
        f = try proxy(b.address, UpstreamTLSConfig(caFile: pki.caCert, serverName: "localhost"))
        let named = try f.exchange(get("/c"))
        XCTAssertEqual(named.status, 200, named.text)
        XCTAssertEqual(named.header("X-SNI"), "localhost")
        XCTAssertEqual(tlsFailures(f), 0)
    }

    func testEveryVerificationFailureIs503TLSFailure() throws {
        let good = try backend("localhost"), expired = try backend("expired"), untrusted = try backend("untrusted")
        let plain = try ScriptedBackend { _, res in res.respond(body: Array("plain".utf8)) }
        defer { plain.stop() }
        let cases: [(String, String, UpstreamTLSConfig)] = [
            ("wrong name", good.address, UpstreamTLSConfig(caFile: pki.caCert, serverName: "other.example.com")),
            ("expired", expired.address, UpstreamTLSConfig(caFile: pki.caCert)),
            ("unknown CA", untrusted.address, UpstreamTLSConfig(caFile: pki.caCert)),
            ("no CA given, system store", good.address, UpstreamTLSConfig()),
            ("plain HTTP upstream", plain.address, UpstreamTLSConfig(caFile: pki.caCert)),
        ]
        for (what, endpoint, tls) in cases {
            let f = try proxy(endpoint, tls)
            let r = try f.exchange(get("/x"))
            XCTAssertEqual(r.status, 503, what)
            XCTAssertTrue(r.text.contains("tls_failure"), "\(what): \(r.text)")
            XCTAssertEqual(tlsFailures(f), 1, what)
            XCTAssertTrue(ErrorReason.tlsFailure.isUpstream)
            let metrics = PrometheusText.render(f.server.telemetry.collect(), MetricsContext())
            XCTAssertTrue(metrics.contains("reason=\"tls_failure\"} 1"), "\(what): not counted as an upstream error")
            XCTAssertEqual(f.server.total { $0.tlsHandshakeErrors.load(ordering: .relaxed) }, 1, what)
            // Nothing is left open after the failure.
            XCTAssertEqual(f.server.telemetry.gauge(f.server.store.load().clusterGaugeSlots[1]), 0, what)
        }
        // With verification off, the same expired and unknown certificates pass.
        for endpoint in [expired.address, untrusted.address] {
            let f = try proxy(endpoint, UpstreamTLSConfig(caFile: nil, verify: false))
            XCTAssertEqual(try f.exchange(get("/x")).status, 200)
        }
    }

    /// A close-delimited response over TLS is complete only when the
    /// upstream ends it with close_notify; a bare TCP close (a forged FIN
    /// would look the same) cuts the client instead of ending the body.
    func testCloseDelimitedBodyNeedsCloseNotify() throws {
        let b = try backend("localhost")
        let f = try proxy(b.address, UpstreamTLSConfig(caFile: pki.caCert))
        let clean = try runTool("/usr/bin/curl", ["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{size_download}",
                                                  "http://127.0.0.1:\(f.port)/closedelim?clean"])
        XCTAssertEqual(clean.status, 0, clean.stderr)
        XCTAssertEqual(clean.stdout, "100000")
        let bare = try runTool("/usr/bin/curl", ["-sS", "--max-time", "20", "-o", "/dev/null",
                                                 "http://127.0.0.1:\(f.port)/closedelim"])
        XCTAssertNotEqual(bare.status, 0, "a body cut by a bare TCP close was passed on as complete")
    }

    /// An upstream that accepts TCP and never answers the ClientHello: the
    /// connect timeout (which covers the handshake) ends it as tls_failure.
    func testStalledUpstreamHandshakeIsTLSFailure() throws {
        let fd = try Sys.listen(SocketAddress("127.0.0.1:0")!, backlog: 16, reusePort: false)
        defer { Sys.close(fd) }
        let port = SocketAddress.local(of: fd)!.port
        let f = try ProxyFixture(backends: [("unused", echoBackend)]) { cfg in
            var c = ClusterConfig(name: "m", endpoints: ["127.0.0.1:\(port)"])
            c.tls = UpstreamTLSConfig(caFile: self.pki.caCert)
            cfg.clusters.append(c)
            cfg.routes = [RouteConfig(name: "predict", prefix: "/", active: "m")]
            cfg.timeouts.connect = 300
        }
        let r = try f.exchange(get("/x"))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, "{\"error\":\"tls_failure\"}\n")
        XCTAssertEqual(tlsFailures(f), 1)
    }

    /// Bytes an upstream sends past a response, read ahead by OpenSSL, keep
    /// the connection out of the pool: the next request (not retryable) must
    /// not take them for its response.
    func testBytesPastTheResponseKeepTheConnectionOutOfThePool() throws {
        let b = try backend("localhost")
        let f = try proxy(b.address, UpstreamTLSConfig(caFile: pki.caCert))
        for _ in 0..<5 {
            let (s, r) = try f.connect()
            defer { s.close() }
            try s.write(get("/junk"))
            XCTAssertEqual(try Response(r.readResponse()).text, "ok")
            usleep(20_000)
            try s.write("POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            let second = try Response(r.readResponse())
            XCTAssertEqual(second.status, 200, second.text)
            XCTAssertEqual(second.text.count, 64, "not the backend's hash: \(second.text)")
        }
    }

    /// Health checks of a TLS cluster speak TLS: a verifying probe keeps a
    /// good endpoint up and marks one with a bad certificate down.
    func testHealthChecksSpeakTLS() throws {
        let good = try backend("localhost"), bad = try backend("untrusted")
        let f = try ProxyFixture(backends: [("unused", echoBackend)]) { cfg in
            var c = ClusterConfig(name: "m", endpoints: [good.address, bad.address])
            c.tls = UpstreamTLSConfig(caFile: self.pki.caCert)
            c.healthCheck = HealthCheckConfig(path: "/healthz", interval: 50, timeout: 500, unhealthyThreshold: 2, healthyThreshold: 1)
            cfg.clusters.append(c)
            cfg.routes = [RouteConfig(name: "predict", prefix: "/", active: "m")]
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && f.server.snapshotHealth(cluster: 1, endpoint: 1) { usleep(20_000) }
        XCTAssertFalse(f.server.snapshotHealth(cluster: 1, endpoint: 1), "the endpoint that fails verification stays up")
        XCTAssertTrue(f.server.snapshotHealth(cluster: 1, endpoint: 0), "the verified endpoint went down")
        // Every request now goes to the healthy endpoint.
        for _ in 0..<4 { XCTAssertEqual(try f.exchange(get("/x")).status, 200) }
    }

    /// 100 MB up and 100 MB down, TLS on both sides of the proxy, byte-exact.
    func testHundredMegabytesEachWayOverTLSBothSides() throws {
        let b = try backend("localhost")
        let f = try proxy(b.address, UpstreamTLSConfig(caFile: pki.caCert, serverName: "localhost"), terminate: true)
        let port = f.server.tlsBoundAddress!.port
        let size = 100 * 1024 * 1024
        // Upload: a file of pseudo-random bytes; the backend hashes what arrives.
        let file = pki.path("upload.bin")
        var rng = SystemRandomNumberGenerator()
        var words = [UInt64](repeating: 0, count: size / 8)
        for k in 0..<words.count { words[k] = rng.next() }
        let data = words.withUnsafeBytes { Data($0) }
        try data.write(to: URL(fileURLWithPath: file))
        let expectedUp = try runTool("/usr/bin/sha256sum", [file]).stdout.prefix(64)
        let up = try runTool("/usr/bin/curl", ["-sS", "--max-time", "300", "--cacert", pki.caCert,
                                               "--data-binary", "@\(file)", "-H", "Content-Type: application/octet-stream",
                                               "https://localhost:\(port)/upload"], timeout: 300)
        XCTAssertEqual(up.status, 0, up.stderr)
        XCTAssertEqual(up.stdout, String(expectedUp))
        // Download: the pattern the backend writes, checked against the same pattern made here.
        let got = pki.path("download.bin")
        let down = try runTool("/usr/bin/curl", ["-sS", "--max-time", "300", "--cacert", pki.caCert, "-o", got,
                                                 "https://localhost:\(port)/big?n=\(size)"], timeout: 300)
        XCTAssertEqual(down.status, 0, down.stderr)
        var pattern = [UInt8](repeating: 0, count: size)
        for k in 0..<size { pattern[k] = UInt8(truncatingIfNeeded: k) }
        let received = [UInt8](try Data(contentsOf: URL(fileURLWithPath: got)))
        XCTAssertEqual(received.count, size)
        XCTAssertTrue(received == pattern, "the downloaded body differs")
    }
}
