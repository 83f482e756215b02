import DVSCore
import Foundation

/// A problem found in a label table or sidecar, reported as `file:line: severity: message`.
///
/// Errors abort a commit (nothing is written); warnings are printed and the commit goes on.
public struct LabelFinding: Sendable, Hashable, Codable {
    /// How bad.
    public enum Severity: String, Sendable, Codable {
        /// Aborts the commit.
        case error
        /// Printed; the commit goes on.
        case warning
    }
    /// How bad.
    public var severity: Severity
    /// A stable machine-readable kind, e.g. `missing-file`, `duplicate-row`, `wrong-type`,
    /// `field-count`, `unbalanced-quote`, `duration-mismatch`, `unicode-normalization`,
    /// `transcript-mismatch`, `region-beyond-audio`, `newline-in-text`, `ambiguous-mapping`.
    public var code: String
    /// Tree path of the label file (or of the sample, for per-sample checks).
    public var file: String
    /// 1-based physical line where the record starts, when the format has lines.
    public var line: Int?
    /// What is wrong, naming the value and the sample path where there is one.
    public var message: String
    /// What to do about it.
    public var hint: String?

    /// Creates a finding.
    public init(_ severity: Severity, _ code: String, file: String, line: Int? = nil, _ message: String, hint: String? = nil) {
        self.severity = severity
        self.code = code
        self.file = file
        self.line = line
        self.message = message
        self.hint = hint
    }

    /// `file:line: error: message` (no line part when `line` is nil), then ` (hint)` when present.
    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(severity.rawValue): \(message)" + (hint.map { " (\($0))" } ?? "")
    }
}

/// One file of the tree as the label builder sees it.
public struct LabelTreeFile: Sendable, Hashable {
    /// Where it is in the tree.
    public var path: RepoPath
    /// SHA-256 of its bytes (Deepgram's `metadata.sha256` is compared with this).
    public var blob: ObjectID
    /// Size in bytes.
    public var byteCount: UInt64
    /// Audio facts when the file decodes as audio (it is then a sample).
    public var audio: AudioFacts?
    /// Creates a tree file.
    public init(path: RepoPath, blob: ObjectID, byteCount: UInt64, audio: AudioFacts?) {
        self.path = path
        self.blob = blob
        self.byteCount = byteCount
        self.audio = audio
    }
}

/// A label source the builder recognised.
public struct LabelTableInfo: Sendable, Hashable, Codable {
    /// Tree path.
    public var path: String
    /// `hf-audiofolder`, `nemo`, `common-voice`, `common-voice-durations`, `label-studio`, `table`, `deepgram`, `config`.
    public var format: String
    /// Records read (rows, lines, tasks, responses).
    public var records: Int
    /// Distinct samples those records labeled.
    public var samples: Int
    /// Creates a table description.
    public init(path: String, format: String, records: Int, samples: Int) {
        self.path = path
        self.format = format
        self.records = records
        self.samples = samples
    }
}

/// What the label files of a tree say, joined to its samples.
public struct LabelBuildResult: Sendable {
    /// Annotations per sample path (only samples something labeled); empty from
    /// ``LabelBuilder/build(tree:read:transcripts:)``, which fills ``annotations`` instead.
    public var samples: [RepoPath: SampleAnnotations]
    /// From ``LabelBuilder/build(tree:read:transcripts:)``: the annotations of each file of the
    /// tree by its position (nil where nothing labeled it); empty when nothing labeled any file.
    public var annotations: [SampleAnnotations?] = []
    /// Words per sample path, from transcription sidecars; the caller stores them as an object and
    /// sets `TranscriptSummary.words`.
    public var words: [RepoPath: [TranscriptWord]]
    /// Everything worth telling the user, sorted by file then line.
    public var findings: [LabelFinding]
    /// The label sources recognised, sorted by path.
    public var tables: [LabelTableInfo]
    /// The tree's `dvs.toml` (the default when it has none): what it ignores, among the rest.
    public var config = LabelConfig()
    /// Creates a result.
    public init(
        samples: [RepoPath: SampleAnnotations] = [:], words: [RepoPath: [TranscriptWord]] = [:],
        findings: [LabelFinding] = [], tables: [LabelTableInfo] = []
    ) {
        self.samples = samples
        self.words = words
        self.findings = findings
        self.tables = tables
    }
    /// Whether any finding is an error.
    public var hasErrors: Bool { findings.contains { $0.severity == .error } }
}

