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

    /// Header names are matched 8 bytes at a time with case folding by bit
    /// 0x20: every known name matches in any case, and changing any one of
    /// its bytes to any other tchar makes it unknown.
    func testKnownNamesMatchInAnyCaseAndNothingNearThem() {
        let known: [(String, KnownHeader, String)] = [
            ("te", .te, "x"), ("host", .host, "a"), ("expect", .expect, "x"), ("upgrade", .upgrade, "x"),
            ("trailer", .trailer, "x"), ("connection", .connection, "close"), ("keep-alive", .keepAlive, "x"),
            ("x-request-id", .xRequestID, "x"), ("content-length", .contentLength, "0"),
            ("x-forwarded-for", .xForwardedFor, "x"), ("proxy-connection", .proxyConnection, "x"),
            ("transfer-encoding", .transferEncoding, "chunked"), ("x-forwarded-proto", .xForwardedProto, "x"),
            ("proxy-authenticate", .proxyAuthenticate, "x"), ("proxy-authorization", .proxyAuthorization, "x"),
        ]
        func kind(_ name: [UInt8], _ value: String) -> KnownHeader? {
            let raw = Array("HTTP/1.1 200 OK\r\n".utf8) + name + Array(": \(value)\r\n\r\n".utf8)
            let p = parseResponse(bytes: raw)
            return p.head.h.kinds.first
        }
        for (name, k, value) in known {
            XCTAssertEqual(kind(Array(name.utf8), value), k, name)
            XCTAssertEqual(kind(Array(name.uppercased().utf8), value), k, name.uppercased())
            let mixed = name.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element }
            XCTAssertEqual(kind(Array(String(mixed).utf8), value), k, String(mixed))
            let bytes = Array(name.utf8)
            var checked = 0
            for at in bytes.indices {
                for c in Self.tchars {
                    // The same byte, or the same letter in upper case, still matches.
                    if c == bytes[at] || (c >= 0x41 && c <= 0x5A && c | 0x20 == bytes[at]) { continue }
                    checked += 1
                    var m = bytes
                    m[at] = c
                    XCTAssertEqual(kind(m, "x"), .other, "\(String(decoding: m, as: UTF8.self))")
                }
            }
            XCTAssertGreaterThanOrEqual(checked, bytes.count * (Self.tchars.count - 2), name)
        }
    }
}
