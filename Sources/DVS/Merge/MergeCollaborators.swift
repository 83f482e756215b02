import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// The roles `MergeOperation` reaches the repository through, and `RepositoryMergeParts`, which
// plays them on a repository on disk. Tests play them in memory (Tests/DVSTests/MergeOperationTests.swift).

/// What a merge reads of history: HEAD, commits, their snapshots, and the cohort cuts on them.
protocol MergeHistory: Sendable {
    /// The commit HEAD points at; nil on an unborn branch.
    /// - Throws: `DVSError` (or a catalog error) when HEAD cannot be read.
    func headCommit() throws -> CommitID?
    /// The branch HEAD is on; nil when HEAD is detached.
    func currentBranch() -> String?
    /// The commit `revision` names.
    /// - Throws: `DVSError.unknownRevision` when it names none.
    func resolve(_ revision: Revision) throws -> CommitID
    /// Reads a commit.
    /// - Throws: `DVSError.corrupt` when it is missing or damaged.
    func commit(_ id: CommitID) throws -> Commit
    /// All entries of a manifest, sorted by path.
    /// - Throws: `DVSError.corrupt` naming a damaged chunk.
    func entries(ofManifest root: ObjectID) throws -> [ManifestEntry]
    /// The leaves of a manifest with their entries, in path order; leaves found in `known` are
    /// not read again.
    /// - Throws: `DVSError.corrupt` naming a damaged chunk.
    func leafEntries(ofManifest root: ObjectID, reusing known: [ObjectID: [ManifestEntry]]) throws -> [(ObjectID, [ManifestEntry])]
    /// The cohort predicate in force on `tip`'s first-parent chain since `base` (nil: the whole chain).
    /// - Throws: `DVSError.corrupt` when a commit cannot be read.
    func cohortPredicate(since base: CommitID?, on tip: CommitID) throws -> String?
    /// `entries` restricted to the samples matching a cohort `predicate`.
    /// - Throws: `DVSError.badInput` when the predicate is not valid SQL over `sample`.
    func cohortCut(_ entries: [ManifestEntry], predicate: String) throws -> [ManifestEntry]
}

/// A move of HEAD a merge asks for: the branch HEAD is on (or HEAD itself when detached) from
/// `expected` to `new`, with `message` in the reflog.
struct HeadMove: Equatable, Sendable {
    /// The branch HEAD is on; nil moves a detached HEAD.
    var branch: String?
    /// Where the branch (or HEAD) must still be.
    var expected: CommitID
    /// Where it moves.
    var new: CommitID
    /// The reflog message (`merge side: fast-forward`, `merge side: merged`).
    var message: String
}

/// What switching the working tree to a commit did, in files.
struct TreeSwitch: Equatable, Sendable {
    /// Files written.
    var written: Int
    /// Files removed.
    var removed: Int
    /// Files left as they were.
    var unchanged: Int
    /// Bytes written.
    var bytesWritten: UInt64
}

/// The working tree as a merge uses it.
protocol MergeWorkingTree {
    /// The tree's changes against HEAD's snapshot `head` (untracked files as `.added`).
    /// - Throws: `DVSError` when the tree cannot be read.
    func changes(againstHead head: [ManifestEntry]) throws -> [Change]
    /// Moves the tree from HEAD's snapshot to `target`'s with checkout's safety rules (`force`
    /// discards local changes), then applies `moving`, if any, in the transaction that refreshes
    /// the stat cache.
    /// - Throws: `DVSError.wouldOverwrite` when work would be lost; storage and catalog errors.
    func switchTree(to target: CommitID, revision: String, force: Bool, moving: HeadMove?, progress: ProgressHandler?) throws
        -> TreeSwitch
    /// Writes the difference between two trees into the working tree, which matches `from`:
    /// removes what `to` lacks, writes what differs (blobs from `newContent`, else the store).
    /// - Throws: `DVSError.badInput` when a path of `to` is not safe to write; storage errors.
    func write(from: [ManifestEntry], to: [ManifestEntry], newContent: [ObjectID: [UInt8]], progress: ProgressHandler?) throws
    /// Removes files (missing ones are skipped) and the folders they leave empty.
    func remove(_ paths: [RepoPath])
    /// Whether something exists at `path`.
    func exists(_ path: RepoPath) -> Bool
    /// A file's bytes; nil when it cannot be read.
    func contents(of path: RepoPath) -> [UInt8]?
}

