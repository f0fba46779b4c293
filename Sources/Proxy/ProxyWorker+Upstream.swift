import CSysShim
import EventLoop
import HTTP1
import Routing
import SluiceCore
import TLS

extension ProxyWorker {
    // MARK: getting a connection

    /// Gives the exchange an upstream connection: a pooled idle one, a new
    /// one under `max_connections`, or a place in the cluster's queue.
    func acquireUpstream(_ h: SlabHandle, fresh: Bool = false) {
        let i = h.index
        guard down[index: i].hasX else { return }
        // Fields are read and written in place: a copy of the exchange (or of
        // the cluster, with its arrays) costs more than the rest of this.
        exchanges[unchecked: down[index: i].xSlot].upstreamStartNanos = sl_monotonic_ns()
        let c = exchanges[unchecked: down[index: i].xSlot].cluster
        let snap = snapshot
        // The exchange's cluster index must name the same cluster in the
        // current snapshot (usually the same snapshot: no string compare).
        let same = exchanges[unchecked: down[index: i].xSlot].snapshotRef.toOpaque() == Unmanaged.passUnretained(snap).toOpaque()
        guard c >= 0, c < snap.clusters.count,
              same || exchanges[unchecked: down[index: i].xSlot].snapshot.clusters[c].name == snap.clusters[c].name else {
            return failExchange(h, .noHealthyEndpoint)
        }
        let picked = snap.clusters.withUnsafeBufferPointer { clusters in
            let health = clusters[c].health
            return activeRequests[c].withUnsafeBufferPointer { counts in
                balancers[c].pick(count: clusters[c].addresses.count, healthy: { health[$0].isHealthy },
                                  active: { counts[$0] }, rng: &rng)
            }
        }
        guard let e = picked else { return failExchange(h, .noHealthyEndpoint) }
        exchanges[unchecked: down[index: i].xSlot].endpoint = e
        exchanges[unchecked: down[index: i].xSlot].endpointSlot = snap.clusters[c].endpointSlots[e]
        // A warm idle connection first (LIFO), unless a fresh one is required.
        if !fresh {
            while let u = idle[c][e].popLast() {
                guard up.contains(u), up[index: u.index].state == .idle else { continue }
                loop.timers.cancel(timerID(u.index, .upConnectOrIdle))
                up[index: u.index].state = .busy
                up[index: u.index].owner = h
                up[index: u.index].reused = true
                up[index: u.index].responseBytes = 0
                up[index: u.index].parser.reset()
                exchanges[unchecked: down[index: i].xSlot].upstream = u
                exchanges[unchecked: down[index: i].xSlot].reusedUpstream = true
                activeRequests[c][e] += 1
                sendHead(h)
                return
            }
        }
        var total = 0
        for n in connCount[c] { total += n }
        if total >= snap.clusters[c].maxConnections {
            if pending[c].count >= snap.clusters[c].maxPending { return failExchange(h, .overflow) }
            exchanges[unchecked: down[index: i].xSlot].waitingInQueue = true
            pending[c].append(h)
            return
        }
        let conn: (fd: Int32, inProgress: Bool)
        do { conn = try Sys.connect(snap.clusters[c].addresses[e]) } catch {
            return upstreamFailed(h, .connectFailure)
        }
        var u = Upstream(fd: conn.fd, cluster: c, endpoint: e, clusterEpoch: clusterEpoch)
        if let client = snap.clusters[c].tls {
            // The session is made now; its handshake starts once TCP connects.
            guard let session = TLSSession.connect(client, fd: conn.fd, host: snap.clusters[c].endpointHosts[e]) else {
                Sys.close(conn.fd)
                return upstreamFailed(h, .tlsFailure)
            }
            u.tls = session
        }
        u.owner = h
        u.gaugeSlot = snap.clusterGaugeSlots[c]
        u.state = .connecting
        let uh = up.insert(u)
        do { try loop.register(conn.fd, token: makeToken(.upstream, uh), interest: .edgeTriggered) } catch {
            u.tls?.free(graceful: false)
            up.remove(uh)
            Sys.close(conn.fd)
            return upstreamFailed(h, .connectFailure)
        }
        connCount[c][e] += 1
        activeRequests[c][e] += 1
        shard.adjustGauge(snap.clusterGaugeSlots[c], by: 1)
        loop.timers.arm(timerID(uh.index, .upConnectOrIdle), at: loop.now + exchanges[unchecked: down[index: i].xSlot].snapshot.config.timeouts.connect)
        exchanges[unchecked: down[index: i].xSlot].upstream = uh
        exchanges[unchecked: down[index: i].xSlot].reusedUpstream = false
        // Queue the head now; it goes out once the connect completes.
        queueHead(h, uh)
    }

    /// Queues the built head (and any body already buffered) on the upstream.
    func sendHead(_ h: SlabHandle) {
        guard down[index: h.index].hasX, let u = exchanges[unchecked: down[index: h.index].xSlot].upstream else { return }
        queueHead(h, u)
        forwardRequestBody(h)
        flushUp(u)
    }

