import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// The merge operation on a repository: resolve, check the working tree, merge the trees
// (`TreeMerge`), then commit and move the branch, or stop with `.dvs/MERGE_STATE`
// (`MergeStateFile`); `--continue` and `--abort` finish a stopped merge.

extension Repository {
    // MARK: dvs merge

    /// Merges `revision` into the current branch (or detached HEAD): fast-forward when HEAD is an
    /// ancestor of it, else a three-way merge from the merge base (`mergeTrees`) recorded as a
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

    /// `merge` with the repository lock already held (`dvs pull`, `dvs cohort refresh`).
    /// - Parameters:
    ///   - theirs: the commit to merge when the caller made it (a cohort refresh's new cut);
    ///     nil resolves `revision`.
    ///   - allowFastForward: false always makes a merge commit (a cohort refresh).
    /// - Throws: as `merge`.
    func mergeLocked(
        _ revision: Revision, theirs given: CommitID? = nil, prefer: MergePreference?, noCommit: Bool, message: String?,
        extra: [String: String], allowFastForward: Bool = true, progress: ProgressHandler?
    ) throws -> MergeSummary {
        if let s = mergeState() {
            throw DVSError(
                .badInput, "a merge of '\(s.theirsName)' is in progress",
                next: .finishOrAbortMerge(afterStatus: false))
        }
        let theirs = try given ?? resolve(revision)
        guard let ours = try headCommit() else {
            throw DVSError(.badInput, "HEAD has no commit to merge into", next: .checkOutInstead(revision))
        }
        let branch = currentBranch()
        let who = identity
        let bases = try mergeBases(ours, theirs)
        if theirs == ours || bases.first == theirs {
            return MergeSummary(
                status: .upToDate, head: ours, theirs: theirs, base: theirs, baseCount: bases.count, conflicts: [], changes: [])
        }
        // The working tree must match HEAD: a merge writes into it and --abort must restore it.
        // Untracked files may stay unless the merge would write over them.
        // HEAD's snapshot first; their snapshot and the base's reuse the leaves they share with
        // it (most of them), read while the working tree is scanned.
        let ourLeaves = try leafEntries(ofManifest: commit(ours).manifest)
        let loads = Background { [self] in
            var known = Dictionary(ourLeaves, uniquingKeysWith: { a, _ in a })
            let theirLeaves = try leafEntries(ofManifest: commit(theirs).manifest, reusing: known)
            for (id, es) in theirLeaves where known[id] == nil { known[id] = es }
            let baseLeaves = try bases.first.map { try leafEntries(ofManifest: commit($0).manifest, reusing: known) } ?? []
            return (baseLeaves.flatMap(\.1), theirLeaves.flatMap(\.1))
        }
        let (status, headEntries) = try statusAndHead(known: ourLeaves.flatMap(\.1))
        let dirty = status.changes.filter { $0.kind != .added }
        if !dirty.isEmpty {
            throw DVSError(
                .badInput, "cannot merge: the working tree has \(dirty.count) uncommitted change(s); nothing was changed",
                details: dirty.prefix(20).map { "\($0.kind.rawValue): \($0.path)" }, next: .commitOrDiscard)
        }
        let untracked = Set(status.changes.map(\.path))
        // A cohort's history cut samples away: taking it wholesale (fast-forward) into a branch
        // that is not that cohort would delete them there, so merge it by samples instead.
        let theirCut = bases.first == ours ? try cohortPredicate(since: ours, on: theirs) : nil
        let ourCut = theirCut == nil ? nil : try cohortPredicate(since: nil, on: ours)
        let fastForward = allowFastForward && bases.first == ours && CohortMergeRules.allowsFastForward(theirCut: theirCut, ourCut: ourCut)
        if fastForward && !noCommit {
            let reflog = "merge \(revision): fast-forward"
            let s = try switchTree(to: theirs, revision: revision.spelling, force: false, progress: progress) { tx in
                if let branch {
                    try tx.moveRefs([RefUpdate(name: .branch(branch), expected: ours, new: theirs, message: reflog)], who: who)
                } else {
                    try tx.setHead(.detached(theirs), who: who, message: reflog)
                }
            }
            _ = s
            let after = try entries(ofManifest: commit(theirs).manifest)
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
                .wouldOverwrite, "cannot merge: \(inTheWay.count) untracked file(s) would be overwritten; nothing was changed",
                hint: "move them away or commit them, then merge again", details: inTheWay.prefix(20).map(\.string))
        }
        let name = revision.spelling
        let text = message ?? "Merge \(name) into \(branch ?? "HEAD")"
        if merged.conflicts.isEmpty && !noCommit {
            do {
                let made = try composeCommit(
                    merged.entries, newContent: merged.newContent, parents: [ours, theirs], message: text, extra: extra,
                    transcriptsFrom: [headEntries, theirEntries], deltaFrom: headEntries)
                let reflog = "merge \(name): merged"
                // Packs and the commit are indexed first (unreferenced until the ref moves), so
                // the working tree can be written from them.
                try catalog.write { tx in try recordComposed(made.packs, made.id, made.commit, in: tx) }
                let s = try switchTreeToComposed(made.entries, from: headEntries, progress: progress) { tx in
                    if let branch {
                        try tx.moveRefs([RefUpdate(name: .branch(branch), expected: ours, new: made.id, message: reflog)], who: who)
                    } else {
                        try tx.setHead(.detached(made.id), who: who, message: reflog)
                    }
                }
                return MergeSummary(
                    status: .merged, head: made.id, theirs: theirs, base: base, baseCount: bases.count, conflicts: [], changes: s)
            } catch let e as DVSError where e.code == .badInput && e.message.contains("label error") {
                // Each side's labels were valid; together they are not: stop for the user to fix.
                let c = e.details.map {
                    MergeConflict(
                        kind: .labels, path: String($0.prefix { $0 != ":" }), key: nil, field: nil, base: nil, ours: nil, theirs: nil,
                        message: $0)
                }
                return try stopMerge(
                    merged, conflicts: c, ours: ours, theirs: theirs, theirsName: name, base: base, baseCount: bases.count,
                    message: text, extra: extra, headEntries: headEntries, progress: progress)
            }
        }
        return try stopMerge(
            merged, conflicts: merged.conflicts, ours: ours, theirs: theirs, theirsName: name, base: base, baseCount: bases.count,
            message: text, extra: extra, headEntries: headEntries, progress: progress, noCommit: noCommit)
    }

    /// Moves the working tree from `from` (HEAD's snapshot, which the tree matches) to a composed
    /// commit, running `finish` in the catalog transaction. Returns the changes.
    private func switchTreeToComposed(
        _ target: [ManifestEntry], from: [ManifestEntry], progress: ProgressHandler?, finish: (CatalogTransaction) throws -> Void
    ) throws -> [Change] {
        let changes = diffEntries(from, target)
        try writeTreeChanges(from: from, to: target, extraContent: [:], progress: progress)
        try catalog.write { tx in try finish(tx) }
        return changes
    }

    /// Writes the difference between two trees into the working tree (which matches `from`):
    /// removes what `to` lacks, writes what differs, each file to a temp name renamed into place.
    private func writeTreeChanges(from: [ManifestEntry], to: [ManifestEntry], extraContent: [ObjectID: [UInt8]], progress: ProgressHandler?)
        throws
    {
        try validate(to, revision: "the merge result")
        let f = Dictionary(from.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let t = Dictionary(to.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let removed = from.filter { t[$0.path] == nil }.map(\.path)
        for p in removed { unlink(TreeWalker.cPath(root, p)) }
        removeEmptyParents(of: removed)
        let changed = to.filter { e in f[e.path].map { !($0.sameContent(as: e) && $0.linkTarget == e.linkTarget) } ?? true }
        let stored = changed.filter { extraContent[$0.blob] == nil }
        _ = try writeEntries(stored, into: root, force: false, progress: progress)
        for e in changed where extraContent[e.blob] != nil {
            if let parent = e.path.parent {
                do { try FileIO.makeDirectories(root + "/" + parent.string) } catch { throw DVSError.wrap(error) }
            }
            try Self.writeFile(e, content: extraContent[e.blob]!, base: root)
        }
    }

    /// Writes a merge that stopped (conflicts or `--no-commit`) into the working tree and
    /// records `.dvs/MERGE_STATE`. HEAD does not move.
    private func stopMerge(
        _ merged: TreeMergeResult, conflicts: [MergeConflict], ours: CommitID, theirs: CommitID, theirsName: String, base: CommitID?,
        baseCount: Int, message: String, extra: [String: String], headEntries: [ManifestEntry], progress: ProgressHandler?,
        noCommit: Bool = false
    ) throws -> MergeSummary {
        let headPaths = Set(headEntries.map(\.path))
        let target = merged.entries + merged.sideFiles
        let state = MergeState(
            ours: ours.hex, theirs: theirs.hex, theirsName: theirsName, base: base?.hex, message: message, conflicts: conflicts,
            added: target.map(\.path).filter { !headPaths.contains($0) }.map(\.string),
            sideFiles: merged.sideFiles.map(\.path.string), extra: extra)
        try mergeStateFile.write(state)
        try writeTreeChanges(
            from: headEntries, to: target.sorted { $0.path < $1.path }, extraContent: merged.newContent, progress: progress)
        return MergeSummary(
            status: conflicts.isEmpty && noCommit ? .noCommit : .conflicts, head: ours, theirs: theirs, base: base, baseCount: baseCount,
            conflicts: conflicts, changes: diffEntries(headEntries, target.sorted { $0.path < $1.path }))
    }

    /// Finishes a stopped merge: commits the working tree as the merge commit (parents HEAD and
    /// the merged commit, the recorded message). Refuses while conflicts are unresolved.
    /// - Throws: `DVSError.badInput` when no merge is in progress or conflicts remain (naming
    ///   them); as `commit`.
    public func mergeContinue(message: String? = nil, progress: ProgressHandler? = nil) throws -> CommitSummary {
        guard let s = mergeState() else {
            throw DVSError(.badInput, "no merge is in progress", next: .startMerge)
        }
        let left = unresolvedConflicts(s)
        if !left.isEmpty {
            throw DVSError(
                .badInput, "\(left.count) conflict(s) are not resolved yet; nothing was committed",
                details: left, next: .resolveOrRestartMerge(cohort: s.refreshedCohort, theirs: s.theirsName))
        }
        guard let theirs = CommitID(hex: s.theirs) else {
            throw DVSError(.corrupt, "'\(mergeStatePath)' is damaged", next: .abortMerge)
        }
        var options = CommitOptions(message: message ?? s.message, allowEmpty: true)
        options.extraParents = [theirs]
        options.extra = s.extra
        let summary = try commit(options, progress: progress)
        mergeStateFile.clear()
        return summary
    }

    /// Undoes a stopped merge: the working tree is restored to HEAD's snapshot byte for byte
    /// (files the merge added are removed, every file it changed is rewritten from HEAD;
    /// untracked files are left alone) and `.dvs/MERGE_STATE` is removed.
    /// - Throws: `DVSError.badInput` when no merge is in progress; as `checkout`.
    public func mergeAbort(progress: ProgressHandler? = nil) throws -> CheckoutSummary {
        let lock = try self.lock("dvs merge --abort")
        defer { lock.release() }
        guard let s = mergeState(), let ours = CommitID(hex: s.ours) else {
            mergeStateFile.clear()
            throw DVSError(.badInput, "no merge is in progress", hint: "nothing to abort")
        }
        let head = Set(try headEntries().map(\.path.string))
        let added = s.added.filter { !head.contains($0) }
        for p in added { unlink(root + "/" + p) }
        removeEmptyParents(of: added.map { RepoPath($0) })
        let r = try switchTree(to: ours, revision: "HEAD", force: true, progress: progress) { _ in }
        mergeStateFile.clear()
        return CheckoutSummary(
            id: ours, branch: currentBranch(), written: r.written, removed: r.removed + added.count, unchanged: r.unchanged,
            bytesWritten: r.bytesWritten)
    }
}
