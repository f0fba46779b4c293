import Foundation
import Harness
import HTTP1
import SluiceCore
import XCTest

/// The proxy forwards as bytes arrive (no response buffering: token and
/// event streams reach the client as the model produces them), and it
/// forwards no faster than the client reads (back-pressure instead of
/// buffering a slow consumer's response in memory).
final class StreamingTimingTests: XCTestCase {
    /// Server-sent events, one chunk each, 300 ms apart: every event reaches
    /// the client before the backend even sends the next one.
    func testServerSentEventsReachTheClientOneAtATime() throws {
        let events = 4
        let sentAt = Locked<[UInt64]>([])  // when the backend began sending event i+1
        let f = try ProxyFixture(backends: [("a", { _, res in
            res.raw("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in 1...events {
                if i > 1 { usleep(300_000) }
                let ev = "id: \(i)\ndata: event \(i)\n\n"
                sentAt.withLock { $0.append(nowNanos()) }
                res.raw(String(ev.utf8.count, radix: 16) + "\r\n" + ev + "\r\n")
            }
            res.raw("0\r\n\r\n")
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/events", "Accept: text/event-stream\r\n"))
        let (head, headBytes) = try reader.readResponseHead()
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(headerValue(head.h, headBytes, "content-type"), "text/event-stream")
        XCTAssertEqual(head.framing, .chunked)
        var text = ""
        var receivedAt: [Int: UInt64] = [:]
        try reader.streamBody(head.framing) { piece in
            text += String(decoding: piece, as: UTF8.self)
            for i in 1...events where receivedAt[i] == nil && text.contains("data: event \(i)\n\n") {
                receivedAt[i] = nowNanos()
            }
        }
        XCTAssertEqual(text, (1...events).map { "id: \($0)\ndata: event \($0)\n\n" }.joined())
        let sent = sentAt.withLock { $0 }
        XCTAssertEqual(sent.count, events)
        for i in 1..<events {
            let got = try XCTUnwrap(receivedAt[i], "event \(i) never arrived")
            XCTAssertLessThan(got, sent[i], "event \(i) reached the client only after event \(i + 1) was sent: the proxy buffered it")
        }
    }

    /// A 50 MiB response to a client that does not read for 1.5 s and then
    /// reads slowly: the proxy stops reading the backend (the backend blocks
    /// before the end), holds only a few buffers, and every byte arrives.
    func testSlowConsumerGetsBackPressureAndEveryByte() throws {
        let size: Int64 = 50 << 20
        let source = RandomSource()
        let backendSent = Locked<Int64>(0)
        let backendDigest = Locked<String?>(nil)
        let f = try ProxyFixture(backends: [("a", { _, res in
            res.raw("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: \(size)\r\n\r\n")
            var d = StreamDigest()
            do {
                try source.forEachPiece(total: size) { p in
                    try res.socket.write(p)
                    d.update(p)
                    backendSent.withLock { $0 += Int64(p.count) }
                }
                backendDigest.withLock { $0 = d.text }
            } catch {
                res.keepAlive = false
            }
        })])
        let (s, reader) = try f.connect(timeout: 30)
        defer { s.close() }
        try s.write(get("/v1/big"))
        let (head, _) = try reader.readResponseHead()
        XCTAssertEqual(head.framing, .length(size))

        // Not reading at all: the backend must come to a stop well before the end.
        usleep(1_000_000)
        let sentAfter1s = backendSent.withLock { $0 }
        usleep(500_000)
        let sentAfter1500ms = backendSent.withLock { $0 }
        let highWaterWhilePaused = f.poolHighWater
        print("slow consumer: backend sent \(sentAfter1s >> 10) KiB after 1 s, \(sentAfter1500ms >> 10) KiB after 1.5 s of \(size >> 10) KiB; pool high water \(highWaterWhilePaused)")
        XCTAssertLessThan(sentAfter1500ms, size, "the backend finished although the client read nothing")
        XCTAssertLessThan(highWaterWhilePaused, 64, "the proxy buffered the response instead of pausing the backend")

        // Then slowly (about 1.6 MB/s for a while), then at full speed.
        var got = StreamDigest()
        var pieces = 0
        try reader.streamBody(head.framing) { p in
            got.update(p)
            pieces += 1
            if pieces <= 50 { usleep(10_000) }
        }
        XCTAssertTrue(eventually { backendDigest.withLock { $0 } != nil })
        XCTAssertEqual(got.text, backendDigest.withLock { $0 }, "bytes were lost, added or reordered")
        XCTAssertLessThan(f.poolHighWater, 64)
    }
}
