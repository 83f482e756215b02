import Foundation

/// What kind of thing a tree entry is. Raw values are the on-disk codes (`schema/FORMAT.md`).
public enum FileKind: UInt8, Sendable, Codable {
    /// A regular file.
    case file = 0
    /// A regular file with an executable bit set (restored as mode 0755).
    case executable = 1
    /// A symbolic link; its target text is stored, never followed.
    case symlink = 2
}

/// What decoding an audio file with libsndfile told us. Pure data; no I/O here.
public struct AudioFacts: Hashable, Sendable, Codable {
    /// Container, in libsndfile's major-format names: `WAV`, `WAVEX`, `RF64`, `FLAC`, `OGG`, `MPEG`, …
    public var container: String
    /// Sample encoding, in libsndfile's subtype names: `PCM_16`, `PCM_24`, `FLOAT`, `ULAW`, `ALAW`, `VORBIS`, `OPUS`, …
    public var encoding: String
    /// Frames per second (Hz).
    public var sampleRate: Int
    /// Interleaved channels per frame.
    public var channelCount: Int
    /// Frames (samples per channel) that decode.
    public var frameCount: Int
    /// Per-channel absolute peak, 0…1 of full scale (1.5 for a float file that clips); empty when
    /// not measured (format 1 manifests).
    public var peak: ChannelLevels
    /// Per-channel RMS level, 0…1 of full scale (0 for digital silence); empty when not measured.
    public var rms: ChannelLevels

    /// Creates facts from their parts.
    public init(
        container: String, encoding: String, sampleRate: Int, channelCount: Int, frameCount: Int, peak: ChannelLevels = [],
        rms: ChannelLevels = []
    ) {
        self.container = container
        self.encoding = encoding
        self.sampleRate = sampleRate
        self.channelCount = channelCount
        self.frameCount = frameCount
        self.peak = peak
        self.rms = rms
    }

    /// Per-channel RMS in dBFS (20·log10 rms); nil for a channel of digital silence.
    public var rmsDBFS: [Double?] { rms.map { $0 > 0 ? 20 * log10(Double($0)) : nil } }

    /// Channels whose peak is 0 (digital silence), from 0.
    public var silentChannels: [Int] { peak.indices.filter { peak[$0] == 0 } }

    /// Length in seconds: `frameCount / sampleRate` (0 when the rate is 0).
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / Double(sampleRate) : 0 }
    /// Length in whole microseconds, the unit aggregates are summed in.
    public var durationMicroseconds: UInt64 {
        sampleRate > 0 ? UInt64(frameCount) * 1_000_000 / UInt64(sampleRate) : 0
    }
}

/// One level per channel (peak or RMS, fractions of full scale), kept inline for mono and
/// two-channel audio.
///
/// Most samples have one or two channels; an `[Float]` per level costs a 32-byte heap object plus
/// its elements (≈96 bytes for a mono file's peak and RMS), which at 1,000,000 samples held in one
/// commit is ≈90 MiB. Up to two values live in the struct itself; more go to an array.
public struct ChannelLevels: RandomAccessCollection, MutableCollection, ExpressibleByArrayLiteral, Hashable, Sendable, Codable {
    private enum Storage: Sendable {
        case inline(count: UInt8, Float, Float)
        case heap([Float])
    }
    private var storage: Storage

    /// No levels (not measured).
    public init() { storage = .inline(count: 0, 0, 0) }

    /// The levels of `values`, one per channel in channel order.
    public init<S: Sequence>(_ values: S) where S.Element == Float {
        self.init()
        for v in values { append(v) }
    }

    /// The levels listed, one per channel in channel order.
    public init(arrayLiteral elements: Float...) { self.init(elements) }

    /// Index of the first channel: 0.
    public var startIndex: Int { 0 }
    /// The channel count measured.
    public var endIndex: Int {
        switch storage {
        case .inline(let n, _, _): Int(n)
        case .heap(let a): a.count
        }
    }

