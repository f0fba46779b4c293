import Foundation
import XCTest
import HTTP1

/// Replays the committed fuzz inputs through the same checks the libFuzzer
/// targets run (FuzzChecks), so a crash found once stays fixed. A violated
/// invariant traps, which fails this test run.
///
/// Seeds named `*.http` also state their verdict by name: `bad-*` heads are
/// refused, `badbody-*` heads are accepted but their chunked body is refused,
/// and every other seed is accepted (and its chunked body, if any, decodes).
final class FuzzCorpusReplayTests: XCTestCase {
    /// The repository root, found from this file's path (Tests/HTTP1Tests/<file>).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The inputs in `dir` (relative to the root), sorted by name; none if it does not exist.
    func inputs(_ dir: String) throws -> [(name: String, bytes: [UInt8])] {
        let url = Self.root.appendingPathComponent(dir)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: url.path) else { return [] }
        return try names.filter { !$0.hasPrefix(".") }.sorted().map { name in
            (name, [UInt8](try Data(contentsOf: url.appendingPathComponent(name))))
        }
    }

    func testRequestCorpusAndCrashes() throws {
        let corpus = try inputs("Fuzz/corpus/http1-request")
        XCTAssertGreaterThanOrEqual(corpus.count, 25, "seed corpus missing under \(Self.root.path)")
        for (_, bytes) in try corpus + inputs("Fuzz/crashes/http1-request") {
            bytes.withUnsafeBytes { FuzzChecks.request($0) }
        }
        for (name, bytes) in corpus where name.hasSuffix(".http") {
            let p = parseRequest(bytes: bytes)
            if name.hasPrefix("bad-") {
                XCTAssertNotNil(p.error, name)
                continue
            }
            guard case .complete(let end) = p.result else { XCTFail("\(name): \(p.result)"); continue }
            if p.head.framing == .chunked {
                let d = decodeChunked(pieces: [Array(bytes[end...])])
                if name.hasPrefix("badbody-") {
                    guard case .error = d.last else { XCTFail("\(name): body \(d.last)"); continue }
                } else {
                    XCTAssertEqual(d.last, .end, name)
                }
            } else {
                XCTAssertFalse(name.hasPrefix("badbody-"), "\(name) is not chunked")
            }
        }
    }

    func testResponseCorpusAndCrashes() throws {
        let corpus = try inputs("Fuzz/corpus/http1-response")
        XCTAssertGreaterThanOrEqual(corpus.count, 15, "seed corpus missing under \(Self.root.path)")
        for (_, bytes) in try corpus + inputs("Fuzz/crashes/http1-response") {
            bytes.withUnsafeBytes { FuzzChecks.response($0) }
        }
        for (name, bytes) in corpus where name.hasSuffix(".http") {
            let p = parseResponse(bytes: bytes, method: .get)
            if name.hasPrefix("bad-") {
                XCTAssertNotNil(p.error, name)
                continue
            }
            guard case .complete(let end) = p.result else { XCTFail("\(name): \(p.result)"); continue }
            if p.head.framing == .chunked {
                let d = decodeChunked(pieces: [Array(bytes[end...])])
                if name.hasPrefix("badbody-") {
                    guard case .error = d.last else { XCTFail("\(name): body \(d.last)"); continue }
                } else {
                    XCTAssertEqual(d.last, .end, name)
                }
            } else {
                XCTAssertFalse(name.hasPrefix("badbody-"), "\(name) is not chunked")
            }
        }
    }

    /// The request checks on inputs built here: every seed cut at every
    /// length, so the split-point invariant in FuzzChecks sees many splits.
    func testRequestChecksOnEveryPrefixOfTheSeeds() throws {
        for (_, bytes) in try inputs("Fuzz/corpus/http1-request") {
            for k in stride(from: 0, through: bytes.count, by: max(1, bytes.count / 64)) {
                bytes[..<k].withUnsafeBytes { FuzzChecks.request($0) }
            }
        }
        for (_, bytes) in try inputs("Fuzz/corpus/http1-response") {
            for k in stride(from: 0, through: bytes.count, by: max(1, bytes.count / 64)) {
                bytes[..<k].withUnsafeBytes { FuzzChecks.response($0) }
            }
        }
    }
}
