import DVSCore
import Foundation

/// One record of a label table, parsed but not yet joined to a sample.
struct LabelRow {
    /// 1-based physical line, when the format has lines.
    var line: Int?
    /// The audio reference as written.
    var reference: String
    /// Tree paths the reference may mean, in the order they are tried.
    var candidates: [RepoPath]
    /// Whole-file fields (or the segment's fields when `span` is set), sorted by name.
    var fields: [LabelField]
    /// Start and end (seconds) when the record labels a span of the file.
    var span: (start: Double, end: Double)?
    /// A duration (seconds) the record declares for the whole file.
    var declaredDuration: Double?
}

/// A parsed label table: its rows and what went wrong reading it.
struct ParsedTable {
    /// `LabelTableInfo.format`.
    var format: String
    var rows: [LabelRow] = []
    var findings: [LabelFinding] = []
    /// Records read, malformed ones included.
    var records = 0
    /// Field names whose values are transcripts (newline check; empty check when `warnsEmptyText`).
    var textFields: Set<String> = []
    var warnsEmptyText = false
    /// Whether rows add labels (false for `clip_durations.tsv`, which only validates).
    var contributesLabels = true
}

/// Labels gathered over all tables, with the table each whole-file field came from.
///
/// Sized for a million samples: one dictionary entry per labeled sample for the origins (the
/// table and line of the row that first labeled it, per-field origins only for fields a later
/// table added), and equal label lists and source lists share one array buffer.
struct Accumulator {
    var samples: [RepoPath: SampleAnnotations] = [:]
    /// Per sample, where its whole-file fields came from.
    private var origins: [RepoPath: Origin] = [:]
    /// One buffer per distinct list of fields (many samples carry the same speaker, language, …).
    private var fieldLists = Set<[LabelField]>()
    /// One buffer per distinct sorted list of sources.
    private var sourceLists = Set<[String]>()

    /// The table (path) and line that set a sample's fields.
    private struct Origin {
        /// Where the fields of the first row to label the sample came from.
        var file: String
        var line: Int?
        /// Fields added later by other tables (or before any whole-file row: after a segment), by name.
        var later: [String: (file: String, line: Int?)]?

        /// Where field `name` came from, if the sample has it.
        /// - Parameter firstFields: whether `file` and `line` set fields (false when a segment
        ///   made the sample and every field is in `later`).
        func of(_ name: String, firstFields: Bool) -> (file: String, line: Int?)? {
            if let o = later?[name] { return o }
            return firstFields ? (file, line) : nil
        }
    }

    /// Adds whole-file fields; a field another table already set keeps its first value, and a
    /// different value is a `conflicting-labels` warning.
    mutating func add(_ fields: [LabelField], to path: RepoPath, from file: String, line: Int?, findings: inout [LabelFinding]) {
        if samples[path] == nil {
            // Fast path: the first table to label a sample.
            samples[path] = SampleAnnotations(labels: shared(fields), sources: shared([file]))
            origins[path] = Origin(file: file, line: line)
            return
        }
        var annotations = samples.removeValue(forKey: path)!
        // A sample a segment labeled first has no fields of a first row.
        let firstFields = origins[path] != nil
        var origin = origins[path] ?? Origin(file: file, line: line)
        var labels = annotations.labels
        for f in fields {
            if let existing = labels.first(where: { $0.name == f.name })?.value {
                if existing != f.value, let o = origin.of(f.name, firstFields: firstFields), o.file != file {
                    findings.append(
                        LabelFinding(
                            .warning, "conflicting-labels", file: file, line: line,
                            "\(path): \(f.name) is \(quoted(f.value)) here, but \(o.file)\(o.line.map { ":\($0)" } ?? "") says \(quoted(existing)) and wins (the first table in path order); this row's value is not used",
                            hint:
                                "make the tables agree, rename one of the fields, or list the losing table under labels.ignore in dvs.toml")
                    )
                }
                continue
            }
            labels.append(f)
            if origin.later == nil { origin.later = [:] }
            origin.later![f.name] = (file, line)
        }
        labels.sort { $0.name < $1.name }
        annotations.labels = shared(labels)
        samples[path] = annotations
        origins[path] = origin
        addSource(file, to: path)
    }

    /// Appends a segment.
    mutating func add(_ segment: LabelSegment, to path: RepoPath) {
        samples[path, default: SampleAnnotations()].segments.append(segment)
        addSource(segment.source, to: path)
    }

    /// Drops what only the joining needed (origins, shared-buffer sets); `samples` stays.
    mutating func finishJoining() {
        origins = [:]
        fieldLists = []
        sourceLists = []
    }

    private mutating func addSource(_ file: String, to path: RepoPath) {
        guard var sources = samples[path]?.sources, !sources.contains(file) else { return }
        sources.append(file)
        sources.sort()
        samples[path]!.sources = shared(sources)
    }

