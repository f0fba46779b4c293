/// A strict reader for the admin API's small JSON bodies: one flat object
/// of integer fields. Refuses what a lenient parser would let through and
/// silently change state with: duplicate keys, unknown fields (checked by
/// the caller), non-integers, numbers past UInt32, trailing bytes.
public enum StrictJSON {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case duplicateKey(String)
        case notAnInteger(String)
        case outOfRange(String)

        public var description: String {
            switch self {
            case .malformed(let m): return "malformed JSON: \(m)"
            case .duplicateKey(let k): return "duplicate key \"\(k)\""
            case .notAnInteger(let k): return "\"\(k)\" must be a non-negative integer"
            case .outOfRange(let k): return "\"\(k)\" is too large"
            }
        }
    }

    /// Parses `{"k": 1, ...}` into key -> value, in order of appearance.
    public static func integerObject(_ bytes: [UInt8]) throws -> [(String, UInt64)] {
        var i = 0
        let n = bytes.count
        func ws() { while i < n && (bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D) { i += 1 } }
        func expect(_ c: UInt8, _ what: String) throws {
            ws()
            guard i < n && bytes[i] == c else { throw Failure.malformed("expected \(what)") }
            i += 1
        }
        func string() throws -> String {
            try expect(UInt8(ascii: "\""), "a string")
            var out: [UInt8] = []
            while i < n && bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\") || bytes[i] < 0x20 { throw Failure.malformed("escapes and control characters are not accepted in keys") }
                out.append(bytes[i])
                i += 1
            }
            guard i < n else { throw Failure.malformed("unterminated string") }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }
        var result: [(String, UInt64)] = []
        var seen = Set<String>()
        try expect(UInt8(ascii: "{"), "an object")
        ws()
        if i < n && bytes[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                let key = try string()
                if !seen.insert(key).inserted { throw Failure.duplicateKey(key) }
                try expect(UInt8(ascii: ":"), "':'")
                ws()
                let start = i
                if i < n && bytes[i] == UInt8(ascii: "-") { throw Failure.notAnInteger(key) }
                var v: UInt64 = 0
                while i < n && bytes[i] >= 0x30 && bytes[i] <= 0x39 {
                    let (m, o1) = v.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - 0x30))
                    if o1 || o2 { throw Failure.outOfRange(key) }
                    v = a
                    i += 1
                }
                if i == start { throw Failure.notAnInteger(key) }
                // Leading zeros, fractions and exponents are not integers here.
                if i - start > 1 && bytes[start] == 0x30 { throw Failure.notAnInteger(key) }
                if i < n && (bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")) {
                    throw Failure.notAnInteger(key)
                }
                if v > UInt64(UInt32.max) { throw Failure.outOfRange(key) }
                result.append((key, v))
                ws()
                guard i < n else { throw Failure.malformed("unterminated object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; break }
                throw Failure.malformed("expected ',' or '}'")
            }
        }
        ws()
        if i != n { throw Failure.malformed("trailing bytes after the object") }
        return result
    }
}
