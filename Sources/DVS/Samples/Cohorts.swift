import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation

/// A cohort branch (`cohort/NAME`) as `dvs cohort list` and `show` describe it.
public struct CohortInfo: Sendable {
    /// The cohort's name (the branch is `cohort/NAME`).
    public var name: String
    /// The branch's head.
    public var head: CommitID
    /// Its totals (samples, hours, …).
    public var totals: ManifestTotals
    /// The SQL predicate over the `sample` table (as `dvs query`).
    public var predicate: String
    /// The revision the cohort is cut from, as given (`main`).
    public var sourceRevision: String
    /// The source commit of the latest cut (creation or refresh).
    public var sourceCommit: CommitID
    /// The latest cut commit: the one `cohort create` made, or the one the newest `cohort
    /// refresh` made and merged in (the refresh merge's second parent).
    public var cut: CommitID
    /// Commits on the source revision since the latest cut's source commit; nil when the source
    /// revision no longer resolves.
    public var sourceMovedOn: Int?
    /// Commits on the cohort branch since the latest cut.
    public var commitsSinceCut: Int
    /// The remote-tracking branch the source was read from (`origin/main`) when the source
    /// revision is not a revision here but a remote's branch of that name was fetched (a
    /// partial clone of a cohort has `origin/main`, not `main`); nil otherwise.
    public var sourceTracking: String? = nil
}

extension Repository {
    /// Commit headers a cohort cut records.
    enum CohortHeader {
        static let name = "cohort", predicate = "cohort-predicate", source = "cohort-source", sourceRevision = "cohort-source-rev"
    }

    /// The newest cohort cut on `tip`'s first-parent chain: walking back from `tip`, the first
    /// commit with a `cohort-predicate` header. With `base`, the walk stops at `base`, and a cut
    /// that is an ancestor of `base` does not count (it is history both sides share).
    /// - Throws: `DVSError.corrupt` when a commit cannot be read.
    func newestCohortCut(on tip: CommitID, since base: CommitID? = nil) throws -> (id: CommitID, commit: Commit)? {
        var c: CommitID? = tip
        var steps = 0
        while let id = c, id != base, steps < 100_000 {
            let commit = try self.commit(id)
            if commit.extra[CohortHeader.predicate] != nil {
                return try base.map { try isAncestor(id, of: $0) } == true ? nil : (id, commit)
            }
            c = commit.parents.first
            steps += 1
        }
        return nil
    }

    /// The label configuration (`dvs.toml`) of a snapshot; the defaults when it has none or it
    /// cannot be read.
    func labelConfig(of entries: [ManifestEntry]) -> LabelConfig {
        TreeMerge.labelConfig(of: entries) { try blob($0) }
    }

    /// An SQLite error about a predicate dvs wrapped in `WHERE (…)`, in the user's terms: an
    /// error "near \")\"" is at the end of what they wrote (an incomplete condition).
    static func predicateSQLMessage(_ message: String) -> String {
        message.replacingOccurrences(of: "near \")\": syntax error", with: "the condition ends too early (syntax error at its end)")
    }

    /// The snapshot `entries` restricted to the samples matching `predicate`.
    ///
    /// Samples that do not match are left out, with the Deepgram responses attached to them; label
    /// tables keep only rows naming kept samples (and rows that name no sample of the snapshot),
    /// byte for byte; every other file is unchanged.
    /// - Parameter textComparisons: what to do when the predicate compares a column that holds
    ///   text in `entries` with a number (`Repository.numberComparisons`): SQLite orders all text
    ///   after all numbers, so such a condition does not compare values. `.refuse` (a new cohort)
    ///   throws, `.warn` (a refresh) writes a warning to `context.notice`, `.ignore` (a merge's
    ///   base, an old cut) says nothing.
    /// - Throws: `DVSError.badInput` when the predicate is not valid SQL over `sample`, or
    ///   compares text with a number under `.refuse`.
    func cohortCut(_ entries: [ManifestEntry], predicate: String, textComparisons: TextComparisons = .ignore) throws -> (
        entries: [ManifestEntry], newContent: [ObjectID: [UInt8]], matched: Int
    ) {
        guard Self.isStandaloneExpression(predicate) else {
            throw DVSError(
                .badInput, "cohort predicate \"\(predicate)\" is not one SQL condition (unbalanced parentheses or ';')",
                hint: "write one condition over the sample table, e.g. lang = 'es' AND (sample_rate = 8000 OR channels = 2)")
        }
        let result: QueryResult
        do { result = try query("SELECT path FROM sample WHERE (\(predicate))", entries: entries) } catch let e as DVSError {
            throw DVSError(
                .badInput, "cohort predicate \"\(predicate)\": \(Self.predicateSQLMessage(e.message))",
                next: .writeCohortCondition)
        }
        // After the SQL ran: a predicate that does not parse gets the SQL's error first.
        if textComparisons != .ignore, let first = textComparedWithNumber(predicate, entries: entries).first {
            let problem = Self.textComparedWithNumber(column: first.column, text: first.text)
            guard textComparisons == .warn else {
                throw DVSError(.badInput, "cohort predicate \"\(predicate)\": \(problem); no cohort was made")
            }
            context.notice?("warning: cohort predicate \"\(predicate)\": \(problem)")
        }
        let matched = Set(
            result.rows.compactMap {
                if case .string(let s) = $0.first { return s }
                return nil
            })
        let cut = try samplesCut(entries, keeping: matched)
        return (cut.entries, cut.newContent, matched.count)
    }

