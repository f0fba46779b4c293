// Monitor: ships per-request records to the model monitor (SPEC §7 push)
// and to the access log, off the request path.
//
// Why it exists: the canary judge needs every record, but a slow or dead
// monitor must never slow the proxy. Workers only push into their rings;
// this module's thread does all the formatting, compression and I/O.
// What it must never do: block a worker or hold records without bound.
import Compression
import CSysShim
import EventLoop
import HTTP1
import SluiceCore
import Synchronization
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// Where and how to push (a copy of `monitor.push`).
public struct PushTarget: Sendable {
    public var url: String
    public var intervalMillis: Millis
    public var batchMax: Int
    public var gzip: Bool
    /// Batches waiting for delivery at most; beyond, the oldest is dropped.
    public var maxQueuedBatches: Int

    public init(url: String, intervalMillis: Millis = 5000, batchMax: Int = 5000, gzip: Bool = true, maxQueuedBatches: Int = 20) {
        self.url = url
        self.intervalMillis = intervalMillis
        self.batchMax = batchMax
        self.gzip = gzip
        self.maxQueuedBatches = maxQueuedBatches
    }
}

/// Drains the workers' record rings on a thread of its own: JSON lines to
/// the access log (a file or stdout) and batches POSTed to the monitor
/// with retry and backoff. Every record is delivered or counted dropped.
public final class MonitorExporter: @unchecked Sendable {
    private let telemetry: Telemetry
    private let push: PushTarget?
    private let accessLogPath: String?
    private let loop: EventLoop
    private var thread: WorkerThread?
    /// Records taken from the rings.
    public let collected = Atomic<UInt64>(0)
    /// Records the monitor acknowledged (2xx).
    public let delivered = Atomic<UInt64>(0)
    /// Records dropped by the exporter (queue overflow), rings' drops not included.
    public let droppedByExporter = Atomic<UInt64>(0)
    public let pushAttempts = Atomic<UInt64>(0)
    /// Records sealed into batches and waiting for delivery.
    public let queued = Atomic<UInt64>(0)
    /// Records in the batch being filled.
    public let filling = Atomic<UInt64>(0)

    public init(telemetry: Telemetry, push: PushTarget?, accessLog: String?) throws {
        self.telemetry = telemetry
        self.push = push
        self.accessLogPath = accessLog
        loop = try EventLoop(bufferSize: 16384, maxBuffers: 64)
    }

    /// Records dropped anywhere (rings and exporter), as exported in
    /// `sluice_monitor_records_dropped_total`.
    public var dropped: UInt64 {
        droppedByExporter.load(ordering: .relaxed) + telemetry.rings.reduce(0) { $0 + $1.dropped.load(ordering: .relaxed) }
    }

    public func start() throws {
        var logFD: Int32 = -1
        if let p = accessLogPath {
            if p == "stdout" { logFD = 1 } else {
                logFD = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                guard logFD >= 0 else { throw SysError("open access log \(p)", errno) }
            }
        }
        var target: (SocketAddress, String, String)?
        if let p = push {
            guard let parsed = parseURL(p.url) else { throw SysError("bad monitor.push.url \(p.url)", 0) }
            let addr = try Resolver.resolve(host: parsed.host, port: parsed.port).first
            guard let a = addr else { throw SysError("cannot resolve \(parsed.host)", 0) }
            target = (a, parsed.hostHeader, parsed.path)
        }
        let worker = ExporterLoop(owner: self, loop: loop, logFD: logFD, target: target)
        let loop = self.loop
        thread = WorkerThread(name: "sluice-monitor") {
            worker.begin()
            loop.run(worker)
            worker.finish()
        }
    }

    /// Flushes what is collected (one last drain and push attempt) and stops.
    public func stop() {
        loop.stop()
        thread?.join()
        thread = nil
    }

    var telemetryRef: Telemetry { telemetry }
    var pushTarget: PushTarget? { push }

    struct ParsedURL { var host: String; var port: UInt16; var path: String; var hostHeader: String }

    func parseURL(_ url: String) -> ParsedURL? {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        var host = authority, port: UInt16 = 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { guard let p = UInt16(after.dropFirst()) else { return nil }; port = p }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = UInt16(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        return ParsedURL(host: host, port: port, path: path, hostHeader: authority)
    }
}

/// The exporter's loop handler: a 50 ms tick drains the rings; one HTTP
/// connection to the monitor carries batches one at a time. Built on the
/// starting thread, then used only on the exporter thread.
final class ExporterLoop: LoopHandler, @unchecked Sendable {
    unowned let owner: MonitorExporter
    let loop: EventLoop
    let logFD: Int32
    let target: (addr: SocketAddress, host: String, path: String)?
    var json: RecordJSON
    var logBuffer = ByteSink()
    /// The batch being filled, and how many records it holds.
    var batch = ByteSink()
    var batchCount = 0
    var batchStarted: Millis = 0
    /// Sealed batches waiting for delivery (payload, records, gzipped).
    var queue: [([UInt8], Int, Bool)] = []
    var backoff: Millis = 0
    var nextAttempt: Millis = 0
    var client = PushClient()
    /// One deflate stream for every batch (reset between them), level 1:
    /// JSON lines still shrink several-fold at a fraction of level 6's CPU.
    let compressor = try? GzipCompressor(level: 1)

