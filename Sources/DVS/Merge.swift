import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// One conflict of a merge, as `dvs merge` and `dvs status` list it.
public struct MergeConflict: Sendable, Hashable, Codable {
    /// File level: `modify-modify`, `add-add`, `modify-delete` (we modified, they deleted),
    /// `delete-modify`, `table` (a label table that cannot be merged row by row), `text` (a text
    /// file whose same lines changed both ways; it holds diff3 markers).
    /// Row level: `field` (one field changed two ways), `add-add-row`, `delete-edit` (a row
    /// deleted on one side and edited on the other). `labels`: the merged label tables fail
    /// validation.
    public var kind: String
    /// Tree path of the file.
    public var path: String
    /// For row-level conflicts, the row's key (its audio reference, `#N` for the N-th row of a file).
    public var key: String?
    /// For `field` and `add-add-row`, the field.
    public var field: String?
    /// The value at the merge base (nil: absent).
    public var base: String?
    /// Our value (nil: absent or deleted).
    public var ours: String?
    /// Their value (nil: absent or deleted).
    public var theirs: String?
    /// One line for people: what happened and what was left in the working tree.
    public var message: String
}

/// The in-memory result of merging three snapshots.
struct TreeMergeResult {
    /// The merged tree, sorted by path, without annotations.
    var entries: [ManifestEntry]
    /// Bytes of blobs the merge made (merged label tables), by id.
    var newContent: [ObjectID: [UInt8]]
    /// What could not be merged.
    var conflicts: [MergeConflict]
    /// Their version of files with a content conflict, written beside ours as `PATH~theirs`.
    var sideFiles: [ManifestEntry]
}

/// What `Repository.merge` did.
public struct MergeSummary: Sendable {
    /// `up-to-date`, `fast-forward`, `merged` (a merge commit was made), `conflicts` (the merge
    /// stopped; `dvs merge --continue` or `--abort`), `no-commit` (merged into the working tree,
    /// not committed).
    public var status: String
    /// The commit HEAD is on afterwards.
    public var head: CommitID?
    /// The commit merged in.
    public var theirs: CommitID
    /// The merge base used (nil for unrelated histories).
    public var base: CommitID?
    /// How many best common ancestors the graph had (more than one: a criss-cross history).
    public var baseCount: Int
    /// Conflicts left for the user.
    public var conflicts: [MergeConflict]
    /// Files changed in the working tree.
    public var changes: [Change]
}

/// `.dvs/MERGE_STATE`: a merge that stopped for conflicts or `--no-commit`.
struct MergeState: Codable {
    var ours: String
    var theirs: String
    var theirsName: String
    var base: String?
    var message: String
    var conflicts: [MergeConflict]
    /// Paths the merge wrote that HEAD does not have (removed again by `--abort`).
    var added: [String]
    /// `PATH~theirs` files it wrote.
    var sideFiles: [String]
    /// Extra commit headers for the merge commit (cohort refresh).
    var extra: [String: String]

    /// The cohort a stopped `dvs cohort refresh` is refreshing (nil for `dvs merge`).
    var refreshedCohort: String? { extra[Repository.CohortHeader.name] }
    /// What is being merged, for people: `main`, or `main (refreshing cohort es)`.
    var describedTheirs: String { refreshedCohort.map { "\(theirsName) (refreshing cohort \($0))" } ?? theirsName }
    /// The command that starts this merge again (to retry it with `--strategy`).
    var restartCommand: String { refreshedCohort.map { "dvs cohort refresh \($0)" } ?? "dvs merge \(theirsName)" }
}

extension Repository {
    var mergeStatePath: String { dvsDir + "/MERGE_STATE" }

    /// The stopped merge, if one is in progress (a state left by a merge whose commit already
    /// landed is stale and ignored).
    func mergeState() -> MergeState? {
        guard let data = FileManager.default.contents(atPath: mergeStatePath),
            let s = try? JSONDecoder().decode(MergeState.self, from: data)
        else { return nil }
        guard (try? headCommit())??.hex == s.ours else { return nil }
        return s
    }

