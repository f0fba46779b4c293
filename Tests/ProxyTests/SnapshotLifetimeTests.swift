import Foundation
import Harness
import Proxy
import TestSupport
import XCTest

/// Exchanges hold their snapshot unmanaged (retained once at start,
/// released once at the end): every way an exchange ends must let it go
/// exactly once, and one in flight must keep it alive.
final class SnapshotLifetimeTests: XCTestCase {

    func testEveryWayAnExchangeEndsReleasesItsSnapshot() throws {
        let f = try ProxyFixture(backends: [("a", { req, res in
            if req.target.contains("slow") { usleep(400_000) }
            res.respond(body: Array("ok".utf8))
        })])
        weak var first = f.server.store.load()
        XCTAssertNotNil(first)
        // Success, keep-alive reuse, no route, a bad head, a client that leaves mid-exchange.
        let (s, r) = try f.connect()
        for _ in 0..<3 {
            try s.write(get("/v1/x"))
            XCTAssertEqual(try Response(r.readResponse()).status, 200)
        }
        XCTAssertEqual(try f.exchange(get("/elsewhere")).status, 404)
        XCTAssertEqual(try f.exchange("GET /v1/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status, 400)
        let (gone, _) = try f.connect()
        try gone.write(get("/v1/slow-abort"))
        usleep(50_000)
        gone.close()
        // A slow request in flight across the swap keeps the old snapshot.
        let (slow, slowReader) = try f.connect()
        try slow.write(get("/v1/slow"))
        usleep(100_000)
        f.setWeights(route: "predict", active: 100, preview: 0)
        // New traffic moves the worker onto the new snapshot.
        try s.write(get("/v1/x"))
        XCTAssertEqual(try Response(r.readResponse()).status, 200)
        XCTAssertNotNil(first, "released while an exchange still used it")
        XCTAssertEqual(try Response(slowReader.readResponse()).status, 200)
        slow.close()
        try s.write(get("/v1/x"))
        XCTAssertEqual(try Response(r.readResponse()).status, 200)
        s.close()
        XCTAssertTrue(waitUntil(5) { first == nil }, "the old snapshot was never released")
        // Every write queue's segment ring went back to the pool: idle and
        // closed connections hold none.
        XCTAssertTrue(waitUntil(5) { f.onLoop { $0.pool.ringsOut } == 0 }, "write queue rings still out: \(f.onLoop { $0.pool.ringsOut } ?? -1)")
        // And every exchange left the exchange slab.
        let server = f.server
        XCTAssertTrue(waitUntil(5) { f.onLoop { _ in server.exchangesInProgress(worker: 0) } == 0 },
                      "exchanges still in the slab: \(f.onLoop { _ in server.exchangesInProgress(worker: 0) } ?? -1)")
    }
}
