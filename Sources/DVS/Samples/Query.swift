import DVSCatalog
import DVSCore
import Foundation

/// The result of `Repository.query`: column names and rows of SQLite values.
public struct QueryResult: Sendable {
    /// Column names, in the statement's order.
    public var columns: [String]
    /// Rows; each value is `.null`, `.int`, `.double` or `.string` (blobs become lower-case hex strings).
    public var rows: [[LabelValue]]
}

/// Fixed columns of the `sample` table; a label with one of these names is exposed as `label_<name>`.
public let sampleTableColumns = SampleTable.fixedColumns

extension Repository {
    /// Runs one read-only SQL statement (SQLite dialect) over a revision's samples.
    ///
    /// Tables, views over the snapshot's rows in the sample index (`.dvs/cache/samples.sqlite`,
    /// `SampleIndex`; the first query on a commit loads only the manifest leaves no indexed
    /// snapshot shares, so a commit whose parent was queried costs only what it changed):
    /// * `sample` — one row per sample: `path`, `sha256`, `bytes`, `format` (container), `encoding`,
    ///   `sample_rate` (Hz), `channels`, `frames`, `duration_s`, `peak` (0…1, loudest channel),
    ///   `silent_channels` (count), `transcript`, `language`, `confidence` (Deepgram's
    ///   `alternatives[0].confidence`), `word_count`, `speaker_count` (channel/speaker pairs),
    ///   `mean_word_confidence`, then one column per label field (typed as stored; a name that
    ///   clashes with a fixed column gets a `label_` prefix). The SQL functions `wer(reference,
    ///   hypothesis)` and `cer(reference, hypothesis)` give word and character error rates.
    /// * `segment` — `path`, `start`, `end` (s), `channel`, `source`, `labels` (JSON object; use
    ///   `json_extract(labels, '$.speaker')`).
    /// * `word` — `path`, `channel`, `idx`, `word`, `start`, `end` (s), `confidence`, `speaker`;
    ///   built only when the statement mentions `word`.
    ///
    /// A comparison of a label column that holds only text with a number (`score >= 0.5` on a CSV
    /// column without a declared type) runs as SQLite defines it, true for every row or none, with
    /// a warning to `context.notice` that names the column and the fix (`numberComparisons(in:)`).
    /// - Parameters:
    ///   - revision: a revision; nil means HEAD.
    ///   - sql: exactly one statement.
    ///   - timeLimit: seconds after which the statement is stopped (`dvs serve`); nil: no limit.
    /// - Throws: `DVSError.badInput` for SQL that does not parse, that writes (refused before it runs),
    ///   that holds more than one statement, or that runs past `timeLimit`; `.unknownRevision`; `.corrupt`.
    public func query(_ sql: String, at revision: Revision? = nil, timeLimit: Double? = nil) throws -> QueryResult {
        if revision == nil, try headCommit() == nil {
            throw DVSError(.unknownRevision, "HEAD has no commits yet", next: .commitFirstOrPassRevision)
        }
        let id = try resolve(revision ?? .head)
        let index = try openSampleIndex()
        try self.index(index, snapshots: [id])
        // The sample table's columns past the fixed ones (in the table's order), for a hint.
        let labelFields = { () -> [String]? in
            guard
                let r = try? index.run(
                    "SELECT name FROM pragma_table_info('sample')", snapshot: id, includeWords: false, words: { _ in [] },
                    allows: { _ in true }, timeLimit: timeLimit)
            else { return nil }
            return r.rows.compactMap { row in
                guard case .string(let name) = row.first, !sampleTableColumns.contains(name) else { return nil }
                return name
            }
        }
        let result = try runQuery(sql, labelFields: labelFields) { allows, wantsWords in
            do {
                return try index.run(
                    sql, snapshot: id, includeWords: wantsWords, words: { try self.words($0) }, allows: allows, timeLimit: timeLimit)
            } catch let e as CatalogError { throw sampleIndexError(e) }
        }
        warnTextComparedWithNumber(sql) { column in
            // `column` is letters, digits and `_` (the scan's pattern), so it is safe inside the quotes.
            // Label columns only (the fixed ones are typed); one statement per column: its name as
            // the table spells it (SQLite's names are case-insensitive), whether any value is text
            // and whether any is a number. A name that is no column fails: no warning.
            guard !sampleTableColumns.contains(column.lowercased()) else { return nil }
            let probe = """
                SELECT (SELECT name FROM pragma_table_info('sample') WHERE name = '\(column)' COLLATE NOCASE),
                EXISTS (SELECT 1 FROM sample WHERE typeof("\(column)") = 'text'),
                EXISTS (SELECT 1 FROM sample WHERE typeof("\(column)") IN ('integer', 'real'))
                """
            guard
                let row = try? index.run(probe, snapshot: id, includeWords: false, words: { _ in [] }, allows: { $0 }, timeLimit: timeLimit)
                    .rows.first, row.count == 3, case .string(let name) = row[0], case .int(1) = row[1], case .int(0) = row[2]
            else { return nil }
            return name
        }
        return result
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
        var entries = entries
        try recountSpeakers(&entries)
        let labelFields = { () -> [String]? in Self.labelColumns(of: entries) }
        let result = try runQuery(sql, labelFields: labelFields) { allows, wantsWords in
            try SampleQuery.run(sql, entries: entries, includeWords: wantsWords, words: { try self.words($0) }, allows: allows)
        }
        return result
    }

