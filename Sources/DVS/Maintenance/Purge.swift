import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// `dvs purge`: erase samples (a person's voice, their labels, transcripts and words) from every
// commit, cache and pack of this repository, keeping history usable.
//
// Design (Documentation/ARCHITECTURE.md, "Erasure"): history is rewritten. Label values live in
// label tables (shared blobs) and in manifest leaves, so a commit id cannot stay stable once a
// row is gone; every commit reachable from a ref, the reflog, a model or eval record (the
// replacement of a snapshot an earlier purge rewrote), an earlier purge's new commits or HEAD
// that holds an erased sample (or descends from one that did) is composed again without it, with its
// author, committer, message and headers (commit ids in headers mapped), plus a `purge-erased`
// header `<purge id> <samples>`. The old → new map is kept in the purge record, so old ids
// (model records, notes) still resolve. Paths are never recorded: the record holds the rule as
// written, counts and the erased blob ids.
//
// Crash safety: `.dvs/PURGE` is written first (the purge's id, time, author and rule). Phase
// `rewrite` makes new objects only (a rerun makes the same ids: signatures are kept); then the
// record is written to `.dvs/purges/<id>.json` and the phase becomes `apply`, which moves refs,
// rewrites the reflog and the working tree; then phase `collect` rewrites the packs and deletes
// old objects and caches, each step idempotent. The next command that takes the lock finishes an interrupted purge. A failure in
// phase `rewrite` (nothing references the new objects yet) abandons the purge: the journal and
// record go, the repository is as it was, and no later write is blocked by a purge that fails
// again each time it is retried.

/// The id of a purge: SHA-256 of `dvs-purge`, its time, author and rule; 64 hex digits.
public struct PurgeID: TypedObjectID {
    /// The underlying object id.
    public let object: ObjectID
    /// Wraps an object id.
    public init(_ object: ObjectID) { self.object = object }
}

/// What a purge erases: the samples an SQL predicate over the `sample` table selects in any
/// commit (as `dvs query` and cohorts use it), and the samples at or under given tree paths.
public struct PurgeRule: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The condition over `sample` (`speaker = 'spk_0042'`); nil when only paths are given.
    public var predicate: String?
    /// Tree paths: a sample at one of them, or under one as a folder, is erased.
    public var paths: [String]

    /// A rule. - Parameters: predicate: the SQL condition; paths: tree paths (files or folders).
    public init(predicate: String?, paths: [String]) {
        self.predicate = predicate
        self.paths = paths
    }

    /// The rule as written: `where <predicate>`, `paths a, b`, or both joined by ` or `.
    public var description: String {
        var parts: [String] = []
        if let predicate { parts.append("where \(predicate)") }
        if !paths.isEmpty { parts.append("paths \(paths.joined(separator: ", "))") }
        return parts.joined(separator: " or ")
    }

    /// The rule as the purge record keeps it: the predicate as written (write it over ids —
    /// `speaker = 'spk_0042'` — not names), each path replaced by `sha256:` and the SHA-256 of
    /// its UTF-8 bytes (FIPS 180-4), since paths carry names (`calls/maria_lopez/…`). Whoever
    /// knows a path can still check that it was purged by hashing it; the record does not say it.
    public var recorded: PurgeRule {
        PurgeRule(
            predicate: predicate, paths: paths.map { $0.hasPrefix("sha256:") ? $0 : "sha256:" + ObjectID.hashing(Array($0.utf8)).hex })
    }

    /// Whether `path` is one of the rule's paths or under one of them.
    func covers(_ path: RepoPath) -> Bool {
        let s = path.string
        return paths.contains { p in
            let p = p.hasSuffix("/") ? String(p.dropLast()) : p
            return s == p || s.hasPrefix(p + "/")
        }
    }
}

/// What a purge would erase (`dvs purge` without `--yes`), or erased.
public struct PurgePlan: Sendable {
    /// The rule.
    public var rule: PurgeRule
    /// Distinct erased audio contents (one sample recorded at several paths or commits counts once).
    public var samples: Int
    /// Hours of audio in them.
    public var hours: Double
    /// Bytes of audio in them (original sizes).
    public var bytes: UInt64
    /// Commits that held an erased sample.
    public var commitsHolding: Int
    /// Commits rewritten (those, and every commit descending from one).
    public var commitsRewritten: Int
    /// Refs whose commit is rewritten (`refs/heads/main`, `refs/heads/cohort/es`, `refs/tags/v1`).
    public var refs: [RefName]
    /// Models whose training snapshot held an erased sample: name and how many of its samples.
    public var models: [(name: String, id: ModelID, erased: Int)]
    /// The erased blob ids.
    public var erased: Set<ObjectID>
}

/// The record a purge leaves in `.dvs/purges/<id>.json`: no paths and no labels — the rule's
/// predicate as written and its paths as SHA-256 (``PurgeRule/recorded``), counts, the erased blob
/// ids and the commit map.
public struct PurgeRecord: Sendable, Codable, Equatable {
    /// The purge's id.
    public var id: PurgeID
    /// When it started, unix seconds.
    public var time: Int64
    /// Who ran it (`Name <email>`).
    public var who: String
    /// The rule: the predicate as written, paths as `sha256:` hashes (``PurgeRule/recorded``).
    public var rule: PurgeRule
    /// Distinct erased audio contents.
    public var samples: Int
    /// Hours of audio erased.
    public var hours: Double
    /// Bytes of audio erased (original sizes).
    public var bytes: UInt64
    /// Refs whose commit was rewritten.
    public var refs: [String]
    /// Names of the models whose training snapshot held an erased sample.
    public var models: [String]
    /// Erased blob ids (64 hex), sorted.
    public var erased: [String]
    /// Old commit id → new commit id (64 hex each).
    public var commits: [String: String]
    /// Old commit id → how many samples (entries) it lost.
    public var erasedPerCommit: [String: Int]
    /// HEAD's commit before the purge (nil on an unborn branch), to bring the working tree along.
    public var head: String?
    /// Blob ids (64 hex), sorted, besides the erased audio that the purge removed: versions of
    /// label tables and sidecars that held erased rows, named only by the commits it replaced.
    /// A fetch drops them from packs it brings in, and a push from the remote's packs. Nil in a
    /// record written before they were kept, and until the purge reaches its packs step.
    public var obsolete: [String]?
    /// Model and eval record id → the id of the record written in its place without the label
    /// values only erased samples carried (64 hex each; `Sources/DVS/Maintenance/PurgeLineage.swift`).
    /// Nil in a record written before records were rewritten, and when none was.
    public var lineage: [String: String]?
    /// SHA-256s (64 hex) of the stored model artifacts the purge deleted: trained on erased
    /// samples, their bytes named them (``Repository/artifactsNamingErased(_:erased:values:)``).
    /// Nil when none was.
    public var artifacts: [String]?