    /// Refuses `operation` (checkout, pull) while a stopped merge waits in the working tree:
    /// switching away would drop the merge's conflicts and let its `~theirs` files be committed
    /// elsewhere (git refuses the same way).
    /// - Throws: `DVSError.badInput` naming the merge and the two ways out.
    func refuseDuringMerge(_ operation: String) throws {
        guard let s = mergeState() else { return }
        throw DVSError(
            .badInput, "cannot \(operation): a merge of '\(s.describedTheirs)' is in progress in the working tree; nothing was changed",
            hint: "finish it with 'dvs merge --continue' (after fixing what 'dvs status' lists) or undo it with 'dvs merge --abort'")
    }

    /// The merge in progress, for `dvs status`: what is merged, and the conflicts left.
    public func mergeInProgress() -> (theirs: String, conflicts: [MergeConflict], unresolved: [String])? {
        guard let s = mergeState() else { return nil }
        return (s.describedTheirs, s.conflicts, unresolvedConflicts(s))
    }

    // MARK: Merge base

    /// The best common ancestors of two commits: common ancestors that are not ancestors of
    /// another common ancestor (git's merge-base --all), sorted by committer time, newest first
    /// (ties: larger id first).
    /// - Complexity: O(commits reachable from either) commit reads.
    public func mergeBases(_ a: CommitID, _ b: CommitID) throws -> [CommitID] {
        func ancestors(_ start: CommitID) throws -> Set<CommitID> {
            var seen: Set<CommitID> = [start]
            var stack = [start]
            while let c = stack.popLast() {
                for p in try commit(c).parents where seen.insert(p).inserted { stack.append(p) }
            }
            return seen
        }
        let common = try ancestors(a).intersection(ancestors(b))
        var dominated = Set<CommitID>()
        for c in common {
            var stack = try commit(c).parents
            while let x = stack.popLast() {
                guard dominated.insert(x).inserted else { continue }
                stack.append(contentsOf: try commit(x).parents)
            }
        }
        return try common.subtracting(dominated).map { ($0, try commit($0).committer.time) }
            .sorted { ($0.1, $0.0.hex) > ($1.1, $1.0.hex) }.map(\.0)
    }

    /// The cohort predicate in force on `tip`'s side since `base`: the newest commit on its
    /// first-parent chain, before reaching `base` or an ancestor of it, that records
    /// `cohort-predicate`.
    /// With `base` nil, the newest on the whole first-parent chain.
    func cohortPredicate(since base: CommitID?, on tip: CommitID) throws -> String? {
        try newestCohortCut(on: tip, since: base)?.commit.extra[CohortHeader.predicate]
    }

    // MARK: Three-way merge of trees

