import Foundation
import Harness
import HTTP1
import SluiceCore
import XCTest

/// What the proxy changes in heads (SPEC §4; RFC 9110 §7.6): hop-by-hop
/// fields stay on their hop, both ways; upstream requests carry
/// x-forwarded-for, x-forwarded-proto and x-request-id; every proxied
/// response names its backend in x-sluice-backend.
final class HeaderRewriteTests: XCTestCase {
    /// A backend that records every request it receives.
    private func recordingFixture(_ seen: Locked<[BackendRequest]>, backends: Int = 1) throws -> ProxyFixture {
        let h: ScriptedBackend.Handler = { req, res in
            seen.withLock { $0.append(req) }
            res.respond(body: Array("ok".utf8))
        }
        return try ProxyFixture(backends: backends == 1 ? [("a", h)] : [("a", h), ("b", h)])
    }

    private func lastSeen(_ seen: Locked<[BackendRequest]>) throws -> BackendRequest {
        try XCTUnwrap(seen.withLock { $0.last }, "no request reached the backend")
    }

    func testHopByHopRequestFieldsNeverReachTheBackend() throws {
        let seen = Locked<[BackendRequest]>([])
        let f = try recordingFixture(seen)
        let r = try f.exchange(get("/v1/x", "Connection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
                                      + "Trailer: X-Checksum\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n"
                                      + "X-Hop: secret\r\nX-End-To-End: kept\r\n"))
        XCTAssertEqual(r.status, 200)
        let req = try lastSeen(seen)
        for name in ["keep-alive", "te", "trailer", "upgrade", "proxy-connection", "x-hop"] {
            XCTAssertNil(req.header(name), "\(name) reached the backend")
        }
        let conn = req.header("connection")?.lowercased()
        XCTAssertTrue(conn == nil || conn == "keep-alive", "the client's Connection field reached the backend: \(conn ?? "")")
        XCTAssertEqual(req.header("x-end-to-end"), "kept", "an end-to-end field was dropped")
        XCTAssertEqual(req.header("host"), "t")
    }

    func testFieldsNamedInConnectionAreStrippedWhateverTheirCase() throws {
        let seen = Locked<[BackendRequest]>([])
        let f = try recordingFixture(seen)
        _ = try f.exchange(get("/v1/x", "Connection: X-Hop-One ,x-hop-two\r\nConnection: X-Hop-Three\r\n"
                                  + "x-hop-one: 1\r\nX-HOP-TWO: 2\r\nX-Hop-Three: 3\r\nX-Hop-Four: 4\r\n"))
        let req = try lastSeen(seen)
        XCTAssertNil(req.header("x-hop-one"))
        XCTAssertNil(req.header("x-hop-two"))
        XCTAssertNil(req.header("x-hop-three"))
        XCTAssertEqual(req.header("x-hop-four"), "4", "a field not named in Connection was dropped")
    }

    func testForwardedForIsAppendedToAnExistingValue() throws {
        let seen = Locked<[BackendRequest]>([])
        let f = try recordingFixture(seen)
        _ = try f.exchange(get("/v1/x"))
        XCTAssertEqual(try lastSeen(seen).header("x-forwarded-for"), "127.0.0.1")
        _ = try f.exchange(get("/v1/x", "X-Forwarded-For: 1.2.3.4\r\n"))
        XCTAssertEqual(try lastSeen(seen).header("x-forwarded-for"), "1.2.3.4, 127.0.0.1")
        // Several fields fold into one list, in order (RFC 9110 §5.3).
        _ = try f.exchange(get("/v1/x", "X-Forwarded-For: 1.2.3.4, 5.6.7.8\r\nX-Forwarded-For: 9.9.9.9\r\n"))
        let req = try lastSeen(seen)
        XCTAssertEqual(req.headers.filter { $0.0.lowercased() == "x-forwarded-for" }.count, 1)
        XCTAssertEqual(req.header("x-forwarded-for"), "1.2.3.4, 5.6.7.8, 9.9.9.9, 127.0.0.1")
    }

