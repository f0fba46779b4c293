import Foundation
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

    static func freePort() throws -> UInt16 {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        return UInt16(bigEndian: a.sin_port)
    }

    static func waitFor(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { if cond() { return true }; usleep(20_000) }
        return false
    }
}