/// Finds the label tables, sidecars and the `dvs.toml` config of a tree, parses them, joins them
/// to the samples and validates them. Pure: all file access goes through `read`.
///
/// Detection rules, the config and every finding code are described in `schema/LABELS.md`.
public enum LabelBuilder {
    /// Tree path of the optional config.
    public static let configPath = "dvs.toml"

    /// File extensions (lower case) of the files the builder reads as label sources without a
    /// declaration in `dvs.toml`: tables, JSON Lines and JSON documents (Label Studio, Deepgram).
    public static let sourceExtensions: Set<String> = ["csv", "tsv", "jsonl", "json"]

    /// Builds the annotations of a tree.
    ///
    /// - Parameters:
    ///   - files: every file of the tree, sorted by path; those with `audio` are the samples.
    ///   - read: returns the bytes of a tree file; called only for files the builder parses (label
    ///     tables, sidecars, the config). May be called from several threads at once.
    ///   - transcripts: summaries from an earlier snapshot, by the sidecar's blob id, with the
    ///     audio blob they were made for. A response whose bytes and audio are unchanged is not
    ///     parsed again: its summary (words object id included) is reused and its findings, which
    ///     were shown when it was committed, are not repeated.
    /// - Returns: annotations and findings. Bad label input is reported as findings, never thrown.
    /// - Throws: only what `read` throws (I/O).
    public static func build(
        files: [LabelTreeFile], read: @Sendable (RepoPath) throws -> [UInt8],
        transcripts: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:]
    ) throws -> LabelBuildResult {
        var result = try build(tree: LabelTreeFiles(files), read: read, transcripts: transcripts)
        for (i, a) in result.annotations.enumerated() {
            if let a { result.samples[files[i].path] = a }
        }
        result.annotations = []
        return result
    }

    /// ``build(files:read:transcripts:)`` over a view of the tree's files, returning the
    /// annotations by position (``LabelBuildResult/annotations``) rather than by path: what a
    /// commit of a million samples uses, so that neither the files nor the annotations are held
    /// in a second, path-keyed copy.
    /// - Throws: only what `read` throws (I/O).
    public static func build(
        tree files: LabelTreeFiles, read: @Sendable (RepoPath) throws -> [UInt8],
        transcripts: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:]
    ) throws -> LabelBuildResult {
        var run = BuildRun(files: files)
        run.knownTranscripts = transcripts
        try run.readConfig(read)
        let configPath = RepoPath(configPath)
        for file in files.filter({ $0.audio == nil && $0.path != configPath }).sorted(by: { $0.path < $1.path }) {
            try run.readLabelFile(file, read)
        }
        run.acc.finishJoining()
        try run.matchSidecars(read)
        run.checkRequiredFields()
        return run.takeResult()
    }
}

/// The state of one `LabelBuilder.build` call.
struct BuildRun {
    let files: LabelTreeFiles
    let index: TreeIndex
    var config = LabelConfig()
    var acc: Accumulator
    var findings: [LabelFinding] = []
    var tables: [LabelTableInfo] = []
    var words: [RepoPath: [TranscriptWord]] = [:]
    /// Files that look like Deepgram responses, with their declared `metadata.sha256`; parsed
    /// once, in parallel, when they are matched to samples (`matchSidecars`).
    var responses: [(path: RepoPath, sha256: String?)] = []

