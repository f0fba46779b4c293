import HTTP1
#if canImport(Glibc)
import Glibc
#endif

// Parser micro-benchmark: heads parsed per second for a typical ~400-byte
// model-inference request head and for a 30-header head. Run it through
// scripts/parser-bench (release build).

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let typical = """
POST /v1/models/sentiment-v3:predict HTTP/1.1\r
Host: models.internal.example.com\r
User-Agent: model-client/2.4.1 (python-requests)\r
Accept: application/json\r
Accept-Encoding: gzip, deflate\r
Content-Type: application/json\r
Content-Length: 187\r
X-Request-Id: 4f8a2c1e-9b7d-4e3a-8f6c-2d1b0a9e8c7f\r
X-User-Id: user-00412873\r
Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA\r
Connection: keep-alive\r
\r

"""

var many = "GET /v1/models/ranker/versions/7/infer?batch=32&trace=0 HTTP/1.1\r\nHost: ranker.models.svc.cluster.local:8080\r\n"
for i in 0..<29 { many += "X-Custom-Header-\(i): value-\(i)-abcdefghijklmnopqrstuvwxyz0123456789\r\n" }
many += "\r\n"

func bench(_ name: String, _ text: String, seconds: Double) {
    let bytes = Array(text.utf8)
    var parser = RequestParser()
    var head = RequestHead()
    var count = 0
    var fieldsSeen = 0
    let start = monotonicNanos()
    let budget = UInt64(seconds * 1e9)
    bytes.withUnsafeBytes { raw in
        while true {
            for _ in 0..<10_000 {
                parser.reset()
                if case .complete = parser.parse(raw, into: &head) { fieldsSeen &+= head.h.fields.count } else { fatalError("parse failed") }
            }
            count += 10_000
            if monotonicNanos() - start > budget { break }
        }
    }
    let elapsed = Double(monotonicNanos() - start) / 1e9
    let rate = Double(count) / elapsed
    let nsPer = elapsed * 1e9 / Double(count)
    print("\(name): \(bytes.count) bytes, \(head.h.fields.count) fields: \(Int(rate)) heads/s, \(Int(nsPer)) ns/head, \(Int(rate * Double(bytes.count) / 1e6)) MB/s  (check \(fieldsSeen % 7))")
}

let seconds = CommandLine.arguments.count > 1 ? Double(CommandLine.arguments[1]) ?? 2 : 2
bench("typical", typical, seconds: seconds)
bench("30-header", many, seconds: seconds)
