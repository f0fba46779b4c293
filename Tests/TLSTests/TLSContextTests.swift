import Foundation
import TLS
import XCTest

/// Smoke tests for the OpenSSL system-library target: contexts are created
/// with TLS 1.2–1.3 bounds, and a certificate generated now by the openssl
/// command loads (and a mismatched key is refused with a clear error).
final class TLSContextTests: XCTestCase {
    func testServerAndClientContextsRestrictVersions() throws {
        for role in [TLSContext.Role.server, .client] {
            let ctx = try TLSContext(role: role)
            XCTAssertEqual(ctx.minProtocolVersion, TLSContext.tls12)
            XCTAssertEqual(ctx.maxProtocolVersion, TLSContext.tls13)
        }
        XCTAssertTrue(TLSContext.libraryVersion.hasPrefix("OpenSSL 3"), TLSContext.libraryVersion)
    }

    private func makeCert(_ dir: URL, _ name: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                       "-keyout", dir.appendingPathComponent("\(name).key").path,
                       "-out", dir.appendingPathComponent("\(name).crt").path]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    func testCertificateLoadsAndMismatchIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try makeCert(dir, "a")
        try makeCert(dir, "b")
        let ctx = try TLSContext(role: .server)
        try ctx.useCertificate(chainFile: dir.appendingPathComponent("a.crt").path, keyFile: dir.appendingPathComponent("a.key").path)
        let other = try TLSContext(role: .server)
        XCTAssertThrowsError(try other.useCertificate(chainFile: dir.appendingPathComponent("a.crt").path,
                                                      keyFile: dir.appendingPathComponent("b.key").path)) { e in
            XCTAssertTrue("\(e)".contains("b.key") && "\(e)".contains("mismatch"), "\(e)")
        }
        XCTAssertThrowsError(try other.useCertificate(chainFile: dir.appendingPathComponent("missing.crt").path,
                                                      keyFile: dir.appendingPathComponent("b.key").path)) { e in
            XCTAssertTrue("\(e)".contains("missing.crt"), "\(e)")
        }
    }

    /// An encrypted private key is refused with an error naming it, never
    /// prompted for (a prompt would block start-up or a reload).
    func testEncryptedKeyIsRefusedNotPromptedFor() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-enc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try makeCert(dir, "a")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["pkey", "-in", dir.appendingPathComponent("a.key").path, "-aes256", "-passout", "pass:secret",
                       "-out", dir.appendingPathComponent("enc.key").path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let ctx = try TLSContext(role: .server)
        XCTAssertThrowsError(try ctx.useCertificate(chainFile: dir.appendingPathComponent("a.crt").path,
                                                    keyFile: dir.appendingPathComponent("enc.key").path)) { e in
            XCTAssertTrue("\(e)".contains("enc.key"), "\(e)")
        }
    }
}
