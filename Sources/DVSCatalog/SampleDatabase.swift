import DVSCore
import Foundation
import GRDB
import GRDBSQLite

/// The `sample`, `segment` and `word` tables of `dvs query`, cohort predicates and `dvs audit
/// --samples`: their columns and how a snapshot's entries become rows.
public enum SampleTable {
    /// Fixed columns of the `sample` table; a label with one of these names is exposed as `label_<name>`.
    public static let fixedColumns = [
        "path", "sha256", "bytes", "format", "encoding", "sample_rate", "channels", "frames", "duration_s",
        "peak", "silent_channels", "transcript", "language", "confidence", "word_count", "speaker_count",
        "mean_word_confidence",
    ]

    static func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}

/// A failure of SQL the user wrote (a `dvs query` statement, a cohort or audit predicate).
public enum SampleQueryError: Error, Sendable, Equatable {
    /// The statement does not compile: SQLite's message (`more than one statement` for several).
    case invalidStatement(String)
    /// The statement would write (refused before it runs).
    case writes
    /// The statement failed while it ran: SQLite's message.
    case failed(String)
}

/// The result of a sample query: column names and rows.
public struct SampleQueryResult: Sendable {
    /// Column names, in the statement's order.
    public var columns: [String]
    /// Rows; each value is `.null`, `.int`, `.double` or `.string` (blobs become lower-case hex strings).
    public var rows: [[LabelValue]]
}

/// Runs one read-only statement over a snapshot's samples, in a private in-memory SQLite database.
public enum SampleQuery {
    /// Builds `sample`, `segment` and `word` from `entries` and runs `sql` over them.
    ///
    /// - Parameters:
    ///   - entries: the snapshot; entries without audio facts are skipped.
    ///   - includeWords: fill the `word` table (from `words`); it is created empty otherwise.
    ///   - words: the words of a transcript's words object.
    ///   - allows: whether a statement may run, given whether SQLite calls it read-only.
    /// - Throws: `SampleQueryError.invalidStatement` (does not compile), `.writes` (`allows`
    ///   said no), `.failed` (SQLite failed while loading or running); errors `words` throws.
    public static func run(
        _ sql: String, entries: [ManifestEntry], includeWords: Bool, words: (ObjectID) throws -> [TranscriptWord],
        allows: (_ isReadOnly: Bool) -> Bool
    ) throws -> SampleQueryResult {
        do {
            var config = Configuration()
            config.prepareDatabase { db in ErrorRateFunctions.add(to: db) }
            let db = try DatabaseQueue(configuration: config)
            try db.write { db in try populate(db, entries, includeWords: includeWords, words: words) }
            return try db.read { db in
                try db.execute(sql: "PRAGMA query_only = ON")
                return try runStatement(sql, in: db, allows: allows)
            }
        } catch let e as DatabaseError {
            throw SampleQueryError.failed(e.message ?? "\(e)")
        }
    }

