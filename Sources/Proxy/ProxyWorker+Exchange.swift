import CSysShim
import EventLoop
import HTTP1
import Routing
import SluiceCore
import Telemetry

extension ProxyWorker {
    // MARK: the upstream request head

    /// Writes the head the upstream receives into a pool buffer kept on the
    /// exchange (so a retry can resend it): the request line as HTTP/1.1,
    /// the client's fields minus hop-by-hop ones (RFC 9110 §7.6.1) and those
    /// named in Connection, then x-forwarded-for (appended), x-forwarded-proto
    /// and x-request-id (kept if present), and the framing we forward.
    func buildUpstreamHead(_ h: SlabHandle, _ head: RequestHead, _ buf: UnsafeRawBufferPointer) -> Bool {
        let i = h.index
        guard down[index: i].hasX else { return false }
        let needed = head.h.headEnd - head.h.headStart + 512
        guard let b = needed <= pool.bufferSize ? pool.take() : pool.takeLarge() else { return false }
        var w = HeadWriter(UnsafeMutableRawBufferPointer(start: pool.pointer(b), count: pool.capacity(of: b)))
        w.append(UnsafeRawBufferPointer(rebasing: buf[head.methodRange]))
        w.append(byte: 0x20)
        w.append(UnsafeRawBufferPointer(rebasing: buf[head.target]))
        w.append(" HTTP/1.1\r\n")
        var xffCount = 0
        var run = FieldLineRun()
        // Behind TLS we terminated, the scheme is ours to state: a client's
        // x-forwarded-proto is dropped. Over plain HTTP it is kept (a
        // sidecar behind an ingress passes the ingress's value on).
        let overTLS = down[index: i].tls != nil
        var hasProto = false, hasID = false, hasHost = false
        let checkConnectionNames = head.h.connection.contains(.others)
        var k = 0
        while k < head.h.fields.count {
            let f = head.h.fields[k]
            let kind = head.h.kinds[k]
            k += 1
            switch kind {
            case .other: break
            case .host: hasHost = true
            case .xForwardedFor:
                xffCount += 1  // folded into one field below
                continue
            case .xForwardedProto:
                if overTLS { continue }
                hasProto = true
            case .xRequestID:
                hasID = true
                if ring != nil { drafts.set(Int(i), .requestID, UnsafeRawBufferPointer(rebasing: buf[f.valueRange])) }
            case .expect: continue
            default: if kind.isHopByHop { continue }
            }
            if checkConnectionNames && namedInConnection(head.h, buf, f) { continue }
            run.keep(k - 1, head.h, &w, buf)
        }
        run.flush(&w, buf)
        if !hasHost {
            // HTTP/1.0 clients may omit Host; HTTP/1.1 upstreams require it.
            w.append("host: ")
            let c = exchanges[unchecked: down[index: i].xSlot].cluster
            w.append(string: exchanges[unchecked: down[index: i].xSlot].snapshot.clusters[c].endpointNames[0])
            w.append("\r\n")
        }
        if case .chunked = exchanges[unchecked: down[index: i].xSlot].reqBody { w.append("transfer-encoding: chunked\r\n") }
        // x-forwarded-for: every earlier value, then this client.
        w.append("x-forwarded-for: ")
        if xffCount > 0 {
            k = 0
            while k < head.h.fields.count {
                let f = head.h.fields[k]
                if head.h.kinds[k] == .xForwardedFor && f.valueCount > 0 {
                    w.append(UnsafeRawBufferPointer(rebasing: buf[f.valueRange]))
                    w.append(", ")
                }
                k += 1
            }
        }
        down[index: i].peer.withBytes { w.append($0) }
        w.append("\r\n")
        if overTLS { w.append("x-forwarded-proto: https\r\n") } else if !hasProto { w.append("x-forwarded-proto: http\r\n") }
        if !hasID {
            w.append("x-request-id: ")
            let idStart = w.count
            appendRequestID(&w)
            if ring != nil { drafts.set(Int(i), .requestID, UnsafeRawBufferPointer(start: w.base + idStart, count: w.count - idStart)) }
            w.append("\r\n")
        }
        if exchanges[unchecked: down[index: i].xSlot].upgrade, let v = fieldValue(head, buf, Array("upgrade".utf8)) {
            w.append("connection: upgrade\r\nupgrade: ")
            w.append(v)
            w.append("\r\n")
        }
        w.append("\r\n")
        if w.overflowed {
            pool.release(b)
            return false
        }
        exchanges[unchecked: down[index: i].xSlot].headBuffer = b
        exchanges[unchecked: down[index: i].xSlot].headCount = w.count
        return true
    }

