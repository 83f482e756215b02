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
        let result = try runQuery(sql) { allows, wantsWords in
            do {
                return try index.run(
                    sql, snapshot: id, includeWords: wantsWords, words: { try self.words($0) }, allows: allows, timeLimit: timeLimit)
            } catch let e as CatalogError { throw sampleIndexError(e) }
        }
        warnTextComparedWithNumber(sql) { column in
            // SQLite's names are case-insensitive: the column as the table spells it, if any (an
            // alias or another table's name is none: no warning).
            let quoted = column.replacingOccurrences(of: "'", with: "''")
            let named = try? index.run(
                "SELECT name FROM pragma_table_info('sample') WHERE name = '\(quoted)' COLLATE NOCASE", snapshot: id,
                includeWords: false, words: { _ in [] }, allows: { _ in true }, timeLimit: nil
            ).rows.first?.first
            guard case .string(let name)? = named else { return nil }
            let probe = "SELECT 1 FROM sample WHERE typeof(\"\(name)\") = 'text' LIMIT 1"
            let rows = try? index.run(probe, snapshot: id, includeWords: false, words: { _ in [] }, allows: { $0 }, timeLimit: nil).rows
            return rows?.isEmpty == false ? name : nil
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
        let result = try runQuery(sql) { allows, wantsWords in
            try SampleQuery.run(sql, entries: entries, includeWords: wantsWords, words: { try self.words($0) }, allows: allows)
        }
        return result
    }

    /// Writes a warning to `context.notice` for each column `sql` compares with a number literal
    /// (`score >= 0.5`, `0.5 < score`, `score BETWEEN 0.2 AND 0.8`, `speaker = 7`, `score IN (…)`)
    /// that holds text in this snapshot, as `holdsText` names it (nil: it does not, or it is no
    /// column): a label column read from a CSV file without a declared type. SQLite orders every
    /// text value after every number and never finds one equal to a number
    /// (https://sqlite.org/datatype3.html §4.1), so such a condition does not compare values.
    func warnTextComparedWithNumber(_ sql: String, holdsText: (String) throws -> String?) {
        guard let notice = context.notice else { return }
        for c in Self.numberComparisons(in: sql) {
            guard let column = (try? holdsText(c.column)) ?? nil else { continue }
            notice("warning: " + Self.textComparedWithNumber(column: column, text: c.text))
        }
    }

    /// What is wrong with comparing `column` (which holds text) with a number in `text`, and
    /// the two ways to mend it.
    static func textComparedWithNumber(column: String, text: String) -> String {
        "column '\(column)' holds text, so \(text) compares text with a number, which SQLite orders after every number and never finds equal to one: it does not compare values. Write CAST(\(column) AS REAL), or give the column a type in dvs.toml (under the file's [[labels.table]]: [labels.table.types] \(column) = \"float\")"
    }

    /// The comparisons `predicate` makes between a label column that holds text in `entries`
    /// and a number literal, with the column as the snapshot names it.
    func textComparedWithNumber(_ predicate: String, entries: [ManifestEntry]) -> [(column: String, text: String)] {
        let found = Self.numberComparisons(in: predicate)
        guard !found.isEmpty else { return [] }
        var textColumns: [String: String] = [:]  // lower-cased → as named
        for e in entries {
            for f in e.annotations?.labels ?? [] {
                if case .string = f.value {
                    let column = SampleIndex.column(forLabel: f.name)
                    textColumns[column.lowercased()] = column
                }
            }
        }
        return found.compactMap { c in textColumns[c.column.lowercased()].map { ($0, c.text) } }
    }

    /// The columns `sql` compares with a number literal by `<`, `<=`, `>`, `>=`, `=`, `==`,
    /// `!=`, `<>`, `BETWEEN` or `IN (`, each once, with the comparison's text. String literals and
    /// comments are skipped; names may be quoted (`"score"`, `` `score` ``, `[score]`) or qualified
    /// (`sample.score`).
    static func numberComparisons(in sql: String) -> [(column: String, text: String)] {
        // String literals and comments blanked (same length), so nothing in them is matched.
        var blanked = ""
        var chars = Array(sql)[...]
        while let c = chars.popFirst() {
            if c == "'" {
                blanked.append(c)
                while let x = chars.popFirst() {
                    blanked.append(x == "'" ? x : " ")
                    if x == "'" { break }
                }
            } else if c == "-", chars.first == "-" {
                blanked.append(" ")
                while let x = chars.first, x != "\n" {
                    chars = chars.dropFirst()
                    blanked.append(" ")
                }
            } else if c == "/", chars.first == "*" {
                blanked.append(" ")
                while let x = chars.popFirst() {
                    blanked.append(x == "\n" ? x : " ")
                    if x == "*", chars.first == "/" {
                        chars = chars.dropFirst()
                        blanked.append(" ")
                        break
                    }
                }
            } else {
                blanked.append(c)
            }
        }
        let ident = "[A-Za-z_][A-Za-z0-9_]*"
        let name = #"(?:"# + ident + #"\.)?(?:"("# + ident + #")"|`("# + ident + #")`|\[("# + ident + #")\]|("# + ident + "))"
        let number = #"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"#
        let op = #"\s*(?:<=|>=|<>|!=|==|=|<|>)\s*"#
        let before = #"(?<![A-Za-z0-9_."`\]])"#
        let patterns = [
            before + name + op + number + #"(?![A-Za-z0-9_.])"#,
            #"(?<![A-Za-z0-9_.])"# + number + op + name,
            before + name + #"\s+(?:NOT\s+)?BETWEEN\s+"# + number + #"\s+AND\s+"# + number,
            before + name + #"\s+(?:NOT\s+)?IN\s*\(\s*"# + number,
        ]
        var found: [(column: String, text: String)] = []
        let ns = blanked as NSString
        let keywords: Set<String> = ["AND", "OR", "NOT", "WHERE", "SELECT", "CAST", "AS", "REAL", "INTEGER", "NUMERIC", "LIMIT", "OFFSET"]
        for (index, p) in patterns.enumerated() {
            guard let re = try? NSRegularExpression(pattern: p, options: [.caseInsensitive]) else { continue }
            for m in re.matches(in: blanked, range: NSRange(location: 0, length: ns.length)) {
                guard let group = (1...4).first(where: { m.range(at: $0).location != NSNotFound }) else { continue }
                let column = ns.substring(with: m.range(at: group))
                guard !keywords.contains(column.uppercased()), !found.contains(where: { $0.column.lowercased() == column.lowercased() })
                else { continue }
                let text = (sql as NSString).substring(with: m.range)
                found.append((column, index == 3 ? text + ", …)" : text))
            }
        }
        return found
    }

    /// Runs `sql` through `run` (given the statement check and whether the `word` table is
    /// wanted), mapping SQL failures to user errors.
    private func runQuery(
        _ sql: String, _ run: (_ allows: (Bool) -> Bool, _ wantsWords: Bool) throws -> SampleQueryResult
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
            throw DVSError(
                .badInput, "SQL error: \(message)",
                hint:
                    "tables: sample(\(sampleTableColumns.joined(separator: ", ")), then a column per label field), segment, word; one statement; PRAGMA table_info(sample) lists the columns"
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
