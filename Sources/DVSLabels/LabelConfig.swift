import DVSCore
import Foundation

/// The `[labels]` part of `dvs.toml` at the tree root (optional; see `schema/LABELS.md`).
///
/// ```toml
/// [labels]
/// duration_tolerance = 0.05          # seconds, default 0.05
/// ignore = ["meta/*.csv"]            # fnmatch globs of files never treated as label tables
///
/// [[labels.table]]                   # declare or override a table
/// path = "labels/train.csv"          # tree path (exact) or glob
/// format = "table"                   # hf-audiofolder | nemo | common-voice | label-studio | table
/// key = "file"                       # key column (default by format)
/// base = "audio"                     # folder the key is relative to (tree path); default by format
/// delimiter = ","                    # "," or "\t"; default from extension
/// quoting = "rfc4180"                # rfc4180 | none
/// [labels.table.types]               # column types: string | int | float | bool
/// age = "int"
///
/// [labels.sidecars]
/// deepgram = ["transcripts/{stem}.json"]   # {stem}, {dir}, {name}; relative to the tree root
///
/// [labels.schema.fields.score]       # per field: type, required, values, min, max
/// type = "float"
/// min = 0.0
/// max = 1.0
/// ```
public struct LabelConfig: Sendable, Hashable {
    /// How far a declared duration or region end may exceed the decoded audio, in seconds.
    public var durationTolerance: Double = 0.05
    /// fnmatch(3) globs (no `FNM_PATHNAME`: `*` also matches `/`) of files never read as labels.
    public var ignore: [String] = []
    /// Declared tables, in config order; the first whose `path` matches a file applies.
    public var tables: [TableDeclaration] = []
    /// Extra Deepgram sidecar patterns (`{stem}`, `{dir}`, `{name}` of the sample), tree-relative.
    public var deepgramPatterns: [String] = []
    /// Schema rules by field name.
    public var fields: [String: FieldRule] = [:]

    /// The defaults (no config file).
    public init() {}

    /// A column type a table or the schema may declare.
    public enum ValueType: String, Sendable, Hashable {
        /// Text, unchanged.
        case string
        /// Base-10 64-bit signed integer.
        case int
        /// IEEE 754 binary64.
        case float
        /// `true`/`false`/`1`/`0`/`yes`/`no` (case-insensitive).
        case bool
    }

    /// One `[[labels.table]]` entry.
    public struct TableDeclaration: Sendable, Hashable {
        /// Tree path or fnmatch glob.
        public var path: String
        /// `hf-audiofolder`, `nemo`, `common-voice`, `label-studio` or `table`; nil = detect.
        public var format: String?
        /// Key (audio path) column; nil = the format's default.
        public var key: String?
        /// Tree folder the key is relative to; nil = the format's default.
        public var base: String?
        /// Field separator byte; nil = from the extension.
        public var delimiter: UInt8?
        /// Quoting; nil = RFC 4180 for CSV, none for TSV.
        public var quoting: CSVReader.Quoting?
        /// Column types.
        public var types: [String: ValueType] = [:]
    }

    /// One `[labels.schema.fields.<name>]` entry.
    public struct FieldRule: Sendable, Hashable {
        /// Type cell text is converted to (when the table declares none).
        public var type: ValueType?
        /// Whether every row of a table with this column, and every labeled sample, must have a non-empty value.
        public var required = false
        /// Allowed values (compared as text), nil = any.
        public var values: [String]?
        /// Smallest allowed number.
        public var min: Double?
        /// Largest allowed number.
        public var max: Double?
    }

    /// Whether `path` matches an `ignore` glob.
    public func isIgnored(_ path: String) -> Bool { ignore.contains { globMatches($0, path) } }

    /// The declaration that applies to `path`, if any.
    public func declaration(for path: String) -> TableDeclaration? {
        tables.first { $0.path == path || globMatches($0.path, path) }
    }

    /// Parses `dvs.toml`. Never throws: problems come back as findings on `file`.
    /// - Returns: the config (defaults where the file is silent or wrong) and findings: an error
    ///   `config` with its line when the TOML does not parse (a NUL byte, invalid UTF-8 and a
    ///   malformed header included: ``TOMLDocument``), errors `config` for values of the wrong
    ///   type, warnings `unknown-config-key` for keys this version does not know.
    public static func parse(_ text: String, file: String) -> (config: LabelConfig, findings: [LabelFinding]) {
        parse(Array(text.utf8), file: file)
    }

    /// Parses the bytes of `dvs.toml`, as ``parse(_:file:)`` does.
    public static func parse(_ bytes: [UInt8], file: String) -> (config: LabelConfig, findings: [LabelFinding]) {
        let root: TOMLTable
        do { root = try TOMLDocument.parse(bytes) } catch {
            return (
                LabelConfig(),
                [
                    LabelFinding(
                        .error, "config", file: file, line: error.line, "cannot parse config: \(error.message)",
                        hint: "fix the TOML syntax")
                ]
            )
        }
        var reader = ConfigReader(file: file)
        let config = reader.read(root)
        return (config, reader.findings)
    }
}

/// fnmatch(3) without flags.
func globMatches(_ pattern: String, _ path: String) -> Bool { fnmatch(pattern, path, 0) == 0 }

