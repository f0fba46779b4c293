import Foundation
import Harness
import HTTP1
import SluiceCore
import XCTest

/// Protocol upgrades (RFC 9110 §7.8), WebSocket-style: the proxy forwards
/// the upgrade request with its Upgrade/Connection pair, relays the 101, and
/// then carries raw bytes both ways until either side closes. A 101 nobody
/// asked for is an invalid response.
final class UpgradeTests: XCTestCase {
    static let upgradeRequest = "GET /v1/ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

    /// A backend that switches protocols when asked properly, then echoes raw
    /// bytes; on "bye" it answers "ciao" and closes. `events` records what it saw.
    static func echoTunnelBackend(_ events: Locked<[String]>) -> ScriptedBackend.Handler {
        return { req, res in
            res.keepAlive = false  // after the tunnel, the connection is done
            let asked = req.header("upgrade")?.lowercased() == "websocket"
                && (req.header("connection")?.lowercased().contains("upgrade") ?? false)
            events.withLock { $0.append("upgrade:\(asked) key:\(req.header("sec-websocket-key") ?? "-")") }
            guard asked else { return res.respond(status: 426, reason: "Upgrade Required") }
            res.raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            var pending = res.reader?.buffer ?? []  // bytes that came with the head, if any
            res.reader?.buffer = []
            while true {
                if pending.isEmpty {
                    guard let b = try? res.socket.read(), !b.isEmpty else {
                        events.withLock { $0.append("eof") }
                        return
                    }
                    pending = b
                }
                if pending == Array("bye".utf8) {
                    res.raw("ciao")
                    events.withLock { $0.append("closed") }
                    return  // closes the connection
                }
                res.raw(pending)
                pending = []
            }
        }
    }

    private func openTunnel(_ f: ProxyFixture) throws -> (BlockingSocket, MessageReader, Response) {
        let (s, reader) = try f.connect()
        try s.write(Self.upgradeRequest)
        let r = try Response(reader.readResponse())
        return (s, reader, r)
    }

    func testUpgradeIsRelayedAndTheTunnelCarriesRawBytesBothWays() throws {
        let events = Locked<[String]>([])
        let f = try ProxyFixture(backends: [("a", Self.echoTunnelBackend(events))])
        let (s, reader, r) = try openTunnel(f)
        defer { s.close() }
        XCTAssertEqual(r.status, 101)
        XCTAssertEqual(r.header("upgrade"), "websocket")
        XCTAssertEqual(r.header("connection")?.lowercased(), "upgrade")
        XCTAssertEqual(r.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        XCTAssertEqual(r.header("x-sluice-backend"), "active")
        XCTAssertEqual(events.withLock { $0.first }, "upgrade:true key:dGhlIHNhbXBsZSBub25jZQ==",
                       "the backend did not see the Upgrade/Connection pair or the key")

        // Several messages, text and binary, small and larger than a buffer.
        let messages: [[UInt8]] = [Array("hello".utf8), Array(0...255), randomBytes(100_000), [0x81, 0x00], Array("again".utf8)]
        for m in messages {
            try s.write(m)
            XCTAssertTrue(try reader.readRaw(count: m.count) == m, "a \(m.count)-byte message came back changed")
        }
        XCTAssertTrue(reader.buffer.isEmpty)
    }

    func testClientCloseClosesTheBackendSide() throws {
        let events = Locked<[String]>([])
        let f = try ProxyFixture(backends: [("a", Self.echoTunnelBackend(events))])
        let (s, reader, r) = try openTunnel(f)
        XCTAssertEqual(r.status, 101)
        try s.write("ping")
        XCTAssertEqual(try reader.readRaw(count: 4), Array("ping".utf8))
        s.close()
        XCTAssertTrue(eventually { events.withLock { $0.last } == "eof" }, "the backend side stayed open: \(events.withLock { $0 })")
    }

    /// The last bytes and the close arrive together: both still get through.
    func testClientCloseRightAfterItsLastBytesDeliversThemAndClosesTheBackend() throws {
        let events = Locked<[String]>([])
        let received = Locked<[UInt8]>([])
        let f = try ProxyFixture(backends: [("a", { req, res in
            res.keepAlive = false
            res.raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            while let b = try? res.socket.read(), !b.isEmpty { received.withLock { $0 += b } }
            events.withLock { $0.append("eof") }
        })])
        for round in 0..<5 {
            events.withLock { $0 = [] }
            received.withLock { $0 = [] }
            let (s, _, r) = try openTunnel(f)
            XCTAssertEqual(r.status, 101)
            try s.write("last words \(round)")
            s.close()
            XCTAssertTrue(eventually { events.withLock { $0 } == ["eof"] }, "round \(round): the backend side stayed open")
            XCTAssertEqual(String(decoding: received.withLock { $0 }, as: UTF8.self), "last words \(round)")
        }
    }

    func testBackendCloseClosesTheClientSide() throws {
        let events = Locked<[String]>([])
        let f = try ProxyFixture(backends: [("a", Self.echoTunnelBackend(events))])
        // Several rounds: the backend's last bytes and its FIN often arrive together.
        for round in 0..<5 {
            let (s, reader, r) = try openTunnel(f)
            defer { s.close() }
            XCTAssertEqual(r.status, 101)
            try s.write("ping")
            XCTAssertEqual(try reader.readRaw(count: 4), Array("ping".utf8))
            try s.write("bye")
            XCTAssertEqual(try reader.readRaw(count: 4), Array("ciao".utf8), "bytes sent just before the close were lost")
            XCTAssertTrue(reader.closesWithin(seconds: 5), "round \(round): the client side stayed open after the backend closed")
            XCTAssertEqual(events.withLock { $0.last }, "closed")
        }
    }

    /// 101 answered to a request that did not ask to upgrade: the upstream
    /// broke the protocol, the client gets a 502 and no tunnel.
    func testUnrequested101Is502() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in
            res.keepAlive = false
            res.raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw tunnel bytes")
        })])
        let r = try f.exchange(get("/v1/plain"))
        XCTAssertEqual(r.status, 502)
        XCTAssertEqual(r.text, "{\"error\":\"bad_response\"}\n")
        XCTAssertNil(r.header("upgrade"))
        // Upgrade without Connection: upgrade is no request to upgrade either.
        let r2 = try f.exchange(get("/v1/plain", "Upgrade: websocket\r\n"))
        XCTAssertEqual(r2.status, 502)
    }

    /// A backend that declines the upgrade answers normally, and the
    /// connection stays plain HTTP.
    func testDeclinedUpgradeIsAnOrdinaryResponse() throws {
        let events = Locked<[String]>([])
        let f = try ProxyFixture(backends: [("a", { req, res in
            events.withLock { $0.append(req.header("upgrade") ?? "-") }
            res.respond(body: Array("plain".utf8))
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(Self.upgradeRequest)
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "plain")
        XCTAssertNil(r.header("upgrade"))
        try s.write(get("/v1/next"))
        XCTAssertEqual(try Response(reader.readResponse()).text, "plain")
        XCTAssertEqual(events.withLock { $0 }, ["websocket", "-"])
    }
}
