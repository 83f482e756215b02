import Foundation

/// A JSON value for open-ended record fields (metrics, slices).
public indirect enum RecordValue: Hashable, Sendable, Codable {
    /// `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A number (IEEE 754 binary64).
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([RecordValue])
    /// An object (keys are written sorted).
    case object([String: RecordValue])

    /// Decodes any JSON value.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([RecordValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: RecordValue].self))
        }
    }

    /// Encodes as the JSON value.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d): try c.encode(d.isFinite ? d : 0)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The value as a Foundation JSON object (`NSNull` for null), for output writers.
    public var foundation: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map(\.foundation)
        case .object(let o): return o.mapValues(\.foundation)
        }
    }
}

/// The training code's version: the git commit of the repository that contains the directory the
/// run started in, read with libgit2.
public struct CodeVersion: Hashable, Sendable, Codable {
    /// HEAD's commit id (40 hex digits); nil outside git or on an unborn branch ("none").
    public var commit: String?
    /// HEAD's branch (`main`); nil when detached or outside git.
    public var branch: String?
    /// Whether tracked files differ from HEAD (index or working tree); untracked files do not count.
    public var dirty: Bool
    /// The git working tree's root; nil outside git.
    public var repository: String?

    /// Creates a code version from its parts.
    public init(commit: String?, branch: String?, dirty: Bool, repository: String?) {
        self.commit = commit
        self.branch = branch
        self.dirty = dirty
        self.repository = repository
    }

    /// `none` outside git, else `<commit 12> (<branch>)` with `, dirty` when dirty.
    public var summary: String {
        guard let commit else { return repository == nil ? "none" : "none (unborn branch)" }
        return "\(commit.prefix(12)) (\(branch ?? "detached")\(dirty ? ", dirty" : ""))"
    }
}

/// What a model was trained on, and how: the lineage of one artifact.
///
/// Stored as a content-addressed object `dvs-model 1\n` + canonical JSON (`schema/FORMAT.md`
/// § Lineage records); never changes once written.
public struct ModelRecord: Hashable, Sendable, Codable {
    /// Display name (`--name`, else the artifact's file name).
    public var name: String
    /// The artifact's file name when registered.
    public var artifactName: String
    /// SHA-256 of the artifact's bytes, 64 lower-case hex digits.
    public var artifactSHA256: String
    /// The artifact's size in bytes.
    public var artifactBytes: UInt64
    /// The training snapshot's commit (64 hex in the JSON).
    public var snapshot: CommitID
    /// The revision as given (`main`, `cohort/es`, `v1`).
    public var revision: String
    /// The cohort predicate (SQL over `sample`) when the revision is a cohort branch, else nil.
    public var cohortPredicate: String?
    /// The commit the cohort was cut from, when known (64 hex in the JSON).
    public var cohortSource: CommitID?
    /// `classify`, `regress`, or what the trainer says; nil when not told.
    public var task: String?
    /// The label field the model predicts; nil when not told.
    public var labelField: String?
    /// Trainer parameters (`holdout` → `0.2`, `features` → `logmel`).
    public var parameters: [String: String]
    /// Samples the model was trained on.
    public var sampleCount: Int
    /// Their total duration in hours.
    public var hours: Double
    /// Samples per value of `labelField` (text form; empty string for samples without it); empty when no field.
    public var labelDistribution: [String: Int]
    /// The training code's version.
    public var code: CodeVersion
    /// dvs's version that wrote the record.
    public var dvsVersion: String
    /// The command line that produced the artifact (arguments, first is the program).
    public var commandLine: [String]
    /// When training started and ended (unix seconds, fractional).
    public var startTime: Double
    /// When training ended (unix seconds, fractional).
    public var endTime: Double
    /// Host name of the machine.
    public var host: String
    /// Free text (`-m`).
    public var message: String
    /// Who registered it (`Name <email>`).
    public var registeredBy: String
    /// The model's learned parameters, as its trainer counts them, when told at registration
    /// (`--parameter-count`); nil (absent from the JSON) when not told.
    public var parameterCount: Int?