    private func queueHead(_ h: SlabHandle, _ u: SlabHandle) {
        guard down[index: h.index].hasX else { return }
        let head = exchanges[unchecked: down[index: h.index].xSlot].headBuffer, count = exchanges[unchecked: down[index: h.index].xSlot].headCount
        guard head >= 0 else { return }
        pool.retain(head)
        if !up[index: u.index].out.append(WriteSegment(base: pool.pointer(head), count: count, buffer: head), pool: pool) {
            pool.release(head)
        }
    }

    /// A queued request gets a connection when one frees up.
    func servePending(_ c: Int) {
        while let h = pending[c].first {
            pending[c].removeFirst()
            guard down.contains(h), !down[index: h.index].closed, down[index: h.index].hasX else { continue }
            exchanges[unchecked: down[index: h.index].xSlot].waitingInQueue = false
            acquireUpstream(h)
            return
        }
    }

    // MARK: upstream events

    func upWritable(_ u: SlabHandle) {
        let i = u.index
        if up[index: i].state == .connecting {
            let err = Sys.socketError(up[index: i].fd)
            if err != 0 {
                loop.timers.cancel(timerID(i, .upConnectOrIdle))
                guard let owner = up[index: i].owner else { return closeUp(u) }
                closeUp(u)
                return upstreamFailed(owner, .connectFailure)
            }
            if up[index: i].tls != nil {
                // TCP is up; the connect timeout also bounds the handshake.
                up[index: i].handshaking = true
                return upHandshake(u)
            }
            loop.timers.cancel(timerID(i, .upConnectOrIdle))
            upConnected(u)
        }
        flushUp(u)
        if up[index: i].readWantsWrite && up[index: i].state == .busy {
            up[index: i].readWantsWrite = false
            upReadable(u)
        }
    }

    /// The connection (and its TLS, if any) is up: the request may flow.
    func upConnected(_ u: SlabHandle) {
        let i = u.index
        up[index: i].state = .busy
        if let owner = up[index: i].owner, down.contains(owner) {
            forwardRequestBody(owner)
            // Body bytes may now be read from the client.
            if down[index: owner.index].readPaused { downReadable(owner) }
        }
    }

    /// Writes the upstream's queue; when it has room again, the client may
    /// send more body.
    func flushUp(_ u: SlabHandle) {
        let i = u.index
        guard up[index: i].state == .busy else { return }
        let fd = up[index: i].fd
        let r: FlushResult
        if let tls = up[index: i].tls {
            r = up[index: i].out.flush(pool: pool, scratch: tlsScratch) { tlsWrite(tls, $0, $1) }
        } else {
            r = up[index: i].out.flush(fd, pool: pool)
        }
        switch r {
        case .error:
            if let owner = up[index: i].owner {
                closeUp(u)
                upstreamFailed(owner, .reset)
            } else {
                closeUp(u)
            }
            return
        case .drained, .pending:
            break
        }
        if !up[index: i].out.isFull, let owner = up[index: i].owner, down.contains(owner), down[index: owner.index].readPaused {
            processDown(owner)
            downReadable(owner)
        }
    }

    func upReadable(_ u: SlabHandle) {
        var first = true
        while true {
            let i = u.index
            let st = up[index: i].state
            if st == .closed { return }
            if st == .idle {
                // An idle pooled connection that speaks (or closes) is done: drop it.
                // After a full read that completed a response it has just gone
                // idle, though: then there is simply nothing more to read.
                // Over TLS, records that carry no data (session tickets) may
                // arrive while idle: only data or a close ends it.
                if first && !(up[index: i].tls.map(tlsIdleReadIsQuiet) ?? false) { closeUp(u) }
                return
            }
            first = false
            if st == .connecting { return }
            guard let owner = up[index: i].owner, down.contains(owner) else { closeUp(u); return }
            // Back-pressure: stop reading the upstream while the client's queue is full.
            if down[index: owner.index].out.isFull {
                up[index: i].readPaused = true
                return
            }
            if up[index: i].readPaused && up[index: i].input.start < up[index: i].input.end {
                // Resuming after the client's queue could not take all of the
                // last read (forwardResponseBody left the rest buffered): forward
                // that first; a read would find nothing new and leave it stuck.
                up[index: i].readPaused = false
                processUp(u)
                if up[index: i].state != .busy || up[index: i].owner != owner || up[index: i].readPaused { return }
                continue
            }
            guard let space = upReadSpace(u) else {
                up[index: i].readPaused = true
                return
            }
            up[index: i].readPaused = false
            let fd = up[index: i].fd
            let at = pool.pointer(up[index: i].input.id) + up[index: i].input.end
            let tls = up[index: i].tls
            let result = tls == nil ? Sys.read(fd, at, space) : tlsRead(tls!, at, space, wantsWrite: &up[index: i].readWantsWrite)
            switch result {
            case .bytes(let n):
                up[index: i].input.end += n
                up[index: i].responseBytes += n
                processUp(u)
                if n < space && !up[index: i].hangupSeen && tls == nil { return }
            case .eof:
                upstreamEOF(u)
                return
            case .wouldBlock:
                return
            case .error:
                upstreamEOF(u, reset: true)
                return
            }
        }
    }

