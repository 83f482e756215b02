import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The index of a packed blob store: which pack holds each blob (the catalog's `blob` table).
public protocol BlobIndex: Sendable {
    /// Where blob `id` is stored, or nil. - Throws: an index read error.
    func location(of id: ObjectID) throws -> BlobLocation?
    /// Every location. - Throws: an index read error.
    func locations() throws -> [ObjectID: BlobLocation]
    /// Every indexed blob id. - Throws: an index read error.
    func ids() throws -> Set<ObjectID>
    /// Records durable packs and their blobs (idempotent: a blob keeps its first location).
    /// - Throws: an index write error; then none of them is recorded.
    func record(_ packs: [FinishedPack]) throws
    /// Forgets packs recorded by ``record(_:)`` and the blob locations that point into them
    /// (a commit that failed before anything referenced them).
    /// - Throws: an index write error; then every one of them stays recorded.
    func forget(_ packs: [PackID]) throws
}

/// Blobs in pack files (`schema/FORMAT.md` § Pack) found through a `BlobIndex`, each one zstd
/// frame after an optional transform (`BlobCodec`); every read is verified against the id.
///
/// Codec choice on write: a zstd delta against the root of `BlobHint.deltaBase`'s delta chain
/// while it is small against the root's frame (reads stay at two frames), else a zstd delta
/// against `BlobHint.deltaBase` where it is under 80 % of the plain frame, else the first registered transform that applies and pays, else plain zstd; the
/// frame is decoded again and compared with the original before it is appended.
public final class PackedBlobStore: BlobStore, @unchecked Sendable {
    /// Smallest blob worth a delta (bytes).
    public static let minDeltaSize = 4096
    /// The largest delta base read back to encode against (bytes).
    public static let maxDeltaBaseSize: UInt64 = 256 << 20
    /// A new version whose parent version is a delta is encoded against the chain's root
    /// instead, at depth 1, while that delta is under 1/`rootDeltaShare` of the root's stored
    /// frame; past that (the changes since the root have grown), it extends the chain as before.
    public static let rootDeltaShare = 4

    /// `.dvs/packs`.
    public let packsDir: String
    private let tmpDir: String
    private let index: any BlobIndex
    private let transforms: [BlobCodec: any BlobTransform]
    private let transformOrder: [any BlobTransform]
    private let targetSize: @Sendable () -> UInt64
    private let level: @Sendable () -> Int32
    private let lock = NSLock()
    private var readers: [PackID: PackReader] = [:]
    /// The last large delta base decoded for a write (verified), kept for one read of the same
    /// blob: a commit that relabels a large table decodes its committed version as the new
    /// version's delta base, then reads it again to compare rows. Taken by that read, replaced
    /// by the next base.
    private var lastDeltaBase: (id: ObjectID, bytes: [UInt8])?

    /// Creates a store.
    /// - Parameters:
    ///   - packsDir: the folder of `<id>.pack` files.
    ///   - tmpDir: a folder on the same file system for packs being written.
    ///   - index: where blobs are found and recorded.
    ///   - transforms: format-aware transforms, tried in this order on write; also used on read
    ///     by codec byte.
    ///   - targetSize: pack size (bytes) after which a new pack is started, read at each write.
    ///   - level: zstd level for new frames, read at each write.
    public init(
        packsDir: String, tmpDir: String, index: any BlobIndex, transforms: [any BlobTransform],
        targetSize: @escaping @Sendable () -> UInt64 = { 64 << 20 }, level: @escaping @Sendable () -> Int32 = { 1 }
    ) {
        self.packsDir = packsDir
        self.tmpDir = tmpDir
        self.index = index
        transformOrder = transforms
        self.transforms = Dictionary(transforms.map { ($0.codec, $0) }, uniquingKeysWith: { a, _ in a })
        self.targetSize = targetSize
        self.level = level
    }

    /// Whether the index knows blob `id`. - Throws: an index read error.
    public func contains(_ id: ObjectID) throws -> Bool { try index.location(of: id) != nil }
    /// Every indexed blob id. - Throws: an index read error.
    public func ids() throws -> Set<ObjectID> { try index.ids() }
    /// Every blob location. - Throws: an index read error.
    public func locations() throws -> [ObjectID: BlobLocation] { try index.locations() }
    /// Where blob `id` is stored, or nil. - Throws: an index read error.
    public func location(of id: ObjectID) throws -> BlobLocation? { try index.location(of: id) }

    /// The reader of pack `id`, opened once and kept.
    /// - Throws: `StorageError` when the pack cannot be opened.
    public func packReader(_ id: PackID) throws -> PackReader {
        if let r = lock.withLock({ readers[id] }) { return r }
        let r = try PackReader(path: "\(packsDir)/\(id.hex).pack")
        lock.withLock { readers[id] = r }
        return r
    }

    /// Forgets open pack readers (after packs were replaced or added from elsewhere).
    public func forgetReaders() { lock.withLock { readers = [:] } }

    /// The stored frame at `location`, undecoded. - Throws: `StorageError` when the pack cannot be read.
    public func storedFrame(at location: BlobLocation) throws -> [UInt8] {
        try packReader(location.pack).read(offset: location.entry.offset, length: location.entry.storedLength)
    }

    /// Asks the kernel to read the frame at `location` ahead (`posix_fadvise`); never fails.
    public func prefetch(_ location: BlobLocation) {
        guard let reader = try? packReader(location.pack) else { return }
        reader.prefetch(offset: location.entry.offset, length: location.entry.storedLength)
    }

    /// The original bytes of blob `id`: frame read, zstd checksum checked, transform (or delta
    /// against its verified base) undone, SHA-256 compared with `id`.
    /// - Throws: `BlobReadError.missing` when no pack holds it; `.damaged` naming the id and pack
    ///   when the frame is damaged or restores to other bytes; `StorageError.io` on a read error.
    public func read(_ id: ObjectID, at location: BlobLocation?, decompressor: ZstdDecompressor?) throws -> [UInt8] {
        try read(id, at: location, decompressor: decompressor, verify: true)
    }

    /// ``read(_:at:decompressor:)``; `verify` false skips the SHA-256 of the result, for a delta
    /// base read only to decode the blob above it, whose own SHA-256 is checked (a damaged base
    /// cannot restore the right bytes above it). A chain of 16 deltas of a 40 MB label table was
    /// hashed 17 times per read.
    private func read(_ id: ObjectID, at location: BlobLocation?, decompressor: ZstdDecompressor?, verify: Bool) throws -> [UInt8] {
        let kept = lock.withLock { () -> [UInt8]? in
            guard let base = lastDeltaBase, base.id == id else { return nil }
            lastDeltaBase = nil
            return base.bytes
        }
        if let kept { return kept }
        guard var loc = try location ?? index.location(of: id) else { throw BlobReadError.missing(id) }
        // A location looked up earlier may name a pack a repack or gc has since replaced (it
        // wrote the new pack and swapped them in the index before deleting the old file): a
        // pack file that is gone and not open here is looked up again, once.
        if location != nil, lock.withLock({ readers[loc.pack] == nil }), !FileIO.exists("\(packsDir)/\(loc.pack.hex).pack"),
            let now = try index.location(of: id), now.pack != loc.pack
        {
            loc = now
        }
        let entry = PackEntry(
            id: id, offset: loc.entry.offset, storedLength: loc.entry.storedLength, rawLength: loc.entry.rawLength, codec: loc.entry.codec)
        let bytes: [UInt8]
        do {
            let reader = try packReader(loc.pack)
            if entry.codec == .zstdDelta {
                bytes = try deltaBlob(entry, reader: reader, decompressor: decompressor)
            } else {
                bytes = try decode(
                    codec: entry.codec, payload: reader.payload(of: entry, decompressor: decompressor), id: id, pack: loc.pack)
            }
        } catch let e as StorageError where e.code != .io && e.code != .noSpace {
            throw BlobReadError(.damaged, id: id, pack: loc.pack, e.message, cause: e.cause)
        }
        guard bytes.count == Int(loc.entry.rawLength), !verify || ObjectID.hashing(bytes) == id else {
            throw BlobReadError(
                .damaged, id: id, pack: loc.pack, "cannot read object '\(id.hex)' in pack '\(loc.pack.hex)': checksum mismatch")
        }
        return bytes
    }

    /// Undoes `codec`'s transform on a decompressed payload, for frames not read through this
    /// store (a downloaded pack verified before it is adopted). `zstdDelta` is not undone here.
    /// - Throws: `BlobReadError.damaged` for a malformed payload or a codec with no transform here.
    public func inverse(_ payload: [UInt8], codec: BlobCodec) throws -> [UInt8] {
        try decode(codec: codec, payload: payload, id: ObjectID(bytes: [UInt8](repeating: 0, count: 32)), pack: nil)
    }

    /// Undoes `codec` on a decompressed payload.
    /// - Throws: `BlobReadError.damaged` for a malformed payload or a codec with no transform here.
    private func decode(codec: BlobCodec, payload: [UInt8], id: ObjectID, pack: PackID?) throws -> [UInt8] {
        if codec == .zstd || codec == .stored { return payload }
        guard let t = transforms[codec] else {
            throw BlobReadError(.damaged, id: id, pack: pack, "object '\(id.hex)' has unknown codec \(codec.rawValue)")
        }
        do { return try t.inverse(payload) } catch {
            throw BlobReadError(
                .damaged, id: id, pack: pack, "\(error)")
        }
    }

    /// Decodes a `zstdDelta` blob: reads its base (recursively, not hashed: the caller checks the
    /// result against its own id, which a damaged base cannot match), then its frame with the
    /// base as prefix.
    private func deltaBlob(_ entry: PackEntry, reader: PackReader, decompressor: ZstdDecompressor?) throws -> [UInt8] {
        let stored = try reader.read(offset: entry.offset, length: entry.storedLength)
        guard stored.count > 33 else {
            throw BlobReadError(
                .damaged, id: entry.id, "delta object '\(entry.id.hex)' is truncated")
        }
        let baseID = ObjectID(bytes: stored[0..<32])
        let base: [UInt8]
        do { base = try read(baseID, at: nil, decompressor: decompressor, verify: false) } catch {
            let message = "\(error)"
            throw BlobReadError(
                .damaged, id: entry.id,
                "cannot read object '\(entry.id.hex)': its delta base '\(baseID.hex)' is unreadable (\(message))")
        }
        let d = decompressor ?? ZstdDecompressor()
        let limit = Int(clamping: entry.rawLength) + (1 << 20)
        return try stored[33...].withUnsafeBytes { f in try base.withUnsafeBytes { try d.decompress(f, prefix: $0, limit: limit) } }
    }

    /// The first blob of the delta chain `id` sits at the end of (`id` itself when it is not a
    /// `zstdDelta` frame), with its stored frame length: the base ids in the chain's 33-byte frame
    /// headers are followed without decoding any frame. Nil when a blob of the chain is not
    /// stored, a header cannot be read, or the chain is longer than `BlobCodec.maxDeltaDepth`.
    func chainRoot(of id: ObjectID) -> (id: ObjectID, storedLength: UInt64)? {
        var current = id
        for _ in 0...BlobCodec.maxDeltaDepth {
            guard let loc = try? index.location(of: current) else { return nil }
            guard loc.entry.codec == .zstdDelta else { return (current, loc.entry.storedLength) }
            guard let header = try? packReader(loc.pack).read(offset: loc.entry.offset, length: 32), header.count == 32 else {
                return nil
            }
            current = ObjectID(bytes: header)
        }
        return nil
    }

    /// The stored bytes of blob `id` as a delta base, with its chain depth; nil when it is not
    /// stored or cannot be read (then the new version is simply stored whole).
    func deltaBase(_ id: ObjectID, decompressor: ZstdDecompressor?) -> (bytes: [UInt8], depth: Int)? {
        guard let loc = try? index.location(of: id), loc.entry.rawLength <= Self.maxDeltaBaseSize,
            let bytes = try? read(id, at: loc, decompressor: decompressor)
        else { return nil }
        var depth = 0
        if loc.entry.codec == .zstdDelta, let b = try? packReader(loc.pack).read(offset: loc.entry.offset + 32, length: 1) {
            depth = Int(b[0])
        }
        if bytes.count >= 1 << 20 { lock.withLock { lastDeltaBase = (id, bytes) } }
        return (bytes, depth)
    }

    /// Starts a write into new packs (target size and zstd level read now); `finish` fsyncs them
    /// and records them in the index.
    public func beginWrite() throws -> any BlobWriteSession { try beginWrite(deferringAudioAfter: nil) }

    /// ``beginWrite()``, deferring the coding of audio past a budget: the session codes audio
    /// (blobs whose hint carries `facts`, with no delta base) while each file fits in what is left
    /// of `deferringAudioAfter` bytes, in the order writers reach them, and appends any other as a
    /// `BlobCodec.stored` frame, the bytes as they are, for a repack to code later. 0 defers all
    /// audio; nil never defers.
    public func beginWrite(deferringAudioAfter: UInt64?) throws -> any BlobWriteSession {
        PackedBlobWriteSession(
            store: self, writer: PackWriter(packsDir: packsDir, tmpDir: tmpDir, targetSize: targetSize()), level: level(),
            deferAudioAfter: deferringAudioAfter)
    }

    /// Chooses a codec for `bytes` (whose id is `id`) and compresses them into one stored frame,
    /// decoded again and compared with the original before it is returned: what a write session
    /// appends, for a caller that writes packs itself (a repack).
    /// - Throws: `BlobWriteError` when the round trip differs (a dvs bug; nothing is stored);
    ///   a zstd error.
    public func encode(_ bytes: UnsafeRawBufferPointer, id: ObjectID, hint: BlobHint, coders: ZstdCoders) throws -> (BlobCodec, [UInt8]) {
        let compressor = coders.compressor
        let decompressor = coders.decompressor
        if let baseID = hint.deltaBase, baseID != id, bytes.count >= Self.minDeltaSize,
            let root = chainRoot(of: baseID), root.id != baseID, root.id != id,
            let rootBase = deltaBase(root.id, decompressor: decompressor), rootBase.depth == 0
        {
            // The base is itself a delta: a delta against its chain's root keeps every read at
            // two frames (root, then this delta) instead of one more than the base's chain,
            // while it stays small against the root's own frame (the changes since the root).
            let delta = try rootBase.bytes.withUnsafeBytes { try compressor.compress(bytes, prefix: $0) }
            if delta.count + 33 < Int(clamping: root.storedLength) / Self.rootDeltaShare {
                let restored = delta.withUnsafeBytes { f in
                    rootBase.bytes.withUnsafeBytes { decompressor.decodes(f, prefix: $0, to: bytes) }
                }
                guard restored else { throw BlobWriteError("zstd delta did not round-trip a \(bytes.count)-byte blob") }
                return (.zstdDelta, root.id.bytes + [1] + delta)
            }
        }
        if let baseID = hint.deltaBase, baseID != id, bytes.count >= Self.minDeltaSize,
            let base = deltaBase(baseID, decompressor: decompressor), base.depth < BlobCodec.maxDeltaDepth
        {
            let delta = try base.bytes.withUnsafeBytes { try compressor.compress(bytes, prefix: $0) }
            // A delta under 1/64 of the bytes (an edited row of a large label table) is kept
            // without compressing the whole file a second time on its own to compare.
            if delta.count + 33 >= bytes.count / 64 {
                let plain = try compressor.compress(bytes)
                guard delta.count + 33 < plain.count * 4 / 5 else { return try checked(.zstd, plain, bytes, decompressor) }
            }
            let restored = delta.withUnsafeBytes { f in base.bytes.withUnsafeBytes { decompressor.decodes(f, prefix: $0, to: bytes) } }
            guard restored else { throw BlobWriteError("zstd delta did not round-trip a \(bytes.count)-byte blob") }
            return (.zstdDelta, baseID.bytes + [UInt8(base.depth + 1)] + delta)
        }
        for t in transformOrder {
            if let payload = try t.forward(bytes, hint: hint, compressor: compressor) {
                return try checked(t.codec, compressor.compress(payload), bytes, decompressor)
            }
        }
        return try checked(.zstd, compressor.compress(bytes), bytes, decompressor)
    }

    /// Returns `(codec, frame)` after decoding `frame` again and comparing it with `bytes`.
    private func checked(_ codec: BlobCodec, _ frame: [UInt8], _ bytes: UnsafeRawBufferPointer, _ decompressor: ZstdDecompressor)
        throws -> (BlobCodec, [UInt8])
    {
        if codec == .zstd {
            // The frame holds the bytes themselves: compared as they decode, without a copy.
            guard frame.withUnsafeBytes({ decompressor.decodes($0, to: bytes) }) || bytes.count == 0 else {
                throw BlobWriteError("codec \(codec) did not round-trip a \(bytes.count)-byte blob")
            }
            return (codec, frame)
        }
        let payload = try frame.withUnsafeBytes { try decompressor.decompress($0, limit: bytes.count + (1 << 20)) }
        let back: [UInt8]
        do { back = try decode(codec: codec, payload: payload, id: ObjectID(bytes: [UInt8](repeating: 0, count: 32)), pack: nil) } catch {
            throw BlobWriteError("codec \(codec) did not round-trip a \(bytes.count)-byte blob", cause: "\(error)")
        }
        guard back.count == bytes.count,
            back.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) || bytes.count == 0
        else {
            throw BlobWriteError("codec \(codec) did not round-trip a \(bytes.count)-byte blob")
        }
        return (codec, frame)
    }

    /// Records finished packs in the index.
    fileprivate func record(_ packs: [FinishedPack]) throws {
        if !packs.isEmpty { try index.record(packs) }
    }

    /// Forgets finished packs in the index, then deletes their files and cached readers.
    fileprivate func discard(_ packs: [FinishedPack]) {
        guard !packs.isEmpty else { return }
        do { try index.forget(packs.map { PackID($0.id) }) } catch { return }
        lock.withLock { for p in packs { readers[PackID(p.id)] = nil } }
        for p in packs { unlink("\(packsDir)/\(p.id.hex).pack") }
    }
}

