import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation

// The merge operation: resolve, check the working tree, merge the trees (`TreeMerge`), then
// commit and move the branch, or stop with `.dvs/MERGE_STATE` (`MergeStateFile`); `--continue`
// and `--abort` finish a stopped merge. `MergeOperation` holds the decisions and reaches the
// repository only through the roles in `MergeCollaborators.swift`; `Repository`'s `merge`,
// `mergeContinue` and `mergeAbort` (below) take the lock and hand over to it.

/// A merge's life cycle with its state file: start (up to date, fast-forward, clean merge
/// commit, or stop with conflicts), `--continue`, `--abort`, and the refusals while a merge
/// waits in the working tree.
///
/// It holds no repository: history and snapshots come from `history`, file content from
/// `blobs`, the working tree is read and written through `workingTree`, commits are made by
/// `commits` and refs moved by `refs`, so its decisions can be tested with all of them in memory.
/// The caller holds the repository lock where an operation writes.
struct MergeOperation {
    /// Commits, snapshots, HEAD and cohort cuts.
    var history: any MergeHistory
    /// File content (label tables and text files merged by content, `dvs.toml`).
    var blobs: any BlobStore
    /// The working tree: its changes against HEAD, writing a merge result, switching to a commit.
    var workingTree: any MergeWorkingTree
    /// Composing the merge commit from the merged tree, and committing the working tree (`--continue`).
    var commits: any MergeCommitter
    /// Catalog transactions: recording a composed commit, moving HEAD's branch.
    var refs: any MergeRefs
    /// `.dvs/MERGE_STATE`.
    var stateFile: MergeStateFile
    /// `.dvs/JOURNAL`, written before a merge commit or a stopped merge is written into the tree
    /// and removed after, so that an interrupted merge is finished or rolled back by the next
    /// command (`Repository.recoverInterruptedOperation`); nil keeps none (tests in memory).
    var journal: OperationJournalFile? = nil

    // MARK: dvs merge

