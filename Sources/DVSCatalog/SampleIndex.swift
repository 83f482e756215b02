import DVSCore
import Foundation
import GRDB
import GRDBSQLite

/// The sample index (`.dvs/cache/samples.sqlite`): the `sample` and `segment` rows of every
/// manifest leaf chunk indexed so far, and per indexed snapshot the list of its leaves. It serves
/// `dvs query` over any revision and `dvs audit --samples`, and is derived from the manifests
/// alone: never the source of truth, rebuilt by deleting the file.
///
/// Manifest leaves are content-addressed and never change, and snapshots of related commits
/// share all but the leaves that hold their changes (`ManifestChunk`), so a leaf's rows are
/// loaded once, the first time any snapshot holding it is indexed: indexing a commit whose
/// parent is indexed loads only the leaves the commit changed.
///
/// Tables:
/// * `leaf(n, id)` — leaf number ↔ chunk id (hex);
/// * `leaf_field(leaf, name)` — the label field names carried by the samples of each leaf;
/// * `snapshot(id, leaves)` — commit (hex) → its leaf numbers in path order (int32, native order);
/// * `sample_row` — the fixed columns of ``SampleTable/fixedColumns``, one column per label field
///   ever seen, and `_words` (the words object's hex id); rowid = leaf number << 32 | position,
///   so a leaf's rows are one rowid range, in path order;
/// * `segment_row(path, start, end, channel, source, labels)` — rowid as for `sample_row`;
/// * `distribution(id, data)` — commit (hex) → its label distribution (JSON), for `dvs diff`.
///
/// Concurrent processes may add to it: every addition is one transaction that re-checks what is
/// present (SQLite's locking, busy timeout 30 s). A crash leaves the last committed state.
public final class SampleIndex: Sendable {
    private let queue: DatabaseQueue
    /// The file's format; a file with another (or none, an older cache) is rebuilt.
    static let format = 2
    /// Column names a label cannot take in `sample_row`: the fixed columns and `_words`.
    static let reserved = Set(SampleTable.fixedColumns + ["_words"])

    /// The `sample_row` column holding label field `name`: the name itself, or `label_<name>`
    /// when it clashes with a fixed column (as `dvs query` has always named it).
    public static func column(forLabel name: String) -> String { reserved.contains(name) ? "label_" + name : name }

