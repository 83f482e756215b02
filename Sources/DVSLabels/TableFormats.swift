import DVSCore
import Foundation

/// The table layouts the builder reads (`LabelTableInfo.format` names).
enum TableKind: String {
    case hfAudiofolder = "hf-audiofolder"
    case nemo
    case commonVoice = "common-voice"
    case commonVoiceDurations = "common-voice-durations"
    case labelStudio = "label-studio"
    case table

    /// Transcript fields checked for newlines.
    var textFields: Set<String> {
        switch self {
        case .hfAudiofolder, .table: return ["transcription", "text", "sentence"]
        case .nemo: return ["text"]
        default: return []
        }
    }
}

/// How one label file is to be read: where it is, its declaration and the config.
struct TableContext {
    let path: RepoPath
    let declaration: LabelConfig.TableDeclaration?
    let config: LabelConfig
    var file: String { path.string }
    var folder: RepoPath? { path.parent }
    var isTSV: Bool { file.lowercased().hasSuffix(".tsv") }

    /// The declared type of a column: the table's, else the schema's.
    func type(of column: String) -> LabelConfig.ValueType? {
        declaration?.types[column] ?? config.fields[column]?.type
    }

    /// Candidate tree paths for a reference, by the declared base or the format's default.
    func candidates(_ reference: String, kind: TableKind) -> [RepoPath] {
        let bases: [RepoPath?]
        if let base = declaration?.base {
            bases = [base.isEmpty ? nil : RepoPath(base)]
        } else {
            switch kind {
            case .hfAudiofolder: bases = [folder]
            case .commonVoice, .commonVoiceDurations: bases = [folder.map { $0.appending(Array("clips".utf8)) } ?? RepoPath("clips")]
            default: bases = folder == nil ? [nil] : [folder, nil]
            }
        }
        var out: [RepoPath] = []
        for b in bases { if let p = joinPath(b, reference), !out.contains(p) { out.append(p) } }
        return out
    }

    func finding(_ s: LabelFinding.Severity, _ code: String, line: Int?, _ message: String, hint: String? = nil) -> LabelFinding {
        LabelFinding(s, code, file: file, line: line, message, hint: hint)
    }
}

/// CSV and TSV label tables: Hugging Face `metadata.csv`, Common Voice TSVs, plain tables.
enum DelimitedTable {
    /// Parses a table; nil when the file is not a label table (no key column and not declared).
    static func parse(_ bytes: [UInt8], _ ctx: TableContext) -> ParsedTable? {
        var rows: [LabelRow] = []
        var table = parse(bytes, ctx) { row, _ in rows.append(row) }
        table?.rows = rows
        return table
    }