    /// `fields` itself, or an equal list already held (so the two share one buffer).
    mutating func shared(_ fields: [LabelField]) -> [LabelField] { fieldLists.insert(fields).memberAfterInsert }

    /// `sources` itself, or an equal list already held.
    private mutating func shared(_ sources: [String]) -> [String] { sourceLists.insert(sources).memberAfterInsert }
}

/// A value as a message shows it: text in quotes, others bare.
func quoted(_ v: LabelValue) -> String {
    if case .string(let s) = v { return JSONValue.quote(s) }
    return v == .null ? "empty" : v.text
}

/// Joins a parsed table's rows to the samples, validating each row.
struct TableJoiner {
    let file: String
    let table: ParsedTable
    let index: TreeIndex
    let config: LabelConfig
    var findings: [LabelFinding] = []
    /// The first row per key (sample path, plus span for segments).
    private var firstRows: [RowKey: FirstRow] = [:]
    private(set) var samples = Set<RepoPath>()

    init(file: String, table: ParsedTable, index: TreeIndex, config: LabelConfig) {
        self.file = file
        self.table = table
        self.index = index
        self.config = config
    }

    /// Validates every row of `table` and adds the good ones to `acc`.
    mutating func join(into acc: inout Accumulator) {
        for row in table.rows { join(row, into: &acc) }
    }

    /// Validates one row (rows come in file order) and adds it to `acc` when it is good.
    mutating func join(_ row: LabelRow, into acc: inout Accumulator) {
        var row = row
        // One buffer for equal field lists, shared with what `acc` keeps.
        row.fields = acc.shared(row.fields)
        checkText(row)
        checkSchema(row)
        guard let sample = resolve(row) else { return }
        checkDuration(row, sample)
        guard !isDuplicate(row, sample.path) else { return }
        samples.insert(sample.path)
        guard table.contributesLabels else { return }
        if let span = row.span {
            acc.add(LabelSegment(start: span.start, end: span.end, source: file, labels: row.fields), to: sample.path)
        } else {
            acc.add(row.fields, to: sample.path, from: file, line: row.line, findings: &findings)
        }
    }

    private mutating func report(_ s: LabelFinding.Severity, _ code: String, _ row: LabelRow, _ message: String, hint: String? = nil) {
        findings.append(LabelFinding(s, code, file: file, line: row.line, message, hint: hint))
    }

    private mutating func resolve(_ row: LabelRow) -> LabelTreeFile? {
        switch index.resolve(row.candidates) {
        case .sample(let f): return f
        case .notAudio(let p):
            report(.warning, "not-audio", row, "\(p) exists but is not audio", hint: "point the row at an audio file or remove it")
        case .normalization(let p):
            report(
                .error, "unicode-normalization", row,
                "\(JSONValue.quote(row.reference)) names \(p), which differs only in Unicode normalization (row is \(normalizationForm(row.reference)), file is \(normalizationForm(p.string)))",
                hint: "rewrite the row's path in NFC, byte for byte as the file is named")
        case .missing:
            let tried = row.candidates.map(\.string).joined(separator: ", ")
            report(
                .error, "missing-file", row,
                "\(JSONValue.quote(row.reference)): file not found (looked for \(tried.isEmpty ? "nothing" : tried))",
                hint: "add the audio or remove the row")
        }
        return nil
    }

    /// What makes two rows the same record: the sample, and for a segment its span (the bits of
    /// start and end).
    private struct RowKey: Hashable {
        var path: RepoPath
        var start: UInt64?
        var end: UInt64?
    }

    /// What a repeated row is compared with.
    private struct FirstRow {
        var line: Int?
        var fields: [LabelField]
        var declaredDuration: Double?
    }

    /// Reports a repeated key: identical rows are a warning, conflicting ones an error.
    private mutating func isDuplicate(_ row: LabelRow, _ path: RepoPath) -> Bool {
        let key = RowKey(path: path, start: row.span.map { $0.start.bitPattern }, end: row.span.map { $0.end.bitPattern })
        guard let first = firstRows[key] else {
            firstRows[key] = FirstRow(line: row.line, fields: row.fields, declaredDuration: row.declaredDuration)
            return false
        }
        let firstLine = first.line.map { "line \($0)" } ?? "an earlier record"
        let differing = differingFields(first.fields, row.fields)
        if differing.isEmpty && first.declaredDuration == row.declaredDuration {
            report(
                .warning, "duplicate-row", row, "\(path) is listed again with identical values (first at \(firstLine))",
                hint: "remove the repeated row")
        } else {
            let names = differing.isEmpty ? "duration" : differing.joined(separator: ", ")
            report(
                .error, "duplicate-row", row,
                "\(path) is listed at \(firstLine) and line \(row.line.map(String.init) ?? "?") with different \(names)",
                hint: "keep one row per file; the first row's values were kept")
        }
        return true
    }