    /// The level of channel `i` (from 0); `i` must be below `count`.
    public subscript(i: Int) -> Float {
        get {
            switch storage {
            case .inline(let n, let a, let b):
                precondition(i >= 0 && i < Int(n), "channel level index out of range")
                return i == 0 ? a : b
            case .heap(let values): return values[i]
            }
        }
        set {
            switch storage {
            case .inline(let n, let a, let b):
                precondition(i >= 0 && i < Int(n), "channel level index out of range")
                storage = i == 0 ? .inline(count: n, newValue, b) : .inline(count: n, a, newValue)
            case .heap(var values):
                storage = .inline(count: 0, 0, 0)
                values[i] = newValue
                storage = .heap(values)
            }
        }
    }

    /// Adds the next channel's level.
    public mutating func append(_ value: Float) {
        switch storage {
        case .inline(0, _, _): storage = .inline(count: 1, value, 0)
        case .inline(1, let a, _): storage = .inline(count: 2, a, value)
        case .inline(_, let a, let b): storage = .heap([a, b, value])
        case .heap(var values):
            storage = .inline(count: 0, 0, 0)
            values.append(value)
            storage = .heap(values)
        }
    }

    /// Equal when the same levels, channel by channel.
    public static func == (l: ChannelLevels, r: ChannelLevels) -> Bool { l.elementsEqual(r) }

    /// Hashes the count and each level.
    public func hash(into h: inout Hasher) {
        h.combine(count)
        for v in self { h.combine(v) }
    }

    /// Decodes a JSON array of numbers.
    /// - Throws: `DecodingError` when the value is not an array of numbers.
    public init(from decoder: any Decoder) throws { self.init(try [Float](from: decoder)) }

    /// Encodes as a JSON array of numbers.
    /// - Throws: what the encoder throws.
    public func encode(to encoder: any Encoder) throws { try Array(self).encode(to: encoder) }
}

/// One file of a snapshot.
public struct ManifestEntry: Hashable, Sendable {
    /// Where the file is in the tree.
    public var path: RepoPath
    /// File, executable or symlink.
    public var kind: FileKind
    /// SHA-256 of the file's bytes (for a symlink, of its target text).
    public var blob: ObjectID
    /// Size of the original bytes.
    public var byteCount: UInt64
    /// For a symlink, its target bytes; empty otherwise.
    public var linkTarget: [UInt8]
    /// Present when the file decodes as audio: it is then a *sample*.
    public var audio: AudioFacts?
    /// What the tree's label tables and sidecars say about this sample (nil when nothing does).
    public var annotations: SampleAnnotations?

    /// Creates an entry.
    public init(
        path: RepoPath, kind: FileKind, blob: ObjectID, byteCount: UInt64, linkTarget: [UInt8] = [], audio: AudioFacts? = nil,
        annotations: SampleAnnotations? = nil
    ) {
        self.path = path
        self.kind = kind
        self.blob = blob
        self.byteCount = byteCount
        self.linkTarget = linkTarget
        self.audio = audio
        self.annotations = annotations
    }

    /// Whether two entries hold the same content in the same way (ignores audio facts, which follow from content).
    public func sameContent(as other: ManifestEntry) -> Bool {
        kind == other.kind && blob == other.blob
    }
}

/// Totals over a set of entries; inner manifest chunks store them for their subtree.
public struct ManifestTotals: Hashable, Sendable, Codable {
    /// Number of entries.
    public var fileCount: UInt64 = 0
    /// Entries that are audio samples.
    public var sampleCount: UInt64 = 0
    /// Sum of original sizes.
    public var byteCount: UInt64 = 0
    /// Sum of sample durations, in microseconds.
    public var audioMicroseconds: UInt64 = 0

    /// Zero totals.
    public init() {}

