import DVSCore
import Foundation
import GRDB
import GRDBSQLite

/// The catalog's schema, for tests and tools: the migrations in order, as (identifier, SQL).
public enum CatalogSchema {
    /// Identifier and SQL of every migration; each SQL equals `schema/<identifier>.sql`.
    public static var migrations: [(String, String)] { Migrations.all }
}

/// An error from the catalog.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable { case database, refMoved, notFound }
    /// What kind of failure.
    public var code: Code
    /// What failed.
    public var message: String
    /// The next step for the user.
    public var hint: String?
    /// Creates an error.
    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }
    public var description: String { message }
}

/// What HEAD points at.
public enum Head: Sendable, Equatable {
    /// On a branch (`refs/heads/<name>`), which may not have a commit yet (unborn).
    case branch(String, CommitID?)
    /// Detached at a commit.
    case detached(CommitID)

    /// The commit HEAD resolves to, if any.
    public var commit: CommitID? {
        switch self {
        case .branch(_, let c): return c
        case .detached(let c): return c
        }
    }
}

/// One `stat_cache` row.
public struct StatCacheEntry: Sendable, Equatable {
    /// Size in bytes.
    public var byteCount: Int64
    /// Modification time, ns since 1970.
    public var mtimeNanoseconds: Int64
    /// Status-change time, ns since 1970.
    public var ctimeNanoseconds: Int64
    /// Inode number.
    public var inode: Int64
    /// `st_mode`.
    public var mode: UInt32
    /// Content id.
    public var blob: ObjectID
    /// Audio facts, when the content is a sample.
    public var audio: AudioFacts?
    /// When this row was recorded, ns since 1970.
    public var recordedAtNanoseconds: Int64
    /// A problem noticed when the content was read (`kind<TAB>message`), kept so it is reported
    /// again without re-reading the file.
    public var warning: String?
    /// Creates a row.
    public init(
        byteCount: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: Int64, mode: UInt32,
        blob: ObjectID, audio: AudioFacts?, recordedAtNanoseconds: Int64, warning: String? = nil
    ) {
        self.warning = warning
        self.byteCount = byteCount
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.mode = mode
        self.blob = blob
        self.audio = audio
        self.recordedAtNanoseconds = recordedAtNanoseconds
    }
}

/// A ref move to apply atomically: `name` goes from `expected` to `new` (nil deletes).
public struct RefUpdate: Sendable {
    /// Full ref name (`refs/heads/main`) or `HEAD`.
    public var name: String
    /// The value the caller read; the move fails if the ref changed since (compare-and-swap).
    public var expected: CommitID?
    /// The new value; nil deletes the ref.
    public var new: CommitID?
    /// Reflog message.
    public var message: String
    /// Creates an update.
    public init(name: String, expected: CommitID?, new: CommitID?, message: String) {
        self.name = name
        self.expected = expected
        self.new = new
        self.message = message
    }
}

/// The SQLite catalog (`.dvs/catalog.sqlite`, WAL mode) through GRDB.
///
/// Writers are serialised by the repository lock and by SQLite; readers never block (WAL).
/// Schema: `schema/*.sql`, applied in order by `DatabaseMigrator`.
public final class Catalog: Sendable {
    private let pool: DatabasePool