    /// Whether field `f` is named by a token of the Connection field(s)
    /// (of a request or a response head).
    private func namedInConnection(_ head: HeadFields, _ buf: UnsafeRawBufferPointer, _ f: HeaderField) -> Bool {
        var k = 0
        while k < head.fields.count {
            if head.kinds[k] == .connection {
                let v = head.fields[k].valueRange
                var s = v.lowerBound
                while s < v.upperBound {
                    while s < v.upperBound && (buf[s] == 0x20 || buf[s] == 0x09 || buf[s] == 0x2C) { s += 1 }
                    var e = s
                    while e < v.upperBound && buf[e] != 0x2C { e += 1 }
                    var te = e
                    while te > s && (buf[te - 1] == 0x20 || buf[te - 1] == 0x09) { te -= 1 }
                    if te - s == Int(f.nameCount) {
                        var eq = true
                        for j in 0..<(te - s) {
                            let a = buf[s + j], b = buf[Int(f.nameStart) + j]
                            if ((a &- 0x41) < 26 ? a | 0x20 : a) != ((b &- 0x41) < 26 ? b | 0x20 : b) { eq = false; break }
                        }
                        if eq { return true }
                    }
                    s = e
                }
            }
            k += 1
        }
        return false
    }

    /// A random UUID-shaped id (version 4 layout) from the worker's PRNG.
    func appendRequestID(_ w: inout HeadWriter) {
        // A version-4 UUID (RFC 4122 §4.4): 122 random bits, written straight
        // into the head: 8-4-4-4-12 hex digits.
        guard w.count + 36 <= w.capacity else { w.overflowed = true; return }
        var a = rng.next(), b = rng.next()
        a = (a & ~(UInt64(0xF) << 48)) | (UInt64(4) << 48)  // nibble 12: the version
        b = (b & ~UInt64(0xC)) | 0x8                        // nibble 16: the variant (10xx)
        let p = (w.base + w.count).assumingMemoryBound(to: UInt8.self)
        let hex = ("0123456789abcdef" as StaticString).utf8Start
        @inline(__always) func run(_ v: UInt64, _ firstNibble: Int, _ count: Int, _ at: Int) {
            for j in 0..<count { p[at + j] = hex[Int((v >> UInt64(4 * (firstNibble + j))) & 0xF)] }
        }
        run(a, 0, 8, 0); p[8] = 0x2D
        run(a, 8, 4, 9); p[13] = 0x2D
        run(a, 12, 4, 14); p[18] = 0x2D
        run(b, 0, 4, 19); p[23] = 0x2D
        run(b, 4, 12, 24)
        w.count += 36
    }

    // MARK: the response