    /// Merges `revision` into the current branch (or detached HEAD); see `Repository.merge`.
    /// - Parameters:
    ///   - theirs: the commit to merge when the caller made it (a cohort refresh's new cut);
    ///     nil resolves `revision`.
    ///   - prefer: resolves every conflict to one side (`--strategy ours|theirs`).
    ///   - noCommit: stop before committing, as for conflicts.
    ///   - message: the merge commit's message; nil is `Merge REV into BRANCH`.
    ///   - extra: headers for the merge commit (cohort refresh).
    ///   - allowFastForward: false always makes a merge commit (a cohort refresh).
    /// - Throws: `DVSError.badInput` when a merge is in progress, HEAD has no commit, the tree is
    ///   dirty, or merged labels are invalid; `.wouldOverwrite` when untracked files are in the
    ///   way; `.unknownRevision`; what the collaborators throw.
    func start(
        _ revision: Revision, theirs given: CommitID? = nil, prefer: MergePreference?, noCommit: Bool, message: String?,
        extra: [String: String], allowFastForward: Bool = true, progress: ProgressHandler?
    ) throws -> MergeSummary {
        if let s = state() {
            throw DVSError(
                .badInput, "a merge of '\(s.theirsName)' is in progress",
                next: .finishOrAbortMerge(afterStatus: false))
        }
        let theirs = try given ?? history.resolve(revision)
        guard let ours = try history.headCommit() else {
            throw DVSError(.badInput, "HEAD has no commit to merge into", next: .checkOutInstead(revision))
        }
        let branch = history.currentBranch()
        let bases = try MergeBases.best(ours, theirs) { try history.commit($0) }
        if theirs == ours || bases.first == theirs {
            return MergeSummary(
                status: .upToDate, head: ours, theirs: theirs, base: theirs, baseCount: bases.count, conflicts: [], changes: [])
        }
        // The working tree must match HEAD: a merge writes into it and --abort must restore it.
        // Untracked files may stay unless the merge would write over them.
        // HEAD's snapshot first; their snapshot and the base's reuse the leaves they share with
        // it (most of them), read while the working tree is scanned.
        let ourLeaves = try history.leafEntries(ofManifest: history.commit(ours).manifest, reusing: [:])
        let loads = Background { [history] in
            var known = Dictionary(ourLeaves, uniquingKeysWith: { a, _ in a })
            let theirLeaves = try history.leafEntries(ofManifest: history.commit(theirs).manifest, reusing: known)
            for (id, es) in theirLeaves where known[id] == nil { known[id] = es }
            let baseLeaves =
                try bases.first.map { try history.leafEntries(ofManifest: history.commit($0).manifest, reusing: known) } ?? []
            return (baseLeaves.flatMap(\.1), theirLeaves.flatMap(\.1))
        }
        let headEntries = ourLeaves.flatMap(\.1)
        let changes = try workingTree.changes(againstHead: headEntries)
        let dirty = changes.filter { $0.kind != .added }
        if !dirty.isEmpty {
            throw DVSError(
                .badInput, "cannot merge: the working tree has \(counted(dirty.count, "uncommitted change")); nothing was changed",
                details: dirty.prefix(20).map { "\($0.kind.rawValue): \($0.path)" }, next: .commitOrDiscard)
        }
        let untracked = Set(changes.map(\.path))
        // A cohort's history cut samples away: taking it wholesale (fast-forward) into a branch
        // that is not that cohort would delete them there, so merge it by samples instead.
        let theirCut = bases.first == ours ? try history.cohortPredicate(since: ours, on: theirs) : nil
        let ourCut = theirCut == nil ? nil : try history.cohortPredicate(since: nil, on: ours)
        let fastForward = allowFastForward && bases.first == ours && CohortMergeRules.allowsFastForward(theirCut: theirCut, ourCut: ourCut)
        if fastForward && !noCommit {
            let move = HeadMove(branch: branch, expected: ours, new: theirs, message: "merge \(revision): fast-forward")
            _ = try workingTree.switchTree(to: theirs, revision: revision.spelling, force: false, moving: move, progress: progress)
            let after = try history.entries(ofManifest: history.commit(theirs).manifest)
            return MergeSummary(
                status: .fastForward, head: theirs, theirs: theirs, base: ours, baseCount: bases.count, conflicts: [],
                changes: diffEntries(headEntries, after))
        }
        let base = bases.first
        let loaded = try loads.value()
        var baseEntries = loaded.0
        let theirEntries = loaded.1
        if let base { baseEntries = try cohortCutBase(baseEntries, base: base, sides: [ours, theirs]) }
        let merged = try mergeTrees(base: baseEntries, ours: headEntries, theirs: theirEntries, prefer: prefer)
        let inTheWay = (merged.entries + merged.sideFiles).map(\.path).filter { untracked.contains($0) }
        if !inTheWay.isEmpty {
            throw DVSError(
                .wouldOverwrite, "cannot merge: \(counted(inTheWay.count, "untracked file")) would be overwritten; nothing was changed",
                hint: "move them away or commit them, then merge again", details: inTheWay.prefix(20).map(\.string))
        }
        let name = revision.spelling
        let text = message ?? "Merge \(name) into \(branch ?? "HEAD")"
        if merged.conflicts.isEmpty && !noCommit {
            do {
                let made = try commits.compose(
                    merged.entries, newContent: merged.newContent, parents: [ours, theirs], message: text, extra: extra,
                    transcriptsFrom: [headEntries, theirEntries], deltaFrom: headEntries)
                // Packs and the commit are indexed first (unreferenced until the ref moves), so
                // the working tree can be written from them.
                try refs.record(made)
                let changes = diffEntries(headEntries, made.entries)
                let move = HeadMove(branch: branch, expected: ours, new: made.id, message: "merge \(name): merged")
                // The commit is recorded: an interruption from here on is finished by switching to it.
                let record = OperationJournal(
                    kind: .merge, command: "dvs merge \(name)", revision: name, from: ours, target: made.id, force: false,
                    refs: .moveBranch(branch: branch, expected: ours, message: move.message))
                try journaled(record) {
                    try workingTree.write(from: headEntries, to: made.entries, newContent: [:], progress: progress)
                    try refs.move(move)
                }
                return MergeSummary(
                    status: .merged, head: made.id, theirs: theirs, base: base, baseCount: bases.count, conflicts: [], changes: changes)
            } catch let e as DVSError where e.code == .badInput && e.message.contains("label error") {
                // Each side's labels were valid; together they are not: stop for the user to fix.
                let c = e.details.map {
                    MergeConflict(
                        kind: .labels, path: String($0.prefix { $0 != ":" }), key: nil, field: nil, base: nil, ours: nil, theirs: nil,
                        message: $0)
                }
                return try stop(
                    merged, conflicts: c, ours: ours, theirs: theirs, theirsName: name, base: base, baseCount: bases.count,
                    message: text, extra: extra, headEntries: headEntries, progress: progress)
            }
        }
        return try stop(
            merged, conflicts: merged.conflicts, ours: ours, theirs: theirs, theirsName: name, base: base, baseCount: bases.count,
            message: text, extra: extra, headEntries: headEntries, progress: progress, noCommit: noCommit)
    }

    /// Merges three snapshots in memory (`TreeMerge`), reading content from `blobs` and label
    /// declarations from our `dvs.toml`.
    /// - Throws: `DVSError` when a blob cannot be read.
    func mergeTrees(base: [ManifestEntry], ours: [ManifestEntry], theirs: [ManifestEntry], prefer: MergePreference?) throws
        -> TreeMergeResult
    {
        let content: (ObjectID) throws -> [UInt8] = { [blobs] id in
            do { return try blobs.read(id) } catch { throw DVSError.wrap(error) }
        }
        return try TreeMerge(content: content, labelConfig: TreeMerge.labelConfig(of: ours, content: content), prefer: prefer)
            .merge(base: base, ours: ours, theirs: theirs)
    }

