import CSysShim
import SluiceCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What a loop's owner implements: it receives readiness for the tokens it
/// registered, expired timers, and the end of each tick. Called only on
/// the loop's thread.
public protocol LoopHandler: AnyObject {
    /// Readiness for a registration. ERR and HUP arrive as readable and
    /// writable too, so whichever side is active observes the error.
    func onEvent(_ token: UInt64, _ events: IOEvents)
    /// A timer armed in `loop.timers` expired.
    func onTimer(_ id: Int)
    /// End of a tick: the place to free slots closed during it (an event
    /// later in the same batch may still name them; its stale generation
    /// makes it drop).
    func onTickEnd()
}

/// One epoll loop, run by one worker thread: wait (timeout = nearest timer),
/// dispatch I/O, expire timers, run tasks posted from other threads, end
/// the tick. Owns a buffer pool and a timer wheel for its handler.
///
/// Thread rules: everything but `execute`, `stop` and `wake` must be called
/// on the loop's thread. The loop is handed to its thread once, at start.
public final class EventLoop: @unchecked Sendable {
    public let epollFD: Int32
    private let wakeFD: Int32
    private let events: UnsafeMutablePointer<sl_event>
    private let maxEvents: Int32 = 256
    private let tasks = Locked<[@Sendable () -> Void]>([])
    /// Set while a wake-up write is outstanding, so posting many tasks costs one write.
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)

    public let pool: BufferPool
    public var timers: TimerWheel
    /// Milliseconds (monotonic, coarse) read once at the start of each tick.
    public private(set) var now: Millis
    /// The longest epoll_wait, so stop and config checks are never far off.
    public var maxWaitMillis: Millis = 1000
    /// Ticks completed (for tests and stats).
    public private(set) var ticks: UInt64 = 0
    /// Called once per tick after tasks, on the loop thread (config snapshot checks).
    public var onTick: (() -> Void)?

    public static let wakeToken = UInt64.max

    public init(bufferSize: Int = 16384, maxBuffers: Int = 1 << 20) throws {
        epollFD = sl_epoll_create()
        guard epollFD >= 0 else { throw SysError("epoll_create1", errno) }
        wakeFD = sl_eventfd()
        guard wakeFD >= 0 else {
            let e = errno
            Sys.close(epollFD)
            throw SysError("eventfd", e)
        }
        events = .allocate(capacity: Int(maxEvents))
        pool = BufferPool(bufferSize: bufferSize, maxBuffers: maxBuffers)
        now = sl_coarse_ms()
        timers = TimerWheel(now: now)
        guard sl_epoll_add(epollFD, wakeFD, SL_EPOLLIN, EventLoop.wakeToken) == 0 else {
            let e = errno
            Sys.close(wakeFD)
            Sys.close(epollFD)
            events.deallocate()
            throw SysError("epoll_ctl(eventfd)", e)
        }
    }

    deinit {
        Sys.close(wakeFD)
        Sys.close(epollFD)
        events.deallocate()
    }

    // MARK: registrations

    public func register(_ fd: Int32, token: UInt64, interest: Interest) throws {
        precondition(token != EventLoop.wakeToken)
        if sl_epoll_add(epollFD, fd, interest.mask, token) != 0 { throw SysError("epoll_ctl(ADD)", errno) }
    }

    public func reregister(_ fd: Int32, token: UInt64, interest: Interest) throws {
        if sl_epoll_mod(epollFD, fd, interest.mask, token) != 0 { throw SysError("epoll_ctl(MOD)", errno) }
    }

    /// Removes `fd` from the interest set (close() alone does it too when no
    /// other descriptor shares the open file).
    public func deregister(_ fd: Int32) { _ = sl_epoll_del(epollFD, fd) }

    // MARK: cross-thread

    /// Runs `task` on the loop's thread at its next tick. Any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        wake()
    }

    /// Interrupts epoll_wait. Any thread.
    public func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            _ = sl_eventfd_signal(wakeFD)
        }
    }

    /// Asks `run` to return after the current tick. Any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    public var isStopping: Bool { stopRequested.load(ordering: .acquiring) }

    // MARK: the loop

    /// Runs until `stop`. Call on the thread that owns this loop.
    public func run<H: LoopHandler>(_ handler: H) {
        while !stopRequested.load(ordering: .relaxed) {
            runOnce(handler)
        }
    }

    /// One tick: wait, dispatch, timers, tasks, tick end.
    public func runOnce<H: LoopHandler>(_ handler: H) {
        now = sl_coarse_ms()
        let hasTasks = wakePending.load(ordering: .relaxed)
        let timeout = hasTasks ? 0 : Int32(timers.timeout(now: now, cap: maxWaitMillis))
        let n = sl_epoll_wait(epollFD, events, maxEvents, timeout)
        now = sl_coarse_ms()
        if n > 0 {
            for i in 0..<Int(n) {
                let token = events[i].data
                if token == EventLoop.wakeToken {
                    _ = sl_eventfd_drain(wakeFD)
                    continue
                }
                var ev = IOEvents(rawValue: events[i].events)
                if !ev.isDisjoint(with: [.error, .hangup]) { ev.formUnion([.readable, .writable]) }
                handler.onEvent(token, ev)
            }
        }
        while let id = timers.popExpired(now: now) {
            handler.onTimer(id)
        }
        runTasks()
        onTick?()
        handler.onTickEnd()
        ticks &+= 1
    }

    private func runTasks() {
        guard wakePending.load(ordering: .acquiring) else { return }
        wakePending.store(false, ordering: .releasing)
        let batch = tasks.withLock { t -> [@Sendable () -> Void] in
            let b = t
            t.removeAll(keepingCapacity: true)
            return b
        }
        for task in batch { task() }
    }
}