    /// The snapshot `entries` with only the samples whose paths are in `matched` (the rest of
    /// `cohortCut`; `dvs purge` keeps every sample it does not erase): samples left out take the
    /// Deepgram responses attached to them along, and label tables keep only rows naming kept
    /// samples (and rows that name no sample of the snapshot), byte for byte.
    /// - Parameters:
    ///   - strict: the commit `entries` are from, for `dvs purge`: a label table that cannot be
    ///     read or parsed row by row then throws (an erased sample's row must never survive a
    ///     purge that reports success). Nil (cohorts) keeps such a table whole.
    /// - Returns: the entries and the bytes of the label tables it filtered, by id.
    /// - Throws: with `strict`, `DVSError.corrupt` when a table's blob cannot be read and
    ///   `.badInput` when it cannot be parsed, naming the table and the commit; nothing otherwise.
    func samplesCut(_ entries: [ManifestEntry], keeping matched: Set<String>, strict: CommitID? = nil) throws -> (
        entries: [ManifestEntry], newContent: [ObjectID: [UInt8]]
    ) {
        // A partial clone: the label tables and sidecars the cut filters (the caller holds the lock).
        if let partial = partialRemote() {
            try ensureBlobs(Set(entries.filter { $0.audio == nil && $0.kind != .symlink }.map(\.blob)), remote: partial, progress: nil)
        }
        let samples = Set(entries.filter { $0.audio != nil }.map(\.path.string))
        var droppedSidecars = Set<String>()
        for e in entries where e.audio != nil && !matched.contains(e.path.string) {
            if let s = e.annotations?.transcript?.source { droppedSidecars.insert(s) }
        }
        let config = labelConfig(of: entries)
        var out: [ManifestEntry] = []
        var newContent: [ObjectID: [UInt8]] = [:]
        for var e in entries {
            if e.audio != nil {
                if matched.contains(e.path.string) { out.append(e) }
                continue
            }
            if droppedSidecars.contains(e.path.string) { continue }
            let name = e.path.string
            let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
            guard e.kind != .symlink, ["csv", "tsv", "jsonl"].contains(ext) || config.declaration(for: name) != nil,
                let table = try cutTable(e, config: config, strict: strict)
            else {
                out.append(e)
                continue
            }
            let kept = table.filtered { row in
                if row.candidates.contains(where: { matched.contains($0.string) }) { return true }
                return !row.candidates.contains { samples.contains($0.string) }
            }
            if kept.rows.count == table.rows.count {
                out.append(e)
                continue
            }
            let filtered = kept.encoded()
            let id = ObjectID.hashing(filtered)
            newContent[id] = filtered
            e.blob = id
            e.byteCount = UInt64(filtered.count)
            out.append(e)
        }
        return (out, newContent)
    }