/// Walks the TOML tree, collecting findings.
private struct ConfigReader {
    let file: String
    var findings: [LabelFinding] = []

    mutating func read(_ root: TOMLTable) -> LabelConfig {
        var config = LabelConfig()
        // A misspelt `[labels]` would otherwise leave the whole configuration unread in silence.
        for k in root.keys.sorted() where k != "labels" {
            findings.append(
                LabelFinding(
                    .warning, "unknown-config-key", file: file, "unknown key '\(k)' is ignored",
                    hint: "check the spelling; dvs.toml holds the table [labels] and the tables below it"))
        }
        guard let labels = root["labels"]?.table else { return config }
        warnUnknown(labels, known: ["duration_tolerance", "ignore", "table", "sidecars", "schema"], at: "labels")
        if let t = labels["duration_tolerance"] {
            config.durationTolerance = number(t, "labels.duration_tolerance") ?? config.durationTolerance
        }
        if let i = labels["ignore"] { config.ignore = strings(i, "labels.ignore") }
        if let tables = labels["table"]?.array {
            for t in tables { if let table = t.table, let d = declaration(table) { config.tables.append(d) } }
        } else if labels["table"] != nil {
            wrong("labels.table", "an array of tables: write [[labels.table]] (two brackets), each with a path")
        }
        if let sidecars = labels["sidecars"]?.table {
            warnUnknown(sidecars, known: ["deepgram"], at: "labels.sidecars")
            if let d = sidecars["deepgram"] { config.deepgramPatterns = strings(d, "labels.sidecars.deepgram") }
        }
        if let schema = labels["schema"]?.table {
            warnUnknown(schema, known: ["fields"], at: "labels.schema")
            for (name, value) in schema["fields"]?.table.map(pairs) ?? [] {
                if let t = value.table { config.fields[name] = rule(t, "labels.schema.fields.\(name)") }
            }
        }
        return config
    }

    func pairs(_ t: TOMLTable) -> [(String, TOMLValue)] { t.keys.compactMap { k in t[k].map { (k, $0) } } }

    mutating func declaration(_ t: TOMLTable) -> LabelConfig.TableDeclaration? {
        warnUnknown(t, known: ["path", "format", "key", "base", "delimiter", "quoting", "types"], at: "labels.table")
        guard let path = t["path"]?.string else {
            wrong("labels.table.path", "a string")
            return nil
        }
        var d = LabelConfig.TableDeclaration(path: path)
        d.format = t["format"]?.string
        if let f = d.format, !["hf-audiofolder", "nemo", "common-voice", "label-studio", "table"].contains(f) {
            wrong("labels.table.format", "one of hf-audiofolder, nemo, common-voice, label-studio, table")
            d.format = nil
        }
        d.key = t["key"]?.string
        d.base = t["base"]?.string
        if let del = t["delimiter"]?.string {
            if del == "," || del == "\t" { d.delimiter = del.utf8.first } else { wrong("labels.table.delimiter", "\",\" or \"\\t\"") }
        }
        if let q = t["quoting"]?.string {
            if let quoting = CSVReader.Quoting(rawValue: q) {
                d.quoting = quoting
            } else {
                wrong("labels.table.quoting", "rfc4180 or none")
            }
        }
        for (column, v) in t["types"]?.table.map(pairs) ?? [] {
            if let type = v.string.flatMap(LabelConfig.ValueType.init) {
                d.types[column] = type
            } else {
                wrong("labels.table.types.\(column)", "string, int, float or bool")
            }
        }
        return d
    }

    mutating func rule(_ t: TOMLTable, _ at: String) -> LabelConfig.FieldRule {
        warnUnknown(t, known: ["type", "required", "values", "min", "max"], at: at)
        var r = LabelConfig.FieldRule()
        if let s = t["type"] {
            if let type = s.string.flatMap(LabelConfig.ValueType.init) {
                r.type = type
            } else {
                wrong("\(at).type", "string, int, float or bool")
            }
        }
        r.required = t["required"]?.bool ?? false
        if let v = t["values"]?.array { r.values = v.map { $0.string ?? $0.int.map(String.init) ?? $0.double.map { "\($0)" } ?? "\($0)" } }
        if let m = t["min"] { r.min = number(m, "\(at).min") }
        if let m = t["max"] { r.max = number(m, "\(at).max") }
        return r
    }

    mutating func number(_ v: TOMLValue, _ key: String) -> Double? {
        if let d = v.double { return d }
        if let i = v.int { return Double(i) }
        wrong(key, "a number")
        return nil
    }

    mutating func strings(_ v: TOMLValue, _ key: String) -> [String] {
        guard let a = v.array else {
            wrong(key, "an array of strings")
            return []
        }
        return a.compactMap(\.string)
    }

    mutating func wrong(_ key: String, _ expected: String) {
        findings.append(LabelFinding(.error, "config", file: file, "\(key) must be \(expected)", hint: "see schema/LABELS.md"))
    }

    mutating func warnUnknown(_ t: TOMLTable, known: Set<String>, at: String) {
        for k in t.keys where !known.contains(k) {
            findings.append(
                LabelFinding(
                    .warning, "unknown-config-key", file: file, "unknown key '\(at).\(k)' is ignored",
                    hint: "check the spelling; known keys: \(known.sorted().joined(separator: ", "))"))
        }
    }
}