/// Making commits for a merge.
protocol MergeCommitter {
    /// Stores a merged tree held in memory as a commit (`Repository.composeCommit`); moves no ref.
    /// - Throws: `DVSError.badInput` whose message says `label error` when the merged labels are
    ///   invalid; storage errors.
    func compose(
        _ tree: [ManifestEntry], newContent: [ObjectID: [UInt8]], parents: [CommitID], message: String, extra: [String: String],
        transcriptsFrom: [[ManifestEntry]], deltaFrom: [ManifestEntry]
    ) throws -> ComposedCommit
    /// Commits the working tree (`Repository.commit`), as `dvs merge --continue` does.
    /// - Throws: as `Repository.commit`.
    func commitWorkingTree(_ options: CommitOptions, progress: ProgressHandler?) throws -> CommitSummary
}

/// The catalog transactions of a merge.
protocol MergeRefs {
    /// Records a composed commit and its packs.
    /// - Throws: catalog errors.
    func record(_ composed: ComposedCommit) throws
    /// Moves HEAD's branch (or detached HEAD) and writes the reflog.
    /// - Throws: catalog errors (a branch no longer at `expected`).
    func move(_ move: HeadMove) throws
}

/// The merge roles played by a repository on disk.
struct RepositoryMergeParts: MergeHistory, MergeWorkingTree, MergeCommitter, MergeRefs {
    /// The repository.
    let repository: Repository

    func headCommit() throws -> CommitID? { try repository.headCommit() }
    func currentBranch() -> String? { repository.currentBranch() }
    func resolve(_ revision: Revision) throws -> CommitID { try repository.resolve(revision) }
    func commit(_ id: CommitID) throws -> Commit { try repository.commit(id) }
    func entries(ofManifest root: ObjectID) throws -> [ManifestEntry] { try repository.entries(ofManifest: root) }
    func leafEntries(ofManifest root: ObjectID, reusing known: [ObjectID: [ManifestEntry]]) throws -> [(ObjectID, [ManifestEntry])] {
        try repository.leafEntries(ofManifest: root, reusing: known)
    }
    func cohortPredicate(since base: CommitID?, on tip: CommitID) throws -> String? {
        try repository.cohortPredicate(since: base, on: tip)
    }
    func cohortCut(_ entries: [ManifestEntry], predicate: String) throws -> [ManifestEntry] {
        try repository.cohortCut(entries, predicate: predicate).entries
    }

    func changes(againstHead head: [ManifestEntry]) throws -> [Change] {
        try repository.statusAndHead(known: head).0.changes
    }
    func switchTree(to target: CommitID, revision: String, force: Bool, moving: HeadMove?, progress: ProgressHandler?) throws
        -> TreeSwitch
    {
        let refs: TreeSwitchRefs =
            moving.map { .moveBranch(branch: $0.branch, expected: $0.expected, message: $0.message) } ?? .none
        // Moving refs: a fast-forward merge; none: `--abort` back to HEAD.
        let journal: (OperationJournal.Kind, String) =
            moving == nil ? (.mergeAbort, "dvs merge --abort") : (.checkout, "dvs merge \(revision)")
        let r = try repository.switchTree(
            to: target, revision: revision, force: force, refs: refs, journal: journal, progress: progress)
        return TreeSwitch(written: r.written, removed: r.removed, unchanged: r.unchanged, bytesWritten: r.bytesWritten)
    }
    func write(from: [ManifestEntry], to: [ManifestEntry], newContent: [ObjectID: [UInt8]], progress: ProgressHandler?) throws {
        try repository.writeTreeChanges(from: from, to: to, extraContent: newContent, progress: progress)
    }
    func remove(_ paths: [RepoPath]) { repository.workingTree.remove(paths) }
    func exists(_ path: RepoPath) -> Bool { FileIO.exists(repository.root + "/" + path.string) }
    func contents(of path: RepoPath) -> [UInt8]? {
        FileManager.default.contents(atPath: repository.root + "/" + path.string).map { Array($0) }
    }