    /// Adds one entry (each sum stops at `UInt64.max` rather than overflowing).
    public mutating func add(_ e: ManifestEntry) {
        fileCount = Self.sum(fileCount, 1)
        byteCount = Self.sum(byteCount, e.byteCount)
        if let a = e.audio {
            sampleCount = Self.sum(sampleCount, 1)
            audioMicroseconds = Self.sum(audioMicroseconds, a.durationMicroseconds)
        }
    }
    /// Adds other totals (each sum stops at `UInt64.max` rather than overflowing: totals read
    /// from a damaged manifest must not stop the process).
    public mutating func add(_ t: ManifestTotals) {
        fileCount = Self.sum(fileCount, t.fileCount)
        sampleCount = Self.sum(sampleCount, t.sampleCount)
        byteCount = Self.sum(byteCount, t.byteCount)
        audioMicroseconds = Self.sum(audioMicroseconds, t.audioMicroseconds)
    }

    private static func sum(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : s
    }
    /// Audio length in hours.
    public var audioHours: Double { Double(audioMicroseconds) / 3.6e9 }
}

/// One node of a chunked manifest (a content-defined B-tree, "prolly tree").
///
/// Leaves (level 0) hold entries sorted by path bytes; inner nodes hold one reference per child
/// chunk. Chunk boundaries depend only on paths (`ManifestChunk.isBoundary`), never on content,
/// so changing *k* files rewrites only the *k* leaves that hold them and their ancestors:
/// O(*k* · log *n*) new bytes per commit. Format: `schema/FORMAT.md` § Manifest chunk.
public enum ManifestChunk: Sendable, Equatable {
    /// Sorted entries.
    case leaf([ManifestEntry])
    /// Children at `level` (≥ 1), in path order.
    case inner(level: Int, children: [ChildRef])

    /// A reference from an inner chunk to a child chunk.
    public struct ChildRef: Sendable, Equatable {
        /// The child chunk's object id.
        public var id: ObjectID
        /// The first path in the child's subtree.
        public var firstPath: RepoPath
        /// Totals over the child's subtree.
        public var totals: ManifestTotals
        /// Creates a reference.
        public init(id: ObjectID, firstPath: RepoPath, totals: ManifestTotals) {
            self.id = id
            self.firstPath = firstPath
            self.totals = totals
        }
    }

    /// File magic: `DVSM`.
    public static let magic: [UInt8] = Array("DVSM".utf8)
    /// Format version written. Version 2 adds per-channel levels to audio facts and sample
    /// annotations to leaf entries; version 1 chunks are still read.
    public static let version: UInt8 = 2