    /// The label table `e` read row by row for ``samplesCut(_:keeping:strict:)``; nil when it is
    /// not a row table, or (without `strict`) when it cannot be read or parsed.
    /// - Throws: with `strict`, what `samplesCut` documents.
    private func cutTable(_ e: ManifestEntry, config: LabelConfig, strict: CommitID?) throws -> RowTable? {
        let bytes: [UInt8]
        do { bytes = try blob(e.blob) } catch {
            guard let commit = strict else { return nil }
            throw DVSError(
                .corrupt,
                "label table '\(e.path)' of commit \(commit.short) cannot be read (blob \(e.blob.short)): \(DVSError.wrap(error).message); its rows cannot be filtered",
                next: .listDamagedObjectsAndPaths)
        }
        do { return try RowTable.read(path: e.path, bytes: bytes, config: config, resolving: true) } catch {
            guard let commit = strict else { return nil }
            throw DVSError(
                .badInput,
                "label table '\(e.path)' of commit \(commit.short) cannot be read row by row (\(error.description)), so the rows of erased samples cannot be removed from it",
                hint: "to erase the table whole (every version of it), add '\(e.path)' to the purge's paths")
        }
    }

    /// Creates branch `cohort/NAME` whose first commit holds exactly the samples of `source`
    /// matching `predicate` (`cohortCut`), with the predicate and source recorded in its headers
    /// (`cohort`, `cohort-predicate`, `cohort-source`, `cohort-source-rev`). Its parent is the
    /// source commit. Writes metadata and the filtered label tables only; no audio is copied.
    /// HEAD does not move. Takes the repository lock.
    /// - Parameters:
    ///   - name: `NAME`, or the branch's name `cohort/NAME` (``cohortName(_:)``).
    ///   - source: the revision to cut from; nil means the current branch (HEAD when detached).
    /// - Throws: `DVSError.badInput` for a bad name or predicate (one that compares a label column
    ///   holding only text with a number among them: `cohortCut`), or when nothing matches;
    ///   `.alreadyExists` when the cohort exists; `.unknownRevision`.
    public func createCohort(_ name: String, predicate: String, from source: String? = nil) throws -> CohortInfo {
        try createCohort(name, predicate: predicate, from: source, pack: false).info
    }

    /// As ``createCohort(_:predicate:from:)``; with `pack`, the cohort's frames are also copied
    /// into packs of their own (see `CohortPacks.swift`), recorded in the same transaction as
    /// the branch, so that a reader of a remote fetches them in a few long reads.
    /// - Returns: the cohort, and what was packed (nil without `pack`).
    /// - Throws: as ``createCohort(_:predicate:from:)``; `.corrupt` when a frame cannot be read;
    ///   `.remote` when a partial clone cannot download what it lacks.
    public func createCohort(_ name: String, predicate: String, from source: String? = nil, pack: Bool, progress: ProgressHandler? = nil)
        throws -> (info: CohortInfo, packing: CohortPacking?)
    {
        let name = cohortName(name)
        guard RefName.isValidShortName("cohort/" + name) else {
            throw DVSError(
                .badInput, "'\(name)' is not a valid cohort name", hint: "use letters, digits, '-', '_' and '.', e.g. es-telephony")
        }
        let lock = try self.lock("dvs cohort create \(name)")
        defer { lock.release() }
        let ref = RefName.cohort(name)
        if try catalog.ref(ref) != nil {
            throw DVSError(
                .alreadyExists, "cohort '\(name)' already exists",
                next: .showOrRefreshCohort(name))
        }
        let headHex = try headCommit()?.hex ?? "HEAD"
        let sourceRevision = source ?? currentBranch() ?? headHex
        let sourceCommit = try resolve(Revision(sourceRevision))
        let made = try cut(name, predicate: predicate, sourceRevision: sourceRevision, sourceCommit: sourceCommit, textComparisons: .refuse)
        let laid = try pack ? writeCohortPacks(for: made.id, excluding: [], fresh: made.packs, ref: ref, progress: progress) : nil
        do {
            try catalog.write { tx in
                try recordComposed(made.packs, made.id, made.commit, in: tx)
                try recordComposed(laid?.packs ?? [], in: tx)
                try tx.moveRefs(
                    [
                        RefUpdate(
                            name: ref, expected: nil, new: made.id, message: "cohort: created from \(sourceRevision) where \(predicate)")
                    ],
                    who: identity)
            }
        } catch { throw DVSError.wrap(error) }
        return (try cohort(name), laid?.summary)
    }

