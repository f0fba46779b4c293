/// Routes in file order; the first whose prefix starts the path wins (SPEC §4).
public struct RouteTable: Sendable {
    public let routes: [Route]

    public init(_ routes: [Route]) { self.routes = routes }

    /// The index of the matching route, or nil (the proxy answers 404).
    /// `path` is the request path bytes (without the query).
    public func match(_ path: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        while i < routes.count {
            let matched = routes[i].prefix.withUnsafeBytes { p -> Bool in
                guard p.count <= path.count else { return false }
                return p.count == 0 || memcmpRaw(p.baseAddress!, path.baseAddress!, p.count)
            }
            if matched { return i }
            i += 1
        }
        return nil
    }

    public func match(_ path: String) -> Int? {
        var p = path
        return p.withUTF8 { match(UnsafeRawBufferPointer($0)) }
    }

    public func index(named name: String) -> Int? { routes.firstIndex { $0.name == name } }
}

@inline(__always)
func memcmpRaw(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}