    /// The merge base's entries as the sides see them: cut by each cohort predicate recorded on
    /// either side's history since `base` (`CohortMergeRules.cutBase`).
    /// - Throws: what `history` throws (a recorded predicate that is no longer valid SQL; commit reads).
    func cohortCutBase(_ entries: [ManifestEntry], base: CommitID, sides: [CommitID]) throws -> [ManifestEntry] {
        let predicates = try sides.map { try history.cohortPredicate(since: base, on: $0) }
        return try CohortMergeRules.cutBase(entries, predicates: predicates) { try history.cohortCut($0, predicate: $1) }
    }

    /// Writes a merge that stopped (conflicts or `--no-commit`) into the working tree and
    /// records `.dvs/MERGE_STATE`. HEAD does not move.
    private func stop(
        _ merged: TreeMergeResult, conflicts: [MergeConflict], ours: CommitID, theirs: CommitID, theirsName: String, base: CommitID?,
        baseCount: Int, message: String, extra: [String: String], headEntries: [ManifestEntry], progress: ProgressHandler?,
        noCommit: Bool = false
    ) throws -> MergeSummary {
        let headPaths = Set(headEntries.map(\.path))
        let target = (merged.entries + merged.sideFiles).sorted { $0.path < $1.path }
        let state = MergeState(
            ours: ours, theirs: theirs, theirsName: theirsName, base: base, message: message, conflicts: conflicts,
            added: (merged.entries + merged.sideFiles).map(\.path).filter { !headPaths.contains($0) },
            sideFiles: merged.sideFiles.map(\.path), extra: extra)
        // Journal first: an interruption before the tree is written is rolled back to HEAD by
        // the next command (the state file alone would claim a merge the tree does not hold).
        let record = OperationJournal(
            kind: .mergeStop, command: "dvs merge \(theirsName)", revision: "HEAD", from: ours, target: ours, force: true, refs: .none)
        try journaled(record) {
            try stateFile.write(state)
            try workingTree.write(from: headEntries, to: target, newContent: merged.newContent, progress: progress)
        }
        return MergeSummary(
            status: conflicts.isEmpty && noCommit ? .noCommit : .conflicts, head: ours, theirs: theirs, base: base, baseCount: baseCount,
            conflicts: conflicts, changes: diffEntries(headEntries, target))
    }

    /// Runs `body` (which writes the working tree) with `record` in ``journal``: written durably
    /// before, removed after, and removed as well when `body` throws (the error says what failed).
    /// Only a killed process leaves it, for the next command to finish or roll back.
    /// - Throws: what writing the journal or `body` throws.
    private func journaled(_ record: OperationJournal, _ body: () throws -> Void) throws {
        guard let journal else { return try body() }
        try journal.write(record)
        defer { journal.clear() }
        try body()
    }

    // MARK: dvs merge --continue

    /// Finishes a stopped merge: commits the working tree as the merge commit (parents HEAD and
    /// the merged commit, the recorded message and headers) and removes the state file.
    /// Refuses while conflicts are unresolved.
    /// - Parameter message: replaces the recorded message.
    /// - Throws: `DVSError.badInput` when no merge is in progress or conflicts remain (naming
    ///   them); what `commits.commitWorkingTree` throws.
    func finish(message: String?, progress: ProgressHandler?) throws -> CommitSummary {
        guard let s = state() else {
            throw DVSError(.badInput, "no merge is in progress", next: .startMerge)
        }
        let left = unresolvedConflicts(s)
        if !left.isEmpty {
            throw DVSError(
                .badInput, "\(counted(left.count, "conflict")) \(left.count == 1 ? "is" : "are") not resolved yet; nothing was committed",
                details: left,
                next: unresolvedDeletions(s).isEmpty
                    ? .resolveOrRestartMerge(cohort: s.refreshedCohort, theirs: s.theirsName)
                    : .resolveDeletionOrRestartMerge(cohort: s.refreshedCohort, theirs: s.theirsName))
        }
        var options = CommitOptions(message: message ?? s.message, allowEmpty: true)
        options.extraParents = [s.theirs]
        options.extra = s.extra
        let summary = try commits.commitWorkingTree(options, progress: progress)
        stateFile.clear()
        return summary
    }

    // MARK: dvs merge --abort