    func testRequestIDIsGeneratedWhenAbsentAndKeptWhenPresent() throws {
        let seen = Locked<[BackendRequest]>([])
        let f = try recordingFixture(seen)
        let (s, reader) = try f.connect()
        defer { s.close() }
        var ids: [String] = []
        for _ in 0..<20 {
            try s.write(get("/v1/x"))
            _ = try reader.readResponse()
            ids.append(try XCTUnwrap(lastSeen(seen).header("x-request-id")))
        }
        let uuid = try NSRegularExpression(pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        for id in ids {
            XCTAssertEqual(uuid.numberOfMatches(in: id, range: NSRange(id.startIndex..., in: id)), 1, "not UUID-shaped: \(id)")
        }
        XCTAssertEqual(Set(ids).count, ids.count, "request ids repeat")

        try s.write(get("/v1/x", "X-Request-Id: my-trace-42\r\n"))
        _ = try reader.readResponse()
        let req = try lastSeen(seen)
        XCTAssertEqual(req.header("x-request-id"), "my-trace-42")
        XCTAssertEqual(req.headers.filter { $0.0.lowercased() == "x-request-id" }.count, 1)
    }

    func testForwardedProtoIsAddedAndKept() throws {
        let seen = Locked<[BackendRequest]>([])
        let f = try recordingFixture(seen)
        _ = try f.exchange(get("/v1/x"))
        XCTAssertEqual(try lastSeen(seen).header("x-forwarded-proto"), "http")
        _ = try f.exchange(get("/v1/x", "X-Forwarded-Proto: https\r\n"))
        let req = try lastSeen(seen)
        XCTAssertEqual(req.header("x-forwarded-proto"), "https")
        XCTAssertEqual(req.headers.filter { $0.0.lowercased() == "x-forwarded-proto" }.count, 1)
    }

    /// Every proxied response says which backend answered, and a backend
    /// cannot spoof it.
    func testEveryProxiedResponseNamesItsBackend() throws {
        let spoofing: (String) -> ScriptedBackend.Handler = { name in
            return { _, res in res.respond(headers: [("X-Sluice-Backend", "spoofed"), ("X-Cluster", name)], body: Array(name.utf8)) }
        }
        let f = try ProxyFixture(backends: [("a", spoofing("a")), ("b", spoofing("b"))])
        let (s, reader) = try f.connect()
        defer { s.close() }
        var seenBackends: Set<String> = []
        func check(_ expected: String?) throws {
            try s.write(get("/v1/x"))
            let r = try Response(reader.readResponse())
            let values = r.headers.filter { $0.0.lowercased() == "x-sluice-backend" }.map(\.1)
            XCTAssertEqual(values.count, 1, "x-sluice-backend: \(values)")
            let want = r.header("x-cluster") == "a" ? "active" : "preview"
            XCTAssertEqual(values.first, want)
            if let e = expected { XCTAssertEqual(values.first, e) }
            seenBackends.insert(values.first ?? "-")
        }
        for _ in 0..<10 { try check(nil) }   // 90/10
        f.setWeights(route: "predict", active: 0, preview: 100)
        f.waitForSnapshotPickup()
        for _ in 0..<5 { try check("preview") }
        f.setWeights(route: "predict", active: 100, preview: 0)
        f.waitForSnapshotPickup()
        for _ in 0..<5 { try check("active") }
        XCTAssertEqual(seenBackends, ["active", "preview"])
        // The proxy's own error answers name the backend they were meant for too.
        f.backends[0].stop()
        let r = try f.exchange(get("/v1/x"))
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.header("x-sluice-backend"), "active")
    }

    func testHopByHopResponseFieldsAreNotRelayed() throws {
        let f = try ProxyFixture(backends: [("a", { _, res in
            res.raw("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5, max=100\r\n"
                    + "X-Internal: backend-secret\r\nProxy-Authenticate: Basic\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok")
        })])
        let (s, reader) = try f.connect()
        defer { s.close() }
        try s.write(get("/v1/x"))
        let r = try Response(reader.readResponse())
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, "ok")
        XCTAssertNil(r.header("connection"), "the backend's Connection field was relayed")
        XCTAssertNil(r.header("keep-alive"))
        XCTAssertNil(r.header("proxy-authenticate"))
        XCTAssertNil(r.header("x-internal"), "a field the backend named in Connection was relayed")
        XCTAssertEqual(r.header("x-public"), "yes")
        XCTAssertEqual(r.header("x-sluice-backend"), "active")
        // The client connection is unaffected by the backend's hop fields.
        try s.write(get("/v1/x"))
        XCTAssertEqual(try Response(reader.readResponse()).text, "ok")
    }

    /// Kept field lines are copied in runs (adjacent lines in one copy):
    /// dropped fields between, before and after kept ones must not leave
    /// a trace, and kept ones arrive in order with their values intact.
    func testKeptFieldsSurviveDroppedOnesAroundThemInOrder() throws {
        let seen = Locked<[BackendRequest]>([])
        let h: ScriptedBackend.Handler = { req, res in
            seen.withLock { $0.append(req) }
            res.respond(headers: [("X-R1", "one"), ("Keep-Alive", "timeout=5"), ("X-R2", "two  words"),
                                  ("Connection", "x-r-hop"), ("X-R-Hop", "h"), ("X-Sluice-Backend", "forged"), ("X-R3", "three")],
                        body: Array("ok".utf8))
        }
        let f = try ProxyFixture(backends: [("a", h)])
        let r = try f.exchange("GET /v1/x HTTP/1.1\r\nKeep-Alive: 1\r\nHost: t\r\nX-A: a\r\nConnection: x-gone\r\n"
                               + "X-B: b  c\r\nX-Gone: g\r\nX-C: c\r\nTE: trailers\r\n\r\n")
        XCTAssertEqual(r.status, 200)
        let req = try lastSeen(seen)
        let names = req.headers.map { $0.0.lowercased() }
        XCTAssertEqual(Array(names.prefix(4)), ["host", "x-a", "x-b", "x-c"], "\(req.headers)")
        XCTAssertEqual(req.header("x-b"), "b  c")
        for gone in ["keep-alive", "x-gone", "te"] { XCTAssertNil(req.header(gone), gone) }
        let respNames = r.headers.map { $0.0.lowercased() }
        XCTAssertEqual(respNames.filter { $0.hasPrefix("x-r") }, ["x-r1", "x-r2", "x-r3"], "\(r.headers)")
        XCTAssertEqual(r.header("x-r2"), "two  words")
        XCTAssertNil(r.header("keep-alive"))
        XCTAssertEqual(r.headers.filter { $0.0.lowercased() == "x-sluice-backend" }.map { $0.1 }, ["active"])
    }
}