    private func upReadSpace(_ u: SlabHandle) -> Int? {
        up[index: u.index].input.makeSpace(pool, allowLarge: false)
    }

    func upTimeout(_ u: SlabHandle) {
        let i = u.index
        switch up[index: i].state {
        case .connecting:
            let owner = up[index: i].owner
            let handshaking = up[index: i].handshaking
            if handshaking {
                // TCP was up: the TLS handshake is what stalled.
                stats.tlsHandshakeErrors.add(1, ordering: .relaxed)
                logTLS("handshake with \(upstreamName(u)) timed out")
            }
            closeUp(u)
            if let o = owner { upstreamFailed(o, handshaking ? .tlsFailure : .connectFailure) }
        case .idle:
            closeUp(u, graceful: true)
        default:
            break
        }
    }

    /// The upstream closed. For a close-delimited body that is the end;
    /// otherwise the exchange failed (retried when nothing was received).
    func upstreamEOF(_ u: SlabHandle, reset: Bool = false) {
        let i = u.index
        guard let owner = up[index: i].owner, down.contains(owner), down[index: owner.index].hasX else {
            closeUp(u)
            return
        }
        let x = exchanges[unchecked: down[index: owner.index].xSlot]
        if !reset, case .untilClose = x.respBody {
            up[index: i].keepAlive = false
            finishResponse(owner)
            return
        }
        if case .tunnel = x.respBody {
            closeUp(u)
            down[index: owner.index].closeAfterFlush = true
            var xx = x
            xx.responseDone = true
            exchanges[unchecked: down[index: owner.index].xSlot] = xx
            flushDown(owner)
            return
        }
        closeUp(u)
        upstreamFailed(owner, reset ? .reset : (x.responseHeadSent ? .reset : (up[index: i].responseBytes > 0 ? .badResponse : .reset)))
    }

    /// Detaches and closes the exchange's upstream (it cannot be reused).
    func abandonUpstream(_ h: SlabHandle) {
        guard down[index: h.index].hasX else { return }
        var x = exchanges[unchecked: down[index: h.index].xSlot]
        if x.waitingInQueue, x.cluster >= 0, x.cluster < pending.count {
            pending[x.cluster].removeAll { $0 == h }
            x.waitingInQueue = false
        }
        if let u = x.upstream, up.contains(u) { closeUp(u) }
        x.upstream = nil
        if x.headBuffer >= 0 { pool.release(x.headBuffer); x.headBuffer = -1 }
        exchanges[unchecked: down[index: h.index].xSlot] = x
    }

    /// Closes an upstream connection; `graceful` (a finished or idle one)
    /// sends TLS close_notify first.
    func closeUp(_ u: SlabHandle, graceful: Bool = false) {
        let i = u.index
        guard up.contains(u), up[index: i].state != .closed else { return }
        var s = up[index: i]
        let wasIdle = s.state == .idle
        s.state = .closed
        s.out.discard(pool: pool)
        s.input.release(pool)
        up[index: i] = s
        loop.timers.cancel(timerID(i, .upConnectOrIdle))
        s.tls?.free(graceful: graceful && s.out.isEmpty)
        up[index: i].tls = nil
        Sys.close(s.fd)
        deadUp.append(u)
        shard.adjustGauge(s.gaugeSlot, by: -1)
        if s.clusterEpoch == clusterEpoch && s.cluster < connCount.count && s.endpoint < connCount[s.cluster].count {
            connCount[s.cluster][s.endpoint] -= 1
            if !wasIdle { activeRequests[s.cluster][s.endpoint] -= 1 }
            if wasIdle { idle[s.cluster][s.endpoint].removeAll { $0 == u } }
            if let o = s.owner, down.contains(o), down[index: o.index].hasX, exchanges[unchecked: down[index: o.index].xSlot].upstream == u {
                exchanges[unchecked: down[index: o.index].xSlot].upstream = nil
            }
            servePending(s.cluster)
        }
    }

    /// Returns a finished connection to its endpoint's idle pool.
    func releaseUpstream(_ u: SlabHandle) {
        let i = u.index
        var s = up[index: i]
        guard s.keepAlive, s.clusterEpoch == clusterEpoch, s.input.start == s.input.end, s.out.isEmpty, !draining else {
            return closeUp(u, graceful: true)
        }
        // Input OpenSSL read ahead past the response: records without data
        // (a session ticket) are fine; bytes past the response are not, or
        // they would begin the next client's response.
        if let t = s.tls, t.hasBufferedInput, !tlsIdleReadIsQuiet(t) {
            return closeUp(u)
        }
        s.state = .idle
        s.owner = nil
        s.readPaused = false
        s.input.release(pool)
        up[index: i] = s
        activeRequests[s.cluster][s.endpoint] -= 1
        idle[s.cluster][s.endpoint].append(u)
        loop.timers.arm(timerID(i, .upConnectOrIdle), at: loop.now + snapshot.config.timeouts.idle)
        if !pending[s.cluster].isEmpty {
            servePending(s.cluster)
        }
    }
}