    /// Parses the response head, then streams the body to the client.
    func processUp(_ u: SlabHandle) {
        let i = u.index
        guard let owner = up[index: i].owner, down.contains(owner), down[index: owner.index].hasX else { return }
        var x = exchanges[unchecked: down[index: owner.index].xSlot]
        while !x.responseHeadSent {
            let s = up[index: i].input
            let base = pool.pointer(s.id)
            let bytes = UnsafeRawBufferPointer(start: base + s.start, count: s.end - s.start)
            var parser = up[index: i].parser
            let r = parser.parse(bytes, requestMethod: x.method, into: &respScratch)
            up[index: i].parser = parser
            switch r {
            case .incomplete:
                if s.start == 0 && s.end == pool.bufferSize {
                    closeUp(u)
                    return upstreamFailed(owner, .badResponse)
                }
                return
            case .error:
                closeUp(u)
                return upstreamFailed(owner, .badResponse)
            case .complete(let n):
                up[index: i].parser.reset()
                let resp = respScratch
                if resp.isInterim {
                    // 1xx: we answered any 100-continue ourselves; interim heads are not relayed.
                    up[index: i].input.start += n
                    continue
                }
                if resp.status == 101 && !x.upgrade {
                    closeUp(u)
                    return upstreamFailed(owner, .badResponse)
                }
                if resp.framing == .tunnel && x.upgrade && resp.status != 101 {
                    x.upgrade = false
                }
                x.status = resp.status
                x.upstreamMicros = Int64((sl_monotonic_ns() &- x.upstreamStartNanos) / 1000)
                x.responseHeadSent = true
                var keepClient = x.clientKeepAlive && !draining
                switch resp.framing {
                case .none: x.respBody = .done
                case .length(let len): x.respBody = .length(len)
                case .chunked: x.respBody = .chunked(ChunkedDecoder())
                    if x.clientHTTP10 { keepClient = false }
                case .untilClose: x.respBody = .untilClose; keepClient = false
                case .tunnel:
                    x.respBody = .tunnel; x.reqBody = .tunnel; keepClient = false
                    // A tunnel lives as long as it is used: the idle timeout replaces the request timeout.
                    loop.timers.cancel(timerID(owner.index, .downRequest))
                    touchTunnel(owner)
                }
                if !resp.keepAlive { up[index: i].keepAlive = false }
                x.clientKeepAlive = keepClient
                exchanges[unchecked: down[index: owner.index].xSlot] = x
                guard writeResponseHead(owner, resp, bytes, keepClient: keepClient) else {
                    closeUp(u)
                    return failExchange(owner, .badResponse)
                }
                up[index: i].input.start += n
                x = exchanges[unchecked: down[index: owner.index].xSlot]
                if case .tunnel = x.respBody {
                    // Client bytes already buffered go up the tunnel too.
                    forwardRequestBody(owner)
                    if down[index: owner.index].readPaused { downReadable(owner) }
                }
            }
        }
        forwardResponseBody(u, owner)
    }

    /// The client's response head: status line, the upstream's fields minus
    /// hop-by-hop ones, our framing and `x-sluice-backend`.
    private func writeResponseHead(_ h: SlabHandle, _ resp: ResponseHead, _ buf: UnsafeRawBufferPointer, keepClient: Bool) -> Bool {
        let i = h.index
        guard down[index: i].hasX else { return false }
        let respBody = exchanges[unchecked: down[index: i].xSlot].respBody, clientHTTP10 = exchanges[unchecked: down[index: i].xSlot].clientHTTP10
        let backend = exchanges[unchecked: down[index: i].xSlot].backend
        let needed = resp.h.headEnd - resp.h.headStart + 256
        guard let b = needed <= pool.bufferSize ? pool.take() : pool.takeLarge() else { return false }
        var w = HeadWriter(UnsafeMutableRawBufferPointer(start: pool.pointer(b), count: pool.capacity(of: b)))
        w.append("HTTP/1.1 ")
        w.append(decimal: resp.status)
        w.append(byte: 0x20)
        w.append(UnsafeRawBufferPointer(rebasing: buf[resp.reason]))
        w.append("\r\n")
        // Fields the upstream named in its Connection field are hop-by-hop too
        // (RFC 9110 §7.6.1); they were relayed before.
        let checkConnectionNames = resp.h.connection.contains(.others)
        var run = FieldLineRun()
        var k = 0
        while k < resp.h.fields.count {
            let f = resp.h.fields[k]
            let kind = resp.h.kinds[k]
            k += 1
            if kind.isHopByHop { continue }
            if nameEquals(buf, f, "x-sluice-backend") { continue }
            if checkConnectionNames && namedInConnection(resp.h, buf, f) { continue }
            run.keep(k - 1, resp.h, &w, buf)
        }
        run.flush(&w, buf)
        if case .chunked = respBody, !clientHTTP10 { w.append("transfer-encoding: chunked\r\n") }
        w.append(backend == .active ? "x-sluice-backend: active\r\n" : "x-sluice-backend: preview\r\n")
        if case .tunnel = respBody, resp.status == 101 {
            w.append("connection: upgrade\r\n")
            var k2 = 0
            while k2 < resp.h.fields.count {
                if resp.h.kinds[k2] == .upgrade {
                    w.append("upgrade: ")
                    w.append(UnsafeRawBufferPointer(rebasing: buf[resp.h.fields[k2].valueRange]))
                    w.append("\r\n")
                    break
                }
                k2 += 1
            }
        } else if !keepClient {
            w.append("connection: close\r\n")
        } else if clientHTTP10 {
            w.append("connection: keep-alive\r\n")
        }
        w.append("\r\n")
        if w.overflowed { pool.release(b); return false }
        if !down[index: i].out.append(WriteSegment(base: pool.pointer(b), count: w.count, buffer: b), pool: pool) {
            pool.release(b)
            return false
        }
        exchanges[unchecked: down[index: i].xSlot].bytesOut += Int64(w.count)
        // Not flushed here: the body bytes already read join it in one writev.
        return true
    }

