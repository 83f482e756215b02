import DVSAudio
import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A problem found while reading the tree that does not stop a commit (unless `--strict`).
public struct ScanWarning: Sendable, Equatable, Codable {
    /// What kind of problem.
    public enum Kind: String, Sendable, Codable {
        /// Named like audio (by extension) but libsndfile cannot decode it; stored as a plain file.
        case undecodableAudio = "undecodable-audio"
        /// Decodes, but the header and the bytes disagree (truncated, unfinalised).
        case damagedAudio = "damaged-audio"
        /// Two names that differ only in Unicode normalisation (NFC vs NFD).
        case unicodeNormalization = "unicode-normalization"
        /// Not a regular file or symlink (fifo, socket, device); not versioned.
        case unsupportedFileType = "unsupported-file-type"
    }
    /// What kind of problem.
    public var kind: Kind
    /// The file.
    public var path: String
    /// Why.
    public var message: String
}

extension ScanWarning {
    /// Decodes the stat cache's `kind<TAB>message` form.
    init?(encoded: String, path: RepoPath) {
        let parts = encoded.split(separator: "\t", maxSplits: 1)
        guard parts.count == 2, let k = Kind(rawValue: String(parts[0])) else { return nil }
        self.init(kind: k, path: path.string, message: String(parts[1]))
    }
}

/// What scanning the working tree found.
struct ScanResult {
    var entries: [ManifestEntry]
    /// The stat cache rows to write, as stat fields of `entries` (their path, blob and audio
    /// facts are the entry's): a million full rows beside the entries would repeat them.
    var cacheRows: [StatCacheRow]
    /// The warnings of `cacheRows`, by index in `cacheRows` (few rows have one).
    var cacheRowWarnings: [Int32: String] = [:]
    /// The stat cache rows to write, whole.
    var cacheUpdates: [(RepoPath, StatCacheEntry)] { Array(cacheUpdates(of: entries)) }
    var removedFromCache: [RepoPath]
    var warnings: [ScanWarning]
    var packs: [FinishedPack]
    /// Bytes of frames written to packs.
    var storedBytes: UInt64
    /// Original bytes of the blobs newly stored.
    var newRawBytes: UInt64
    var newBlobCount: Int
    var hashedFiles: Int

    /// The stat cache rows to write, made one at a time from `entries` — the scan's entries, or
    /// the same entries in the same order with annotations set.
    func cacheUpdates(of entries: [ManifestEntry]) -> LazyMapSequence<Range<Int>, (RepoPath, StatCacheEntry)> {
        let warnings = cacheRowWarnings
        return cacheRows.indices.lazy.map { [cacheRows] i in
            let r = cacheRows[i]
            let e = entries[Int(r.entry)]
            return (e.path, r.row(for: e, warning: warnings.isEmpty ? nil : warnings[Int32(i)]))
        }
    }
}

/// One stat cache row a scan writes, less what its manifest entry holds (and its warning, which
/// ``ScanResult/cacheRowWarnings`` holds).
struct StatCacheRow {
    /// ``StatCacheEntry`` fields.
    var byteCount: Int64
    var mtimeNanoseconds: Int64
    var ctimeNanoseconds: Int64
    var inode: Int64
    var recordedAtNanoseconds: Int64
    /// Index of the entry in ``ScanResult/entries``.
    var entry: Int32
    var mode: UInt32

    init(entry: Int, _ row: StatCacheEntry) {
        byteCount = row.byteCount
        mtimeNanoseconds = row.mtimeNanoseconds
        ctimeNanoseconds = row.ctimeNanoseconds
        inode = row.inode
        recordedAtNanoseconds = row.recordedAtNanoseconds
        self.entry = Int32(entry)
        mode = row.mode
    }

