import CSysShim
#if canImport(Glibc)
import Glibc
#endif

/// A pthread running one closure: the worker threads of the data plane.
/// Not Foundation's Thread: the data plane does not link Foundation.
public final class WorkerThread: @unchecked Sendable {
    private var tid = pthread_t()
    public let name: String

    private final class Box {
        let body: @Sendable () -> Void
        let name: String
        let cpu: Int?
        init(_ body: @escaping @Sendable () -> Void, name: String, cpu: Int?) {
            self.body = body
            self.name = name
            self.cpu = cpu
        }
    }

    /// Starts a thread named `name` (at most 15 bytes are kept), pinned to
    /// `cpu` when given, running `body`.
    public init(name: String, cpu: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        self.name = name
        let box = Unmanaged.passRetained(Box(body, name: name, cpu: cpu)).toOpaque()
        let rc = pthread_create(&tid, nil, { raw in
            // The retained box is the thread's only context; it is released here.
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            _ = sl_set_thread_name(String(box.name.prefix(15)))
            if let cpu = box.cpu { _ = sl_pin_current_thread(Int32(cpu)) }
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    /// Waits for the thread to end.
    public func join() { pthread_join(tid, nil) }

    /// Starts a thread nobody will join: its resources go back when it ends.
    public static func detached(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = WorkerThread(name: name, body)
        pthread_detach(t.tid)
    }

    /// Pins the calling thread to `cpu`.
    public static func pinCurrent(to cpu: Int) -> Bool { sl_pin_current_thread(Int32(cpu)) == 0 }
}

/// N loops on N threads: the thread-per-core shape of the data plane. Each
/// worker builds its own handler on its own thread (so everything the
/// handler owns is created where it lives) and runs its loop until stopped.
public final class WorkerGroup: @unchecked Sendable {
    public let loops: [EventLoop]
    private var threads: [WorkerThread] = []

    /// Defaults to one worker per CPU available to the process.
    public init(count: Int = Sys.cpuCount, bufferSize: Int = 16384) throws {
        var loops: [EventLoop] = []
        for _ in 0..<max(1, count) { loops.append(try EventLoop(bufferSize: bufferSize)) }
        self.loops = loops
    }

    /// Starts every worker. `makeHandler(index, loop)` runs on the worker's
    /// thread; `pin` pins worker i to CPU i modulo the CPU count.
    public func start<H: LoopHandler & SendableMetatype>(pin: Bool = false, name: String = "worker",
                                      _ makeHandler: @escaping @Sendable (Int, EventLoop) -> H) {
        let cpus = Sys.cpuCount
        for (i, loop) in loops.enumerated() {
            threads.append(WorkerThread(name: "\(name)-\(i)", cpu: pin ? i % cpus : nil) {
                let handler = makeHandler(i, loop)
                loop.run(handler)
                withExtendedLifetime(handler) {}
            })
        }
    }

    /// Asks every loop to stop and waits for the threads.
    public func stopAndJoin() {
        for l in loops { l.stop() }
        for t in threads { t.join() }
        threads.removeAll()
    }
}
