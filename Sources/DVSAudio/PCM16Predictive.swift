import DVSCore

/// The reversible transform behind `BlobCodec.pcm16Predictive`: `PCM16DeltaPlanes` generalised
/// with a second-order fixed predictor and stereo decorrelation.
///
/// Per channel, the residual is `s[n] − s[n−1]` (order 1) or `s[n] − 2·s[n−1] + s[n−2]` (order 2,
/// FLAC's fixed predictor of that order, Robinson 1994 "SHORTEN"), in wrapping 16-bit arithmetic so
/// every input maps to exactly one output. For two channels with `decorrelate`, channel 1 is first
/// replaced by `R − L` (the side channel), which is small when both channels carry the same voice.
/// Residuals are zigzag-mapped and split into a low-byte and a high-byte plane, as in codec 1.
///
/// Payload (before zstd), integers little-endian:
/// ```
/// prefix length u32 | channels u32 | sample bytes n u64 | order u8 (1|2) | decorrelate u8 (0|1) |
/// prefix | low plane (n/2) | high plane (n/2) | suffix
/// ```
public enum PCM16Predictive {
    /// Bytes of the payload header.
    public static let headerLength = 18

    /// Picks the predictor order and stereo decorrelation that minimise the sum of absolute
    /// residuals over a slice of whole frames (a cheap stand-in for the compressed size).
    public static func choose(_ samples: UnsafeRawBufferPointer, channelCount ch: Int) -> (order: Int, decorrelate: Bool) {
        let frames = samples.count / (2 * ch)
        func s(_ f: Int, _ c: Int) -> Int32 {
            Int32(Int16(bitPattern: UInt16(littleEndian: samples.loadUnaligned(fromByteOffset: 2 * (f * ch + c), as: UInt16.self))))
        }
        var cost = [Int64](repeating: 0, count: 4)  // [order1, order2, order1+side, order2+side]
        guard frames > 2 else { return (1, false) }
        for f in 2..<frames {
            for c in 0..<ch {
                let x0 = s(f, c)
                let x1 = s(f - 1, c)
                let x2 = s(f - 2, c)
                cost[0] += Int64(abs(x0 - x1))
                cost[1] += Int64(abs(x0 - 2 * x1 + x2))
                if ch == 2 {
                    if c == 1 {
                        let y0 = x0 - s(f, 0)
                        let y1 = x1 - s(f - 1, 0)
                        let y2 = x2 - s(f - 2, 0)
                        cost[2] += Int64(abs(y0 - y1))
                        cost[3] += Int64(abs(y0 - 2 * y1 + y2))
                    } else {
                        cost[2] += Int64(abs(x0 - x1))
                        cost[3] += Int64(abs(x0 - 2 * x1 + x2))
                    }
                }
            }
        }
        let candidates = ch == 2 ? [0, 1, 2, 3] : [0, 1]
        let best = candidates.min { cost[$0] < cost[$1] }!
        return (best % 2 == 0 ? 1 : 2, best >= 2)
    }

    /// Transforms a RIFF/WAVE file whose layout is 16-bit PCM.
    /// - Returns: the payload, or nil when the file is not 16-bit PCM WAV or has no whole frames.
    /// - Complexity: O(n).
    public static func forward(_ file: UnsafeRawBufferPointer, layout: RIFFLayout, order: Int, decorrelate: Bool) -> [UInt8]? {
        encode(file, layout: layout, headerLength: headerLength, order: order, side: decorrelate && layout.channelCount == 2)
    }

