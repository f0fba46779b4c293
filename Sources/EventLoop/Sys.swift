// EventLoop: the only module of Sluice that makes socket and epoll calls.
//
// Why it exists: one place owns every syscall, so errno handling, the
// test seam for injected faults and the non-blocking discipline live once.
// What it must never do: know about HTTP, allocate per event once warm, or
// block a worker thread.
import CSysShim
#if canImport(Glibc)
import Glibc
#endif

/// An errno from a named operation.
public struct SysError: Error, CustomStringConvertible, Equatable, Sendable {
    public let op: String
    public let errno: Int32
    public init(_ op: String, _ errno: Int32) { self.op = op; self.errno = errno }
    public var description: String { "\(op): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// The result of a non-blocking read or write.
public enum IOResult: Equatable, Sendable {
    /// This many bytes moved (> 0).
    case bytes(Int)
    /// The peer closed its side (reads only).
    case eof
    /// Nothing can move now; wait for readiness.
    case wouldBlock
    /// A hard error (ECONNRESET, EPIPE, ...).
    case error(Int32)
}

/// Syscall wrappers: EINTR retried, EAGAIN as `.wouldBlock`, other errno
/// values returned as values. In debug builds every read and write passes
/// through `FaultInjector`, the seam tests use to inject EAGAIN, EINTR,
/// short transfers and resets.
public enum Sys {
    public static func read(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        #if DEBUG
        if let f = FaultInjector.take(.read, fd: fd) {
            switch f {
            case .eagain: return .wouldBlock
            case .eintr: break  // retried below, as a real EINTR would be
            case .reset: return .error(SL_ECONNRESET)
            case .short(let n): return rawRead(fd, p, max(1, min(n, count)))
            }
        }
        #endif
        return rawRead(fd, p, count)
    }

    @inline(__always)
    static func rawRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = Glibc.read(fd, p, count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return count == 0 ? .bytes(0) : .eof }
            let e = errno
            if e == SL_EINTR { continue }
            if e == SL_EAGAIN { return .wouldBlock }
            return .error(e)
        }
    }

    /// Gathers `count` iovecs into one write.
    public static func writev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> IOResult {
        #if DEBUG
        if let f = FaultInjector.take(.write, fd: fd) {
            switch f {
            case .eagain: return .wouldBlock
            case .eintr: break
            case .reset: return .error(SL_EPIPE)
            case .short(let n):
                // Write only the first n bytes of the first iovec.
                var one = iov[0]
                one.iov_len = max(1, min(n, iov[0].iov_len))
                return rawWritev(fd, &one, 1)
            }
        }
        #endif
        return rawWritev(fd, iov, count)
    }

    @inline(__always)
    static func rawWritev(_ fd: Int32, _ iov: UnsafePointer<iovec>, _ count: Int32) -> IOResult {
        while true {
            let n = Glibc.writev(fd, iov, count)
            if n >= 0 { return .bytes(n) }
            let e = errno
            if e == SL_EINTR { continue }
            if e == SL_EAGAIN { return .wouldBlock }
            return .error(e)
        }
    }

    public static func write(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> IOResult {
        var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: p), iov_len: count)
        return writev(fd, &iov, 1)
    }

    public static func close(_ fd: Int32) {
        // EINTR on close must not be retried on Linux: the fd is gone already.
        _ = Glibc.close(fd)
    }

    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Accepts one connection: `.bytes(fd)` carries the new descriptor.
    public static func accept(_ listener: Int32) -> IOResult {
        while true {
            let fd = sl_accept4(listener, nil, nil)
            if fd >= 0 { return .bytes(Int(fd)) }
            let e = errno
            if e == SL_EINTR { continue }
            if e == SL_EAGAIN { return .wouldBlock }
            return .error(e)
        }
    }

    public static func setNoDelay(_ fd: Int32) { _ = sl_set_nodelay(fd) }

    /// Makes the next close send an RST instead of a FIN: a peer reading a
    /// close-delimited body then sees an abort, not a complete message.
    public static func setResetOnClose(_ fd: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }

    /// Sets SO_SNDBUF / SO_RCVBUF (tests use small ones to force partial writes).
    public static func setBufferSizes(_ fd: Int32, send: Int32? = nil, receive: Int32? = nil) {
        if let s = send { _ = sl_set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, s) }
        if let r = receive { _ = sl_set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, r) }
    }

    /// The pending error of a socket (after a non-blocking connect), 0 if none.
    public static func socketError(_ fd: Int32) -> Int32 { sl_socket_error(fd) }

    /// Raises the open-file soft limit to the hard limit; returns it.
    @discardableResult
    public static func raiseFileLimit() -> Int { sl_raise_nofile() }

    public static var cpuCount: Int { Int(sl_cpu_count()) }

    /// Ignore SIGPIPE process-wide: a write to a closed peer must be an EPIPE value.
    public static func ignoreSIGPIPE() { signal(SIGPIPE, SIG_IGN) }
}