    /// The new commit for an old one, if this purge rewrote it.
    public func rewritten(_ id: CommitID) -> CommitID? { commits[id.hex].flatMap { CommitID(hex: $0) } }
}

/// `.dvs/PURGE`: the purge in progress.
struct PurgeJournal: Codable, Equatable {
    /// What the purge has done: `rewrite` (new objects only), `apply` (record written), `collect`
    /// (refs moved and the working tree brought along; what is left deletes old data).
    enum Phase: String, Codable { case rewrite, apply, collect }
    /// The purge's id.
    var id: PurgeID
    /// When it started, unix seconds.
    var time: Int64
    /// Who ran it.
    var who: String
    /// The rule.
    var rule: PurgeRule
    /// How far it got.
    var phase: Phase
    /// Set by a dvs that moves the journal to phase `collect` after the working tree (788e73b);
    /// nil in a journal of an earlier build, whose phase `apply` spans every step: its rerun skips
    /// the tree step when the old HEAD's snapshot cannot be read (step 4 may have deleted it),
    /// as that build did.
    var collects: Bool?
    /// A purge record to apply here rather than a rule to evaluate: one fetched from a remote,
    /// or one of this repository's applied again to commits that arrived after it ran. The erased
    /// ids are taken from it as they are (the rule is not evaluated again), its commit map is
    /// used for every old commit whose replacement is stored here, and the record written is this
    /// one with the commits rewritten here added. Nil for a purge run here from a rule.
    var base: PurgeRecord?
    /// With ``base``: the record was already in `.dvs/purges` (applied again to new commits), so
    /// abandoning this run puts it back as it was instead of removing it.
    var reapplied: Bool?
    /// The `lineage` maps of the other purge records fetched with ``base`` (a chain of purges
    /// that replaced a record twice), so their replacements are used; nil otherwise.
    var lineageHints: [String: String]?
}

/// The steps of a purge where a test can stop it as a killed process would (`PurgeStop.at`).
enum PurgeStep: String, Sendable, CaseIterable {
    /// After the journal is written, before any object.
    case journal
    /// After the new commits are written, before the record.
    case rewritten
    /// After the record is written (phase `apply`), before refs move.
    case recorded
    /// After refs and reflog moved, before the working tree.
    case refs
    /// After the working tree, before the packs.
    case tree
    /// After the packs, before old objects are deleted.
    case packs
    /// After old objects are deleted, before caches and compaction.
    case objects
}

/// A test's request to stop a purge at a step, leaving its journal as a killed process would.
enum PurgeStop {
    /// The step to stop after; nil runs to the end. Bound only by tests around the purge they
    /// run (`PurgeStop.$at.withValue(.refs) { … }`): task-local, so a purge another test runs at
    /// the same time is not stopped.
    @TaskLocal static var at: PurgeStep?

    /// Throws when a test asked to stop at `step`; then calls the process's hook
    /// (`ProcessContext.afterPurgeStep`, which a fault-injection test uses to kill dvs there).
    static func check(_ step: PurgeStep, _ context: ProcessContext) throws {
        if at == step { throw DVSError(.internal, "purge stopped after '\(step.rawValue)' (test)") }
        context.afterPurgeStep?(step.rawValue)
    }

    /// How many old objects step `objects` deletes before a test stops it; nil deletes them all
    /// (task-local, as ``at``).
    @TaskLocal static var afterDeletions: Int?

    /// Throws when a test asked to stop step `objects` after `done` deletions; then calls the
    /// process's hook with `objects-<done>` (a kill while old objects are being deleted).
    static func checkDeletion(_ done: Int, _ context: ProcessContext) throws {
        if afterDeletions == done { throw DVSError(.internal, "purge stopped after \(counted(done, "deletion")) (test)") }
        context.afterPurgeStep?("objects-\(done)")
    }
}

extension Repository {
    /// `.dvs/purges`, one JSON record per purge.
    var purgesDir: String { dvsDir + "/purges" }
    /// `.dvs/PURGE`, the journal of a purge in progress.
    var purgeJournalPath: String { dvsDir + "/PURGE" }

    // MARK: Reading records

