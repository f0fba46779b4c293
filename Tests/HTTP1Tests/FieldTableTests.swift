import HTTP1
import XCTest

/// The field index keeps value semantics although appends skip the
/// per-append uniqueness check: a head copied out before the next parse
/// keeps its fields.
final class FieldTableTests: XCTestCase {
    func testACopyKeepsItsFieldsWhenTheParserMovesOn() {
        var parser = RequestParser()
        var head = RequestHead(capacity: 2)
        let first = Array("GET /a HTTP/1.1\r\nHost: one\r\nX-A: 1\r\nX-B: 2\r\n\r\n".utf8)
        let second = Array("GET /bb HTTP/1.1\r\nHost: twoo\r\n\r\n".utf8)
        XCTAssertEqual(first.withUnsafeBytes { parser.parse($0, into: &head) }, .complete(first.count))
        let kept = head  // a caller holding the first head
        parser.reset()
        XCTAssertEqual(second.withUnsafeBytes { parser.parse($0, into: &head) }, .complete(second.count))
        XCTAssertEqual(head.h.fields.count, 1)
        XCTAssertEqual(kept.h.fields.count, 3, "grew past its capacity of 2 and kept all three")
        XCTAssertEqual(kept.h.kinds.map { $0 }, [.host, .other, .other])
        XCTAssertEqual(String(decoding: first[kept.h.fields[2].nameRange], as: UTF8.self), "X-B")
        XCTAssertEqual(String(decoding: second[head.h.fields[0].valueRange], as: UTF8.self), "twoo")
        XCTAssertEqual(String(decoding: first[kept.h.fields[0].valueRange], as: UTF8.self), "one", "the copy's fields were overwritten")
    }

    func testAppendAndResetReuseStorage() {
        var t = FieldTable<Int>(capacity: 1)
        for k in 0..<100 { t.append(k) }
        XCTAssertEqual(Array(t), Array(0..<100))
        t.reset()
        XCTAssertTrue(t.isEmpty)
        t.append(7)
        XCTAssertEqual(Array(t), [7])
        XCTAssertEqual(t, { var u = FieldTable<Int>(capacity: 4); u.append(7); return u }())
    }
}
