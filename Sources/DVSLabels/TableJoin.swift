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
/// Sized for a million samples: everything is kept by the sample's position in the tree's file
/// list (arrays of small records, no dictionary keyed by path), one origin per labeled sample
/// (the table and line of the row that first labeled it; per-field origins only for fields a
/// later table added), and equal label lists and source lists share one array buffer.
struct Accumulator {
    /// The tree's files: positions are indexes into this list.
    let files: TreeFiles
    /// Annotations by position (empty until something is labeled, then one slot per file).
    private(set) var annotations: [SampleAnnotations?] = []
    /// Per position, where its whole-file fields came from (empty until a field is added).
    private var origins: [Origin] = []
    /// The label files origins name, by ``Origin/file``.
    private var originFiles: [String] = []
    /// Fields added later by other tables (or before any whole-file row: after a segment), by
    /// position then name.
    private var laterOrigins: [Int32: [String: (file: String, line: Int?)]] = [:]
    /// One buffer per distinct list of fields (many samples carry the same speaker, language, …).
    private var fieldLists = Set<[LabelField]>()
    /// One buffer per distinct sorted list of sources.
    private var sourceLists = Set<[String]>()

    init(files: TreeFiles) { self.files = files }

    /// The table (index into `originFiles`, -1 for none) and line (`Int.min` for none) of the
    /// first row that set a sample's fields.
    private struct Origin {
        var file: Int32 = -1
        var line = Int.min
    }

    /// The annotations of the sample at `path`, if anything labeled it.
    subscript(path: RepoPath) -> SampleAnnotations? {
        get { files.position(of: path).flatMap { self[position: $0] } }
        set {
            guard let i = files.position(of: path) else { return }
            self[position: i] = newValue
        }
    }

    /// The annotations of the sample at position `i`, if anything labeled it.
    subscript(position i: Int32) -> SampleAnnotations? {
        get { annotations.isEmpty ? nil : annotations[Int(i)] }
        set {
            if annotations.isEmpty {
                guard newValue != nil else { return }
                annotations = Array(repeating: nil, count: files.count)
            }
            annotations[Int(i)] = newValue
        }
    }

    /// Hands the annotations over (by position) and drops them here.
    mutating func takeAnnotations() -> [SampleAnnotations?] {
        defer { annotations = [] }
        return annotations
    }

    /// Adds whole-file fields; a field another table already set keeps its first value, and a
    /// different value is a `conflicting-labels` warning.
    mutating func add(_ fields: [LabelField], to path: RepoPath, from file: String, line: Int?, findings: inout [LabelFinding]) {
        guard let i = files.position(of: path) else { return }
        add(fields, at: i, from: file, line: line, findings: &findings)
    }

