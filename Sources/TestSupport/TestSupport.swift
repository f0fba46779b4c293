// TestSupport: what test targets share and the shipped binary must not
// carry (Foundation's Process, certificate generation). Only test targets
// depend on it.
import Foundation
import SluiceCore

/// A throwaway PKI made by the `openssl` command when a test runs (no key
/// is ever committed): one CA, and leaf certificates it signs.
public final class TestPKI {
    public let dir: URL
    public var caCert: String { path("ca.crt") }

    public init() throws {
        dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-days", "2", "-subj", "/CN=Sluice Test CA", "-keyout", path("ca.key"), "-out", path("ca.crt")])
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    public func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Issues `name`.crt / `name`.key for `dnsNames` (and 127.0.0.1). A
    /// negative `days` gives a certificate that expired before it began.
    @discardableResult
    public func issue(_ name: String, dnsNames: [String], days: Int = 2, signedBy ca: String = "ca") throws -> (cert: String, key: String) {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-subj", "/CN=\(dnsNames.first ?? name)", "-keyout", path("\(name).key"), "-out", path("\(name).csr")])
        let sans = (dnsNames.map { "DNS:\($0)" } + ["IP:127.0.0.1"]).joined(separator: ",")
        try "subjectAltName=\(sans)\n".write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).crt"), "-CAkey", path("\(ca).key"),
                     "-CAcreateserial", "-days", "\(days)", "-extfile", path("\(name).ext"), "-out", path("\(name).crt")])
        return (path("\(name).crt"), path("\(name).key"))
    }

    /// A second, unrelated CA (for certificates no client trusts).
    public func otherCA(_ name: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-days", "2", "-subj", "/CN=\(name)", "-keyout", path("\(name).key"), "-out", path("\(name).crt")])
    }

    private func openssl(_ args: [String]) throws {
        let r = try runTool("/usr/bin/openssl", args)
        guard r.status == 0 else { throw NSError(domain: "openssl", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.stderr]) }
    }
}

/// What a command left: its exit status, its output as text and as bytes, its errors.
public struct ToolResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    public let output: Data
}

/// Runs a command to completion; stdout and stderr as text.
@discardableResult
public func runTool(_ tool: String, _ args: [String], stdin: Data? = nil, timeout: TimeInterval = 120) throws
    -> ToolResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = stdin == nil ? FileHandle.nullDevice : inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(stdin); try? inp.fileHandleForWriting.close() }
    // Read both pipes while the tool runs (a full pipe would stall it).
    let o = Locked(Data()), e = Locked(Data())
    let g = DispatchGroup()
    DispatchQueue.global().async(group: g) { let d = out.fileHandleForReading.readDataToEndOfFile(); o.withLock { $0 = d } }
    DispatchQueue.global().async(group: g) { let d = err.fileHandleForReading.readDataToEndOfFile(); e.withLock { $0 = d } }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(5_000) }
    if p.isRunning { p.terminate() }
    p.waitUntilExit()
    g.wait()
    let output = o.withLock { $0 }
    return ToolResult(status: p.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                      stderr: String(decoding: e.withLock { $0 }, as: UTF8.self), output: output)
}

/// Runs a Python 3 program (the `ssl` module is the client users have).
public func python(_ program: String, _ args: [String] = [], timeout: TimeInterval = 120) throws -> ToolResult {
    try runTool("/usr/bin/python3", ["-c", program] + args, timeout: timeout)
}


/// Polls `condition` until it holds or `seconds` pass; one last look at the end.
public func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

/// What the system's `gzip -dc` makes of `bytes` (checks our gzip output
/// against the reference tool).
public func systemGunzip(_ bytes: [UInt8]) throws -> [UInt8] {
    Array(try runTool("/bin/sh", ["-c", "gzip -dc"], stdin: Data(bytes)).output)
}