    /// Undoes a stopped merge: files the merge added are removed, the working tree is switched
    /// back to HEAD's snapshot with `--force` (every file it changed rewritten from HEAD;
    /// untracked files left alone) and the state file removed.
    /// - Throws: `DVSError.badInput` when no merge is in progress (a stale state file is removed);
    ///   what `workingTree.switchTree` throws.
    func abort(progress: ProgressHandler?) throws -> CheckoutSummary {
        guard let s = state() else {
            stateFile.clear()
            throw DVSError(.badInput, "no merge is in progress", hint: "nothing to abort")
        }
        let ours = s.ours
        let head = Set(try history.entries(ofManifest: history.commit(ours).manifest).map(\.path))
        let added = s.added.filter { !head.contains($0) }
        workingTree.remove(added)
        let r = try workingTree.switchTree(to: ours, revision: "HEAD", force: true, moving: nil, progress: progress)
        stateFile.clear()
        return CheckoutSummary(
            id: ours, branch: history.currentBranch(), written: r.written, removed: r.removed + added.count, unchanged: r.unchanged,
            bytesWritten: r.bytesWritten)
    }
}

extension Repository {
    // MARK: dvs merge

    /// This repository's merge operation: its history, blob store, working tree, commits and
    /// catalog, and `.dvs/MERGE_STATE`.
    var mergeOperation: MergeOperation {
        let parts = RepositoryMergeParts(repository: self)
        return MergeOperation(
            history: parts, blobs: blobs, workingTree: parts, commits: parts, refs: parts, stateFile: mergeStateFile,
            journal: journalFile)
    }

    /// Merges `revision` into the current branch (or detached HEAD): fast-forward when HEAD is an
    /// ancestor of it, else a three-way merge from the merge base (`TreeMerge`) recorded as a
    /// commit with two parents, HEAD first.
    ///
    /// The base is the best common ancestor; with several (criss-cross history) the one committed
    /// last (ties: larger id), as git's `resolve` strategy does, and `baseCount` says so. When a
    /// side's history since the base passes through a cohort cut (`cohort-predicate` header), the
    /// base is first cut by the same predicate, so the samples a cohort never had do not count as
    /// deleted on it.
    ///
    /// Refuses, changing nothing, when the working tree has uncommitted changes (commit them
    /// first). On conflicts (and with `noCommit`) the merged tree is written to the working tree,
    /// conflicts listed in `.dvs/MERGE_STATE`, and HEAD does not move: finish with
    /// `mergeContinue`, or `mergeAbort`.
    /// - Parameters:
    ///   - prefer: resolves every conflict to one side (`--strategy ours|theirs`).
    ///   - extra: headers for the merge commit (cohort refresh).
    /// - Throws: `DVSError.badInput` when a merge is in progress, the tree is dirty, or merged labels
    ///   are invalid; `.unknownRevision`; `.locked`.
    public func merge(
        _ revision: Revision, prefer: MergePreference? = nil, noCommit: Bool = false, message: String? = nil,
        extra: [String: String] = [:], progress: ProgressHandler? = nil
    ) throws -> MergeSummary {
        let lock = try self.lock("dvs merge \(revision)")
        defer { lock.release() }
        return try mergeLocked(revision, prefer: prefer, noCommit: noCommit, message: message, extra: extra, progress: progress)
    }

    /// `merge` with the repository lock already held (`dvs pull`, `dvs cohort refresh`); see
    /// `MergeOperation.start`.
    /// - Throws: as `merge`.
    func mergeLocked(
        _ revision: Revision, theirs given: CommitID? = nil, prefer: MergePreference?, noCommit: Bool, message: String?,
        extra: [String: String], allowFastForward: Bool = true, progress: ProgressHandler?
    ) throws -> MergeSummary {
        try mergeOperation.start(
            revision, theirs: given, prefer: prefer, noCommit: noCommit, message: message, extra: extra,
            allowFastForward: allowFastForward, progress: progress)
    }

    /// Finishes a stopped merge: commits the working tree as the merge commit (parents HEAD and
    /// the merged commit, the recorded message). Refuses while conflicts are unresolved.
    /// - Throws: `DVSError.badInput` when no merge is in progress or conflicts remain (naming
    ///   them); as `commit`.
    public func mergeContinue(message: String? = nil, progress: ProgressHandler? = nil) throws -> CommitSummary {
        try mergeOperation.finish(message: message, progress: progress)
    }

    /// Undoes a stopped merge: the working tree is restored to HEAD's snapshot byte for byte
    /// (files the merge added are removed, every file it changed is rewritten from HEAD;
    /// untracked files are left alone) and `.dvs/MERGE_STATE` is removed.
    /// - Throws: `DVSError.badInput` when no merge is in progress; as `checkout`.
    public func mergeAbort(progress: ProgressHandler? = nil) throws -> CheckoutSummary {
        let lock = try self.lock("dvs merge --abort")
        defer { lock.release() }
        return try mergeOperation.abort(progress: progress)
    }
}
