import Compression
import Foundation
import TestSupport
import XCTest

/// Smoke tests for the zlib system-library target.
final class GzipTests: XCTestCase {
    func testRoundTrip() throws {
        let text = Array(String(repeating: "sluice_requests_total{route=\"predict\",backend=\"active\"} 42\n", count: 200).utf8)
        let gz = try GzipCompressor.compress(text)
        XCTAssertEqual(Array(gz.prefix(2)), [0x1F, 0x8B], "gzip magic")
        XCTAssertLessThan(gz.count, text.count / 10)
        XCTAssertEqual(try Gunzip.decompress(gz), text)
    }

    func testStreamingInPiecesEqualsWhole() throws {
        var input: [UInt8] = []
        for i in 0..<100_000 { input.append(UInt8(truncatingIfNeeded: i &* 7 &+ i >> 5)) }
        let c = try GzipCompressor()
        var out: [UInt8] = []
        var off = 0
        while off < input.count {
            let n = min(7_777, input.count - off)
            try input[off..<off + n].withUnsafeBytes { try c.compress($0, into: &out) }
            off += n
        }
        try c.finish(into: &out)
        XCTAssertEqual(try Gunzip.decompress(out), input)
    }

    func testSystemGunzipReadsOurOutput() throws {
        let text = Array("hello from sluice\n".utf8)
        let gz = try GzipCompressor.compress(text)
        XCTAssertEqual(try systemGunzip(gz), text)
    }

    func testTruncatedInputIsAnError() throws {
        let gz = try GzipCompressor.compress(Array(repeating: 65, count: 10_000))
        XCTAssertThrowsError(try Gunzip.decompress(Array(gz.prefix(gz.count / 2))))
    }
}

final class GzipResetTests: XCTestCase {
    /// One stream, reset between members: each member holds only its own input.
    func testResetStartsAFreshMember() throws {
        let z = try GzipCompressor(level: 1)
        for k in 0..<3 {
            let input = Array("batch \(k): ".utf8) + Array(repeating: UInt8(65 + k), count: 5000)
            var out: [UInt8] = []
            try z.reset()
            try input.withUnsafeBytes { try z.compress($0, into: &out) }
            try z.finish(into: &out)
            XCTAssertEqual(try Gunzip.decompress(out), input, "member \(k)")
        }
    }
}