    /// Merges three snapshots in memory.
    ///
    /// Files by path: a side that left a file as in the base takes the other's version; both
    /// sides making the same change merges; a rename on one side (the base's content under one
    /// new path) and a modification on the other gives the modified content at the new path.
    /// Label tables (CSV/TSV/JSON Lines, as at commit) changed on both sides are merged row by row
    /// and field by field (`RowTable.merge`); other text files line by line (`TextMerge`, libgit2's
    /// `git_merge_file`), with diff3 markers where the same lines changed. Other files (audio,
    /// binary) changed both ways are conflicts: ours
    /// stays at the path and theirs is written beside it as `PATH~theirs`; in modify/delete the
    /// modified version stays. `prefer` resolves every conflict to one side instead.
    func mergeTrees(base: [ManifestEntry], ours: [ManifestEntry], theirs: [ManifestEntry], prefer: MergePreference?) throws
        -> TreeMergeResult
    {
        // One pass over the three sorted lists: (path, base, ours, theirs) for every path.
        var rows: [(p: RepoPath, b: ManifestEntry?, o: ManifestEntry?, t: ManifestEntry?)] = []
        var fastResult: [ManifestEntry] = []
        fastResult.reserveCapacity(ours.count)
        var i = 0
        var j = 0
        var k = 0
        while i < base.count || j < ours.count || k < theirs.count {
            var p = i < base.count ? base[i].path : nil
            if j < ours.count, p == nil || ours[j].path < p! { p = ours[j].path }
            if k < theirs.count, p == nil || theirs[k].path < p! { p = theirs[k].path }
            let path = p!
            let hasB = i < base.count && base[i].path == path
            let hasO = j < ours.count && ours[j].path == path
            let hasT = k < theirs.count && theirs[k].path == path
            // The common case, the same content on both sides, goes straight to the result
            // without copying entries around (most of a large tree).
            if hasO && hasT && ours[j].sameContent(as: theirs[k]) && ours[j].linkTarget == theirs[k].linkTarget {
                fastResult.append(ours[j])
            } else {
                rows.append((path, hasB ? base[i] : nil, hasO ? ours[j] : nil, hasT ? theirs[k] : nil))
            }
            if hasB { i += 1 }
            if hasO { j += 1 }
            if hasT { k += 1 }
        }
        func same(_ a: ManifestEntry?, _ b: ManifestEntry?) -> Bool {
            switch (a, b) {
            case (nil, nil): return true
            case (let x?, let y?): return x.sameContent(as: y) && x.linkTarget == y.linkTarget
            default: return false
            }
        }
        /// Renames on one side: a base path the side lacks whose content the side added under
        /// exactly one new path. Only paths deleted or added on that side are looked at.
        func renames(_ side: KeyPath<(p: RepoPath, b: ManifestEntry?, o: ManifestEntry?, t: ManifestEntry?), ManifestEntry?>) -> [RepoPath:
            RepoPath]
        {
            var added: [ObjectID: [RepoPath]] = [:]
            var deleted: [(RepoPath, ObjectID)] = []
            for r in rows {
                if r.b == nil, let e = r[keyPath: side], e.kind != .symlink { added[e.blob, default: []].append(r.p) }
                if let e = r.b, r[keyPath: side] == nil { deleted.append((r.p, e.blob)) }
            }
            guard !deleted.isEmpty, !added.isEmpty else { return [:] }
            var out: [RepoPath: RepoPath] = [:]
            var used = Set<RepoPath>()
            for (p, blob) in deleted {
                if let qs = added[blob], qs.count == 1, used.insert(qs[0]).inserted { out[p] = qs[0] }
            }
            return out
        }
        let config = labelConfig(of: ours)
        var result = fastResult
        fastResult = []
        // Samples that must stay because a label row naming them was kept against a deletion.
        var keepSamples: [RepoPath: (entry: ManifestEntry, key: String, table: RepoPath)] = [:]
        lazy var ourPaths = Dictionary(ours.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        lazy var theirPaths = Dictionary(theirs.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        var handled = Set<RepoPath>()
        var conflicts: [MergeConflict] = []
        var newContent: [ObjectID: [UInt8]] = [:]
        var sideFiles: [ManifestEntry] = []
        let ourRenames = renames(\.o)
        let theirRenames = renames(\.t)
        if !ourRenames.isEmpty || !theirRenames.isEmpty {
            let byPath = Dictionary(rows.map { ($0.p, $0) }, uniquingKeysWith: { a, _ in a })
            for (renamed, otherIsTheirs) in [(ourRenames, true), (theirRenames, false)] {
                for (p, q) in renamed.sorted(by: { $0.key < $1.key }) where !handled.contains(p) {
                    guard let r = byPath[p], let modified = otherIsTheirs ? r.t : r.o, !same(modified, r.b) else { continue }
                    var e = modified
                    e.path = q
                    result.append(e)
                    handled.formUnion([p, q])
                }
            }
        }
        for (p, b, o, t) in rows where handled.isEmpty || !handled.contains(p) {
            if same(o, t) {
                if let o { result.append(o) }
                continue
            }
            if same(o, b) {
                if let t { result.append(t) }
                continue
            }
            if same(t, b) {
                if let o { result.append(o) }
                continue
            }
            // Changed both ways. A label table is merged by rows.
            var tableProblem: String?
            if let o, let t, o.audio == nil, t.audio == nil, o.kind != .symlink, t.kind != .symlink {
                let ob = try blob(o.blob)
                let tb = try blob(t.blob)
                let bb = try b.flatMap { $0.audio == nil && $0.kind != .symlink ? try blob($0.blob) : nil }
                do {
                    if var ot = try RowTable.read(path: p, bytes: ob, config: config),
                        var tt = try RowTable.read(path: p, bytes: tb, config: config)
                    {
                        var bt = try bb.flatMap { try RowTable.read(path: p, bytes: $0, config: config) }
                        // Files one side renamed (and renamed in its table) are renamed in the
                        // base's and the other side's rows too, so an edit there follows the file.
                        for (renames, renamedSide, otherIsOurs) in [(theirRenames, tt, true), (ourRenames, ot, false)]
                        where !renames.isEmpty {
                            let map = referenceRenames(
                                renames, rows: (bt?.rows ?? []) + (otherIsOurs ? ot : tt).rows, table: otherIsOurs ? ot : tt,
                                renamedSide: renamedSide, config: config)
                            if map.isEmpty { continue }
                            bt = bt?.renamingReferences(map)
                            if otherIsOurs { ot = ot.renamingReferences(map) } else { tt = tt.renamingReferences(map) }
                        }
                        let outcome = try RowTable.mergeDetailed(base: bt, ours: ot, theirs: tt, prefer: prefer)
                        let (merged, rowConflicts) = (outcome.table, outcome.conflicts)
                        // A row kept against a deletion keeps the sample it names, from the side that kept it.
                        for k in outcome.keptAgainstDeletion {
                            for c in merged.candidates(for: k.reference, config: config) {
                                if let e = (k.side == .ours ? ourPaths[c] : theirPaths[c]), e.audio != nil {
                                    keepSamples[c] = (e, k.key, p)
                                }
                            }
                        }
                        let bytes = merged.encoded()
                        let id = ObjectID.hashing(bytes)
                        newContent[id] = bytes
                        result.append(ManifestEntry(path: p, kind: o.kind, blob: id, byteCount: UInt64(bytes.count)))
                        conflicts += rowConflicts.map { c in
                            let what: String
                            switch c.kind {
                            case "delete-edit":
                                what =
                                    "row \(c.key) was \(c.ours == nil ? "deleted by us" : "edited by us") and \(c.theirs == nil ? "deleted by them" : "edited by them"); the edited row was kept (delete it to take the deletion)"
                            default:
                                what =
                                    "row \(c.key) field \(c.field ?? ""): base \(c.base ?? "(none)"), ours \(c.ours ?? "(none)"), theirs \(c.theirs ?? "(none)"); the cell holds conflict markers"
                            }
                            return MergeConflict(
                                kind: c.kind == "add-add" ? "add-add-row" : c.kind, path: p.string, key: c.key, field: c.field,
                                base: c.base, ours: c.ours, theirs: c.theirs, message: "\(p): \(what)")
                        }
                        continue
                    }
                } catch let r as RowTable.Refusal {
                    tableProblem = r.description
                }
                // Other text files (README, scripts, dvs.toml) merge line by line, as git does.
                // JSON (Deepgram responses, Label Studio exports: machine-written, often one
                // line) stays whole: ours at the path, theirs beside it.
                if tableProblem == nil, b == nil || bb != nil, !p.string.lowercased().hasSuffix(".json"),
                    let m = TextMerge.merge(base: bb ?? [], ours: ob, theirs: tb, prefer: prefer)
                {
                    let id = ObjectID.hashing(m.bytes)
                    newContent[id] = m.bytes
                    result.append(ManifestEntry(path: p, kind: o.kind, blob: id, byteCount: UInt64(m.bytes.count)))
                    if !m.clean {
                        conflicts.append(
                            MergeConflict(
                                kind: "text", path: p.string, key: nil, field: nil, base: b?.blob.short, ours: o.blob.short,
                                theirs: t.blob.short,
                                message:
                                    "\(p): the same lines were \(b == nil ? "added" : "changed") differently on both sides; the file holds conflict markers ('<<<<<<< ours' … '>>>>>>> theirs'); edit it to the version to keep"
                            ))
                    }
                    continue
                }
            }
            let kind =
                o == nil
                ? "delete-modify" : t == nil ? "modify-delete" : tableProblem != nil ? "table" : b == nil ? "add-add" : "modify-modify"
            switch prefer {
            case .ours?: if let o { result.append(o) }
            case .theirs?: if let t { result.append(t) }
            case nil:
                if let o { result.append(o) } else if let t { result.append(t) }
                var message: String
                switch kind {
                case "delete-modify":
                    message = "\(p): deleted by us, modified by them; their version is in the tree (delete it to take the deletion)"
                case "modify-delete": message = "\(p): modified by us, deleted by them; our version stays (delete it to take the deletion)"
                default:
                    message =
                        "\(p): \(kind == "add-add" ? "added" : "changed") differently on both sides\(tableProblem.map { " and cannot be merged row by row (\($0))" } ?? ""); ours stays, theirs is in '\(p)~theirs' (keep one, delete '\(p)~theirs')"
                    if var side = t {
                        side.path = RepoPath(p.string + "~theirs")
                        sideFiles.append(side)
                    }
                }
                conflicts.append(
                    MergeConflict(
                        kind: kind, path: p.string, key: nil, field: nil, base: b?.blob.short, ours: o?.blob.short, theirs: t?.blob.short,
                        message: message))
            }
        }
        // The sample of a row kept against a deletion stays (the deletion of the file and of its
        // row were one change on that side; the edit wins as a whole, or the choice stays open).
        var restored = false
        if !keepSamples.isEmpty {
            let present = Set(result.map(\.path))
            for (path, k) in keepSamples.sorted(by: { $0.key < $1.key }) where !present.contains(path) {
                result.append(k.entry)
                restored = true
                if let i = conflicts.firstIndex(where: { $0.kind == "delete-edit" && $0.key == k.key && $0.path == k.table.string }) {
                    conflicts[i].message += "; its audio '\(path)' was kept too (delete both to take the deletion)"
                }
            }
        }
        for i in result.indices where result[i].annotations != nil { result[i].annotations = nil }
        if !rows.isEmpty || restored { result.sort { $0.path < $1.path } }
        return TreeMergeResult(entries: result, newContent: newContent, conflicts: conflicts, sideFiles: sideFiles)
    }

    /// For files renamed on one side (`renames`, old path → new path): references in `rows` (of
    /// `table`) that name an old path, mapped to the same reference for the new path — only where
    /// the renaming side's table (`renamedSide`) names the new reference and no longer the old one,
    /// that is, where that side renamed the row as well as the file.
    /// - Complexity: O(rows + renames) with an index by file name.
    func referenceRenames(
        _ renames: [RepoPath: RepoPath], rows: [RowTable.Row], table: RowTable, renamedSide: RowTable,
        config: LabelConfig
    ) -> [String: String] {
        var byName: [String: Set<String>] = [:]
        for r in rows { byName[String(r.reference.split(separator: "/").last ?? ""), default: []].insert(r.reference) }
        let theirs = Set(renamedSide.rows.map(\.reference))
        var map: [String: String] = [:]
        for (old, new) in renames {
            let o = old.string
            let n = new.string
            for r in byName[String(decoding: old.name, as: UTF8.self)] ?? [] where o == r || o.hasSuffix("/" + r) {
                let prefix = o.dropLast(r.count)
                guard n.hasPrefix(prefix) else { continue }
                let renamed = String(n.dropFirst(prefix.count))
                guard theirs.contains(renamed), !theirs.contains(r), table.candidates(for: r, config: config).contains(old) else {
                    continue
                }
                map[r] = renamed
            }
        }
        return map
    }

    // MARK: Writing a snapshot made in memory

    /// Stores a tree made in memory (merge, cohort cut) as a commit object: new blobs into a pack
    /// (label tables as deltas against `deltaFrom`'s version of the same path), labels joined
    /// and validated, the manifest and the commit written and synced. Moves no ref; the caller
    /// records the packs and the commit in the catalog (`recordComposed`) with its ref update.
    /// The caller holds the lock.
    /// - Throws: `DVSError.badInput` listing the findings when the tree's labels have errors;
    ///   storage errors. Nothing is referenced on failure.
    func composeCommit(
        _ tree: [ManifestEntry], newContent: [ObjectID: [UInt8]], parents: [CommitID], message: String,
        extra: [String: String] = [:], transcriptsFrom: [[ManifestEntry]] = [], deltaFrom: [ManifestEntry] = []
    ) throws
        -> (id: CommitID, commit: Commit, packs: [FinishedPack], findings: [LabelFinding], entries: [ManifestEntry])
    {
        let writer = try blobs.beginWrite()
        do {
            let previous = Dictionary(deltaFrom.map { ($0.path, $0.blob) }, uniquingKeysWith: { a, _ in a })
            let coders = ZstdCoders(level: zstdLevel)
            for e in tree where newContent[e.blob] != nil && !writer.contains(e.blob) {
                if try blobs.contains(e.blob) { continue }
                let bytes = newContent[e.blob]!
                try bytes.withUnsafeBytes {
                    try writer.write($0, id: e.blob, hint: BlobHint(deltaBase: previous[e.path]), coders: coders)
                }
            }
            var transcripts: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:]
            for side in transcriptsFrom { transcripts.merge(Self.transcriptCache(side)) { a, _ in a } }
            let annotated = try annotate(tree, transcripts: transcripts) { path in
                guard let e = tree.first(where: { $0.path == path }) else { throw DVSError(.internal, "no entry for '\(path)'") }
                if let b = newContent[e.blob] { return b }
                return try self.blob(e.blob)
            }
            if annotated.labels.hasErrors {
                writer.abort()
                let errors = annotated.labels.findings.filter { $0.severity == .error }
                throw DVSError(
                    .badInput, "\(errors.count) label error(s) in the result; nothing was committed",
                    hint: "fix the label tables on one side and try again", details: errors.map(\.description))
            }
            let packs = try writer.finish()
            _ = try storeWords(annotated)
            let (manifest, totals, _) = try writeManifest(annotated.entries)
            let who = defaultIdentity()
            let now = Int64(Date().timeIntervalSince1970)
            let tz = TimeZone.current.secondsFromGMT() / 60
            guard let sig = Signature(parsing: who, time: now, timeZoneOffsetMinutes: tz) else {
                throw DVSError(.badInput, "cannot use committer identity '\(who)'", hint: "set DVS_AUTHOR_NAME and DVS_AUTHOR_EMAIL")
            }
            let c = Commit(
                manifest: manifest, parents: parents, author: sig, committer: sig, totals: totals, extra: extra, message: message)
            let bytes = c.encoded()
            let id = CommitID(ObjectID.hashing(bytes))
            try objects.write(bytes, id: id.object)
            try objects.sync()
            return (id, c, packs, annotated.labels.findings, annotated.entries)
        } catch {
            writer.abort()
            throw DVSError.wrap(error)
        }
    }

    /// Records composed packs and a commit in the catalog, inside a write transaction.
    func recordComposed(_ packs: [FinishedPack], _ id: CommitID, _ c: Commit, in db: Database) throws {
        for p in packs {
            try catalog.insertPack(id: p.id, byteCount: p.byteCount, entries: p.entries, in: db)
        }
        try catalog.insertCommit(id, c, in: db)
    }

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
        _ revision: String, prefer: MergePreference? = nil, noCommit: Bool = false, message: String? = nil,
        extra: [String: String] = [:], progress: ProgressHandler? = nil
    ) throws -> MergeSummary {
        let lock = try self.lock("dvs merge \(revision)")
        defer { lock.release() }
        return try mergeLocked(revision, prefer: prefer, noCommit: noCommit, message: message, extra: extra, progress: progress)
    }

