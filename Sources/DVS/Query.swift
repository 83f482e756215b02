import DVSCore
import Foundation
import GRDB
import GRDBSQLite

/// The result of `Repository.query`: column names and rows of SQLite values.
public struct QueryResult: Sendable {
    /// Column names, in the statement's order.
    public var columns: [String]
    /// Rows; each value is `.null`, `.int`, `.double` or `.string` (blobs become lower-case hex strings).
    public var rows: [[LabelValue]]
}

/// Fixed columns of the `sample` table; a label with one of these names is exposed as `label_<name>`.
public let sampleTableColumns = [
    "path", "sha256", "bytes", "format", "encoding", "sample_rate", "channels", "frames", "duration_s",
    "peak", "silent_channels", "transcript", "language", "confidence", "word_count", "speaker_count",
]

extension Repository {
    /// Runs one read-only SQL statement (SQLite dialect) over a revision's samples.
    ///
    /// Tables, built in an in-memory SQLite database for the snapshot:
    /// * `sample` — one row per sample: `path`, `sha256`, `bytes`, `format` (container), `encoding`,
    ///   `sample_rate` (Hz), `channels`, `frames`, `duration_s`, `peak` (0…1, loudest channel),
    ///   `silent_channels` (count), `transcript`, `language`, `confidence`, `word_count`,
    ///   `speaker_count`, then one column per label field (typed as stored; a name that clashes with
    ///   a fixed column gets a `label_` prefix).
    /// * `segment` — `path`, `start`, `end` (s), `channel`, `source`, `labels` (JSON object; use
    ///   `json_extract(labels, '$.speaker')`).
    /// * `word` — `path`, `channel`, `idx`, `word`, `start`, `end` (s), `confidence`, `speaker`;
    ///   built only when the statement mentions `word`.
    /// - Parameters:
    ///   - revision: a revision; nil means HEAD.
    ///   - sql: exactly one statement.
    /// - Throws: `DVSError.badInput` for SQL that does not parse, that writes (refused before it runs), or
    ///   that holds more than one statement; `.unknownRevision`; `.corrupt`.
    public func query(_ sql: String, at revision: String? = nil) throws -> QueryResult {
        if revision == nil, try headCommit() == nil {
            throw DVSError(.unknownRevision, "HEAD has no commits yet", hint: "commit first, or pass --rev")
        }
        return try query(sql, entries: self.entries(at: revision ?? "HEAD"))
    }

    /// Runs one read-only statement over the samples of `entries` (a snapshot), as `query(_:at:)`.
    /// - Throws: as `query(_:at:)`.
    /// Whether `sql` is `PRAGMA name(arg)` or `PRAGMA name` for a pragma that only reads the
    /// schema (table_info, table_xinfo, table_list, index_list, index_info, index_xinfo).
    static func isSchemaPragma(_ sql: String) -> Bool {
        var rest = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        if rest.hasSuffix(";") { rest.removeLast() }
        guard rest.uppercased().hasPrefix("PRAGMA"), !rest.contains("=") else { return false }
        let body = rest.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let name = body.prefix { $0.isLetter || $0 == "_" }.lowercased()
        let tail = body.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
        guard tail.isEmpty || (tail.hasPrefix("(") && tail.hasSuffix(")") && !tail.dropFirst().dropLast().contains { "();".contains($0) })
        else { return false }
        return ["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo"].contains(name)
    }

