import DVSTestSupport
import Foundation
import Testing

/// A golden transcript for one CLI test: the commands a test runs through it, each with its whole
/// stdout, stderr and exit status, normalised (temp folders, ids, dates, durations, rates, host)
/// and compared at the end with `Tests/DVSCLITests/Golden/<Suite>/<test>.txt`.
///
/// With `RECORD_SNAPSHOTS=1` in the environment, ``verify(sourceLocation:)`` writes the file
/// instead of comparing (re-record on purpose, then review the diff before committing).
final class Golden {
    /// Where the golden files live: beside this source file, found from `#filePath` (a clone of
    /// the repository anywhere has them).
    static let folder: String = (#filePath as NSString).deletingLastPathComponent + "/Golden"

    /// Whether this run records golden files instead of comparing with them.
    static var recording: Bool { ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1" }

    /// The golden file this transcript compares with.
    let path: String
    /// Literal text replaced before any other rule (longest first): temp folders, pids.
    private var literals: [(String, String)]
    /// This machine's name, replaced as a whole word (lineage records name the host).
    private let host = ProcessInfo.processInfo.hostName
    /// Full 64-hex ids seen in any output run through this transcript (recorded or not), so that
    /// an abbreviation of one (even all digits) is recognised as that id.
    private var knownIDs: Set<String> = []
    /// Ids in order of first appearance in the transcript; the placeholder of `ids[i]` is `<id i+1>`.
    private var ids: [String] = []
    private var text = ""

    /// A transcript named after the test function and the file it is in.
    ///
    /// - Parameters:
    ///   - replacing: literal text to replace, e.g. `[dir: "$TMP"]` (a test's temp folder).
    ///   - variant: a suffix for parameterised tests (`pushCloneCommitPushPull.s3.txt`).
    ///   - test: the test function (`#function`); its parameter list is dropped.
    ///   - filePath: the test's source file; its base name is the suite's folder.
    init(replacing: [String: String] = [:], variant: String? = nil, test: String = #function, filePath: String = #filePath) {
        let suite = ((filePath as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = test.split(separator: "(").first.map(String.init) ?? test
        path = "\(Self.folder)/\(suite)/\(name)\(variant.map { "." + $0 } ?? "").txt"
        literals = replacing.map { ($0.key, $0.value) }
        // Lineage records keep the command line, whose first word is the binary's path.
        let binary = TestSupport.dvsBinary
        literals += [binary, (binary as NSString).standardizingPath, (binary as NSString).resolvingSymlinksInPath].map { ($0, "$DVS") }
        literals.append((TestSupport.packageRoot, "$REPO"))
        literals.sort { $0.0.count > $1.0.count }
    }

    /// Patterns (with their templates) this test adds to ``rules``.
    private var patterns: [(String, String)] = []

    /// Adds a literal replacement (for a value known only later, such as a pid).
    func replace(_ literal: String, with placeholder: String) {
        literals.append((literal, placeholder))
        literals.sort { $0.0.count > $1.0.count }
    }

    /// Adds a regular-expression replacement for what varies in this test only (`template` as
    /// NSRegularExpression writes it: `$1`, `\\$` for a dollar sign).
    func replace(matching pattern: String, with template: String) {
        patterns.append((pattern, template))
    }

    /// What of a command goes into the transcript.
    enum Part {
        /// The command, its exit status, stdout and stderr.
        case all
        /// The command, its exit status and stderr: for JSON on stdout, which holds timings
        /// (its structure is checked by the test instead).
        case stderr
        /// Nothing; the ids it prints are still learnt.
        case nothing
    }

    /// Runs the built `dvs` and appends the command and its whole output to the transcript.
    @discardableResult
    func dvs(_ args: String..., in dir: String, env: [String: String] = [:], record: Part = .all) throws -> TestSupport.Result {
        try run(args, in: dir, env: env, record: record)
    }

    /// ``dvs(_:in:env:record:)`` with the arguments as an array.
    @discardableResult
    func run(_ args: [String], in dir: String, env: [String: String] = [:], record: Part = .all) throws -> TestSupport.Result {
        let r = try TestSupport.dvs(args, in: dir, environment: env)
        append(args, in: dir, r, record)
        return r
    }

    /// Appends a result of a command run elsewhere (`args` as typed after `dvs`).
    func append(_ args: [String], in dir: String, _ r: TestSupport.Result, _ part: Part = .all) {
        learn(r.stdout + r.stderr)
        if part == .nothing { return }
        var block = "$ dvs " + args.map(Self.quote).joined(separator: " ") + "\n"
        block += "# in: \(dir)\n# exit: \(r.status)\n"
        if part == .stderr { block += "# (stdout not recorded)\n" }
        for (name, s) in [("stdout", part == .all ? r.stdout : ""), ("stderr", r.stderr)] where !s.isEmpty {
            block += "# \(name):\n" + s + (s.hasSuffix("\n") ? "" : "\n# (no newline at end)\n")
        }
        text += (text.isEmpty ? "" : "\n") + normalise(block)
    }

    /// Learns the full ids in `s` (so their abbreviations are recognised).
    func learn(_ s: String) {
        for t in Self.hexTokens(s) where t.count == 64 { knownIDs.insert(t) }
    }

    /// The normalised transcript so far.
    var transcript: String { text }

    /// Compares the transcript with its golden file (or writes it with `RECORD_SNAPSHOTS=1`);
    /// a difference is recorded as a test issue with the differing lines.
    func verify(sourceLocation: SourceLocation = #_sourceLocation) throws {
        if Self.recording {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return
        }
        guard let expected = try? String(contentsOfFile: path, encoding: .utf8) else {
            Issue.record(
                Comment(rawValue: "no golden file at \(path): record it with RECORD_SNAPSHOTS=1 swift test --filter DVSCLITests"),
                sourceLocation: sourceLocation)
            return
        }
        if expected != text {
            Issue.record(
                Comment(
                    rawValue: "output differs from \(path) (- expected, + actual; re-record on purpose with RECORD_SNAPSHOTS=1):\n"
                        + Self.diff(expected, text)), sourceLocation: sourceLocation)
        }
    }

    // MARK: Normalisation

    /// Replaces what legitimately varies between runs with placeholders.
    func normalise(_ s: String) -> String {
        var s = s
        for (literal, placeholder) in literals where !literal.isEmpty {
            s = s.replacingOccurrences(of: literal, with: placeholder)
        }
        s = s.replacingOccurrences(of: #"/tmp/dvs-test-[A-Za-z0-9]{6}"#, with: #"\$TMP"#, options: .regularExpression)
        if !host.isEmpty {
            let word = #"(?<![\w.-])"# + NSRegularExpression.escapedPattern(for: host) + #"(?![\w-])"#
            s = s.replacingOccurrences(of: word, with: #"\$HOST"#, options: .regularExpression)
        }
        for (pattern, template) in Self.rules + patterns {
            s = s.replacingOccurrences(of: pattern, with: template, options: .regularExpression)
        }
        return replaceIDs(s)
    }

    /// Patterns for what varies between runs: dates, durations of runs, rates, ports.
    static let rules: [(String, String)] = [
        // `Thu Dec 3 10:37:28 2026 +0000` (log, show).
        (#"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4} [+-]\d{4}"#, #"\$DATE"#),
        // `2026-12-03 10:37:28 UTC` (lineage) and ISO 8601.
        (#"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( UTC|Z|[+-]\d{2}:?\d{2})?"#, #"\$DATE"#),
        // How long a transfer took: `… 1.2 MiB in 0.3 s`.
        (#"\bin \d+\.\d s\b"#, #"in \$SECONDS s"#),
        // Rates: `12.3 MiB/s`, `45.1 samples/s`.
        (#"\b\d+(\.\d+)? ([KMGT]i)?B/s\b"#, #"\$RATE/s"#),
        (#"\b\d+(\.\d+)? samples/s\b"#, #"\$RATE samples/s"#),
        // Eval speed: `real-time factor 0.0123 (1.2 s for 30.0 s of audio)`.
        (#"real-time factor \d+(\.\d+)? \(\d+(\.\d+)? s for"#, #"real-time factor \$RTF (\$SECONDS s for"#),
        // Temporary files under `.dvs/tmp` end in six random characters (`pack-o38nQN`), run
        // folders in a pid and a counter (`run-3601-0`).
        (#"(/\.dvs/tmp/[a-z]+-)[A-Za-z0-9]{6}\b"#, "$1XXXXXX"),
        (#"(/\.dvs/tmp/[a-z]+-)\d+-\d+\b"#, #"$1\$PID-N"#),
        // The version dvs reports in lineage records.
        (#"\bdvs \d+\.\d+\.\d+\b"#, #"dvs \$VERSION"#),
        // A local server's port (moto).
        (#"(127\.0\.0\.1|localhost):\d+"#, #"$1:\$PORT"#),
    ]

    /// Runs of 7 or more hex digits standing alone (not inside a longer word).
    static func hexTokens(_ s: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var boundary = true
        for ch in s + " " {
            if ch.isHexDigit && ch.isASCII && !ch.isUppercase {
                cur.append(ch)
            } else {
                if cur.count >= 7 && boundary && !(ch.isLetter || ch == "_") { out.append(cur) }
                boundary = !(ch.isLetter || ch.isNumber || ch == "_")
                cur = ""
            }
        }
        return out
    }

    /// Replaces commit and object ids (full or abbreviated) with `<id N>`, numbered in order of
    /// first appearance in the transcript; an abbreviation of an id gets that id's number.
    func replaceIDs(_ s: String) -> String {
        var out = ""
        var cur = ""
        var boundary = true
        func flush(_ next: Character?) {
            defer { cur = "" }
            let alone = boundary && !(next.map { $0.isLetter || $0 == "_" } ?? false)
            guard alone, cur.count >= 7, let id = canonical(cur) else {
                out += cur
                return
            }
            out += "<id \(number(id))>"
        }
        for ch in s {
            if ch.isHexDigit && ch.isASCII && !ch.isUppercase {
                cur.append(ch)
                continue
            }
            flush(ch)
            out.append(ch)
            boundary = !(ch.isLetter || ch.isNumber || ch == "_")
        }
        flush(nil)
        return out
    }

    /// The id a hex token stands for, or nil when it is a number: a prefix of a known full id,
    /// or a token with a letter, or the lengths dvs prints ids at (12 and 64).
    private func canonical(_ t: String) -> String? {
        if let full = knownIDs.first(where: { $0.hasPrefix(t) }) { return full }
        if t.contains(where: \.isLetter) || t.count == 12 || t.count == 64 { return t }
        return nil
    }

    private func number(_ id: String) -> Int {
        if let i = ids.firstIndex(where: { $0.hasPrefix(id) || id.hasPrefix($0) }) {
            if id.count > ids[i].count { ids[i] = id }
            return i + 1
        }
        ids.append(id)
        return ids.count
    }

    // MARK: Presentation

    /// An argument as a shell would need it typed.
    static func quote(_ a: String) -> String {
        let plain = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_./:=@,+%~^"))
        if !a.isEmpty && a.unicodeScalars.allSatisfy({ plain.contains($0) }) { return a }
        return "'" + a.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The lines that differ, with two lines of context: `- expected`, `+ actual`.
    static func diff(_ expected: String, _ actual: String) -> String {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let d = a.difference(from: e)
        var removed = Set<Int>()
        var inserted = Set<Int>()
        for change in d {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var lines: [(Character, String)] = []
        var i = 0
        var j = 0
        while i < e.count || j < a.count {
            if i < e.count && removed.contains(i) {
                lines.append(("-", e[i]))
                i += 1
            } else if j < a.count && inserted.contains(j) {
                lines.append(("+", a[j]))
                j += 1
            } else {
                lines.append((" ", i < e.count ? e[i] : a[j]))
                i += 1
                j += 1
            }
        }
        let changed = lines.indices.filter { lines[$0].0 != " " }
        var out: [String] = []
        var last = -1
        for k in lines.indices where changed.contains(where: { abs($0 - k) <= 2 }) {
            if last >= 0 && k > last + 1 { out.append("  …") }
            out.append("\(lines[k].0) \(lines[k].1)")
            last = k
        }
        return out.joined(separator: "\n")
    }
}
