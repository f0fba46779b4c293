import EventLoop
import HTTP1
import Routing
import SluiceCore
import TLS

/// How much of a body is left to move, by its framing.
enum BodyProgress {
    case none
    case length(Int64)
    case chunked(ChunkedDecoder)
    /// Until the upstream closes (responses only).
    case untilClose
    /// A tunnel after 101 / CONNECT: bytes both ways until either side closes.
    case tunnel
    case done

    var isDone: Bool {
        if case .done = self { return true }
        if case .none = self { return true }
        return false
    }
}

/// One request/response exchange on a downstream connection.
struct Exchange {
    /// The snapshot the request started with: retained once when the
    /// exchange is made, released once by `ProxyWorker.clearExchange`.
    /// Unmanaged so an exchange is plain data: the request path copies
    /// it as bytes, without retain/release or a copy witness per copy.
    var snapshotRef: Unmanaged<ProxySnapshot>
    /// Borrowed: valid while the exchange is.
    var snapshot: ProxySnapshot { snapshotRef.takeUnretainedValue() }
    var route: Int
    var backend: Backend
    var cluster: Int
    var endpoint = -1
    var method: Method
    var clientKeepAlive: Bool
    var clientHTTP10: Bool
    var upgrade: Bool
    var upstream: SlabHandle?
    var reqBody: BodyProgress
    var respBody: BodyProgress = .none
    var requestHasBody: Bool
    /// The response head went to the client: failures now cut, never answer.
    var responseHeadSent = false
    var responseDone = false
    /// The upstream head we built, kept (one reference) so a retry can resend it.
    var headBuffer: BufferID = -1
    var headCount = 0
    var attempts = 0
    var staleRetryUsed = false
    /// The current (or last) upstream came from the idle pool.
    var reusedUpstream = false
    var waitingInQueue = false
    var startNanos: UInt64
    /// When the current upstream attempt began, and the time it took to the
    /// response head (-1 until one arrives).
    var upstreamStartNanos: UInt64 = 0
    var upstreamMicros: Int64 = -1
    /// Telemetry series of (route, backend, cluster); set when routed.
    var seriesSlot: Int32 = -1
    /// `NameTable.endpoints` slot of the chosen endpoint, for the request record.
    var endpointSlot: Int32 = -1
    /// Counted in telemetry already (each exchange is counted exactly once).
    var recorded = false
    var status = 0
    var bytesIn: Int64 = 0
    var bytesOut: Int64 = 0
}

/// A client connection. Owned by one worker, reached by slab index.
struct Downstream {
    var fd: Int32
    /// The client's address as text, formatted once at accept (x-forwarded-for).
    var peer = PeerText()
    var input = ReadBuffer()
    var parser: RequestParser
    var out = WriteQueue()
    /// Slot in `ProxyWorker.exchanges` of the exchange in progress, -1
    /// between exchanges. Exchanges live in their own slab so an idle
    /// connection does not carry one (about 290 of its bytes).
    var xSlot: Int32 = -1
    var hasX: Bool { xSlot >= 0 }
    /// Reading stopped (back-pressure or nothing to do); resume explicitly.
    var readPaused = false
    /// Close once `out` drains.
    var closeAfterFlush = false
    var peerClosed = false
    /// epoll reported the peer's FIN (RDHUP/HUP): it sits behind the data, so
    /// a short read no longer means "drained"; read on until EOF.
    var hangupSeen = false
    var closed = false
    var requests = 0
    /// The timer slot holds the header timeout (not the idle one).
    var headTimerArmed = true
    /// The connection came in on the TLS listener: its bytes go through this.
    var tls: TLSSession?
    /// The TLS handshake is not finished yet.
    var handshaking = false
    /// The last TLS read or handshake step asked to write first: retry it when writable.
    var readWantsWrite = false
}

enum UpstreamState { case connecting, busy, idle, closed }

/// A connection to an endpoint: busy with one exchange, or idle in the pool.
struct Upstream {
    var fd: Int32
    var cluster: Int
    var endpoint: Int
    /// The cluster layout it belongs to (pools are rebuilt when it changes).
    var clusterEpoch: UInt64
    /// Its cluster's open-connections gauge.
    var gaugeSlot: Int = -1
    var state: UpstreamState = .connecting
    var owner: SlabHandle?
    var input = ReadBuffer()
    var parser = ResponseParser()
    var out = WriteQueue()
    /// Taken from the idle pool (so a failure before any byte may be the stale keep-alive race).
    var reused = false
    var responseBytes = 0
    var readPaused = false
    var keepAlive = true
    /// As `Downstream.hangupSeen`: read on to the EOF after a short read.
    var hangupSeen = false
    /// The cluster originates TLS: the session, made once TCP connects.
    var tls: TLSSession?
    /// Connected, and the TLS handshake is not finished yet.
    var handshaking = false
    var readWantsWrite = false
}

/// Token layout in epoll user data: generation (32 bits) | kind (2 bits) | index (30 bits).
enum TokenKind: UInt64 {
    case listener = 1
    case downstream = 2
    case upstream = 3
}

@inline(__always)
func makeToken(_ kind: TokenKind, _ h: SlabHandle) -> UInt64 {
    UInt64(h.generation) << 32 | kind.rawValue << 30 | UInt64(UInt32(bitPattern: h.index))
}

@inline(__always)
func decodeToken(_ t: UInt64) -> (TokenKind?, SlabHandle) {
    let kind = TokenKind(rawValue: (t >> 30) & 3)
    let index = Int32(truncatingIfNeeded: t & 0x3FFF_FFFF)
    return (kind, SlabHandle(index: index, generation: UInt32(truncatingIfNeeded: t >> 32)))
}

/// Timer ids: 4 per slot (downstream and upstream slabs share slot numbers,
/// so their kinds differ). Few per slot: the wheel holds 24 bytes per id up
/// to the highest in use, and that is memory per connection.
enum TimerKind: Int {
    case downIdleOrHeader = 0
    case downRequest = 1
    case upConnectOrIdle = 2
}

@inline(__always)
func timerID(_ slot: Int32, _ kind: TimerKind) -> Int { Int(slot) << 2 | kind.rawValue }

/// Up to 48 bytes of address text stored inline (an IPv6 literal is at most 45).
struct PeerText {
    private var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    private(set) var count = 0

    init() {}

    init(_ text: String) {
        let bytes = Array(text.utf8.prefix(48))
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        count = bytes.count
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(of: storage) { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}
