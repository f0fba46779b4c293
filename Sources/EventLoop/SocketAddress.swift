import CSysShim
#if canImport(Glibc)
import Glibc
#endif

/// A numeric IPv4 or IPv6 socket address. Hostnames are resolved elsewhere
/// (off the workers); this type only parses literals.
public enum SocketAddress: Sendable, Equatable, CustomStringConvertible {
    case v4(sockaddr_in)
    case v6(sockaddr_in6)

    /// Parses "1.2.3.4:80", "[::1]:80", "0.0.0.0:0", or ":80" (all IPv4 interfaces).
    public init?(_ text: String) {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }  // bare IPv6 needs brackets
            if host.isEmpty { host = "0.0.0.0" }
        }
        guard let port = UInt16(portText) else { return nil }
        self.init(host: String(host), port: port)
    }

    public init?(host: String, port: UInt16) {
        if host.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { return nil }
            self = .v6(a)
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { return nil }
            self = .v4(a)
        }
    }

    /// 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        switch self {
        case .v4(let a): return UInt32(bigEndian: a.sin_addr.s_addr) >> 24 == 127
        case .v6: return host == "::1"
        }
    }

    public var family: Int32 {
        switch self { case .v4: return AF_INET; case .v6: return AF_INET6 }
    }

    public var port: UInt16 {
        switch self {
        case .v4(let a): return UInt16(bigEndian: a.sin_port)
        case .v6(let a): return UInt16(bigEndian: a.sin6_port)
        }
    }

    public var host: String {
        var buf = [CChar](repeating: 0, count: 64)
        switch self {
        case .v4(var a): inet_ntop(AF_INET, &a.sin_addr, &buf, 64)
        case .v6(var a): inet_ntop(AF_INET6, &a.sin6_addr, &buf, 64)
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        switch self {
        case .v4: return "\(host):\(port)"
        case .v6: return "[\(host)]:\(port)"
        }
    }

    public static func == (l: SocketAddress, r: SocketAddress) -> Bool { l.description == r.description }

    /// Calls `body` with a sockaddr pointer and length for this address.
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .v4(var a):
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .v6(var a):
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
    }

    /// Reads a sockaddr_storage filled by the kernel.
    init?(storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET: self = .v4(UnsafeRawPointer(storage).load(as: sockaddr_in.self))
        case AF_INET6: self = .v6(UnsafeRawPointer(storage).load(as: sockaddr_in6.self))
        default: return nil
        }
    }

    /// The local address a socket is bound to (for port 0 listeners).
    public static func local(of fd: Int32) -> SocketAddress? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &ss) { SocketAddress(storage: $0) }
    }

    /// The peer address of a connected socket.
    public static func peer(of fd: Int32) -> SocketAddress? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) } }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &ss) { SocketAddress(storage: $0) }
    }
}

extension Sys {
    /// A non-blocking listening socket bound to `address`. With `reusePort`,
    /// several workers can each own a listener on the same port and the
    /// kernel spreads connections between them.
    public static func listen(_ address: SocketAddress, backlog: Int32 = 1024, reusePort: Bool = true) throws -> Int32 {
        let fd = sl_tcp_socket(address.family)
        guard fd >= 0 else { throw SysError("socket", errno) }
        _ = sl_set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if reusePort { _ = sl_set_reuseport(fd) }
        if case .v6 = address { _ = sl_set_int_opt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
        let rc = address.withSockAddr { bind(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            throw SysError("bind \(address)", e)
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = errno
            Glibc.close(fd)
            throw SysError("listen \(address)", e)
        }
        return fd
    }

    /// Starts a non-blocking connect. Returns the socket; `inProgress` means
    /// wait for writability, then check `socketError`.
    public static func connect(_ address: SocketAddress) throws -> (fd: Int32, inProgress: Bool) {
        let fd = sl_tcp_socket(address.family)
        guard fd >= 0 else { throw SysError("socket", errno) }
        _ = sl_set_nodelay(fd)
        while true {
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return (fd, false) }
            let e = errno
            if e == SL_EINTR { continue }
            if e == SL_EINPROGRESS { return (fd, true) }
            Glibc.close(fd)
            throw SysError("connect \(address)", e)
        }
    }
}