    /// Moves buffered response body bytes to the client's queue.
    private func forwardResponseBody(_ u: SlabHandle, _ owner: SlabHandle) {
        let i = u.index
        let o = owner.index
        guard down[index: o].hasX, !exchanges[unchecked: down[index: o].xSlot].responseDone else { return }
        let s = up[index: i].input  // the buffer indices only, not the connection
        if s.id >= 0, case .length(let rem) = exchanges[unchecked: down[index: o].xSlot].respBody {
            // The common case, in place (no copy of the exchange).
            let n = Int(min(rem, Int64(s.end - s.start)))
            // No write slot: the bytes stay buffered and upReadable forwards them on resume.
            if n > 0 && !queueToClient(owner, pool.pointer(s.id) + s.start, n, s.id) { up[index: i].readPaused = true; return }
            up[index: i].input.start = s.start + n
            let left = rem - Int64(n)
            exchanges[unchecked: down[index: o].xSlot].respBody = left == 0 ? .done : .length(left)
            if left == 0 { finishResponse(owner) } else { flushDown(owner) }
            return
        }
        var x = exchanges[unchecked: down[index: o].xSlot]
        guard s.id >= 0 else {
            if x.respBody.isDone { finishResponse(owner) }
            return
        }
        let base = pool.pointer(s.id)
        let start = s.start, end = s.end
        var consumed = start
        var failed = false
        switch x.respBody {
        case .length(let rem):
            let n = Int(min(rem, Int64(end - start)))
            // No write slot: the bytes stay buffered and upReadable forwards them on resume.
            if n > 0 && !queueToClient(owner, base + start, n, s.id) { up[index: i].readPaused = true; return }
            consumed = start + n
            x.respBody = rem - Int64(n) == 0 ? .done : .length(rem - Int64(n))
        case .chunked(var dec):
            let view = UnsafeRawBufferPointer(start: base, count: end)
            var idx = start
            if x.clientHTTP10 {
                // An HTTP/1.0 client cannot read chunked: send the data only.
                // Each data run is one write segment, so many small chunks in one
                // read can use up the client queue's slots. Then the queue is
                // written at once and the run retried; when the socket is full,
                // decoder and index go back to before the run (the decoder is a
                // value: keep a copy, it cannot step back by itself) and the
                // rest stays buffered for upReadable to resume with (readPaused).
                // Rewinding only the index desynchronised the decoder from the
                // bytes, and nothing resumed the buffered rest: the response
                // stalled (BodyStreamingTests, HTTP/1.0 client, many chunks).
                loop: while true {
                    let before = idx
                    let saved = dec
                    switch dec.next(view, at: &idx) {
                    case .data(let ds, let dc):
                        if queueToClient(owner, base + ds, dc, s.id) { continue }
                        let fd = down[index: owner.index].fd
                        if down[index: owner.index].out.flush(fd, pool: pool) == .drained,
                           queueToClient(owner, base + ds, dc, s.id) { continue }
                        idx = before
                        dec = saved
                        up[index: i].readPaused = true
                        break loop
                    case .needMore: break loop
                    case .end: x.respBody = .done; break loop
                    case .error: failed = true; break loop
                    }
                }
            } else {
                loop: while true {
                    switch dec.next(view, at: &idx) {
                    case .data: continue
                    case .needMore: break loop
                    case .end: x.respBody = .done; break loop
                    case .error: failed = true; break loop
                    }
                }
                if !failed && idx > start && !queueToClient(owner, base + start, idx - start, s.id) {
                    up[index: i].readPaused = true  // resumed by upReadable, as above
                    return
                }
            }
            if case .chunked = x.respBody { x.respBody = .chunked(dec) }
            consumed = idx
        case .untilClose, .tunnel:
            if end > start && !queueToClient(owner, base + start, end - start, s.id) { up[index: i].readPaused = true; return }
            consumed = end
        default:
            break
        }
        up[index: i].input.start = consumed
        // queueToClient counted bytes on the stored exchange; keep its count.
        x.bytesOut = exchanges[unchecked: down[index: owner.index].xSlot].bytesOut
        exchanges[unchecked: down[index: owner.index].xSlot] = x
        if failed {
            closeUp(u)
            return upstreamFailed(owner, .badResponse)
        }
        if x.respBody.isDone { finishResponse(owner) } else { flushDown(owner) }
    }

