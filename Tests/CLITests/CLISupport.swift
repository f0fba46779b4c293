import Foundation
import Harness
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the tests of the real binary share: where it is, temp files, free ports, waiting.
enum CLI {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `SLUICE_BINARY` picks another build (e.g. the release one).
    static var binary: String {
        if let b = ProcessInfo.processInfo.environment["SLUICE_BINARY"] { return b }
        for c in ["debug", "release"] {
            let p = root.appendingPathComponent(".build/\(c)/sluice").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return root.appendingPathComponent(".build/debug/sluice").path
    }

    static func tempFile(_ text: String) throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).yaml").path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    static func freePort() throws -> UInt16 { try freeLoopbackPort() }

    /// Starts `sluice run -c path`; its stderr goes to `stderr` (discarded
    /// when nil), `environment` adds to the test's. The caller stops it.
    static func startRun(_ path: String, binary: String = CLI.binary, environment: [String: String] = [:],
                         stderr: Pipe? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["run", "-c", path]
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let stderr { p.standardError = stderr } else { p.standardError = FileHandle.nullDevice }
        try p.run()
        return p
    }

    static func waitFor(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool { waitUntil(seconds, cond) }
}