    /// Parses a table, handing each row to `row` as it is read (with the table's layout so far:
    /// its format and rules; `rows` stays empty), so a table of a million rows is never held as
    /// rows all at once. Findings are as ``parse(_:_:)`` gives them.
    /// - Returns: nil when the file is not a label table (no key column and not declared).
    static func parse(_ bytes: [UInt8], _ ctx: TableContext, row onRow: (LabelRow, ParsedTable) -> Void) -> ParsedTable? {
        let delimiter = ctx.declaration?.delimiter ?? (ctx.isTSV ? 0x09 : 0x2C)
        let quoting = ctx.declaration?.quoting ?? (delimiter == 0x09 ? .none : .rfc4180)
        var header: (fields: [String], line: Int)?
        var kind: TableKind?
        var table: ParsedTable?
        var key: Int?
        var records = 0
        var rowFindings: [LabelFinding] = []
        let problems = CSVReader(delimiter: delimiter, quoting: quoting).read(bytes) { record in
            records += 1
            guard let header else {
                header = (record.fields, record.line)
                kind = Self.kind(record.fields, ctx)
                table = kind.map(emptyTable)
                // A repeated column name reads no row (below, the table gets its error).
                key = firstRepeatedName(record.fields) != nil ? nil : kind.flatMap { keyColumn(record.fields, $0, ctx) }
                return
            }
            guard let table, let kind, let key else { return }
            if let r = row(record, header: header.fields, key: key, kind: kind, ctx, &rowFindings) { onRow(r, table) }
        }
        if header == nil {
            // No record at all: a table only when declared (or named metadata.csv).
            kind = Self.kind([], ctx)
            table = kind.map(emptyTable)
        }
        guard var table, let kind else { return nil }
        table.findings = problems.map {
            ctx.finding(.error, $0.code, line: $0.line, $0.message, hint: hint(for: $0, quoting: quoting, delimiter: delimiter))
        }
        table.records = max(0, records - 1) + problems.filter { $0.code != "unbalanced-quote" }.count
        if let repeated = header.flatMap({ firstRepeatedName($0.fields) }) {
            // Two columns of one name would give a row two values for one field: which one is meant
            // cannot be known, so the table is not read.
            table.findings.append(
                ctx.finding(
                    .error, "duplicate-column", line: header?.line,
                    "column \(JSONValue.quote(repeated)) appears more than once in the header, so its values cannot be told apart",
                    hint: "rename or remove one of the columns"))
            return table
        }
        guard key != nil else {
            table.findings.append(
                ctx.finding(
                    .error, "missing-key-column", line: header?.line,
                    "no \(defaultKeyName(kind)) column, so rows cannot be joined to audio",
                    hint: "add the column or declare `key` in dvs.toml"))
            return table
        }
        table.findings += rowFindings
        return table
    }

    /// A table of `kind` with no rows yet.
    static func emptyTable(_ kind: TableKind) -> ParsedTable {
        var table = ParsedTable(format: kind.rawValue)
        table.textFields = kind.textFields
        table.warnsEmptyText = kind == .hfAudiofolder
        table.contributesLabels = kind != .commonVoiceDurations
        return table
    }

    /// The first column name that appears twice in `header`, if any.
    static func firstRepeatedName(_ header: [String]) -> String? {
        var seen = Set<String>()
        return header.first { !seen.insert($0).inserted }
    }

    /// The layout of a table, from its declaration or its header.
    static func kind(_ header: [String], _ ctx: TableContext) -> TableKind? {
        let columns = Set(header)
        if let f = ctx.declaration?.format.flatMap(TableKind.init) {
            return f == .commonVoice && columns.isSuperset(of: ["clip", "duration[ms]"]) ? .commonVoiceDurations : f
        }
        if ctx.path.name == Array("metadata.csv".utf8) { return .hfAudiofolder }
        if ctx.isTSV, columns.isSuperset(of: ["clip", "duration[ms]"]) { return .commonVoiceDurations }
        if ctx.isTSV, columns.contains("path"), columns.contains("client_id") || columns.contains("sentence") { return .commonVoice }
        if ctx.declaration != nil || columns.contains("path") { return .table }
        return nil
    }

    static func defaultKeyName(_ kind: TableKind) -> String {
        switch kind {
        case .hfAudiofolder: return "file_name (or *_file_name)"
        case .commonVoiceDurations: return "clip"
        case .nemo: return "audio_filepath"
        default: return "path"
        }
    }

    /// Index of the key column.
    static func keyColumn(_ header: [String], _ kind: TableKind, _ ctx: TableContext) -> Int? {
        if let key = ctx.declaration?.key { return header.firstIndex(of: key) }
        switch kind {
        case .hfAudiofolder: return header.firstIndex(of: "file_name") ?? header.firstIndex { $0.hasSuffix("_file_name") }
        case .commonVoiceDurations: return header.firstIndex(of: "clip")
        default: return header.firstIndex(of: "path")
        }
    }

