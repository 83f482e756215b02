import DVSCore
import Foundation
import GRDB

/// The writes of one catalog transaction; made only by ``Catalog/write(_:)`` and valid only inside
/// its closure. Everything done through it lands together or not at all.
///
/// Each method throws `CatalogError` for SQLite's failures (and the whole transaction is rolled
/// back when the error leaves the closure).
public final class CatalogTransaction {
    let db: Database

    init(_ db: Database) { self.db = db }

    // MARK: Refs

    /// Lines for `.dvs/reflog` that this transaction's ref moves wrote, in order; ``Catalog/write(_:)``
    /// appends them before it commits.
    var refLogLines: [RefLogLine] = []
    /// Whether ``Catalog/write(_:)`` makes `.dvs/reflog` agree with the catalog even without moves.
    var refLogCheck = false
    /// Whether a setting changed: `.dvs/config` is rewritten after the commit.
    var settingsChanged = false

    /// Asks for `.dvs/reflog` to be made to agree with what the catalog covers when this
    /// transaction commits (a tail no committed move covers cut off; a missing or short file
    /// written again from the ref and reflog tables), as every ref move does.
    public func checkRefLog() { refLogCheck = true }

    static func head(_ db: Database) throws -> Head? {
        guard let row = try Row.fetchOne(db, sql: "SELECT target, symbolic FROM ref WHERE name = 'HEAD'") else { return nil }
        if let sym = try row.decode(String?.self, forColumn: "symbolic") {
            guard let name = RefName(fullName: sym), let branch = name.branchName else {
                throw CatalogError(.corrupt, "HEAD points at '\(sym)', which is not a branch")
            }
            return .branch(branch, try target(of: name, db))
        }
        guard let t = try row.decode(String?.self, forColumn: "target") else {
            throw CatalogError(.corrupt, "HEAD holds neither a commit nor a branch")
        }
        return .detached(try commitID(t, of: .head))
    }

    static func target(of name: RefName, _ db: Database) throws -> CommitID? {
        guard let t = try String?.fetchOne(db, sql: "SELECT target FROM ref WHERE name = ?", arguments: [name.fullName]) ?? nil else {
            return nil
        }
        return try commitID(t, of: name)
    }

    /// A ref's target cell as a commit id.
    /// - Throws: `CatalogError.corrupt` when it is not 64 lower-case hex digits (a damaged catalog:
    ///   never read as an unborn branch).
    static func commitID(_ text: String, of ref: RefName) throws -> CommitID {
        guard let c = CommitID(hex: text), c.hex == text else {
            throw CatalogError(.corrupt, "ref '\(ref)' holds '\(text.prefix(80))', which is not a commit id")
        }
        return c
    }

    /// What HEAD points at, as this transaction sees it, or nil in a catalog with no HEAD row.
    /// - Throws: `CatalogError`.
    public func head() throws -> Head? {
        try CatalogError.guarding("cannot read HEAD") { try Self.head(db) }
    }

    /// The commit ref `name` points at, as this transaction sees it, or nil.
    /// - Throws: `CatalogError`.
    public func ref(_ name: RefName) throws -> CommitID? {
        try CatalogError.guarding("cannot read ref '\(name)'") { try Self.target(of: name, db) }
    }

    /// Points HEAD at a branch (symbolic) or detaches it at a commit, with a HEAD reflog entry
    /// (old: the commit HEAD resolved to; new: `head.commit`).
    /// - Throws: `CatalogError`.
    public func setHead(_ head: Head, who: String, message: String) throws {
        try CatalogError.guarding("cannot move HEAD") {
            let old = try Self.head(db)?.commit
            switch head {
            case .branch(let name, _):
                try db.execute(
                    sql: "INSERT OR REPLACE INTO ref(name, target, symbolic) VALUES ('HEAD', NULL, ?)",
                    arguments: [RefName.branch(name).fullName])
            case .detached(let c):
                try db.execute(sql: "INSERT OR REPLACE INTO ref(name, target, symbolic) VALUES ('HEAD', ?, NULL)", arguments: [c.hex])
            }
            let symbolic: RefName?
            if case .branch(let name, _) = head { symbolic = .branch(name) } else { symbolic = nil }
            try appendReflog(.head, old: old, new: head.commit, who: who, message: message, symbolic: symbolic)
        }
    }

