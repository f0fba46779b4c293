import SluiceCore

/// The syscall seam for tests (debug builds only): queue faults for the
/// next reads or writes on a descriptor, and `Sys` applies them before the
/// real call. Release builds compile the checks out.
public enum FaultInjector {
    public enum Op: Sendable { case read, write }
    public enum Fault: Sendable, Equatable {
        case eagain
        case eintr
        case reset
        /// Move at most this many bytes.
        case short(Int)
    }

    struct Key: Hashable { let op: Op; let fd: Int32 }
    static let queued = Locked<[Key: [Fault]]>([:])
    static let armed = Locked<Bool>(false)

    /// Queues faults to apply, in order, to the next operations of `op` on `fd`.
    public static func inject(_ faults: [Fault], _ op: Op, fd: Int32) {
        queued.withLock { $0[Key(op: op, fd: fd), default: []].append(contentsOf: faults) }
        armed.withLock { $0 = true }
    }

    public static func clear() {
        queued.withLock { $0.removeAll() }
        armed.withLock { $0 = false }
    }

    static func take(_ op: Op, fd: Int32) -> Fault? {
        guard armed.withLock({ $0 }) else { return nil }
        return queued.withLock { q -> Fault? in
            let k = Key(op: op, fd: fd)
            guard var list = q[k], !list.isEmpty else { return nil }
            let f = list.removeFirst()
            q[k] = list.isEmpty ? nil : list
            return f
        }
    }
}
