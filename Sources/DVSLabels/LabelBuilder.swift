import DVSCore

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
        self.severity = severity; self.code = code; self.file = file; self.line = line; self.message = message; self.hint = hint
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
        self.path = path; self.blob = blob; self.byteCount = byteCount; self.audio = audio
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
        self.path = path; self.format = format; self.records = records; self.samples = samples
    }
}

/// What the label files of a tree say, joined to its samples.
public struct LabelBuildResult: Sendable {
    /// Annotations per sample path (only samples something labeled).
    public var samples: [RepoPath: SampleAnnotations]
    /// Words per sample path, from transcription sidecars; the caller stores them as an object and
    /// sets `TranscriptSummary.words`.
    public var words: [RepoPath: [TranscriptWord]]
    /// Everything worth telling the user, sorted by file then line.
    public var findings: [LabelFinding]
    /// The label sources recognised, sorted by path.
    public var tables: [LabelTableInfo]
    /// Creates a result.
    public init(samples: [RepoPath: SampleAnnotations] = [:], words: [RepoPath: [TranscriptWord]] = [:],
                findings: [LabelFinding] = [], tables: [LabelTableInfo] = []) {
        self.samples = samples; self.words = words; self.findings = findings; self.tables = tables
    }
    /// Whether any finding is an error.
    public var hasErrors: Bool { findings.contains { $0.severity == .error } }
}

/// Finds the label tables, sidecars and the `dvs.toml` config of a tree, parses them, joins them
/// to the samples and validates them. Pure: all file access goes through `read`.
public enum LabelBuilder {
    /// Builds the annotations of a tree.
    ///
    /// - Parameters:
    ///   - files: every file of the tree, sorted by path; those with `audio` are the samples.
    ///   - read: returns the bytes of a tree file; called only for files the builder parses (label
    ///     tables, sidecars, the config). May be called from several threads at once.
    /// - Returns: annotations and findings. Bad label input is reported as findings, never thrown.
    /// - Throws: only what `read` throws (I/O).
    public static func build(files: [LabelTreeFile], read: @Sendable (RepoPath) throws -> [UInt8]) throws -> LabelBuildResult {
        LabelBuildResult()
    }
}