    /// Shared by codecs 1 and 2: the payload with a `headerLength`-byte header (16 for codec 1,
    /// which has no order and side bytes; 18 for codec 2).
    static func encode(_ file: UnsafeRawBufferPointer, layout: RIFFLayout, headerLength: Int, order: Int, side: Bool) -> [UInt8]? {
        guard layout.isPCM16, order == 1 || order == 2 else { return nil }
        let ch = layout.channelCount
        let n = layout.availableDataSize / layout.blockAlign * layout.blockAlign
        guard n > 0 else { return nil }
        let prefixLength = layout.dataOffset
        let suffixStart = prefixLength + n
        var out = [UInt8](repeating: 0, count: headerLength + file.count)
        out.withUnsafeMutableBytes { o in
            o.storeBytes(of: UInt32(prefixLength).littleEndian, toByteOffset: 0, as: UInt32.self)
            o.storeBytes(of: UInt32(ch).littleEndian, toByteOffset: 4, as: UInt32.self)
            o.storeBytes(of: UInt64(n).littleEndian, toByteOffset: 8, as: UInt64.self)
            if headerLength >= 18 {
                o[16] = UInt8(order)
                o[17] = side ? 1 : 0
            }
            o.baseAddress!.advanced(by: headerLength).copyMemory(from: file.baseAddress!, byteCount: prefixLength)
            let low = o.baseAddress!.advanced(by: headerLength + prefixLength).assumingMemoryBound(to: UInt8.self)
            let high = low + n / 2
            let src = file.baseAddress!.advanced(by: prefixLength)
            let count = n / 2
            @inline(__always) func sample(_ i: Int) -> Int16 {
                Int16(bitPattern: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
            for c in 0..<ch {
                var p1: Int16 = 0
                var p2: Int16 = 0
                var i = c
                while i < count {
                    var s = sample(i)
                    if side && c == 1 { s = s &- sample(i - 1) }
                    let d = order == 1 ? s &- p1 : s &- (p1 &<< 1) &+ p2
                    p2 = p1
                    p1 = s
                    let z = UInt16(bitPattern: (d &<< 1) ^ (d >> 15))
                    low[i] = UInt8(truncatingIfNeeded: z)
                    high[i] = UInt8(truncatingIfNeeded: z >> 8)
                    i += ch
                }
            }
            let rest = file.count - suffixStart
            if rest > 0 {
                o.baseAddress!.advanced(by: headerLength + suffixStart).copyMemory(from: file.baseAddress! + suffixStart, byteCount: rest)
            }
        }
        return out
    }

    /// Undoes `forward`.
    /// - Throws: `FormatError` when the payload's header is inconsistent with its length.
    /// - Complexity: O(n).
    public static func inverse(_ payload: UnsafeRawBufferPointer) throws(FormatError) -> [UInt8] {
        guard payload.count >= headerLength else { throw .truncated(at: payload.count) }
        let prefixLength = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        let ch = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let n64 = UInt64(littleEndian: payload.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let order = Int(payload[16])
        let side = payload[17] == 1
        guard ch > 0, ch <= 4096, order == 1 || order == 2, payload[17] <= 1, !side || ch == 2,
            n64 % UInt64(2 * ch) == 0, n64 <= UInt64(payload.count), prefixLength + Int(n64) + headerLength <= payload.count
        else {
            throw .invalid("pcm16 predictive payload header does not fit its length", at: 0)
        }
        return decode(
            payload, headerLength: headerLength, prefixLength: prefixLength, channelCount: ch, sampleBytes: Int(n64), order: order,
            side: side)
    }

    /// Shared by codecs 1 and 2: rebuilds the original from a payload whose header the caller
    /// has validated (`headerLength + prefixLength + sampleBytes ≤ payload.count`).
    static func decode(
        _ payload: UnsafeRawBufferPointer, headerLength: Int, prefixLength: Int, channelCount ch: Int,
        sampleBytes n: Int, order: Int, side: Bool
    ) -> [UInt8] {
        let total = payload.count - headerLength
        // Every byte is written below (prefix, samples, trailer): no zero-fill first.
        var out = [UInt8](unsafeUninitializedCapacity: total) { _, n in n = total }
        out.withUnsafeMutableBytes { o in
            let body = payload.baseAddress! + headerLength
            o.baseAddress!.copyMemory(from: body, byteCount: prefixLength)
            let low = body.advanced(by: prefixLength).assumingMemoryBound(to: UInt8.self)
            let high = low + n / 2
            let dst = o.baseAddress!.advanced(by: prefixLength)
            let count = n / 2
            // Two passes, so the serial part is as short as it can be: first every residual is
            // un-zigzagged from the two planes into place (independent per sample, so the loop
            // vectorises); then each channel's recurrence runs over those 16-bit values in place
            // (order 1: a running sum; order 2: s = e + 2·s₁ − s₂).
            for i in 0..<count {
                let z = UInt16(low[i]) | UInt16(high[i]) << 8
                dst.storeBytes(of: ((z >> 1) ^ (0 &- (z & 1))).littleEndian, toByteOffset: i &<< 1, as: UInt16.self)
            }
            @inline(__always) func load(_ i: Int) -> Int16 {
                Int16(bitPattern: UInt16(littleEndian: dst.loadUnaligned(fromByteOffset: i &<< 1, as: UInt16.self)))
            }
            @inline(__always) func store(_ v: Int16, _ i: Int) {
                dst.storeBytes(of: UInt16(bitPattern: v).littleEndian, toByteOffset: i &<< 1, as: UInt16.self)
            }
            if ch == 2 {
                // Both channels' chains run in the same loop. With `side`, channel 1's chain
                // rebuilds R − L: the left sample of the same frame is added back as it is stored.
                var a1: Int16 = 0
                var a2: Int16 = 0
                var b1: Int16 = 0
                var b2: Int16 = 0
                var i = 0
                if order == 1 {
                    while i + 1 < count {
                        a1 = a1 &+ load(i)
                        b1 = b1 &+ load(i + 1)
                        store(a1, i)
                        store(side ? b1 &+ a1 : b1, i + 1)
                        i += 2
                    }
                } else {
                    while i + 1 < count {
                        let a = load(i) &- a2 &+ (a1 &<< 1)
                        let b = load(i + 1) &- b2 &+ (b1 &<< 1)
                        a2 = a1
                        a1 = a
                        b2 = b1
                        b1 = b
                        store(a, i)
                        store(side ? b &+ a : b, i + 1)
                        i += 2
                    }
                }
            } else if ch == 1 && count >= 4 * 1024 {
                // Mono: the one chain is cut into four runs solved side by side from a zero
                // state (four independent adds per step instead of one long chain), then each
                // run after the first gets its true start added: the recurrence is linear, and
                // with no residuals it continues the previous run's last value (order 1) or last
                // two values' straight line (order 2), so adding that line fixes the run exactly
                // (wrapping 16-bit arithmetic throughout).
                // Index arithmetic wraps (it cannot overflow: i < count): checked arithmetic
                // would keep these loops from vectorising.
                let len = count / 4
                let l2 = len &* 2
                let l3 = len &* 3
                var a1: Int16 = 0
                var a2: Int16 = 0
                var b1: Int16 = 0
                var b2: Int16 = 0
                var c1: Int16 = 0
                var c2: Int16 = 0
                var d1: Int16 = 0
                var d2: Int16 = 0
                if order == 1 {
                    for j in 0..<len {
                        a1 = a1 &+ load(j)
                        b1 = b1 &+ load(len &+ j)
                        c1 = c1 &+ load(l2 &+ j)
                        d1 = d1 &+ load(l3 &+ j)
                        store(a1, j)
                        store(b1, len &+ j)
                        store(c1, l2 &+ j)
                        store(d1, l3 &+ j)
                    }
                    for i in (len &* 4)..<count {
                        d1 = d1 &+ load(i)
                        store(d1, i)
                    }
                } else {
                    for j in 0..<len {
                        let a = load(j) &- a2 &+ (a1 &<< 1)
                        let b = load(len &+ j) &- b2 &+ (b1 &<< 1)
                        let c = load(l2 &+ j) &- c2 &+ (c1 &<< 1)
                        let d = load(l3 &+ j) &- d2 &+ (d1 &<< 1)
                        a2 = a1
                        a1 = a
                        b2 = b1
                        b1 = b
                        c2 = c1
                        c1 = c
                        d2 = d1
                        d1 = d
                        store(a, j)
                        store(b, len &+ j)
                        store(c, l2 &+ j)
                        store(d, l3 &+ j)
                    }
                    for i in (len &* 4)..<count {
                        let d = load(i) &- d2 &+ (d1 &<< 1)
                        d2 = d1
                        d1 = d
                        store(d, i)
                    }
                }
                for k in 1..<4 {
                    let start = k &* len
                    let end = k == 3 ? count : start &+ len
                    let p1 = load(start &- 1)
                    let slope = order == 1 ? 0 : p1 &- load(start &- 2)
                    var add = p1 &+ slope
                    for i in start..<end {
                        store(load(i) &+ add, i)
                        add = add &+ slope
                    }
                }
            } else {
                for c in 0..<ch {
                    var p1: Int16 = 0
                    var p2: Int16 = 0
                    var i = c
                    if order == 1 {
                        while i < count {
                            p1 = p1 &+ load(i)
                            store(p1, i)
                            i += ch
                        }
                    } else {
                        while i < count {
                            let v = load(i) &- p2 &+ (p1 &<< 1)
                            p2 = p1
                            p1 = v
                            store(v, i)
                            i += ch
                        }
                    }
                }
            }
            let rest = total - prefixLength - n
            if rest > 0 { (o.baseAddress! + prefixLength + n).copyMemory(from: body + prefixLength + n, byteCount: rest) }
        }
        return out
    }
}
