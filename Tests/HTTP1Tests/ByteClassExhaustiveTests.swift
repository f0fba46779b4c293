import HTTP1
import XCTest

/// Every byte value in a field name and at every offset of a field value
/// (the value check reads 8 bytes at a time, so offsets 0-23 cross word
/// boundaries), against the RFC's character classes written out plainly.
final class ByteClassExhaustiveTests: XCTestCase {
    /// tchar (RFC 9110 §5.6.2), spelled out.
    private static let tchars = Set(Array("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8))

    func testEveryByteInAFieldName() {
        for c in 0...255 {
            let b = UInt8(c)
            // Line structure and the colon (then "Y: v" is the value) are covered elsewhere.
            if b == 0x0D || b == 0x0A || b == UInt8(ascii: ":") { continue }
            var raw = Array("GET / HTTP/1.1\r\nHost: a\r\nX".utf8)
            raw.append(b)
            raw += Array("Y: v\r\n\r\n".utf8)
            let p = parseRequest(bytes: raw)
            if Self.tchars.contains(b) {
                XCTAssertNil(p.error, "byte \(c) is a tchar")
                XCTAssertEqual(p.head.h.fields.count, 2, "byte \(c)")
            } else {
                XCTAssertNotNil(p.error, "byte \(c) is not a tchar")
            }
        }
    }

    func testEveryByteAtEveryOffsetOfAFieldValue() {
        for offset in 0..<24 {
            for c in 0...255 {
                let b = UInt8(c)
                var value = Array(repeating: UInt8(ascii: "v"), count: 30)
                value[offset] = b
                let raw = Array("GET / HTTP/1.1\r\nHost: a\r\nX-V: ".utf8) + value + Array("\r\nX-W: w\r\n\r\n".utf8)
                let p = parseRequest(bytes: raw)
                let allowed = b == 0x09 || (b >= 0x20 && b != 0x7F)  // RFC 9110 §5.5 (obs-text included)
                if allowed {
                    XCTAssertNil(p.error, "byte \(c) at \(offset)")
                    XCTAssertEqual(p.value("x-w"), "w", "byte \(c) at \(offset)")
                    XCTAssertEqual(p.fields.count, 3)
                } else {
                    XCTAssertNotNil(p.error, "byte \(c) at \(offset)")
                    if b == 0x0D { XCTAssertEqual(p.error, .bareCR, "at \(offset)") }
                }
            }
        }
    }
}
