import DVSCore

/// A most-significant-bit-first bit writer into a growing byte buffer.
///
/// The bits not yet written sit at the top of a 64-bit register (`used` of them, fewer than 8
/// between calls). Each append ORs the new bits in below them, stores the register's 8 bytes
/// big-endian at the write position (unaligned; the buffer keeps 16 bytes of slack) and moves the
/// position on by the whole bytes it holds: no branch on the register's fill, as in zstd's bit
/// stream (`BIT_addBits` / `BIT_flushBits`), turned to MSB-first.
///
/// One owner appends, then `finish` hands the bytes over and frees the buffer (a plain struct,
/// not `~Copyable`, so its small methods inline into the coding loops; never copy it).
struct BitWriter {
    private var bytes: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Whole bytes written.
    private var count = 0
    /// Bits after `count` bytes, at the top of the register (`used` < 8 between calls).
    private var acc: UInt64 = 0
    private var used = 0

    /// A writer with room for `byteCapacity` bytes before it grows.
    init(byteCapacity: Int) {
        capacity = max(64, byteCapacity + 16)
        bytes = .allocate(capacity: capacity)
    }

    /// Bits written so far.
    var bitCount: Int { count &* 8 &+ used }

    /// Makes room for `extra` more bytes plus 16 bytes of slack (a store touches 8).
    @inline(__always) private mutating func reserve(_ extra: Int) {
        if count &+ extra &+ 16 > capacity { grow(count + extra + 16) }
    }

    private mutating func grow(_ needed: Int) {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: max(needed, capacity * 2))
        bigger.update(from: bytes, count: count)  // the pending bits are in `acc`
        bytes.deallocate()
        bytes = bigger
        capacity = max(needed, capacity * 2)
    }

    /// ORs the low `n` bits of `v` in below the pending bits and writes out the whole bytes.
    /// Needs `used + n ≤ 64` and 8 bytes of room at `count`.
    @inline(__always) private mutating func append(_ v: UInt64, _ n: Int) {
        let u = used &+ n
        acc |= v &<< UInt64(truncatingIfNeeded: 64 &- u)
        UnsafeMutableRawPointer(bytes + count).storeBytes(of: acc.bigEndian, as: UInt64.self)
        let whole = u &>> 3
        count &+= whole
        acc = whole == 8 ? 0 : acc &<< UInt64(whole &<< 3)
        used = u & 7
    }

    /// Appends the low `n` bits of `v` (0 ≤ n ≤ 32; the other bits of `v` must be zero).
    @inline(__always) mutating func put(_ v: UInt64, _ n: Int) {
        reserve(8)
        append(v, n)
    }

    /// Appends `v` as a two's-complement number of `n` bits (1 ≤ n ≤ 32).
    @inline(__always) mutating func putSigned(_ v: Int32, _ n: Int) {
        put(UInt64(UInt32(bitPattern: v)) & ((1 &<< UInt64(n)) &- 1), n)
    }

    /// Appends `u` Rice-coded with parameter `k` (0 ≤ k ≤ 30): `u >> k` zeros, a one, then the
    /// low `k` bits of `u`.
    @inline(__always) mutating func putRice(_ u: UInt32, _ k: Int) {
        let q = Int(u &>> UInt32(k))
        let low = UInt64(u) & ((1 &<< UInt64(k)) &- 1)
        if q &+ 1 &+ k <= 32 {
            put((1 &<< UInt64(k)) | low, q &+ 1 &+ k)
        } else {
            var zeros = q
            while zeros > 32 {
                put(0, 32)
                zeros &-= 32
            }
            put(0, zeros)
            put(1, 1)
            put(low, k)
        }
    }

    /// Appends `count` values Rice-coded with parameter `k` (as `putRice`). Room for codes of
    /// up to 32 bits is made once for the run, and the register, fill and position live in locals
    /// (a store through the buffer could alias `self`, which would keep them in memory); longer
    /// codes take `putRice`.
    mutating func putRiceRun(_ values: UnsafePointer<UInt32>, count n: Int, k: Int) {
        reserve(n &* 4)
        let kk = UInt64(k)
        let one = 1 &<< kk
        let mask = one &- 1
        var out = bytes
        var c = count
        var a = acc
        var u = used
        var i = 0
        while i < n {
            let v = values[i]
            let len = Int(v &>> UInt32(k)) &+ 1 &+ k
            if len > 32 {
                (count, acc, used) = (c, a, u)
                putRice(v, k)
                reserve((n &- i) &* 4)
                (out, c, a, u) = (bytes, count, acc, used)
            } else {
                let filled = u &+ len
                a |= (one | (UInt64(v) & mask)) &<< UInt64(truncatingIfNeeded: 64 &- filled)
                UnsafeMutableRawPointer(out + c).storeBytes(of: a.bigEndian, as: UInt64.self)
                let whole = filled &>> 3
                c &+= whole
                a &<<= UInt64(whole &<< 3)
                u = filled & 7
            }
            i &+= 1
        }
        (count, acc, used) = (c, a, u)
    }

    /// The bytes written, the last one zero-padded.
    mutating func finish() -> [UInt8] {
        let total = count &+ (used > 0 ? 1 : 0)
        if used > 0 { bytes[count] = UInt8(truncatingIfNeeded: acc &>> 56) }
        let source = bytes
        let out = [UInt8](unsafeUninitializedCapacity: total) { b, n in
            UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: source, byteCount: total)
            n = total
        }
        bytes.deallocate()
        return out
    }
}