    static let tickTimer = 1
    static let clientTimer = 2

    init(owner: MonitorExporter, loop: EventLoop, logFD: Int32, target: (SocketAddress, String, String)?) {
        self.owner = owner
        self.loop = loop
        self.logFD = logFD
        self.target = target.map { (addr: $0.0, host: $0.1, path: $0.2) }
        json = RecordJSON(registry: owner.telemetryRef.registry)
    }

    func begin() {
        batchStarted = loop.now
        loop.timers.arm(ExporterLoop.tickTimer, at: loop.now + 50)
    }

    func finish() {
        tick()
        writeLog()
        // A last synchronous-ish chance: seal what is left; undelivered
        // batches count as dropped (the process is going away).
        seal()
        for (_, n, _) in queue {
            owner.queued.subtract(UInt64(n), ordering: .relaxed)
            owner.droppedByExporter.add(UInt64(n), ordering: .relaxed)
        }
        queue.removeAll()
        client.close()
        if logFD > 2 { close(logFD) }
    }

    func onEvent(_ token: UInt64, _ events: IOEvents) {
        guard token == PushClient.token else { return }
        switch client.onEvent(events) {
        case .pending: break
        case .done(let ok): completed(ok)
        }
    }

    func onTimer(_ id: Int) {
        if id == ExporterLoop.tickTimer {
            tick()
            loop.timers.arm(ExporterLoop.tickTimer, at: loop.now + 50)
        } else if id == ExporterLoop.clientTimer, client.busy {
            client.close()
            completed(false)
        }
    }

    func onTickEnd() {}

    /// Drains the rings into the access log and the current batch.
    func tick() {
        for ring in owner.telemetryRef.rings {
            let n = ring.drain { r in
                if target != nil {
                    let start = batch.count
                    json.append(r, to: &batch)
                    if logFD >= 0 { logBuffer.append(UnsafeRawBufferPointer(rebasing: batch.bytes[start...])) }
                    batchCount += 1
                    if batchCount >= owner.pushTarget!.batchMax { seal() }
                } else if logFD >= 0 {
                    json.append(r, to: &logBuffer)
                }
            }
            owner.filling.store(UInt64(batchCount), ordering: .relaxed)
            owner.collected.add(UInt64(n), ordering: .relaxed)
        }
        writeLog()
        if let p = owner.pushTarget, batchCount > 0, loop.now - batchStarted >= p.intervalMillis { seal() }
        if batchCount == 0 { batchStarted = loop.now }
        sendNext()
    }

    private func writeLog() {
        var off = 0
        while off < logBuffer.count {
            let n = write(logFD, logBuffer.base + off, logBuffer.count - off)
            if n <= 0 { break }
            off += n
        }
        logBuffer.removeAll()
    }

    /// Closes the current batch (gzip when configured) into the bounded queue.
    private func seal() {
        guard batchCount > 0, let p = owner.pushTarget else { return }
        var payload: [UInt8] = []
        var gzipped = false
        if p.gzip, let z = compressor {
            payload.reserveCapacity(batch.count / 4 + 64)
            gzipped = (try? z.reset()) != nil && (try? z.compress(batch.bytes, into: &payload)) != nil
                && (try? z.finish(into: &payload)) != nil
        }
        if !gzipped { payload = Array(batch.bytes) }  // not asked for, or zlib failed: send it plain
        queue.append((payload, batchCount, gzipped))
        owner.queued.add(UInt64(batchCount), ordering: .relaxed)
        batch.removeAll()
        batchCount = 0
        owner.filling.store(0, ordering: .relaxed)
        batchStarted = loop.now
        while queue.count > p.maxQueuedBatches {
            // The oldest batch gives way; its records are counted as dropped.
            let (_, n, _) = queue.removeFirst()
            owner.queued.subtract(UInt64(n), ordering: .relaxed)
            owner.droppedByExporter.add(UInt64(n), ordering: .relaxed)
        }
    }

