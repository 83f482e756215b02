import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A pack that is durable on disk: its name (the SHA-256 of its header, index and the index's
/// position; every frame is covered by its own zstd checksum and by its blob id) and its entries.
public struct FinishedPack: Sendable {
    /// The pack's id; the file is `packs/<id>.pack`.
    public var id: ObjectID
    /// File size in bytes.
    public var byteCount: UInt64
    /// Its blobs, in file order.
    public var entries: [PackEntry]
}

/// The pack file format, version 1 (`schema/FORMAT.md` § Pack).
///
/// ```
/// header   "DVSPACK\0" (8) | version u32 LE = 1 | reserved u32 = 0
/// frames   one zstd frame per blob, back to back
/// index    per blob, sorted by id: id (32) | offset u64 | stored u64 | raw u64 | codec u8   (57 bytes)
/// trailer  index offset u64 | blob count u32 | pack id (32) | "DVSPEND\0" (8)
/// pack id = SHA-256(header ‖ index ‖ index offset ‖ blob count); frames are not hashed again
/// here: each is checked by its zstd checksum and by the SHA-256 of its decoded bytes.
/// ```
public enum PackFormat {
    /// Leading magic.
    public static let magic: [UInt8] = Array("DVSPACK\0".utf8)
    /// Trailing magic.
    public static let endMagic: [UInt8] = Array("DVSPEND\0".utf8)
    /// Header length.
    public static let headerLength = 16
    /// One index row.
    public static let indexRowLength = 57
    /// Trailer length.
    public static let trailerLength = 8 + 4 + 32 + 8
}

/// Appends compressed blobs to packs, rotating at a target size; thread-safe.
///
/// Packs are written under `tmp/` and renamed into `packs/` only when complete and fsynced, so a
/// crash leaves no partial pack where readers look.
public final class PackWriter: @unchecked Sendable {
    private let packsDir: String
    private let tmpDir: String
    private let targetSize: UInt64
    private let lock = NSLock()
    private var fd: Int32 = -1
    private var tmpPath = ""
    private var offset: UInt64 = 0
    private var hasher = StreamingHasher()
    private var entries: [PackEntry] = []
    /// Completed packs, without their entries (read back from their index by `finish`, so a
    /// million entries are not held while the writer goes on).
    private var finished: [FinishedPack] = []
    /// Where each completed pack's index is (offset in the file, rows), by pack id.
    private var indexes: [ObjectID: (offset: UInt64, count: Int)] = [:]
    /// Every blob appended, as an ordinal: the entries of closed packs in order, then `entries`.
    private var written = WrittenBlobs()
    /// Completed packs are fsynced and renamed here, off the workers' path, so compression goes
    /// on while the disk catches up.
    private let syncQueue = DispatchQueue(label: "dvs.pack-sync")
    private var syncError: Error?
    /// Bytes of frames appended so far, across packs.
    public private(set) var storedBytes: UInt64 = 0

    /// Creates a writer.
    /// - Parameters:
    ///   - packsDir: final folder (`.dvs/packs`).
    ///   - tmpDir: same file system, for temp files (`.dvs/tmp`).
    ///   - targetSize: a pack is closed once it grows past this many bytes.
    public init(packsDir: String, tmpDir: String, targetSize: UInt64 = 64 << 20) {
        self.packsDir = packsDir
        self.tmpDir = tmpDir
        self.targetSize = targetSize
    }

    /// Whether `id` was already appended by this writer (so a second worker can skip it).
    public func contains(_ id: ObjectID) -> Bool { lock.withLock { written.contains(id, open: entries) } }

    /// Appends one blob's frame unless this writer already holds `id`.
    /// - Returns: false when the blob was already appended.
    /// - Throws: `StorageError` on I/O failure (`.noSpace` when the disk is full).
    @discardableResult
    public func append(id: ObjectID, codec: BlobCodec, rawLength: UInt64, frame: [UInt8]) throws -> Bool {
        try frame.withUnsafeBytes { try append(id: id, codec: codec, rawLength: rawLength, frame: $0) }
    }

    /// ``append(id:codec:rawLength:frame:)`` from a buffer, without copying it first (a
    /// `stored` frame is the blob's own bytes).
    /// - Returns: false when the blob was already appended.
    /// - Throws: `StorageError` on I/O failure (`.noSpace` when the disk is full).
    @discardableResult
    public func append(id: ObjectID, codec: BlobCodec, rawLength: UInt64, frame: UnsafeRawBufferPointer) throws -> Bool {
        try lock.withLock {
            if written.contains(id, open: entries) { return false }
            if fd < 0 { try start() }
            try FileIO.writeAll(fd: fd, frame, path: tmpPath)
            entries.append(PackEntry(id: id, offset: offset, storedLength: UInt64(frame.count), rawLength: rawLength, codec: codec))
            offset += UInt64(frame.count)
            storedBytes += UInt64(frame.count)
            written.insert(id, open: entries)
            if offset >= targetSize { try finishCurrent() }
            return true
        }
    }

    private func start() throws {
        (fd, tmpPath) = try FileIO.makeTemp(in: tmpDir, prefix: "pack")
        hasher = StreamingHasher()
        var w = ByteWriter()
        w.write(PackFormat.magic)
        w.write(u32: 1)
        w.write(u32: 0)
        try w.bytes.withUnsafeBytes { b in
            try FileIO.writeAll(fd: fd, b, path: tmpPath)
            hasher.update(b)
        }
        offset = UInt64(PackFormat.headerLength)
        entries = []
    }

    private func finishCurrent() throws {
        guard fd >= 0 else { return }
        var w = ByteWriter(capacity: entries.count * PackFormat.indexRowLength + PackFormat.trailerLength)
        let indexOffset = offset
        for e in entries.sorted(by: { $0.id < $1.id }) {
            w.write(e.id.bytes)
            w.write(u64: e.offset)
            w.write(u64: e.storedLength)
            w.write(u64: e.rawLength)
            w.write(byte: e.codec.rawValue)
        }
        w.write(u64: indexOffset)
        w.write(u32: UInt32(entries.count))
        hasher.update(w.bytes)
        let id = hasher.finalize()
        var tail = ByteWriter()
        tail.write(id.bytes)
        tail.write(PackFormat.endMagic)
        try w.bytes.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: tmpPath) }
        try tail.bytes.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: tmpPath) }
        let (pfd, ppath) = (fd, tmpPath)
        fd = -1
        let final = "\(packsDir)/\(id.hex).pack"
        let size = indexOffset + UInt64(w.bytes.count + tail.bytes.count)
        let pack = FinishedPack(id: id, byteCount: size, entries: [])
        indexes[id] = (indexOffset, entries.count)
        written.close(entries)
        entries = []
        syncQueue.async { [self] in
            var failure: Error?
            if fsync(pfd) != 0 { failure = StorageError.posix("cannot fsync pack", path: ppath) }
            // Renamed while still open (and so locked): see `FileIO.makeTemp`.
            if failure == nil, rename(ppath, final) != 0 { failure = StorageError.posix("cannot rename pack into", path: final) }
            if failure != nil { unlink(ppath) }
            close(pfd)
            lock.withLock {
                if let failure { if syncError == nil { syncError = failure } } else { finished.append(pack) }
            }
        }
    }

    /// Closes the open pack and makes every pack durable (fsync of `packs/`).
    ///
    /// The writer then forgets the blobs' entries (the caller has them in the packs returned):
    /// ``contains(_:)`` is false for them afterwards, and ``abort()`` still deletes the packs.
    /// - Returns: all packs this writer completed.
    /// - Throws: `StorageError` on I/O failure.
    public func finish() throws -> [FinishedPack] {
        try lock.withLock { try finishCurrent() }
        syncQueue.sync {}
        return try lock.withLock {
            if let syncError { throw syncError }
            FileIO.syncDirectory(packsDir)
            written = WrittenBlobs()
            return try finished.map { p in
                var pack = p
                pack.entries = try readIndex(of: p)
                return pack
            }
        }
    }

    /// The entries of a completed pack, in file order, read back from its index.
    /// - Throws: `StorageError` when the pack cannot be read or its index is not what was written.
    private func readIndex(of pack: FinishedPack) throws -> [PackEntry] {
        guard let (offset, count) = indexes[pack.id] else { return [] }
        let path = "\(packsDir)/\(pack.id.hex).pack"
        let bytes = try PackReader(path: path).read(offset: offset, length: UInt64(count * PackFormat.indexRowLength))
        var r = ByteReader(bytes)
        var out: [PackEntry] = []
        out.reserveCapacity(count)
        func damaged(_ why: String) -> StorageError {
            StorageError(.corrupt, "pack '\(path)' just written reads back damaged (\(why))", subject: .pack(path))
        }
        do {
            for _ in 0..<count {
                let id = try r.readID()
                let (at, stored, raw) = (try r.readU64(), try r.readU64(), try r.readU64())
                guard let codec = BlobCodec(rawValue: try r.readByte()) else { throw damaged("unknown codec") }
                out.append(PackEntry(id: id, offset: at, storedLength: stored, rawLength: raw, codec: codec))
            }
        } catch let e as FormatError { throw damaged("\(e)") }
        out.sort { $0.offset < $1.offset }
        return out
    }

    /// Drops everything this writer wrote: the unfinished pack and the packs it already renamed
    /// into `packs/` (nothing references them until the catalog indexes them), so a refused
    /// commit leaves the store as it was.
    public func abort() {
        lock.withLock {
            if fd >= 0 {
                close(fd)
                unlink(tmpPath)
                fd = -1
                // Their ids stay written (as before an abort), so their entries stay listed.
                written.close(entries)
                entries = []
            }
        }
        syncQueue.sync {}
        lock.withLock {
            for p in finished { unlink("\(packsDir)/\(p.id.hex).pack") }
            finished = []
        }
    }
}