    /// Creates a record from its parts.
    public init(
        name: String, artifactName: String, artifactSHA256: String, artifactBytes: UInt64, snapshot: CommitID, revision: String,
        cohortPredicate: String?, cohortSource: CommitID?, task: String?, labelField: String?, parameters: [String: String],
        sampleCount: Int, hours: Double, labelDistribution: [String: Int], code: CodeVersion, dvsVersion: String,
        commandLine: [String], startTime: Double, endTime: Double, host: String, message: String, registeredBy: String,
        parameterCount: Int? = nil
    ) {
        self.parameterCount = parameterCount
        self.name = name
        self.artifactName = artifactName
        self.artifactSHA256 = artifactSHA256
        self.artifactBytes = artifactBytes
        self.snapshot = snapshot
        self.revision = revision
        self.cohortPredicate = cohortPredicate
        self.cohortSource = cohortSource
        self.task = task
        self.labelField = labelField
        self.parameters = parameters
        self.sampleCount = sampleCount
        self.hours = hours
        self.labelDistribution = labelDistribution
        self.code = code
        self.dvsVersion = dvsVersion
        self.commandLine = commandLine
        self.startTime = startTime
        self.endTime = endTime
        self.host = host
        self.message = message
        self.registeredBy = registeredBy
    }
}

/// One evaluation of a model on a snapshot.
///
/// Stored as `dvs-eval 1\n` + canonical JSON (`schema/FORMAT.md` § Lineage records).
public struct EvalRecord: Hashable, Sendable, Codable {
    /// The model record evaluated (64 hex in the JSON).
    public var model: ModelID
    /// The evaluation snapshot's commit (64 hex in the JSON).
    public var snapshot: CommitID
    /// The revision as given.
    public var revision: String
    /// Overall metrics (`accuracy`, `macro_f1`, `mae`, `rtf`, `confusion` …), JSON values.
    public var metrics: [String: RecordValue]
    /// Per-slice metrics: slice name (`lang=de`) → metrics.
    public var slices: [String: [String: RecordValue]]
    /// Samples evaluated.
    public var sampleCount: Int
    /// Evaluation samples whose content hash was in the model's training snapshot.
    public var leakedSamples: Int
    /// The code version of the evaluator.
    public var code: CodeVersion
    /// dvs's version.
    public var dvsVersion: String
    /// The command line.
    public var commandLine: [String]
    /// Start and end (unix seconds).
    public var startTime: Double
    /// End (unix seconds).
    public var endTime: Double
    /// Host name.
    public var host: String

    /// Creates a record from its parts.
    public init(
        model: ModelID, snapshot: CommitID, revision: String, metrics: [String: RecordValue], slices: [String: [String: RecordValue]],
        sampleCount: Int, leakedSamples: Int, code: CodeVersion, dvsVersion: String, commandLine: [String],
        startTime: Double, endTime: Double, host: String
    ) {
        self.model = model
        self.snapshot = snapshot
        self.revision = revision
        self.metrics = metrics
        self.slices = slices
        self.sampleCount = sampleCount
        self.leakedSamples = leakedSamples
        self.code = code
        self.dvsVersion = dvsVersion
        self.commandLine = commandLine
        self.startTime = startTime
        self.endTime = endTime
        self.host = host
    }
}

/// Canonical bytes of lineage records: a version line then JSON with sorted keys and no spaces.
public enum LineageEncoding {
    /// First line of a model record.
    public static let modelHeader = Array("dvs-model 1\n".utf8)
    /// First line of an eval record.
    public static let evalHeader = Array("dvs-eval 1\n".utf8)

    /// The kind of a stored record, from its first line; nil for other objects.
    public static func kind(of bytes: [UInt8]) -> String? {
        if bytes.starts(with: modelHeader) { return "model" }
        if bytes.starts(with: evalHeader) { return "eval" }
        return nil
    }

    static func json<T: Encodable>(_ value: T) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try! e.encode(value))
    }

    /// The canonical bytes of a model record.
    public static func encode(_ r: ModelRecord) -> [UInt8] { modelHeader + json(r) }
    /// The canonical bytes of an eval record.
    public static func encode(_ r: EvalRecord) -> [UInt8] { evalHeader + json(r) }

    /// Decodes a model record. - Throws: `FormatError` when the header or JSON is wrong.
    public static func decodeModel(_ bytes: [UInt8]) throws(FormatError) -> ModelRecord {
        guard bytes.starts(with: modelHeader) else { throw .invalid("not a model record (first line is not 'dvs-model 1')", at: 0) }
        do { return try JSONDecoder().decode(ModelRecord.self, from: Data(bytes[modelHeader.count...])) } catch {
            throw .invalid("model record JSON: \(error)", at: modelHeader.count)
        }
    }

    /// Decodes an eval record. - Throws: `FormatError` when the header or JSON is wrong.
    public static func decodeEval(_ bytes: [UInt8]) throws(FormatError) -> EvalRecord {
        guard bytes.starts(with: evalHeader) else { throw .invalid("not an eval record (first line is not 'dvs-eval 1')", at: 0) }
        do { return try JSONDecoder().decode(EvalRecord.self, from: Data(bytes[evalHeader.count...])) } catch {
            throw .invalid("eval record JSON: \(error)", at: evalHeader.count)
        }
    }
}
