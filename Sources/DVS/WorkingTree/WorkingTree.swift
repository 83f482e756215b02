import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One file found in the working tree, with the `lstat(2)` fields the stat cache compares.
public struct TreeFile: Sendable {
    /// Path relative to the root.
    public var path: RepoPath
    /// `st_mode`.
    public var mode: UInt32
    /// `st_size`.
    public var size: Int64
    /// `st_mtim` in ns.
    public var mtimeNanoseconds: Int64
    /// `st_ctim` in ns.
    public var ctimeNanoseconds: Int64
    /// `st_ino`.
    public var inode: Int64

    init(path: RepoPath, _ st: Glibc.stat) {
        self.path = path
        mode = UInt32(st.st_mode)
        size = Int64(st.st_size)
        let m = Int64(st.st_mtim.tv_sec) * 1_000_000_000
        mtimeNanoseconds = m + Int64(st.st_mtim.tv_nsec)
        let c = Int64(st.st_ctim.tv_sec) * 1_000_000_000
        ctimeNanoseconds = c + Int64(st.st_ctim.tv_nsec)
        inode = Int64(bitPattern: UInt64(st.st_ino))
    }

    /// Regular file, executable, symlink, or nil for anything else (fifo, socket, device).
    public var kind: FileKind? {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): return (mode & 0o111) != 0 ? .executable : .file
        case UInt32(S_IFLNK): return .symlink
        default: return nil
        }
    }
}

/// Walks a working tree with `readdir`/`lstat`, honouring `.dvsignore`, never following symlinks.
enum TreeWalker {
    /// Everything under `root` except `.dvs` and `.git` folders (any depth, ASCII case-insensitive) and what `.dvsignore` files exclude.
    /// - Returns: files sorted by path bytes, and paths skipped because they are neither regular
    ///   files nor symlinks.
    /// - Throws: `DVSError.io` when a folder cannot be read.
    static func walk(root: String, workers: Int = 1) throws -> (files: [TreeFile], skipped: [RepoPath]) {
        // The ordered walk drained: the root's subfolders on `workers` threads, each into its
        // own list, handed over in path order, so no sort of the whole tree is needed.
        let walk = try orderedWalk(root: root, workers: workers)
        defer { walk.finish() }
        var files: [TreeFile] = []
        while let f = try walk.next() { files.append(f) }
        return (files, walk.skipped)
    }

    /// The whole tree's files handed out one by one in path order while `workers` background
    /// threads are still walking (see ``OrderedWalk``): the consumer's work overlaps the walk's,
    /// and each subfolder's list is freed as soon as it is consumed.
    /// - Throws: `DVSError.io` when the root cannot be read.
    static func orderedWalk(root: String, workers: Int) throws -> OrderedWalk {
        var rules = IgnoreRules()
        let top = try listDir(root: root, rel: RepoPath(bytes: []), rules: &rules)
        return OrderedWalk(root: root, top: top, rules: rules, workers: workers)
    }

    /// A walk of the whole tree whose root subfolders are walked on background threads, in
    /// order, while the caller takes files with ``next()`` (which waits for the subfolder it has
    /// reached); ``TreeWalker/walk(root:workers:)`` is this walk drained into one list.
    /// ``finish()`` must be called (it waits for the threads): after the last file, or to stop early.
    final class OrderedWalk: @unchecked Sendable {
        private let top: [Child]
        private let ready = NSCondition()
        /// Per subfolder of the root (in `top`'s order of folders): its walk, once done.
        private var results: [Result<(files: [TreeFile], skipped: [RepoPath]), Error>?]
        private var cancelled = false
        private let done = DispatchGroup()
        /// Where the consumer is: the index in `top`, the folder ordinal, and the files of the
        /// folder being handed out.
        private var position = 0
        private var folder = 0
        private var current: [TreeFile] = []
        private var currentIndex = 0
        /// Paths skipped so far (neither files nor symlinks), in path order.
        private(set) var skipped: [RepoPath] = []

