import XCTest
import HTTP1

/// Requests the parser refuses, each with the exact reason and the status
/// the proxy answers with (SPEC §5). Framing attacks are in
/// RequestSmugglingTests; this file is about syntax and limits.
final class MalformedRequestTests: XCTestCase {
    /// RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
    /// single spaces, no HTTP/0.9 (Http11Probe "compliance" request-line tests,
    /// https://mda2av.github.io/Http11Probe/docs/).
    static let requestLine: [Refusal] = [
        Refusal("empty method (line starts with SP)", " / HTTP/1.1\r\nHost: a\r\n\r\n", .badMethod, 400),
        Refusal("method with a non-token byte", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequestLine, 400),
        Refusal("method with NUL", "G\u{0}ET / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequestLine, 400),
        Refusal("method with bare CR", "GE\rT / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequestLine, 400),
        Refusal("tab instead of SP after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", .badRequestLine, 400),
        Refusal("method alone", "GET\r\nHost: a\r\n\r\n", .badRequestLine, 400),
        Refusal("method and SP alone", "GET \r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("two SP after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("two SP before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("SP after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("tab after version", "GET / HTTP/1.1\t\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("bare CR after version", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("HTTP/0.9 request line (no version)", "GET /\r\n\r\n", .badRequestLine, 400),
        Refusal("HTTP/0.9 version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", .unsupportedVersion, 505),
        Refusal("HTTP/2.0 version", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .unsupportedVersion, 505),
        Refusal("HTTP/3.0 version", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", .unsupportedVersion, 505),
        Refusal("HTTP/2 without minor", "GET / HTTP/2\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("lowercase http/1.1", "GET / http/1.1\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("mixed-case Http/1.1", "GET / Http/1.1\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("two-digit minor HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("two-digit major HTTP/11.1", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("comma in version", "GET / HTTP/1,1\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("letter in version", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("HTTPS/1.1", "GET / HTTPS/1.1\r\nHost: a\r\n\r\n", .badVersion, 400),
        Refusal("SP inside target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", .badVersion, 400),
    ]

    /// RFC 9112 §3.2 (request-target forms) and RFC 3986: no whitespace,
    /// controls, raw non-ASCII or fragment; each form only where it belongs.
    static let target: [Refusal] = [
        Refusal("tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("NUL in target", "GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("control byte in target", "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("DEL in target", "GET /a\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("raw UTF-8 in target", "GET /café HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("fragment in target", "GET /page#section HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("bare CR in target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", .bareCR, 400),
        Refusal("asterisk-form for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("asterisk followed by more", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("relative path", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("authority-form for GET", "GET www.example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("absolute-form without //", "GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("absolute-form with empty authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("absolute-form scheme starting with a digit", "GET 1http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT without port", "CONNECT www.example.com HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with empty port", "CONNECT www.example.com: HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with named port", "CONNECT www.example.com:https HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with empty host", "CONNECT :443 HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with a bad host byte", "CONNECT ex\"ample.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with a path", "CONNECT www.example.com:443/x HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with userinfo", "CONNECT user@www.example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
        Refusal("CONNECT with origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", .badTarget, 400),
    ]

    /// RFC 9112 §2.2: only CRLF ends a line; a bare CR is invalid. Bare LF
    /// is a MAY that Sluice declines (Http11Probe "BARE-LF" tests; the
    /// PortSwigger TE.TE variant "X: X[\n]Transfer-Encoding: chunked" is in
    /// RequestSmugglingTests).
    static let lineEndings: [Refusal] = [
        Refusal("bare LF after the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", .bareLF, 400),
        Refusal("bare LF after a field", "GET / HTTP/1.1\r\nHost: a\n\r\n", .bareLF, 400),
        Refusal("bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", .bareLF, 400),
        Refusal("bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n", .bareLF, 400),
        Refusal("bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .bareLF, 400),
        Refusal("bare CR inside a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", .bareCR, 400),
        Refusal("bare CR ending a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", .bareCR, 400),
        Refusal("bare CR as a line end", "GET / HTTP/1.1\r\nX: a\rHost: a\r\n\r\n", .bareCR, 400),
        Refusal("bare CR before a field name", "GET / HTTP/1.1\r\n\rHost: a\r\n\r\n", .badHeaderName, 400),
        Refusal("five empty lines before the request line", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                .tooManyEmptyLines, 400),
    ]

    /// RFC 9112 §5 and RFC 9110 §5.1, §5.5: field-name = token, no
    /// whitespace before the colon, no obs-fold, no whitespace between the
    /// start line and the first field, field values of visible bytes, SP and HTAB.
    static let fields: [Refusal] = [
        Refusal("SP after the start line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .whitespaceAfterStartLine, 400),
        Refusal("HTAB after the start line", "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", .whitespaceAfterStartLine, 400),
        Refusal("obs-fold with SP", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", .obsFold, 400),
        Refusal("obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", .obsFold, 400),
        Refusal("SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", .whitespaceBeforeColon, 400),
        Refusal("HTAB before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", .whitespaceBeforeColon, 400),
        Refusal("SP inside a name", "GET / HTTP/1.1\r\nHost: a\r\nX Y: a\r\n\r\n", .whitespaceBeforeColon, 400),
        Refusal("empty field name", "GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", .badHeaderName, 400),
        Refusal("field line without colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", .badHeaderName, 400),
        Refusal("parenthesis in name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): a\r\n\r\n", .badHeaderName, 400),
        Refusal("quote in name", "GET / HTTP/1.1\r\nHost: a\r\nX\"y: a\r\n\r\n", .badHeaderName, 400),
        Refusal("NUL in name", "GET / HTTP/1.1\r\nHost: a\r\nX\u{0}: a\r\n\r\n", .badHeaderName, 400),
        Refusal("UTF-8 in name", "GET / HTTP/1.1\r\nHost: a\r\nNäme: a\r\n\r\n", .badHeaderName, 400),
        Refusal("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", .badHeaderValue, 400),
        Refusal("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}b\r\n\r\n", .badHeaderValue, 400),
        Refusal("vertical tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0B}b\r\n\r\n", .badHeaderValue, 400),
        Refusal("form feed in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0C}b\r\n\r\n", .badHeaderValue, 400),
        Refusal("ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \u{1B}[31m\r\n\r\n", .badHeaderValue, 400),
        Refusal("SOH in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \u{1}\r\n\r\n", .badHeaderValue, 400),
    ]

    /// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
    /// code to any HTTP/1.1 request message that lacks a Host header field and
    /// to any request message that contains more than one Host header field
    /// line or a Host header field with an invalid field value."
    static let host: [Refusal] = [
        Refusal("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", .missingHost, 400),
        Refusal("missing Host with absolute-form", "GET http://example.com/ HTTP/1.1\r\n\r\n", .missingHost, 400),
        Refusal("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .duplicateHost, 400),
        Refusal("two identical Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", .duplicateHost, 400),
        Refusal("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", .duplicateHost, 400),
        Refusal("SP inside Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .badHost, 400),
        Refusal("slash in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .badHost, 400),
        Refusal("userinfo in Host", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", .badHost, 400),
        Refusal("angle bracket in Host", "GET / HTTP/1.1\r\nHost: <a>\r\n\r\n", .badHost, 400),
        Refusal("query in Host", "GET / HTTP/1.1\r\nHost: a?b\r\n\r\n", .badHost, 400),
        Refusal("fragment in Host", "GET / HTTP/1.1\r\nHost: a#b\r\n\r\n", .badHost, 400),
        Refusal("quote in Host", "GET / HTTP/1.1\r\nHost: \"a\"\r\n\r\n", .badHost, 400),
        Refusal("backslash in Host", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", .badHost, 400),
        Refusal("obs-text in Host", bytes: Array("GET / HTTP/1.1\r\nHost: caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8),
                .badHost, 400),
    ]

    /// RFC 9110 §10.1.1: only 100-continue is defined; anything else is 417.
    static let expect: [Refusal] = [
        Refusal("Expect: foo", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", .unsupportedExpectation, 417),
        Refusal("Expect: 100-continue, foo", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n",
                .unsupportedExpectation, 417),
        Refusal("Expect: 100-continuex", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continuex\r\n\r\n",
                .unsupportedExpectation, 417),
        Refusal("Expect: 200-ok in HTTP/1.0", "PUT / HTTP/1.0\r\nExpect: 200-ok\r\n\r\n", .unsupportedExpectation, 417),
    ]

    /// Limits: 414 for the request line (RFC 9112 §3), 431 for a field line,
    /// the head, or the field count (RFC 6585 §5), with small HeadLimits.
    /// When one line crosses two limits, the first byte to cross one decides.
    static let limits: [Refusal] = [
        Refusal("request line over the limit", request("GET /" + String(repeating: "a", count: 60) + " HTTP/1.1", "Host: a"),
                .requestLineTooLong, 414, limits: smallLimits()),
        Refusal("request line over the default 16 KiB", request("GET /" + String(repeating: "a", count: 16384) + " HTTP/1.1", "Host: a"),
                .requestLineTooLong, 414),
        Refusal("request line over the limit, head not yet complete", "GET /" + String(repeating: "a", count: 70),
                .requestLineTooLong, 414, limits: smallLimits()),
        Refusal("field line over the limit", request("GET / HTTP/1.1", "Host: a", "X: " + String(repeating: "v", count: 62)),
                .headerLineTooLong, 431, limits: smallLimits()),
        Refusal("field line over the limit before its bare LF",
                "GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "v", count: 70) + "\n\r\n",
                .headerLineTooLong, 431, limits: smallLimits()),
        Refusal("head over the limit", request("GET / HTTP/1.1", "Host: a", "A: " + String(repeating: "v", count: 60),
                                               "B: " + String(repeating: "v", count: 60), "C: " + String(repeating: "v", count: 60),
                                               "D: " + String(repeating: "v", count: 60)),
                .headTooLarge, 431, limits: smallLimits(headers: 10)),
        Refusal("head over the limit, not yet complete",
                "GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: 0123456789\r\n", count: 20),
                .headTooLarge, 431, limits: smallLimits(headers: 100)),
        Refusal("request line crossing the head limit first",
                request("GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1", "Host: a"),
                .headTooLarge, 431, limits: smallLimits(head: 100, startLine: 1000)),
        Refusal("too many fields", request("GET / HTTP/1.1", "Host: a", "A: 1", "B: 2", "C: 3", "D: 4"),
                .tooManyHeaders, 431, limits: smallLimits()),
        Refusal("too many fields for the default 128", request("GET / HTTP/1.1", "Host: a", (1...128).map { "X-\($0): v" }.joined(separator: "\r\n")),
                .tooManyHeaders, 431),
    ]

    static var all: [Refusal] { requestLine + target + lineEndings + fields + host + expect + limits }

    func testRequestLine() { assertRequestsRefused(Self.requestLine) }
    func testTarget() { assertRequestsRefused(Self.target) }
    func testLineEndings() { assertRequestsRefused(Self.lineEndings) }
    func testFields() { assertRequestsRefused(Self.fields) }
    func testHost() { assertRequestsRefused(Self.host) }
    func testExpect() { assertRequestsRefused(Self.expect) }
    func testLimits() { assertRequestsRefused(Self.limits) }

    func testCaseNamesAreUnique() {
        let names = (Self.all + RequestSmugglingTests.all).map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
    }
}