    private func sendNext() {
        guard let t = target, !client.busy, let (payload, _, gzipped) = queue.first, loop.now >= nextAttempt else { return }
        var head = "POST \(t.path) HTTP/1.1\r\nHost: \(t.host)\r\nContent-Type: application/x-ndjson\r\n"
        if gzipped { head += "Content-Encoding: gzip\r\n" }
        head += "Content-Length: \(payload.count)\r\nUser-Agent: sluice-monitor\r\n\r\n"
        owner.pushAttempts.add(1, ordering: .relaxed)
        loop.timers.arm(ExporterLoop.clientTimer, at: loop.now + 5000)
        // On loopback the answer can arrive before send() returns: handle it then.
        if case .done(let ok) = client.send(Array(head.utf8) + payload, to: t.addr, loop: loop) { completed(ok) }
    }

    private func completed(_ ok: Bool) {
        loop.timers.cancel(ExporterLoop.clientTimer)
        if ok, !queue.isEmpty {
            let (_, n, _) = queue.removeFirst()
            owner.queued.subtract(UInt64(n), ordering: .relaxed)
            owner.delivered.add(UInt64(n), ordering: .relaxed)
            backoff = 0
            nextAttempt = 0
            sendNext()
        } else {
            // Exponential backoff, 100 ms to 30 s.
            backoff = backoff == 0 ? 100 : min(backoff * 2, 30_000)
            nextAttempt = loop.now + backoff
        }
    }
}

/// A minimal HTTP/1.1 client on the event loop: one request at a time over
/// a kept-alive connection; a 2xx answer is success.
struct PushClient {
    static let token: UInt64 = 7
    var fd: Int32 = -1
    var connecting = false
    var busy = false
    var out: [UInt8] = []
    var written = 0
    var input: [UInt8] = []
    var parser = ResponseParser()
    var head = ResponseHead()
    var reusable = false

    enum Outcome { case pending, done(Bool) }

    /// Starts a request. `.done` when it already finished (or failed) here.
    mutating func send(_ request: [UInt8], to addr: SocketAddress, loop: EventLoop) -> Outcome {
        busy = true
        out = request
        written = 0
        input.removeAll(keepingCapacity: true)
        parser.reset()
        if fd < 0 || !reusable {
            close()
            guard let (s, inProgress) = try? Sys.connect(addr) else { busy = false; return .done(false) }
            fd = s
            connecting = inProgress
            if (try? loop.register(fd, token: PushClient.token, interest: .edgeTriggered)) == nil { close(); busy = false; return .done(false) }
            if inProgress { return .pending }
        }
        return onEvent([.writable])
    }

    mutating func onEvent(_ events: IOEvents) -> Outcome {
        guard busy, fd >= 0 else { return .pending }
        if connecting {
            guard events.contains(.writable) else { return .pending }
            if Sys.socketError(fd) != 0 { return fail() }
            connecting = false
        }
        while written < out.count {
            let r = out.withUnsafeBytes { Sys.write(fd, $0.baseAddress! + written, $0.count - written) }
            switch r {
            case .bytes(let n): written += n
            case .wouldBlock: return .pending
            default: return fail()
            }
        }
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let r = buf.withUnsafeMutableBytes { Sys.read(fd, $0.baseAddress!, $0.count) }
            switch r {
            case .bytes(let n):
                input.append(contentsOf: buf[0..<n])
            case .wouldBlock:
                return check()
            case .eof:
                reusable = false
                if case .done(let ok) = check(final: true) { return .done(ok) }
                return fail()
            case .error:
                return fail()
            }
        }
    }

    /// A complete response (head and body) ends the request.
    private mutating func check(final: Bool = false) -> Outcome {
        let r = input.withUnsafeBytes { parser.parse($0, requestMethod: .post, into: &head) }
        guard case .complete(let n) = r else {
            if case .error = r { return fail() }
            return .pending
        }
        if head.isInterim { input.removeFirst(n); parser.reset(); return check(final: final) }
        let bodyLeft: Int
        switch head.framing {
        case .length(let l): bodyLeft = Int(l)
        case .none: bodyLeft = 0
        default:
            // Chunked or close-delimited acknowledgements: read to EOF, no reuse.
            reusable = false
            if !final { return .pending }
            bodyLeft = input.count - n
        }
        guard input.count - n >= bodyLeft else { return .pending }
        busy = false
        reusable = reusable || head.keepAlive
        if !head.keepAlive { reusable = false }
        let ok = (200..<300).contains(head.status)
        if !reusable { close() }
        return .done(ok)
    }

    private mutating func fail() -> Outcome {
        close()
        busy = false
        return .done(false)
    }

    mutating func close() {
        if fd >= 0 { Sys.close(fd) }
        fd = -1
        connecting = false
        reusable = false
    }
}