    private func queueToClient(_ h: SlabHandle, _ p: UnsafeMutableRawPointer, _ n: Int, _ buf: BufferID) -> Bool {
        pool.retain(buf)
        if !down[index: h.index].out.append(WriteSegment(base: p, count: n, buffer: buf), pool: pool) {
            pool.release(buf)
            return false
        }
        exchanges[unchecked: down[index: h.index].xSlot].bytesOut += Int64(n)
        return true
    }

    /// Pushes a tunnel's idle deadline out (lazily: most calls cost nothing).
    func touchTunnel(_ h: SlabHandle) {
        loop.timers.rearmLazily(timerID(h.index, .downIdleOrHeader), at: loop.now + snapshot.config.timeouts.idle, slack: 1000)
    }

    // MARK: the end of an exchange

    /// The response is complete: the upstream goes back to its pool, the
    /// client waits for its next request (pipelined bytes are parsed now).
    func finishResponse(_ h: SlabHandle) {
        let i = h.index
        guard down[index: i].hasX else { return }
        exchanges[unchecked: down[index: i].xSlot].responseDone = true
        let requestDone = exchanges[unchecked: down[index: i].xSlot].reqBody.isDone
        if let u = exchanges[unchecked: down[index: i].xSlot].upstream, up.contains(u) {
            if requestDone { releaseUpstream(u) } else { closeUp(u) }
        }
        let headBuffer = exchanges[unchecked: down[index: i].xSlot].headBuffer
        if headBuffer >= 0 { pool.release(headBuffer) }
        let keep = exchanges[unchecked: down[index: i].xSlot].clientKeepAlive && requestDone
        recordEnd(h, error: nil)
        endExchange(h, keepAlive: keep)
    }

    /// Common tail of every exchange: the client stays for another request
    /// or is closed after its queue drains.
    private func endExchange(_ h: SlabHandle, keepAlive: Bool) {
        let i = h.index
        loop.timers.cancel(timerID(i, .downRequest))
        clearExchange(i)
        if !keepAlive || draining || down[index: i].peerClosed {
            down[index: i].closeAfterFlush = true
            flushDown(h)
            return
        }
        down[index: i].headTimerArmed = false
        loop.timers.arm(timerID(i, .downIdleOrHeader), at: loop.now + snapshot.config.timeouts.idle)
        flushDown(h)
        if down[index: i].closed { return }
        if down[index: i].input.end > down[index: i].input.start {
            processDown(h)
        } else {
            releaseIdleBuffer(h)
        }
        // Edge-triggered: read again only if bytes arrived while we were busy
        // (a read now would mostly end in EAGAIN: a wasted syscall).
        if !down[index: i].closed && !down[index: i].hasX && down[index: i].readPaused { downReadable(h) }
    }

