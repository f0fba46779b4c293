#if canImport(Glibc)
import Glibc
#endif

/// A pthread mutex guarding a value, for cold cross-thread paths (task
/// queues, snapshot publication). Chosen over `Synchronization.Mutex`
/// because ThreadSanitizer understands pthread mutexes on Linux and reports
/// false races on `Mutex`.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
