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
/// * `sample_row` — `_n` (leaf number << 32 | position, so a leaf's rows are one range, in path
///   order), the fixed columns of ``SampleTable/fixedColumns``, `_words` (the words object's hex
///   id) and one column `l1`, `l2`, … per label field name ever seen;
/// * `label_column(name, col)` — label field name (exact bytes) → its `sample_row` column, so no
///   label name (`rowid`, `Speaker` beside `speaker`, `_n`) can clash with another column;
/// * `segment_row(_n, path, start, end, channel, source, labels)` — `_n` as for `sample_row`;
/// * `distribution(id, data)` — commit (hex) → its label distribution (JSON), for `dvs diff`.
///
/// Concurrent processes may add to it: every addition is one transaction that re-checks what is
/// present (SQLite's locking, busy timeout 30 s). A crash leaves the last committed state.
public final class SampleIndex: Sendable {
    private let queue: DatabaseQueue
    /// The file's format; a file with another (or none, an older cache) is rebuilt.
    static let format = 3
    /// The file's path, for messages.
    public let path: String

    /// The name label field `name` has in the `sample` view of `dvs query`: the name itself, or
    /// `label_<name>` when it is a fixed column's (as `dvs query` has always named it).
    public static func column(forLabel name: String) -> String { SampleTable.fixedColumns.contains(name) ? "label_" + name : name }