    /// Every purge of this repository, oldest first.
    /// - Throws: `DVSError.corrupt` when a record cannot be read.
    public func purges() throws -> [PurgeRecord] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: purgesDir) else { return [] }
        var out: [PurgeRecord] = []
        for n in names where n.hasSuffix(".json") {
            let path = purgesDir + "/" + n
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            do { out.append(try JSONDecoder().decode(PurgeRecord.self, from: data)) } catch {
                throw DVSError(.corrupt, "purge record '\(path)' cannot be read: \(error)", next: .runFsck)
            }
        }
        return out.sorted { ($0.time, $0.id.hex) < ($1.time, $1.id.hex) }
    }

    /// `records` in the order they ran: a purge after every purge whose new commits or lineage
    /// records it rewrote again (two purges in one second sort by id in ``purges()``, which need
    /// not be that order; a fetch applies them in this one so it reaches the same ids); others
    /// by time, then id.
    /// - Complexity: O(n² + total map sizes) for n records (a handful).
    static func causalOrder(_ records: [PurgeRecord]) -> [PurgeRecord] {
        let sorted = records.sorted { ($0.time, $0.id.hex) < ($1.time, $1.id.hex) }
        let made = sorted.map { Set($0.commits.values).union(($0.lineage ?? [:]).values) }
        let rewrote = sorted.map { Set($0.commits.keys).union(($0.lineage ?? [:]).keys) }
        var out: [PurgeRecord] = []
        var done = Set<Int>()
        while done.count < sorted.count {
            // The first not yet placed that rewrote nothing another unplaced one made (any, on a cycle).
            let next =
                sorted.indices.first { i in
                    !done.contains(i)
                        && !sorted.indices.contains { j in j != i && !done.contains(j) && !made[j].isDisjoint(with: rewrote[i]) }
                } ?? sorted.indices.first { !done.contains($0) }!
            done.insert(next)
            out.append(sorted[next])
        }
        return out
    }

    /// The purges that rewrote `id` one after another (each rewrote the commit the one before
    /// put in its place), in that order whatever order `records` are in: two purges in the same
    /// second sort by id, not by when they ran.
    /// - Returns: each purge with the commit it rewrote and the one it put in its place.
    static func rewriteChain(of id: CommitID, in records: [PurgeRecord]) -> [(purge: PurgeRecord, from: CommitID, to: CommitID)] {
        var out: [(purge: PurgeRecord, from: CommitID, to: CommitID)] = []
        var current = id
        var used = Set<PurgeID>()
        while let r = records.first(where: { !used.contains($0.id) && $0.rewritten(current) != nil }),
            let next = r.rewritten(current)
        {
            used.insert(r.id)
            out.append((r, current, next))
            current = next
        }
        return out
    }

    /// The commit a purge put in place of `id`, following later purges; nil when no purge
    /// rewrote it.
    func purgedReplacement(of id: CommitID) -> (commit: CommitID, purge: PurgeRecord)? {
        guard let records = try? purges(), let last = Self.rewriteChain(of: id, in: records).last else { return nil }
        return (last.to, last.purge)
    }

    /// Every commit a purge replaced and every audio blob it erased (fetch never downloads them).
    /// - Throws: `DVSError.corrupt` when a record cannot be read.
    func purgedContent() throws -> (commits: Set<CommitID>, blobs: Set<ObjectID>) {
        var commits = Set<CommitID>()
        var blobs = Set<ObjectID>()
        for r in try purges() {
            commits.formUnion(r.commits.keys.compactMap { CommitID(hex: $0) })
            blobs.formUnion(r.erased.compactMap { ObjectID(hex: $0) })
        }
        return (commits, blobs)
    }

    /// How many samples of commit `id` (as it was) purges erased, and by which purges.
    /// - Returns: (samples erased, purge ids), zero and empty when none.
    public func erasedSamples(of id: CommitID) -> (count: Int, purges: [PurgeID]) {
        guard let records = try? purges() else { return (0, []) }
        var n = 0
        var ids: [PurgeID] = []
        for step in Self.rewriteChain(of: id, in: records) {
            if let c = step.purge.erasedPerCommit[step.from.hex], c > 0 {
                n += c
                ids.append(step.purge.id)
            }
        }
        return (n, ids)
    }

    // MARK: Planning

    /// What `purge` would erase, changing nothing.
    /// - Throws: `DVSError.badInput` for an empty rule or a predicate that is not valid SQL over
    ///   `sample`; `.corrupt` when history cannot be read.
    public func planPurge(_ rule: PurgeRule) throws -> PurgePlan {
        try computePurge(rule).plan
    }

    /// The commits a purge must consider (and `dvs gc` keeps): every ref (branches, tags,
    /// cohorts, remote-tracking), HEAD, every reflog entry, every model's training snapshot and
    /// every eval's snapshot (``lineageSnapshots(_:)``), and (`purgeRecords`) the new commits of
    /// every purge record, with their ancestors; parents before children.
    /// - Parameters:
    ///   - reflog: whether reflog entries are roots too.
    ///   - reflogRoots: the commits the reflog names, when not the catalog's (gc's dry run
    ///     passes those its expiry would keep).
    ///   - purgeRecords: whether the purge records' new commits are roots (for a purge, so that
    ///     a replacement still stored is purged again; not for gc, or no branch deleted after a
    ///     purge would ever give its space back).
    func purgeHistory(reflog: Bool = true, reflogRoots: [CommitID]? = nil, purgeRecords: Bool = true) throws -> [CommitID] {
        var roots: [CommitID] = []
        let records = try purges()
        do {
            roots += try catalog.refs(in: .all).map(\.target)
            if let h = try catalog.head()?.commit { roots.append(h) }
            if reflog { roots += try reflogRoots ?? catalog.reflogCommits() }
        } catch { throw DVSError.wrap(error) }
        roots += try lineageSnapshots(records)
        if purgeRecords { for r in records { roots += r.commits.values.compactMap { CommitID(hex: $0) } } }
        var order: [CommitID] = []
        var seen = Set<CommitID>()
        for r in roots where !seen.contains(r) {
            guard objects.contains(r.object) else { continue }  // one a later purge replaced
            // Iterative post-order: parents first.
            var stack: [(CommitID, Bool)] = [(r, false)]
            while let (c, expanded) = stack.popLast() {
                if expanded {
                    order.append(c)
                    continue
                }
                if seen.contains(c) { continue }
                seen.insert(c)
                stack.append((c, true))
                // A parent no longer stored is one an interrupted purge's last step already
                // deleted (old commits go after everything else); fsck reports any other.
                for p in try snapshots.commit(c).parents.reversed() where !seen.contains(p) && objects.contains(p.object) {
                    stack.append((p, false))
                }
            }
        }
        return order
    }

    /// The snapshots of every model and eval record as they stand now: a snapshot still stored,
    /// and the commit purges put in its place (followed through every later purge's map) when
    /// a purge rewrote it. A record keeps naming the commit it was made on, so without this a
    /// purged snapshot's replacement would be reachable only when a ref happened to reach it.
    /// An eval record that cannot be read is skipped (fsck reports it).
    /// - Parameter records: every purge record, oldest first (``purges()``).
    func lineageSnapshots(_ records: [PurgeRecord]) throws -> [CommitID] {
        var snapshots: [CommitID] = []
        do {
            for m in try catalog.models() {
                snapshots.append(m.snapshot)
                for e in try catalog.evals(of: m.id) {
                    if let r = try? evalRecord(e) { snapshots.append(r.snapshot) }
                }
            }
        } catch { throw DVSError.wrap(error) }
        var out: [CommitID] = []
        for s in snapshots {
            if objects.contains(s.object) { out.append(s) }
            if let current = Self.rewriteChain(of: s, in: records).last?.to, objects.contains(current.object) { out.append(current) }
        }
        return out
    }

    /// The samples the rule selects in `entries`: paths of audio entries.
    func purgeMatches(_ rule: PurgeRule, in entries: [ManifestEntry]) throws -> Set<String> {
        var out = Set<String>()
        if !rule.paths.isEmpty {
            for e in entries where e.audio != nil && rule.covers(e.path) { out.insert(e.path.string) }
        }
        if let predicate = rule.predicate {
            guard Self.isStandaloneExpression(predicate) else {
                throw DVSError(
                    .badInput, "purge predicate \"\(predicate)\" is not one SQL condition (unbalanced parentheses or ';')",
                    hint: "write one condition over the sample table, e.g. speaker = 'spk_0042'")
            }
            let result: QueryResult
            do { result = try query("SELECT path FROM sample WHERE (\(predicate))", entries: entries) } catch let e as DVSError {
                // The label fields these samples carry, as columns (what a rule most often wants).
                let fields = Self.labelColumns(of: entries)
                let labelColumns =
                    fields.isEmpty
                    ? "and no label field (no label table labels these samples)"
                    : "then the label fields: \(fields.joined(separator: ", "))"
                throw DVSError(
                    .badInput, "purge predicate \"\(predicate)\": \(Self.predicateSQLMessage(e.message))",
                    hint:
                        "write one condition over the sample table, e.g. speaker = 'spk_0042'; its columns: \(sampleTableColumns.joined(separator: ", ")), \(labelColumns)"
                )
            }
            for row in result.rows {
                if case .string(let s) = row.first { out.insert(s) }
            }
        }
        return out
    }

    /// The plan, with the entries of every commit considered (read once).
    /// - Parameter given: the erased blob ids of a record being applied (``PurgeJournal/base``):
    ///   the audio entries holding one of them match, and the rule is not evaluated.
    func computePurge(_ rule: PurgeRule, given: Set<ObjectID>? = nil) throws -> (
        plan: PurgePlan, history: [CommitID], entries: [CommitID: [ManifestEntry]]
    ) {
        guard rule.predicate != nil || !rule.paths.isEmpty || given != nil else {
            throw DVSError(.badInput, "nothing to purge: give a condition over the sample table or paths")
        }
        let history = try purgeHistory()
        var entries: [CommitID: [ManifestEntry]] = [:]
        var erased = Set<ObjectID>()
        var facts: [ObjectID: ManifestEntry] = [:]
        // A commit made before a label field existed has no column for it: none of its samples
        // carries the value, so the condition matches none there. A column no commit has is a
        // mistake (a typo), and its error stands.
        var missingColumn: DVSError?
        var evaluated = false
        for c in history {
            let es = try self.entries(ofManifest: snapshots.commit(c).manifest)
            entries[c] = es
            let matched: Set<String>
            if let g = given {
                matched = Set(es.filter { $0.audio != nil && g.contains($0.blob) }.map(\.path.string))
            } else {
                do {
                    matched = try purgeMatches(rule, in: es)
                    evaluated = true
                } catch let e as DVSError where e.message.contains("no such column") {
                    missingColumn = missingColumn ?? e
                    matched = try purgeMatches(PurgeRule(predicate: nil, paths: rule.paths), in: es)
                }
            }
            for e in es where matched.contains(e.path.string) {
                erased.insert(e.blob)
                facts[e.blob] = e
            }
        }
        if let missingColumn, !evaluated { throw missingColumn }
        var holding = 0
        var rewritten = Set<CommitID>()
        var perCommit: [CommitID: Int] = [:]
        for c in history {
            let n = entries[c]!.filter { $0.audio != nil && erased.contains($0.blob) }.count
            perCommit[c] = n
            if n > 0 { holding += 1 }
            let parents = try snapshots.commit(c).parents
            if n > 0 || parents.contains(where: { rewritten.contains($0) }) { rewritten.insert(c) }
        }
        var refs: [RefName] = []
        do {
            refs = try catalog.refs(in: .all).filter { rewritten.contains($0.target) }.map(\.name)
        } catch { throw DVSError.wrap(error) }
        var models: [(String, ModelID, Int)] = []
        let records = try purges()
        do {
            for m in try catalog.models() {
                let current = Self.rewriteChain(of: m.snapshot, in: records).last?.to ?? m.snapshot
                if let n = perCommit[current], n > 0 { models.append((m.name, m.id, n)) }
            }
        } catch { throw DVSError.wrap(error) }
        let hours = facts.values.reduce(0.0) { $0 + ($1.audio?.duration ?? 0) } / 3600
        let bytes = facts.values.reduce(UInt64(0)) { $0 + $1.byteCount }
        let plan = PurgePlan(
            rule: rule, samples: erased.count, hours: hours, bytes: bytes, commitsHolding: holding, commitsRewritten: rewritten.count,
            refs: refs, models: models, erased: erased)
        return (plan, history, entries)
    }

    // MARK: Purging

    /// Erases the samples `rule` selects from every commit, pack, loose object, cache and the
    /// stat cache of this repository, and from the working tree's tracked files; see the file's
    /// header for the design. Takes the repository lock.
    /// - Parameter progress: phases as they start.
    /// - Returns: the record written to `.dvs/purges/`; nil when the rule selects nothing.
    /// - Throws: `DVSError.badInput` for a bad rule, while a merge is in progress, or when the
    ///   working tree has uncommitted changes (nothing is changed then); `.locked`; while
    ///   rewriting history (a label table that cannot be filtered, a damaged object), the error
    ///   with the purge abandoned and nothing changed; later storage errors (a rerun, or the
    ///   next command, finishes what was started).
    public func purge(_ rule: PurgeRule, progress: ProgressHandler? = nil) throws -> PurgeRecord? {
        let lock = try self.lock("dvs purge")
        defer { lock.release() }
        try refuseUnlessPurgeable("purge")
        let now = Int64(Date().timeIntervalSince1970)
        let who = identity
        let id = PurgeID(ObjectID.hashing(Array("dvs-purge\n\(now)\n\(who)\n\(rule)".utf8)))
        let journal = PurgeJournal(id: id, time: now, who: who, rule: rule, phase: .rewrite, collects: true)
        guard try planPurge(rule).samples > 0 else { return nil }
        try writePurgeJournal(journal)
        try PurgeStop.check(.journal, context)
        return try runPurge(journal, progress: progress)
    }

    /// Runs (or resumes) the purge `journal` describes, then removes the journal.
    ///
    /// An error in phase `rewrite` abandons the purge: nothing references the new objects yet
    /// (they are garbage for `gc`), so the journal and any record are removed and the repository
    /// is as it was; only from phase `apply` on does a failure leave the journal to be finished.
    /// - Parameter resumed: whether a killed process started it (for the error's wording).
    func runPurge(_ journal: PurgeJournal, resumed: Bool = false, progress: ProgressHandler?) throws -> PurgeRecord {
        var record: PurgeRecord
        if journal.phase == .rewrite {
            do { record = try rewriteHistory(journal, progress: progress) } catch {
                throw abandonPurge(journal, error, resumed: resumed)
            }
            try PurgeStop.check(.rewritten, context)
            do {
                try writePurgeRecord(record)
                var next = journal
                next.phase = .apply
                next.collects = true  // this build moves to phase `collect` after the tree
                try writePurgeJournal(next)
            } catch { throw abandonPurge(journal, error, resumed: resumed) }
            try PurgeStop.check(.recorded, context)
        } else {
            guard let r = try purges().first(where: { $0.id == journal.id }) else {
                throw DVSError(.corrupt, "the purge in progress (\(journal.id.short)) has no record in '\(purgesDir)'", next: .runFsck)
            }
            record = r
        }
        try applyPurge(record, journal: journal, progress: progress)
        // As stored: the packs step adds the obsolete blobs.
        record = try purges().first { $0.id == journal.id } ?? record
        unlink(purgeJournalPath)
        FileIO.syncDirectory(dvsDir)
        return record
    }

    /// `.dvs/purges/<id>.json`.
    func purgeRecordPath(_ id: PurgeID) -> String { purgesDir + "/\(id.hex).json" }

    /// Writes `record` to `.dvs/purges/<id>.json` durably (temp file, fsync, rename).
    func writePurgeRecord(_ record: PurgeRecord) throws {
        try FileIO.makeDirectories(purgesDir)
        try FileIO.writeAtomically(Array(try Self.encodePurgeRecord(record)), to: purgeRecordPath(record.id), tmpDir: tmpDir)
        FileIO.syncDirectory(purgesDir)
    }

    /// A record's bytes as `.dvs/purges/` and a remote's `purges/` hold them: JSON, keys sorted,
    /// indented.
    static func encodePurgeRecord(_ record: PurgeRecord) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try enc.encode(record)
    }

    /// Applies a purge record made elsewhere (fetched from a remote), or one of this
    /// repository's again (commits that arrived after it ran still hold what it erased): every
    /// commit of this repository's history holding one of its erased blobs, or descending from
    /// one, is rewritten as the purge that made the record rewrote it (same purge id in the
    /// `purge-erased` header, same signatures and messages, so the same new commit ids; where the
    /// record's replacement is already stored here it is used), then refs, reflog, the working
    /// tree, packs, old objects and caches follow as in ``purge(_:progress:)``. The record is
    /// kept in `.dvs/purges/` even when nothing here held the erased samples, so old ids resolve,
    /// audits count what was erased, and fetch and push know the purge. Takes the lock.
    /// - Parameter record: the record as the remote (or this repository) holds it.
    /// - Returns: the record as written here (its commit map extended with what was rewritten here).
    /// - Throws: `DVSError.badInput` while a merge is in progress or when tracked files have
    ///   uncommitted changes (nothing changed then); `.locked`; what ``purge(_:progress:)`` throws.
    /// - Parameter hints: the `lineage` maps of the other records fetched with this one
    ///   (``PurgeJournal/lineageHints``).
    @discardableResult
    func applyPurgeRecord(_ record: PurgeRecord, hints: [String: String] = [:], progress: ProgressHandler? = nil) throws -> PurgeRecord {
        let lock = try self.lock("dvs fetch (purge \(record.id.short))")
        defer { lock.release() }
        try refuseUnlessPurgeable("apply purge \(record.id.short) (\(record.rule))")
        let existed = FileIO.exists(purgeRecordPath(record.id))
        let journal = PurgeJournal(
            id: record.id, time: record.time, who: record.who, rule: record.rule, phase: .rewrite, collects: true, base: record,
            reapplied: existed, lineageHints: hints.isEmpty ? nil : hints)
        try writePurgeJournal(journal)
        return try runPurge(journal, progress: progress)
    }

    /// Throws when a purge cannot run now: a merge in progress, or uncommitted changes to
    /// tracked files (the tree is brought along to the rewritten HEAD). - Parameter what: the
    /// action, for the message (`purge`, `apply purge 1a2b3c4d (where …)`).
    func refuseUnlessPurgeable(_ what: String) throws {
        if let s = mergeState() {
            throw DVSError(
                .badInput, "cannot \(what): a merge of '\(s.describedTheirs)' is in progress; nothing was changed",
                next: .finishOrAbortMerge(afterStatus: true))
        }
        // A remote's cache has no working files to keep (its HEAD's files are never written).
        if try !isRemoteCache && headCommit() != nil {
            let dirty = try status().changes.filter { $0.kind != .added }
            if !dirty.isEmpty {
                throw DVSError(
                    .badInput, "cannot \(what): the working tree has \(counted(dirty.count, "uncommitted change")); nothing was changed",
                    details: dirty.prefix(20).map { "\($0.kind.rawValue): \($0.path)" }, next: .commitOrDiscard)
            }
        }
    }

    /// Abandons a purge that failed in phase `rewrite` (nothing references what it wrote): removes
    /// its record, if written, and the journal.
    /// - Returns: the error to throw: what failed and where, that nothing was changed and the
    ///   samples are not erased, with the cause's next step.
    private func abandonPurge(_ journal: PurgeJournal, _ error: Error, resumed: Bool) -> DVSError {
        let e = DVSError.wrap(error)
        if journal.reapplied == true, let b = journal.base {
            try? writePurgeRecord(b)
        } else {
            unlink(purgeRecordPath(journal.id))
        }
        unlink(purgeJournalPath)
        FileIO.syncDirectory(purgesDir)
        FileIO.syncDirectory(dvsDir)
        let what =
            resumed ? "the interrupted purge \(journal.id.short) (\(journal.rule)) could not be finished" : "purge (\(journal.rule)) failed"
        var out = DVSError(
            e.code,
            "\(what) while rewriting history: \(e.message); it was abandoned: no ref, file or object was changed and the samples are not erased",
            hint: e.hint, cause: e.cause, details: e.details, underlying: e, next: e.next)
        if out.hint == nil && out.next == nil { out.hint = "fix what failed, then purge again" }
        return out
    }

    /// Finishes a purge a killed process left in `.dvs/PURGE` (the caller holds the lock); one
    /// still in phase `rewrite` is redone, and abandoned when that fails.
    /// - Returns: the purge finished, nil when there was none.
    /// - Throws: what the purge throws (the journal is gone then when the purge was abandoned);
    ///   `DVSError.corrupt` for a journal that cannot be read.
    func finishInterruptedPurge() throws -> PurgeRecord? {
        guard let data = FileManager.default.contents(atPath: purgeJournalPath) else { return nil }
        let journal: PurgeJournal
        do { journal = try JSONDecoder().decode(PurgeJournal.self, from: data) } catch {
            throw DVSError(.corrupt, "the journal of an interrupted purge '\(purgeJournalPath)' cannot be read: \(error)")
        }
        let r = try runPurge(journal, resumed: true, progress: nil)
        context.notice?("note: finished the interrupted purge \(r.id.short) (\(r.rule))")
        return r
    }

    /// Writes `.dvs/PURGE` durably.
    private func writePurgeJournal(_ j: PurgeJournal) throws {
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            try FileIO.writeAtomically(Array(try enc.encode(j)), to: purgeJournalPath, tmpDir: tmpDir)
            FileIO.syncDirectory(dvsDir)
        } catch { throw DVSError.wrap(error) }
    }

    /// Phase `rewrite`: composes every affected commit again without the erased samples (new
    /// objects and packs only; nothing references them yet) and returns the record.
    private func rewriteHistory(_ journal: PurgeJournal, progress: ProgressHandler?) throws -> PurgeRecord {
        let base = journal.base
        let (plan, history, entries) = try computePurge(journal.rule, given: base.map { Set($0.erased.compactMap { ObjectID(hex: $0) }) })
        // (A partial clone downloads the label tables and sidecars of a commit composed here in
        // samplesCut; a commit whose replacement was fetched is not composed, and its old tables
        // may be gone from the remote.)
        // A fetched commit's parent that a purge replaced is not stored here (fetch stops at
        // it): the parent becomes its replacement, through every purge's map.
        var records = try purges()
        if let b = base, !records.contains(where: { $0.id == b.id }) { records.append(b) }
        let allRecords = records
        func replacement(_ p: CommitID) -> CommitID? {
            objects.contains(p.object) ? nil : Self.rewriteChain(of: p, in: allRecords).last?.to
        }
        var map: [CommitID: CommitID] = [:]
        var perCommit: [String: Int] = [:]
        // Composes `c` again without the erased samples; nil when it needs no rewrite.
        func rewriteCommit(_ c: CommitID) throws -> CommitID? {
            // The record being applied already names its replacement, and that is stored here
            // (fetched from the remote that holds the purge): use it rather than compose it again.
            if let b = base, let n = b.rewritten(c), objects.contains(n.object) {
                perCommit[c.hex] = b.erasedPerCommit[c.hex] ?? 0
                return n
            }
            let old = try snapshots.commit(c)
            let es = entries[c]!
            let dropped = Set(es.filter { $0.audio != nil && plan.erased.contains($0.blob) }.map(\.path.string))
            let parents = old.parents.map { map[$0] ?? replacement($0) ?? $0 }
            guard !dropped.isEmpty || parents != old.parents else { return nil }
            perCommit[c.hex] = dropped.count
            let keep = Set(es.filter { $0.audio != nil && !dropped.contains($0.path.string) }.map(\.path.string))
            let cut = try samplesCut(es, keeping: keep, strict: c)
            var extra = old.extra.mapValues { v in CommitID(hex: v).flatMap { map[$0]?.hex } ?? v }
            if !dropped.isEmpty {
                let line = "\(journal.id.hex) \(dropped.count)"
                extra[Self.purgeHeader] = extra[Self.purgeHeader].map { $0 + "\n" + line } ?? line
            }
            let made = try composeCommit(
                cut.entries.map { e in
                    var e = e
                    e.annotations = nil
                    return e
                }, newContent: cut.newContent, parents: parents, message: old.message, extra: extra, transcriptsFrom: [es],
                deltaFrom: es, signatures: (old.author, old.committer))
            do { try catalog.write { tx in try recordComposed(made.packs, made.id, made.commit, in: tx) } } catch {
                throw DVSError.wrap(error)
            }
            return made.id
        }
        for (i, c) in history.enumerated() {
            progress?(Progress(phase: .rewriting, done: i, total: history.count, bytes: 0))
            do { map[c] = try rewriteCommit(c) } catch {
                var e = DVSError.wrap(error)
                if !e.message.contains(c.short) { e.message = "commit \(c.short): " + e.message }
                throw e
            }
        }
        let commits = Dictionary(uniqueKeysWithValues: map.map { ($0.key.hex, $0.value.hex) })
        // Model and eval records holding a label value only the erased samples carried.
        // (Read only when there is a record: the values take a pass over every entry.)
        let hasRecords: Bool
        do { hasRecords = !(try catalog.lineageRecordIDs()).isEmpty } catch { throw DVSError.wrap(error) }
        var lineage: [String: String] = [:]
        var artifacts = Set((base?.artifacts ?? []).compactMap(ObjectID.init(hex:)))
        if hasRecords {
            let values = Self.erasedOnlyValues(entries, erased: plan.erased)
            artifacts.formUnion(try artifactsNamingErased(plan.models.map(\.id), erased: plan.erased, values: values))
            lineage = try rewriteLineageRecords(
                values: values, known: Self.lineageMap(allRecords, extra: journal.lineageHints ?? [:]))
        }
        if var b = base {
            // The record as it came, with what was rewritten here added, and this HEAD.
            // A commit rebuilt here whose replacement the record names differently (another
            // dvs version composed it) keeps the one stored here: refs point at it.
            b.commits.merge(commits) { _, here in here }
            b.erasedPerCommit.merge(perCommit) { old, _ in old }
            b.refs = Array(Set(b.refs).union(plan.refs.map(\.fullName))).sorted()
            b.head = try headCommit()?.hex
            let joined = (b.lineage ?? [:]).merging(lineage) { _, here in here }
            b.lineage = joined.isEmpty ? nil : joined
            b.artifacts = artifacts.isEmpty ? nil : artifacts.map(\.hex).sorted()
            return b
        }
        var record = PurgeRecord(
            id: journal.id, time: journal.time, who: journal.who, rule: journal.rule.recorded, samples: plan.samples, hours: plan.hours,
            bytes: plan.bytes, refs: plan.refs.map(\.fullName), models: plan.models.map(\.name),
            erased: plan.erased.map(\.hex).sorted(), commits: commits, erasedPerCommit: perCommit, head: try headCommit()?.hex)
        record.lineage = lineage.isEmpty ? nil : lineage
        record.artifacts = artifacts.isEmpty ? nil : artifacts.map(\.hex).sorted()
        return record
    }

    /// The commit header a purge adds to each rewritten commit that lost samples: lines
    /// `<purge id> <samples erased>`.
    public static let purgeHeader = "purge-erased"

    /// Phase `apply` (idempotent): refs and reflog moved to the new commits, the working tree
    /// brought along, packs rewritten without the erased blobs, old objects and every cache
    /// deleted, the catalog compacted.
    /// Steps 1–2 run in phase `apply`; the journal then moves to `collect`, so a rerun after step
    /// 4 began (the old commit's chunks partly deleted) skips the working tree, and any error
    /// before that stops the purge, journal kept, rather than leaving an erased file behind.
    private func applyPurge(_ record: PurgeRecord, journal: PurgeJournal, progress: ProgressHandler?) throws {
        let map = Dictionary(
            uniqueKeysWithValues: record.commits.compactMap { k, v in CommitID(hex: k).flatMap { o in CommitID(hex: v).map { (o, $0) } } })
        let erased = Set(record.erased.compactMap { ObjectID(hex: $0) })
        let lineageKnown = Self.lineageMap(try purges() + [record], extra: journal.lineageHints ?? [:])
        if journal.phase != .collect {
            try moveRefsAndTree(record, map: map, erased: erased, known: lineageKnown, legacy: journal.collects != true, progress: progress)
        }
        var next = journal
        next.phase = .collect
        if journal.phase != .collect { try writePurgeJournal(next) }
        // 3. Packs without the erased blobs and the old label tables that named them.
        let obsolete = try obsoleteBlobs(map: map, erased: erased)
        // Kept in the record (once: a rerun after old objects went would find fewer), so fetch
        // and push can keep these versions away from this repository and the remote.
        let known = Set(record.obsolete ?? [])
        let found = Set(obsolete.subtracting(erased).map(\.hex))
        if !found.isSubset(of: known) {
            var r = record
            r.obsolete = known.union(found).sorted()
            try writePurgeRecord(r)
        }
        // The stat cache may still name an old table version a tracked file had.
        do { try catalog.write { tx in try tx.forgetStatCache(ofBlobs: obsolete) } } catch { throw DVSError.wrap(error) }
        try repackWithout(obsolete, progress: progress)
        try PurgeStop.check(.packs, context)
        // 4. Loose objects only the old commits reached, and leaves naming erased blobs.
        try deleteOldObjects(map: map, erased: erased)
        // The lineage records written again (the catalog moved to their replacements in step 1).
        for o in (record.lineage ?? [:]).keys.compactMap(ObjectID.init(hex:))
        where Self.lineageEnd(o, map: lineageKnown, where: objects.contains) != nil {
            unlink(objects.path(of: o))
        }
        // The stored artifacts that named erased samples.
        for a in (record.artifacts ?? []).compactMap(ObjectID.init(hex:)) { unlink(objects.path(of: a)) }
        try PurgeStop.check(.objects, context)
        // 5. Caches (also the one a read-only open of this repository kept outside it),
        //    leftovers, the catalog's free pages.
        for dir in [dvsDir + "/cache", dvsDir + "/tmp", fallbackCacheDir] {
            for n in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                try? FileManager.default.removeItem(atPath: dir + "/" + n)
            }
        }
        do { try catalog.compact() } catch { throw DVSError.wrap(error) }
    }

    /// Steps 1 and 2 of ``applyPurge(_:journal:progress:)`` (idempotent): refs, reflog and stat
    /// cache moved to the new commits, then the working tree from the old HEAD's snapshot to the
    /// new one's (the old commit and its chunks are all there until phase `collect`).
    /// - Throws: `DVSError` when the old or new snapshot cannot be read or a file cannot be
    ///   written; the purge is not finished then.
    /// - Parameter legacy: the journal is an earlier build's (``PurgeJournal/collects``): an old
    ///   HEAD snapshot that cannot be read means step 4 had begun, and the tree step is skipped.
    private func moveRefsAndTree(
        _ record: PurgeRecord, map: [CommitID: CommitID], erased: Set<ObjectID>, known: [String: String], legacy: Bool,
        progress: ProgressHandler?
    ) throws {
        // 1. Refs, reflog, stat cache.
        do {
            try catalog.write { tx in
                try tx.rewriteCommitIDs(map)
                try tx.forgetStatCache(ofBlobs: erased)
                try moveLineageIndex(record.lineage ?? [:], known: known, in: tx)
            }
        } catch { throw DVSError.wrap(error) }
        try PurgeStop.check(.refs, context)
        // 2. The working tree follows HEAD (tracked files only; it was clean). A remote's cache
        // has none.
        if !isRemoteCache, let h = record.head.flatMap({ CommitID(hex: $0) }), let n = map[h],
            let before = legacy
                ? try? entries(ofManifest: snapshots.commit(h).manifest) : try entries(ofManifest: snapshots.commit(h).manifest)
        {
            let after = try entries(ofManifest: snapshots.commit(n).manifest)
            // A partial clone: the new HEAD's label tables came with the record's replacement,
            // as metadata only.
            if let partial = partialRemote() {
                try ensureBlobs(Set(after.filter { $0.kind != .symlink }.map(\.blob)), remote: partial, progress: progress)
            }
            try writeTreeChanges(from: before, to: after, extraContent: [:], progress: progress)
        }
        try PurgeStop.check(.tree, context)
    }

    /// Rewrites every pack file holding a dropped blob (or a delta on one) without it: kept
    /// frames copied as they are, deltas on a dropped base stored whole again. All new packs are
    /// written first (every old one still readable), then recorded and the old ones forgotten in
    /// one transaction, then deleted. A pack the catalog does not know (left by a killed writer)
    /// that holds a dropped blob is deleted. With `only`, other packs are left as they are
    /// (`dvs gc` rewrites only packs that are mostly garbage).
    /// - Returns: bytes of the packs rewritten before, and after.
    @discardableResult
    func repackWithout(_ dropped: Set<ObjectID>, only: Set<PackID>? = nil, progress: ProgressHandler? = nil) throws -> (
        before: UInt64, after: UInt64
    ) {
        guard !dropped.isEmpty else { return (0, 0) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: packsDir)) ?? []
        let known: Set<PackID>
        do { known = Set(try catalog.packIDs()) } catch { throw DVSError.wrap(error) }
        var made: [FinishedPack] = []
        var replaced: [(PackID, String)] = []
        var orphans: [String] = []
        var before: UInt64 = 0
        let writer = PackWriter(packsDir: packsDir, tmpDir: tmpDir, targetSize: Self.packTargetSize(catalog))
        let compressor = ZstdCompressor(level: zstdLevel)
        do {
            for (i, n) in names.sorted().enumerated() where n.hasSuffix(".pack") {
                progress?(Progress(phase: .repacking, done: i, total: names.count, bytes: before))
                let path = packsDir + "/" + n
                guard let pid = PackID(hex: n.dropLast(5)), only?.contains(pid) ?? true else { continue }
                let reader = try PackReader(path: path)
                let index = try reader.readIndex()
                func base(_ e: PackEntry) throws -> ObjectID? {
                    guard e.codec == .zstdDelta else { return nil }
                    let head = try reader.read(offset: e.offset, length: min(32, e.storedLength))
                    return head.count == 32 ? ObjectID(bytes: head) : nil
                }
                var touched = false
                for e in index {
                    if dropped.contains(e.id) { touched = true }
                    if !touched, let b = try base(e), dropped.contains(b) { touched = true }
                    if touched { break }
                }
                guard touched else { continue }
                guard known.contains(pid) else {
                    orphans.append(path)
                    continue
                }
                before += UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
                for e in index.sorted(by: { $0.offset < $1.offset }) where !dropped.contains(e.id) {
                    if let b = try base(e), dropped.contains(b) {
                        let bytes = try blobs.read(e.id)
                        try writer.append(id: e.id, codec: .zstd, rawLength: e.rawLength, frame: try compressor.compress(bytes))
                    } else {
                        try writer.append(
                            id: e.id, codec: e.codec, rawLength: e.rawLength,
                            frame: try reader.read(offset: e.offset, length: e.storedLength))
                    }
                }
                replaced.append((pid, path))
            }
            made = try writer.finish()
            try catalog.write { tx in
                try tx.removePacks(replaced.map(\.0))
                for p in made { try tx.insertPack(id: PackID(p.id), byteCount: p.byteCount, entries: p.entries) }
            }
        } catch {
            writer.abort()
            throw DVSError.wrap(error)
        }
        packedBlobs.forgetReaders()
        for (_, path) in replaced { unlink(path) }
        for path in orphans { unlink(path) }
        FileIO.syncDirectory(packsDir)
        return (before, made.reduce(0) { $0 + $1.byteCount })
    }

    /// Blobs the rewritten (old) commits name that no commit of the history left names: the
    /// erased audio, and the old versions of label tables and sidecars that held erased rows.
    func obsoleteBlobs(map: [CommitID: CommitID], erased: Set<ObjectID>) throws -> Set<ObjectID> {
        var old = Set<ObjectID>()
        for c in map.keys where objects.contains(c.object) {
            // An old commit whose chunks are partly gone: step 4 had begun, so the packs were done.
            guard let es = try? entries(ofManifest: snapshots.commit(c).manifest) else { continue }
            for e in es where e.kind != .symlink { old.insert(e.blob) }
        }
        var kept = Set<ObjectID>()
        for c in try purgeHistory() where map[c] == nil {
            for e in try entries(ofManifest: snapshots.commit(c).manifest) { kept.insert(e.blob) }
        }
        return old.subtracting(kept).union(erased)
    }

    /// Deletes the loose objects only rewritten commits reached (the commits, their manifest
    /// chunks, the words of erased samples), and any manifest leaf left that names an erased blob.
    ///
    /// A kill can stop it anywhere, and the rerun finds what is left from what is still stored:
    /// the words objects (which only leaves name) go first, then the chunks, each after every
    /// chunk under it, then the commits, so nothing doomed is ever left unreachable from a doomed
    /// object still stored (``purgeDeletionOrder(map:erased:)``).
    func deleteOldObjects(map: [CommitID: CommitID], erased: Set<ObjectID>) throws {
        for (n, id) in try purgeDeletionOrder(map: map, erased: erased).enumerated() {
            try PurgeStop.checkDeletion(n, context)
            unlink(objects.path(of: id))
        }
    }

    /// The objects ``deleteOldObjects(map:erased:)`` deletes, in the order it deletes them:
    /// words objects, then manifest chunks in post-order (a chunk after every chunk under it),
    /// then the rewritten commits.
    func purgeDeletionOrder(map: [CommitID: CommitID], erased: Set<ObjectID>) throws -> [ObjectID] {
        guard !map.isEmpty || !erased.isEmpty else { return [] }
        // The stored chunks under `root` not yet in `seen`, each after the chunks under it.
        func chunks(_ root: ObjectID, seen: inout Set<ObjectID>, order: inout [ObjectID], words: inout Set<ObjectID>) throws {
            var stack: [(ObjectID, Bool)] = [(root, false)]
            while let (id, expanded) = stack.popLast() {
                if expanded {
                    order.append(id)
                    continue
                }
                guard !seen.contains(id), objects.contains(id) else { continue }
                seen.insert(id)
                stack.append((id, true))
                switch try snapshots.chunk(id) {
                case .leaf(let es):
                    for e in es { if let w = e.annotations?.transcript?.words { words.insert(w) } }
                case .inner(_, let children): stack += children.reversed().map { ($0.id, false) }
                }
            }
        }
        var keep = Set<ObjectID>()
        var keptWords = Set<ObjectID>()
        var unused: [ObjectID] = []
        for c in try purgeHistory() where map[c] == nil {
            try chunks(snapshots.commit(c).manifest, seen: &keep, order: &unused, words: &keptWords)
        }
        var old = Set<ObjectID>()
        var oldOrder: [ObjectID] = []
        var oldWords = Set<ObjectID>()
        let commits = map.keys.filter { objects.contains($0.object) }.sorted { $0.hex < $1.hex }
        for c in commits {
            try chunks(snapshots.commit(c).manifest, seen: &old, order: &oldOrder, words: &oldWords)
        }
        var doomedChunks = oldOrder.filter { !keep.contains($0) }
        var words = oldWords.subtracting(keptWords)
        // Any other leaf naming an erased blob (a dangling commit's) goes too, with the words of
        // its erased entries.
        let listed = Set(doomedChunks)
        for id in ((try? objects.allIDs()) ?? []).sorted() where !keep.contains(id) && !listed.contains(id) {
            guard case .leaf(let es)? = try? snapshots.chunk(id), es.contains(where: { erased.contains($0.blob) }) else { continue }
            doomedChunks.append(id)
            for e in es where erased.contains(e.blob) {
                if let w = e.annotations?.transcript?.words, !keptWords.contains(w) { words.insert(w) }
            }
        }
        return words.sorted() + doomedChunks + commits.map(\.object)
    }
}