    func mergeLocked(
        _ revision: String, theirs given: CommitID? = nil, prefer: MergePreference?, noCommit: Bool, message: String?,
        extra: [String: String], allowFastForward: Bool = true, progress: ProgressHandler?
    ) throws -> MergeSummary {
        if let s = mergeState() {
            throw DVSError(
                .badInput, "a merge of '\(s.theirsName)' is in progress",
                hint: "finish it with 'dvs merge --continue' or undo it with 'dvs merge --abort'")
        }
        let theirs = try given ?? resolve(revision)
        guard let ours = try headCommit() else {
            throw DVSError(.badInput, "HEAD has no commit to merge into", hint: "check out '\(revision)' instead: dvs checkout \(revision)")
        }
        let branch = currentBranch()
        let who = defaultIdentity()
        let bases = try mergeBases(ours, theirs)
        if theirs == ours || bases.first == theirs {
            return MergeSummary(
                status: "up-to-date", head: ours, theirs: theirs, base: theirs, baseCount: bases.count, conflicts: [], changes: [])
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
                hint: "commit them first ('dvs commit -m MSG'), or discard them ('dvs checkout HEAD --force')",
                details: dirty.prefix(20).map { "\($0.kind.rawValue): \($0.path)" })
        }
        let untracked = Set(status.changes.map(\.path))
        // A cohort's history cut samples away: taking it wholesale (fast-forward) into a branch
        // that is not that cohort would delete them there, so merge it by samples instead.
        let theirCut = bases.first == ours ? try cohortPredicate(since: ours, on: theirs) : nil
        let ourCut = theirCut == nil ? nil : try cohortPredicate(since: nil, on: ours)
        let fastForward = allowFastForward && bases.first == ours && (theirCut == nil || theirCut == ourCut)
        if fastForward && !noCommit {
            let reflog = "merge \(revision): fast-forward"
            let s = try switchTree(to: theirs, revision: revision, force: false, progress: progress) { db in
                if let branch {
                    try catalog.apply(
                        [RefUpdate(name: "refs/heads/" + branch, expected: ours, new: theirs, message: reflog)], who: who, in: db)
                    try db.execute(
                        sql: "INSERT INTO reflog(ref, old, new, time, who, message) VALUES ('HEAD', ?, ?, ?, ?, ?)",
                        arguments: [ours.hex, theirs.hex, Int64(Date().timeIntervalSince1970), who, reflog])
                } else {
                    try catalog.setHead(.detached(theirs), who: who, message: reflog, in: db)
                }
            }
            _ = s
            let after = try entries(ofManifest: commit(theirs).manifest)
            return MergeSummary(
                status: "fast-forward", head: theirs, theirs: theirs, base: ours, baseCount: bases.count, conflicts: [],
                changes: diffEntries(headEntries, after))
        }
        let base = bases.first
        let loaded = try loads.value()
        var baseEntries = loaded.0
        let theirEntries = loaded.1
        if let base {
            var predicates: [String] = []
            for side in [ours, theirs] {
                if let p = try cohortPredicate(since: base, on: side), !predicates.contains(p) { predicates.append(p) }
            }
            for p in predicates { baseEntries = try cohortCut(baseEntries, predicate: p).entries }
        }
        let merged = try mergeTrees(base: baseEntries, ours: headEntries, theirs: theirEntries, prefer: prefer)
        let inTheWay = (merged.entries + merged.sideFiles).map(\.path).filter { untracked.contains($0) }
        if !inTheWay.isEmpty {
            throw DVSError(
                .wouldOverwrite, "cannot merge: \(inTheWay.count) untracked file(s) would be overwritten; nothing was changed",
                hint: "move them away or commit them, then merge again", details: inTheWay.prefix(20).map(\.string))
        }
        let name = revision
        let text = message ?? "Merge \(name) into \(branch ?? "HEAD")"
        if merged.conflicts.isEmpty && !noCommit {
            do {
                let made = try composeCommit(
                    merged.entries, newContent: merged.newContent, parents: [ours, theirs], message: text, extra: extra,
                    transcriptsFrom: [headEntries, theirEntries], deltaFrom: headEntries)
                let reflog = "merge \(name): merged"
                // Packs and the commit are indexed first (unreferenced until the ref moves), so
                // the working tree can be written from them.
                try catalog.write { db in try recordComposed(made.packs, made.id, made.commit, in: db) }
                let s = try switchTreeToComposed(made.entries, from: headEntries, progress: progress) { db in
                    if let branch {
                        try catalog.apply(
                            [RefUpdate(name: "refs/heads/" + branch, expected: ours, new: made.id, message: reflog)], who: who, in: db)
                        try db.execute(
                            sql: "INSERT INTO reflog(ref, old, new, time, who, message) VALUES ('HEAD', ?, ?, ?, ?, ?)",
                            arguments: [ours.hex, made.id.hex, Int64(Date().timeIntervalSince1970), who, reflog])
                    } else {
                        try catalog.setHead(.detached(made.id), who: who, message: reflog, in: db)
                    }
                }
                return MergeSummary(
                    status: "merged", head: made.id, theirs: theirs, base: base, baseCount: bases.count, conflicts: [], changes: s)
            } catch let e as DVSError where e.code == .badInput && e.message.contains("label error") {
                // Each side's labels were valid; together they are not: stop for the user to fix.
                let c = e.details.map {
                    MergeConflict(
                        kind: "labels", path: String($0.prefix { $0 != ":" }), key: nil, field: nil, base: nil, ours: nil, theirs: nil,
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
        _ target: [ManifestEntry], from: [ManifestEntry], progress: ProgressHandler?, finish: (Database) throws -> Void
    ) throws -> [Change] {
        let changes = diffEntries(from, target)
        try writeTreeChanges(from: from, to: target, extraContent: [:], progress: progress)
        try catalog.write { db in try finish(db) }
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
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileIO.writeAtomically(Array(try enc.encode(state)), to: mergeStatePath, tmpDir: tmpDir)
        } catch { throw DVSError.wrap(error) }
        try writeTreeChanges(
            from: headEntries, to: target.sorted { $0.path < $1.path }, extraContent: merged.newContent, progress: progress)
        return MergeSummary(
            status: conflicts.isEmpty && noCommit ? "no-commit" : "conflicts", head: ours, theirs: theirs, base: base, baseCount: baseCount,
            conflicts: conflicts, changes: diffEntries(headEntries, target.sorted { $0.path < $1.path }))
    }

    /// Conflicts still visible in the working tree: `PATH~theirs` files that exist, and label
    /// tables that still hold conflict markers.
    func unresolvedConflicts(_ s: MergeState) -> [String] {
        var out: [String] = []
        for p in s.sideFiles where FileIO.exists(root + "/" + p) {
            out.append("\(p) (remove it once '\(p.dropLast(7))' holds the version to keep)")
        }
        // Label tables hold markers inside cells ('<<<<<<< ours: …'); text files on lines of their own.
        let marked = Set(s.conflicts.filter { $0.kind == "field" || $0.kind == "add-add-row" || $0.kind == "text" }.map(\.path))
        for p in marked.sorted() {
            guard let data = FileManager.default.contents(atPath: root + "/" + p) else { continue }
            let n = data.split(separator: 0x0A).filter { $0.firstRange(of: Array("<<<<<<< ours".utf8)) != nil }.count
            if n > 0 { out.append("\(p) (\(n) line(s) still hold conflict markers '<<<<<<< ours …')") }
        }
        return out
    }

    /// Finishes a stopped merge: commits the working tree as the merge commit (parents HEAD and
    /// the merged commit, the recorded message). Refuses while conflicts are unresolved.
    /// - Throws: `DVSError.badInput` when no merge is in progress or conflicts remain (naming
    ///   them); as `commit`.
    public func mergeContinue(message: String? = nil, progress: ProgressHandler? = nil) throws -> CommitSummary {
        guard let s = mergeState() else {
            throw DVSError(.badInput, "no merge is in progress", hint: "start one with 'dvs merge REV'")
        }
        let left = unresolvedConflicts(s)
        if !left.isEmpty {
            throw DVSError(
                .badInput, "\(left.count) conflict(s) are not resolved yet; nothing was committed",
                hint:
                    "edit the files listed above (or take one side: 'dvs merge --abort', then '\(s.restartCommand) --strategy ours|theirs'), then run 'dvs merge --continue'",
                details: left)
        }
        guard let theirs = CommitID(hex: s.theirs) else {
            throw DVSError(.corrupt, "'\(mergeStatePath)' is damaged", hint: "run 'dvs merge --abort'")
        }
        var options = CommitOptions(message: message ?? s.message, allowEmpty: true)
        options.extraParents = [theirs]
        options.extra = s.extra
        let summary = try commit(options, progress: progress)
        unlink(mergeStatePath)
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
            unlink(mergeStatePath)
            throw DVSError(.badInput, "no merge is in progress", hint: "nothing to abort")
        }
        let head = Set(try headEntries().map(\.path.string))
        let added = s.added.filter { !head.contains($0) }
        for p in added { unlink(root + "/" + p) }
        removeEmptyParents(of: added.map { RepoPath($0) })
        let r = try switchTree(to: ours, revision: "HEAD", force: true, progress: progress) { _ in }
        unlink(mergeStatePath)
        return CheckoutSummary(
            id: ours, branch: currentBranch(), written: r.written, removed: r.removed + added.count, unchanged: r.unchanged,
            bytesWritten: r.bytesWritten)
    }
}