    func query(_ sql: String, entries: [ManifestEntry]) throws -> QueryResult {
        let wantsWords = sql.range(of: "word", options: .caseInsensitive) != nil
        do {
            let db = try DatabaseQueue()
            try db.write { db in try populate(db, entries, words: wantsWords) }
            return try db.read { db in
                try db.execute(sql: "PRAGMA query_only = ON")
                let statement: Statement
                do { statement = try db.makeStatement(sql: sql) } catch let e as DatabaseError {
                    let message = (e.message ?? "\(e)").hasPrefix("Multiple statements") ? "more than one statement" : e.message ?? "\(e)"
                    throw DVSError(
                        .badInput, "SQL error: \(message)",
                        hint: "tables: sample(\(sampleTableColumns.joined(separator: ", ")), <labels>), segment, word; one statement")
                }
                // ATTACH creates files and PRAGMA changes the connection, yet SQLite calls both
                // read-only; only the schema-reading pragmas (`PRAGMA table_info(sample)`) pass.
                let first = Self.firstKeyword(sql)
                let schemaPragma = first == "PRAGMA" && Self.isSchemaPragma(sql)
                guard statement.isReadonly || schemaPragma, !["ATTACH", "DETACH"].contains(first), first != "PRAGMA" || schemaPragma else {
                    throw DVSError(
                        .badInput, "refusing a statement that writes: dvs query is read-only",
                        hint:
                            "use SELECT (or WITH … SELECT); labels change by editing the label files and committing; columns: PRAGMA table_info(sample)"
                    )
                }
                let columns = statement.columnNames
                var rows: [[LabelValue]] = []
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    rows.append(
                        (0..<columns.count).map { i in
                            switch row[i] as DatabaseValue? {
                            case .none: return .null
                            case .some(let v):
                                switch v.storage {
                                case .null: return .null
                                case .int64(let x): return .int(x)
                                case .double(let x): return .double(x)
                                case .string(let s): return .string(s)
                                case .blob(let b): return .string(b.map { String(format: "%02x", $0) }.joined())
                                }
                            }
                        })
                }
                return QueryResult(columns: columns, rows: rows)
            }
        } catch let e as DVSError { throw e } catch let e as DatabaseError {
            throw DVSError(
                .badInput, "SQL error: \(e.message ?? "\(e)")",
                hint: "check the statement against the tables described in 'dvs query --help'")
        } catch { throw DVSError.wrap(error) }
    }

    /// Whether `expression` stands alone inside `WHERE (…)`: no `;`, and parentheses that
    /// balance and never close more than they opened, outside string literals, quoted names and
    /// comments. (`1) OR (1` does not.)
    static func isStandaloneExpression(_ expression: String) -> Bool {
        var depth = 0
        var quote: Character?
        var chars = Array(expression)[...]
        while let c = chars.popFirst() {
            if let q = quote {
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "'", "\"", "`": quote = c
            case "[": quote = "]"
            case "-" where chars.first == "-": while let x = chars.popFirst(), x != "\n" {}
            case "/" where chars.first == "*":
                chars = chars.dropFirst()
                while let x = chars.popFirst() {
                    if x == "*", chars.first == "/" {
                        chars = chars.dropFirst()
                        break
                    }
                }
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth < 0 { return false }
            case ";": return false
            default: break
            }
        }
        return depth == 0 && quote == nil
    }

    /// The statement's first keyword, upper-cased, after whitespace and SQL comments.
    static func firstKeyword(_ sql: String) -> String {
        var s = Substring(sql)
        while true {
            s = s.drop { $0.isWhitespace || $0 == "(" }
            if s.hasPrefix("--") {
                s = s.drop { $0 != "\n" }
                continue
            }
            if s.hasPrefix("/*") {
                if let r = s.range(of: "*/") {
                    s = s[r.upperBound...]
                    continue
                } else {
                    return ""
                }
            }
            break
        }
        return String(s.prefix { $0.isLetter }).uppercased()
    }

    private func populate(_ db: Database, _ entries: [ManifestEntry], words: Bool) throws {
        // Label columns: every field name seen, in first-seen order of sorted names.
        var labelNames = Set<String>()
        for e in entries where e.audio != nil { for f in e.annotations?.labels ?? [] { labelNames.insert(f.name) } }
        let fixed = Set(sampleTableColumns)
        let labels = labelNames.sorted()
        let columnOf = Dictionary(uniqueKeysWithValues: labels.map { ($0, fixed.contains($0) ? "label_" + $0 : $0) })
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let cols = sampleTableColumns.map(q) + labels.map { q(columnOf[$0]!) }
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
        let fixedCount = Int32(sampleTableColumns.count)
        for e in entries {
            guard let a = e.audio else { continue }
            let n = e.annotations
            let t = n?.transcript
            let s = Binder(insert.sqliteStatement)
            s.sampleColumns(e, a)
            for f in n?.labels ?? [] { s.value(fixedCount + 1 + Int32(labelIndex[f.name]!), f.value) }
            try s.step(db)
            for seg in n?.segments ?? [] {
                var o: [String: Any] = [:]
                for f in seg.labels { o[f.name] = jsonValue(f.value) }
                let json =
                    (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
                    ?? "{}"
                try insertSegment.execute(arguments: [e.path.string, seg.start, seg.end, seg.channel, seg.source, json])
            }
            if words, let id = t?.words {
                for (i, w) in try self.words(id).enumerated() {
                    try insertWord.execute(arguments: [e.path.string, w.channel, i, w.text, w.start, w.end, w.confidence, w.speaker])
                }
            }
        }
    }
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
    /// Binds the fixed columns of the `sample` table (`sampleTableColumns`, parameters 1…16).
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
        }
    }

    func step(_ db: Database) throws {
        defer {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
        }
        guard sqlite3_step(s) == SQLITE_DONE else {
            throw DVSError(.internal, "cannot load the sample table: \(String(cString: sqlite3_errmsg(sqlite3_db_handle(s))))")
        }
    }
}

/// SQLite's SQLITE_TRANSIENT destructor (copy the bytes now), which Swift cannot import as a macro.
// named after the C macro it stands for.
// swift-format-ignore: AlwaysUseLowerCamelCase
private let SQLITE_TRANSIENT_ = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

private func databaseValue(_ v: LabelValue) -> DatabaseValueConvertible? {
    switch v {
    case .null: return nil
    case .bool(let b): return b ? 1 : 0
    case .int(let i): return i
    case .double(let d): return d
    case .string(let s): return s
    }
}