/// What `dvs purge --verify` found: files of the local store that still hold an erased blob id
/// (its 32 raw bytes), as stored or, for loose objects, decompressed.
public struct PurgeVerification: Sendable, Codable, Equatable {
    /// Purges checked.
    public var purges: Int
    /// Erased blob ids looked for.
    public var ids: Int
    /// Files read.
    public var files: Int
    /// Bytes read.
    public var bytes: UInt64
    /// Files (relative to `.dvs/`) holding an erased id, with the id (hex); empty when clean.
    public var found: [String]
    /// Erased ids the blob index still lists.
    public var indexed: [String]
}

extension Repository {
    /// Scans every file under `.dvs/` (loose objects decompressed too) for the 32 raw bytes of
    /// every blob id a purge erased, and the blob index for those ids. Pack indexes, delta
    /// frames, manifest leaves and the catalog name blobs by these bytes, so a copy of an erased
    /// blob that any of them still names is found. Reads everything; changes nothing.
    /// - Throws: `DVSError` when a purge record cannot be read.
    public func verifyPurges(progress: ProgressHandler? = nil) throws -> PurgeVerification {
        let records = try purges()
        var scanner = ErasedIDScanner(records)
        var v = PurgeVerification(purges: records.count, ids: scanner.count, files: 0, bytes: 0, found: [], indexed: [])
        guard scanner.count > 0 else { return v }
        for (id, hex) in scanner.ids.map({ (ObjectID(bytes: $0.id), $0.hex) }) where (try? blobs.contains(id)) == true {
            v.indexed.append(hex)
        }
        let indexedRecords = (try? catalog.lineageRecordIDs()) ?? []
        for (id, p) in Self.replacedLineageRecords(records).sorted(by: { $0.key < $1.key }) {
            if objects.contains(id) || indexedRecords.contains(id) {
                v.found.append(
                    "\(objects.contains(id) ? String(objects.path(of: id).dropFirst(dvsDir.count + 1)) : "catalog"): lineage record \(id.hex), which purge \(p.short) wrote again without erased label values"
                )
            }
        }
        let decompressor = ZstdDecompressor()
        let walker = FileManager.default.enumerator(atPath: dvsDir)
        while let rel = walker?.nextObject() as? String {
            let path = dvsDir + "/" + rel
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let data = FileManager.default.contents(atPath: path) else {
                continue
            }
            let bytes = [UInt8](data)
            v.files += 1
            v.bytes += UInt64(bytes.count)
            if v.files % 256 == 0 { progress?(Progress(phase: .verifyingBlobs, done: v.files, total: 0, bytes: v.bytes)) }
            scanner.scan(bytes, rel)
            if rel.hasPrefix("objects/"), let plain = try? bytes.withUnsafeBytes({ try decompressor.decompress($0) }) {
                scanner.scan(plain, rel + " (decompressed)")
            }
        }
        v.found += scanner.found
        return v
    }
}