    /// Whether a chunk at `level` ends after an item whose key is `path`.
    ///
    /// FNV-1a 64-bit (Fowler–Noll–Vo) of the path bytes followed by the level byte; a boundary
    /// when the low 4 bits (leaves, level 0) or 6 bits (inner chunks) are all ones, giving 16
    /// entries per leaf and 64 children per inner chunk on average. Leaves are small because a
    /// leaf entry carries the sample's labels (≈150 bytes): a relabel of *k* scattered samples
    /// rewrites *k* leaves of ≈2.4 KiB rather than of ≈10 KiB.
    public static func isBoundary(_ path: RepoPath, level: Int) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h = (h ^ UInt64(level & 0xFF)) &* 0x0000_0100_0000_01B3
        h ^= h >> 29  // mix high bits down: FNV's low bits alone are weak
        let mask: UInt64 = level == 0 ? 15 : 63
        return h & mask == mask
    }
    /// Hard cap on items per chunk, so one pathological run of paths cannot make a huge chunk.
    public static let maxItems = 2048

    /// Bounds ``decode(_:)`` enforces, far above anything a real tree or recording has, so that a
    /// damaged or hand-made chunk is refused before its numbers reach arithmetic or allocation.
    public enum Bounds {
        /// Channels of one sample (WAV's channel field is 16 bits).
        public static let channels = 65_535
        /// Sample rate, Hz.
        public static let sampleRate = Int(Int32.max)
        /// Frames of one sample (2⁴⁰: years of audio at any rate).
        public static let frames = 1 << 40
        /// Bytes of one file (2⁵²: 4 PiB).
        public static let bytes: UInt64 = 1 << 52
        /// Files under one inner chunk's child (2³²).
        public static let files: UInt64 = 1 << 32
        /// Inner chunk levels (each level multiplies the files by about 64).
        public static let level = 16
    }

    /// The canonical bytes of this chunk.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 4096)
        w.write(Self.magic)
        w.write(byte: Self.version)
        switch self {
        case .leaf(let entries):
            w.write(byte: 0)
            w.write(varint: UInt64(entries.count))
            for e in entries {
                w.write(lengthPrefixed: e.path.bytes)
                w.write(byte: e.kind.rawValue)
                w.write(e.blob.bytes)
                w.write(varint: e.byteCount)
                if e.kind == .symlink { w.write(lengthPrefixed: e.linkTarget) }
                if let a = e.audio {
                    w.write(byte: 1)
                    w.write(lengthPrefixed: Array(a.container.utf8))
                    w.write(lengthPrefixed: Array(a.encoding.utf8))
                    w.write(varint: UInt64(a.sampleRate))
                    w.write(varint: UInt64(a.channelCount))
                    w.write(varint: UInt64(a.frameCount))
                    w.write(varint: UInt64(min(a.peak.count, a.rms.count)))
                    for (p, r) in zip(a.peak, a.rms) {
                        w.write(u32: p.bitPattern)
                        w.write(u32: r.bitPattern)
                    }
                } else {
                    w.write(byte: 0)
                }
                if let n = e.annotations, !n.isEmpty {
                    w.write(byte: 1)
                    w.write(annotations: n)
                } else {
                    w.write(byte: 0)
                }
            }
        case .inner(let level, let children):
            w.write(byte: UInt8(level))
            w.write(varint: UInt64(children.count))
            for c in children {
                w.write(lengthPrefixed: c.firstPath.bytes)
                w.write(c.id.bytes)
                w.write(varint: c.totals.fileCount)
                w.write(varint: c.totals.sampleCount)
                w.write(varint: c.totals.byteCount)
                w.write(varint: c.totals.audioMicroseconds)
            }
        }
        return w.bytes
    }

    /// Decodes canonical bytes. - Throws: `FormatError` for anything malformed, including
    /// unsorted or duplicate paths.
    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> ManifestChunk {
        var r = ByteReader(bytes)
        guard Array(try r.read(count: 4)) == magic else { throw .invalid("not a manifest chunk (bad magic)", at: 0) }
        let version = try r.readByte()
        guard version == 1 || version == Self.version else { throw .invalid("unknown manifest version \(version)", at: 4) }
        let level = Int(try r.readByte())
        let count = try r.readInt(limit: bytes.count)
        if level == 0 {
            var entries: [ManifestEntry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let path = RepoPath(bytes: try r.readLengthPrefixed())
                guard let kind = FileKind(rawValue: try r.readByte()) else { throw .invalid("unknown file kind", at: r.offset) }
                let blob = try r.readID()
                let size = try r.readVarint()
                guard size <= Bounds.bytes else { throw .invalid("file size \(size) out of range", at: r.offset) }
                let target = kind == .symlink ? try r.readLengthPrefixed() : []
                var audio: AudioFacts?
                switch try r.readByte() {
                case 0: break
                case 1:
                    let container = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
                    let encoding = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
                    var facts = AudioFacts(
                        container: container, encoding: encoding, sampleRate: try r.readInt(limit: Bounds.sampleRate),
                        channelCount: try r.readInt(limit: Bounds.channels), frameCount: try r.readInt(limit: Bounds.frames))
                    if version >= 2 {
                        let n = try r.readInt(limit: min(4096, facts.channelCount))
                        for _ in 0..<n {
                            facts.peak.append(Float(bitPattern: try r.readU32()))
                            facts.rms.append(Float(bitPattern: try r.readU32()))
                        }
                    }
                    audio = facts
                default: throw .invalid("bad audio flag", at: r.offset)
                }
                var annotations: SampleAnnotations?
                if version >= 2, try r.readFlag() { annotations = try r.readAnnotations() }
                if let last = entries.last, !(last.path < path) { throw .invalid("paths not sorted or duplicated", at: r.offset) }
                entries.append(
                    ManifestEntry(
                        path: path, kind: kind, blob: blob, byteCount: size, linkTarget: target, audio: audio,
                        annotations: annotations))
            }
            guard r.isAtEnd else { throw .invalid("trailing bytes", at: r.offset) }
            return .leaf(entries)
        }
        guard level <= Bounds.level else { throw .invalid("inner chunk level \(level) out of range", at: 5) }
        guard count > 0 else { throw .invalid("inner chunk without children", at: 6) }
        var children: [ChildRef] = []
        for _ in 0..<count {
            let first = RepoPath(bytes: try r.readLengthPrefixed())
            if let last = children.last, !(last.firstPath < first) {
                throw .invalid("children not sorted by first path, or overlapping", at: r.offset)
            }
            let id = try r.readID()
            var t = ManifestTotals()
            t.fileCount = try r.readVarint()
            guard t.fileCount <= Bounds.files else { throw .invalid("file count \(t.fileCount) out of range", at: r.offset) }
            t.sampleCount = try r.readVarint()
            guard t.sampleCount <= t.fileCount else {
                throw .invalid("sample count \(t.sampleCount) above the file count \(t.fileCount)", at: r.offset)
            }
            t.byteCount = try r.readVarint()
            t.audioMicroseconds = try r.readVarint()
            children.append(ChildRef(id: id, firstPath: first, totals: t))
        }
        guard r.isAtEnd else { throw .invalid("trailing bytes", at: r.offset) }
        return .inner(level: level, children: children)
    }

    /// Splits sorted entries into a tree of chunks.
    ///
    /// - Parameter entries: sorted by path bytes, no duplicates.
    /// - Returns: every chunk with its id and encoding (children before parents), and the root's
    ///   id and totals. An empty tree is one empty leaf.
    /// - Complexity: O(n) encoding and hashing; callers store only chunks they do not have yet.
    public static func build(_ entries: [ManifestEntry]) -> (
        root: ObjectID, totals: ManifestTotals, chunks: [(id: ObjectID, bytes: [UInt8])]
    ) {
        guard !entries.isEmpty else {
            let bytes = ManifestChunk.leaf([]).encoded()
            let id = ObjectID.hashing(bytes)
            return (id, ManifestTotals(), [(id, bytes)])
        }
        let leaves = buildLeaves(entries, final: true).leaves
        let upper = buildInner(leaves.map(\.ref))
        return (upper.root, upper.totals, leaves.map { ($0.ref.id, $0.bytes) } + upper.chunks)
    }

    /// The inner levels over a manifest's leaves, exactly as ``build(_:)`` makes them.
    ///
    /// - Parameter leaves: references to every leaf of the manifest in path order (at least one).
    /// - Returns: the inner chunks (lower levels first) and the root's id and totals; a single
    ///   leaf is its own root (no inner chunk).
    /// - Complexity: O(number of leaves) encoding and hashing (≈ n / 16 references).
    public static func buildInner(_ leaves: [ChildRef]) -> (
        root: ObjectID, totals: ManifestTotals, chunks: [(id: ObjectID, bytes: [UInt8])]
    ) {
        precondition(!leaves.isEmpty, "a manifest has at least one leaf")
        var chunks: [(id: ObjectID, bytes: [UInt8])] = []
        var refs = leaves
        var level = 1
        while refs.count > 1 {
            var next: [ChildRef] = []
            var group: [ChildRef] = []
            func flushInner() {
                let bytes = ManifestChunk.inner(level: level, children: group).encoded()
                let id = ObjectID.hashing(bytes)
                chunks.append((id, bytes))
                var t = ManifestTotals()
                for g in group { t.add(g.totals) }
                next.append(ChildRef(id: id, firstPath: group[0].firstPath, totals: t))
                group.removeAll(keepingCapacity: true)
            }
            for r in refs {
                group.append(r)
                if isBoundary(r.firstPath, level: level) || group.count >= maxItems { flushInner() }
            }
            if !group.isEmpty { flushInner() }
            refs = next
            level += 1
        }
        return (refs[0].id, refs[0].totals, chunks)
    }

    /// Splits sorted entries into leaves as ``build(_:)`` does, given that the entry before the
    /// first one (if any) ended a leaf: the same leaves `build` makes for that stretch.
    ///
    /// - Parameters:
    ///   - entries: sorted by path bytes, no duplicates.
    ///   - final: whether the entries end the manifest, so a last run of entries that no boundary
    ///     ended still becomes a leaf.
    ///   - stopAfter: called after each leaf is cut with the index of its last entry; returning
    ///     true ends the split there (the caller knows the rest is unchanged).
    /// - Returns: the leaves made (reference and encoding each) and how many entries they hold.
    /// - Complexity: O(n) encoding and hashing of the entries consumed.
    public static func buildLeaves(
        _ entries: [ManifestEntry], final: Bool, stopAfter: (Int) -> Bool = { _ in false }
    ) -> (leaves: [(ref: ChildRef, bytes: [UInt8])], consumed: Int) {
        var out: [(ref: ChildRef, bytes: [UInt8])] = []
        let consumed = cutLeaves(entries, final: final) { ref, bytes, last in
            out.append((ref, bytes))
            return stopAfter(last)
        }
        return (out, consumed)
    }

    /// Builds a manifest exactly as ``build(_:)`` does, handing each chunk to `write` as soon as
    /// it is made (leaves in path order, then the inner levels) instead of returning them all, so
    /// the encoded leaves of a million entries are never in memory at once.
    /// - Returns: the root's id and the totals.
    /// - Throws: what `write` throws (nothing more is built after that).
    public static func build(
        _ entries: [ManifestEntry], write: (_ id: ObjectID, _ bytes: [UInt8]) throws -> Void
    ) throws -> (root: ObjectID, totals: ManifestTotals) {
        guard !entries.isEmpty else {
            let bytes = ManifestChunk.leaf([]).encoded()
            let id = ObjectID.hashing(bytes)
            try write(id, bytes)
            return (id, ManifestTotals())
        }
        var refs: [ChildRef] = []
        var failure: (any Error)?
        _ = cutLeaves(entries, final: true) { ref, bytes, _ in
            do { try write(ref.id, bytes) } catch {
                failure = error
                return true
            }
            refs.append(ref)
            return false
        }
        if let failure { throw failure }
        let upper = buildInner(refs)
        for c in upper.chunks { try write(c.id, c.bytes) }
        return (upper.root, upper.totals)
    }

    /// The leaf split of ``buildLeaves(_:final:stopAfter:)``: calls `leaf` with each leaf made and
    /// the index of its last entry; `leaf` returning true ends the split there.
    /// - Returns: how many entries the leaves made hold.
    private static func cutLeaves(
        _ entries: [ManifestEntry], final: Bool, leaf: (_ ref: ChildRef, _ bytes: [UInt8], _ last: Int) -> Bool
    ) -> Int {
        var start = 0
        var totals = ManifestTotals()
        func cut(_ end: Int) -> Bool {
            let slice = Array(entries[start..<end])
            let bytes = ManifestChunk.leaf(slice).encoded()
            let ref = ChildRef(id: ObjectID.hashing(bytes), firstPath: slice[0].path, totals: totals)
            totals = ManifestTotals()
            start = end
            return leaf(ref, bytes, end - 1)
        }
        for i in entries.indices {
            totals.add(entries[i])
            if isBoundary(entries[i].path, level: 0) || i + 1 - start >= maxItems {
                if cut(i + 1) { return start }
            }
        }
        if final && start < entries.count { _ = cut(entries.count) }
        return start
    }
}