    /// Opens (creating if needed) the index at `path`; a file made by another format is emptied.
    /// - Throws: `CatalogError` when it cannot be opened or created.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            // A cache: WAL with NORMAL sync keeps it consistent through a crash (a power loss may
            // drop the last additions, which are made again) without an fsync per addition.
            // Best effort: the switch needs the file to itself, and some file systems have no WAL.
            if try String.fetchOne(db, sql: "PRAGMA journal_mode") != "wal" { try? db.execute(sql: "PRAGMA journal_mode = WAL") }
            if try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal" { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            try db.execute(sql: "PRAGMA mmap_size = 1073741824")
        }
        self.path = path
        queue = try CatalogError.guarding("cannot open the sample index '\(path)'") {
            try DatabaseQueue(path: path, configuration: config)
        }
        // A read first: an index of this format needs no write lock to open.
        let current = try CatalogError.guarding("cannot read the sample index '\(path)'") {
            try queue.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
        }
        if current == Self.format { return }
        try CatalogError.guarding("cannot set up the sample index '\(path)'") {
            try queue.write { db in
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                if version == Self.format { return }
                for table in ["leaf", "leaf_field", "label_column", "snapshot", "sample_row", "segment_row", "distribution", "sample"] {
                    try db.execute(sql: "DROP TABLE IF EXISTS \(table)")
                }
                let q = SampleTable.quoted
                try db.execute(
                    sql: """
                        CREATE TABLE leaf (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
                        CREATE TABLE leaf_field (leaf INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (leaf, name)) WITHOUT ROWID;
                        CREATE TABLE snapshot (id TEXT PRIMARY KEY, leaves BLOB NOT NULL);
                        CREATE TABLE label_column (name TEXT PRIMARY KEY, col TEXT NOT NULL UNIQUE);
                        CREATE TABLE sample_row (\(SampleTable.fixedColumns.map(q).joined(separator: ", ")), _words, _n INTEGER PRIMARY KEY);
                        CREATE TABLE segment_row (_n INTEGER PRIMARY KEY, path, start, "end", channel, source, labels);
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

    /// Adds the snapshots among `snapshots` the index lacks: `leaves` is called (outside any
    /// write transaction) with those snapshots and the leaf ids already indexed, and returns
    /// what to add, which is then written in one transaction. Label columns are added as new
    /// field names appear.
    /// - Throws: `CatalogError` when the index cannot be written; errors `leaves` throws.
    public func add(
        snapshots: [CommitID], leaves: (_ missing: [CommitID], _ indexed: Set<ObjectID>) throws -> SnapshotLeaves
    ) throws {
        let todo = try missing(snapshots)
        if todo.isEmpty { return }
        // Read the leaves outside the write transaction, so other processes (a commit recording
        // its label distribution, a query of an indexed commit) do not wait for the decoding.
        let indexed = try CatalogError.guarding("cannot read the sample index '\(path)'") {
            try queue.read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM leaf").compactMap { ObjectID(hex: $0) }) }
        }
        var found = try leaves(todo, indexed)
        try CatalogError.guarding("cannot write the sample index '\(path)'") {
            try queue.write { db in try insert(db, &found) }
        }
    }

    /// Inserts what ``add(snapshots:leaves:)`` found, skipping leaves another process added
    /// meanwhile.
    private func insert(_ db: Database, _ found: inout SnapshotLeaves) throws {
        db.clearSchemaCache()  // another process may have added label columns since this connection looked
        var leafNumber: [ObjectID: Int64] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT n, id FROM leaf") { if let id = ObjectID(hex: r[1] as String) { leafNumber[id] = r[0] } }
        // Label columns: one internal column per field name, added as new names appear.
        var labelColumn: [String: String] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT name, col FROM label_column") { labelColumn[r[0]] = r[1] }
        var labelNames = Set<String>()
        for (_, es) in found.newLeaves {
            for e in es where e.audio != nil { for f in e.annotations?.labels ?? [] { labelNames.insert(f.name) } }
        }
        for name in labelNames.sorted() where labelColumn[name] == nil {
            let col = "l\(labelColumn.count + 1)"
            try db.execute(sql: "ALTER TABLE sample_row ADD COLUMN \(col)")
            try db.execute(sql: "INSERT INTO label_column (name, col) VALUES (?, ?)", arguments: [name, col])
            labelColumn[name] = col
        }
        let columns = try db.columns(in: "sample_row").map(\.name)
        let position = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, Int32($0 + 1)) })
        let rowParameter = position["_n"]!
        let wordsParameter = position["_words"]!
        let labelParameter = labelColumn.mapValues { position[$0]! }
        let insert = try db.makeStatement(
            sql:
                "INSERT INTO sample_row (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
        )
        let insertSegment = try db.makeStatement(
            sql: "INSERT INTO segment_row (_n, path, start, \"end\", channel, source, labels) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let insertField = try db.makeStatement(sql: "INSERT OR IGNORE INTO leaf_field (leaf, name) VALUES (?, ?)")
        let s = Binder(insert.sqliteStatement)  // the fixed columns come first: parameters 1…16
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
                    s.value(labelParameter[f.name]!, f.value)
                    fields.insert(f.name)
                }
                if let w = e.annotations?.transcript?.words { s.text(wordsParameter, w.hex) }
                s.int(rowParameter, next << 32 | row)
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

    /// Per leaf number among `leaves`, how many indexed samples match `predicate` (an SQL
    /// expression over `sample`: the fixed columns, one column per label field those leaves
    /// carry — `label_<name>` for a fixed column's or `_leaf`'s name — and `_leaf`) and their
    /// total duration in seconds; leaves without a match are absent.
    /// - Throws: `SampleQueryError.invalidStatement` when the expression does not compile,
    ///   `.writes` when it would write, `.failed` when it fails while running.
    public func matchCounts(_ predicate: String, leaves: [Int32]) throws -> [Int32: (count: Int, seconds: Double)] {
        do {
            return try queue.inDatabase { db in
                // A failure here is the index's (damaged, unreadable), not the predicate's.
                try CatalogError.guarding("cannot read the sample index '\(path)'") { try prepareViews(db, leaves: leaves, forAudit: true) }
                defer { dropViews(db) }
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                let sql = "SELECT _leaf, count(*), total(duration_s) FROM temp.sample WHERE (\(predicate)\n) GROUP BY _leaf"
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

    /// The content ids (`sha256`) of the indexed samples in `leaves` that match `predicate`
    /// (over the same `sample` view as ``matchCounts(_:leaves:)``).
    /// - Throws: `CatalogError` (the predicate was checked by ``matchCounts(_:leaves:)`` first).
    public func matchingBlobs(_ predicate: String, leaves: [Int32]) throws -> [ObjectID] {
        try CatalogError.guarding("cannot read the sample index '\(path)'") {
            try queue.inDatabase { db in
                try prepareViews(db, leaves: leaves, forAudit: true)
                defer { dropViews(db) }
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                return try String.fetchAll(db, sql: "SELECT sha256 FROM temp.sample WHERE (\(predicate)\n)").compactMap {
                    ObjectID(hex: $0)
                }
            }
        }
    }

    /// Creates the connection's temporary `snap` table (the leaves, in order) and the views
    /// `sample` and `segment` over those leaves' rows, in path order, and an empty `word` table.
    /// `sample` has the fixed columns, then one column per label field the leaves carry, sorted
    /// by name, named as `dvs query` names them (``column(forLabel:)``); for an audit, a label
    /// named `_leaf` is `label__leaf` and the view ends with `_leaf`, the row's leaf number.
    /// Two names that differ only in case both appear (SQLite names the second `Name:1`).
    private func prepareViews(_ db: Database, leaves: [Int32], forAudit: Bool) throws {
        dropViews(db)
        try db.execute(sql: "CREATE TEMP TABLE snap (pos INTEGER PRIMARY KEY, leaf INTEGER NOT NULL)")
        let insert = try db.makeStatement(sql: "INSERT INTO temp.snap (pos, leaf) VALUES (?, ?)")
        for (i, l) in leaves.enumerated() { try insert.execute(arguments: [i, l]) }
        var labels: [(name: String, col: String)] = []
        // An audit sees every label column ever indexed (as the audit cache did), so a predicate
        // that compiles for one set of leaves compiles for any other.
        let rows = try Row.fetchAll(
            db,
            sql: forAudit
                ? "SELECT name, col FROM label_column"
                : "SELECT DISTINCT f.name, c.col FROM leaf_field f JOIN label_column c ON c.name = f.name WHERE f.leaf IN (SELECT leaf FROM temp.snap)"
        )
        for r in rows { labels.append((r[0], r[1])) }
        labels.sort { $0.name < $1.name }
        let q = SampleTable.quoted
        // SQLite compares column names ignoring case: `_Leaf` would take `_leaf`'s place.
        func alias(_ name: String) -> String { forAudit && name.lowercased() == "_leaf" ? "label_" + name : Self.column(forLabel: name) }
        let columns =
            SampleTable.fixedColumns.map { "s." + q($0) } + labels.map { "s.\($0.col) AS \(q(alias($0.name)))" }
            + (forAudit ? ["snap.leaf AS _leaf"] : [])
        let range = "s._n >= (snap.leaf << 32) AND s._n < ((snap.leaf + 1) << 32)"
        try db.execute(
            sql: """
                CREATE TEMP VIEW sample AS SELECT \(columns.joined(separator: ", ")) FROM temp.snap JOIN main.sample_row s ON \(range);
                CREATE TEMP VIEW segment AS SELECT s.path, s.start, s."end", s.channel, s.source, s.labels FROM temp.snap JOIN main.segment_row s ON \(range);
                CREATE TEMP TABLE word (path, channel, idx, word, start, "end", confidence, speaker);
                """)
    }

    /// Drops what ``prepareViews(_:leaves:forAudit:)`` made (best effort).
    private func dropViews(_ db: Database) {
        try? db.execute(
            sql:
                "DROP VIEW IF EXISTS temp.sample; DROP VIEW IF EXISTS temp.segment; DROP TABLE IF EXISTS temp.word; DROP TABLE IF EXISTS temp.snap"
        )
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
                // A failure here is the index's (damaged, unreadable), not the statement's.
                try CatalogError.guarding("cannot read the sample index '\(path)'") {
                    guard let blob = try Data.fetchOne(db, sql: "SELECT leaves FROM snapshot WHERE id = ?", arguments: [snapshot.hex])
                    else {
                        throw CatalogError(.notFound, "snapshot \(snapshot.short) is not in the sample index '\(path)'")
                    }
                    try prepareViews(db, leaves: blob.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }, forAudit: false)
                }
                defer { dropViews(db) }
                let range = "s._n >= (snap.leaf << 32) AND s._n < ((snap.leaf + 1) << 32)"
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