    /// The whole row of entry `e` (whose blob and audio facts the scan recorded with it).
    func row(for e: ManifestEntry, warning: String?) -> StatCacheEntry {
        StatCacheEntry(
            byteCount: byteCount, mtimeNanoseconds: mtimeNanoseconds, ctimeNanoseconds: ctimeNanoseconds, inode: inode, mode: mode,
            blob: e.blob, audio: e.audio, recordedAtNanoseconds: recordedAtNanoseconds, warning: warning)
    }
}

/// One slot per file for the results of a parallel scan, in chunks that are allocated when
/// their first slot is set and freed one by one as the results are moved out in order
/// (``drainCompleted(_:)``, called while the scan goes on), so a million results are held
/// neither at once nor twice (as slots and as the lists made from them): workers take files in
/// order, so only the chunks in flight are held.
private final class ChunkedSlots<T>: @unchecked Sendable {
    /// Slots per chunk.
    private static var chunkSize: Int { 4096 }
    private let lock = NSLock()
    /// Serialises the draining (a worker that finds it taken goes on scanning).
    private let drainLock = NSLock()
    /// Unallocated (nil base) until a slot is set; again once drained.
    private var chunks: [UnsafeMutableBufferPointer<T?>]
    /// Per chunk, the slots not yet set.
    private var remaining: [Int]
    /// The first chunk not yet drained.
    private var next = 0

    init(count: Int) {
        let starts = Array(stride(from: 0, to: count, by: Self.chunkSize))
        chunks = Array(repeating: UnsafeMutableBufferPointer(start: nil, count: 0), count: starts.count)
        remaining = starts.map { min(Self.chunkSize, count - $0) }
    }

    deinit { release() }

    /// Sets the slot of file `i`; each slot is set once, by any worker.
    func set(_ i: Int, _ value: T) {
        let (k, j) = (i / Self.chunkSize, i % Self.chunkSize)
        lock.withLock {
            if chunks[k].baseAddress == nil {
                let chunk = UnsafeMutableBufferPointer<T?>.allocate(capacity: remaining[k])
                chunk.initialize(repeating: nil)
                chunks[k] = chunk
            }
            chunks[k][j] = value
            remaining[k] -= 1
        }
    }

    /// Calls `body` with the slots of every chunk that is complete and not yet passed on, in
    /// order, freeing each chunk once passed on. Returns at once when another thread is draining
    /// (unless `wait`); the last call, after every slot was set, passes on everything left.
    func drainCompleted(wait: Bool = false, _ body: (T?) -> Void) {
        if wait { drainLock.lock() } else if !drainLock.try() { return }
        defer { drainLock.unlock() }
        while true {
            let chunk: UnsafeMutableBufferPointer<T?>? = lock.withLock {
                next < chunks.count && remaining[next] == 0 ? chunks[next] : nil
            }
            guard let chunk else { return }
            for value in chunk { body(value) }
            chunk.deinitialize()
            chunk.deallocate()
            lock.withLock {
                chunks[next] = UnsafeMutableBufferPointer(start: nil, count: 0)
                next += 1
            }
        }
    }

    private func release() {
        for chunk in chunks where chunk.baseAddress != nil {
            chunk.deinitialize()
            chunk.deallocate()
        }
        chunks = []
    }
}

/// What a scan has moved out of its slots so far, in file order (touched only while draining).
private final class ScanCollector: @unchecked Sendable {
    var entries: [ManifestEntry] = []
    var rows: [StatCacheRow] = []
    var rowWarnings: [Int32: String] = [:]
    var warnings: [ScanWarning] = []

    func take(_ item: WorkingTree.ScanItem?) {
        guard let item else { return }
        if let u = item.cacheUpdate {
            // The entry holds the row's blob and audio facts (`StatCacheRow.row(for:)`).
            assert(u.blob == item.entry.blob && u.audio == item.entry.audio)
            if let w = u.warning { rowWarnings[Int32(rows.count)] = w }
            rows.append(StatCacheRow(entry: entries.count, u))
        }
        entries.append(item.entry)
        warnings.append(contentsOf: item.warnings)
    }
}