    static func hint(for problem: CSVProblem, quoting: CSVReader.Quoting, delimiter: UInt8) -> String? {
        let name = delimiter == 0x09 ? "TAB" : "comma"
        switch problem.code {
        case "unbalanced-quote": return "close the quote, or declare quoting = \"none\" for this table in dvs.toml"
        case "field-count" where problem.tooMany:
            return quoting == .none
                ? "a \(name) inside a value shifts the columns (this table is read without quoting); remove it or replace it with a space"
                : "a \(name) inside a value shifts the columns; quote the value or remove the \(name)"
        case "field-count":
            return "a value is missing: add the empty field(s), one \(name) each, so every row has as many fields as the header"
        default: return "save the file as UTF-8"
        }
    }

    /// One record as a row; nil (with findings) when its key is empty or a cell has the wrong type.
    static func row(
        _ record: CSVRecord, header: [String], key: Int, kind: TableKind, _ ctx: TableContext,
        _ findings: inout [LabelFinding]
    ) -> LabelRow? {
        let reference = record.fields[key]
        guard !reference.isEmpty else {
            findings.append(ctx.finding(.error, "missing-field", line: record.line, "\(header[key]) is empty", hint: "name the audio file"))
            return nil
        }
        var fields: [LabelField] = []
        var duration: Double?
        for (i, name) in header.enumerated() where i != key && i < record.fields.count {
            let text = record.fields[i]
            if kind == .commonVoiceDurations {
                if name == "duration[ms]" { duration = Double(text).map { $0 / 1000 } }
                continue
            }
            let type = ctx.type(of: name) ?? (kind == .commonVoice && (name == "up_votes" || name == "down_votes") ? .int : nil)
            guard let value = convert(text, to: type) else {
                findings.append(
                    ctx.finding(
                        .error, "wrong-type", line: record.line,
                        "column \(name) of \(JSONValue.quote(reference)) is \(JSONValue.quote(text)), expected \(type!.rawValue)",
                        hint: "write a \(type!.rawValue) value, or change the declared type"))
                return nil
            }
            if name == "duration", kind != .commonVoice { duration = value.number ?? Double(text) }
            fields.append(LabelField(name, value))
        }
        fields.sort { $0.name < $1.name }
        return LabelRow(
            line: record.line, reference: reference, candidates: ctx.candidates(reference, kind: kind),
            fields: fields, span: nil, declaredDuration: duration)
    }
}

/// JSON Lines label tables: NeMo manifests, Hugging Face `metadata.jsonl`, plain tables.
enum JSONLinesTable {
    /// NeMo's audio path keys, in the order they are looked for.
    static let nemoKeys = ["audio_filepath", "audio_filename", "audio_file"]

    /// Parses a JSON Lines table; nil when the file is not one (no object line with a known key).
    static func parse(_ bytes: [UInt8], _ ctx: TableContext) -> ParsedTable? {
        let lines = split(bytes)
        guard let kind = kind(lines, ctx) else { return nil }
        var table = ParsedTable(format: kind.rawValue)
        table.textFields = kind.textFields
        table.warnsEmptyText = kind == .hfAudiofolder
        for (n, value, blank) in lines {
            table.records += 1
            guard let object = value?.object else {
                let message =
                    blank
                    ? "line \(n) is empty (JSON Lines has no blank lines)"
                    : "line \(n) is not \(value == nil ? "valid JSON" : "a JSON object")"
                table.findings.append(
                    ctx.finding(
                        .error, "invalid-json", line: n, message,
                        hint: blank ? "remove the blank line" : "write one JSON object per line"))
                continue
            }
            if let row = row(object, line: n, kind: kind, ctx, &table.findings) { table.rows.append(row) }
        }
        return table
    }

    /// Lines with their 1-based numbers, parsed values (nil = not JSON) and whether they are blank;
    /// a final newline adds no line.
    static func split(_ bytes: [UInt8]) -> [(line: Int, value: JSONValue?, blank: Bool)] {
        var parts = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if parts.last?.isEmpty == true { parts.removeLast() }
        return parts.enumerated().map { i, raw in
            let blank = raw.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            return (i + 1, blank ? nil : JSONValue.parse(raw), blank)
        }
    }

