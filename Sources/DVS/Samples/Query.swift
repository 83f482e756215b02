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
            // A name that is no column of `sample` (an alias, another table's) fails: no warning.
            let probe = "SELECT 1 FROM sample WHERE typeof(\"\(column)\") = 'text' LIMIT 1"
            let rows = try? index.run(probe, snapshot: id, includeWords: false, words: { _ in [] }, allows: { $0 }, timeLimit: nil).rows
            return rows?.isEmpty == false
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
        warnTextComparedWithNumber(sql) { column in
            entries.contains { e in
                e.annotations?.labels.contains { f in
                    if case .string = f.value { return SampleIndex.column(forLabel: f.name) == column }
                    return false
                } ?? false
            }
        }
        return result
    }

    /// Writes a warning to `context.notice` for each column `sql` compares with a number literal
    /// (`score >= 0.5`, `0.5 < score`, `score BETWEEN 0.2 AND 0.8`) that `holdsText` says holds
    /// text in this snapshot: a label column read from a CSV file without a declared type. SQLite
    /// orders every text value after every number (https://sqlite.org/datatype3.html §4.1), so
    /// such a condition is true (or false) for every row whatever the values, silently.
    func warnTextComparedWithNumber(_ sql: String, holdsText: (String) throws -> Bool) {
        guard let notice = context.notice else { return }
        for (column, text) in Self.numberComparisons(in: sql) where (try? holdsText(column)) == true {
            notice(
                "warning: column '\(column)' holds text, so \(text) compares text with a number; SQLite orders all text after all numbers, so it does not compare values. Write CAST(\(column) AS REAL), or give the column a type in dvs.toml (under the file's [[labels.table]]: [labels.table.types] \(column) = \"float\")"
            )
        }
    }

    /// The columns `sql` compares with a number literal by `<`, `<=`, `>`, `>=` or `BETWEEN`, each
    /// once, with the comparison's text; string literals are skipped, names may be quoted with `"`
    /// or qualified (`sample.score`).
    static func numberComparisons(in sql: String) -> [(column: String, text: String)] {
        // String literals blanked (same length), so nothing inside one is taken for a comparison.
        var blanked = ""
        var inString = false
        for c in sql {
            if c == "'" { inString.toggle() }
            blanked.append(inString && c != "'" ? " " : c)
        }
        let name = #"(?:[A-Za-z_][A-Za-z0-9_]*\.)?"?([A-Za-z_][A-Za-z0-9_]*)"?"#
        let number = #"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"#
        let patterns = [
            #"(?<![A-Za-z0-9_."])"# + name + #"\s*(?:<=|>=|<|>)\s*"# + number,
            number + #"\s*(?:<=|>=|<|>)\s*"# + name,
            #"(?<![A-Za-z0-9_."])"# + name + #"\s+(?:NOT\s+)?BETWEEN\s+"# + number,
        ]
        var found: [(column: String, text: String)] = []
        let ns = blanked as NSString
        for p in patterns {
            guard let re = try? NSRegularExpression(pattern: p, options: [.caseInsensitive]) else { continue }
            for m in re.matches(in: blanked, range: NSRange(location: 0, length: ns.length)) {
                let column = ns.substring(with: m.range(at: 1))
                let keywords: Set<String> = ["AND", "OR", "NOT", "WHERE", "SELECT", "CAST", "AS", "REAL", "INTEGER", "NUMERIC"]
                guard !keywords.contains(column.uppercased()), !found.contains(where: { $0.column == column }) else { continue }
                found.append((column, (sql as NSString).substring(with: m.range)))
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
