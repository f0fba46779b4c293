import Foundation
import Harness
import HTTP1
import SluiceCore
import XCTest

/// Bodies cross the proxy byte-exact in every framing HTTP/1.1 has (RFC 9112
/// §6-§7): Content-Length, chunked (extensions and trailers included) and
/// close-delimited, both ways; they are streamed, so the proxy's memory stays
/// bounded by its buffer pool whatever the body's size.
final class BodyStreamingTests: XCTestCase {
    // MARK: chunked

    /// A chunked upload reaches the backend decoded to exactly the bytes sent,
    /// still chunked (`transfer-encoding: chunked`, no Content-Length), and the
    /// validated framing (extensions, trailer fields) is forwarded as it came.
    func testChunkedRequestBodyReachesBackendByteExact() throws {
        let seen = Locked<[BackendRequest]>([])
        let f = try ProxyFixture(backends: [("a", { req, res in
            seen.withLock { $0.append(req) }
            res.respond(body: Array("stored".utf8))
        })])
        let pieces = [randomBytes(1), randomBytes(100), randomBytes(40_000), randomBytes(7)]
        let body = chunkedBody(pieces, ext: ["a=1", nil, "name=\"quoted value\";flag", "x"],
                               trailers: ["X-Checksum: abc123", "X-Other: 1"])
        let head = "POST /v1/upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        let r = try f.exchange(bytes: Array(head.utf8) + body)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "stored")
        let req = try XCTUnwrap(seen.withLock { $0.first })
        XCTAssertEqual(req.body, Array(pieces.joined()), "decoded body differs from what the client sent")
        XCTAssertEqual(req.header("transfer-encoding"), "chunked")
        XCTAssertNil(req.header("content-length"))
    }

