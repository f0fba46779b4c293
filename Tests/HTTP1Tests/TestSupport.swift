import XCTest
import HTTP1

// Small helpers shared by the HTTP1 tests. Inputs are written as Swift
// strings: their UTF-8 bytes are exactly what is written ("\r\n" stays two
// bytes), so every CR, LF, tab and NUL in a test is visible in its source.

/// A request head parsed from one buffer, kept together with that buffer so
/// the head's ranges can be read back as text.
struct ParsedRequest {
    let bytes: [UInt8]
    let result: HeadResult
    let head: RequestHead

    var error: HTTPParseError? {
        if case .error(let e) = result { return e }
        return nil
    }
    var method: String { text(head.methodRange) }
    var target: String { text(head.target) }
    var path: String { text(head.path) }
    var fields: [Field] { fieldList(head.h, bytes) }
    /// The value of the first field named `name` (ASCII case-insensitive).
    func value(_ name: String) -> String? { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
    func text(_ r: Range<Int>) -> String { decode(bytes[r]) }
}

/// A response head parsed from one buffer.
struct ParsedResponse {
    let bytes: [UInt8]
    let result: HeadResult
    let head: ResponseHead

    var error: HTTPParseError? {
        if case .error(let e) = result { return e }
        return nil
    }
    var reason: String { decode(bytes[head.reason]) }
    var fields: [Field] { fieldList(head.h, bytes) }
    func value(_ name: String) -> String? { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
}

/// One header field as text, for comparisons.
struct Field: Equatable, CustomStringConvertible {
    let name: String
    let value: String
    init(_ name: String, _ value: String) { self.name = name; self.value = value }
    var description: String { "\(name): \(value)" }
}

func fieldList(_ h: HeadFields, _ bytes: [UInt8]) -> [Field] {
    h.fields.map { Field(decode(bytes[$0.nameRange]), decode(bytes[$0.valueRange])) }
}

/// Bytes as text; obs-text and other non-UTF-8 bytes become U+FFFD.
func decode(_ b: ArraySlice<UInt8>) -> String { String(decoding: b, as: UTF8.self) }

func parseRequest(_ s: String, limits: HeadLimits = HeadLimits()) -> ParsedRequest {
    parseRequest(bytes: Array(s.utf8), limits: limits)
}

func parseRequest(bytes: [UInt8], limits: HeadLimits = HeadLimits()) -> ParsedRequest {
    var parser = RequestParser(limits: limits)
    var head = RequestHead()
    let result = bytes.withUnsafeBytes { parser.parse($0, into: &head) }
    return ParsedRequest(bytes: bytes, result: result, head: head)
}

func parseResponse(_ s: String, method: HTTP1.Method = .get, limits: HeadLimits = HeadLimits()) -> ParsedResponse {
    parseResponse(bytes: Array(s.utf8), method: method, limits: limits)
}

func parseResponse(bytes: [UInt8], method: HTTP1.Method = .get, limits: HeadLimits = HeadLimits()) -> ParsedResponse {
    var parser = ResponseParser(limits: limits)
    var head = ResponseHead()
    let result = bytes.withUnsafeBytes { parser.parse($0, requestMethod: method, into: &head) }
    return ParsedResponse(bytes: bytes, result: result, head: head)
}

/// What a chunked decoder made of a body fed to it in pieces.
struct Decoded: Equatable {
    /// The data runs, concatenated.
    var data: [UInt8] = []
    /// The last event: `.end`, `.error`, or `.needMore` when the input ran out.
    var last: ChunkedEvent = .needMore
    /// Bytes consumed over all pieces (for `.end`: the offset just past the body).
    var consumed = 0
    var bodyBytes: Int64 = 0
}

/// Feeds `pieces` one after another to a fresh decoder, stopping at the end
/// or at an error, and checks that each data run lies within its piece.
func decodeChunked(pieces: [[UInt8]], decoder: ChunkedDecoder = ChunkedDecoder(),
                   file: StaticString = #filePath, line: UInt = #line) -> Decoded {
    var d = decoder
    var out = Decoded()
    var offset = 0
    pieceLoop: for piece in pieces {
        var i = 0
        while true {
            let before = i
            let event = piece.withUnsafeBytes { d.next($0, at: &i) }
            switch event {
            case .data(let start, let count):
                XCTAssert(start >= before && count > 0 && start + count == i && i <= piece.count,
                          "data run \(start)+\(count) outside [\(before), \(i)]", file: file, line: line)
                out.data += piece[start..<start + count]
            case .needMore:
                XCTAssertEqual(i, piece.count, "needMore before the piece was used up", file: file, line: line)
                out.last = .needMore
                offset += piece.count
                continue pieceLoop
            case .end, .error:
                out.last = event
                out.consumed = offset + i
                out.bodyBytes = d.bodyBytes
                return out
            }
        }
    }
    out.consumed = offset
    out.bodyBytes = d.bodyBytes
    return out
}

func decodeChunked(_ body: String, decoder: ChunkedDecoder = ChunkedDecoder(),
                   file: StaticString = #filePath, line: UInt = #line) -> Decoded {
    decodeChunked(pieces: [Array(body.utf8)], decoder: decoder, file: file, line: line)
}

/// A malformed input and the refusal it must get.
struct Refusal {
    let name: String
    let input: [UInt8]
    let error: HTTPParseError
    let status: Int
    var limits = HeadLimits()