    /// The layout, from the declaration or the first object line.
    static func kind(_ lines: [(line: Int, value: JSONValue?, blank: Bool)], _ ctx: TableContext) -> TableKind? {
        if let f = ctx.declaration?.format.flatMap(TableKind.init) { return f }
        guard let first = lines.lazy.compactMap({ $0.value?.object }).first else { return nil }
        if nemoKeys.contains(where: { first[$0] != nil }) { return .nemo }
        if ctx.path.name == Array("metadata.jsonl".utf8) { return .hfAudiofolder }
        if first["path"] != nil || ctx.declaration != nil { return .table }
        return nil
    }

    static func keyName(_ object: [String: JSONValue], _ kind: TableKind, _ ctx: TableContext) -> String? {
        if let key = ctx.declaration?.key { return object[key] != nil ? key : nil }
        switch kind {
        case .nemo: return nemoKeys.first { object[$0] != nil }
        case .hfAudiofolder: return object["file_name"] != nil ? "file_name" : object.keys.sorted().first { $0.hasSuffix("_file_name") }
        default: return object["path"] != nil ? "path" : nil
        }
    }

    /// One object as a row; nil (with findings) when it cannot be joined or has wrong types.
    static func row(
        _ object: [String: JSONValue], line: Int, kind: TableKind, _ ctx: TableContext,
        _ findings: inout [LabelFinding]
    ) -> LabelRow? {
        func fail(_ code: String, _ message: String, _ hint: String) -> LabelRow? {
            findings.append(ctx.finding(.error, code, line: line, message, hint: hint))
            return nil
        }
        guard let key = keyName(object, kind, ctx) else {
            return fail("missing-field", "no \(DelimitedTable.defaultKeyName(kind)) key", "name the audio file")
        }
        guard let reference = object[key]?.string, !reference.isEmpty else {
            return fail("wrong-type", "\(key) is \(object[key]!.typeName), expected a non-empty string", "write the audio path as a string")
        }
        if reference.hasPrefix("/") {
            return fail("absolute-path", "\(key) \(JSONValue.quote(reference)) is absolute", "write it relative to the manifest's folder")
        }
        var numbers: [String: Double] = [:]
        let numeric = kind == .nemo ? ["duration", "offset"] : []
        for name in numeric + (kind == .nemo ? [] : ["duration"]) {
            guard let v = object[name], v != .null else { continue }
            guard let n = v.number else {
                if !numeric.contains(name) { continue }
                return fail("wrong-type", "\(name) is \(v.typeName), expected a number", "write \(name) as a JSON number of seconds")
            }
            numbers[name] = n
        }
        if kind == .nemo, numbers["duration"] == nil {
            findings.append(
                ctx.finding(
                    .warning, "missing-field", line: line, "\(JSONValue.quote(reference)) has no duration",
                    hint: "NeMo ASR needs duration in seconds"))
        }
        var fields: [LabelField] = []
        for (name, v) in object where name != key && !numeric.contains(name) {
            let value = v.label
            if let type = ctx.type(of: name), !matches(value, type) {
                return fail(
                    "wrong-type", "\(name) of \(JSONValue.quote(reference)) is \(v.typeName), expected \(type.rawValue)",
                    "write a \(type.rawValue) value")
            }
            fields.append(LabelField(name, value))
        }
        fields.sort { $0.name < $1.name }
        let span = numbers["offset"].map { (start: $0, end: $0 + (numbers["duration"] ?? 0)) }
        return LabelRow(
            line: line, reference: reference, candidates: ctx.candidates(reference, kind: kind), fields: fields,
            span: span, declaredDuration: span == nil ? numbers["duration"] : nil)
    }
}
