import XCTest
import HTTP1

/// Writing heads and chunk framing into caller-owned memory.
final class HeadWriterTests: XCTestCase {
    /// Runs `body` with a writer over a fresh buffer of `capacity` bytes;
    /// returns what was written and whether it overflowed.
    func write(capacity: Int = 512, _ body: (inout HeadWriter) -> Void) -> (text: String, bytes: [UInt8], overflowed: Bool) {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var result: (String, [UInt8], Bool) = ("", [], false)
        buffer.withUnsafeMutableBytes { raw in
            var w = HeadWriter(raw)
            body(&w)
            XCTAssertLessThanOrEqual(w.count, w.capacity)
            let out = Array(raw[..<w.count])
            result = (decode(out[...]), out, w.overflowed)
        }
        return result
    }

    func testStatusLines() {
        let cases: [(Int, String)] = [
            (200, "HTTP/1.1 200 OK\r\n"),
            (101, "HTTP/1.1 101 Switching Protocols\r\n"),
            (400, "HTTP/1.1 400 Bad Request\r\n"),
            (404, "HTTP/1.1 404 Not Found\r\n"),
            (413, "HTTP/1.1 413 Content Too Large\r\n"),
            (414, "HTTP/1.1 414 URI Too Long\r\n"),
            (417, "HTTP/1.1 417 Expectation Failed\r\n"),
            (431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            (501, "HTTP/1.1 501 Not Implemented\r\n"),
            (502, "HTTP/1.1 502 Bad Gateway\r\n"),
            (503, "HTTP/1.1 503 Service Unavailable\r\n"),
            (504, "HTTP/1.1 504 Gateway Timeout\r\n"),
            (505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"),
            (299, "HTTP/1.1 299 Unknown\r\n"),
        ]
        for (status, line) in cases {
            XCTAssertEqual(write { $0.appendStatusLine(status) }.text, line)
        }
    }

    /// Every status SPEC §5 names, and every status a parse error maps to, has its phrase.
    func testEveryStatusTheProxyWritesHasAPhrase() {
        for status in [400, 404, 413, 414, 417, 431, 501, 502, 503, 504, 505] {
            XCTAssertNotEqual("\(StatusReason.phrase(status))", "Unknown", "\(status)")
        }
        for e in ParseErrorTests.allErrors {
            XCTAssertNotEqual("\(StatusReason.phrase(e.status))", "Unknown", "\(e)")
        }
    }

    func testFields() {
        let out = write {
            $0.appendStatusLine(503)
            $0.appendField("Content-Type", "application/json")
            $0.appendField("Content-Length", decimal: 27)
            $0.appendField("Connection", "close")
            $0.append("\r\n")
            $0.append("{\"error\":\"no_healthy_host\"}")
        }
        XCTAssertEqual(out.text, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 27\r\n"
            + "Connection: close\r\n\r\n{\"error\":\"no_healthy_host\"}")
        XCTAssertFalse(out.overflowed)
        // What the writer writes, the parser reads back.
        let p = parseResponse(bytes: out.bytes)
        XCTAssertEqual(p.result, .complete(out.bytes.count - 27))
        XCTAssertEqual(p.head.status, 503)
        XCTAssertEqual(p.fields, [Field("Content-Type", "application/json"), Field("Content-Length", "27"), Field("Connection", "close")])
        XCTAssertEqual(p.head.framing, .length(27))
        XCTAssertFalse(p.head.keepAlive)
    }

    func testDecimal() {
        let cases: [(Int, String)] = [
            (0, "0"), (7, "7"), (10, "10"), (99, "99"), (100, "100"), (65536, "65536"),
            (1_234_567_890_987, "1234567890987"), (-1, "-1"), (-42, "-42"),
            (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808"),
        ]
        for (v, s) in cases {
            XCTAssertEqual(write { $0.append(decimal: v) }.text, s)
        }
    }

    func testStringsAndBytes() {
        let out = write { w in
            w.append("static ")
            w.append(string: String("dynamic ") + "\u{E9}")
            w.append(byte: 0x21)
            [UInt8]([0x0D, 0x0A]).withUnsafeBytes { w.append($0) }
            w.append(UnsafeRawBufferPointer(start: nil, count: 0))
            w.append("")
        }
        XCTAssertEqual(out.bytes, Array("static dynamic \u{E9}!\r\n".utf8))
        XCTAssertFalse(out.overflowed)
    }

    func testOverflowIsFlaggedAndNothingIsWrittenPastTheEnd() {
        var buffer = [UInt8](repeating: 0xAA, count: 20)
        buffer.withUnsafeMutableBytes { raw in
            var w = HeadWriter(UnsafeMutableRawBufferPointer(rebasing: raw[..<16]))
            XCTAssertEqual(w.capacity, 16)
            w.append("HTTP/1.1 ")          // 9 bytes
            XCTAssertFalse(w.overflowed)
            w.append("Too Long Really")     // 15 bytes: does not fit, nothing of it is written
            XCTAssertTrue(w.overflowed)
            XCTAssertEqual(w.count, 9)
            w.append("1234567")             // 7 bytes: fits exactly; the flag stays set
            XCTAssertEqual(w.count, 16)
            XCTAssertTrue(w.overflowed)
            w.append(byte: 0x41)
            w.append(decimal: 5)
            XCTAssertEqual(w.count, 16)
        }
        XCTAssertEqual(Array(buffer[..<16]), Array("HTTP/1.1 1234567".utf8))
        XCTAssertEqual(Array(buffer[16...]), [0xAA, 0xAA, 0xAA, 0xAA], "bytes past the capacity are untouched")
    }

    func testOverflowOfAStatusLine() {
        let out = write(capacity: 12) { $0.appendStatusLine(431) }
        XCTAssertTrue(out.overflowed)
        XCTAssertLessThanOrEqual(out.bytes.count, 12)
        let exact = write(capacity: 17) { $0.appendStatusLine(200) }
        XCTAssertFalse(exact.overflowed)
        XCTAssertEqual(exact.text, "HTTP/1.1 200 OK\r\n")
    }

    // MARK: ChunkedEncoder

    func testChunkHeaders() {
        let cases: [(Int, String)] = [
            (1, "1\r\n"), (9, "9\r\n"), (10, "a\r\n"), (15, "f\r\n"), (16, "10\r\n"), (255, "ff\r\n"), (256, "100\r\n"),
            (4096, "1000\r\n"), (0xFFFF, "ffff\r\n"), (1 << 20, "100000\r\n"), (0xDEADBEEF, "deadbeef\r\n"),
            (Int.max, "7fffffffffffffff\r\n"),
        ]
        for (size, header) in cases {
            var buffer = [UInt8](repeating: 0, count: 18)
            let n = buffer.withUnsafeMutableBytes { ChunkedEncoder.writeChunkHeader(size: size, into: $0.baseAddress!) }
            XCTAssertEqual(n, header.utf8.count, "\(size)")
            XCTAssertEqual(decode(buffer[..<n]), header)
        }
        XCTAssertEqual("\(ChunkedEncoder.lastChunk)", "0\r\n\r\n")
        XCTAssertEqual("\(ChunkedEncoder.crlf)", "\r\n")
    }

    /// Encoding with writeChunkHeader and decoding with ChunkedDecoder gives the data back.
    func testChunkHeadersRoundTripThroughTheDecoder() {
        let data = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for sizes in [[1], [9, 10, 15, 16, 17], [255, 256, 257], [4096, 904], [5000], [1, 4998, 1]] {
            var body: [UInt8] = []
            var offset = 0
            for size in sizes {
                var header = [UInt8](repeating: 0, count: 18)
                let n = header.withUnsafeMutableBytes { ChunkedEncoder.writeChunkHeader(size: size, into: $0.baseAddress!) }
                body += header[..<n]
                body += data[offset..<offset + size]
                body += Array("\(ChunkedEncoder.crlf)".utf8)
                offset += size
            }
            body += Array("\(ChunkedEncoder.lastChunk)".utf8)
            let d = decodeChunked(pieces: [body])
            XCTAssertEqual(d.last, .end, "\(sizes)")
            XCTAssertEqual(d.data, Array(data[..<offset]), "\(sizes)")
            XCTAssertEqual(d.bodyBytes, Int64(offset))
            XCTAssertEqual(d.consumed, body.count)
        }
        // The largest header: the decoder takes the size and waits for the data.
        var header = [UInt8](repeating: 0, count: 18)
        let n = header.withUnsafeMutableBytes { ChunkedEncoder.writeChunkHeader(size: Int.max, into: $0.baseAddress!) }
        let d = decodeChunked(pieces: [Array(header[..<n]), [1, 2, 3]])
        XCTAssertEqual(d.last, .needMore)
        XCTAssertEqual(d.data, [1, 2, 3])
    }
}