        fileprivate init(root: String, top: [Child], rules: IgnoreRules, workers: Int) {
            self.top = top
            let folders = top.filter(\.isDir).map(\.path)
            results = Array(repeating: nil, count: folders.count)
            guard !folders.isEmpty else { return }
            done.enter()
            DispatchQueue.global().async { [self] in
                defer { done.leave() }
                try? parallelBatches(folders.count, workers: max(1, workers), batch: 1) { _, range in
                    for i in range {
                        if self.ready.withLock({ self.cancelled }) { return }
                        var r = rules
                        let result = Result { () throws -> (files: [TreeFile], skipped: [RepoPath]) in
                            var files: [TreeFile] = []
                            var skipped: [RepoPath] = []
                            try TreeWalker.walkDir(root: root, rel: folders[i], rules: &r, files: &files, skipped: &skipped)
                            return (files, skipped)
                        }
                        self.ready.withLock {
                            self.results[i] = result
                            self.ready.broadcast()
                        }
                    }
                }
            }
        }

        /// The next file in path order, nil after the last.
        /// - Throws: `DVSError.io` when a folder cannot be read.
        func next() throws -> TreeFile? {
            while true {
                if currentIndex < current.count {
                    defer { currentIndex += 1 }
                    return current[currentIndex]
                }
                guard position < top.count else { return nil }
                let child = top[position]
                position += 1
                if child.isDir {
                    let result = ready.withLock { () -> Result<(files: [TreeFile], skipped: [RepoPath]), Error>? in
                        while results[folder] == nil && !cancelled { ready.wait() }
                        defer { results[folder] = nil }
                        return results[folder]
                    }
                    // After finish(): the folders not walked have no result; the walk ends here.
                    guard let result else { return nil }
                    folder += 1
                    let (files, skippedHere) = try result.get()
                    skipped += skippedHere
                    current = files
                    currentIndex = 0
                } else if let f = child.file {
                    return f
                } else {
                    skipped.append(child.path)
                }
            }
        }

        /// Stops the walk (subfolders not yet started are not walked) and waits for its threads;
        /// ``next()`` returns nil afterwards. Not thread-safe with ``next()``: one consumer calls both.
        func finish() {
            ready.withLock {
                cancelled = true
                ready.broadcast()
            }
            done.wait()
        }
    }

    /// One entry of a folder: a subfolder to descend into, a file, or something else (skipped).
    struct Child: Sendable {
        var path: RepoPath
        var isDir: Bool
        var file: TreeFile?
        /// The order key: the name, with a `/` after a folder's, so that visiting children in key
        /// order lists the whole tree in path byte order (`a.txt` < `a/x` < `a0`).
        var key: [UInt8]
    }