    func compose(
        _ tree: [ManifestEntry], newContent: [ObjectID: [UInt8]], parents: [CommitID], message: String, extra: [String: String],
        transcriptsFrom: [[ManifestEntry]], deltaFrom: [ManifestEntry]
    ) throws -> ComposedCommit {
        try repository.composeCommit(
            tree, newContent: newContent, parents: parents, message: message, extra: extra, transcriptsFrom: transcriptsFrom,
            deltaFrom: deltaFrom)
    }
    func commitWorkingTree(_ options: CommitOptions, progress: ProgressHandler?) throws -> CommitSummary {
        try repository.commit(options, progress: progress)
    }

    func record(_ composed: ComposedCommit) throws {
        try repository.catalog.write { tx in try repository.recordComposed(composed.packs, composed.id, composed.commit, in: tx) }
    }
    func move(_ move: HeadMove) throws {
        let who = repository.identity
        try repository.catalog.write { tx in try Self.apply(move, in: tx, who: who) }
    }

    /// Moves the branch (or detached HEAD) in `tx`, with the reflog.
    static func apply(_ move: HeadMove, in tx: CatalogTransaction, who: String) throws {
        if let branch = move.branch {
            try tx.moveRefs([RefUpdate(name: .branch(branch), expected: move.expected, new: move.new, message: move.message)], who: who)
        } else {
            try tx.setHead(.detached(move.new), who: who, message: move.message)
        }
    }
}

extension Repository {
    /// Writes the difference between two trees into the working tree (which matches `from`):
    /// removes what `to` lacks, writes what differs, each file to a temp name renamed into place.
    /// In a partial clone, first downloads the blobs it writes that are not stored here.
    /// - Throws: `DVSError.badInput` when a path of `to` is not safe; `.remote` or `.corrupt`
    ///   as ``ensureBlobs(of:progress:)``; storage errors.
    func writeTreeChanges(from: [ManifestEntry], to: [ManifestEntry], extraContent: [ObjectID: [UInt8]], progress: ProgressHandler?)
        throws
    {
        try validate(to, revision: "the merge result")
        let f = Dictionary(from.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let t = Dictionary(to.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let removed = from.filter { t[$0.path] == nil }.map(\.path)
        let changed = to.filter { e in f[e.path].map { !($0.sameContent(as: e) && $0.linkTarget == e.linkTarget) } ?? true }
        let stored = changed.filter { extraContent[$0.blob] == nil }
        // A partial clone downloads what the merge result brings in (a cohort refresh's new
        // samples) before the tree is touched: a failed download leaves it as it was.
        if let partial = partialRemote() {
            try ensureBlobs(Set(stored.filter { $0.kind != .symlink }.map(\.blob)), remote: partial, progress: progress)
        }
        workingTree.remove(removed)
        _ = try workingTree.writeEntries(stored, into: root, force: false, progress: progress)
        for e in changed where extraContent[e.blob] != nil {
            if let parent = e.path.parent {
                do { try FileIO.makeDirectories(root + "/" + parent.string) } catch { throw DVSError.wrap(error) }
            }
            try WorkingTree.writeFile(e, content: extraContent[e.blob]!, base: root, tmpDir: tmpDir)
            workingTree.afterWrite?()
        }
    }
}