    /// Counts the exchange once, on this worker's shard: status, latency
    /// (first request byte to now) and error reason (SPEC §7). A client that
    /// went away before any answer counts as 499 (nginx's convention).
    func recordEnd(_ h: SlabHandle, error: ProxyError?) {
        let i = h.index
        guard down[index: i].hasX, !exchanges[unchecked: down[index: i].xSlot].recorded else { return }
        exchanges[unchecked: down[index: i].xSlot].recorded = true
        guard recording else { return }
        // Fields read in place: copying the exchange would retain its snapshot.
        let slot = Int(exchanges[unchecked: down[index: i].xSlot].seriesSlot)
        let sent = exchanges[unchecked: down[index: i].xSlot].status
        let status = error == .clientAbort && !exchanges[unchecked: down[index: i].xSlot].responseHeadSent ? 499 : (sent > 0 ? sent : error?.status ?? 0)
        let micros = (sl_monotonic_ns() &- exchanges[unchecked: down[index: i].xSlot].startNanos) / 1000
        let reason = error?.telemetryReason ?? .none
        shard.record(slot: slot, status: status, latencyMicros: micros, error: reason)
        guard let ring else { return }
        // The full record, for the monitor push and the access log. Fields
        // are read in place (a copy of the exchange would retain its snapshot).
        let d = Int(i)
        if !drafts.isOpen(d) { startDraft(i, method: exchanges[unchecked: down[index: i].xSlot].method) }
        if drafts.text(d, .requestID).count == 0 {
            // No upstream head was built (a refused or unrouted request): the
            // record still gets an id, as Envoy's access log would.
            withUnsafeTemporaryAllocation(byteCount: 40, alignment: 1) { buf in
                var w = HeadWriter(buf)
                appendRequestID(&w)
                drafts.set(d, .requestID, UnsafeRawBufferPointer(start: w.base, count: w.count))
            }
        }
        var f = RecordFields()
        // Wall-clock start from the one clock read the record needs.
        f.tsMillis = sl_realtime_ms() &- micros / 1000
        f.latencyMicros = micros
        f.upstreamMicros = exchanges[unchecked: down[index: i].xSlot].upstreamMicros
        f.status = UInt16(clamping: status)
        f.error = reason
        f.seriesSlot = Int32(slot)
        f.bytesIn = exchanges[unchecked: down[index: i].xSlot].bytesIn
        f.bytesOut = exchanges[unchecked: down[index: i].xSlot].bytesOut
        f.endpointSlot = exchanges[unchecked: down[index: i].xSlot].endpointSlot
        f.methodCode = drafts.methodCode(d)
        drafts.publish(d, f, to: ring)
    }

    /// Opens slot `i`'s draft for a new exchange. The text (path, request
    /// id, a non-standard method) is filled in as the head is read.
    func startDraft(_ i: Int32, method: Method) {
        let d = Int(i)
        drafts.reserve(d)
        drafts.open(d, methodCode: method == .other ? RequestRecord.customMethod : method.rawValue)
    }

    // MARK: failures

    /// An upstream attempt failed before the response head reached the
    /// client: retry when that cannot run the request twice, else answer.
    func upstreamFailed(_ h: SlabHandle, _ e: ProxyError) {
        let i = h.index
        guard down.contains(h), down[index: i].hasX else { return }
        var x = exchanges[unchecked: down[index: i].xSlot]
        if let u = x.upstream, up.contains(u) { closeUp(u) }
        x.upstream = nil
        let safe = !x.responseHeadSent && !x.requestHasBody && x.method.isIdempotent && x.headBuffer >= 0
        if safe && x.route >= 0 {
            let policy = x.snapshot.table.routes[x.route].retry
            var retry = false
            if (e == .reset || e == .badResponse) && x.attempts == 0 && !x.staleRetryUsed && x.reusedUpstream {
                // The classic keep-alive race: the pooled connection died as we reused it.
                x.staleRetryUsed = true
                retry = true
            } else if x.attempts < policy.attempts
                        && ((e == .connectFailure && policy.onConnectFailure) || (e == .reset && policy.onReset)) {
                x.attempts += 1
                retry = true
            }
            if retry {
                exchanges[unchecked: down[index: i].xSlot] = x
                acquireUpstream(h, fresh: true)
                return
            }
        }
        exchanges[unchecked: down[index: i].xSlot] = x
        failExchange(h, e)
    }

    /// Answers the exchange with the proxy's own error (SPEC §5), or cuts the
    /// client when the response head already went out.
    func failExchange(_ h: SlabHandle, _ e: ProxyError) {
        let i = h.index
        guard down.contains(h), !down[index: i].closed, down[index: i].hasX else { return }
        abandonUpstream(h)
        var x = exchanges[unchecked: down[index: i].xSlot]
        if x.responseHeadSent {
            // A cut, not an end: reset the client so it cannot take the
            // part it got for the whole response.
            recordEnd(h, error: e)
            closeDown(h, abort: true)
            return
        }
        x.status = e.status
        x.responseHeadSent = true
        x.responseDone = true
        // The connection survives only if the request was read to its end.
        let bodyConsumed = x.reqBody.isDone
        let parseError: Bool
        if case .badRequest = e { parseError = true } else { parseError = false }
        let keep = x.clientKeepAlive && bodyConsumed && !parseError && !draining && e != .headerTimeout && e != .bodyTooLarge
        exchanges[unchecked: down[index: i].xSlot] = x
        writeErrorResponse(h, e, keep: keep, backend: x.cluster >= 0 ? x.backend : nil)
        recordEnd(h, error: e)
        endExchange(h, keepAlive: keep)
    }

