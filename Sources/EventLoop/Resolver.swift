#if canImport(Glibc)
import Glibc
#endif

/// Name resolution with getaddrinfo. It blocks, so it runs at start-up or
/// on the resolver thread, never on a worker.
public enum Resolver {
    /// Addresses for "host:port" (a literal resolves to itself). IPv4 first.
    public static func resolve(host: String, port: UInt16) throws -> [SocketAddress] {
        if let literal = SocketAddress(host: host, port: port) { return [literal] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, let first = res else {
            throw SysError("resolve \(host): \(String(cString: gai_strerror(rc)))", rc)
        }
        defer { freeaddrinfo(first) }
        var v4: [SocketAddress] = [], v6: [SocketAddress] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            if let sa = ai.pointee.ai_addr {
                switch ai.pointee.ai_family {
                case AF_INET:
                    let a = UnsafeRawPointer(sa).load(as: sockaddr_in.self)
                    let s = SocketAddress.v4(a)
                    if !v4.contains(s) { v4.append(s) }
                case AF_INET6:
                    let a = UnsafeRawPointer(sa).load(as: sockaddr_in6.self)
                    let s = SocketAddress.v6(a)
                    if !v6.contains(s) { v6.append(s) }
                default: break
                }
            }
            p = ai.pointee.ai_next
        }
        return v4 + v6
    }
}
