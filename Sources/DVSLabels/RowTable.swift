import DVSCore
import Foundation

/// A label table read as rows that keep their exact bytes, for editing without rewriting what is
/// untouched: the three-way merge of label tables (`RowTable.merge`) and cohort cuts
/// (`RowTable.filtered`).
///
/// CSV/TSV tables and JSON Lines tables are read with the detection rules of `LabelBuilder`
/// (`schema/LABELS.md`): the same key column or key, the same `dvs.toml` declarations. A row's
/// *key* is its audio reference as written plus, when several rows name the same file (segments),
/// its occurrence number (`clips/a.wav#2`). Its *fields* are the other cells by column name (CSV)
/// or the other members with their JSON text as written (JSON Lines).
public struct RowTable: Sendable {
    /// How the table is written.
    public enum Layout: Sendable, Equatable {
        /// Delimited text (RFC 4180 CSV, or `QUOTE_NONE` TSV).
        case delimited(delimiter: UInt8, quoting: CSVReader.Quoting)
        /// One JSON object per line.
        case jsonLines
    }

    /// One record.
    public struct Row: Sendable, Hashable {
        /// The audio reference as written, then `#N` for the N-th (≥ 2) row naming the same file.
        public var key: String
        /// The audio reference as written.
        public var reference: String
        /// Tree paths the reference may mean, in the order `LabelBuilder` tries them (empty
        /// unless `read` was asked to resolve them).
        public var candidates: [RepoPath]
        /// Field name → text: the cell (CSV, unquoted) or the member's JSON text (JSON Lines).
        /// The key field is included.
        public var fields: [String: String]
        /// Field names in the order they are written.
        public var order: [String]
        /// The record's bytes as read, with its line terminator; nil once edited.
        public var raw: [UInt8]?
    }

    /// Tree path.
    public var path: RepoPath
    /// How it is written.
    public var layout: Layout
    /// `LabelTableInfo.format` of the table.
    public var format: String
    /// CSV header names (empty for JSON Lines).
    public var columns: [String]
    /// The field holding the audio reference (`path`, `file_name`, `audio_filepath`, …).
    public var keyField: String
    /// Bytes before the first record (byte order mark, header line).
    public var prefix: [UInt8]
    /// Records in file order.
    public var rows: [Row]
    /// `\n` or `\r\n`: the terminator written after rendered rows (the file's first one).
    public var lineEnd: [UInt8]

    /// Tree paths a reference written in this table may mean, in the order `LabelBuilder` tries
    /// them (the table's folder, its declared base, Common Voice's `clips/`).
    public func candidates(for reference: String, config: LabelConfig = LabelConfig()) -> [RepoPath] {
        let ctx = TableContext(path: path, declaration: config.declaration(for: path.string), config: config)
        return ctx.candidates(reference, kind: TableKind(rawValue: format) ?? .table)
    }