    /// Moves refs by compare-and-swap, each with a reflog entry; when HEAD is on a branch that
    /// moves, HEAD's reflog gets the same entry (as git records a commit on the current branch).
    ///
    /// The one way refs move in dvs: commit, merge, pull, clone, fetch, push, branch, tag and
    /// cohort all go through it.
    /// - Throws: `CatalogError.refMoved` when a ref's current value is not `expected` (the caller's
    ///   transaction then rolls back, so nothing changes); `CatalogError` for SQLite's failures.
    public func moveRefs(_ updates: [RefUpdate], who: String) throws {
        let headBranch: RefName?
        if case .branch(let b, _)? = try head() { headBranch = .branch(b) } else { headBranch = nil }
        for u in updates {
            let current = try ref(u.name)
            guard current == u.expected else {
                throw CatalogError(
                    .refMoved,
                    "ref '\(u.name)' moved while this command ran (expected \(u.expected?.short ?? "none"), found \(current?.short ?? "none"))"
                )
            }
            try CatalogError.guarding("cannot move ref '\(u.name)'") {
                if let n = u.new {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO ref(name, target, symbolic) VALUES (?, ?, NULL)", arguments: [u.name.fullName, n.hex])
                } else {
                    try db.execute(sql: "DELETE FROM ref WHERE name = ?", arguments: [u.name.fullName])
                }
                try appendReflog(u.name, old: u.expected, new: u.new, who: who, message: u.message)
                if u.name == headBranch {
                    try appendReflog(.head, old: u.expected, new: u.new, who: who, message: u.message, symbolic: headBranch)
                }
            }
        }
    }