/// A codec that did not restore the bytes it was given: a dvs bug, caught before anything is stored.
public struct BlobWriteError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String
    /// The underlying error, if any.
    public var cause: String?
    /// Creates an error.
    public init(_ message: String, cause: String? = nil) {
        self.message = message
        self.cause = cause
    }
    public var description: String { message }
}

/// One write into a `PackedBlobStore`: appends to new packs, indexes them at `finish`.
final class PackedBlobWriteSession: BlobWriteSession, @unchecked Sendable {
    private let store: PackedBlobStore
    private let writer: PackWriter
    private let level: Int32
    private let lock = NSLock()
    private var finished = false
    private var finishedPacks: [FinishedPack] = []
    /// Audio bytes coded past which audio is stored as it is; nil: never.
    private let deferAudioAfter: UInt64?
    /// Audio bytes coded so far, and stored as they are (under `lock`).
    private var audioCoded: UInt64 = 0
    private var audioDeferred: UInt64 = 0

    init(store: PackedBlobStore, writer: PackWriter, level: Int32, deferAudioAfter: UInt64? = nil) {
        self.store = store
        self.writer = writer
        self.level = level
        self.deferAudioAfter = deferAudioAfter
    }

    func contains(_ id: ObjectID) -> Bool { writer.contains(id) }