    /// ``add(_:to:from:line:findings:)`` for the sample at position `i`.
    mutating func add(_ fields: [LabelField], at i: Int32, from file: String, line: Int?, findings: inout [LabelFinding]) {
        if origins.isEmpty { origins = Array(repeating: Origin(), count: files.count) }
        guard var annotations = self[position: i] else {
            // Fast path: the first table to label a sample.
            self[position: i] = SampleAnnotations(labels: shared(fields), sources: shared([file]))
            origins[Int(i)] = Origin(file: originIndex(file), line: line ?? Int.min)
            return
        }
        let path = files.list.path(at: Int(i))
        // A sample a segment labeled first has no fields of a first row.
        let first = origins[Int(i)]
        var later = laterOrigins[i] ?? [:]
        var labels = annotations.labels
        for f in fields {
            if let existing = labels.first(where: { $0.name == f.name })?.value {
                let o = later[f.name] ?? (first.file >= 0 ? (originFiles[Int(first.file)], first.line == Int.min ? nil : first.line) : nil)
                if existing != f.value, let o, o.file != file {
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
            if first.file >= 0 {
                later[f.name] = (file, line)
            }
        }
        if first.file < 0 {
            // The first row with whole-file fields after a segment made the sample.
            origins[Int(i)] = Origin(file: originIndex(file), line: line ?? Int.min)
        } else if !later.isEmpty {
            laterOrigins[i] = later
        }
        labels.sort { $0.name < $1.name }
        annotations.labels = shared(labels)
        self[position: i] = annotations
        addSource(file, at: i)
    }

    /// Appends a segment.
    mutating func add(_ segment: LabelSegment, to path: RepoPath) {
        guard let i = files.position(of: path) else { return }
        add(segment, at: i)
    }

    /// Appends a segment to the sample at position `i`.
    mutating func add(_ segment: LabelSegment, at i: Int32) {
        var a = self[position: i] ?? SampleAnnotations()
        self[position: i] = nil
        a.segments.append(segment)
        self[position: i] = a
        addSource(segment.source, at: i)
    }

    /// Drops what only the joining needed (origins, shared-buffer sets); the annotations stay.
    mutating func finishJoining() {
        origins = []
        originFiles = []
        laterOrigins = [:]
        fieldLists = []
        sourceLists = []
    }

    private mutating func originIndex(_ file: String) -> Int32 {
        if let last = originFiles.last, last == file { return Int32(originFiles.count - 1) }
        if let i = originFiles.firstIndex(of: file) { return Int32(i) }
        originFiles.append(file)
        return Int32(originFiles.count - 1)
    }

    private mutating func addSource(_ file: String, at i: Int32) {
        guard var sources = self[position: i]?.sources, !sources.contains(file) else { return }
        sources.append(file)
        sources.sort()
        self[position: i]!.sources = shared(sources)
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
    /// The first whole-file row per sample, by position in the tree (empty until a row joins).
    private var firstRows: [FirstRow] = []
    /// The first row per segment (sample position and span).
    private var firstSegmentRows: [SegmentKey: FirstRow] = [:]
    /// One bit per position in the tree: whether a row joined that sample.
    private var joined: [UInt64] = []
    /// How many distinct samples rows joined.
    private(set) var sampleCount = 0

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
        guard let (sample, position) = resolve(row) else { return }
        checkDuration(row, sample)
        guard !isDuplicate(row, sample.path, position) else { return }
        markJoined(position)
        guard table.contributesLabels else { return }
        if let span = row.span {
            acc.add(LabelSegment(start: span.start, end: span.end, source: file, labels: row.fields), at: position)
        } else {
            acc.add(row.fields, at: position, from: file, line: row.line, findings: &findings)
        }
    }

    private mutating func markJoined(_ position: Int32) {
        if joined.isEmpty { joined = Array(repeating: 0, count: (index.files.count + 63) / 64) }
        let (word, bit) = (Int(position) / 64, UInt64(1) << UInt64(position % 64))
        if joined[word] & bit == 0 {
            joined[word] |= bit
            sampleCount += 1
        }
    }

    private mutating func report(_ s: LabelFinding.Severity, _ code: String, _ row: LabelRow, _ message: String, hint: String? = nil) {
        findings.append(LabelFinding(s, code, file: file, line: row.line, message, hint: hint))
    }

    private mutating func resolve(_ row: LabelRow) -> (LabelTreeFile, Int32)? {
        switch index.resolve(row.candidates) {
        case .sample(let f, let position): return (f, position)
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

    /// What makes two segment rows the same record: the sample, and the bits of start and end.
    private struct SegmentKey: Hashable {
        var position: Int32
        var start: UInt64
        var end: UInt64
    }

    /// What a repeated row is compared with.
    private struct FirstRow {
        /// The fields, sharing the buffer the accumulator holds.
        var fields: [LabelField] = []
        var declaredDuration: Double?
        /// The 1-based line; 0 when no row was seen, -1 for a row without a line.
        var line = 0

        var lineText: String { line > 0 ? "line \(line)" : "an earlier record" }
    }

    /// Reports a repeated key: identical rows are a warning, conflicting ones an error.
    private mutating func isDuplicate(_ row: LabelRow, _ path: RepoPath, _ position: Int32) -> Bool {
        let here = FirstRow(fields: row.fields, declaredDuration: row.declaredDuration, line: row.line ?? -1)
        let first: FirstRow
        if let span = row.span {
            let key = SegmentKey(position: position, start: span.start.bitPattern, end: span.end.bitPattern)
            guard let seen = firstSegmentRows[key] else {
                firstSegmentRows[key] = here
                return false
            }
            first = seen
        } else {
            if firstRows.isEmpty { firstRows = Array(repeating: FirstRow(), count: index.files.count) }
            guard firstRows[Int(position)].line != 0 else {
                firstRows[Int(position)] = here
                return false
            }
            first = firstRows[Int(position)]
        }
        let firstLine = first.lineText
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
