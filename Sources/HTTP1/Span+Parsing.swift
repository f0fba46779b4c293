// Span entry points: the safe API edge over the pointer-based parsers.
extension RequestParser {
    public mutating func parse(_ bytes: Span<UInt8>, into head: inout RequestHead) -> HeadResult {
        bytes.withUnsafeBufferPointer { parse(UnsafeRawBufferPointer($0), into: &head) }
    }
}

extension ResponseParser {
    public mutating func parse(_ bytes: Span<UInt8>, requestMethod: Method, into head: inout ResponseHead) -> HeadResult {
        bytes.withUnsafeBufferPointer { parse(UnsafeRawBufferPointer($0), requestMethod: requestMethod, into: &head) }
    }
}

extension ChunkedDecoder {
    public mutating func next(_ input: Span<UInt8>, at index: inout Int) -> ChunkedEvent {
        input.withUnsafeBufferPointer { next(UnsafeRawBufferPointer($0), at: &index) }
    }
}