    var storedBytes: UInt64 { writer.storedBytes }

    var deferredBytes: UInt64 { lock.withLock { audioDeferred } }

    @discardableResult
    func write(_ bytes: UnsafeRawBufferPointer, id: ObjectID, hint: BlobHint, coders: ZstdCoders?) throws -> Bool {
        if writer.contains(id) { return false }
        if let limit = deferAudioAfter, hint.facts != nil, hint.deltaBase == nil {
            let n = UInt64(bytes.count)
            let deferred = lock.withLock { () -> Bool in
                // Coded only when it fits in what is left of the budget: a long call recording
                // past it is stored as it is, however few files came before it.
                if audioCoded + n > limit {
                    audioDeferred += n
                    return true
                }
                audioCoded += n
                return false
            }
            // The frame is the bytes themselves: nothing to decode again to check.
            if deferred {
                let appended = try writer.append(id: id, codec: .stored, rawLength: n, frame: bytes)
                // Another thread appended the same bytes first: counted once.
                if !appended { lock.withLock { audioDeferred -= n } }
                return appended
            }
        }
        let (codec, frame) = try store.encode(bytes, id: id, hint: hint, coders: coders ?? ZstdCoders(level: level))
        return try writer.append(id: id, codec: codec, rawLength: UInt64(bytes.count), frame: frame)
    }

    @discardableResult
    func finish() throws -> [FinishedPack] {
        let packs = try writer.finish()
        do { try store.record(packs) } catch {
            writer.abort()
            throw error
        }
        lock.withLock {
            finished = true
            // `rollback` needs their ids only: a million entries are not kept for it.
            finishedPacks = packs.map { FinishedPack(id: $0.id, byteCount: $0.byteCount, entries: []) }
        }
        return packs
    }

    func abort() {
        if lock.withLock({ finished }) { return }
        writer.abort()
    }

    func rollback() {
        let packs: [FinishedPack]? = lock.withLock {
            guard finished else { return nil }
            defer { finishedPacks = [] }
            return finishedPacks
        }
        guard let packs else { return writer.abort() }
        store.discard(packs)
    }
}