    /// Why a file cannot be edited row by row.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        /// What is wrong, naming the file (and line).
        public var description: String
    }

    /// Reads `bytes` as a row table when `LabelBuilder` would read it as a CSV/TSV or JSON Lines
    /// label table.
    /// - Parameters:
    ///   - path: the file's tree path (its name and folder decide the layout, as at commit).
    ///   - config: the tree's `dvs.toml`, for declarations (key, delimiter, quoting, base).
    ///   - resolving: whether to fill each row's `candidates` (cohort cuts need them; merges do not).
    /// - Returns: nil when the file is not such a table (Label Studio exports, Deepgram responses
    ///   and other JSON documents are whole files to a merge).
    /// - Throws: `Refusal` when it is a table but cannot be read row by row (an unbalanced quote,
    ///   a row with the wrong number of fields, a line that is not a JSON object, no key).
    public static func read(path: RepoPath, bytes: [UInt8], config: LabelConfig = LabelConfig(), resolving: Bool = false) throws(Refusal)
        -> RowTable?
    {
        let name = path.string
        guard !config.isIgnored(name) else { return nil }
        let ctx = TableContext(path: path, declaration: config.declaration(for: name), config: config)
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        if ctx.declaration?.format == TableKind.labelStudio.rawValue { return nil }
        if ext == "csv" || ext == "tsv" || ctx.declaration?.delimiter != nil {
            return try readDelimited(bytes, ctx, resolving)
        }
        guard ext == "jsonl" || (ctx.declaration != nil && ext != "json") else { return nil }
        return try readJSONLines(bytes, ctx, resolving)
    }

    private static func readDelimited(_ bytes: [UInt8], _ ctx: TableContext, _ resolving: Bool) throws(Refusal) -> RowTable? {
        let delimiter = ctx.declaration?.delimiter ?? (ctx.isTSV ? 0x09 : 0x2C)
        let quoting = ctx.declaration?.quoting ?? (delimiter == 0x09 ? .none : .rfc4180)
        let (records, problems) = CSVReader(delimiter: delimiter, quoting: quoting).read(bytes)
        let header = records.first?.fields ?? []
        guard let kind = DelimitedTable.kind(header, ctx) else { return nil }
        if let p = problems.first {
            throw Refusal(description: "\(ctx.file):\(p.line): \(p.message)")
        }
        if let repeated = DelimitedTable.firstRepeatedName(header) {
            throw Refusal(
                description:
                    "\(ctx.file):\(records.first?.line ?? 1): column \(JSONValue.quote(repeated)) appears more than once in the header")
        }
        guard let keyIndex = DelimitedTable.keyColumn(header, kind, ctx) else {
            throw Refusal(description: "\(ctx.file): no \(DelimitedTable.defaultKeyName(kind)) column")
        }
        let first = records.count > 1 ? records[1].byteRange.lowerBound : bytes.count
        var table = RowTable(
            path: ctx.path, layout: .delimited(delimiter: delimiter, quoting: quoting), format: kind.rawValue,
            columns: header, keyField: header[keyIndex], prefix: Array(bytes[0..<first]), rows: [],
            lineEnd: lineEnd(bytes))
        var seen: [String: Int] = [:]
        for (i, r) in records.enumerated().dropFirst() {
            let end = i + 1 < records.count ? records[i + 1].byteRange.lowerBound : bytes.count
            let reference = r.fields[keyIndex]
            let n = seen[reference, default: 0] + 1
            seen[reference] = n
            var fields: [String: String] = [:]
            for (c, v) in zip(header, r.fields) where fields[c] == nil { fields[c] = v }
            table.rows.append(
                Row(
                    key: n == 1 ? reference : "\(reference)#\(n)", reference: reference,
                    candidates: resolving ? ctx.candidates(reference, kind: kind) : [], fields: fields, order: header,
                    raw: Array(bytes[r.byteRange.lowerBound..<end])))
        }
        return table
    }

    private static func readJSONLines(_ bytes: [UInt8], _ ctx: TableContext, _ resolving: Bool) throws(Refusal) -> RowTable? {
        let lines = JSONLinesTable.split(bytes)
        guard let kind = JSONLinesTable.kind(lines, ctx) else { return nil }
        var table = RowTable(
            path: ctx.path, layout: .jsonLines, format: kind.rawValue, columns: [], keyField: "", prefix: [],
            rows: [], lineEnd: lineEnd(bytes))
        var start = 0
        var seen: [String: Int] = [:]
        for (n, value, _) in lines {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            let rawEnd = min(end + 1, bytes.count)
            defer { start = rawEnd }
            guard let object = value?.object, let members = jsonMembers(bytes[start..<end]) else {
                throw Refusal(description: "\(ctx.file):\(n): not a JSON object")
            }
            guard let key = JSONLinesTable.keyName(object, kind, ctx), let reference = object[key]?.string else {
                throw Refusal(description: "\(ctx.file):\(n): no \(DelimitedTable.defaultKeyName(kind)) string")
            }
            if table.keyField.isEmpty { table.keyField = key }
            let c = seen[reference, default: 0] + 1
            seen[reference] = c
            var fields: [String: String] = [:]
            for (k, v) in members { fields[k] = v }
            table.rows.append(
                Row(
                    key: c == 1 ? reference : "\(reference)#\(c)", reference: reference,
                    candidates: resolving ? ctx.candidates(reference, kind: kind) : [], fields: fields, order: members.map(\.0),
                    raw: Array(bytes[start..<rawEnd])))
        }
        return table
    }

    /// The file's first line terminator, `\n` when it has none.
    static func lineEnd(_ bytes: [UInt8]) -> [UInt8] {
        guard let i = bytes.firstIndex(of: 0x0A) else { return [0x0A] }
        return i > 0 && bytes[i - 1] == 0x0D ? [0x0D, 0x0A] : [0x0A]
    }

    /// The members of one JSON object as (name, value text as written, trimmed), in order; nil
    /// when the text is not a single object. Names are decoded from their string literals.
    static func jsonMembers(_ text: ArraySlice<UInt8>) -> [(String, String)]? {
        var out: [(String, String)] = []
        var i = text.startIndex
        let end = text.endIndex
        func skipSpace() { while i < end, [0x20, 0x09, 0x0D, 0x0A].contains(text[i]) { i += 1 } }
        func skipString() -> Bool {
            guard i < end, text[i] == 0x22 else { return false }
            i += 1
            while i < end {
                if text[i] == 0x5C {
                    i += 2
                    continue
                }
                if text[i] == 0x22 {
                    i += 1
                    return true
                }
                i += 1
            }
            return false
        }
        skipSpace()
        guard i < end, text[i] == 0x7B else { return nil }
        i += 1
        skipSpace()
        if i < end, text[i] == 0x7D { return [] }
        while i < end {
            skipSpace()
            let nameStart = i
            guard skipString() else { return nil }
            guard case .string(let name)? = JSONValue.parse(text[nameStart..<i]) else { return nil }
            skipSpace()
            guard i < end, text[i] == 0x3A else { return nil }
            i += 1
            skipSpace()
            let valueStart = i
            var depth = 0
            while i < end {
                let b = text[i]
                if b == 0x22 {
                    guard skipString() else { return nil }
                    continue
                }
                if b == 0x7B || b == 0x5B {
                    depth += 1
                } else if b == 0x7D || b == 0x5D {
                    if depth == 0 { break }
                    depth -= 1
                } else if b == 0x2C && depth == 0 {
                    break
                }
                i += 1
            }
            var valueEnd = i
            while valueEnd > valueStart, [0x20, 0x09, 0x0D, 0x0A].contains(text[valueEnd - 1]) { valueEnd -= 1 }
            out.append((name, String(decoding: text[valueStart..<valueEnd], as: UTF8.self)))
            guard i < end else { return nil }
            if text[i] == 0x7D { return out }
            i += 1
        }
        return nil
    }

    // MARK: Writing

    /// The table's bytes: the prefix, then each row's raw bytes, or the row rendered in the
    /// table's layout when it was edited or came from another version with other columns.
    public func encoded() -> [UInt8] {
        var out = prefix
        if !out.isEmpty, out.last != 0x0A { out += lineEnd }
        let spaced = rows.contains { r in r.raw.map { String(decoding: $0, as: UTF8.self).contains("\": ") } ?? false }
        for r in rows {
            if !out.isEmpty, out.last != 0x0A { out += lineEnd }
            if let raw = r.raw {
                out += raw
                continue
            }
            out += render(r, spaced: spaced) + lineEnd
        }
        return out
    }

    /// One row in the table's layout (no terminator).
    func render(_ r: Row, spaced: Bool) -> [UInt8] {
        switch layout {
        case .delimited(let delimiter, let quoting):
            let cells = columns.map { c -> String in
                let v = r.fields[c] ?? ""
                guard quoting == .rfc4180 else { return v }
                let needs = v.utf8.contains { $0 == delimiter || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
                return needs ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
            }
            return Array(cells.joined(separator: String(UnicodeScalar(delimiter))).utf8)
        case .jsonLines:
            let sep = spaced ? ", " : ","
            let colon = spaced ? ": " : ":"
            var names = r.order.filter { r.fields[$0] != nil }
            for k in r.fields.keys.sorted() where !names.contains(k) { names.append(k) }
            return Array(("{" + names.map { jsonStringLiteral($0) + colon + r.fields[$0]! }.joined(separator: sep) + "}").utf8)
        }
    }

    // MARK: Renames

    /// The table with audio references renamed (`old reference → new reference`), as when the
    /// other side of a merge renamed the files (`schema/MERGE.md` §3). A renamed row's key and
    /// reference field change, and it is rendered again; other rows keep their bytes.
    public func renamingReferences(_ map: [String: String]) -> RowTable {
        guard !map.isEmpty else { return self }
        var t = self
        for i in t.rows.indices {
            let old = t.rows[i].reference
            guard let new = map[old] else { continue }
            t.rows[i].key = new + t.rows[i].key.dropFirst(old.count)
            t.rows[i].reference = new
            switch layout {
            case .delimited: t.rows[i].fields[keyField] = new
            case .jsonLines: t.rows[i].fields[keyField] = jsonStringLiteral(new)
            }
            t.rows[i].raw = nil
            t.rows[i].candidates = []
        }
        return t
    }

    // MARK: Cohort cuts

    /// The table with only the rows `keep` accepts; kept rows keep their bytes.
    public func filtered(_ keep: (Row) -> Bool) -> RowTable {
        var t = self
        t.rows = rows.filter(keep)
        return t
    }
}