/// A most-significant-bit-first reader over bytes followed by `BitReader.padding` zero bytes: no
/// load leaves the buffer, and past the data the Rice reader's fast path (which checks the end
/// once per run) meets only zeros, which send it to its checked path. Once a read has thrown,
/// the reader is done: its position may then lie past the padding, so a further read could load
/// beyond it (`LPCAudio.decode` stops at the first error).
struct BitReader {
    private let base: UnsafePointer<UInt8>
    /// Position in bits from the start.
    private(set) var position = 0
    /// Bits of real data; reading past them is an error.
    let limit: Int

    /// Zero bytes the data must be followed by: every load stays inside them (the Rice reader's
    /// refill reaches 15 bytes past the data), and the Rice reader relies on their being zero to
    /// stop at the end of the data (`readRiceRunPredicted`).
    static let padding = 16

    /// A reader over `byteCount` bytes at `base`, which must be followed by `padding` zero bytes.
    init(_ base: UnsafePointer<UInt8>, byteCount: Int) {
        self.base = base
        limit = byteCount * 8
    }

    @inline(__always) private func peek() -> UInt64 {
        let w = UInt64(bigEndian: UnsafeRawPointer(base + (position &>> 3)).loadUnaligned(as: UInt64.self))
        return w &<< UInt64(position & 7)
    }

    /// Throws when the position has passed the data.
    @inline(__always) func check() throws(FormatError) {
        if position > limit { throw .truncated(at: limit / 8) }
    }

    /// Reads `n` bits (0 ≤ n ≤ 56) as an unsigned number.
    @inline(__always) mutating func read(_ n: Int) throws(FormatError) -> UInt64 {
        if n == 0 { return 0 }
        let v = peek() &>> UInt64(64 &- n)
        position &+= n
        try check()
        return v
    }

    /// Reads an `n`-bit two's-complement number (1 ≤ n ≤ 32).
    @inline(__always) mutating func readSigned(_ n: Int) throws(FormatError) -> Int32 {
        let v = try read(n)
        return Int32(truncatingIfNeeded: Int64(bitPattern: v &<< UInt64(64 &- n)) &>> Int64(64 &- n))
    }

    /// Reads `count` Rice-coded values with parameter `k` into `out`, zigzag-decoded
    /// (`readRiceRunPredicted` with no prediction).
    mutating func readRiceRun(_ k: Int, into out: UnsafeMutablePointer<Int32>, count: Int) throws(FormatError) {
        try readRiceRunPredicted(k, into: out, range: 0..<count, restorer: NoPrediction())
    }