    func testChunkedRequestFramingIsForwardedAsSent() throws {
        let raw = Locked<[UInt8]>([])
        let f = try ProxyFixture(backends: [("a", { _, res in
            // Streaming mode: the body is still in the connection, read it raw.
            let bytes = (try? res.reader!.readRaw(through: "0\r\nX-Checksum: abc123\r\n\r\n")) ?? []
            raw.withLock { $0 = bytes }
            res.respond(body: Array("ok".utf8))
        })])
        f.backends[0].streamRequestBodies.store(true, ordering: .relaxed)
        let body = chunkedBody([randomBytes(300), randomBytes(5000)], ext: ["k=v", "q=\"a;b\""], trailers: ["X-Checksum: abc123"])
        let r = try f.exchange(bytes: Array("POST /v1/upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + body)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(raw.withLock { $0 }, body, "chunk extensions or trailers were not forwarded as sent")
    }

    /// A chunked response reaches the client with the same data (decoded) and
    /// the same framing bytes (passed through), and the connection is reusable.
    func testChunkedResponseReachesClientByteExact() throws {
        let pieces = [randomBytes(10), randomBytes(70_000), randomBytes(1), randomBytes(3000)]
        let body = chunkedBody(pieces, ext: [nil, "ext=1", nil, "z=\"q\""], trailers: ["X-Digest: 42"])
        let f = try ProxyFixture(backends: [("a", { req, res in
            if req.target == "/v1/next" { return res.respond(body: Array("next".utf8)) }
            res.raw(Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
            // In several writes, cut mid-chunk, so the proxy sees partial framing.
            var off = 0
            for cut in [5, 100, 40_000, body.count] where cut > off {
                let end = min(cut, body.count)
                res.raw(Array(body[off..<end]))
                off = end
                usleep(5000)
            }
        })])
        // Decoded by a client: the data is exact.
        let r = try f.exchange(get("/v1/download"))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.head.framing, .chunked)
        XCTAssertEqual(r.body, Array(pieces.joined()))

        // Raw: the chunked framing (extensions, trailers) arrives as the backend sent it.
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/download"))
        let (head, headBytes) = try reader.readResponseHead()
        XCTAssertEqual(head.framing, .chunked)
        XCTAssertEqual(headerValues(head.h, headBytes, "transfer-encoding"), ["chunked"])
        XCTAssertNil(headerValue(head.h, headBytes, "content-length"))
        XCTAssertEqual(try reader.readRaw(count: body.count), body)
        // Nothing after the last chunk; the connection carries the next exchange.
        XCTAssertTrue(reader.buffer.isEmpty)
        try s.write(get("/v1/next"))
        XCTAssertEqual(try Response(reader.readResponse()).text, "next")
    }

    // MARK: Content-Length

    func testContentLengthBodiesBothWaysAreByteExact() throws {
        let f = try ProxyFixture(backends: [("a", echoBackend)])
        let (s, reader) = try f.connect()
        defer { s.close() }
        for size in [0, 1, 16_383, 16_384, 16_385, 1_000_000] {
            let data = randomBytes(size)
            try s.write(Array("POST /v1/echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n".utf8) + data)
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, 200)
            XCTAssertEqual(r.header("x-body-length"), "\(size)", "the backend got a different length")
            XCTAssertEqual(r.header("content-length"), "\(size)")
            XCTAssertTrue(r.body == data, "body of \(size) bytes changed on the way")
        }
    }

    // MARK: close-delimited

    /// A response with no length is read until the backend closes; the client
    /// gets all of it and then its connection closes too (RFC 9112 §6.3 item 8).
    func testCloseDelimitedResponseReachesClientInFullThenCloses() throws {
        let data = randomBytes(300_000)
        let f = try ProxyFixture(backends: [("a", { _, res in
            res.keepAlive = false
            res.raw(Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
            var off = 0
            while off < data.count {
                let n = min(30_000, data.count - off)
                res.raw(Array(data[off..<off + n]))
                off += n
            }
            // Returning closes the connection: that ends the body.
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/stream"))
        let (head, headBytes) = try reader.readResponseHead()
        XCTAssertEqual(head.framing, .untilClose, "the proxy must not invent a length it does not know")
        XCTAssertEqual(headerValue(head.h, headBytes, "connection"), "close")
        var got: [UInt8] = []
        try reader.streamBody(head.framing) { got += $0 }  // returns at the client's EOF
        XCTAssertTrue(got == data, "got \(got.count) of \(data.count) bytes, or different ones")
        XCTAssertTrue(reader.eof)
    }

    /// An HTTP/1.0 client cannot read chunked: it gets the data only, ended by
    /// the close. Many small chunks in one upstream read included.
    func testHTTP10ClientGetsChunkedUpstreamAsPlainCloseDelimitedData() throws {
        var pieces: [[UInt8]] = (0..<300).map { randomBytes(1 + $0 % 97) }
        pieces.append(randomBytes(50_000))
        pieces += (0..<40).map { randomBytes(1 + $0) }
        let body = chunkedBody(pieces, trailers: ["X-T: 1"])
        let f = try ProxyFixture(backends: [("a", { _, res in
            res.raw(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8) + body)  // one write
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write("GET /v1/stream HTTP/1.0\r\nHost: t\r\n\r\n")
        let (head, headBytes) = try reader.readResponseHead()
        XCTAssertEqual(head.status, 200)
        XCTAssertNil(headerValue(head.h, headBytes, "transfer-encoding"))
        XCTAssertEqual(headerValue(head.h, headBytes, "connection"), "close")
        XCTAssertEqual(head.framing, .untilClose)
        var got: [UInt8] = []
        try reader.streamBody(head.framing) { got += $0 }
        XCTAssertEqual(got.count, pieces.reduce(0) { $0 + $1.count })
        XCTAssertTrue(got == Array(pieces.joined()), "the de-chunked data differs")
    }

    // MARK: large transfers, bounded memory

    /// 256 MiB in CI; `SLUICE_LARGE_MIB=1024 scripts/test BodyStreamingTests` runs the 1 GiB case.
    static let largeSize: Int64 = Int64(ProcessInfo.processInfo.environment["SLUICE_LARGE_MIB"].flatMap { Int($0) } ?? 256) << 20
    /// Buffers the proxy may hold for one large transfer (16 KiB each).
    static let poolBound = 64
    static let rssBound = 64 << 20

    /// 256 MiB up through the proxy, sent and received in pieces, with a
    /// digest on both sides; the proxy holds only a few pool buffers and
    /// the process does not grow.
    func testLargeUploadIsStreamedWithBoundedMemory() throws {
        let source = RandomSource()
        let f = try ProxyFixture(backends: [("a", { _, res in
            var d = StreamDigest()
            _ = try? res.readRequestBody { d.update($0) }
            res.respond(headers: [("X-Digest", d.text)])
        })]) { $0.routes[0].timeout = 120_000 }
        f.backends[0].streamRequestBodies.store(true, ordering: .relaxed)
        let (s, reader) = try f.connect(timeout: 60)
        defer { s.close() }

        func upload(_ size: Int64) throws -> (sent: String, received: String?) {
            try s.write("POST /v1/upload HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n")
            var sent = StreamDigest()
            try source.forEachPiece(total: size) { p in
                sent.update(p)
                try s.write(p)
            }
            let r = try Response(reader.readResponse())
            XCTAssertEqual(r.status, 200)
            return (sent.text, r.header("x-digest"))
        }
        // Warm up (threads, malloc arenas, the pool's first chunk), then measure.
        let warm = try upload(4 << 20)
        XCTAssertEqual(warm.received, warm.sent)
        let rssBefore = residentBytes()
        let t0 = Date()
        let big = try upload(Self.largeSize)
        let seconds = Date().timeIntervalSince(t0)
        let rssGrowth = residentBytes() - rssBefore
        let highWater = f.poolHighWater
        print("large upload: \(Self.largeSize >> 20) MiB in \(String(format: "%.1f", seconds)) s, pool high water \(highWater) x \(f.poolBufferSize) B, RSS growth \(rssGrowth >> 10) KiB")
        XCTAssertEqual(big.received, big.sent, "the backend received different bytes")
        XCTAssertLessThan(highWater, Self.poolBound, "the proxy buffered the upload instead of streaming it")
        XCTAssertLessThan(rssGrowth, Self.rssBound)
    }

    /// 256 MiB down, chunked, through the proxy to a client that reads it in
    /// pieces; same digests and bounds as the upload.
    func testLargeDownloadIsStreamedWithBoundedMemory() throws {
        let source = RandomSource()
        let sentDigest = Locked<[String: String]>([:])
        let f = try ProxyFixture(backends: [("a", { req, res in
            let size = Int64(req.target.split(separator: "/").last!)!
            res.raw(Array("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
            var d = StreamDigest()
            do {
                try source.forEachPiece(total: size) { p in
                    d.update(p)
                    try res.socket.write(Array((String(p.count, radix: 16) + "\r\n").utf8))
                    try res.socket.write(p)
                    try res.socket.write(Array("\r\n".utf8))
                }
                // Published before the last chunk, so it is there when the client finishes.
                sentDigest.withLock { $0[req.target] = d.text }
                res.raw("0\r\n\r\n")
            } catch {
                res.keepAlive = false
            }
        })]) { $0.routes[0].timeout = 120_000 }
        let (s, reader) = try f.connect(timeout: 60)
        defer { s.close() }

        func download(_ size: Int64) throws -> (sent: String?, received: String) {
            let target = "/v1/download/\(size)"
            try s.write(get(target))
            let (head, _) = try reader.readResponseHead()
            XCTAssertEqual(head.status, 200)
            XCTAssertEqual(head.framing, .chunked)
            var got = StreamDigest()
            try reader.streamBody(head.framing) { got.update($0) }
            return (sentDigest.withLock { $0[target] }, got.text)
        }
        let warm = try download(4 << 20)
        XCTAssertEqual(warm.received, warm.sent)
        let rssBefore = residentBytes()
        let t0 = Date()
        let big = try download(Self.largeSize)
        let seconds = Date().timeIntervalSince(t0)
        let rssGrowth = residentBytes() - rssBefore
        let highWater = f.poolHighWater
        print("large download: \(Self.largeSize >> 20) MiB in \(String(format: "%.1f", seconds)) s, pool high water \(highWater) x \(f.poolBufferSize) B, RSS growth \(rssGrowth >> 10) KiB")
        XCTAssertEqual(big.received, big.sent, "the client received different bytes")
        XCTAssertLessThan(highWater, Self.poolBound, "the proxy buffered the download instead of streaming it")
        XCTAssertLessThan(rssGrowth, Self.rssBound)
    }
}