    /// Writes a warning to `context.notice` for each column `sql` compares with a number literal
    /// (`Self.numberComparisons`) that holds only text in this snapshot, as `holdsText` names it
    /// (nil: it does not, or it is no column): a label column read from a CSV file without a
    /// declared type. SQLite orders every text value after every number and never finds one equal
    /// to a number (https://sqlite.org/datatype3.html §4.1), so such a condition is true for every
    /// sample or for none.
    func warnTextComparedWithNumber(_ sql: String, holdsText: (String) throws -> String?) {
        guard let notice = context.notice else { return }
        for c in Self.numberComparisons(in: sql) {
            guard let column = (try? holdsText(c.column)) ?? nil else { continue }
            notice("warning: " + Self.textComparedWithNumber(column: column, text: c.text))
        }
    }

    /// What is wrong with comparing `column` (which holds only text) with a number in `text`,
    /// and the two ways to mend it: a CAST, or the label field's type declared in `dvs.toml`
    /// (the field is the column without the `label_` a clash with a fixed column adds).
    static func textComparedWithNumber(column: String, text: String) -> String {
        let field =
            column.hasPrefix("label_") && sampleTableColumns.contains(String(column.dropFirst(6))) ? String(column.dropFirst(6)) : column
        return
            "column '\(column)' holds only text, so \(text) compares text with a number, which SQLite orders after every number and never finds equal to one: it is true for every sample or for none. Write CAST(\(column) AS REAL), or give the field a type in dvs.toml (under its file's [[labels.table]]: [labels.table.types] \(field) = \"float\")"
    }

    /// The comparisons `predicate` makes between a label column that holds only text in the
    /// samples of `entries` (at least one value, all of them text) and a number literal, with the
    /// column as the snapshot names it.
    func textComparedWithNumber(_ predicate: String, entries: [ManifestEntry]) -> [(column: String, text: String)] {
        let found = Self.numberComparisons(in: predicate).filter { !sampleTableColumns.contains($0.column.lowercased()) }
        guard !found.isEmpty else { return [] }
        let wanted = Set(found.map { $0.column.lowercased() })
        var seen: [String: (name: String, text: Bool, number: Bool)] = [:]  // lower-cased column
        for e in entries where e.audio != nil {
            for f in e.annotations?.labels ?? [] {
                let column = SampleIndex.column(forLabel: f.name)
                let key = column.lowercased()
                guard wanted.contains(key) else { continue }
                var s = seen[key] ?? (column, false, false)
                switch f.value {
                case .string: s.text = true
                case .int, .double, .bool: s.number = true
                case .null: break
                }
                seen[key] = s
            }
        }
        return found.compactMap { c in
            guard let s = seen[c.column.lowercased()], s.text, !s.number else { return nil }
            return (s.name, c.text)
        }
    }