    /// The entries of one folder that are not reserved or ignored, in path order (see ``Child/key``);
    /// reads the folder's `.dvsignore` into `rules` first.
    /// - Throws: `DVSError.io` when the folder cannot be read.
    static func listDir(root: String, rel: RepoPath, rules: inout IgnoreRules) throws -> [Child] {
        let dirPath = cPath(root, rel)
        guard let dir = opendir(dirPath) else {
            throw DVSError(
                .io, "cannot read folder '\(rel.bytes.isEmpty ? "." : rel.string)': \(String(cString: strerror(errno)))",
                hint: "check its permissions")
        }
        defer { closedir(dir) }
        let dfd = dirfd(dir)
        // `lstat` each entry by its NUL-terminated `d_name`, relative to the folder (no path
        // built, no copy of the name for the call); a million files make a million of these.
        var found: [(name: [UInt8], st: stat)] = []
        var hasIgnoreFile = false
        while let ent = readdir(dir) {
            var st = stat()
            let entry = withUnsafePointer(to: &ent.pointee.d_name) { p -> (name: [UInt8], ok: Bool)? in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { c in
                    let length = strlen(c)
                    let name = UnsafeRawBufferPointer(start: c, count: length)
                    if name.elementsEqual([0x2E]) || name.elementsEqual([0x2E, 0x2E]) { return nil }
                    if RepoPath.isReserved(name, topLevel: rel.bytes.isEmpty) { return nil }
                    // A temp file dvs before the checkout journal left beside its target when killed.
                    if name.starts(with: Self.oldTempPrefix) { return nil }
                    return (Array(name), fstatat(dfd, c, &st, AT_SYMLINK_NOFOLLOW) == 0)
                }
            }
            guard let entry, entry.ok else { continue }  // `.`, `..`, reserved, or vanished before the lstat
            if entry.name.elementsEqual(".dvsignore".utf8) { hasIgnoreFile = true }
            found.append((entry.name, st))
        }
        if hasIgnoreFile {
            let fd = openat(dfd, ".dvsignore", O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if let bytes = try? FileIO.readAll(fd: fd, path: ".dvsignore") { rules.add(contents: bytes, base: rel) }
            }
        }
        var out: [Child] = []
        out.reserveCapacity(found.count)
        for (name, st) in found {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(rel.bytes.count + 1 + name.count)
            if !rel.bytes.isEmpty {
                bytes += rel.bytes
                bytes.append(0x2F)
            }
            bytes += name
            let child = RepoPath(bytes: bytes)
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            if rules.isIgnored(child, isDirectory: isDir) { continue }
            if isDir {
                out.append(Child(path: child, isDir: true, file: nil, key: name + [0x2F]))
            } else {
                let f = TreeFile(path: child, st)
                out.append(Child(path: child, isDir: false, file: f.kind == nil ? nil : f, key: name))
            }
        }
        out.sort { a, b in
            a.key.withUnsafeBytes { x in
                b.key.withUnsafeBytes { y in
                    let n = min(x.count, y.count)
                    let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                    return c != 0 ? c < 0 : x.count < y.count
                }
            }
        }
        return out
    }

    /// The name prefix of the temp files checkouts wrote beside their targets before they moved
    /// to `.dvs/tmp` (`.dvs-tmp-<pid>-<n>`); a killed run could leave one, which must never be
    /// committed as a sample, so the walk skips them.
    static let oldTempPrefix: [UInt8] = Array(".dvs-tmp-".utf8)

    static func fullPath(_ root: String, _ rel: RepoPath) -> String {
        rel.bytes.isEmpty ? root : root + "/" + String(decoding: rel.bytes, as: UTF8.self)
    }

    /// The C path of `rel` under `root`, byte-exact (non-UTF-8 names survive).
    static func cPath(_ root: String, _ rel: RepoPath) -> [CChar] {
        var b = Array(root.utf8)
        if !rel.bytes.isEmpty {
            b.append(0x2F)
            b.append(contentsOf: rel.bytes)
        }
        b.append(0)
        return b.map { CChar(bitPattern: $0) }
    }

    /// Appends the files under `rel` to `files` in path order (and what it skips to `skipped`).
    static func walkDir(root: String, rel: RepoPath, rules: inout IgnoreRules, files: inout [TreeFile], skipped: inout [RepoPath])
        throws
    {
        for child in try listDir(root: root, rel: rel, rules: &rules) {
            if child.isDir {
                try walkDir(root: root, rel: child.path, rules: &rules, files: &files, skipped: &skipped)
            } else if let f = child.file {
                files.append(f)
            } else {
                skipped.append(child.path)
            }
        }
    }

    /// `lstat` of one path. Returns nil when it does not exist.
    static func lstatFile(root: String, _ rel: RepoPath) -> TreeFile? {
        var st = Glibc.stat()
        let p = cPath(root, rel)
        guard lstat(p, &st) == 0 else { return nil }
        return TreeFile(path: rel, st)
    }
}