    /// Opens (creating and migrating if needed) the catalog at `path`.
    /// - Throws: `CatalogError.database` with SQLite's message.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")  // a reported commit survives power loss
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            var migrator = DatabaseMigrator()
            for (name, sql) in Migrations.all {
                migrator.registerMigration(name) { db in try db.execute(sql: sql) }
            }
            try migrator.migrate(pool)
        } catch {
            throw CatalogError(
                .database, "cannot open catalog '\(path)': \(error)",
                hint:
                    "check the file's permissions and free disk space; if it is damaged, move it aside, run 'dvs init' in a scratch folder, copy its catalog.sqlite here and run 'dvs reindex' (refs must then be recreated)"
            )
        }
    }

    /// The migrations applied, in order (for `dvs fsck` and tests).
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid") }
    }

    // MARK: Refs

    /// What HEAD points at, or nil in a catalog with no HEAD row.
    public func head() throws -> Head? {
        try pool.read { db in try Self.head(db) }
    }

    static func head(_ db: Database) throws -> Head? {
        guard let row = try Row.fetchOne(db, sql: "SELECT target, symbolic FROM ref WHERE name = 'HEAD'") else { return nil }
        if let sym: String = row["symbolic"] {
            let target = try String.fetchOne(db, sql: "SELECT target FROM ref WHERE name = ?", arguments: [sym])
            let branch = sym.hasPrefix("refs/heads/") ? String(sym.dropFirst("refs/heads/".count)) : sym
            return .branch(branch, target.flatMap { CommitID(hex: $0) })
        }
        guard let t: String = row["target"], let c = CommitID(hex: t) else { return nil }
        return .detached(c)
    }

    /// The commit a full ref name points at, or nil.
    public func ref(_ name: String) throws -> CommitID? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT target FROM ref WHERE name = ?", arguments: [name]).flatMap { CommitID(hex: $0) }
        }
    }

    /// All direct refs whose name starts with `prefix`, sorted by name.
    public func refs(prefix: String) throws -> [(name: String, target: CommitID)] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT name, target FROM ref WHERE name >= ? AND name < ? AND target IS NOT NULL ORDER BY name",
                arguments: [prefix, prefix + "\u{10FFFF}"]
            ).compactMap { row in
                guard let t: String = row["target"], let c = CommitID(hex: t) else { return nil }
                return (row["name"], c)
            }
        }
    }

    /// Points HEAD at a branch (symbolic) or detaches it at a commit, with a reflog entry.
    public func setHead(_ head: Head, who: String, message: String, in db: Database) throws {
        let old = try Self.head(db)?.commit
        switch head {
        case .branch(let name, _):
            try db.execute(
                sql: "INSERT OR REPLACE INTO ref(name, target, symbolic) VALUES ('HEAD', NULL, ?)", arguments: ["refs/heads/" + name])
        case .detached(let c):
            try db.execute(sql: "INSERT OR REPLACE INTO ref(name, target, symbolic) VALUES ('HEAD', ?, NULL)", arguments: [c.hex])
        }
        try db.execute(
            sql: "INSERT INTO reflog(ref, old, new, time, who, message) VALUES ('HEAD', ?, ?, ?, ?, ?)",
            arguments: [old?.hex, head.commit?.hex, Int64(Date().timeIntervalSince1970), who, message])
    }

    /// Applies ref updates by compare-and-swap, with reflog entries.
    /// - Throws: `CatalogError.refMoved` (and changes nothing) when a ref's current value is not `expected`.
    public func apply(_ updates: [RefUpdate], who: String, in db: Database) throws {
        let now = Int64(Date().timeIntervalSince1970)
        for u in updates {
            let current = try String.fetchOne(db, sql: "SELECT target FROM ref WHERE name = ?", arguments: [u.name])
            guard current == u.expected?.hex else {
                throw CatalogError(
                    .refMoved,
                    "ref '\(u.name)' moved while this command ran (expected \(u.expected?.short ?? "none"), found \(current.map { String($0.prefix(12)) } ?? "none"))",
                    hint: "run the command again")
            }
            if let n = u.new {
                try db.execute(sql: "INSERT OR REPLACE INTO ref(name, target, symbolic) VALUES (?, ?, NULL)", arguments: [u.name, n.hex])
            } else {
                try db.execute(sql: "DELETE FROM ref WHERE name = ?", arguments: [u.name])
            }
            try db.execute(
                sql: "INSERT INTO reflog(ref, old, new, time, who, message) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [u.name, u.expected?.hex, u.new?.hex, now, who, u.message])
        }
    }

    /// Runs `body` in one write transaction (IMMEDIATE); everything in it lands or nothing does.
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    /// Reflog entries of `ref`, newest first.
    public func reflog(_ ref: String, limit: Int = 1000) throws -> [(old: String?, new: String?, time: Int64, who: String, message: String)]
    {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT old, new, time, who, message FROM reflog WHERE ref = ? ORDER BY id DESC LIMIT ?", arguments: [ref, limit]
            )
            .map { ($0["old"], $0["new"], $0["time"], $0["who"], $0["message"]) }
        }
    }

    /// Every commit id ever written to any reflog (fsck treats them as reachable).
    public func reflogCommits() throws -> [CommitID] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT old FROM reflog WHERE old IS NOT NULL UNION SELECT new FROM reflog WHERE new IS NOT NULL")
                .compactMap { CommitID(hex: $0) }
        }
    }

    // MARK: Packs and blobs

    /// Every blob id known to be stored.
    public func blobIDs() throws -> Set<ObjectID> {
        try pool.read { db in
            var out = Set<ObjectID>()
            let cursor = try Data.fetchCursor(db, sql: "SELECT id FROM blob")
            while let d = try cursor.next() { out.insert(ObjectID(data: d)) }
            return out
        }
    }

    /// Where blob `id` is stored, or nil.
    public func location(of id: ObjectID) throws -> BlobLocation? {
        try pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT pack_id, pack_offset, stored_length, raw_length, codec FROM blob WHERE id = ?",
                    arguments: [Data(id.bytes)])
            else { return nil }
            return BlobLocation(pack: ObjectID(hex: row["pack_id"] as String)!, entry: try Self.packEntry(id, row))
        }
    }

    /// Every blob location (checkout and fsck load them once).
    public func allLocations() throws -> [ObjectID: BlobLocation] {
        try pool.read { db in
            var out: [ObjectID: BlobLocation] = [:]
            var packs: [String: ObjectID] = [:]
            let cursor = try Row.fetchCursor(db, sql: "SELECT id, pack_id, pack_offset, stored_length, raw_length, codec FROM blob")
            while let row = try cursor.next() {
                let id = ObjectID(data: row["id"] as Data)
                let ph: String = row["pack_id"]
                let p = packs[ph] ?? ObjectID(hex: ph)!
                packs[ph] = p
                out[id] = BlobLocation(pack: p, entry: try Self.packEntry(id, row))
            }
            return out
        }
    }

    /// Known pack ids.
    public func packIDs() throws -> [ObjectID] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT id FROM pack ORDER BY id").compactMap { ObjectID(hex: $0) } }
    }

    /// The pack entry of blob `id` from its `blob` row.
    /// - Throws: `CatalogError.database` when the row names a codec this dvs does not know.
    private static func packEntry(_ id: ObjectID, _ row: Row) throws -> PackEntry {
        let code: UInt8 = row["codec"]
        guard let codec = BlobCodec(rawValue: code) else {
            throw CatalogError(.database, "object '\(id.hex)' has unknown codec \(code)", hint: "run 'dvs fsck' to list damaged objects")
        }
        return PackEntry(
            id: id, offset: row["pack_offset"], storedLength: row["stored_length"], rawLength: row["raw_length"], codec: codec)
    }

    /// Records a pack and its blobs (idempotent: blobs already recorded keep their first location).
    public func insertPack(id: ObjectID, byteCount: UInt64, entries: [PackEntry], in db: Database) throws {
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

    // MARK: Commits

    /// Records a commit for prefix lookups.
    public func insertCommit(_ id: CommitID, _ commit: Commit, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO commit_meta(id, manifest, first_parent, time) VALUES (?, ?, ?, ?)",
            arguments: [id.hex, commit.manifest.hex, commit.parents.first?.hex, commit.committer.time])
    }

    /// Commit ids starting with `prefix` (lower-case hex), at most `limit`.
    public func commits(withPrefix prefix: String, limit: Int = 2) throws -> [CommitID] {
        try pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT id FROM commit_meta WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                arguments: [prefix, prefix + "g", limit]
            ).compactMap { CommitID(hex: $0) }
        }
    }

    // MARK: Stat cache

    /// The whole stat cache, in one query.
    /// - Complexity: O(n) rows.
    public func statCache() throws -> [RepoPath: StatCacheEntry] {
        try pool.read { db in
            // The hot path of `dvs status`: stepped with SQLite's C API (GRDB's `Row` costs ~1 µs a row).
            let statement = try db.makeStatement(
                sql:
                    "SELECT path, byte_count, mtime_ns, ctime_ns, inode, mode, blob, container, encoding, sample_rate, channels, frames, recorded_at_ns, warning, levels FROM stat_cache"
            )
            let s = statement.sqliteStatement
            defer { sqlite3_reset(s) }
            var out: [RepoPath: StatCacheEntry] = [:]
            out.reserveCapacity(try Int.fetchOne(db, sql: "SELECT count(*) FROM stat_cache") ?? 0)
            func bytes(_ i: Int32) -> UnsafeRawBufferPointer {
                let n = Int(sqlite3_column_bytes(s, i))
                guard n > 0, let p = sqlite3_column_blob(s, i) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
                return UnsafeRawBufferPointer(start: p, count: n)
            }
            func text(_ i: Int32) -> String? {
                guard sqlite3_column_type(s, i) != SQLITE_NULL, let p = sqlite3_column_text(s, i) else { return nil }
                return String(cString: p)
            }
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else {
                    throw CatalogError(.database, "cannot read the stat cache: \(String(cString: sqlite3_errmsg(sqlite3_db_handle(s))))")
                }
                let blob = bytes(6)
                guard blob.count == 32 else { continue }
                var audio: AudioFacts?
                if let c = text(7) {
                    var a = AudioFacts(
                        container: c, encoding: text(8) ?? "", sampleRate: Int(sqlite3_column_int64(s, 9)),
                        channelCount: Int(sqlite3_column_int64(s, 10)), frameCount: Int(sqlite3_column_int64(s, 11)))
                    (a.peak, a.rms) = Self.decodeLevels(bytes(14))
                    audio = a
                }
                out[RepoPath(bytes: Array(bytes(0)))] = StatCacheEntry(
                    byteCount: sqlite3_column_int64(s, 1), mtimeNanoseconds: sqlite3_column_int64(s, 2),
                    ctimeNanoseconds: sqlite3_column_int64(s, 3),
                    inode: sqlite3_column_int64(s, 4), mode: UInt32(truncatingIfNeeded: sqlite3_column_int64(s, 5)),
                    blob: ObjectID(raw: blob),
                    audio: audio, recordedAtNanoseconds: sqlite3_column_int64(s, 12), warning: text(13))
            }
            return out
        }
    }

    /// Per channel: peak then RMS, float32 little-endian each (`schema/0002_levels.sql`).
    static func encodeLevels(_ a: AudioFacts) -> Data {
        var d = Data()
        for (p, r) in zip(a.peak, a.rms) {
            withUnsafeBytes(of: p.bitPattern.littleEndian) { d.append(contentsOf: $0) }
            withUnsafeBytes(of: r.bitPattern.littleEndian) { d.append(contentsOf: $0) }
        }
        return d
    }

    static func decodeLevels(_ b: UnsafeRawBufferPointer) -> ([Float], [Float]) {
        var peak: [Float] = []
        var rms: [Float] = []
        var i = 0
        while i + 8 <= b.count {
            peak.append(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt32.self))))
            rms.append(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))))
            i += 8
        }
        return (peak, rms)
    }

    /// Upserts stat cache rows and deletes `removed` paths.
    public func updateStatCache(_ entries: [(RepoPath, StatCacheEntry)], removing removed: [RepoPath], in db: Database) throws {
        let up = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO stat_cache(path, byte_count, mtime_ns, ctime_ns, inode, mode, blob, container, encoding, sample_rate, channels, frames, recorded_at_ns, warning, levels)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for (p, e) in entries {
            try up.execute(arguments: [
                Data(p.bytes), e.byteCount, e.mtimeNanoseconds, e.ctimeNanoseconds, e.inode, Int64(e.mode),
                Data(e.blob.bytes), e.audio?.container, e.audio?.encoding, e.audio?.sampleRate,
                e.audio?.channelCount, e.audio?.frameCount, e.recordedAtNanoseconds, e.warning, e.audio.map { Self.encodeLevels($0) },
            ])
        }
        let del = try db.cachedStatement(sql: "DELETE FROM stat_cache WHERE path = ?")
        for p in removed { try del.execute(arguments: [Data(p.bytes)]) }
    }

    // MARK: Config

    /// A setting's value, or nil.
    public func config(_ key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM config WHERE key = ?", arguments: [key]) }
    }

    /// All settings, sorted by key.
    public func allConfig() throws -> [(String, String)] {
        try pool.read { db in try Row.fetchAll(db, sql: "SELECT key, value FROM config ORDER BY key").map { ($0[0], $0[1]) } }
    }

    /// Sets (or with nil, removes) a setting.
    public func setConfig(_ key: String, _ value: String?, in db: Database) throws {
        if let value {
            try db.execute(sql: "INSERT OR REPLACE INTO config(key, value) VALUES (?, ?)", arguments: [key, value])
        } else {
            try db.execute(sql: "DELETE FROM config WHERE key = ?", arguments: [key])
        }
    }
}

