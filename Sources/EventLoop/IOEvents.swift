import CSysShim

/// Readiness reported by epoll, as flags.
public struct IOEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = IOEvents(rawValue: SL_EPOLLIN)
    public static let writable = IOEvents(rawValue: SL_EPOLLOUT)
    /// The peer shut down its writing side.
    public static let readHangup = IOEvents(rawValue: SL_EPOLLRDHUP)
    public static let error = IOEvents(rawValue: SL_EPOLLERR)
    public static let hangup = IOEvents(rawValue: SL_EPOLLHUP)
}

/// What a registration asks epoll for.
public enum Interest: Sendable {
    /// Edge-triggered IN|OUT|RDHUP, registered once for a connection's life
    /// (no epoll_ctl per request). The handler reads until a short read and
    /// writes until EAGAIN.
    case edgeTriggered
    /// Level-triggered readability (listeners, eventfd).
    case readable

    var mask: UInt32 {
        switch self {
        case .edgeTriggered: return SL_EPOLLIN | SL_EPOLLOUT | SL_EPOLLRDHUP | SL_EPOLLET
        case .readable: return SL_EPOLLIN
        }
    }
}
