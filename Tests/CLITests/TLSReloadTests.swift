import Foundation
import Harness
import TestSupport
import TLS
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `sluice run` with a TLS listener: SIGHUP and POST /reload pick up renewed
/// certificate files without dropping a connection; a bad file is refused
/// and the certificate in use stays.
final class TLSReloadTests: XCTestCase {
    func testReloadRenewsCertificatesAndRefusesABadOne() throws {
        let pki = try TestPKI()
        try pki.issue("localhost", dnsNames: ["localhost"])
        let backend = try ScriptedBackend { _, res in res.respond(body: Array("ok".utf8)) }
        defer { backend.stop() }
        let port = try CLI.freePort(), tlsPort = try CLI.freePort(), adminPort = try CLI.freePort()
        let path = try CLI.tempFile("""
            listen: 127.0.0.1:\(port)
            workers: 2
            admin: { listen: "127.0.0.1:\(adminPort)" }
            tls: { listen: "127.0.0.1:\(tlsPort)", cert: "\(pki.path("localhost.crt"))", key: "\(pki.path("localhost.key"))" }
            clusters:
              m: { endpoints: ["\(backend.address)"] }
            routes:
              - { name: all, prefix: /, active: m }
            """)
        defer { unlink(path) }
        let err = Pipe()
        let p = try CLI.startRun(path, stderr: err)
        defer { if p.isRunning { p.terminate() } }
        XCTAssertTrue(CLI.waitFor { (try? BlockingSocket(connectTo: tlsPort)) != nil }, "no TLS listener")

        // The serial number of the certificate a new, verifying client gets.
        func serial() -> String {
            let r = try? python("""
                import socket, ssl, sys
                ctx = ssl.create_default_context(cafile=sys.argv[2])
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
                print(s.getpeercert()["serialNumber"])
                """, ["\(tlsPort)", pki.caCert])
            return r?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        let first = serial()
        XCTAssertFalse(first.isEmpty)

        // A keep-alive TLS connection made before any reload (our own client side).
        let client = try TLSClient(caFile: pki.caCert, serverName: "localhost", verify: true)
        let sock = try BlockingSocket(connectTo: tlsPort)
        defer { sock.close() }
        let session = try XCTUnwrap(TLSSession.connect(client, fd: sock.fd, host: "localhost"))
        defer { session.free(graceful: true) }
        XCTAssertEqual(session.handshake(), .ok(0))
        func request() -> String {
            let req = Array("GET /k HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
            guard case .ok(req.count) = req.withUnsafeBytes({ session.write($0.baseAddress!, $0.count) }) else { return "write failed" }
            var got: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            // The response is small: its head and 2-byte body.
            while !(got.count > 4 && String(decoding: got, as: UTF8.self).hasSuffix("\r\n\r\nok")) {
                guard case .ok(let n) = buf.withUnsafeMutableBytes({ session.read($0.baseAddress!, $0.count) }) else { return "read failed" }
                got += buf[0..<n]
            }
            return String(decoding: got.prefix(15), as: UTF8.self)
        }
        XCTAssertEqual(request(), "HTTP/1.1 200 OK")

        // Renewed files (a new key, a new serial), then SIGHUP.
        try pki.issue("localhost", dnsNames: ["localhost"])
        kill(p.processIdentifier, SIGHUP)
        XCTAssertTrue(CLI.waitFor { let s = serial(); return !s.isEmpty && s != first }, "SIGHUP did not pick up the renewed certificate")
        let renewed = serial()
        XCTAssertEqual(request(), "HTTP/1.1 200 OK", "the connection made before the reload was dropped")

        // A bad certificate file: POST /reload is refused and names the file; nothing changes.
        try "not a certificate\n".write(toFile: pki.path("localhost.crt"), atomically: true, encoding: .utf8)
        let admin = try BlockingSocket(connectTo: adminPort)
        try admin.write("POST /reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        let (head, bodyBytes, body) = try MessageReader(admin).readResponse()
        admin.close()
        let text = String(decoding: body, as: UTF8.self)
        XCTAssertEqual(head.status, 400, text)
        XCTAssertTrue(text.contains("localhost.crt"), text)
        _ = bodyBytes
        XCTAssertEqual(serial(), renewed, "a refused reload changed the certificate")
        XCTAssertEqual(request(), "HTTP/1.1 200 OK")
        kill(p.processIdentifier, SIGHUP)
        usleep(300_000)
        XCTAssertEqual(serial(), renewed)

        // Handshakes are counted for the monitor.
        let m = try BlockingSocket(connectTo: adminPort)
        try m.write("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        let metrics = String(decoding: try MessageReader(m).readResponse().2, as: UTF8.self)
        m.close()
        let handshakes = metrics.split(separator: "\n").first { $0.hasPrefix("sluice_tls_handshakes_total ") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        XCTAssertGreaterThanOrEqual(handshakes, 5, metrics)
        XCTAssertTrue(metrics.contains("sluice_tls_handshake_errors_total 0"), metrics)

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(log.contains("cannot load certificate chain"), log)
        XCTAssertTrue(log.contains("(tls)"), log)
    }
}