    /// Summaries of unchanged responses, by sidecar blob (see `LabelBuilder.build`).
    var knownTranscripts: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:]

    init(files: LabelTreeFiles) {
        self.files = files
        index = TreeIndex(files)
        acc = Accumulator(files: index.files)
    }

    /// The result, moving the annotations out of `acc` (no second copy of a million of them).
    mutating func takeResult() -> LabelBuildResult {
        let sorted = findings.enumerated().sorted { a, b in
            (a.element.file, a.element.line ?? 0, a.offset) < (b.element.file, b.element.line ?? 0, b.offset)
        }.map(\.element)
        var annotations = acc.takeAnnotations()
        for i in annotations.indices where annotations[i]?.isEmpty == true { annotations[i] = nil }
        var result = LabelBuildResult(words: words, findings: sorted, tables: tables.sorted { $0.path < $1.path })
        result.annotations = annotations
        result.config = config
        return result
    }

    mutating func readConfig(_ read: (RepoPath) throws -> [UInt8]) throws {
        let path = RepoPath(LabelBuilder.configPath)
        guard index.files[path] != nil else { return }
        let bytes = try read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            findings.append(LabelFinding(.error, "config", file: path.string, "dvs.toml is not UTF-8", hint: "save it as UTF-8"))
            return
        }
        let (config, problems) = LabelConfig.parse(text, file: path.string)
        self.config = config
        findings += problems
        tables.append(LabelTableInfo(path: path.string, format: "config", records: 0, samples: 0))
    }

    /// Reads one non-audio file if its name or declaration makes it a label source.
    mutating func readLabelFile(_ file: LabelTreeFile, _ read: (RepoPath) throws -> [UInt8]) throws {
        let name = file.path.string
        guard !config.isIgnored(name) else { return }
        let ctx = TableContext(path: file.path, declaration: config.declaration(for: name), config: config)
        let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        guard LabelBuilder.sourceExtensions.contains(ext) || ctx.declaration != nil else { return }
        let bytes = try read(file.path)
        if ext == "json" || ctx.declaration?.format == TableKind.labelStudio.rawValue, readJSONDocument(bytes, ctx) { return }
        if ext == "csv" || ext == "tsv" || (ctx.declaration?.delimiter != nil) {
            // Each row is joined as it is read: a million rows are never held at once.
            var joiner: TableJoiner?
            let parsed = DelimitedTable.parse(bytes, ctx) { row, table in
                if joiner == nil { joiner = TableJoiner(file: ctx.file, table: table, index: index, config: config) }
                joiner!.join(row, into: &acc)
            }
            if let parsed { finish(parsed, ctx, joiner ?? TableJoiner(file: ctx.file, table: parsed, index: index, config: config)) }
        } else if let parsed = JSONLinesTable.parse(bytes, ctx) {
            join(parsed, ctx)
        }
    }

    /// Handles a file that is one JSON document (Label Studio export or Deepgram response).
    /// Returns false when the file is not one JSON document, or is a single object that is not a
    /// Deepgram response (a one-line JSON Lines manifest), so it may still be JSON Lines.
    mutating func readJSONDocument(_ bytes: [UInt8], _ ctx: TableContext) -> Bool {
        // Deepgram responses are many and large: recognise them from their bytes, parse them once later.
        if ctx.declaration == nil, let sniffed = DeepgramSidecar.sniff(bytes) {
            responses.append((ctx.path, sniffed.sha256))
            return true
        }
        let first = bytes.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
        if first == UInt8(ascii: "{"), ctx.declaration?.format != TableKind.labelStudio.rawValue {
            // One JSON object that is not a response: a one-line JSON Lines table, or an ordinary file.
            return false
        }
        guard let value = JSONValue.parse(bytes) else { return false }
        if LabelStudioExport.isExport(value), let tasks = value.array {
            var export = LabelStudioExport(ctx: ctx, index: index)
            export.read(tasks, bytes: bytes, into: &acc)
            findings += export.findings
            tables.append(
                LabelTableInfo(path: ctx.file, format: TableKind.labelStudio.rawValue, records: tasks.count, samples: export.samples.count))
        }
        return true
    }

    mutating func join(_ parsed: ParsedTable, _ ctx: TableContext) {
        var joiner = TableJoiner(file: ctx.file, table: parsed, index: index, config: config)
        joiner.join(into: &acc)
        finish(parsed, ctx, joiner)
    }

    /// Records what joining a table found: the parse's findings, then the join's.
    mutating func finish(_ parsed: ParsedTable, _ ctx: TableContext, _ joiner: TableJoiner) {
        findings += parsed.findings + joiner.findings
        tables.append(LabelTableInfo(path: ctx.file, format: parsed.format, records: parsed.records, samples: joiner.sampleCount))
    }

    /// Reports required schema fields that a labeled sample lacks.
    mutating func checkRequiredFields() {
        let required = config.fields.filter(\.value.required).keys.sorted()
        guard !required.isEmpty else { return }
        for (i, a) in acc.annotations.enumerated() {
            guard let a, !a.labels.isEmpty else { continue }
            let path = files.path(at: i)
            for name in required where a[label: name] == nil {
                findings.append(
                    LabelFinding(
                        .error, "missing-field", file: path.string, "\(path) has no \(name), which the schema requires",
                        hint: "add a \(name) value for it to a label table"))
            }
        }
    }
}