    /// Prepares `sql` in `db` (exactly one statement), checks it with `allows`, and runs it.
    /// - Throws: `SampleQueryError.invalidStatement` (does not compile), `.writes` (`allows` said
    ///   no); `DatabaseError` when it fails while running.
    static func runStatement(_ sql: String, in db: Database, allows: (_ isReadOnly: Bool) -> Bool) throws -> SampleQueryResult {
        let statement: Statement
        do { statement = try db.makeStatement(sql: sql) } catch let e as DatabaseError {
            let message = (e.message ?? "\(e)").hasPrefix("Multiple statements") ? "more than one statement" : e.message ?? "\(e)"
            throw SampleQueryError.invalidStatement(message)
        }
        guard allows(statement.isReadonly) else { throw SampleQueryError.writes }
        let columns = statement.columnNames
        var rows: [[LabelValue]] = []
        // Stepped with SQLite's C API, text read by its byte length: GRDB reads text as a C
        // string, which would end a value at an embedded NUL.
        let s = statement.sqliteStatement
        sqlite3_reset(s)
        defer { sqlite3_reset(s) }
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(s))), sql: sql)
            }
            rows.append((0..<Int32(columns.count)).map { columnValue(s, $0) })
        }
        return SampleQueryResult(columns: columns, rows: rows)
    }

    /// Column `i` of the current row of `s` as a label value; text and blobs are read by their
    /// byte length, so that a NUL inside them is kept.
    static func columnValue(_ s: OpaquePointer, _ i: Int32) -> LabelValue {
        switch sqlite3_column_type(s, i) {
        case SQLITE_INTEGER: return .int(sqlite3_column_int64(s, i))
        case SQLITE_FLOAT: return .double(sqlite3_column_double(s, i))
        case SQLITE_TEXT:
            guard let p = sqlite3_column_text(s, i) else { return .string("") }
            let n = Int(sqlite3_column_bytes(s, i))
            return .string(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))
        case SQLITE_BLOB:
            let n = Int(sqlite3_column_bytes(s, i))
            guard n > 0, let p = sqlite3_column_blob(s, i) else { return .string("") }
            let bytes = UnsafeRawBufferPointer(start: p, count: n)
            return .string(bytes.map { String(format: "%02x", $0) }.joined())
        default: return .null
        }
    }

    /// A segment's labels as the `labels` column holds them: a JSON object with sorted keys.
    static func labelsJSON(_ labels: [LabelField]) -> String {
        var o: [String: Any] = [:]
        for f in labels { o[f.name] = jsonValue(f.value) }
        return (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private static func populate(
        _ db: Database, _ entries: [ManifestEntry], includeWords: Bool, words: (ObjectID) throws -> [TranscriptWord]
    ) throws {
        // Label columns: every field name seen, in first-seen order of sorted names.
        var labelNames = Set<String>()
        for e in entries where e.audio != nil { for f in e.annotations?.labels ?? [] { labelNames.insert(f.name) } }
        let fixed = Set(SampleTable.fixedColumns)
        let labels = labelNames.sorted()
        let columnOf = Dictionary(uniqueKeysWithValues: labels.map { ($0, fixed.contains($0) ? "label_" + $0 : $0) })
        let q = SampleTable.quoted
        let cols = SampleTable.fixedColumns.map(q) + labels.map { q(columnOf[$0]!) }
        try db.execute(sql: "CREATE TABLE sample (\(cols.joined(separator: ", ")), PRIMARY KEY(path)) WITHOUT ROWID")
        try db.execute(sql: "CREATE TABLE segment (path, start, \"end\", channel, source, labels)")
        try db.execute(sql: "CREATE TABLE word (path, channel, idx, word, start, \"end\", confidence, speaker)")
        // 100,000 rows must load in well under a second: bind with SQLite's C API (GRDB's
        // StatementArguments cost ~2 µs a value).
        let insert = try db.makeStatement(
            sql: "INSERT INTO sample VALUES (\(Array(repeating: "?", count: cols.count).joined(separator: ", ")))")
        let insertSegment = try db.makeStatement(sql: "INSERT INTO segment VALUES (?, ?, ?, ?, ?, ?)")
        let insertWord = try db.makeStatement(sql: "INSERT INTO word VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        let labelIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        let fixedCount = Int32(SampleTable.fixedColumns.count)
        for e in entries {
            guard let a = e.audio else { continue }
            let n = e.annotations
            let t = n?.transcript
            let s = Binder(insert.sqliteStatement)
            s.sampleColumns(e, a)
            for f in n?.labels ?? [] { s.value(fixedCount + 1 + Int32(labelIndex[f.name]!), f.value) }
            try s.step()
            for seg in n?.segments ?? [] {
                let json = labelsJSON(seg.labels)
                try insertSegment.execute(arguments: [e.path.string, seg.start, seg.end, seg.channel, seg.source, json])
            }
            if includeWords, let id = t?.words {
                for (i, w) in try words(id).enumerated() {
                    try insertWord.execute(arguments: [e.path.string, w.channel, i, w.text, w.start, w.end, w.confidence, w.speaker])
                }
            }
        }
    }

    /// A label value as JSONSerialization takes it.
    static func jsonValue(_ v: LabelValue) -> Any { v.jsonObject }
}

/// Binds one row of a prepared statement through SQLite's C API, steps it and resets it.
struct Binder {
    let s: OpaquePointer
    init(_ s: OpaquePointer) { self.s = s }
    func text(_ i: Int32, _ v: String) {
        _ = v.utf8CString.withUnsafeBufferPointer { sqlite3_bind_text(s, i, $0.baseAddress, Int32($0.count - 1), SQLITE_TRANSIENT_) }
    }
    func int(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(s, i, v) }
    func double(_ i: Int32, _ v: Double) { sqlite3_bind_double(s, i, v) }
    func value(_ i: Int32, _ v: LabelValue) {
        switch v {
        case .null: sqlite3_bind_null(s, i)
        case .bool(let b): int(i, b ? 1 : 0)
        case .int(let x): int(i, x)
        case .double(let d): double(i, d)
        case .string(let t): text(i, t)
        }
    }
    /// Binds the fixed columns of the `sample` table (`SampleTable.fixedColumns`, parameters 1…17).
    func sampleColumns(_ e: ManifestEntry, _ a: AudioFacts) {
        let t = e.annotations?.transcript
        text(1, e.path.string)
        text(2, e.blob.hex)
        int(3, Int64(e.byteCount))
        text(4, a.container)
        text(5, a.encoding)
        int(6, Int64(a.sampleRate))
        int(7, Int64(a.channelCount))
        int(8, Int64(a.frameCount))
        double(9, a.duration)
        if let p = a.peak.max() { double(10, Double(p)) }
        if !a.peak.isEmpty { int(11, Int64(a.silentChannels.count)) }
        if let t {
            text(12, t.text)
            if let l = t.language { text(13, l) }
            if let c = t.confidence { double(14, c) }
            int(15, Int64(t.wordCount))
            int(16, Int64(t.speakerCount))
            if let c = t.meanWordConfidence { double(17, c) }
        }
    }

    /// Steps the bound row, then resets the statement.
    /// - Throws: `CatalogError` with SQLite's message when the row cannot be inserted.
    func step() throws {
        defer {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
        }
        let rc = sqlite3_step(s)
        guard rc == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(s)))
            throw CatalogError(
                CatalogError.code(forSQLiteResult: rc, message: message), "cannot load the sample table: \(message)",
                underlying: SQLiteFailure(resultCode: rc & 0xFF, extendedResultCode: rc, message: message))
        }
    }
}

/// SQLite's SQLITE_TRANSIENT destructor (copy the bytes now), which Swift cannot import as a macro.
// named after the C macro it stands for.
// swift-format-ignore: AlwaysUseLowerCamelCase
private let SQLITE_TRANSIENT_ = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