    /// Reads Rice-coded residuals with parameter `k` and rebuilds each sample from its residual
    /// as it goes (`restorer`: PCM adds the prediction, `s[i] = residual + predictor(s, i)`;
    /// G.711 maps the rank nearest the prediction), for `i` in `range`, the samples before
    /// `range.lowerBound` already rebuilt. Reading and predicting in one loop lets the bit
    /// reader's chain of dependent steps and the predictor's multiplies overlap in the processor
    /// (decode 31 % faster on 16 kHz mono than one pass after the other; bench/README.md).
    ///
    /// The bits ahead sit left-aligned in a 64-bit register, refilled before every code without
    /// a branch ("Reading bits in far too many ways", F. Giesen 2018, variant 4): one 8-byte load
    /// at the byte after those held, shifted in below them, then the byte position moves on by
    /// the whole bytes that fitted, so at least 56 bits are held. A code that fits costs a
    /// leading-zero count and two shifts: its one bit and the `k` bits after it are
    /// `(register << z) >> (63 − k)`, which is `2^k + low`, so no branch on `k` either. Only a
    /// code longer than the bits held takes a branch, to `slowRice`.
    /// - Precondition: the restorer may read up to 12 samples before `range.lowerBound`
    ///   (`BlockDecoder`'s rows have zeroed room in front).
    /// - Throws: `.truncated` when a code runs past the data.
    @inline(__always) mutating func readRiceRunPredicted<R: ResidualRestorer>(
        _ k: Int, into s: UnsafeMutablePointer<Int32>, range: Range<Int>, restorer: R
    ) throws(FormatError) {
        let base = self.base
        let kk = UInt64(truncatingIfNeeded: k)
        let right = UInt64(truncatingIfNeeded: 63 &- k)
        let lead = UInt64(1) &<< kk
        let lim = limit
        @inline(__always) func load(_ byte: Int) -> UInt64 {
            UInt64(bigEndian: UnsafeRawPointer(base + byte).loadUnaligned(as: UInt64.self))
        }
        var next = 0
        var held = 0
        var reg: UInt64 = 0
        @inline(__always) func start(at pos: Int) {
            next = (pos &>> 3) &+ 7
            held = 56 &- (pos & 7)
            reg = load(pos &>> 3) &<< UInt64(truncatingIfNeeded: pos & 7)
        }
        // The register holds the bits from `next · 8 − held` on; the bits past `held` are the
        // stream's too (a refill ORs the same bits in again), so a leading-zero count may see
        // past `held`, but a code is taken only when it ends within it. 0 ≤ held ≤ 63.
        start(at: position)
        var pos = 0
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            reg |= load(next) &>> UInt64(truncatingIfNeeded: held)
            next &+= (63 &- held) &>> 3
            held |= 56
            let z = reg.leadingZeroBitCount
            let n = z &+ 1 &+ k
            var u: UInt64
            if n <= held {
                u = (UInt64(truncatingIfNeeded: z) &<< kk) &+ ((reg &<< UInt64(truncatingIfNeeded: z)) &>> right) &- lead
                reg &<<= UInt64(truncatingIfNeeded: n)
                held &-= n
            } else {
                (u, pos) = try slowRice(at: next &* 8 &- held, k)
                start(at: pos)
            }
            let v = UInt32(truncatingIfNeeded: u)
            restorer.restore(Int32(bitPattern: (v &>> 1) ^ (0 &- (v & 1))), into: s, at: i)
            i &+= 1
        }
        // Past the data the register holds the zero padding, whose all-zero bits send the next
        // code to `slowRice`, which checks the end; so a run ends at most `k` bits past the data
        // (a code whose one bit is the data's last), which is caught here. A refill loads 8
        // bytes at the byte after the bits held, an address set by where the code before
        // started, which was inside the data: no load reaches more than 15 bytes past it
        // (`BitReader.padding`; BitIOTests puts the padding right before an unmapped page).
        pos = next &* 8 &- held
        if pos > lim { throw .truncated(at: lim / 8) }
        position = pos
    }

    /// One Rice code with parameter `k` starting at bit `start`, read word by word (a run of
    /// zeros longer than the register, or a single code): the value before zigzag decoding and
    /// the position after.
    /// - Throws: `.truncated` when the code runs past the data.
    @inline(never) func slowRice(at start: Int, _ k: Int) throws(FormatError) -> (UInt64, Int) {
        var pos = start
        @inline(__always) func load(_ at: Int) -> UInt64 {
            UInt64(bigEndian: UnsafeRawPointer(base + (at &>> 3)).loadUnaligned(as: UInt64.self)) &<< UInt64(at & 7)
        }
        var q = 0
        while true {
            let w = load(pos)
            if w != 0 {
                let lz = w.leadingZeroBitCount
                q &+= lz
                pos &+= lz &+ 1
                break
            }
            q &+= 57
            pos &+= 57
            if pos > limit { throw .truncated(at: limit / 8) }
        }
        var u = UInt64(truncatingIfNeeded: q) &<< UInt64(k)
        if k > 0 {
            u |= load(pos) &>> UInt64(64 &- k)
            pos &+= k
        }
        if pos > limit { throw .truncated(at: limit / 8) }
        return (u, pos)
    }

    /// Reads one Rice-coded value with parameter `k` (see `BitWriter.putRice`), zigzag-decoded
    /// (`slowRice`, word by word).
    @inline(__always) mutating func readRiceSigned(_ k: Int) throws(FormatError) -> Int32 {
        let (u, after) = try slowRice(at: position, k)
        position = after
        let z = UInt32(truncatingIfNeeded: u)
        return Int32(bitPattern: (z &>> 1) ^ (0 &- (z & 1)))
    }
}

