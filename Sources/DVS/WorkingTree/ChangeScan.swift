import CLazyLibs
import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// The paths of a working tree that may differ from the stat cache's base snapshot
/// (``WorkingTree/findChanges()``).
struct ChangeCandidates {
    /// How many files the walk found (the list itself is not kept: at a million files it is the
    /// largest thing a commit of changes holds).
    var fileCount: Int
    /// The files that may differ, sorted by path: no settled row, a stale or racy row, or an
    /// unsettled one.
    var walked: [TreeFile]
    /// Paths with a stat cache row but no file the walk found (deleted, ignored now, or below
    /// a folder that became a file or symlink), sorted.
    var gone: [RepoPath]
    /// Paths skipped because they are neither regular files nor symlinks.
    var skipped: [RepoPath]
    /// Names among the walked candidates that differ from another file's only by Unicode
    /// normalisation (found while the whole list was at hand).
    var normalizationWarnings: [ScanWarning]

    /// Every candidate path (walked and gone), sorted.
    var paths: [RepoPath] { (walked.map(\.path) + gone).sorted() }
}

/// What scanning the candidate files found (``WorkingTree/scan(_:writer:isStored:deltaBases:)``).
struct CandidateScan {
    /// The entries of the walked candidates, by path.
    var entries: [RepoPath: ManifestEntry]
    /// Stat cache rows to write for them.
    var cacheUpdates: [(RepoPath, StatCacheEntry)]
    /// Problems noticed in them (and in names that differ from another only by normalisation).
    var warnings: [ScanWarning]
    /// Files read and hashed.
    var hashedFiles: Int
    /// Blobs stored for the first time, and their original bytes.
    var newBlobCount: Int
    var newRawBytes: UInt64
}

extension WorkingTree {
    /// Walks the tree and compares it with the stat cache row by row, in path order, without
    /// reading any file or building any row's audio facts: what is left are the paths that may
    /// differ from the snapshot the settled rows mirror (`schema/0005_stat_cache_base.sql`).
    ///
    /// A file whose settled row has its size, mtime, ctime, inode and mode, and is not racy
    /// (``isRacy(mtimeNanoseconds:recordedAtNanoseconds:)``), holds the base snapshot's blob; every
    /// other file, every unsettled row and every row with no file is a candidate.
    /// - Throws: `DVSError.io` when a folder cannot be read; the stat cache source's errors.
    /// - Complexity: one `lstat` per file and one pass over the stat cache: O(n) system calls and
    ///   rows, O(n) memory for the walk's list, O(1) for the cache.
    /// - Parameter paths: when given, only these files and folders (with everything below them)
    ///   are looked at: their files are walked and compared with the stat cache rows at and
    ///   below them (a commit of some paths). Then the cost is O(k) for the k files and rows
    ///   there, whatever the size of the tree.
    func findChanges(within paths: [RepoPath]? = nil) throws -> ChangeCandidates {
        let candidates = try paths.map { try compareWithStatCache(within: $0).candidates } ?? compareWalkWithStatCache()
        // The walk's list (a million small arrays at a million files) is freed by now, but
        // glibc keeps freed heap in its arenas: the rest of a commit would run on top of it.
        // Hand it back to the kernel (one pass over the free lists, ≈ ms).
        _ = malloc_trim(0)
        return candidates
    }

    /// ``findChanges(within:)`` for the whole tree when a file-system monitor has said where
    /// anything may have changed: `paths` (files or folders, everything below a folder included)
    /// must hold every path whose file or stat cache row may differ from what the walk of the
    /// whole tree would compare (the monitor's changes since the token recorded with the stat
    /// cache, the candidates that scan left, the unsettled rows). The result is the walk's, with
    /// ``ChangeCandidates/fileCount`` counting the whole tree: the rows outside `paths` each have
    /// their file (`rowCount` is the stat cache's row count).
    /// - Returns: nil when only the walk of the whole tree can give the walk's answer (a candidate
    ///   with a non-ASCII name, whose normalisation twins may be anywhere; the root among `paths`).
    /// - Throws: as ``findChanges(within:)``.
    /// - Complexity: O(k) for the k files and rows at and below `paths`.
    func findChanges(monitored paths: [RepoPath], rowCount: Int) throws -> ChangeCandidates? {
        guard !paths.contains(where: \.bytes.isEmpty) else { return nil }
        var (candidates, rowsWithin) = try compareWithStatCache(within: paths)
        if candidates.walked.contains(where: { $0.path.bytes.contains { $0 >= 0x80 } }) { return nil }
        candidates.fileCount += rowCount - rowsWithin
        return candidates
    }