    /// Makes (does not reference) the cut commit of `sourceCommit` by `predicate`; `textComparisons`
    /// as `cohortCut` takes it.
    private func cut(
        _ name: String, predicate: String, sourceRevision: String, sourceCommit: CommitID, textComparisons: TextComparisons
    ) throws
        -> (id: CommitID, commit: Commit, packs: [FinishedPack], matched: Int)
    {
        let source = try entries(ofManifest: commit(sourceCommit).manifest)
        let cut = try cohortCut(source, predicate: predicate, textComparisons: textComparisons)
        guard cut.matched > 0 else {
            throw DVSError(
                .badInput, "the predicate matches no sample of \(sourceRevision) (\(sourceCommit.short)); no cohort was made",
                next: .checkCohortPredicate(Revision(sourceRevision), predicate: predicate))
        }
        let total = source.filter { $0.audio != nil }.count
        let message = "Cohort \(name): \(predicate)\n\n\(cut.matched) of \(total) samples from \(sourceRevision) (\(sourceCommit.short))."
        let extra = [
            CohortHeader.name: name, CohortHeader.predicate: predicate, CohortHeader.source: sourceCommit.hex,
            CohortHeader.sourceRevision: sourceRevision,
        ]
        let made = try composeCommit(
            cut.entries, newContent: cut.newContent, parents: [sourceCommit], message: message, extra: extra,
            transcriptsFrom: [source], deltaFrom: source)
        return (made.id, made.commit, made.packs, cut.matched)
    }

    /// Cohort branches (`cohort/*`), sorted by name.
    /// - Throws: `DVSError.corrupt` when a commit cannot be read.
    public func cohorts() throws -> [CohortInfo] {
        try catalog.refs(in: .cohorts).compactMap { r in
            try cohortInfo(RefNamespace.cohorts.relativeName(of: r.name) ?? r.name.shortName, head: r.target)
        }
        .sorted { $0.name < $1.name }
    }

    /// The cohort a name given by a user means: the name itself, or, given its branch's name
    /// (`cohort/NAME`, as the branch listing shows it) and no cohort is named that whole
    /// string, `NAME`.
    func cohortName(_ given: String) -> String {
        guard given.hasPrefix("cohort/"), given.count > 7, (try? catalog.ref(.cohort(given))) ?? nil == nil else { return given }
        return String(given.dropFirst(7))
    }

    /// One cohort, by name or by its branch's name (``cohortName(_:)``).
    /// - Throws: `DVSError.unknownRevision` when there is no such cohort.
    public func cohort(_ name: String) throws -> CohortInfo {
        let name = cohortName(name)
        guard let head = try catalog.ref(.cohort(name)), let info = try cohortInfo(name, head: head) else {
            throw DVSError(
                .unknownRevision, "no cohort '\(name)'",
                next: .listOrCreateCohort)
        }
        return info
    }

    private func cohortInfo(_ name: String, head: CommitID) throws -> CohortInfo? {
        guard let (id, commit) = try newestCohortCut(on: head), let p = commit.extra[CohortHeader.predicate],
            let src = commit.extra[CohortHeader.source].flatMap(CommitID.init(hex:))
        else { return nil }
        let rev = commit.extra[CohortHeader.sourceRevision] ?? src.hex
        var moved = try? log(from: resolve(Revision(rev)), excluding: [head]).count
        var tracking: (name: String, tip: CommitID)? = nil
        if moved == nil, let t = try trackingSource(rev) {
            tracking = t
            moved = try? log(from: t.tip, excluding: [head]).count
        }
        let since = try log(from: head, excluding: [id]).count
        // A refresh merge carries the headers too; the cut itself is the parent it merged in.
        var cut = id
        if commit.parents.count > 1, try self.commit(commit.parents[1]).extra[CohortHeader.predicate] != nil { cut = commit.parents[1] }
        return CohortInfo(
            name: name, head: head, totals: try self.commit(head).totals, predicate: p, sourceRevision: rev, sourceCommit: src,
            cut: cut, sourceMovedOn: moved, commitsSinceCut: since, sourceTracking: tracking?.name)
    }

    /// A remote's fetched branch named `revision` (`origin/main` for `main`), for a source
    /// revision that is not one here; the first remote in name order that has it.
    /// - Returns: its display name and tip, or nil.
    func trackingSource(_ revision: String) throws -> (name: String, tip: CommitID)? {
        guard (try? resolve(Revision(revision))) == nil, RefName.isValidShortName(revision) else { return nil }
        for r in try remotes().sorted(by: { $0.name < $1.name }) {
            if let tip = try catalog.ref(.remote(r.name, branch: revision)) { return ("\(r.name)/\(revision)", tip) }
        }
        return nil
    }