    private mutating func checkDuration(_ row: LabelRow, _ sample: LabelTreeFile) {
        guard let audio = sample.audio else { return }
        let tol = config.durationTolerance
        if let span = row.span, span.end > audio.duration + tol {
            report(
                .error, "segment-beyond-audio", row,
                "segment \(span.start)–\(span.end) s of \(sample.path) ends after the audio (\(String(format: "%.3f", audio.duration)) s)",
                hint: "fix offset/duration or the audio")
        } else if row.span == nil, let d = row.declaredDuration, abs(d - audio.duration) > tol {
            report(
                .warning, "duration-mismatch", row,
                "\(sample.path) declares \(d) s, audio is \(String(format: "%.3f", audio.duration)) s",
                hint: "re-measure the duration or check that the row names the right file")
        }
    }

    private mutating func checkText(_ row: LabelRow) {
        for f in row.fields where table.textFields.contains(f.name) {
            switch f.value {
            case .string(let s) where s.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }):
                report(
                    .warning, "newline-in-text", row, "\(f.name) of \(JSONValue.quote(row.reference)) contains a line break",
                    hint: "line-based tools (Kaldi text, TSV) split it; replace it with a space")
            case .string(""), .null:
                guard table.warnsEmptyText else { break }
                report(
                    .warning, "empty-text", row, "\(f.name) of \(JSONValue.quote(row.reference)) is empty",
                    hint: "fine for silence; otherwise fill in the transcript")
            default: break
            }
        }
    }

    private mutating func checkSchema(_ row: LabelRow) {
        let columns = Set(row.fields.map(\.name))
        for (name, rule) in config.fields.sorted(by: { $0.key < $1.key }) where columns.contains(name) {
            let value = row.fields.first { $0.name == name }!.value
            for problem in schemaProblems(name, value, rule, reference: row.reference) {
                report(.error, problem.code, row, problem.message, hint: problem.hint)
            }
        }
    }
}

/// Names of fields whose values differ between two sorted field lists.
func differingFields(_ a: [LabelField], _ b: [LabelField]) -> [String] {
    let names = Set(a.map(\.name)).union(b.map(\.name)).sorted()
    return names.filter { n in a.first { $0.name == n }?.value != b.first { $0.name == n }?.value }
}

/// What the schema says is wrong with one value (`missing-field`, `wrong-type`, `not-allowed`, `out-of-range`).
func schemaProblems(_ name: String, _ value: LabelValue, _ rule: LabelConfig.FieldRule, reference: String) -> [(
    code: String, message: String, hint: String
)] {
    let subject = "\(name) of \(JSONValue.quote(reference))"
    if value == .null || value == .string("") {
        return rule.required ? [("missing-field", "\(subject) is empty but required", "fill in \(name)")] : []
    }
    if let type = rule.type, !matches(value, type) {
        return [("wrong-type", "\(subject) is \(quoted(value)), expected \(type.rawValue)", "write a \(type.rawValue) value")]
    }
    var out: [(String, String, String)] = []
    if let values = rule.values, !values.contains(value.text) {
        out.append(("not-allowed", "\(subject) is \(quoted(value)), not an allowed value", "allowed: \(values.joined(separator: ", "))"))
    }
    if let n = value.number ?? Double(value.text) {
        if let min = rule.min, n < min {
            out.append(("out-of-range", "\(subject) is \(value.text), below the minimum \(min)", "use a value ≥ \(min)"))
        }
        if let max = rule.max, n > max {
            out.append(("out-of-range", "\(subject) is \(value.text), above the maximum \(max)", "use a value ≤ \(max)"))
        }
    }
    return out
}

/// Whether a value has a declared type (ints count as floats).
func matches(_ value: LabelValue, _ type: LabelConfig.ValueType) -> Bool {
    switch (value, type) {
    case (.string, .string), (.int, .int), (.int, .float), (.double, .float), (.bool, .bool), (.null, _): return true
    default: return false
    }
}

/// Converts cell text to a declared type; nil when it does not convert. Empty text is `.null`.
func convert(_ text: String, to type: LabelConfig.ValueType?) -> LabelValue? {
    if text.isEmpty { return .null }
    switch type {
    case nil, .string?: return .string(text)
    case .int?: return Int64(text).map(LabelValue.int)
    case .float?: return Double(text).map(LabelValue.double)
    case .bool?:
        switch text.lowercased() {
        case "true", "1", "yes": return .bool(true)
        case "false", "0", "no": return .bool(false)
        default: return nil
        }
    }
}