/// One row of the `model` table (migration 0003).
public struct ModelRow: Sendable, Equatable {
    /// Model record id.
    public var id: ObjectID
    /// Display name.
    public var name: String
    /// SHA-256 of the artifact.
    public var artifact: ObjectID
    /// Training snapshot commit.
    public var snapshot: CommitID
    /// The revision as given.
    public var revision: String
    /// Training end time, unix seconds.
    public var createdAt: Double
    /// Creates a row.
    public init(id: ObjectID, name: String, artifact: ObjectID, snapshot: CommitID, revision: String, createdAt: Double) {
        self.id = id
        self.name = name
        self.artifact = artifact
        self.snapshot = snapshot
        self.revision = revision
        self.createdAt = createdAt
    }
}

extension Catalog {
    // MARK: Lineage (migration 0003)

    /// Indexes a model record; idempotent.
    public func insertModel(_ row: ModelRow, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO model (id, name, artifact, snapshot, revision, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [row.id.hex, row.name, row.artifact.hex, row.snapshot.hex, row.revision, row.createdAt])
    }

    /// Indexes an eval record; idempotent.
    public func insertEval(id: ObjectID, model: ObjectID, snapshot: CommitID, createdAt: Double, in db: Database) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO eval (id, model, snapshot, created_at) VALUES (?, ?, ?, ?)",
            arguments: [id.hex, model.hex, snapshot.hex, createdAt])
    }

    /// Every indexed model, oldest first.
    public func models() throws -> [ModelRow] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, name, artifact, snapshot, revision, created_at FROM model ORDER BY created_at, id")
                .compactMap { r in
                    guard let id = ObjectID(hex: r["id"] as String), let a = ObjectID(hex: r["artifact"] as String),
                        let s = CommitID(hex: r["snapshot"] as String)
                    else { return nil }
                    return ModelRow(id: id, name: r["name"], artifact: a, snapshot: s, revision: r["revision"], createdAt: r["created_at"])
                }
        }
    }

    /// Eval record ids of `model`, oldest first.
    public func evals(of model: ObjectID) throws -> [ObjectID] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM eval WHERE model = ? ORDER BY created_at, id", arguments: [model.hex]).compactMap {
                ObjectID(hex: $0)
            }
        }
    }

    /// Every indexed record id (models and evals).
    public func lineageRecordIDs() throws -> Set<ObjectID> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT id FROM model UNION ALL SELECT id FROM eval").compactMap { ObjectID(hex: $0) })
        }
    }

    /// Runs `body` in a read transaction (a consistent view; never blocks writers in WAL).
    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }
}