    /// Re-applies a cohort's predicate (the cohort named as ``cohort(_:)`` takes it) to its source
    /// (or `source`) and merges the new cut into the
    /// cohort branch as a merge commit (`merge`), keeping labels edited on the cohort branch and
    /// taking the source's new samples and relabels. When the cohort branch is checked out the
    /// working tree follows and conflicts stop the merge as `dvs merge` does; otherwise a conflict
    /// refuses the refresh, changing nothing, unless `prefer` resolves it.
    /// A predicate that compares a label column now holding only text with a number is applied as
    /// recorded, with a warning to `context.notice` (`cohortCut`).
    /// - Throws: `DVSError.unknownRevision` for an unknown cohort or source; `.badInput` when the
    ///   predicate matches nothing or (branch not checked out) on conflicts; as `merge`.
    public func refreshCohort(_ name: String, from source: String? = nil, prefer: MergePreference? = nil, progress: ProgressHandler? = nil)
        throws -> MergeSummary
    {
        let name = cohortName(name)
        let lock = try self.lock("dvs cohort refresh \(name)")
        defer { lock.release() }
        let info = try cohort(name)
        let sourceRevision = source ?? info.sourceRevision
        // The recorded source not here but fetched from a remote (a partial clone): read there,
        // still recorded by its own name.
        let tracked = source == nil ? try trackingSource(sourceRevision) : nil
        let sourceCommit = try tracked?.tip ?? resolve(Revision(sourceRevision))
        let made = try cut(
            name, predicate: info.predicate, sourceRevision: sourceRevision, sourceCommit: sourceCommit, textComparisons: .warn)
        do { try catalog.write { tx in try recordComposed(made.packs, made.id, made.commit, in: tx) } } catch { throw DVSError.wrap(error) }
        let extra = made.commit.extra
        let message =
            "Refresh cohort \(name) from \(sourceRevision) (\(sourceCommit.short))\n\nWhere \(info.predicate): \(counted(made.matched, "sample"))."
        if currentBranch() == "cohort/" + name {
            return try mergeLocked(
                Revision(sourceRevision), theirs: made.id, prefer: prefer, noCommit: false, message: message, extra: extra,
                allowFastForward: false, progress: progress)
        }
        let ours = info.head
        let bases = try mergeBases(ours, made.id)
        if bases.first == made.id {
            return MergeSummary(
                status: .upToDate, head: ours, theirs: made.id, base: made.id, baseCount: bases.count, conflicts: [], changes: [])
        }
        let oursEntries = try entries(ofManifest: commit(ours).manifest)
        let theirEntries = try entries(ofManifest: made.commit.manifest)
        var baseEntries = try bases.first.map { try entries(ofManifest: commit($0).manifest) } ?? []
        baseEntries = try cohortCut(baseEntries, predicate: info.predicate).entries
        let merged = try mergeTrees(base: baseEntries, ours: oursEntries, theirs: theirEntries, prefer: prefer)
        if !merged.conflicts.isEmpty {
            throw DVSError(
                .badInput,
                "refreshing cohort '\(name)' from \(sourceRevision) gives \(counted(merged.conflicts.count, "conflict")); nothing was changed",
                details: merged.conflicts.map(\.message), next: .resolveCohortConflicts(cohort: name))
        }
        let composed = try composeCommit(
            merged.entries, newContent: merged.newContent, parents: [ours, made.id], message: message, extra: extra,
            transcriptsFrom: [oursEntries, theirEntries], deltaFrom: oursEntries)
        do {
            try catalog.write { tx in
                try recordComposed(composed.packs, composed.id, composed.commit, in: tx)
                try tx.moveRefs(
                    [
                        RefUpdate(
                            name: .cohort(name), expected: ours, new: composed.id,
                            message: "cohort: refresh from \(sourceRevision)")
                    ],
                    who: identity)
            }
        } catch { throw DVSError.wrap(error) }
        let after = try entries(ofManifest: composed.commit.manifest)
        return MergeSummary(
            status: .merged, head: composed.id, theirs: made.id, base: bases.first, baseCount: bases.count, conflicts: [],
            changes: diffEntries(oursEntries, after))
    }
}

/// What a cohort cut does about a predicate that compares text with a number
/// (`Repository.cohortCut(_:predicate:textComparisons:)`).
enum TextComparisons: Sendable, Equatable {
    /// Say nothing: a merge's base, or a cut already made.
    case ignore
    /// A warning to `context.notice`: a refresh, whose predicate is already recorded.
    case warn
    /// Throw `DVSError.badInput`: a new cohort, whose predicate can still be written right.
    case refuse
}