/// How `BitReader.readRiceRunPredicted` rebuilds a sample from its residual.
protocol ResidualRestorer {
    /// Writes sample `i` (and whatever the restorer keeps beside it) from its residual.
    func restore(_ residual: Int32, into s: UnsafeMutablePointer<Int32>, at i: Int)
}

/// No prediction: `readRiceRun`'s plain residuals.
struct NoPrediction: ResidualRestorer {
    @inline(__always) func restore(_ residual: Int32, into s: UnsafeMutablePointer<Int32>, at i: Int) { s[i] = residual }
}

/// A linear predictor of one sample from the ones before it: `(Σ cⱼ·s[i−1−j]) >> shift`
/// (RFC 9639 §9.2.5; the arithmetic of `BlockDecoder.restore` and `restoreG711`, which it must
/// match bit for bit). As a restorer it rebuilds PCM: the residual plus the prediction,
/// truncated to 32 bits.
protocol LinearPredictor: ResidualRestorer {
    /// The prediction of `s[i]` from `s[i−1]`, `s[i−2]`, … (reads 4, 8 or 12 samples back),
    /// before truncation to 32 bits.
    func predictWide(_ s: UnsafePointer<Int32>, _ i: Int) -> Int64
}

extension LinearPredictor {
    @inline(__always) func restore(_ residual: Int32, into s: UnsafeMutablePointer<Int32>, at i: Int) {
        s[i] = residual &+ Int32(truncatingIfNeeded: predictWide(s, i))
    }
}

/// G.711 (`LPCAudio`'s rank coding): the prediction runs on the linear values in `linear`, the
/// residual is the difference between the sample's rank and the rank nearest the prediction;
/// writes the rank − 128 into `s` and its linear value into `linear` (`restoreG711`'s
/// arithmetic, which it must match bit for bit).
struct G711Restorer<P: LinearPredictor>: ResidualRestorer {
    let predictor: P
    let linear: UnsafeMutablePointer<Int32>
    /// `G711Law.linearOfRank` and `nearestRank`.
    let linearOfRank: UnsafePointer<Int32>
    let nearestRank: UnsafePointer<UInt8>