    /// Adds a reflog row and the same move as a line for `.dvs/reflog` (with `symbolic`, the
    /// branch HEAD points at after the move, for HEAD's lines).
    private func appendReflog(_ ref: RefName, old: CommitID?, new: CommitID?, who: String, message: String, symbolic: RefName? = nil)
        throws
    {
        let time = Int64(Date().timeIntervalSince1970)
        try db.execute(
            sql: "INSERT INTO reflog(ref, old, new, time, who, message) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [ref.fullName, old?.hex, new?.hex, time, who, message])
        refLogLines.append(
            RefLogLine(isMove: true, ref: ref, symbolic: symbolic, old: old, new: new, time: time, who: who, message: message))
    }

    /// Replaces every ref and reflog row with what `.dvs/reflog`'s lines say (`dvs reindex` of a
    /// catalog that was lost), and records that the catalog covers `length` bytes of the file.
    /// Writes no line to the file.
    /// - Throws: `CatalogError`.
    public func restoreRefs(from contents: RefLogContents, coveringLength length: Int64) throws {
        try CatalogError.guarding("cannot restore the refs") {
            try db.execute(sql: "DELETE FROM ref")
            try db.execute(sql: "DELETE FROM reflog")
            for l in contents.lines where l.isMove {
                try db.execute(
                    sql: "INSERT INTO reflog(ref, old, new, time, who, message) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [l.ref.fullName, l.old?.hex, l.new?.hex, l.time, l.who, l.message])
            }
            for (name, target) in contents.refs {
                try db.execute(sql: "INSERT INTO ref(name, target, symbolic) VALUES (?, ?, NULL)", arguments: [name.fullName, target.hex])
            }
            switch contents.head {
            case .branch(let b, _)?:
                try db.execute(
                    sql: "INSERT INTO ref(name, target, symbolic) VALUES ('HEAD', NULL, ?)", arguments: [RefName.branch(b).fullName])
            case .detached(let c)?:
                try db.execute(sql: "INSERT INTO ref(name, target, symbolic) VALUES ('HEAD', ?, NULL)", arguments: [c.hex])
            case nil: break
            }
            try db.execute(sql: "INSERT OR REPLACE INTO ref_log(one, length) VALUES (1, ?)", arguments: [length])
        }
    }

    /// Appends `refLogLines` to the file beside the catalog, after making the file agree with
    /// what the catalog covers (cutting off a tail a killed writer left; writing it again from
    /// the tables when it is missing or shorter), and records its new length in `ref_log`.
    /// Called by ``Catalog/write(_:)`` once the transaction's body has returned.
    /// - Returns: the length before the append (to cut back to if the commit then fails).
    /// - Throws: `CatalogError`.
    func flushRefLog(to file: RefLogFile) throws -> Int64 {
        let covered = try CatalogError.guarding("cannot read the reflog state") {
            try Int64?.fetchOne(db, sql: "SELECT length FROM ref_log WHERE one = 1") ?? nil
        }
        var before: Int64
        if let covered, let size = file.size, size >= covered {
            if size > covered { try file.truncate(to: covered) }
            before = covered
        } else {
            before = try file.replace(with: try linesFromTables())
        }
        let after = try file.append(refLogLines)
        try CatalogError.guarding("cannot record the reflog state") {
            try db.execute(sql: "INSERT OR REPLACE INTO ref_log(one, length) VALUES (1, ?)", arguments: [after])
        }
        refLogLines = []
        return before
    }

    /// The file's lines as the tables (before this transaction's own moves) describe them:
    /// every reflog row as a `move`, then every ref's value as a `set`.
    private func linesFromTables() throws -> [RefLogLine] {
        let pending = refLogLines.filter(\.isMove)
        return try CatalogError.guarding("cannot read the reflog") {
            var out: [RefLogLine] = []
            let rows = try Row.fetchAll(db, sql: "SELECT ref, old, new, time, who, message FROM reflog ORDER BY id")
            // This transaction's own rows are already in the table: leave them to the append.
            for row in rows.dropLast(pending.count) {
                guard let ref = RefName(fullName: try row.decode(String.self, forColumn: "ref")) else { continue }
                out.append(
                    RefLogLine(
                        isMove: true, ref: ref, symbolic: nil,
                        old: try row.decode(String?.self, forColumn: "old").flatMap { CommitID(hex: $0) },
                        new: try row.decode(String?.self, forColumn: "new").flatMap { CommitID(hex: $0) },
                        time: try row.decode(forColumn: "time"), who: try row.decode(forColumn: "who"),
                        message: try row.decode(forColumn: "message")))
            }
            // The values before this transaction: the current ones with its own moves undone.
            var values: [RefName: CommitID?] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, target FROM ref WHERE name != 'HEAD'") {
                guard let n = RefName(fullName: try row.decode(String.self, forColumn: "name")) else { continue }
                values[n] = try row.decode(String?.self, forColumn: "target").flatMap { CommitID(hex: $0) }
            }
            var head = try Self.head(db)
            for l in pending.reversed() {
                if l.ref == .head { continue }
                values[l.ref] = l.old
            }
            if pending.contains(where: { $0.ref == .head }) { head = nil }  // restated by the append
            let now = Int64(Date().timeIntervalSince1970)
            for (n, v) in values.sorted(by: { $0.key < $1.key }) {
                guard let v else { continue }
                out.append(RefLogLine(isMove: false, ref: n, symbolic: nil, old: nil, new: v, time: now, who: "dvs", message: "restated"))
            }
            switch head {
            case .branch(let b, let c)?:
                out.append(
                    RefLogLine(
                        isMove: false, ref: .head, symbolic: .branch(b), old: nil, new: c, time: now, who: "dvs", message: "restated"))
            case .detached(let c)?:
                out.append(
                    RefLogLine(isMove: false, ref: .head, symbolic: nil, old: nil, new: c, time: now, who: "dvs", message: "restated"))
            case nil: break
            }
            return out
        }
    }

    // MARK: Packs, blobs and commits

    /// Records a pack and its blobs (idempotent: blobs already recorded keep their first location).
    /// - Throws: `CatalogError`.
    public func insertPack(id: PackID, byteCount: UInt64, entries: [PackEntry]) throws {
        try CatalogError.guarding("cannot record pack '\(id.hex)'") {
            try db.execute(
                sql: "INSERT OR IGNORE INTO pack(id, byte_count, blob_count, created_at) VALUES (?, ?, ?, ?)",
                arguments: [id.hex, Int64(byteCount), entries.count, Int64(Date().timeIntervalSince1970)])
            let stmt = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO blob(id, pack_id, pack_offset, stored_length, raw_length, codec) VALUES (?, ?, ?, ?, ?, ?)")
            for e in entries {
                try stmt.execute(arguments: [
                    Data(e.id.bytes), id.hex, Int64(e.offset), Int64(e.storedLength), Int64(e.rawLength), Int(e.codec.rawValue),
                ])
            }
        }
    }

    /// Points the blob index at `pack` for each of `entries` (rows of that pack's own index):
    /// for a blob whose indexed copy is damaged and which `pack` holds intact.
    /// - Throws: `CatalogError`.
    public func relocateBlobs(_ entries: [PackEntry], to pack: PackID) throws {
        try CatalogError.guarding("cannot record blobs in pack '\(pack.hex)'") {
            let stmt = try db.cachedStatement(
                sql: "UPDATE blob SET pack_id = ?, pack_offset = ?, stored_length = ?, raw_length = ?, codec = ? WHERE id = ?")
            for e in entries {
                try stmt.execute(arguments: [
                    pack.hex, Int64(e.offset), Int64(e.storedLength), Int64(e.rawLength), Int(e.codec.rawValue), Data(e.id.bytes),
                ])
            }
        }
    }

    /// Forgets packs and the blob locations in them (a commit that failed before anything
    /// referenced them); blobs stored in other packs keep their locations.
    /// - Throws: `CatalogError`.
    public func removePacks(_ ids: [PackID]) throws {
        try CatalogError.guarding("cannot forget packs") {
            for id in ids {
                try db.execute(sql: "DELETE FROM blob WHERE pack_id = ?", arguments: [id.hex])
                try db.execute(sql: "DELETE FROM pack WHERE id = ?", arguments: [id.hex])
            }
        }
    }

    /// Forgets every pack and blob location (`dvs reindex` records them again from the packs).
    /// - Throws: `CatalogError`.
    public func clearBlobIndex() throws {
        try CatalogError.guarding("cannot clear the blob index") {
            try db.execute(sql: "DELETE FROM blob")
            try db.execute(sql: "DELETE FROM pack")
        }
    }

    /// Records a commit for prefix lookups and log, numbering it after every commit recorded
    /// before (its recording order, migration 0004); a commit already recorded keeps its number.
    /// - Throws: `CatalogError`.
    public func insertCommit(_ id: CommitID, _ commit: Commit) throws {
        try CatalogError.guarding("cannot record commit \(id.short)") {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO commit_meta(id, manifest, first_parent, time, recorded)
                    VALUES (?, ?, ?, ?, (SELECT coalesce(max(recorded), 0) + 1 FROM commit_meta))
                    """,
                arguments: [id.hex, commit.manifest.hex, commit.parents.first?.hex, commit.committer.time])
        }
    }

    /// Records several commits (a fetch's, a reindex's), parents before their children whatever
    /// the order given, so that the recording order agrees with the history.
    /// - Throws: `CatalogError`.
    /// - Complexity: O(n + parents) plus one insert each.
    public func insertCommits(_ commits: [(CommitID, Commit)]) throws {
        var byID: [CommitID: Commit] = [:]
        for (id, c) in commits { byID[id] = c }
        var done = Set<CommitID>()
        // Iterative post-order over the parents inside the batch; roots start in the given order.
        for (start, _) in commits where !done.contains(start) {
            var stack: [(CommitID, parentsPushed: Bool)] = [(start, false)]
            while let (id, pushed) = stack.popLast() {
                if done.contains(id) { continue }
                guard let c = byID[id] else { continue }
                if pushed {
                    done.insert(id)
                    try insertCommit(id, c)
                } else {
                    stack.append((id, true))
                    for p in c.parents.reversed() where byID[p] != nil && !done.contains(p) { stack.append((p, false)) }
                }
            }
        }
    }

    /// Forgets every indexed commit (the index is derived from commit objects; tests use this to
    /// stand for a damaged catalog that `dvs reindex` repairs).
    /// - Throws: `CatalogError`.
    public func clearCommitIndex() throws {
        try CatalogError.guarding("cannot clear the commit index") { try db.execute(sql: "DELETE FROM commit_meta") }
    }

    // MARK: Stat cache

    /// Upserts stat cache rows and deletes `removed` paths.
    /// - Parameter settled: whether every row written holds the blob the base snapshot
    ///   (``Catalog/statCacheBase()``) has at its path; false marks them unsettled. A caller that
    ///   cannot tell passes false.
    ///   `entries` may be a lazy sequence: the rows are written as they are made, so a million of
    ///   them need not be held as a list.
    /// - Throws: `CatalogError`.
    public func updateStatCache(
        _ entries: some Sequence<(RepoPath, StatCacheEntry)>, removing removed: [RepoPath], settled: Bool
    ) throws {
        try CatalogError.guarding("cannot update the stat cache") {
            let up = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO stat_cache(path, byte_count, mtime_ns, ctime_ns, inode, mode, blob, container, encoding, sample_rate, channels, frames, recorded_at_ns, warning, levels, unsettled)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for (p, e) in entries {
                try up.execute(arguments: [
                    Data(p.bytes), e.byteCount, e.mtimeNanoseconds, e.ctimeNanoseconds, e.inode, Int64(e.mode),
                    Data(e.blob.bytes), e.audio?.container, e.audio?.encoding, e.audio?.sampleRate,
                    e.audio?.channelCount, e.audio?.frameCount, e.recordedAtNanoseconds, e.warning,
                    e.audio.map { Catalog.encodeLevels($0) }, settled ? 0 : 1,
                ])
            }
            let del = try db.cachedStatement(sql: "DELETE FROM stat_cache WHERE path = ?")
            for p in removed { try del.execute(arguments: [Data(p.bytes)]) }
        }
    }

    /// ``Catalog/statCacheBase()``, read inside this transaction.
    /// - Throws: `CatalogError`.
    public func statCacheBase() throws -> CommitID? {
        try CatalogError.guarding("cannot read the stat cache") {
            try String.fetchOne(db, sql: "SELECT head FROM stat_cache_base WHERE one = 1").flatMap(CommitID.init(hex:))
        }
    }

    /// Names the commit whose snapshot the settled stat cache rows mirror, or with nil says no
    /// commit is vouched for (`schema/0005_stat_cache_base.sql`). Every transaction that writes
    /// rows it cannot vouch for, or moves HEAD away from what the rows mirror, clears it.
    /// - Throws: `CatalogError`.
    public func setStatCacheBase(_ id: CommitID?) throws {
        try CatalogError.guarding("cannot update the stat cache") {
            if let id {
                try db.execute(sql: "INSERT OR REPLACE INTO stat_cache_base(one, head) VALUES (1, ?)", arguments: [id.hex])
            } else {
                try db.execute(sql: "DELETE FROM stat_cache_base")
            }
        }
    }

    /// Records the file-system monitor's token taken before a scan of the whole tree whose stat
    /// cache rows this transaction writes, and the paths that scan left as candidates; nil forgets
    /// the token (`schema/0007_fsmonitor_token.sql`).
    /// - Throws: `CatalogError`.
    /// - Complexity: O(k log k) for k pending paths.
    public func setFSMonitorToken(_ token: String?, pending: [RepoPath]) throws {
        try CatalogError.guarding("cannot update the stat cache") {
            try db.execute(sql: "DELETE FROM fsmonitor_token")
            try db.execute(sql: "DELETE FROM fsmonitor_pending")
            guard let token else { return }
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO fsmonitor_pending(path) VALUES (?)")
            for p in pending { try insert.execute(arguments: [Data(p.bytes)]) }
            try db.execute(sql: "INSERT INTO fsmonitor_token(one, token) VALUES (1, ?)", arguments: [token])
        }
    }

    /// Marks every unsettled stat cache row settled: the caller has just made the base snapshot
    /// equal to the tree the rows describe (a commit of the whole tree).
    /// - Throws: `CatalogError`.
    /// - Complexity: O(u log n) for u unsettled rows (a partial index finds them).
    public func settleStatCache() throws {
        try CatalogError.guarding("cannot update the stat cache") {
            try db.execute(sql: "UPDATE stat_cache SET unsettled = 0 WHERE unsettled = 1")
        }
    }

    /// ``settleStatCache()`` for the rows of `prefixes` and everything below them only (a
    /// commit of some paths: rows elsewhere keep saying their file may differ from HEAD).
    /// - Throws: `CatalogError`.
    public func settleStatCache(within prefixes: [RepoPath]) throws {
        try CatalogError.guarding("cannot update the stat cache") {
            for p in prefixes {
                guard !p.bytes.isEmpty else {
                    try db.execute(sql: "UPDATE stat_cache SET unsettled = 0 WHERE unsettled = 1")
                    continue
                }
                try db.execute(
                    sql: "UPDATE stat_cache SET unsettled = 0 WHERE unsettled = 1 AND (path = ?1 OR (path > ?2 AND path < ?3))",
                    arguments: [Data(p.bytes), Data(p.bytes + [0x2F]), Data(p.bytes + [0x30])])
            }
        }
    }

    /// Records the label sources of commit `id` (JSON; see ``Catalog/labelSources(of:)``).
    /// - Throws: `CatalogError`.
    public func setLabelSources(_ tables: Data, for id: CommitID) throws {
        try CatalogError.guarding("cannot record the label sources of commit \(id.hex)") {
            try db.execute(
                sql: "INSERT OR REPLACE INTO label_sources(commit_id, tables) VALUES (?, ?)", arguments: [id.hex, tables])
        }
    }

    // MARK: Config

    /// Sets (or with nil, removes) a setting.
    /// - Throws: `CatalogError`.
    public func setConfig(_ key: String, _ value: String?) throws {
        settingsChanged = true
        try CatalogError.guarding("cannot write setting '\(key)'") {
            if let value {
                try db.execute(sql: "INSERT OR REPLACE INTO config(key, value) VALUES (?, ?)", arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM config WHERE key = ?", arguments: [key])
            }
        }
    }

    // MARK: Lineage (migration 0003)

    /// Indexes a model record; idempotent.
    /// - Throws: `CatalogError`.
    public func insertModel(_ row: ModelRow) throws {
        try CatalogError.guarding("cannot index model '\(row.name)'") {
            try db.execute(
                sql: "INSERT OR IGNORE INTO model (id, name, artifact, snapshot, revision, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [row.id.hex, row.name, row.artifact.hex, row.snapshot.hex, row.revision, row.createdAt])
        }
    }

    /// Indexes an eval record; idempotent.
    /// - Throws: `CatalogError`.
    public func insertEval(id: EvalID, model: ModelID, snapshot: CommitID, createdAt: Double) throws {
        try CatalogError.guarding("cannot index eval '\(id.hex)'") {
            try db.execute(
                sql: "INSERT OR IGNORE INTO eval (id, model, snapshot, created_at) VALUES (?, ?, ?, ?)",
                arguments: [id.hex, model.hex, snapshot.hex, createdAt])
        }
    }

    /// Forgets one indexed model or eval record (a purge wrote it again under a new id); a
    /// no-op for an id not indexed.
    /// - Throws: `CatalogError`.
    public func forgetLineageRecord(_ id: ObjectID) throws {
        try CatalogError.guarding("cannot forget lineage record '\(id.hex)'") {
            try db.execute(sql: "DELETE FROM model WHERE id = ?", arguments: [id.hex])
            try db.execute(sql: "DELETE FROM eval WHERE id = ?", arguments: [id.hex])
        }
    }

    /// Forgets every indexed model and eval (`dvs reindex` indexes them again from the records).
    /// - Throws: `CatalogError`.
    public func clearLineageIndex() throws {
        try CatalogError.guarding("cannot clear the lineage index") {
            try db.execute(sql: "DELETE FROM model")
            try db.execute(sql: "DELETE FROM eval")
        }
    }
}