/// Reads blobs from one pack file with `pread`; thread-safe.
public final class PackReader: @unchecked Sendable {
    private let fd: Int32
    /// The pack file's path.
    public let path: String

    /// Opens a pack. - Throws: `StorageError.notFound` / `.io`.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.posix("cannot open pack", path: path) }
    }
    deinit { close(fd) }

    /// Reads `length` bytes at `offset`. - Throws: `StorageError.corrupt` when the file is shorter.
    public func read(offset: UInt64, length: UInt64) throws -> [UInt8] {
        let count = Int(length)
        // Filled by pread before anyone reads it: no zero-fill first.
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError.posix("cannot read pack", path: path)
                }
                if n == 0 {
                    throw StorageError(
                        .corrupt, "pack '\(path)' is truncated at byte \(offset + UInt64(done))",
                        subject: .pack(path))
                }
                done += n
            }
            initialized = count
        }
    }

    /// Asks the kernel to start reading `length` bytes at `offset` into the page cache, without
    /// waiting (`posix_fadvise(POSIX_FADV_WILLNEED)`); a hint, so it never fails.
    public func prefetch(offset: UInt64, length: UInt64) {
        _ = posix_fadvise(fd, off_t(offset), off_t(length), Int32(POSIX_FADV_WILLNEED))
    }

    /// Reads and decompresses the frame of `entry`, checking zstd's frame checksum (a `stored`
    /// frame is returned as it is, after a length check). The caller undoes the codec and
    /// verifies the SHA-256.
    /// - Throws: `StorageError.corrupt` naming the object and pack.
    public func payload(of entry: PackEntry, decompressor: ZstdDecompressor? = nil) throws -> [UInt8] {
        let frame = try read(offset: entry.offset, length: entry.storedLength)
        if entry.codec == .stored {
            guard UInt64(frame.count) == entry.rawLength else {
                throw StorageError(
                    .corrupt,
                    "cannot read object '\(entry.id.hex)' in pack '\((path as NSString).lastPathComponent)': its stored frame holds \(frame.count) bytes, not \(entry.rawLength)",
                    subject: .packedObject(entry.id))
            }
            return frame
        }
        do {
            let limit = Int(clamping: entry.rawLength) + (1 << 20) + Int(clamping: entry.rawLength / 8)
            if let decompressor { return try frame.withUnsafeBytes { try decompressor.decompress($0, limit: limit) } }
            return try Zstd.decompress(frame, limit: limit)
        } catch let e as StorageError {
            throw StorageError(
                .corrupt, "cannot read object '\(entry.id.hex)' in pack '\((path as NSString).lastPathComponent)': \(e.message)",
                subject: .packedObject(entry.id), cause: e.cause, underlying: e)
        }
    }

    /// Reads the pack's own index (for fsck and rebuilding the catalog), checking header and trailer.
    /// - Throws: `StorageError.corrupt` when the header, trailer or index is malformed.
    public func readIndex() throws -> [PackEntry] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.posix("cannot stat pack", path: path) }
        let size = UInt64(st.st_size)
        guard size >= UInt64(PackFormat.headerLength + PackFormat.trailerLength) else {
            throw StorageError(.corrupt, "pack '\(path)' is too short")
        }
        let header = try read(offset: 0, length: 8)
        guard header == PackFormat.magic else { throw StorageError(.corrupt, "pack '\(path)' has a bad header") }
        let trailer = try read(offset: size - UInt64(PackFormat.trailerLength), length: UInt64(PackFormat.trailerLength))
        var r = ByteReader(trailer)
        let indexOffset = try r.readU64()
        let count = Int(try r.readU32())
        _ = try r.read(count: 32)
        guard Array(try r.read(count: 8)) == PackFormat.endMagic,
            indexOffset + UInt64(count * PackFormat.indexRowLength) + UInt64(PackFormat.trailerLength) == size
        else {
            throw StorageError(.corrupt, "pack '\(path)' has a bad trailer")
        }
        let index = try read(offset: indexOffset, length: UInt64(count * PackFormat.indexRowLength))
        var ir = ByteReader(index)
        var out: [PackEntry] = []
        for _ in 0..<count {
            let id = try ir.readID()
            let off = try ir.readU64()
            let stored = try ir.readU64()
            let raw = try ir.readU64()
            guard let codec = BlobCodec(rawValue: try ir.readByte()), off + stored <= indexOffset else {
                throw StorageError(.corrupt, "pack '\(path)' has a bad index row for '\(id.hex)'")
            }
            out.append(PackEntry(id: id, offset: off, storedLength: stored, rawLength: raw, codec: codec))
        }
        return out
    }

    /// Recomputes the pack's id (SHA-256 of header, index, index offset and count) and compares
    /// it with its name and trailer.
    /// - Returns: nil when intact, else what is wrong.
    public func verifyChecksum(expected: ObjectID) throws -> String? {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.posix("cannot stat pack", path: path) }
        let size = UInt64(st.st_size)
        guard size >= UInt64(PackFormat.headerLength + PackFormat.trailerLength) else { return "pack is too short" }
        let trailer = try read(offset: size - UInt64(PackFormat.trailerLength), length: UInt64(PackFormat.trailerLength))
        var r = ByteReader(trailer)
        let indexOffset = try r.readU64()
        guard indexOffset <= size - 40 else { return "pack trailer is damaged" }
        let stored = ObjectID(bytes: trailer[12..<44])
        var h = StreamingHasher()
        h.update(try read(offset: 0, length: UInt64(PackFormat.headerLength)))
        h.update(try read(offset: indexOffset, length: size - 40 - indexOffset))
        let got = h.finalize()
        if got != expected { return "pack id is \(got.short)…, its name says \(expected.short)…" }
        if stored != expected { return "pack trailer names \(stored.short)…, its name says \(expected.short)…" }
        return nil
    }
}