    @inline(__always) func restore(_ residual: Int32, into s: UnsafeMutablePointer<Int32>, at i: Int) {
        let p = min(32767, max(-32768, predictor.predictWide(linear, i)))
        let rank = UInt8(truncatingIfNeeded: Int32(nearestRank[Int(p) &+ 32768]) &+ residual)
        s[i] = Int32(rank) &- 128
        linear[i] = linearOfRank[Int(rank)]
    }
}

/// Orders 1–4, the coefficients zero-padded to four.
struct LinearPredictor4: LinearPredictor {
    let c0, c1, c2, c3: Int64
    let shift: Int64

    init(_ c: UnsafePointer<Int32>, shift: Int) {
        (c0, c1, c2, c3) = (Int64(c[0]), Int64(c[1]), Int64(c[2]), Int64(c[3]))
        self.shift = Int64(shift)
    }

    @inline(__always) func predictWide(_ s: UnsafePointer<Int32>, _ i: Int) -> Int64 {
        let sum = (c0 &* Int64(s[i &- 1]) &+ c1 &* Int64(s[i &- 2])) &+ (c2 &* Int64(s[i &- 3]) &+ c3 &* Int64(s[i &- 4]))
        return sum &>> shift
    }
}

/// Orders 5–8, the coefficients zero-padded to eight.
struct LinearPredictor8: LinearPredictor {
    let c0, c1, c2, c3, c4, c5, c6, c7: Int64
    let shift: Int64

    init(_ c: UnsafePointer<Int32>, shift: Int) {
        (c0, c1, c2, c3) = (Int64(c[0]), Int64(c[1]), Int64(c[2]), Int64(c[3]))
        (c4, c5, c6, c7) = (Int64(c[4]), Int64(c[5]), Int64(c[6]), Int64(c[7]))
        self.shift = Int64(shift)
    }

    @inline(__always) func predictWide(_ s: UnsafePointer<Int32>, _ i: Int) -> Int64 {
        let a = (c0 &* Int64(s[i &- 1]) &+ c1 &* Int64(s[i &- 2])) &+ (c2 &* Int64(s[i &- 3]) &+ c3 &* Int64(s[i &- 4]))
        let b = (c4 &* Int64(s[i &- 5]) &+ c5 &* Int64(s[i &- 6])) &+ (c6 &* Int64(s[i &- 7]) &+ c7 &* Int64(s[i &- 8]))
        return (a &+ b) &>> shift
    }
}

/// Orders 9–12, the coefficients zero-padded to twelve.
struct LinearPredictor12: LinearPredictor {
    let c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11: Int64
    let shift: Int64

    init(_ c: UnsafePointer<Int32>, shift: Int) {
        (c0, c1, c2, c3) = (Int64(c[0]), Int64(c[1]), Int64(c[2]), Int64(c[3]))
        (c4, c5, c6, c7) = (Int64(c[4]), Int64(c[5]), Int64(c[6]), Int64(c[7]))
        (c8, c9, c10, c11) = (Int64(c[8]), Int64(c[9]), Int64(c[10]), Int64(c[11]))
        self.shift = Int64(shift)
    }

    @inline(__always) func predictWide(_ s: UnsafePointer<Int32>, _ i: Int) -> Int64 {
        let a = (c0 &* Int64(s[i &- 1]) &+ c1 &* Int64(s[i &- 2])) &+ (c2 &* Int64(s[i &- 3]) &+ c3 &* Int64(s[i &- 4]))
        let b = (c4 &* Int64(s[i &- 5]) &+ c5 &* Int64(s[i &- 6])) &+ (c6 &* Int64(s[i &- 7]) &+ c7 &* Int64(s[i &- 8]))
        let c = (c8 &* Int64(s[i &- 9]) &+ c9 &* Int64(s[i &- 10])) &+ (c10 &* Int64(s[i &- 11]) &+ c11 &* Int64(s[i &- 12]))
        return (a &+ b &+ c) &>> shift
    }
}