    /// ``findChanges()`` without giving memory back. The stat cache is streamed while the walk
    /// is still going (``TreeWalker/OrderedWalk``), so its reading and the comparison run beside
    /// the `lstat`s instead of after them.
    private func compareWalkWithStatCache() throws -> ChangeCandidates {
        let walk = try TreeWalker.orderedWalk(root: root, workers: workers)
        defer { walk.finish() }
        var walked: [TreeFile] = []
        var gone: [RepoPath] = []
        var fileCount = 0
        // Only names with a byte ≥ 0x80 can have a normalisation twin: those are kept.
        var nonASCII: [RepoPath] = []
        func next() throws -> TreeFile? {
            let f = try walk.next()
            if let f, f.path.bytes.contains(where: { $0 >= 0x80 }) { nonASCII.append(f.path) }
            return f
        }
        var file = try next()
        try statCacheSource.forEachStatStamp { path, stamp in
            // Files before this row's path have no row.
            while let f = file, Self.compare(f.path, path) < 0 {
                walked.append(f)
                fileCount += 1
                file = try next()
            }
            guard let f = file, Self.compare(f.path, path) == 0 else {
                gone.append(RepoPath(bytes: Array(path)))
                return
            }
            if !Self.isFresh(stamp, f) { walked.append(f) }
            fileCount += 1
            file = try next()
        }
        while let f = file {
            walked.append(f)
            fileCount += 1
            file = try next()
        }
        // NFC/NFD twins: only a candidate with a non-ASCII name can make a new pair.
        var twins: [ScanWarning] = []
        if walked.contains(where: { $0.path.bytes.contains { $0 >= 0x80 } }) {
            let mine = Set(walked.map(\.path.string))
            twins = Self.normalizationWarnings(nonASCII).filter { mine.contains($0.path) }
        }
        return ChangeCandidates(
            fileCount: fileCount, walked: walked, gone: gone, skipped: walk.skipped, normalizationWarnings: twins)
    }

    /// Whether a settled row still holds for the file: same size, mtime, ctime, inode and mode,
    /// and not racily clean.
    static func isFresh(_ stamp: StatStamp, _ f: TreeFile) -> Bool {
        !stamp.unsettled && stamp.byteCount == f.size && stamp.mtimeNanoseconds == f.mtimeNanoseconds
            && stamp.ctimeNanoseconds == f.ctimeNanoseconds && stamp.inode == f.inode && stamp.mode == f.mode
            && !isRacy(mtimeNanoseconds: stamp.mtimeNanoseconds, recordedAtNanoseconds: stamp.recordedAtNanoseconds)
    }

    /// ``compareWalkWithStatCache()`` for the files and rows at and below `paths` only, with the
    /// number of stat cache rows there.
    private func compareWithStatCache(within paths: [RepoPath]) throws -> (candidates: ChangeCandidates, rows: Int) {
        // Paths inside another given path add nothing (each path's folders looked up: O(k · depth)).
        let given = Set(paths)
        let prefixes = given.filter { p in
            var d = p.parent
            while let x = d {
                if given.contains(x) { return false }
                d = x.parent
            }
            return true
        }.sorted()
        var files: [TreeFile] = []
        var skipped: [RepoPath] = []
        for p in prefixes { try walk(within: p, files: &files, skipped: &skipped) }
        files.sort { $0.path < $1.path }
        var stamps: [RepoPath: StatStamp] = [:]
        for p in prefixes {
            try statCacheSource.forEachStatStamp(within: p) { path, stamp in stamps[RepoPath(bytes: Array(path))] = stamp }
        }
        let rows = stamps.count
        var walked: [TreeFile] = []
        for f in files {
            if let stamp = stamps.removeValue(forKey: f.path), Self.isFresh(stamp, f) { continue }
            walked.append(f)
        }
        var twins: [ScanWarning] = []
        if walked.contains(where: { $0.path.bytes.contains { $0 >= 0x80 } }) {
            let mine = Set(walked.map(\.path.string))
            twins = Self.normalizationWarnings(files.map(\.path)).filter { mine.contains($0.path) }
        }
        return (
            ChangeCandidates(
                fileCount: files.count, walked: walked, gone: stamps.keys.sorted(), skipped: skipped.sorted(), normalizationWarnings: twins),
            rows
        )
    }

