import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Why a commit took the full path (read every label source, decode HEAD's whole manifest,
/// rebuild it) rather than the path that costs what changed (``Repository/commitChanges``).
enum FullCommitReason: String, Sendable {
    case unborn = "the branch has no commit yet"
    case noBase = "the stat cache does not mirror HEAD"
    case merge = "a merge commit"
    case strict = "--strict checks every file named like audio"
    case preCommitHook = "a pre-commit hook reads every sample"
    case manyChanges = "too many files changed"
    case labelSource = "a label source changed"
    case sampleSet = "a labelled sample, or a file a label row may name, was added, removed or changed duration"
    case transcript = "a changed sample has a transcript or segments, or Deepgram responses may match it by content"
    case noLabelSources = "the parent's label sources are not recorded"
}

/// A commit of changes that had to give way to the full path, with what its scan already stored
/// (the full path finds those blobs in the write session and would not count them as new).
struct FullCommitFallback: Error {
    /// Why.
    var reason: FullCommitReason
    /// Blobs the scan of changes stored, and their original bytes.
    var newBlobCount = 0
    var newRawBytes: UInt64 = 0
}

extension Repository {
    /// Commits the working tree in time proportional to what changed, when the stat cache mirrors
    /// HEAD (`schema/0005_stat_cache_base.sql`) and the change leaves every label join as it was.
    ///
    /// The tree is walked and compared with the stat cache in one pass; only the candidate files
    /// are read; HEAD's entries are read for those paths only (``ManifestEditor``); the manifest
    /// is edited leaf by leaf. Labels carry over: a modified sample keeps its annotations when
    /// no label source and no duration changed (the join would give the same result); a file
    /// with no labels may appear, vanish or change duration when no row of any label table can
    /// name it; the label sources recorded for HEAD are reported again.
    /// - Returns: the summary, or the reason the full path must run instead (then nothing was
    ///   committed; blobs already written to `writer` stay in it for the full path to reuse).
    /// - Throws: as ``commit(_:progress:)``; nothing is committed.
    func commitChanges(
        _ options: CommitOptions, head: Head, parent: CommitID, author: Signature, committer: Signature, message: String,
        writer: any BlobWriteSession
    ) throws -> Result<CommitSummary, FullCommitFallback> {
        guard try catalog.statCacheBase() == parent else { return .failure(FullCommitFallback(reason: .noBase)) }
        guard options.extraParents.isEmpty else { return .failure(FullCommitFallback(reason: .merge)) }
        guard !options.strict else { return .failure(FullCommitFallback(reason: .strict)) }
        guard options.noVerify || access(hookPath(.preCommit), X_OK) != 0 else {
            return .failure(FullCommitFallback(reason: .preCommitHook))
        }
        guard let sourcesData = try catalog.labelSources(of: parent),
            let labelTables = try? JSONDecoder().decode([LabelTableInfo].self, from: sourcesData)
        else { return .failure(FullCommitFallback(reason: .noLabelSources)) }
        let tree = workingTree
        // The whole tree through the file-system monitor when it is on (the same candidates).
        let monitored = options.paths == nil ? try findChangesOfWholeTree() : nil
        let candidates = try monitored?.candidates ?? tree.findChanges(within: options.paths)
        let paths = candidates.paths
        if paths.count > 2048 && paths.count * 8 > candidates.fileCount { return .failure(FullCommitFallback(reason: .manyChanges)) }
        let parentCommit = try commit(parent)
        var editor = try ManifestEditor(store: snapshots, root: parentCommit.manifest)
        let old = try editor.entries(at: paths + [RepoPath(LabelBuilder.configPath)])
        var deltaBases: [RepoPath: ObjectID] = [:]
        for (p, e) in old where e.audio == nil && e.kind != .symlink && e.byteCount >= UInt64(PackedBlobStore.minDeltaSize) {
            deltaBases[p] = e.blob
        }
        let blobs = self.blobs
        let scan = try tree.scan(
            candidates, writer: writer, isStored: { (try? blobs.contains($0)) ?? false }, deltaBases: deltaBases)
        func fallback(_ reason: FullCommitReason) -> FullCommitFallback {
            FullCommitFallback(reason: reason, newBlobCount: scan.newBlobCount, newRawBytes: scan.newRawBytes)
        }
        // What changed, with labels carried over where the join cannot have changed.
        let hasConfig = old[RepoPath(LabelBuilder.configPath)] != nil
        let plainTables = Set(labelTables.filter { $0.format == "table" }.map(\.path))
        let hasResponses = labelTables.contains { $0.format == "deepgram" }
        var changes: [Change] = []
        var edited: [RepoPath: ManifestEntry] = [:]
        var tableEdits: [(old: ManifestEntry, new: ManifestEntry)] = []
        // Names of files that appeared, vanished or changed duration: each must be a name no
        // row of any label table can give (checked below), or the joins must be redone.
        var unnamedByRows = Set<[UInt8]>()
        for p in paths {
            let o = old[p]
            var n = scan.entries[p]
            if sameFile(o, n) {
                continue
            }
            for e in [o, n].compactMap({ $0 }) where e.audio == nil {
                let ext = String(decoding: e.path.name, as: UTF8.self).split(separator: ".").last.map { $0.lowercased() } ?? ""
                if LabelBuilder.sourceExtensions.contains(ext) || e.path.string == LabelBuilder.configPath || hasConfig {
                    // A plain table edited in place is followed row by row below; anything else re-reads every source.
                    guard let o, let n, o.kind != .symlink, n.kind != .symlink, !hasConfig, plainTables.contains(p.string) else {
                        return .failure(fallback(.labelSource))
                    }
                    if !tableEdits.contains(where: { $0.new.path == p }) { tableEdits.append((o, n)) }
                }
            }
            switch (o?.audio, n?.audio) {
            case (nil, nil):
                // A label row names the first of its candidate paths that exists, audio or not
                // (or a symlink, which the join skips): a file appearing, vanishing or turning
                // into a link can move where a row points, unless no row can name it.
                if !labelTables.isEmpty, o == nil || n == nil || (o?.kind == .symlink) != (n?.kind == .symlink) {
                    unnamedByRows.insert(Array(p.name))
                }
            case (let a?, let b?):
                if a.sampleRate != b.sampleRate || a.channelCount != b.channelCount || a.frameCount != b.frameCount {
                    // A row naming the sample may check its duration or a span within it; a
                    // sample no row names has nothing to check.
                    guard o?.annotations == nil else { return .failure(fallback(.sampleSet)) }
                    unnamedByRows.insert(Array(p.name))
                }
                if let t = o?.annotations, t.transcript != nil || !t.segments.isEmpty { return .failure(fallback(.transcript)) }
                // Deepgram responses are matched to samples by the audio's SHA-256 first.
                if o?.blob != n?.blob, hasResponses { return .failure(fallback(.transcript)) }
                n?.annotations = o?.annotations
            default:
                // A sample appears or vanishes (or a file turns into audio or out of it): the
                // joins stay as they were when it had no labels and no row can name it.
                guard o?.annotations == nil else { return .failure(fallback(.sampleSet)) }
                if hasResponses { return .failure(fallback(.transcript)) }
                if !labelTables.isEmpty { unnamedByRows.insert(Array(p.name)) }
            }
            changes.append(Change(path: p, old: o, new: n))
            if let n { edited[p] = n }
        }
        if !unnamedByRows.isEmpty, try !noRowNames(unnamedByRows, tables: labelTables, hasConfig: hasConfig, head: &editor) {
            return .failure(fallback(.sampleSet))
        }
        // Relabels: the changed rows of each edited table, joined alone before and after.
        for (o, n) in tableEdits {
            guard let relabels = try relabelledSamples(table: o, now: n, head: &editor, changed: edited) else {
                return .failure(fallback(.labelSource))
            }
            for (p, e) in relabels { edited[p] = e }
        }
        let cacheRemovals = candidates.gone
        if changes.isEmpty && edited.isEmpty && !options.allowEmpty {
            writer.abort()
            try? catalog.write { tx in
                try tx.updateStatCache(scan.cacheUpdates, removing: cacheRemovals, settled: true)
                if let paths = options.paths { try tx.settleStatCache(within: paths) } else { try tx.settleStatCache() }
                try monitored?.record(in: tx)
            }
            if let paths = options.paths {
                throw DVSError(
                    .nothingToCommit,
                    "nothing to commit in \(paths.map { "'\($0)'" }.joined(separator: ", ")): the working tree matches commit \(parent.short) there",
                    next: .allowEmpty)
            }
            throw DVSError(.nothingToCommit, "nothing to commit, working tree matches commit \(parent.short)", next: .allowEmpty)
        }
        try writer.finish()
        var edits: [RepoPath: ManifestEntry?] = [:]
        for c in changes where c.new == nil { edits[c.path] = .some(nil) }
        for (p, e) in edited { edits[p] = e }
        let manifest = try editor.applying(edits)
        var manifestBytes: UInt64 = 0
        do {
            for c in manifest.chunks where !objects.contains(c.id) {
                try objects.write(c.bytes, id: c.id)
                manifestBytes += UInt64(c.bytes.count)
            }
        } catch { throw DVSError.wrap(error) }
        let c = Commit(
            manifest: manifest.root, parents: [parent], author: author, committer: committer, totals: manifest.totals, extra: options.extra,
            message: message)
        let encoded = c.encoded()
        let id = CommitID(ObjectID.hashing(encoded))
        do {
            try objects.write(encoded, id: id.object)
            try objects.sync()
        } catch { throw DVSError.wrap(error) }
        try recordCommit(
            id, c, head: head, parent: parent, subject: message, committer: committer, cacheUpdates: scan.cacheUpdates,
            cacheRemovals: cacheRemovals, labelSources: sourcesData, within: options.paths, monitored: monitored)
        recordLabelDistribution(id, commit: c, entries: nil)
        let changed = Set(changes.map(\.path.string))
        var branch: String?
        if case .branch(let name, _) = head { branch = name }
        return .success(
            CommitSummary(
                id: id, branch: branch, commit: c, changes: changes,
                warnings: scan.warnings.filter { changed.contains($0.path) }, newBlobCount: scan.newBlobCount,
                newRawBytes: scan.newRawBytes, storedBytes: writer.storedBytes, metadataBytes: manifestBytes + UInt64(encoded.count),
                hashedFiles: scan.hashedFiles, labelFindings: [], labelTables: labelTables))
    }

    /// Whether no row of HEAD's label tables can name a file called one of `names`
    /// (``TableRowEdit/namesNoRow(_:inTable:path:)``), so files of those names can appear, vanish
    /// or change duration without changing any join. Every source must be a plain table read
    /// without a `dvs.toml`; a table this commit edits keeps each row's key
    /// (``TableRowEdit``), so HEAD's copy answers for it too.
    /// - Parameters:
    ///   - tables: HEAD's label sources.
    ///   - head: HEAD's manifest, for the tables' entries.
    /// - Throws: `DVSError.corrupt` when a table of HEAD cannot be read.
    /// - Complexity: one pass over the bytes of each table.
    func noRowNames(
        _ names: Set<[UInt8]>, tables: [LabelTableInfo], hasConfig: Bool, head: inout ManifestEditor
    ) throws -> Bool {
        guard !hasConfig, tables.allSatisfy({ $0.format == "table" }) else { return false }
        let paths = tables.map { RepoPath($0.path) }
        let entries = try head.entries(at: paths)
        for p in paths {
            guard let e = entries[p], e.kind != .symlink else { return false }
            let bytes: [UInt8]
            do { bytes = try blobs.read(e.blob) } catch {
                throw DVSError(.corrupt, "cannot read '\(p)' of HEAD (blob \(e.blob.hex)): \(DVSError.wrap(error).message)", next: .runFsck)
            }
            guard TableRowEdit.namesNoRow(names, inTable: bytes, path: p) else { return false }
        }
        return true
    }

    /// The samples whose labels an in-place edit of the plain table `table` (HEAD's entry; `now`
    /// the working tree's) changes, with their new entries — or nil when the edit is not one
    /// ``TableRowEdit`` follows, or a sample it names takes labels from another source too (its
    /// annotations then come from a join of every source: the full path).
    /// - Parameters:
    ///   - head: HEAD's manifest, for the entries of the samples the changed rows name.
    ///   - changed: entries this commit already changes, by path (they win over HEAD's).
    /// - Throws: `DVSError.corrupt` when HEAD's copy of the table cannot be read; `.badInput`
    ///   when the table changed while read; `.io`.
    func relabelledSamples(
        table: ManifestEntry, now: ManifestEntry, head: inout ManifestEditor, changed: [RepoPath: ManifestEntry]
    ) throws -> [RepoPath: ManifestEntry]? {
        let before: [UInt8]
        do { before = try blobs.read(table.blob) } catch {
            throw DVSError(
                .corrupt, "cannot read '\(table.path)' of HEAD (blob \(table.blob.hex)): \(DVSError.wrap(error).message)", next: .runFsck)
        }
        let after = try readLabelFile(now.path, expecting: now.blob)
        guard let edit = TableRowEdit(path: table.path, old: before, new: after) else { return nil }
        let heads = try head.entries(at: edit.candidatePaths)
        var files: [LabelTreeFile] = []
        for p in edit.candidatePaths {
            guard let e = changed[p] ?? heads[p] else { continue }
            files.append(LabelTreeFile(path: p, blob: e.blob, byteCount: e.byteCount, audio: e.audio))
        }
        guard let joined = edit.annotations(files: files) else { return nil }
        var out: [RepoPath: ManifestEntry] = [:]
        for (p, (was, will)) in joined {
            guard var e = changed[p] ?? heads[p], e.annotations == was, was?.sources ?? [table.path.string] == [table.path.string] else {
                return nil
            }
            e.annotations = will
            out[p] = e
        }
        return out
    }

    /// The catalog half of a commit, in one transaction: the commit row, the ref move (or the
    /// detached HEAD) with its reflog entry, the stat cache rows of the committed tree — settled,
    /// with the new commit as their base — and the label sources the commit was built from.
    ///
    /// A commit of some paths (`within`) settles the rows there only; the other rows mirror the
    /// new commit exactly when they mirrored its parent (the commit keeps the parent's entries
    /// there), so the new commit becomes their base only if the parent was.
    /// - Throws: `DVSError` (a ref that moved since it was read: `.conflict` from the catalog).
    func recordCommit(
        _ id: CommitID, _ c: Commit, head: Head, parent: CommitID?, subject message: String, committer: Signature,
        cacheUpdates: some Sequence<(RepoPath, StatCacheEntry)>, cacheRemovals: [RepoPath], labelSources: Data,
        within paths: [RepoPath]? = nil, monitored: MonitoredChanges? = nil
    ) throws {
        let subject = message.split(separator: "\n").first.map(String.init) ?? ""
        let reflogMessage = (parent == nil ? "commit (initial): " : c.parents.count == 1 ? "commit: " : "commit (merge): ") + subject
        try catalog.write { tx in
            try tx.insertCommit(id, c)
            switch head {
            case .branch(let name, let expected):
                try tx.moveRefs(
                    [RefUpdate(name: .branch(name), expected: expected, new: id, message: reflogMessage)], who: committer.identity)
            case .detached:
                try tx.setHead(.detached(id), who: committer.identity, message: reflogMessage)
            }
            try tx.updateStatCache(cacheUpdates, removing: cacheRemovals, settled: true)
            if let paths {
                try tx.settleStatCache(within: paths)
                let base = try tx.statCacheBase()
                try tx.setStatCacheBase(parent != nil && base == parent ? id : nil)
            } else {
                try tx.settleStatCache()
                try tx.setStatCacheBase(id)
                try monitored?.record(in: tx)
            }
            try tx.setLabelSources(labelSources, for: id)
        }
    }
}