/// Per-worker zstd decompression contexts.
final class Decompressors: @unchecked Sendable {
    let all: [ZstdDecompressor]
    init(count: Int) { all = (0..<max(count, 1)).map { _ in ZstdDecompressor() } }
}

/// Per-worker zstd contexts.
private final class Compressors: @unchecked Sendable {
    let all: [ZstdCoders]
    init(count: Int, level: Int32) { all = (0..<count).map { _ in ZstdCoders(level: level) } }
}

/// The stat cache's "racy" rule (after git's racy-git handling): an entry can be trusted only if
/// the file's mtime is older than the moment the entry was recorded by more than the file
/// system's timestamp granularity; otherwise a write in the same tick could hide behind an equal
/// mtime. Granularity: 2 s when the mtime has no sub-second part (FAT, some network file
/// systems), else 50 ms (Linux's coarse clock ticks at 1–10 ms).
func isRacy(mtimeNanoseconds m: Int64, recordedAtNanoseconds r: Int64) -> Bool {
    let margin: Int64 = m % 1_000_000_000 == 0 ? 2_000_000_000 : 50_000_000
    return r - m < margin
}

extension WorkingTree {
    /// Reads the working tree into manifest entries, re-hashing only files whose stat changed.
    ///
    /// - Parameters:
    ///   - writer: when given, every blob not yet stored is written to it (commit).
    ///   - knownBlobs: blobs already in packs.
    ///   - deltaBases: for files that are not audio, the blob of the same path in the parent
    ///     commit; a new version is stored as a zstd delta against it where that is smaller.
    ///   - paths: when given, only the files at and below these paths are read, and only the
    ///     cache rows there can be reported gone (a commit of some paths).
    func scan(
        writer: (any BlobWriteSession)?, knownBlobs: Set<ObjectID>, deltaBases: [RepoPath: ObjectID] = [:],
        within paths: [RepoPath]? = nil, progress: ProgressHandler?
    ) throws
        -> ScanResult
    {
        // The walk (system calls) and the stat cache load (SQLite) overlap on two threads.
        let source = statCacheSource
        let cacheLoad = Background { try source.statCache() }
        let (walked, walkedSkipped) = try TreeWalker.walk(root: root, workers: workers)
        let files = paths.map { paths in walked.filter { f in paths.contains { f.path.isWithin($0) } } } ?? walked
        let skipped = paths.map { paths in walkedSkipped.filter { s in paths.contains { s.isWithin($0) } } } ?? walkedSkipped
        let cache = try cacheLoad.value()
        let compressors = Compressors(count: max(workers, 1), level: zstdLevel)
        let results = ChunkedSlots<ScanItem>(count: files.count)
        let collected = ScanCollector()
        collected.entries.reserveCapacity(files.count)
        let counters = Locked<(done: Int, bytes: UInt64, hashed: Int, newRaw: UInt64, newBlobs: Int)>((0, 0, 0, 0, 0))
        let root = self.root
        // Small batches: cache hits cost microseconds, files to read cost milliseconds.
        try parallelBatches(files.count, workers: workers, batch: writer == nil ? 64 : 4) { worker, range in
            var local: (bytes: UInt64, hashed: Int, newRaw: UInt64, newBlobs: Int) = (0, 0, 0, 0)
            for i in range {
                let f = files[i]
                let item = try Self.scanOne(
                    f, root: root, cached: cache[f.path], writer: writer, isStored: { knownBlobs.contains($0) },
                    deltaBase: deltaBases[f.path], coders: compressors.all[worker])
                results.set(i, item)
                if item.hashed {
                    local.hashed += 1
                    local.bytes += UInt64(f.size)
                }
                if item.newBlob {
                    local.newRaw += item.entry.byteCount
                    local.newBlobs += 1
                }
            }
            let report = counters.withLock { c -> Progress? in
                let before = c.done
                c.done += range.count
                c.bytes += local.bytes
                c.hashed += local.hashed
                c.newRaw += local.newRaw
                c.newBlobs += local.newBlobs
                return (before / 64 != c.done / 64 || c.done == files.count)
                    ? Progress(phase: writer == nil ? .hashing : .storing, done: c.done, total: files.count, bytes: c.bytes) : nil
            }
            if let report { progress?(report) }
            // The results done so far become entries now, so their slots are freed during the scan.
            results.drainCompleted { collected.take($0) }
        }
        results.drainCompleted(wait: true) { collected.take($0) }
        let entries = collected.entries
        let rows = collected.rows
        let rowWarnings = collected.rowWarnings
        var warnings = collected.warnings
        collected.entries = []
        collected.rows = []
        for s in skipped {
            warnings.append(
                ScanWarning(kind: .unsupportedFileType, path: s.string, message: "not a regular file or symlink; not versioned"))
        }
        warnings.append(contentsOf: Self.normalizationWarnings(entries.map(\.path)))
        // Cache rows whose file is gone; when every row was matched by a walked file, none.
        var matched = 0
        for e in entries where cache[e.path] != nil { matched += 1 }
        var removed: [RepoPath] = []
        if matched != cache.count {
            let present = Set(entries.map(\.path))
            removed = cache.keys.filter { p in !present.contains(p) && (paths?.contains { p.isWithin($0) } ?? true) }
        }
        let c = counters.withLock { $0 }
        return ScanResult(
            entries: entries, cacheRows: rows, cacheRowWarnings: rowWarnings, removedFromCache: removed, warnings: warnings,
            packs: [], storedBytes: writer?.storedBytes ?? 0, newRawBytes: c.newRaw, newBlobCount: c.newBlobs,
            hashedFiles: c.hashed)
    }