    /// Appends the files the walk of the whole tree would find at and below `prefix` (none when
    /// a folder above it is a symlink or a file, is `.dvs`/`.git`, or `.dvsignore` excludes it or
    /// something above it), reading the `.dvsignore` of every folder above it first.
    /// - Throws: `DVSError.io` when a folder cannot be read.
    private func walk(within prefix: RepoPath, files: inout [TreeFile], skipped: inout [RepoPath]) throws {
        var folders: [RepoPath: Bool] = [:]
        guard inRealFolders(prefix, checked: &folders), let target = file(at: prefix) else { return }
        let isDirectory = target.mode & UInt32(S_IFMT) == UInt32(S_IFDIR)
        var rules = IgnoreRules()
        var folder = RepoPath(bytes: [])
        for c in prefix.components {
            let fd = open(TreeWalker.cPath(root, folder.appending([UInt8](".dvsignore".utf8))), O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if let bytes = try? FileIO.readAll(fd: fd, path: ".dvsignore") { rules.add(contents: bytes, base: folder) }
            }
            let next = folder.appending(Array(c))
            if RepoPath.isReserved(c, topLevel: folder.bytes.isEmpty) || c.starts(with: TreeWalker.oldTempPrefix)
                || rules.isIgnored(next, isDirectory: next != prefix || isDirectory)
            {
                return
            }
            folder = next
        }
        if isDirectory {
            try TreeWalker.walkDir(root: root, rel: prefix, rules: &rules, files: &files, skipped: &skipped)
        } else if target.kind != nil {
            files.append(target)
        } else {
            skipped.append(prefix)
        }
    }

    /// memcmp order of a path and raw path bytes (the order of `RepoPath` and of SQLite BLOBs).
    static func compare(_ a: RepoPath, _ b: UnsafeRawBufferPointer) -> Int {
        a.bytes.withUnsafeBytes { x in
            let n = min(x.count, b.count)
            let c = n == 0 ? 0 : memcmp(x.baseAddress!, b.baseAddress!, n)
            return c != 0 ? Int(c) : x.count - b.count
        }
    }

    /// Reads the walked candidates as a full scan would (stat cache rows looked up by path, a
    /// file read and hashed only when its row does not hold; new blobs written to `writer`).
    /// - Parameters:
    ///   - isStored: whether a blob is stored already (a row's blob is trusted only then, when writing).
    ///   - deltaBases: for files that are not audio, the base snapshot's blob at the same path.
    /// - Throws: as ``scan(writer:knownBlobs:deltaBases:progress:)``.
    /// - Complexity: O(k) for k candidates, plus reading the changed files.
    func scan(
        _ candidates: ChangeCandidates, writer: (any BlobWriteSession)?, isStored: @escaping @Sendable (ObjectID) -> Bool,
        deltaBases: [RepoPath: ObjectID] = [:]
    ) throws -> CandidateScan {
        let files = candidates.walked
        let cache = try statCacheSource.statCache(for: files.map(\.path))
        let coders = (0..<max(1, min(workers, files.count))).map { _ in ZstdCoders(level: zstdLevel) }
        let results = SlotBuffer<ScanItem>(count: files.count)
        let root = self.root
        try parallelBatches(files.count, workers: coders.count, batch: 4) { worker, range in
            for i in range {
                results[i] = try Self.scanOne(
                    files[i], root: root, cached: cache[files[i].path], writer: writer, isStored: isStored,
                    deltaBase: deltaBases[files[i].path], coders: coders[worker])
            }
        }
        var out = CandidateScan(entries: [:], cacheUpdates: [], warnings: [], hashedFiles: 0, newBlobCount: 0, newRawBytes: 0)
        for i in files.indices {
            guard let item = results.take(i) else { continue }
            out.entries[item.entry.path] = item.entry
            if let u = item.cacheUpdate { out.cacheUpdates.append((item.entry.path, u)) }
            out.warnings += item.warnings
            if item.hashed { out.hashedFiles += 1 }
            if item.newBlob {
                out.newBlobCount += 1
                out.newRawBytes += item.entry.byteCount
            }
        }
        for s in candidates.skipped {
            out.warnings.append(
                ScanWarning(kind: .unsupportedFileType, path: s.string, message: "not a regular file or symlink; not versioned"))
        }
        out.warnings += candidates.normalizationWarnings
        return out
    }
}
