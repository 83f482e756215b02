import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// How a path differs between two states.
public enum ChangeKind: String, Sendable, Codable {
    /// Present only in the newer state.
    case added
    /// Content, kind or executable bit differs.
    case modified
    /// Present only in the older state.
    case deleted
}

/// One changed path.
public struct Change: Sendable, Equatable {
    /// How it changed.
    public var kind: ChangeKind
    /// Where.
    public var path: RepoPath
    /// The entry before (nil when added).
    public var old: ManifestEntry?
    /// The entry after (nil when deleted).
    public var new: ManifestEntry?
}

extension Change {
    /// The change from `old` to `new` at `path` (at least one present): added, deleted or modified.
    init(path: RepoPath, old: ManifestEntry?, new: ManifestEntry?) {
        self.init(kind: old == nil ? .added : new == nil ? .deleted : .modified, path: path, old: old, new: new)
    }
}

/// Renames among `changes` (as `diffEntries` returns them): each deleted entry paired with an
/// added entry of the same content, in path order — the rule `dvs diff` and `dvs status` share.
/// - Returns: (index of the deleted change, index of the added change) pairs.
/// - Complexity: O(n).
public func renamePairs(_ changes: [Change]) -> [(deleted: Int, added: Int)] {
    var addedByBlob: [ObjectID: [Int]] = [:]
    for (i, c) in changes.enumerated() where c.kind == .added { addedByBlob[c.new!.blob, default: []].append(i) }
    var out: [(deleted: Int, added: Int)] = []
    for (i, c) in changes.enumerated() where c.kind == .deleted {
        if var list = addedByBlob[c.old!.blob], !list.isEmpty {
            out.append((i, list.removeFirst()))
            addedByBlob[c.old!.blob] = list
        }
    }
    return out
}

/// `changes` as they are listed, a rename (``renamePairs(_:)``) on one row: each change in
/// order, with the index of the added change it pairs with when it is a rename's deleted side;
/// a rename's added side has no row of its own. What `dvs status` and `dvs show` print.
/// - Returns: (index of the change, index of the added change when it is renamed) pairs.
/// - Complexity: O(n).
public func changeRows(_ changes: [Change]) -> [(change: Int, renamedTo: Int?)] {
    var renamedTo = [Int?](repeating: nil, count: changes.count)
    var isTarget = [Bool](repeating: false, count: changes.count)
    for (d, a) in renamePairs(changes) {
        renamedTo[d] = a
        isTarget[a] = true
    }
    return changes.indices.filter { !isTarget[$0] }.map { ($0, renamedTo[$0]) }
}

/// Whether two entries (nil: no file) hold the same file: same kind, content and link target
/// (labels and audio facts aside). The rule of ``diffEntries(_:_:)``, checkout and tree merge.
func sameFile(_ a: ManifestEntry?, _ b: ManifestEntry?) -> Bool {
    switch (a, b) {
    case (nil, nil): return true
    case (let x?, let y?): return x.sameContent(as: y) && x.linkTarget == y.linkTarget
    default: return false
    }
}

/// Compares two sorted entry lists.
/// - Complexity: O(n + m).
public func diffEntries(_ a: [ManifestEntry], _ b: [ManifestEntry]) -> [Change] {
    var out: [Change] = []
    var i = 0
    var j = 0
    while i < a.count || j < b.count {
        if j >= b.count || (i < a.count && a[i].path < b[j].path) {
            out.append(Change(kind: .deleted, path: a[i].path, old: a[i], new: nil))
            i += 1
        } else if i >= a.count || b[j].path < a[i].path {
            out.append(Change(kind: .added, path: b[j].path, old: nil, new: b[j]))
            j += 1
        } else {
            if !sameFile(a[i], b[j]) {
                out.append(Change(kind: .modified, path: a[i].path, old: a[i], new: b[j]))
            }
            i += 1
            j += 1
        }
    }
    return out
}

/// The result of `Repository.status()`.
public struct StatusReport: Sendable {
    /// HEAD.
    public var head: Head
    /// Working tree vs HEAD, sorted by path.
    public var changes: [Change]
    /// Problems noticed in changed files (and files dvs cannot version).
    public var warnings: [ScanWarning]
    /// Files whose content was read and hashed (the rest were trusted from the stat cache).
    public var hashedFiles: Int
    /// Files in the working tree.
    public var fileCount: Int

    /// Samples (audio files) among the changes, counting either side.
    public var samplesAffected: Int { changes.filter { $0.old?.audio != nil || $0.new?.audio != nil }.count }
    /// Hours of audio in the changed samples (the newer side where present).
    public var hoursAffected: Double {
        changes.reduce(0.0) { $0 + (($1.new?.audio ?? $1.old?.audio)?.duration ?? 0) } / 3600
    }
}

extension Repository {
    /// The commit HEAD points at, if any.
    public func headCommit() throws -> CommitID? { try catalog.head()?.commit }

    /// The entries of HEAD's snapshot (empty on an unborn branch).
    public func headEntries() throws -> [ManifestEntry] {
        guard let c = try headCommit() else { return [] }
        return try entries(ofManifest: commit(c).manifest)
    }

