import SluiceCore

/// The per-request choice between active and preview (SPEC §4).
public enum Split {
    /// Chooses the backend for one request.
    ///  - `override`: a backend named by the route's override header wins.
    ///  - `stickyBucket`: a key's bucket in [0, 10000); buckets below the
    ///    preview's basis points go to the preview, so raising the preview's
    ///    weight only moves keys from active to preview.
    ///  - otherwise a weighted draw from `rng`.
    /// A route without a preview always answers `.active`.
    @inline(__always)
    public static func choose<R: RandomNumberGenerator>(_ route: Route, override: Backend?, stickyBucket: UInt32?,
                                                        rng: inout R) -> Backend {
        guard route.previewCluster != nil else { return .active }
        if let o = override { return o }
        let w = route.weights
        if let bucket = stickyBucket { return bucket < w.previewBasisPoints ? .preview : .active }
        if w.preview == 0 { return .active }
        if w.active == 0 { return .preview }
        let draw = rng.next().multipliedFullWidth(by: w.total).high
        return draw < UInt64(w.preview) ? .preview : .active
    }

    /// The sticky bucket of a key: FNV-1a over its bytes, then a
    /// multiply-shift into [0, 10000). Stable across processes and versions.
    public static func bucket(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01B3
        }
        // Finalise (murmur3 fmix64) so nearby keys spread over the buckets.
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return UInt32(h.multipliedFullWidth(by: 10_000).high)
    }

    public static func bucket(_ key: String) -> UInt32 {
        var k = key
        return k.withUTF8 { bucket(UnsafeRawBufferPointer($0)) }
    }

    /// Reads an override header's value: "active" or "preview" (ASCII case
    /// ignored); anything else is no override.
    public static func parseOverride(_ value: UnsafeRawBufferPointer) -> Backend? {
        if equalsLowercase(value, "active") { return .active }
        if equalsLowercase(value, "preview") { return .preview }
        return nil
    }

    /// Finds cookie `name` in a Cookie header value ("a=1; b=2") and returns
    /// the range of its value, or nil (RFC 6265 §5.4 syntax).
    public static func cookieValue(_ header: UnsafeRawBufferPointer, name: String) -> Range<Int>? {
        var nm = name
        return nm.withUTF8 { n -> Range<Int>? in
            var i = 0
            let c = header.count
            while i < c {
                while i < c && (header[i] == 0x20 || header[i] == 0x09 || header[i] == UInt8(ascii: ";")) { i += 1 }
                let ns = i
                while i < c && header[i] != UInt8(ascii: "=") && header[i] != UInt8(ascii: ";") { i += 1 }
                var ne = i
                while ne > ns && (header[ne - 1] == 0x20 || header[ne - 1] == 0x09) { ne -= 1 }
                var vs = i, ve = i
                if i < c && header[i] == UInt8(ascii: "=") {
                    i += 1
                    while i < c && (header[i] == 0x20 || header[i] == 0x09) { i += 1 }
                    vs = i
                    while i < c && header[i] != UInt8(ascii: ";") { i += 1 }
                    ve = i
                    while ve > vs && (header[ve - 1] == 0x20 || header[ve - 1] == 0x09) { ve -= 1 }
                    // A quoted value's quotes are not part of the key.
                    if ve - vs >= 2 && header[vs] == 0x22 && header[ve - 1] == 0x22 { vs += 1; ve -= 1 }
                }
                if ne - ns == n.count && memcmpRaw(header.baseAddress! + ns, UnsafeRawPointer(n.baseAddress!), n.count) {
                    return vs..<ve
                }
            }
            return nil
        }
    }

    @inline(__always)
    static func equalsLowercase(_ v: UnsafeRawBufferPointer, _ lit: StaticString) -> Bool {
        guard v.count == lit.utf8CodeUnitCount else { return false }
        let l = lit.utf8Start
        for i in 0..<v.count {
            let c = v[i]
            let lc = (c &- 0x41) < 26 ? c | 0x20 : c
            if lc != l[i] { return false }
        }
        return true
    }
}