    /// The working tree's entries at `paths` only, as ``scan(writer:knownBlobs:deltaBases:progress:)``
    /// would find them, without walking the tree: one `lstat` each, the stat cache read for those
    /// paths only, a file read and hashed only when its stat changed. A path with nothing there,
    /// a folder, a file of an unsupported kind, one below a folder that is not a real folder (a
    /// symlink: the walk never follows one) or one `.dvsignore` excludes maps to nil.
    /// - Throws: `DVSError.io` when a file cannot be read; the stat cache source's errors.
    /// - Complexity: O(k) system calls and cache lookups for k paths, plus reading changed files.
    func scan(paths: [RepoPath]) throws -> [RepoPath: ManifestEntry] {
        let cache = try statCacheSource.statCache(for: paths)
        let coders = Compressors(count: 1, level: zstdLevel).all[0]
        var out: [RepoPath: ManifestEntry] = [:]
        var folders: [RepoPath: Bool] = [:]
        for p in paths {
            guard inRealFolders(p, checked: &folders), let f = file(at: p), f.kind != nil, wouldTrack(root + "/" + p.string)
            else { continue }
            out[p] = try Self.scanOne(f, root: root, cached: cache[p], writer: nil, isStored: { _ in false }, coders: coders).entry
        }
        return out
    }

    /// Whether every folder above `path` is a real folder (not a symlink, not a file), as the
    /// walk sees them: `lstat` of `root/a/b` follows a symlink at `a`, the walk never does.
    /// - Parameter checked: folders already looked at, shared across calls.
    func inRealFolders(_ path: RepoPath, checked: inout [RepoPath: Bool]) -> Bool {
        guard let parent = path.parent else { return true }
        if let known = checked[parent] { return known }
        let real = inRealFolders(parent, checked: &checked) && file(at: parent).map { $0.mode & S_IFMT == S_IFDIR } == true
        checked[parent] = real
        return real
    }

    struct ScanItem {
        var entry: ManifestEntry
        var cacheUpdate: StatCacheEntry?
        var warnings: [ScanWarning]
        var hashed: Bool
        var newBlob: Bool
    }

