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
/// * `leaf_field(name, leaf)` — the label field names carried by the samples of each leaf (keyed
///   by name first: which fields a snapshot carries is one probe per name, not a scan);
/// * `snapshot(id, leaves)` — commit (hex) → its leaf numbers in path order (int32, native order);
/// * `sample_row` — the fixed columns of ``SampleTable/fixedColumns``, `_words` (the words
///   object's hex id), `leaf` (its leaf number) and one column `l1`, `l2`, … per label field name
///   ever seen; WITHOUT ROWID, keyed by (`path`, `leaf`), so the rows of any snapshot come in path
///   order from one scan that keeps the rows of its leaves (no join: a snapshot's leaves are a
///   small temporary rowid table). A label column whose first value was text (a category such
///   as `lang`) has an index `sample_row_l<k>` on (`l<k>`, `path`, `leaf`, `duration_s`), so
///   `GROUP BY` that label (with `count(*)`, `total(duration_s)`) reads the index in order
///   instead of sorting every row, and `WHERE label = value` lists rows in path order still
///   (`IN`/`OR` over several values may list them grouped by value: only `ORDER BY` fixes an order);
/// * `label_column(name, col)` — label field name (exact bytes) → its `sample_row` column, so no
///   label name (`rowid`, `Speaker` beside `speaker`, `leaf`) can clash with another column;
/// * `segment_row(path, leaf, seq, start, end, channel, source, labels)` — keyed by (`path`,
///   `leaf`, `seq`), `seq` the segment's position in its sample;
/// * `distribution(id, data)` — commit (hex) → its label distribution (JSON), for `dvs diff`.
///
/// `sqlite_stat1` holds statistics written by ``insert(_:_:)`` (not measured by ANALYZE): the
/// row count, and for the label indexes rows as wide as the table's (`sz=`) and half the rows
/// per value, so SQLite reads a label index only to skip a sort or to find one value's rows —
/// never in place of the path-ordered scan for a plain `SELECT` (whose rows would then come
/// grouped by label).
///
/// Concurrent processes may add to it: every addition is one transaction that re-checks what is
/// present (SQLite's locking, busy timeout 30 s). A crash leaves the last committed state.
public final class SampleIndex: Sendable {
    private let queue: DatabaseQueue
    /// The file's format; a file with another (or none, an older cache) is rebuilt.
    /// Format 5: `confidence` is Deepgram's `alternatives[0].confidence`, `speaker_count` counts
    /// (channel, speaker) pairs, and `mean_word_confidence` is new (older files held the mean
    /// word confidence as `confidence`).
    static let format = 5
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
            ErrorRateFunctions.add(to: db)
            // No memory map: a scan of a label index through it counted the whole file (340 MB at a
            // million samples) as resident and cost more CPU than reading pages (issue 12).
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
                if try db.tableExists("sqlite_stat1") { try db.execute(sql: "DELETE FROM sqlite_stat1") }
                let q = SampleTable.quoted
                try db.execute(
                    sql: """
                        CREATE TABLE leaf (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);
                        CREATE TABLE leaf_field (name TEXT NOT NULL, leaf INTEGER NOT NULL, PRIMARY KEY (name, leaf)) WITHOUT ROWID;
                        CREATE TABLE snapshot (id TEXT PRIMARY KEY, leaves BLOB NOT NULL);
                        CREATE TABLE label_column (name TEXT PRIMARY KEY, col TEXT NOT NULL UNIQUE);
                        CREATE TABLE sample_row (
                            \(SampleTable.fixedColumns.map(q).joined(separator: ", ")), _words, leaf INTEGER NOT NULL,
                            PRIMARY KEY (path, leaf)) WITHOUT ROWID;
                        CREATE TABLE segment_row (
                            path, leaf INTEGER NOT NULL, seq INTEGER NOT NULL, start, "end", channel, source, labels,
                            PRIMARY KEY (path, leaf, seq)) WITHOUT ROWID;
                        CREATE TABLE distribution (id TEXT PRIMARY KEY, data BLOB NOT NULL);
                        ANALYZE;
                        DELETE FROM sqlite_stat1;
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
        for r in try Row.fetchAll(db, sql: "SELECT n, id FROM leaf") {
            if let id = ObjectID(hex: try r.decode(String.self, atIndex: 1)) { leafNumber[id] = try r.decode(atIndex: 0) }
        }
        // Label columns: one internal column per field name, added as new names appear.
        var labelColumn: [String: String] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT name, col FROM label_column") {
            labelColumn[try r.decode(String.self, atIndex: 0)] = try r.decode(String.self, atIndex: 1)
        }
        // Per field name, whether its first value is text (a category, worth an index).
        var firstIsText: [String: Bool] = [:]
        for (_, es) in found.newLeaves {
            for e in es where e.audio != nil {
                for f in e.annotations?.labels ?? [] where firstIsText[f.name] == nil {
                    if case .string = f.value { firstIsText[f.name] = true } else { firstIsText[f.name] = false }
                }
            }
        }
        // Adding more rows than the table holds (a first index): the label indexes are built
        // after the rows, by one sort each, instead of growing row by row.
        let newRows = found.newLeaves.reduce(0) { $0 + $1.1.count }
        var deferredIndexes: [String] = []
        let deferring = try newRows > 1000 && Int64(newRows) > rowCount(db)
        if deferring {
            for r in try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_schema WHERE \(Self.isLabelIndex)") {
                try db.execute(sql: "DROP INDEX \(try r.decode(String.self, atIndex: 0))")
                deferredIndexes.append(try r.decode(String.self, atIndex: 1))
            }
        }
        for name in firstIsText.keys.sorted() where labelColumn[name] == nil {
            let col = "l\(labelColumn.count + 1)"
            try db.execute(sql: "ALTER TABLE sample_row ADD COLUMN \(col)")
            if firstIsText[name] == true {
                let create = "CREATE INDEX sample_row_\(col) ON sample_row (\(col), path, leaf, duration_s)"
                // On a first index there are no label indexes to drop yet: decide by `deferring`.
                if deferring { deferredIndexes.append(create) } else { try db.execute(sql: create) }
            }
            try db.execute(sql: "INSERT INTO label_column (name, col) VALUES (?, ?)", arguments: [name, col])
            labelColumn[name] = col
        }
        let columns = try db.columns(in: "sample_row").map(\.name)
        let position = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, Int32($0 + 1)) })
        let leafParameter = position["leaf"]!
        let wordsParameter = position["_words"]!
        let labelParameter = labelColumn.mapValues { position[$0]! }
        let insert = try db.makeStatement(
            sql:
                "INSERT INTO sample_row (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
        )
        let insertSegment = try db.makeStatement(
            sql: "INSERT INTO segment_row (path, leaf, seq, start, \"end\", channel, source, labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        let insertField = try db.makeStatement(sql: "INSERT OR IGNORE INTO leaf_field (leaf, name) VALUES (?, ?)")
        let s = Binder(insert.sqliteStatement)  // the fixed columns come first: parameters 1…17
        defer { withExtendedLifetime(insert) {} }  // `s` holds its statement handle
        var next = Int64(try Int.fetchOne(db, sql: "SELECT coalesce(max(n), -1) + 1 FROM leaf") ?? 0)
        var added: Int64 = 0
        for i in found.newLeaves.indices {
            let id = found.newLeaves[i].0
            if leafNumber[id] != nil { continue }
            let entries = found.newLeaves[i].1
            found.newLeaves[i].1 = []  // release each leaf's rows once loaded
            try db.execute(sql: "INSERT INTO leaf (n, id) VALUES (?, ?)", arguments: [next, id.hex])
            leafNumber[id] = next
            var fields = Set<String>()
            for e in entries {
                guard let audio = e.audio else { continue }
                s.sampleColumns(e, audio)
                for f in e.annotations?.labels ?? [] {
                    s.value(labelParameter[f.name]!, f.value)
                    fields.insert(f.name)
                }
                if let w = e.annotations?.transcript?.words { s.text(wordsParameter, w.hex) }
                s.int(leafParameter, next)
                try s.step()
                added += 1
                for (seq, seg) in (e.annotations?.segments ?? []).enumerated() {
                    try insertSegment.execute(arguments: [
                        e.path.string, next, seq, seg.start, seg.end, seg.channel, seg.source, SampleQuery.labelsJSON(seg.labels),
                    ])
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
        for create in deferredIndexes { try db.execute(sql: create) }
        try updateStatistics(db, added: added)
    }

    /// The `sqlite_schema` condition that selects the label indexes of `sample_row`.
    private static let isLabelIndex = "type = 'index' AND tbl_name = 'sample_row' AND substr(name, 1, 12) = 'sample_row_l'"

    /// The number of rows in `sample_row`, as the statistics record it (0 before any).
    private func rowCount(_ db: Database) throws -> Int64 {
        guard try db.tableExists("sqlite_stat1") else { return 0 }
        let stat = try String.fetchOne(db, sql: "SELECT stat FROM sqlite_stat1 WHERE tbl = 'sample_row' AND idx = 'sample_row'")
        return stat.flatMap { Int64($0.prefix { $0 != " " }) } ?? 0
    }

    /// Rewrites the statistics of `sample_row` (see the type's description) after `added` rows
    /// were inserted, and makes this connection's planner read them.
    private func updateStatistics(_ db: Database, added: Int64) throws {
        if !(try db.tableExists("sqlite_stat1")) { try db.execute(sql: "ANALYZE main.leaf") }  // creates sqlite_stat1
        let rows = max(1, try rowCount(db) + added)
        let indexes = try String.fetchAll(db, sql: "SELECT name FROM sqlite_schema WHERE \(Self.isLabelIndex)")
        try db.execute(sql: "DELETE FROM sqlite_stat1 WHERE tbl = 'sample_row'")
        try db.execute(sql: "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('sample_row', 'sample_row', ?)", arguments: ["\(rows) 1 1"])
        for name in indexes {
            try db.execute(
                sql: "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('sample_row', ?, ?)",
                arguments: [name, "\(rows) \(max(1, rows / 2)) 1 1 1 sz=10000"])
        }
        try db.execute(sql: "ANALYZE sqlite_schema")
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
                while let r = try cursor.next() {
                    perLeaf[try r.decode(Int32.self, atIndex: 0)] = (
                        try r.decode(Int.self, atIndex: 1), try r.decode(Double?.self, atIndex: 2) ?? 0
                    )
                }
                return perLeaf
            }
        } catch let e as DatabaseError {
            throw SampleQueryError.failed(e.message ?? "\(e)")
        } catch is RowDecodingError {
            throw CatalogError(.corrupt, "the sample index '\(path)' holds a damaged value")
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

    /// Creates the connection's temporary `snap` table (the leaf numbers) and the views
    /// `sample` and `segment` over those leaves' rows (a plain scan lists them in path order; a
    /// query that SQLite answers from a label index may not — only `ORDER BY` fixes an order), and
    /// an empty `word` table.
    /// `sample` has the fixed columns, then one column per label field the leaves carry, sorted
    /// by name, named as `dvs query` names them (``column(forLabel:)``); for an audit, a label
    /// named `_leaf` is `label__leaf` and the view ends with `_leaf`, the row's leaf number.
    /// Two names that differ only in case both appear (SQLite names the second `Name:1`).
    private func prepareViews(_ db: Database, leaves: [Int32], forAudit: Bool) throws {
        dropViews(db)
        try db.execute(sql: "CREATE TEMP TABLE snap (leaf INTEGER PRIMARY KEY)")
        // Tens of thousands of leaves at a million samples: bind through SQLite's C API.
        let statement = try db.makeStatement(sql: "INSERT OR IGNORE INTO temp.snap (leaf) VALUES (?)")
        try withExtendedLifetime(statement) {
            let insert = Binder(statement.sqliteStatement)
            for l in leaves {
                insert.int(1, Int64(l))
                try insert.step()
            }
        }
        var labels: [(name: String, col: String)] = []
        // An audit sees every label column ever indexed (as the audit cache did), so a predicate
        // that compiles for one set of leaves compiles for any other.
        let rows = try Row.fetchAll(
            db,
            sql: forAudit
                ? "SELECT name, col FROM label_column"
                : "SELECT c.name, c.col FROM label_column c WHERE EXISTS (SELECT 1 FROM leaf_field f WHERE f.name = c.name AND f.leaf IN temp.snap)"
        )
        for r in rows { labels.append((try r.decode(String.self, atIndex: 0), try r.decode(String.self, atIndex: 1))) }
        labels.sort { $0.name < $1.name }
        let q = SampleTable.quoted
        // SQLite compares column names ignoring case: `_Leaf` would take `_leaf`'s place.
        func alias(_ name: String) -> String { forAudit && name.lowercased() == "_leaf" ? "label_" + name : Self.column(forLabel: name) }
        let columns =
            SampleTable.fixedColumns.map { "s." + q($0) } + labels.map { "s.\($0.col) AS \(q(alias($0.name)))" }
            + (forAudit ? ["s.leaf AS _leaf"] : [])
        let inSnapshot = "s.leaf IN (SELECT leaf FROM temp.snap)"
        try db.execute(
            sql: """
                CREATE TEMP VIEW sample AS SELECT \(columns.joined(separator: ", ")) FROM main.sample_row s WHERE \(inSnapshot);
                CREATE TEMP VIEW segment AS SELECT s.path, s.start, s."end", s.channel, s.source, s.labels FROM main.segment_row s WHERE \(inSnapshot);
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
    ///   - timeLimit: seconds the statement may run (from its first step; setting up the views and
    ///     words is not counted) before it is stopped; nil: no limit.
    /// - Throws: `SampleQueryError.invalidStatement` (does not compile), `.writes` (`allows`
    ///   said no), `.failed` (SQLite failed while running, or ran past `timeLimit`);
    ///   `CatalogError.notFound` when the snapshot is not indexed; errors `words` throws.
    /// - Complexity: O(leaves of the snapshot) to set up, then SQLite's own cost over its rows.
    public func run(
        _ sql: String, snapshot: CommitID, includeWords: Bool, words: (ObjectID) throws -> [TranscriptWord],
        allows: (_ isReadOnly: Bool) -> Bool, timeLimit: Double? = nil
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
                if includeWords {
                    let insertWord = try db.makeStatement(sql: "INSERT INTO temp.word VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                    let rows = try Row.fetchAll(
                        db,
                        sql:
                            "SELECT s.path, s._words FROM main.sample_row s WHERE s.leaf IN (SELECT leaf FROM temp.snap) AND s._words IS NOT NULL"
                    )
                    for r in rows {
                        guard let id = ObjectID(hex: try r.decode(String.self, atIndex: 1)) else { continue }
                        let path = try r.decode(String.self, atIndex: 0)
                        for (i, w) in try words(id).enumerated() {
                            try insertWord.execute(arguments: [path, w.channel, i, w.text, w.start, w.end, w.confidence, w.speaker])
                        }
                    }
                }
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                // The limit covers the statement only (not the set-up above, which is bounded by
                // the snapshot): SQLite's progress handler, called every 1,000 virtual-machine
                // instructions while it runs, stops it once the deadline has passed
                // (https://sqlite.org/c3ref/progress_handler.html), so no interrupt can land
                // before the statement starts or after it ends.
                let deadline = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
                defer { deadline.deallocate() }
                if let timeLimit {
                    deadline.pointee = DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, min(timeLimit, 1e9)) * 1e9)
                    sqlite3_progress_handler(
                        db.sqliteConnection, 1000,
                        { context in
                            guard let at = context?.assumingMemoryBound(to: UInt64.self).pointee else { return 0 }
                            return DispatchTime.now().uptimeNanoseconds >= at ? 1 : 0
                        }, deadline)
                }
                defer { if timeLimit != nil { sqlite3_progress_handler(db.sqliteConnection, 0, nil, nil) } }
                do { return try SampleQuery.runStatement(sql, in: db, allows: allows) } catch SampleQueryError.invalidStatement(let m)
                    where m.contains("because it is a view") || m.contains("use DROP VIEW")
                {
                    // The tables are views here: a statement that writes to them fails to compile.
                    throw SampleQueryError.writes
                }
            }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_INTERRUPT && timeLimit != nil {
            throw SampleQueryError.failed("the statement ran past its time limit of \(timeLimit ?? 0) s")
        } catch let e as DatabaseError {
            throw SampleQueryError.failed(e.message ?? "\(e)")
        } catch is RowDecodingError {
            throw CatalogError(.corrupt, "the sample index '\(path)' holds a damaged value")
        }
    }
}
