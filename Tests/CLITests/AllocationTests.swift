import Foundation
import Harness
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Zero heap allocations per request once warm (the performance issue's
/// target 3): the real binary runs with an allocation counter preloaded
/// (`libSluiceAllocCount.so`), and the count may not grow with the number
/// of requests served.
final class AllocationTests: XCTestCase {
    /// Allocations tolerated over a whole measured run, whatever its length:
    /// background threads (admin, resolver) may allocate a little now and
    /// then; one allocation per request would be 1,000 or 10,000.
    static let threshold = 50

    func testNoAllocationsPerKeepAliveRequestOnceWarm() throws {
        let lib = CLI.root.appendingPathComponent(".build/debug/libSluiceAllocCount.so").path
        guard FileManager.default.fileExists(atPath: lib) else {
            return XCTFail("\(lib) missing: scripts/test builds it (swift build --product SluiceAllocCount)")
        }
        // The release build, as shipped: a debug build allocates where the
        // optimiser would not (about 13 per request, all gone in release).
        let binary = ProcessInfo.processInfo.environment["SLUICE_BINARY"] ?? CLI.root.appendingPathComponent(".build/release/sluice").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            return XCTFail("\(binary) missing: scripts/test builds it (swift build -c release --product sluice)")
        }
        let backend = try ScriptedBackend { _, res in res.respond(headers: [("Content-Type", "application/json")], body: Array("{\"score\":0.93}".utf8)) }
        defer { backend.stop() }
        let port = try CLI.freePort()
        let path = try CLI.tempFile("""
        listen: 127.0.0.1:\(port)
        workers: 1
        admin: { listen: "127.0.0.1:0" }
        clusters:
          a: { endpoints: ["\(backend.address)"] }
          b: { endpoints: ["\(backend.address)"] }
        routes:
          - { name: predict, prefix: /v1/, active: a, preview: b, weights: { active: 90, preview: 10 } }
        """)
        let countFile = path + ".allocs"
        defer { unlink(path); unlink(countFile) }
        let p = try CLI.startRun(path, binary: binary, environment: ["LD_PRELOAD": lib, "SLUICE_ALLOC_COUNT_FILE": countFile])
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
        XCTAssertTrue(CLI.waitFor { (try? BlockingSocket(connectTo: port)) != nil }, "sluice did not start listening")

        func count() throws -> Int {
            unlink(countFile)
            kill(p.processIdentifier, SIGUSR2)
            var text = ""
            XCTAssertTrue(CLI.waitFor(5) {
                text = (try? String(contentsOfFile: countFile, encoding: .utf8)) ?? ""
                return text.hasSuffix("\n")
            }, "no count written")
            return try XCTUnwrap(Int(text.dropLast()))
        }
        let s = try BlockingSocket(connectTo: port)
        defer { s.close() }
        let r = MessageReader(s)
        func send(_ n: Int) throws {
            for k in 0..<n {
                try s.write("GET /v1/models/m:predict?k=\(k % 10) HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\r\n")
                let (head, _, _) = try r.readResponse()
                XCTAssertEqual(head.status, 200)
            }
        }
        try send(500)  // warm: pools, slabs, series and buffers reach their working size
        let c0 = try count()
        try send(1_000)
        let c1 = try count()
        try send(10_000)
        let c2 = try count()
        let over1k = c1 - c0, over10k = c2 - c1
        print("allocations: \(over1k) over 1,000 requests, \(over10k) over 10,000")
        XCTAssertLessThanOrEqual(over1k, Self.threshold, "allocations over 1,000 requests")
        XCTAssertLessThanOrEqual(over10k, Self.threshold, "allocations over 10,000 requests")
    }
}
