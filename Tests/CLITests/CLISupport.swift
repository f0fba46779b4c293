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

    static func waitFor(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool { waitUntil(seconds, cond) }
}
