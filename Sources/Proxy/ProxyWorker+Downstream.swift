import CSysShim
import EventLoop
import HTTP1
import Routing
import SluiceCore

extension ProxyWorker {
    // MARK: reading from the client

    /// Reads what the client sent, as long as the exchange can use it, and
    /// processes it. A short read means the socket is drained (edge-triggered).
    func downReadable(_ h: SlabHandle) {
        while true {
            let i = h.index
            if down[index: i].closed { return }
            if !wantsClientBytes(h) {
                down[index: i].readPaused = true
                return
            }
            guard let space = downReadSpace(h) else {
                down[index: i].readPaused = true
                return
            }
            down[index: i].readPaused = false
            // Fields are read in place: copying the session (or its exchange,
            // which holds a snapshot reference) per read showed in profiles.
            let fd = down[index: i].fd
            let at = pool.pointer(down[index: i].input.id) + down[index: i].input.end
            let tls = down[index: i].tls
            let result = tls == nil ? Sys.read(fd, at, space) : tlsRead(tls!, at, space, wantsWrite: &down[index: i].readWantsWrite)
            switch result {
            case .bytes(let n):
                down[index: i].input.end += n
                if down[index: i].hasX { exchanges[unchecked: down[index: i].xSlot].bytesIn += Int64(n) }
                processDown(h)
                // A short TLS read is one record, not a drained socket: read on to want-read.
                if n < space && !down[index: i].hangupSeen && tls == nil { return }
            case .eof:
                down[index: i].peerClosed = true
                clientClosed(h)
                return
            case .wouldBlock:
                releaseIdleBuffer(h)
                return
            case .error:
                clientClosed(h, reset: true)
                return
            }
        }
    }

    /// Whether the current state consumes client bytes now. Pipelined
    /// requests wait in the kernel until the current response is done.
    private func wantsClientBytes(_ h: SlabHandle) -> Bool {
        let i = h.index
        if down[index: i].closeAfterFlush { return false }
        guard down[index: i].hasX else { return true }
        if exchanges[unchecked: down[index: i].xSlot].waitingInQueue { return false }
        guard let u = exchanges[unchecked: down[index: i].xSlot].upstream else { return false }
        if up.contains(u) {
            if up[index: u.index].state == .connecting { return false }
            if up[index: u.index].out.isFull { return false }
        }
        switch exchanges[unchecked: down[index: i].xSlot].reqBody {
        case .length, .chunked, .tunnel: return true
        default: return false
        }
    }

    /// Room to read into; a head may outgrow a normal buffer into a large one.
    private func downReadSpace(_ h: SlabHandle) -> Int? {
        let awaitingHead = !down[index: h.index].hasX
        return down[index: h.index].input.makeSpace(pool, allowLarge: awaitingHead)
    }

    /// An idle connection holds no buffer.
    func releaseIdleBuffer(_ h: SlabHandle) {
        guard !down[index: h.index].hasX else { return }
        down[index: h.index].input.releaseIfEmpty(pool)
    }

    /// Acts on buffered client bytes: a new head, or body for the upstream.
    func processDown(_ h: SlabHandle) {
        let i = h.index
        if down[index: i].closed { return }
        if !down[index: i].hasX {
            parseHead(h)
        } else {
            forwardRequestBody(h)
        }
    }

    private func parseHead(_ h: SlabHandle) {
        let i = h.index
        let d = down[index: i].input
        guard d.id >= 0, d.end > d.start, !down[index: i].closeAfterFlush else { return }
        let base = pool.pointer(d.id)
        let bytes = UnsafeRawBufferPointer(start: base + d.start, count: d.end - d.start)
        // Parsed in place (the parser is a field of the session).
        let result = down[index: i].parser.parse(bytes, into: &scratch)
        switch result {
        case .incomplete:
            if down[index: i].requests > 0 && !down[index: i].headTimerArmed {
                // Between requests the idle timer runs; the first byte switches to the header timer.
                loop.timers.arm(timerID(i, .downIdleOrHeader), at: loop.now + snapshot.config.timeouts.header)
                down[index: i].headTimerArmed = true
            }
            return
        case .error(let e):
            startErrorExchange(h, .badRequest(e))
        case .complete(let n):
            down[index: i].parser.reset()
            beginExchange(h, headBytes: bytes, headLength: n)
        }
    }