    static func scanOne(
        _ file: TreeFile, root: String, cached: StatCacheEntry?, writer: (any BlobWriteSession)?,
        isStored: (ObjectID) -> Bool, deltaBase: ObjectID? = nil, coders: ZstdCoders
    ) throws -> ScanItem {
        var f = file
        guard let kind = f.kind else { throw DVSError(.internal, "unsupported file kind for '\(f.path)'") }
        if kind == .symlink {
            // Always read (a link is tiny); its row lets a scan of changes skip it while its stat holds.
            let target = try readLink(root: root, f.path)
            let id = ObjectID.hashing(target)
            let fresh =
                cached.map {
                    $0.blob == id && $0.byteCount == f.size && $0.mtimeNanoseconds == f.mtimeNanoseconds
                        && $0.ctimeNanoseconds == f.ctimeNanoseconds && $0.inode == f.inode && $0.mode == f.mode
                        && !isRacy(mtimeNanoseconds: $0.mtimeNanoseconds, recordedAtNanoseconds: $0.recordedAtNanoseconds)
                } ?? false
            let row = StatCacheEntry(
                byteCount: f.size, mtimeNanoseconds: f.mtimeNanoseconds, ctimeNanoseconds: f.ctimeNanoseconds, inode: f.inode,
                mode: f.mode, blob: id, audio: nil, recordedAtNanoseconds: nowNanoseconds())
            return ScanItem(
                entry: ManifestEntry(path: f.path, kind: .symlink, blob: id, byteCount: UInt64(target.count), linkTarget: target),
                cacheUpdate: fresh ? nil : row, warnings: [], hashed: false, newBlob: false)
        }
        if let c = cached, c.byteCount == f.size, c.mtimeNanoseconds == f.mtimeNanoseconds, c.ctimeNanoseconds == f.ctimeNanoseconds,
            c.inode == f.inode, c.mode == f.mode,
            !isRacy(mtimeNanoseconds: c.mtimeNanoseconds, recordedAtNanoseconds: c.recordedAtNanoseconds),
            writer == nil || isStored(c.blob) || writer!.contains(c.blob)
        {
            return ScanItem(
                entry: ManifestEntry(path: f.path, kind: kind, blob: c.blob, byteCount: UInt64(c.byteCount), audio: c.audio),
                cacheUpdate: nil, warnings: c.warning.flatMap { ScanWarning(encoded: $0, path: f.path) }.map { [$0] } ?? [],
                hashed: false, newBlob: false)
        }
        // Read, and make sure the file did not change while we read it.
        var bytes: [UInt8] = []
        var attempt = 0
        while true {
            let (b, after) = try readFile(root: root, f.path)
            if after.size == f.size && after.mtimeNanoseconds == f.mtimeNanoseconds && after.ctimeNanoseconds == f.ctimeNanoseconds
                && Int64(b.count) == f.size
            {
                bytes = b
                break
            }
            attempt += 1
            if attempt >= 3 {
                throw DVSError(
                    .badInput, "file '\(f.path)' changed while it was being read (size or mtime moved 3 times)",
                    hint: "stop the program writing it, then run the command again; nothing was committed")
            }
            guard let again = TreeWalker.lstatFile(root: root, f.path), again.kind == kind else {
                throw DVSError(
                    .badInput, "file '\(f.path)' disappeared or changed type while it was being read",
                    hint: "run the command again; nothing was committed")
            }
            f = again
        }
        let recordedAt = nowNanoseconds()
        return try bytes.withUnsafeBytes { buf -> ScanItem in
            let id = ObjectID.hashing(buf)
            var warnings: [ScanWarning] = []
            var audio: AudioFacts?
            var layout: RIFFLayout?
            let named = AudioProbe.isNamedLikeAudio(f.path.name)
            if let c = cached, c.blob == id {
                audio = c.audio
                if audio != nil { layout = RIFFLayout.parse(buf) }
                if let w = c.warning.flatMap({ ScanWarning(encoded: $0, path: f.path) }) { warnings.append(w) }
            } else if named || AudioProbe.looksLikeAudio(UnsafeRawBufferPointer(rebasing: buf.prefix(16))) {
                switch AudioProbe.probe(buf) {
                case .audio(var facts, let warning):
                    layout = RIFFLayout.parse(buf)
                    let levels = AudioLevels.measure(buf, layout: layout, channelCount: facts.channelCount)
                    (facts.peak, facts.rms) = (ChannelLevels(levels.peak), ChannelLevels(levels.rms))
                    audio = facts
                    if let warning { warnings.append(ScanWarning(kind: .damagedAudio, path: f.path.string, message: warning)) }
                case .notAudio(let reason):
                    if named {
                        warnings.append(
                            ScanWarning(
                                kind: .undecodableAudio, path: f.path.string,
                                message: "named like audio but does not decode (\(reason)); stored byte-exact as a plain file"))
                    }
                }
            }
            var newBlob = false
            if let writer, !isStored(id), !writer.contains(id) {
                // A delta only for files that are not audio; the PCM transform reads the layout.
                let hint = BlobHint(deltaBase: audio == nil && layout == nil ? deltaBase : nil, facts: layout)
                do { newBlob = try writer.write(buf, id: id, hint: hint, coders: coders) } catch { throw DVSError.wrap(error) }
            }
            let entry = ManifestEntry(path: f.path, kind: kind, blob: id, byteCount: UInt64(buf.count), audio: audio)
            let update = StatCacheEntry(
                byteCount: f.size, mtimeNanoseconds: f.mtimeNanoseconds, ctimeNanoseconds: f.ctimeNanoseconds,
                inode: f.inode, mode: f.mode, blob: id, audio: audio, recordedAtNanoseconds: recordedAt,
                warning: warnings.first.map { "\($0.kind.rawValue)\t\($0.message)" })
            return ScanItem(entry: entry, cacheUpdate: update, warnings: warnings, hashed: true, newBlob: newBlob)
        }
    }