    /// Lists new, modified and deleted files against HEAD.
    ///
    /// One `lstat` per file, compared with the stat cache; only files whose size, mtime, ctime,
    /// inode or mode changed, or whose cache entry is racily clean, are read and hashed. What it
    /// hashes is written back to the stat cache when no writer holds the lock (never waits).
    /// - Throws: `DVSError` when the tree cannot be read or HEAD's snapshot is damaged.
    public func status(progress: ProgressHandler? = nil) throws -> StatusReport {
        if let report = try statusOfChanges() { return report }
        return try statusAndHead(progress: progress).0
    }

    /// ``status(progress:)`` in time proportional to what changed, when the stat cache mirrors
    /// HEAD (`schema/0005_stat_cache_base.sql`): one walk compared with the stat cache in path
    /// order, then only the candidate files read and only their HEAD entries looked up
    /// (``ManifestEditor``). nil when the cache does not mirror HEAD.
    /// - Throws: as ``status(progress:)``.
    /// - Complexity: O(n) `lstat`s and stat cache rows, O(k) files read and leaves decoded.
    func statusOfChanges() throws -> StatusReport? {
        do {
            guard let head = try catalog.head(), let headCommit = head.commit, try catalog.statCacheBase() == headCommit else {
                return nil
            }
            let tree = workingTree
            let monitored = try findChangesOfWholeTree()
            let candidates = monitored.candidates
            let paths = candidates.paths
            var changes: [Change] = []
            var scan = CandidateScan(entries: [:], cacheUpdates: [], warnings: [], hashedFiles: 0, newBlobCount: 0, newRawBytes: 0)
            if !paths.isEmpty || !candidates.skipped.isEmpty {
                scan = try tree.scan(candidates, writer: nil, isStored: { _ in true })
            }
            if !paths.isEmpty {
                var editor = try ManifestEditor(store: snapshots, root: commit(headCommit).manifest)
                let old = try editor.entries(at: paths)
                for p in paths where !sameFile(old[p], scan.entries[p]) {
                    let (o, n) = (old[p], scan.entries[p])
                    changes.append(Change(path: p, old: o, new: n))
                }
            }
            let changed = Set(changes.map(\.path))
            if !scan.cacheUpdates.isEmpty || monitored.recordsToken,
                let lock = RepositoryLock.tryAcquire(path: dvsDir + "/lock", command: "dvs status (refreshing the stat cache)")
            {
                defer { lock.release() }
                // Rows of files equal to HEAD's are settled; the others unsettled. No row is
                // removed: a settled row of a deleted file is how the next scan sees the deletion.
                // (Read again under the lock: a commit may have moved HEAD since.) The monitor's
                // token taken before the scan is recorded with the rows.
                if (try? catalog.statCacheBase()) == headCommit, (try? catalog.head()?.commit) == headCommit {
                    try? catalog.write { tx in
                        try tx.updateStatCache(scan.cacheUpdates.filter { !changed.contains($0.0) }, removing: [], settled: true)
                        try tx.updateStatCache(scan.cacheUpdates.filter { changed.contains($0.0) }, removing: [], settled: false)
                        try monitored.record(in: tx)
                    }
                }
            }
            let changedNames = Set(changes.map(\.path.string))
            return StatusReport(
                head: head, changes: changes,
                warnings: scan.warnings.filter { changedNames.contains($0.path) || $0.kind == .unsupportedFileType },
                hashedFiles: scan.hashedFiles, fileCount: candidates.fileCount)
        } catch { throw DVSError.wrap(error) }
    }

    /// `status`, with HEAD's snapshot it compared against.
    /// - Parameter known: HEAD's snapshot when the caller has it already.
    func statusAndHead(progress: ProgressHandler? = nil, known: [ManifestEntry]? = nil) throws -> (StatusReport, [ManifestEntry]) {
        do {
            let head = try catalog.head() ?? .branch("main", nil)
            let headLoad = Background { try known ?? self.headEntries() }
            let scan = try workingTree.scan(writer: nil, knownBlobs: [], progress: progress)
            let base = try headLoad.value()
            let changes = diffEntries(base, scan.entries)
            // A clean tree read in full lets the stat cache mirror HEAD from here (as a commit with
            // nothing to commit makes it), so later status and commit cost what changes; otherwise
            // what was hashed is kept, unsettled.
            let mirror = changes.isEmpty && head.commit != nil && (try? catalog.statCacheBase()) != head.commit
            if mirror || !scan.cacheUpdates.isEmpty,
                let lock = RepositoryLock.tryAcquire(path: dvsDir + "/lock", command: "dvs status (refreshing the stat cache)")
            {
                defer { lock.release() }
                if mirror, let headCommit = head.commit, (try? catalog.head()?.commit) == headCommit {
                    try? catalog.write { tx in
                        try tx.updateStatCache(scan.cacheUpdates, removing: scan.removedFromCache, settled: true)
                        try tx.settleStatCache()
                        try tx.setStatCacheBase(headCommit)
                    }
                } else if !scan.cacheUpdates.isEmpty {
                    try? catalog.write { tx in try tx.updateStatCache(scan.cacheUpdates, removing: [], settled: false) }
                }
            }
            let changed = Set(changes.map(\.path.string))
            return (
                StatusReport(
                    head: head, changes: changes,
                    warnings: scan.warnings.filter { changed.contains($0.path) || $0.kind == .unsupportedFileType },
                    hashedFiles: scan.hashedFiles, fileCount: scan.entries.count), base
            )
        } catch { throw DVSError.wrap(error) }
    }
}