    // MARK: a new request

    private func beginExchange(_ h: SlabHandle, headBytes: UnsafeRawBufferPointer, headLength: Int) {
        let i = h.index
        // One acquire load per request: a weight change published while this
        // loop slept in epoll_wait applies to the very next request.
        refreshSnapshot()
        let snap = snapshot
        let head = scratch
        down[index: i].requests += 1
        loop.timers.cancel(timerID(i, .downIdleOrHeader))

        let reqBody: BodyProgress
        switch head.framing {
        case .length(let n): reqBody = .length(n)
        case .chunked: reqBody = .chunked(ChunkedDecoder())
        default: reqBody = .none
        }
        let pathRange = head.path
        let path = pathRange.isEmpty
            ? UnsafeRawBufferPointer(start: UnsafeRawPointer(("/" as StaticString).utf8Start), count: 1)
            : UnsafeRawBufferPointer(rebasing: headBytes[pathRange])
        let routeIndex = snap.table.match(path)
        var x = Exchange(snapshotRef: .passRetained(snap), route: routeIndex ?? -1, backend: .active, cluster: -1, method: head.method,
                         clientKeepAlive: head.keepAlive && !draining, clientHTTP10: head.h.version == .http10,
                         upgrade: head.upgrade, upstream: nil, reqBody: reqBody,
                         requestHasBody: !reqBody.isDone, startNanos: sl_monotonic_ns())
        x.bytesIn = Int64(headLength)
        x.seriesSlot = Int32(snap.unroutedSlot)
        assert(!down[index: i].hasX, "an exchange began over another")
        down[index: i].xSlot = exchanges.insert(x).index
        if ring != nil {
            startDraft(i, method: head.method)
            if head.method == .other { drafts.set(Int(i), .method, UnsafeRawBufferPointer(rebasing: headBytes[head.methodRange])) }
            drafts.set(Int(i), .path, UnsafeRawBufferPointer(rebasing: headBytes[head.target]))
        }
        down[index: i].input.start += headLength
        loop.timers.arm(timerID(i, .downRequest), at: loop.now + (routeIndex.map { snap.routeData[$0].timeout } ?? snap.config.timeouts.request))

        guard let r = routeIndex else { return failExchange(h, .noRoute) }
        let limit = snap.config.limits.maxRequestBodyBytes
        if limit > 0, case .length(let n) = reqBody, n > limit { return failExchange(h, .bodyTooLarge) }
        if head.method == .connect { return failExchange(h, .badRequest(.badMethod)) }

        // The split: override header, sticky key, or a weighted draw.
        let route = snap.table.routes[r]
        let rd = snap.routeData[r]
        var override: Backend?
        if let name = rd.overrideHeader, let v = fieldValue(head, headBytes, name) { override = Split.parseOverride(v) }
        var bucket: UInt32?
        if let name = rd.stickyHeader, let v = fieldValue(head, headBytes, name) {
            bucket = Split.bucket(v)
        } else if let cookieName = rd.stickyCookie {
            var k = 0
            while k < head.h.kinds.count && bucket == nil {
                let f = head.h.fields[k]
                if nameEquals(headBytes, f, "cookie"), let vr = Split.cookieValue(UnsafeRawBufferPointer(rebasing: headBytes[f.valueRange]), name: cookieName) {
                    let start = f.valueRange.lowerBound + vr.lowerBound
                    bucket = Split.bucket(UnsafeRawBufferPointer(rebasing: headBytes[start..<start + vr.count]))
                }
                k += 1
            }
        }
        let backend = Split.choose(route, override: override, stickyBucket: bucket, rng: &rng)
        x.backend = backend
        x.seriesSlot = Int32(snap.seriesSlots[r][Int(backend.rawValue)])
        x.cluster = route.cluster(for: backend)
        exchanges[unchecked: down[index: i].xSlot] = x

        // Build the upstream head now, while the client's head is in the buffer.
        guard buildUpstreamHead(h, head, headBytes) else { return failExchange(h, .badRequest(.headTooLarge)) }
        if head.expectContinue && !reqBody.isDone {
            // We answer the expectation ourselves (the upstream never sees Expect).
            queueStatic(h, "HTTP/1.1 100 Continue\r\n\r\n")
        }
        acquireUpstream(h)
    }