/// Current wall-clock time in ns since 1970.
func nowNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// Where the working tree reads the stat cache from: the last recorded `lstat` fields and content
/// of each file, so a scan re-reads only files that changed. A repository's ``Catalog`` is one;
/// a test can hold one in memory.
public protocol StatCacheSource: Sendable {
    /// The whole stat cache, keyed by path relative to the tree's root.
    /// - Throws: the source's own error (`CatalogError` for the catalog) when it cannot be read.
    func statCache() throws -> [RepoPath: StatCacheEntry]
    /// The rows of `paths` that have one. The default filters ``statCache()``; a source that can
    /// look paths up one by one (the catalog: by primary key) should, so that reading k rows
    /// costs O(k), not O(n).
    /// - Throws: as ``statCache()``.
    func statCache(for paths: [RepoPath]) throws -> [RepoPath: StatCacheEntry]
    /// Calls `body` with every row's path bytes and stat fields in path byte order. The default
    /// sorts ``statCache()`` and calls every row unsettled (so nothing is trusted as HEAD's); the
    /// catalog streams its rows.
    /// - Throws: as ``statCache()``; what `body` throws.
    func forEachStatStamp(_ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void) throws
    /// ``forEachStatStamp(_:)`` for the rows at `prefix` and below it only. The default filters
    /// the whole stream; the catalog reads a range of its primary key.
    /// - Throws: as ``forEachStatStamp(_:)``.
    func forEachStatStamp(within prefix: RepoPath, _ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void) throws
}

extension StatCacheSource {
    /// Filters the whole cache (see ``StatCacheSource/statCache(for:)``).
    public func statCache(for paths: [RepoPath]) throws -> [RepoPath: StatCacheEntry] {
        let all = try statCache()
        var out: [RepoPath: StatCacheEntry] = [:]
        for p in paths { out[p] = all[p] }
        return out
    }
}

extension StatCacheSource {
    /// Sorts the whole cache (see ``StatCacheSource/forEachStatStamp(_:)``).
    public func forEachStatStamp(_ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void) throws {
        for (p, e) in try statCache().sorted(by: { $0.key < $1.key }) {
            let stamp = StatStamp(
                byteCount: e.byteCount, mtimeNanoseconds: e.mtimeNanoseconds, ctimeNanoseconds: e.ctimeNanoseconds, inode: e.inode,
                mode: e.mode, recordedAtNanoseconds: e.recordedAtNanoseconds, unsettled: true)
            try p.bytes.withUnsafeBytes { try body($0, stamp) }
        }
    }
}

extension StatCacheSource {
    /// Filters ``StatCacheSource/forEachStatStamp(_:)`` (see ``StatCacheSource/forEachStatStamp(within:_:)``).
    public func forEachStatStamp(within prefix: RepoPath, _ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void) throws {
        try forEachStatStamp { path, stamp in
            if RepoPath(bytes: Array(path)).isWithin(prefix) { try body(path, stamp) }
        }
    }
}

extension Catalog: StatCacheSource {}

/// The working tree: the ordinary folder whose files a commit reads and a checkout writes.
///
/// It owns the walk (``TreeWalker``, `.dvsignore` rules, `.dvs`/`.git` skipped), `lstat` and
/// reading files, the scan against the stat cache (a file is read and hashed only when its
/// size, mtime, ctime, inode or mode changed, or its cache row is racily clean), and writing
/// snapshot entries into a folder (temp name, then rename). It reads the stat cache but never
/// writes it: callers store a scan's `cacheUpdates` in the catalog transaction that needs them.
/// It knows nothing of refs, commits or manifests; ``Repository/workingTree`` builds one for the
/// repository's root, and a test builds one on any folder with any ``BlobStore``.
public struct WorkingTree: Sendable {
    /// The tree's root folder (absolute, no trailing `/`).
    public let root: String
    /// Where the stat cache is read from.
    public let statCacheSource: any StatCacheSource
    /// Where file content is read from (checkout) and written to (through a scan's write session).
    public let blobs: any BlobStore
    /// Threads that read, hash and write files (at least 1 is used).
    public let workers: Int
    /// zstd level of the blobs a scan writes.
    public let zstdLevel: Int32
    /// Where files written into the tree are first made, then renamed into place, out of the
    /// scans' sight: ``Repository/workingTree`` sets `.dvs/tmp` (created when missing); a tree
    /// built alone uses the system's temp folder (on another file system a file is written in
    /// place instead).
    public var tmpDir: String
    /// Called after each file written into the tree (checkout, merge, pull, clone); nil does
    /// nothing. The fault-injection tests use it to interrupt at a chosen file.
    public var afterWrite: (@Sendable () -> Void)?