/// The blobs a `PackWriter` appended, for its `contains`: an open-addressing table of 32-bit
/// ordinals into the ids of closed packs and the entries of the open one (≈ 40 bytes per blob,
/// where a `Set<ObjectID>` beside the entries takes ≈ 64 and the entries another 64).
struct WrittenBlobs {
    /// Ordinals, -1 for an empty slot; the count is a power of two, at most half full.
    private var slots: [Int32] = []
    /// How many ordinals the table holds.
    private(set) var count = 0
    /// The ids of the closed packs' entries, in order.
    private var closed: [ObjectID] = []
    private var closedCount: Int { closed.count }

    /// Whether `id` was appended; `open` is the entries of the pack being written.
    func contains(_ id: ObjectID, open: [PackEntry]) -> Bool {
        guard !slots.isEmpty else { return false }
        return find(id, open: open).found
    }

    /// Records the last entry of `open` (just appended, its id not yet recorded).
    mutating func insert(_ id: ObjectID, open: [PackEntry]) {
        if (count + 1) * 2 > slots.count { grow(open: open) }
        let (slot, found) = find(id, open: open)
        guard !found else { return }
        slots[slot] = Int32(closedCount + open.count - 1)
        count += 1
    }

    /// Keeps the ids of the entries of the pack just closed (its entries are dropped).
    mutating func close(_ entries: [PackEntry]) {
        closed.append(contentsOf: entries.lazy.map(\.id))
    }

    private func id(at ordinal: Int, open: [PackEntry]) -> ObjectID {
        ordinal >= closedCount ? open[ordinal - closedCount].id : closed[ordinal]
    }

    private func find(_ id: ObjectID, open: [PackEntry]) -> (slot: Int, found: Bool) {
        let mask = slots.count - 1
        var i = id.hashValue & mask
        while true {
            let s = slots[i]
            if s < 0 { return (i, false) }
            if self.id(at: Int(s), open: open) == id { return (i, true) }
            i = (i + 1) & mask
        }
    }

    private mutating func grow(open: [PackEntry]) {
        let old = slots
        slots = Array(repeating: -1, count: max(1024, old.count * 2))
        let mask = slots.count - 1
        for s in old where s >= 0 {
            var i = id(at: Int(s), open: open).hashValue & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