    /// The value of the first field named `name` (lower-case bytes).
    func fieldValue(_ head: RequestHead, _ buf: UnsafeRawBufferPointer, _ name: [UInt8]) -> UnsafeRawBufferPointer? {
        var k = 0
        while k < head.h.fields.count {
            let f = head.h.fields[k]
            if Int(f.nameCount) == name.count {
                var eq = true
                var j = 0
                let ns = Int(f.nameStart)
                while j < name.count {
                    let c = buf[ns + j]
                    if ((c &- 0x41) < 26 ? c | 0x20 : c) != name[j] { eq = false; break }
                    j += 1
                }
                if eq { return UnsafeRawBufferPointer(rebasing: buf[f.valueRange]) }
            }
            k += 1
        }
        return nil
    }

    func nameEquals(_ buf: UnsafeRawBufferPointer, _ f: HeaderField, _ lower: StaticString) -> Bool {
        guard Int(f.nameCount) == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        let ns = Int(f.nameStart)
        for j in 0..<Int(f.nameCount) {
            let c = buf[ns + j]
            if ((c &- 0x41) < 26 ? c | 0x20 : c) != l[j] { return false }
        }
        return true
    }

    // MARK: the request body

    /// Moves buffered body bytes to the upstream's queue (validated chunked
    /// framing is forwarded as it is). Stops when the queue is full.
    func forwardRequestBody(_ h: SlabHandle) {
        let i = h.index
        guard down[index: i].hasX, let u = exchanges[unchecked: down[index: i].xSlot].upstream, up.contains(u) else { return }
        var x = exchanges[unchecked: down[index: i].xSlot]
        if up[index: u.index].state == .connecting { return }
        let d = down[index: i].input  // the buffer indices only, not the session
        guard d.id >= 0 else { return }
        let base = pool.pointer(d.id)
        var start = d.start
        let end = d.end
        if start >= end { return }
        var forwardEnd = start
        switch x.reqBody {
        case .length(let rem):
            let n = Int(min(rem, Int64(end - start)))
            forwardEnd = start + n
            x.reqBody = rem - Int64(n) == 0 ? .done : .length(rem - Int64(n))
        case .chunked(var dec):
            var idx = start
            let view = UnsafeRawBufferPointer(start: base, count: end)
            var failed = false
            loop: while true {
                switch dec.next(view, at: &idx) {
                case .data: continue
                case .needMore: break loop
                case .end: x.reqBody = .done; break loop
                case .error: failed = true; break loop
                }
            }
            if failed {
                exchanges[unchecked: down[index: i].xSlot] = x
                return failExchange(h, .badRequest(.badChunkSize))
            }
            let limit = x.snapshot.config.limits.maxRequestBodyBytes
            if limit > 0 && dec.bodyBytes > limit {
                exchanges[unchecked: down[index: i].xSlot] = x
                return failExchange(h, .bodyTooLarge)
            }
            if case .chunked = x.reqBody { x.reqBody = .chunked(dec) }
            forwardEnd = idx
        case .tunnel:
            forwardEnd = end
            touchTunnel(h)
        default:
            return
        }
        let n = forwardEnd - start
        if n > 0 {
            pool.retain(d.id)
            if !up[index: u.index].out.append(WriteSegment(base: base + start, count: n, buffer: d.id), pool: pool) {
                pool.release(d.id)
                exchanges[unchecked: down[index: i].xSlot] = x
                return
            }
            start = forwardEnd
            down[index: i].input.start = start
        }
        exchanges[unchecked: down[index: i].xSlot] = x
        flushUp(u)
    }

    // MARK: writing to the client

    func downWritable(_ h: SlabHandle) {
        flushDown(h)
        if down[index: h.index].readWantsWrite && !down[index: h.index].closed {
            down[index: h.index].readWantsWrite = false
            downReadable(h)
        }
    }

