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

/// A most-significant-bit-first reader over bytes followed by at least 16 bytes of zero padding:
/// no load leaves the buffer, and past the data the Rice reader's fast path (which checks the end
/// once per run) meets only zeros, which send it to its checked path.
struct BitReader {
    private let base: UnsafePointer<UInt8>
    /// Position in bits from the start.
    private(set) var position = 0
    /// Bits of real data; reading past them is an error.
    let limit: Int

    /// A reader over `byteCount` bytes at `base`, which must be followed by 16 zero bytes: the
    /// Rice reader relies on their being zero to stop at the end of the data (`readRiceRun`).
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

    /// Reads `count` Rice-coded values with parameter `k` into `out`, zigzag-decoded: the bits
    /// ahead are kept left-aligned in a register (at least 32 of them, reloaded with one 8-byte
    /// load), so a value whose code fits costs a leading-zero count and two shifts.
    @inline(__always) mutating func readRiceRun(_ k: Int, into out: UnsafeMutablePointer<Int32>, count: Int) throws(FormatError) {
        var pos = position
        let kk = UInt64(k)
        let lim = limit
        @inline(__always) func load(_ at: Int) -> UInt64 {
            UInt64(bigEndian: UnsafeRawPointer(base + (at &>> 3)).loadUnaligned(as: UInt64.self)) &<< UInt64(at & 7)
        }
        var cache = load(pos)
        var avail = 64 &- (pos & 7)
        var i = 0
        while i < count {
            let z = cache.leadingZeroBitCount
            let n = z &+ 1 &+ k
            var u: UInt64
            if cache != 0 && n <= avail {
                u = UInt64(truncatingIfNeeded: z) &<< kk
                if k > 0 { u |= (cache &<< UInt64(z &+ 1)) &>> (64 &- kk) }
                pos &+= n
                cache = n >= 64 ? 0 : cache &<< UInt64(n)
                avail &-= n
                if avail < 32 {
                    cache = load(pos)
                    avail = 64 &- (pos & 7)
                }
            } else {
                // A long run of zeros, or a code across the register's end: bit by word.
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
                    if pos > lim { throw .truncated(at: lim / 8) }
                }
                u = UInt64(truncatingIfNeeded: q) &<< kk
                if k > 0 {
                    u |= load(pos) &>> (64 &- kk)
                    pos &+= k
                }
                if pos > lim { throw .truncated(at: lim / 8) }
                cache = load(pos)
                avail = 64 &- (pos & 7)
            }
            let v = UInt32(truncatingIfNeeded: u)
            out[i] = Int32(bitPattern: (v &>> 1) ^ (0 &- (v & 1)))
            i &+= 1
        }
        // The fast path reads only bits of the register; past the data they are the zero
        // padding, which sends the next code to the checked path. So a run ends at most one
        // code past the data, which is caught here.
        if pos > lim { throw .truncated(at: lim / 8) }
        position = pos
    }

    /// Reads one Rice-coded value with parameter `k` (see `BitWriter.putRice`), zigzag-decoded.
    @inline(__always) mutating func readRiceSigned(_ k: Int) throws(FormatError) -> Int32 {
        var q = 0
        while true {
            let w = peek()
            if w != 0 {
                let z = w.leadingZeroBitCount
                q &+= z
                position &+= z &+ 1
                break
            }
            q &+= 57
            position &+= 57
            try check()
        }
        var u = UInt64(truncatingIfNeeded: q) &<< UInt64(k)
        if k > 0 {
            u |= peek() &>> UInt64(64 &- k)
            position &+= k
        }
        try check()
        let z = UInt32(truncatingIfNeeded: u)
        return Int32(bitPattern: (z &>> 1) ^ (0 &- (z & 1)))
    }
}
