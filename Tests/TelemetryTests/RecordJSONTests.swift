import Foundation
import Telemetry
import XCTest

final class RecordJSONTests: XCTestCase {
    private func line(_ r: RequestRecord, _ json: inout RecordJSON) throws -> [String: Any] {
        var sink = ByteSink(capacity: 64)
        json.append(r, to: &sink)
        let bytes = Array(sink.bytes)
        XCTAssertEqual(bytes.last, UInt8(ascii: "\n"))
        XCTAssertEqual(bytes.filter { $0 == UInt8(ascii: "\n") }.count, 1)
        return try JSONSerialization.jsonObject(with: Data(bytes)) as! [String: Any]
    }

    func testEveryKeyAndValue() throws {
        let registry = SeriesRegistry()
        _ = registry.slot(SeriesKey(route: "r0", backend: "active", cluster: "c0"))
        let slot = registry.slot(SeriesKey(route: "pre\"dict", backend: "preview", cluster: "v2"))!
        let names = NameTable(capacity: 8)
        let e = names.slot("10.0.0.7:8080")
        var json = RecordJSON(registry: registry, names: names)
        var r = RequestRecord()
        r.fields.tsMillis = 1_764_183_811_123  // 2025-11-26T19:03:31.123Z
        r.fields.latencyMicros = 12_345
        r.fields.upstreamMicros = 500
        r.fields.bytesIn = 87
        r.fields.bytesOut = 154
        r.fields.status = 503
        r.fields.error = .connectFailure
        r.fields.seriesSlot = Int32(slot)
        r.fields.endpointSlot = e
        r.fields.methodCode = 2  // POST
        r.path.set("/v1/m:predict?q=\u{1}\\")
        r.requestID.set("abc-1")
        let o = try line(r, &json)
        XCTAssertEqual(o["ts"] as? String, "2025-11-26T19:03:31.123Z")
        XCTAssertEqual(o["request_id"] as? String, "abc-1")
        XCTAssertEqual(o["route"] as? String, "pre\"dict")
        XCTAssertEqual(o["backend"] as? String, "preview")
        XCTAssertEqual(o["cluster"] as? String, "v2")
        XCTAssertEqual(o["endpoint"] as? String, "10.0.0.7:8080")
        XCTAssertEqual(o["method"] as? String, "POST")
        XCTAssertEqual(o["path"] as? String, "/v1/m:predict?q=\u{1}\\")
        XCTAssertEqual(o["status"] as? Int, 503)
        XCTAssertEqual(o["latency_ms"] as? Double, 12.345)
        XCTAssertEqual(o["upstream_ms"] as? Double, 0.5)
        XCTAssertEqual(o["bytes_in"] as? Int, 87)
        XCTAssertEqual(o["bytes_out"] as? Int, 154)
        XCTAssertEqual(o["error"] as? String, "connect_failure")
        XCTAssertEqual(o.count, 14)
    }

    func testNullsCustomMethodUnroutedAndNamesAddedLater() throws {
        let registry = SeriesRegistry()
        let names = NameTable(capacity: 8)
        var json = RecordJSON(registry: registry, names: names)
        var r = RequestRecord()
        r.fields.tsMillis = 0
        r.fields.status = 404
        r.fields.error = .noRoute
        r.method.set("PURGE")
        r.path.set([UInt8]([0x2F, 0xFF, 0x7F]).withUnsafeBytes { String(decoding: $0, as: UTF8.self) })
        var o = try line(r, &json)
        XCTAssertEqual(o["ts"] as? String, "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(o["route"] as? String, "-")
        XCTAssertTrue(o["endpoint"] is NSNull)
        XCTAssertTrue(o["upstream_ms"] is NSNull)
        XCTAssertEqual(o["method"] as? String, "PURGE")
        XCTAssertEqual(o["latency_ms"] as? Double, 0)
        // A series and an endpoint that appear after the writer started.
        let slot = registry.slot(SeriesKey(route: "late", backend: "active", cluster: "c"))!
        _ = names.slot("a:1")
        r.fields.seriesSlot = Int32(slot)
        r.fields.endpointSlot = names.slot("b:2")
        r.fields.error = .none
        r.fields.tsMillis = 1_000_999
        o = try line(r, &json)
        XCTAssertEqual(o["route"] as? String, "late")
        XCTAssertEqual(o["endpoint"] as? String, "b:2")
        XCTAssertTrue(o["error"] is NSNull)
        XCTAssertEqual(o["ts"] as? String, "1970-01-01T00:16:40.999Z")
    }

    func testLongEscapedTextFitsAndSinkGrows() throws {
        var json = RecordJSON(registry: nil)
        var r = RequestRecord()
        let nasty = String(repeating: "\u{1}", count: 200)
        r.path.set(nasty)
        r.requestID.set(nasty)
        r.method.set(nasty)
        var sink = ByteSink(capacity: 64)
        for _ in 0..<100 { json.append(r, to: &sink) }
        let lines = Array(sink.bytes).split(separator: UInt8(ascii: "\n"))
        XCTAssertEqual(lines.count, 100)
        for l in lines {
            let o = try JSONSerialization.jsonObject(with: Data(l)) as! [String: Any]
            XCTAssertEqual((o["path"] as? String)?.count, InlineText128.capacity)  // cut at 128 bytes
        }
    }

    func testNameTableIsStableAndBounded() {
        let t = NameTable(capacity: 2)
        XCTAssertEqual(t.slot("a"), 0)
        XCTAssertEqual(t.slot("b"), 1)
        XCTAssertEqual(t.slot("a"), 0)
        XCTAssertEqual(t.slot("c"), -1)
        XCTAssertEqual(t.names(from: 1), ["b"])
        XCTAssertEqual(t.names(from: 5), [])
    }

    func testRFC3339AcrossDates() {
        for (ms, text): (UInt64, String) in [(951_782_400_000, "2000-02-29T00:00:00.000Z"),
                                              (4_102_444_799_999, "2099-12-31T23:59:59.999Z")] {
            var s = ByteSink(capacity: 8)
            RecordJSON.appendRFC3339(ms, &s)
            XCTAssertEqual(String(decoding: s.bytes, as: UTF8.self), text)
        }
    }
}