    /// Reads a regular file without following a symlink; returns its bytes and its stat after reading.
    static func readFile(root: String, _ path: RepoPath) throws -> ([UInt8], TreeFile) {
        let p = TreeWalker.cPath(root, path)
        let fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw DVSError(
                .io, "cannot read '\(path)': \(String(cString: strerror(errno)))",
                hint: "check the file's permissions; nothing was committed")
        }
        defer { close(fd) }
        let bytes: [UInt8]
        do { bytes = try FileIO.readAll(fd: fd, path: path.string) } catch { throw DVSError.wrap(error) }
        var st = stat()
        fstat(fd, &st)
        return (bytes, TreeFile(path: path, st))
    }

    static func readLink(root: String, _ path: RepoPath) throws -> [UInt8] {
        let p = TreeWalker.cPath(root, path)
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { readlink(p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4096) }
        guard n >= 0 else { throw DVSError(.io, "cannot read symlink '\(path)': \(String(cString: strerror(errno)))") }
        return Array(buf[..<n])
    }

    /// Warnings for names that are distinct byte strings but equal after NFC normalisation.
    static func normalizationWarnings(_ paths: [RepoPath]) -> [ScanWarning] {
        var groups: [[UInt8]: [RepoPath]] = [:]
        for p in paths where p.bytes.contains(where: { $0 >= 0x80 }) {
            let nfc = Array(p.string.precomposedStringWithCanonicalMapping.utf8)
            groups[nfc, default: []].append(p)
        }
        var out: [ScanWarning] = []
        for (_, g) in groups where g.count > 1 {
            let sorted = g.sorted()
            for p in sorted {
                out.append(
                    ScanWarning(
                        kind: .unicodeNormalization, path: p.string,
                        message:
                            "differs only in Unicode normalization from \(sorted.filter { $0 != p }.map { "'\(Self.escaped($0))'" }.joined(separator: ", ")); both are kept as separate files"
                    ))
            }
        }
        return out.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// A path with its non-ASCII bytes shown as \xNN, so NFC and NFD names are told apart.
    static func escaped(_ p: RepoPath) -> String {
        p.bytes.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
    }
}
