import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Run a read-only SQL query (SQLite) over a snapshot's samples, labels and words.",
        discussion: """
            Tables:
              sample   path, sha256, bytes, format, encoding, sample_rate,
                       channels, frames, duration_s, peak, silent_channels,
                       transcript, language, confidence, word_count,
                       speaker_count, mean_word_confidence, then one column per
                       label field (a clash with these names gets a label_
                       prefix); schema/LABELS.md says which Deepgram field each
                       transcript column comes from
              segment  path, start, end, channel, source, labels (JSON:
                       json_extract(labels, '$.speaker'))
              word     path, channel, idx, word, start, end, confidence,
                       speaker (Deepgram words)
            Examples:
              dvs query "SELECT sample_rate, count(*),
                  round(sum(duration_s)/3600, 2) AS hours
                  FROM sample GROUP BY sample_rate"
              dvs query "SELECT label, count(*) FROM sample GROUP BY label"
              dvs query --rev HEAD~1 --format csv
                  "SELECT path, transcript FROM sample WHERE confidence < 0.6"
              dvs query "PRAGMA table_info(sample)"       (the columns)
            Functions: wer(reference, hypothesis) and cer(reference, hypothesis),
            the word and character error rates of 'dvs eval --asr'. The calls
            Deepgram got most wrong against the humans' 'transcription' column:
              dvs query "SELECT path, wer(transcription, transcript) AS wer
                  FROM sample WHERE transcript IS NOT NULL
                  ORDER BY wer DESC LIMIT 20"
            'language' is the language Deepgram detected; a language column of
            your own tables keeps its own name. Statements that write are refused.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Option(help: "The revision to query (default HEAD).") var rev: String?
    @Option(help: "table, csv or json.") var format: OutputFormat = .table
    @Flag(help: "Same as --format json.") var json = false
    @Argument(help: "One SQL statement.") var sql: String

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    func run() throws {
        let (repo, cache) = try source.repository(global, revision: rev ?? "HEAD")
        defer { cache?.close() }
        let r = try repo.query(sql, at: rev.map { Revision($0) })
        switch json ? .json : format {
        case .json:
            Output.out(String(decoding: Self.json(columns: r.columns, rows: r.rows), as: UTF8.self))
        case .csv:
            Output.out(r.columns.map(Self.csvField).joined(separator: ","))
            for row in r.rows { Output.out(row.map { Self.csvField(Self.csvCell($0)) }.joined(separator: ",")) }
        case .table:
            let cells = r.rows.map { $0.map(Self.cell) }
            var widths = r.columns.map(\.count)
            for row in cells { for (i, c) in row.enumerated() { widths[i] = min(60, max(widths[i], c.count)) } }
            func line(_ xs: [String]) -> String {
                xs.enumerated().map { i, x in
                    let t = x.count > widths[i] ? String(x.prefix(widths[i] - 1)) + "…" : x
                    return t.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            }
            Output.out(line(r.columns))
            Output.out(line(widths.map { String(repeating: "-", count: $0) }))
            for row in cells { Output.out(line(row)) }
            let altered = r.rows.contains {
                $0.contains { v in
                    if case .string(let s) = v { return s.count > 60 || s.contains(where: \.isNewline) } else { return false }
                }
            }
            Output.err(
                "(\(r.rows.count) row\(r.rows.count == 1 ? "" : "s")"
                    + (altered ? "; long cells cut with …, line breaks shown as ⏎: use --format csv or json for exact values)" : ")"))
        }
    }

    /// A value for CSV: exact text (quoting keeps newlines), shortest round-tripping numbers.
    static func csvCell(_ v: LabelValue) -> String {
        if case .double(let d) = v { return "\(d)" }
        return v.text
    }

    /// A value for the table view: one line, numbers to 6 significant digits.
    static func cell(_ v: LabelValue) -> String {
        switch v {
        case .null: return ""
        case .double(let d): return String(format: "%.6g", d)
        default: return v.text.replacingOccurrences(of: "\n", with: "⏎")
        }
    }

    /// The rows as a pretty-printed JSON array of objects, keys sorted, as `JSONSerialization`
    /// with ``Output/jsonWritingOptions`` writes them (keys in its order, two-space indent, `"key" : value`, a
    /// double's shortest round-trip text without a trailing `.0`, `/` unescaped; a repeated column
    /// name keeps its first value), written directly: `JSONSerialization` took 2.8 s for 10,000
    /// rows of 20 columns, where this takes a few milliseconds. A NaN or infinite double, which
    /// JSON cannot hold (RFC 8259 §6), is `null` (`JSONSerialization` threw).
    static func json(columns: [String], rows: [[LabelValue]]) -> [UInt8] {
        var first: [String: Int] = [:]
        for (i, c) in columns.enumerated() where first[c] == nil { first[c] = i }
        // JSONSerialization's `.sortedKeys` order: numeric, case-insensitive, then forced
        // (`_a` < `aB` < `B` < `f2` < `f10` < `speaker` < `Total`), not byte order.
        let order = first.sorted { $0.key.compare($1.key, options: [.numeric, .caseInsensitive, .forcedOrdering]) == .orderedAscending }
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * order.count * 24 + 8)
        out.append(UInt8(ascii: "["))
        out.append(0x0A)
        for (n, row) in rows.enumerated() {
            out.append(contentsOf: "  {".utf8)
            for (k, (name, i)) in order.enumerated() {
                out.append(contentsOf: (k == 0 ? "\n    " : ",\n    ").utf8)
                BatchJSON.string(name, into: &out)
                out.append(contentsOf: " : ".utf8)
                switch row[i] {
                case .double(let d) where d.isFinite:
                    var text = d.description
                    if text.hasSuffix(".0") { text.removeLast(2) }
                    out.append(contentsOf: text.utf8)
                case .double: out.append(contentsOf: "null".utf8)
                case let v: BatchJSON.value(v, into: &out)
                }
            }
            out.append(contentsOf: (order.isEmpty ? "\n\n  }" : "\n  }").utf8)
            out.append(contentsOf: (n == rows.count - 1 ? "\n" : ",\n").utf8)
        }
        if rows.isEmpty { out.append(0x0A) }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// RFC 4180 quoting where needed.
    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