    init(_ name: String, _ input: String, _ error: HTTPParseError, _ status: Int, limits: HeadLimits = HeadLimits()) {
        self.init(name, bytes: Array(input.utf8), error, status, limits: limits)
    }

    init(_ name: String, bytes: [UInt8], _ error: HTTPParseError, _ status: Int, limits: HeadLimits = HeadLimits()) {
        self.name = name
        self.input = bytes
        self.error = error
        self.status = status
        self.limits = limits
    }
}

/// Asserts that each request in `cases` is refused with exactly its error and status.
func assertRequestsRefused(_ cases: [Refusal], file: StaticString = #filePath, line: UInt = #line) {
    var names = Set<String>()
    for c in cases {
        XCTAssert(names.insert(c.name).inserted, "duplicate case name \(c.name)", file: file, line: line)
        let p = parseRequest(bytes: c.input, limits: c.limits)
        XCTAssertEqual(p.result, .error(c.error), "[\(c.name)]", file: file, line: line)
        XCTAssertEqual(c.error.status, c.status, "[\(c.name)] status", file: file, line: line)
    }
}

/// Asserts that each response in `cases` is refused with exactly its error
/// (the proxy answers any of them with 502; `status` is the error's own mapping).
func assertResponsesRefused(_ cases: [Refusal], method: HTTP1.Method = .get,
                            file: StaticString = #filePath, line: UInt = #line) {
    var names = Set<String>()
    for c in cases {
        XCTAssert(names.insert(c.name).inserted, "duplicate case name \(c.name)", file: file, line: line)
        let p = parseResponse(bytes: c.input, method: method, limits: c.limits)
        XCTAssertEqual(p.result, .error(c.error), "[\(c.name)]", file: file, line: line)
        XCTAssertEqual(c.error.status, c.status, "[\(c.name)] status", file: file, line: line)
    }
}

/// Asserts that each chunked body in `cases` is refused by the decoder.
func assertBodiesRefused(_ cases: [Refusal], decoder: ChunkedDecoder = ChunkedDecoder(),
                         file: StaticString = #filePath, line: UInt = #line) {
    var names = Set<String>()
    for c in cases {
        XCTAssert(names.insert(c.name).inserted, "duplicate case name \(c.name)", file: file, line: line)
        let d = decodeChunked(pieces: [c.input], decoder: decoder, file: file, line: line)
        XCTAssertEqual(d.last, .error(c.error), "[\(c.name)]", file: file, line: line)
        XCTAssertEqual(c.error.status, c.status, "[\(c.name)] status", file: file, line: line)
    }
}

/// A request head with `Host` and the given extra field lines, ending the head.
func request(_ startLine: String = "GET / HTTP/1.1", _ lines: String...) -> String {
    startLine + "\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
}

/// Small limits, to reach every limit with short inputs.
func smallLimits(head: Int = 256, startLine: Int = 64, fieldLine: Int = 64, headers: Int = 4) -> HeadLimits {
    HeadLimits(maxHeadBytes: head, maxStartLineBytes: startLine, maxFieldLineBytes: fieldLine, maxHeaders: headers)
}