    /// The columns of `sample` that `sql` compares with a number literal by `<`, `<=`, `>`, `>=`,
    /// `=`, `==`, `!=`, `<>`, `BETWEEN … AND …` or `IN (`, each once, with the comparison's text.
    /// A scan, not a parse: string literals and comments are skipped; names may be quoted
    /// (`"score"`, `` `score` ``, `[score]`) or qualified by `sample.` (another qualifier names
    /// another table's column: left out); a name or number next to arithmetic (`1.0 * score`,
    /// `score + 1`), a function's name and SQL keywords are left out.
    static func numberComparisons(in sql: String) -> [(column: String, text: String)] {
        // String literals and comments blanked in UTF-16 units (the regex's ranges), so nothing
        // in them is matched and every range still points into `sql`.
        let units = Array(sql.utf16)
        var blanked = units
        let quote: UInt16 = 39
        let dash: UInt16 = 45
        let slash: UInt16 = 47
        let star: UInt16 = 42
        let newline: UInt16 = 10
        let space: UInt16 = 32
        var i = 0
        while i < units.count {
            let c = units[i]
            if c == quote {
                i += 1
                while i < units.count, units[i] != quote {
                    blanked[i] = space
                    i += 1
                }
            } else if c == dash, i + 1 < units.count, units[i + 1] == dash {
                while i < units.count, units[i] != newline {
                    blanked[i] = space
                    i += 1
                }
            } else if c == slash, i + 1 < units.count, units[i + 1] == star {
                blanked[i] = space
                blanked[i + 1] = space
                i += 2
                while i < units.count, !(units[i] == star && i + 1 < units.count && units[i + 1] == slash) {
                    if units[i] != newline { blanked[i] = space }
                    i += 1
                }
                if i < units.count { blanked[i] = space }
                if i + 1 < units.count { blanked[i + 1] = space }
                i += 1
            }
            i += 1
        }
        let text = String(decoding: blanked, as: UTF16.self)
        let ident = "[A-Za-z_][A-Za-z0-9_]*"
        let name = "(?:(" + ident + #")\.)?(?:"("# + ident + #")"|`("# + ident + #")`|\[("# + ident + #")\]|("# + ident + "))"
        let number = #"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"#
        let op = #"\s*(?:<=|>=|<>|!=|==|=|<|>)\s*"#
        // Not inside a longer name or number, and not an operand of arithmetic or concatenation.
        let start = #"(?<![A-Za-z0-9_."`\]])(?<![-+*/%|]\s{0,8})"#
        let end = #"(?![A-Za-z0-9_.]|\s*[-+*/%|(])"#
        let patterns = [
            start + name + op + number + end,
            start + number + op + name + end,
            start + name + #"\s+(?:NOT\s+)?BETWEEN\s+"# + number + #"\s+AND\s+"# + number + end,
            start + name + #"\s+(?:NOT\s+)?IN\s*\(\s*"# + number + #"(?![A-Za-z0-9_.])"#,
        ]
        var found: [(column: String, text: String)] = []
        let ns = text as NSString
        let keywords: Set<String> = [
            "AND", "OR", "NOT", "WHERE", "SELECT", "CAST", "AS", "REAL", "INTEGER", "NUMERIC", "LIMIT", "OFFSET", "CASE", "WHEN",
            "THEN", "ELSE", "END", "IS", "NULL", "LIKE", "GLOB", "IN", "BETWEEN", "ESCAPE", "DISTINCT", "EXISTS", "TRUE", "FALSE",
        ]
        for (index, p) in patterns.enumerated() {
            guard let re = try? NSRegularExpression(pattern: p, options: [.caseInsensitive]) else { continue }
            for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
                if m.range(at: 1).location != NSNotFound, ns.substring(with: m.range(at: 1)).lowercased() != "sample" { continue }
                guard let group = (2...5).first(where: { m.range(at: $0).location != NSNotFound }) else { continue }
                let column = ns.substring(with: m.range(at: group))
                guard !keywords.contains(column.uppercased()), !found.contains(where: { $0.column.lowercased() == column.lowercased() })
                else { continue }
                let said = (sql as NSString).substring(with: m.range)
                found.append((column, index == 3 ? said + ", …)" : said))
            }
        }
        return found
    }

    /// The sample table's label columns for `entries`, sorted: each label field they carry, under
    /// the name the table gives it (``SampleIndex/column(forLabel:)``: `label_` before a field
    /// named as a fixed column). O(entries · fields); for error hints.
    static func labelColumns(of entries: [ManifestEntry]) -> [String] {
        var fields = Set<String>()
        for e in entries { for f in e.annotations?.labels ?? [] { fields.insert(SampleIndex.column(forLabel: f.name)) } }
        return fields.sorted()
    }

    /// Runs `sql` through `run` (given the statement check and whether the `word` table is
    /// wanted), mapping SQL failures to user errors. `labelFields` names the sample table's label
    /// columns (nil when they cannot be read), read only for the hint of a statement that does
    /// not compile.
    private func runQuery(
        _ sql: String, labelFields: () -> [String]?, _ run: (_ allows: (Bool) -> Bool, _ wantsWords: Bool) throws -> SampleQueryResult
    ) throws -> QueryResult {
        let wantsWords = sql.range(of: "word", options: .caseInsensitive) != nil
        // ATTACH creates files and PRAGMA changes the connection, yet SQLite calls both
        // read-only; only the schema-reading pragmas (`PRAGMA table_info(sample)`) pass.
        let first = Self.firstKeyword(sql)
        let schemaPragma = first == "PRAGMA" && Self.isSchemaPragma(sql)
        do {
            let allows = { (isReadOnly: Bool) in
                (isReadOnly || schemaPragma) && !["ATTACH", "DETACH"].contains(first) && (first != "PRAGMA" || schemaPragma)
            }
            let result = try run(allows, wantsWords)
            return QueryResult(columns: result.columns, rows: result.rows)
        } catch SampleQueryError.invalidStatement(let message) {
            let labels: String
            switch labelFields() {
            case nil: labels = "then a column per label field"
            case let fields? where fields.isEmpty: labels = "and no label field"
            case let fields?:
                let shown = fields.prefix(20).joined(separator: ", ")
                labels = "then the label fields \(shown)\(fields.count > 20 ? " and \(fields.count - 20) more" : "")"
            }
            throw DVSError(
                .badInput, "SQL error: \(message)",
                hint:
                    "tables: sample(\(sampleTableColumns.joined(separator: ", ")), \(labels)), segment, word; one statement; PRAGMA table_info(sample) lists the columns"
            )
        } catch SampleQueryError.writes {
            throw DVSError(
                .badInput, "refusing a statement that writes: dvs query is read-only",
                hint:
                    "use SELECT (or WITH … SELECT); labels change by editing the label files and committing; columns: PRAGMA table_info(sample)"
            )
        } catch SampleQueryError.failed(let message) {
            throw DVSError(
                .badInput, "SQL error: \(message)", next: .checkQueryStatement)
        } catch { throw DVSError.wrap(error) }
    }

    /// Whether `expression` stands alone inside `WHERE (…)`: no `;`, and parentheses that
    /// balance and never close more than they opened, outside string literals, quoted names and
    /// comments. (`1) OR (1` does not.)
    public static func isStandaloneExpression(_ expression: String) -> Bool {
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
}