    /// Writes the client's queue; closes when asked to after the flush;
    /// resumes the upstream when the queue has room again.
    func flushDown(_ h: SlabHandle) {
        let i = h.index
        if down[index: i].closed { return }
        let fd = down[index: i].fd
        let r: FlushResult
        if let tls = down[index: i].tls {
            if down[index: i].handshaking { return }
            r = down[index: i].out.flush(pool: pool, scratch: tlsScratch) { tlsWrite(tls, $0, $1) }
        } else {
            r = down[index: i].out.flush(fd, pool: pool)
        }
        switch r {
        case .error:
            clientClosed(h, reset: true)
            return
        case .drained:
            if down[index: i].closeAfterFlush && (!down[index: i].hasX || exchanges[unchecked: down[index: i].xSlot].responseDone) {
                closeDown(h)
                return
            }
        case .pending:
            break
        }
        if down[index: i].out.isFull { return }
        // Room again: let a paused upstream continue.
        if down[index: i].hasX, let u = exchanges[unchecked: down[index: i].xSlot].upstream, up.contains(u), up[index: u.index].readPaused {
            upReadable(u)
        }
    }

    /// Queues static bytes to the client and flushes.
    func queueStatic(_ h: SlabHandle, _ s: StaticString) {
        let i = h.index
        _ = down[index: i].out.append(WriteSegment(base: UnsafeRawPointer(s.utf8Start), count: s.utf8CodeUnitCount, buffer: -1), pool: pool)
        flushDown(h)
    }

    // MARK: timeouts and closes

    func downIdleOrHeaderTimeout(_ h: SlabHandle) {
        let i = h.index
        let d = down[index: i]
        if d.closed { return }
        if !d.hasX && d.input.end > d.input.start {
            // Slowloris: a head that did not complete in time.
            startErrorExchange(h, .headerTimeout)
        } else if !d.hasX {
            closeDown(h)
        } else if case .tunnel = exchanges[unchecked: d.xSlot].respBody {
            // An upgraded connection idle in both directions.
            closeDown(h)
        }
    }

    func requestTimeout(_ h: SlabHandle) {
        let i = h.index
        guard !down[index: i].closed, down[index: i].hasX else { return }
        failExchange(h, .upstreamTimeout)
    }

    /// The client went away (EOF or reset). An exchange in flight is abandoned.
    func clientClosed(_ h: SlabHandle, reset: Bool = false) {
        let i = h.index
        if down[index: i].hasX, !exchanges[unchecked: down[index: i].xSlot].responseDone {
            let x = exchanges[unchecked: down[index: i].xSlot]
            if !reset, !x.requestHasBody || x.reqBody.isDone, !x.upgrade {
                // Half-close after a complete request: still answer it (HTTP allows it).
                down[index: i].closeAfterFlush = true
                return
            }
            abandonUpstream(h)
            if case .tunnel = x.respBody { recordEnd(h, error: nil) } else { recordEnd(h, error: .clientAbort) }
        }
        closeDown(h, abort: reset)
    }

    /// Closes the client connection. Over TLS, close_notify goes out only
    /// when nothing was cut (no error, nothing unsent, no exchange mid-way);
    /// an abort closes with an RST.
    func closeDown(_ h: SlabHandle, abort: Bool = false) {
        let i = h.index
        if down[index: i].closed { return }
        let graceful = !abort && down[index: i].out.isEmpty
            && (!down[index: i].hasX || exchanges[unchecked: down[index: i].xSlot].responseDone)
        if down[index: i].hasX {
            let x = exchanges[unchecked: down[index: i].xSlot]
            // A tunnel that ends is a finished exchange; anything else closed
            // mid-way (timeouts, shutdown) is counted as abandoned.
            if case .tunnel = x.respBody { recordEnd(h, error: nil) } else { recordEnd(h, error: .clientAbort) }
            abandonUpstream(h)
            clearExchange(i)
        }
        var d = down[index: i]
        d.closed = true
        d.out.discard(pool: pool)
        d.input.release(pool)
        down[index: i] = d
        loop.timers.cancel(timerID(i, .downIdleOrHeader))
        loop.timers.cancel(timerID(i, .downRequest))
        d.tls?.free(graceful: graceful)
        down[index: i].tls = nil
        if abort { Sys.setResetOnClose(d.fd) }
        Sys.close(d.fd)
        deadDown.append(h)
        stats.downstreamOpen.subtract(1, ordering: .relaxed)
    }
}