    /// A working tree at `root`.
    /// - Parameters:
    ///   - root: the tree's root folder, absolute.
    ///   - statCacheSource: the stat cache (a repository's catalog).
    ///   - blobs: the blob store content is read from and written to.
    ///   - workers: threads for reading, hashing and writing files.
    ///   - zstdLevel: zstd level of newly written blobs.
    public init(root: String, statCacheSource: any StatCacheSource, blobs: any BlobStore, workers: Int, zstdLevel: Int32 = 1) {
        self.root = root
        self.statCacheSource = statCacheSource
        self.blobs = blobs
        self.workers = workers
        self.zstdLevel = zstdLevel
        self.tmpDir = FileManager.default.temporaryDirectory.path
    }

    /// The `lstat` fields of one path relative to the root (a symlink is not followed); nil when
    /// nothing is there.
    public func file(at path: RepoPath) -> TreeFile? { TreeWalker.lstatFile(root: root, path) }
}

extension Repository {
    /// The repository's working tree, reading the stat cache from the catalog and content from
    /// ``blobs``, with the `core.workers` and `zstd.level` settings read now.
    public var workingTree: WorkingTree {
        var tree = WorkingTree(root: root, statCacheSource: catalog, blobs: blobs, workers: workers, zstdLevel: zstdLevel)
        tree.tmpDir = tmpDir
        tree.afterWrite = context.afterTreeWrite
        return tree
    }

    /// Whether a file at `absolutePath` would be picked up by the next `dvs commit` (see
    /// ``WorkingTree/wouldTrack(_:)``).
    /// - Parameter absolutePath: an absolute path (need not exist yet).
    public func wouldTrack(_ absolutePath: String) -> Bool { workingTree.wouldTrack(absolutePath) }
}

extension WorkingTree {
    /// Whether a file at `absolutePath` would be picked up by the next `dvs commit`: it lies in
    /// the working tree, not under `.dvs`/`.git`, and no `.dvsignore` on its way excludes it (or
    /// a folder above it). Used to warn before a command writes an output file into the tree.
    /// - Parameter absolutePath: an absolute path (need not exist yet).
    public func wouldTrack(_ absolutePath: String) -> Bool {
        let full = URL(fileURLWithPath: absolutePath).standardizedFileURL.path
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        guard full.hasPrefix(base + "/") else { return false }
        let parts = full.dropFirst(base.count + 1).split(separator: "/").map(String.init)
        guard !parts.isEmpty, !parts.dropLast().contains(where: { [".dvs", ".git"].contains($0.lowercased()) }) else { return false }
        var rules = IgnoreRules()
        var folder = ""
        for (i, name) in parts.enumerated() {
            if let bytes = try? FileIO.read(base + (folder.isEmpty ? "" : "/" + folder) + "/.dvsignore") {
                rules.add(contents: bytes, base: RepoPath(folder))
            }
            let path = folder.isEmpty ? name : folder + "/" + name
            if rules.isIgnored(RepoPath(path), isDirectory: i < parts.count - 1) { return false }
            folder = path
        }
        return true
    }
}