    /// Ends slot `i`'s exchange, if any, and lets its snapshot go (the
    /// one release matching the retain that made it).
    @inline(__always) func clearExchange(_ i: Int32) {
        guard down[index: i].hasX else { return }
        let slot = down[index: i].xSlot
        exchanges[unchecked: slot].snapshotRef.release()
        exchanges.discard(index: slot)
        down[index: i].xSlot = -1
    }

    /// A request that failed before an exchange began (a bad head, a slow one).
    func startErrorExchange(_ h: SlabHandle, _ e: ProxyError) {
        let i = h.index
        down[index: i].requests += 1
        assert(!down[index: i].hasX, "an exchange began over another")
        down[index: i].xSlot = exchanges.insert(
            Exchange(snapshotRef: .passRetained(snapshot), route: -1, backend: .active, cluster: -1, method: .get,
                     clientKeepAlive: false, clientHTTP10: false, upgrade: false, upstream: nil,
                     reqBody: .none, requestHasBody: false, startNanos: sl_monotonic_ns())).index
        exchanges[unchecked: down[index: i].xSlot].seriesSlot = Int32(snapshot.unroutedSlot)
        // Nothing after a refused head can be trusted: drop it.
        down[index: i].input.start = down[index: i].input.end
        failExchange(h, e)
    }

    private func writeErrorResponse(_ h: SlabHandle, _ e: ProxyError, keep: Bool, backend: Backend?) {
        guard let b = pool.take() else { return }
        var body = HeadWriter(UnsafeMutableRawBufferPointer(start: pool.pointer(b) + 1024, count: 512))
        body.append("{\"error\":\"")
        body.append(e.reason)
        body.append("\"")
        if e.detail.utf8CodeUnitCount != e.reason.utf8CodeUnitCount || e.detail.utf8Start != e.reason.utf8Start {
            body.append(",\"detail\":\"")
            body.append(e.detail)
            body.append("\"")
        }
        body.append("}\n")
        var w = HeadWriter(UnsafeMutableRawBufferPointer(start: pool.pointer(b), count: 1024))
        w.appendStatusLine(e.status)
        w.append("content-type: application/json\r\n")
        w.appendField("content-length", decimal: body.count)
        if let be = backend { w.append(be == .active ? "x-sluice-backend: active\r\n" : "x-sluice-backend: preview\r\n") }
        w.append(keep ? "" : "connection: close\r\n")
        w.append("\r\n")
        // Move the body right after the head: one segment.
        (pool.pointer(b) + w.count).copyMemory(from: pool.pointer(b) + 1024, byteCount: body.count)
        let total = w.count + body.count
        if !down[index: h.index].out.append(WriteSegment(base: pool.pointer(b), count: total, buffer: b), pool: pool) {
            pool.release(b)
            return
        }
        if down[index: h.index].hasX { exchanges[unchecked: down[index: h.index].xSlot].bytesOut += Int64(total) }
        // Not flushed here: the exchange is counted first (endExchange
        // flushes), so a client that reads the answer and then scrapes
        // /metrics always finds it counted.
    }
}

/// Copies kept field lines verbatim, adjacent ones with one append: field
/// lines lie back to back in the received head (one line per field, since
/// obs-fold is refused), so a run of kept fields is one contiguous range.
struct FieldLineRun {
    private var start = -1
    private var end = -1

    /// Field `k` of `h` is forwarded.
    @inline(__always)
    mutating func keep(_ k: Int, _ h: HeadFields, _ w: inout HeadWriter, _ buf: UnsafeRawBufferPointer) {
        let s = Int(h.fields[k].nameStart)
        // The line ends where the next field starts, or before the head's final CRLF.
        let e = k + 1 < h.fields.count ? Int(h.fields[k + 1].nameStart) : h.headEnd - 2
        if s != end { flush(&w, buf); start = s }
        end = e
    }

    @inline(__always)
    mutating func flush(_ w: inout HeadWriter, _ buf: UnsafeRawBufferPointer) {
        if start >= 0 { w.append(UnsafeRawBufferPointer(rebasing: buf[start..<end])) }
        start = -1
        end = -1
    }
}
