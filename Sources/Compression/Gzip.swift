// Compression: streaming gzip over the system zlib.
//
// Why it exists: /metrics is gzipped when the scraper asks, and the monitor
// push sends gzip batches. What it must never do: allocate per chunk on a
// hot path (one z_stream per stream, created only when gzip is negotiated).
import CZlib

public enum GzipError: Error, Equatable {
    case initFailed(Int32)
    case streamError(Int32)
    case truncated
}

/// A streaming gzip compressor. Feed input in pieces; `finish` flushes.
/// Owns its z_stream; not thread-safe.
public final class GzipCompressor {
    private var stream = z_stream()

    public init(level: Int32 = 6) throws {
        // windowBits 15 + 16 selects the gzip wrapper (deflateInit2 is a
        // macro; call the function it expands to).
        let rc = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw GzipError.initFailed(rc) }
    }

    deinit { deflateEnd(&stream) }

    /// Starts a new gzip member on the same stream (keeps its buffers: no
    /// re-allocation per batch).
    public func reset() throws {
        let rc = deflateReset(&stream)
        guard rc == Z_OK else { throw GzipError.streamError(rc) }
    }

    /// Compresses `input`, appending output to `out`.
    public func compress(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) throws {
        try run(input, flush: Z_NO_FLUSH, into: &out)
    }

    /// Ends the stream, appending the remaining output and the gzip trailer.
    public func finish(into out: inout [UInt8]) throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, into: &out)
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, into out: inout [UInt8]) throws {
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let (rc, produced) = chunk.withUnsafeMutableBufferPointer { buf -> (Int32, Int) in
                stream.next_out = buf.baseAddress
                stream.avail_out = uInt(buf.count)
                let rc = deflate(&stream, flush)
                return (rc, buf.count - Int(stream.avail_out))
            }
            if rc == Z_STREAM_ERROR { throw GzipError.streamError(rc) }
            out.append(contentsOf: chunk[0..<produced])
            if flush == Z_FINISH { if rc == Z_STREAM_END { return } }
            else if stream.avail_in == 0 && stream.avail_out != 0 { return }
        }
    }

    /// Compresses a whole buffer in one call.
    public static func compress(_ input: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        let c = try GzipCompressor(level: level)
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 + 64)
        try input.withUnsafeBytes { try c.compress($0, into: &out) }
        try c.finish(into: &out)
        return out
    }
}

/// Inflates a gzip (or zlib) stream, as a whole buffer.
public enum Gunzip {
    public static func decompress(_ input: [UInt8]) throws -> [UInt8] {
        var s = z_stream()
        // 15 + 32: detect gzip or zlib wrappers automatically.
        let rc0 = inflateInit2_(&s, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc0 == Z_OK else { throw GzipError.initFailed(rc0) }
        defer { inflateEnd(&s) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        return try input.withUnsafeBytes { inBuf -> [UInt8] in
            s.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress?.assumingMemoryBound(to: Bytef.self))
            s.avail_in = uInt(inBuf.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { buf -> (Int32, Int) in
                    s.next_out = buf.baseAddress
                    s.avail_out = uInt(buf.count)
                    let rc = inflate(&s, Z_NO_FLUSH)
                    return (rc, buf.count - Int(s.avail_out))
                }
                out.append(contentsOf: chunk[0..<produced])
                if rc == Z_STREAM_END { return out }
                if rc != Z_OK { throw GzipError.streamError(rc) }
                if s.avail_in == 0 && produced == 0 { throw GzipError.truncated }
            }
        }
    }
}

public enum Gzip {
    /// The linked zlib's version string.
    public static var libraryVersion: String { String(cString: zlibVersion()) }
}