    /// Opens (creating if needed) the index at `path`; a file made by another format is emptied.
    /// - Throws: `CatalogError` when it cannot be opened or created.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        queue = try CatalogError.guarding("cannot open the sample index '\(path)'") {
            try DatabaseQueue(path: path, configuration: config)
        }
        try CatalogError.guarding("cannot set up the sample index '\(path)'") {
            try queue.write { db in
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                if version == Self.format { return }
                for table in ["leaf", "leaf_field", "snapshot", "sample_row", "segment_row", "distribution", "sample"] {
                    try db.execute(sql: "DROP TABLE IF EXISTS \(table)")
                }
                let q = SampleTable.quoted
                try db.execute(
                    sql: """
                        CREATE TABLE leaf (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
                        CREATE TABLE leaf_field (leaf INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (leaf, name)) WITHOUT ROWID;
                        CREATE TABLE snapshot (id TEXT PRIMARY KEY, leaves BLOB NOT NULL);
                        CREATE TABLE sample_row (\(SampleTable.fixedColumns.map(q).joined(separator: ", ")), _words);
                        CREATE TABLE segment_row (path, start, "end", channel, source, labels);
                        CREATE TABLE distribution (id TEXT PRIMARY KEY, data BLOB NOT NULL);
                        PRAGMA user_version = \(Self.format);
                        """)
            }
        }
    }

    /// What indexing some snapshots needs: their leaf chunk ids, and the entries of the leaves
    /// the index does not have yet.
    public struct SnapshotLeaves: Sendable {
        /// Per snapshot, its leaf chunk ids in path order.
        public var lists: [(CommitID, [ObjectID])]
        /// The leaves new to the index, with their entries (those without audio facts are skipped).
        public var newLeaves: [(ObjectID, [ManifestEntry])]
        /// Creates the leaves.
        public init(lists: [(CommitID, [ObjectID])], newLeaves: [(ObjectID, [ManifestEntry])]) {
            self.lists = lists
            self.newLeaves = newLeaves
        }
    }

    /// The snapshots among `snapshots` the index does not hold yet.
    /// - Throws: `CatalogError` when the index cannot be read.
    public func missing(_ snapshots: [CommitID]) throws -> [CommitID] {
        try CatalogError.guarding("cannot read the sample index") {
            try queue.read { db in
                try snapshots.filter {
                    try !Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM snapshot WHERE id = ?)", arguments: [$0.hex])!
                }
            }
        }
    }

    /// The leaf chunk ids the index holds, among `ids`.
    /// - Throws: `CatalogError` when the index cannot be read.
    public func knownLeaves(among ids: [ObjectID]) throws -> Set<ObjectID> {
        try CatalogError.guarding("cannot read the sample index") {
            try queue.read { db in
                var out = Set<ObjectID>()
                let s = try db.makeStatement(sql: "SELECT 1 FROM leaf WHERE id = ?")
                for id in ids where try Int.fetchOne(s, arguments: [id.hex]) != nil { out.insert(id) }
                return out
            }
        }
    }

    /// Adds the snapshots among `snapshots` the index lacks, in one transaction: `leaves` is
    /// called with those snapshots and the leaf ids already indexed, and returns what to add.
    /// Label columns are added as new field names appear.
    /// - Throws: `CatalogError` when the index cannot be written; errors `leaves` throws.
    public func add(
        snapshots: [CommitID], leaves: (_ missing: [CommitID], _ indexed: Set<ObjectID>) throws -> SnapshotLeaves
    ) throws {
        if try missing(snapshots).isEmpty { return }
        try CatalogError.guarding("cannot write the sample index") {
            try queue.write { db in try add(db, snapshots: snapshots, leaves: leaves) }
        }
    }

    private func add(
        _ db: Database, snapshots: [CommitID], leaves: (_ missing: [CommitID], _ indexed: Set<ObjectID>) throws -> SnapshotLeaves
    ) throws {
        let have = Set(try String.fetchAll(db, sql: "SELECT id FROM snapshot"))
        let todo = snapshots.filter { !have.contains($0.hex) }
        if todo.isEmpty { return }
        var leafNumber: [ObjectID: Int64] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT n, id FROM leaf") { if let id = ObjectID(hex: r[1] as String) { leafNumber[id] = r[0] } }
        var found = try leaves(todo, Set(leafNumber.keys))
        // Label columns: the table's, plus any new field names.
        var columns = try db.columns(in: "sample_row").map(\.name)
        var labelNames = Set<String>()
        for (_, es) in found.newLeaves {
            for e in es where e.audio != nil { for f in e.annotations?.labels ?? [] { labelNames.insert(f.name) } }
        }
        let q = SampleTable.quoted
        for name in labelNames.sorted() where !columns.contains(Self.column(forLabel: name)) {
            try db.execute(sql: "ALTER TABLE sample_row ADD COLUMN \(q(Self.column(forLabel: name)))")
            columns.append(Self.column(forLabel: name))
        }
        let position = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, Int32($0 + 1)) })
        let rowidParameter = Int32(columns.count + 1)
        let wordsParameter = position["_words"]!
        let insert = try db.makeStatement(
            sql:
                "INSERT INTO sample_row (\(columns.map(q).joined(separator: ", ")), rowid) VALUES (\(Array(repeating: "?", count: columns.count + 1).joined(separator: ", ")))"
        )
        let insertSegment = try db.makeStatement(
            sql: "INSERT INTO segment_row (rowid, path, start, \"end\", channel, source, labels) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let insertField = try db.makeStatement(sql: "INSERT OR IGNORE INTO leaf_field (leaf, name) VALUES (?, ?)")
        let s = Binder(insert.sqliteStatement)
        var next = Int64(try Int.fetchOne(db, sql: "SELECT coalesce(max(n), -1) + 1 FROM leaf") ?? 0)
        for i in found.newLeaves.indices {
            let id = found.newLeaves[i].0
            if leafNumber[id] != nil { continue }
            let entries = found.newLeaves[i].1
            found.newLeaves[i].1 = []  // release each leaf's rows once loaded
            try db.execute(sql: "INSERT INTO leaf (n, id) VALUES (?, ?)", arguments: [next, id.hex])
            leafNumber[id] = next
            var fields = Set<String>()
            var row: Int64 = 0
            var segmentRow: Int64 = 0
            for e in entries {
                guard let audio = e.audio else { continue }
                s.sampleColumns(e, audio)
                for f in e.annotations?.labels ?? [] {
                    s.value(position[Self.column(forLabel: f.name)]!, f.value)
                    fields.insert(f.name)
                }
                if let w = e.annotations?.transcript?.words { s.text(wordsParameter, w.hex) }
                s.int(rowidParameter, next << 32 | row)
                try s.step()
                row += 1
                for seg in e.annotations?.segments ?? [] {
                    try insertSegment.execute(arguments: [
                        next << 32 | segmentRow, e.path.string, seg.start, seg.end, seg.channel, seg.source,
                        SampleQuery.labelsJSON(seg.labels),
                    ])
                    segmentRow += 1
                }
            }
            for f in fields { try insertField.execute(arguments: [next, f]) }
            next += 1
        }
        for (c, leaves) in found.lists {
            var numbers: [Int32] = []
            for l in leaves {
                guard let n = leafNumber[l] else {
                    throw CatalogError(.database, "sample index: snapshot \(c.short) names leaf \(l.short), which was not given")
                }
                numbers.append(Int32(n))
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO snapshot (id, leaves) VALUES (?, ?)",
                arguments: [c.hex, numbers.withUnsafeBufferPointer { Data(buffer: $0) }])
        }
    }

    /// The label distribution stored for commit `id` (opaque bytes; `dvs diff` keeps one per
    /// commit it compared), or nil.
    /// - Throws: `CatalogError` when the index cannot be read.
    public func distribution(of id: CommitID) throws -> Data? {
        try CatalogError.guarding("cannot read the sample index") {
            try queue.read { db in try Data.fetchOne(db, sql: "SELECT data FROM distribution WHERE id = ?", arguments: [id.hex]) }
        }
    }

    /// Stores the label distribution of commit `id`.
    /// - Throws: `CatalogError` when the index cannot be written.
    public func setDistribution(_ data: Data, for id: CommitID) throws {
        try CatalogError.guarding("cannot write the sample index") {
            try queue.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO distribution (id, data) VALUES (?, ?)", arguments: [id.hex, data])
            }
        }
    }

    /// The leaf numbers of each indexed snapshot among `snapshots`, in path order.
    /// - Throws: `CatalogError`.
    public func leafNumbers(of snapshots: [CommitID]) throws -> [CommitID: [Int32]] {
        try CatalogError.guarding("cannot read the sample index") {
            try queue.read { db in
                var out: [CommitID: [Int32]] = [:]
                for c in snapshots {
                    if let b = try Data.fetchOne(db, sql: "SELECT leaves FROM snapshot WHERE id = ?", arguments: [c.hex]) {
                        out[c] = b.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                    }
                }
                return out
            }
        }
    }

    /// Per leaf number, how many indexed samples match `predicate` (an SQL expression over
    /// `sample`) and their total duration in seconds; leaves without a match are absent.
    /// - Throws: `SampleQueryError.invalidStatement` when the expression does not compile,
    ///   `.writes` when it would write, `.failed` when it fails while running.
    public func matchCounts(_ predicate: String) throws -> [Int32: (count: Int, seconds: Double)] {
        do {
            return try queue.read { db in
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                let sql =
                    "SELECT rowid >> 32, count(*), total(duration_s) FROM sample_row AS sample WHERE (\(predicate)\n) GROUP BY rowid >> 32"
                let statement: Statement
                do { statement = try db.makeStatement(sql: sql) } catch let e as DatabaseError {
                    throw SampleQueryError.invalidStatement(e.message ?? "\(e)")
                }
                guard statement.isReadonly else { throw SampleQueryError.writes }
                var perLeaf: [Int32: (count: Int, seconds: Double)] = [:]
                let cursor = try Row.fetchCursor(statement)
                while let r = try cursor.next() { perLeaf[r[0] as Int32] = (r[1] as Int, r[2] as Double) }
                return perLeaf
            }
        } catch let e as DatabaseError {
            throw SampleQueryError.failed(e.message ?? "\(e)")
        }
    }

    /// The content ids (`sha256`) of the indexed samples in `leaves` that match `predicate`.
    /// - Throws: `CatalogError` (the predicate was checked by ``matchCounts(_:)`` first).
    public func matchingBlobs(_ predicate: String, leaves: [Int32]) throws -> [ObjectID] {
        try CatalogError.guarding("cannot read the sample index") {
            try queue.read { db in
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                var out: [ObjectID] = []
                let s = try db.makeStatement(
                    sql: "SELECT sha256 FROM sample_row AS sample WHERE rowid >= ? AND rowid < ? AND (\(predicate)\n)")
                for l in leaves {
                    let n = Int64(l)
                    out += try String.fetchAll(s, arguments: [n << 32, (n + 1) << 32]).compactMap { ObjectID(hex: $0) }
                }
                return out
            }
        }
    }

    /// Runs one read-only statement over the samples of indexed snapshot `snapshot`, as
    /// ``SampleQuery/run(_:entries:includeWords:words:allows:)`` does over entries: the same
    /// `sample`, `segment` and `word` tables (here temporary views over the snapshot's leaves,
    /// rows in path order), the same label columns (the fields its samples carry, sorted).
    /// - Parameters:
    ///   - snapshot: a snapshot added with ``add(snapshots:leaves:)``.
    ///   - includeWords: fill the `word` table (from `words`); it is empty otherwise.
    ///   - words: the words of a transcript's words object.
    ///   - allows: whether a statement may run, given whether SQLite calls it read-only.
    /// - Throws: `SampleQueryError.invalidStatement` (does not compile), `.writes` (`allows`
    ///   said no), `.failed` (SQLite failed while running); `CatalogError.notFound` when the
    ///   snapshot is not indexed; errors `words` throws.
    /// - Complexity: O(leaves of the snapshot) to set up, then SQLite's own cost over its rows.
    public func run(
        _ sql: String, snapshot: CommitID, includeWords: Bool, words: (ObjectID) throws -> [TranscriptWord],
        allows: (_ isReadOnly: Bool) -> Bool
    ) throws -> SampleQueryResult {
        do {
            return try queue.inDatabase { db in
                defer {
                    try? db.execute(
                        sql:
                            "DROP TABLE IF EXISTS temp.snap; DROP VIEW IF EXISTS temp.sample; DROP VIEW IF EXISTS temp.segment; DROP TABLE IF EXISTS temp.word"
                    )
                }
                guard let blob = try Data.fetchOne(db, sql: "SELECT leaves FROM snapshot WHERE id = ?", arguments: [snapshot.hex]) else {
                    throw CatalogError(.notFound, "snapshot \(snapshot.short) is not in the sample index")
                }
                let leaves = blob.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                try db.execute(sql: "CREATE TEMP TABLE snap (pos INTEGER PRIMARY KEY, leaf INTEGER NOT NULL)")
                let insert = try db.makeStatement(sql: "INSERT INTO temp.snap (pos, leaf) VALUES (?, ?)")
                for (i, l) in leaves.enumerated() { try insert.execute(arguments: [i, l]) }
                let names = try String.fetchAll(
                    db, sql: "SELECT DISTINCT name FROM leaf_field WHERE leaf IN (SELECT leaf FROM temp.snap) ORDER BY name")
                let q = SampleTable.quoted
                let columns = SampleTable.fixedColumns.map { "s." + q($0) } + names.map { "s." + q(Self.column(forLabel: $0)) }
                let range = "s.rowid >= (snap.leaf << 32) AND s.rowid < ((snap.leaf + 1) << 32)"
                try db.execute(
                    sql: """
                        CREATE TEMP VIEW sample AS SELECT \(columns.joined(separator: ", ")) FROM temp.snap JOIN main.sample_row s ON \(range);
                        CREATE TEMP VIEW segment AS SELECT s.path, s.start, s."end", s.channel, s.source, s.labels FROM temp.snap JOIN main.segment_row s ON \(range);
                        CREATE TEMP TABLE word (path, channel, idx, word, start, "end", confidence, speaker);
                        """)
                if includeWords {
                    let insertWord = try db.makeStatement(sql: "INSERT INTO temp.word VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                    let rows = try Row.fetchAll(
                        db, sql: "SELECT s.path, s._words FROM temp.snap JOIN main.sample_row s ON \(range) WHERE s._words IS NOT NULL")
                    for r in rows {
                        guard let id = ObjectID(hex: r[1] as String) else { continue }
                        let path: String = r[0]
                        for (i, w) in try words(id).enumerated() {
                            try insertWord.execute(arguments: [path, w.channel, i, w.text, w.start, w.end, w.confidence, w.speaker])
                        }
                    }
                }
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                do { return try SampleQuery.runStatement(sql, in: db, allows: allows) } catch SampleQueryError.invalidStatement(let m)
                    where m.contains("because it is a view")
                {
                    // The tables are views here: a statement that writes to them fails to compile.
                    throw SampleQueryError.writes
                }
            }
        } catch let e as DatabaseError {
            throw SampleQueryError.failed(e.message ?? "\(e)")
        }
    }
}
