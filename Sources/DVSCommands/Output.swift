import DVS
import DVSCore
import DVSLabels
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writing to stdout/stderr, JSON, sizes and progress — the only place dvs talks to the user.
enum Output {
    static func out(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }
    static func err(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    // MARK: JSON — every `--json` output goes through `json(_:)` or `jsonObject(_:)`, with these settings.

    /// How every `--json` document is written: pretty-printed, keys sorted, `/` not escaped.
    static let jsonWritingOptions: JSONSerialization.WritingOptions = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]

    /// The encoder for `Encodable` values in JSON output: the same formatting as
    /// ``jsonWritingOptions``, property names in snake_case (`artifact_sha256`) unless
    /// `snakeCase` is false (values whose coding keys are already the output's).
    static func jsonEncoder(snakeCase: Bool = true) -> JSONEncoder {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if snakeCase { enc.keyEncodingStrategy = .convertToSnakeCase }
        return enc
    }

    /// An encodable value as a JSONSerialization value (to merge into a dictionary for ``jsonObject(_:)``).
    static func jsonValue<T: Encodable>(_ value: T, snakeCase: Bool = true) throws -> Any {
        try JSONSerialization.jsonObject(with: jsonEncoder(snakeCase: snakeCase).encode(value))
    }

    /// Pretty, key-sorted JSON of an encodable value, on stdout.
    static func json<T: Encodable>(_ value: T) throws { writeJSON(try jsonEncoder().encode(value)) }

    /// Pretty, key-sorted JSON of a JSONSerialization value (dictionaries, arrays, NSNull), on stdout.
    static func jsonObject(_ value: Any) throws {
        writeJSON(try JSONSerialization.data(withJSONObject: value, options: jsonWritingOptions))
    }

    /// A JSON document on stdout, one newline after it.
    private static func writeJSON(_ data: Data) { out(String(decoding: data, as: UTF8.self)) }

    /// `1 sample`, `2 samples`, `0 samples`: a count with its noun, plural unless it is one.
    static func count(_ n: some BinaryInteger, _ noun: String, plural: String? = nil) -> String { counted(n, noun, plural: plural) }

    /// `1 of 5 samples has no 'speaker' label and was skipped`, verbs agreeing with `skipped`.
    /// - Parameter qualifier: text after the label's name (` (or a non-numeric one)`).
    static func skippedWithoutLabel(_ skipped: Int, of total: Int, label: String, qualifier: String = "") -> String {
        "\(skipped) of \(count(total, "sample")) \(skipped == 1 ? "has" : "have") no '\(label)' label\(qualifier) and \(skipped == 1 ? "was" : "were") skipped"
    }

    /// `1.5 MiB`.
    static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
    }

    /// `0.12 h`, or minutes/seconds for short amounts.
    static func hours(_ h: Double) -> String {
        if h >= 0.1 { return String(format: "%.2f h", h) }
        if h * 60 >= 1 { return String(format: "%.1f min", h * 60) }
        return String(format: "%.1f s", h * 3600)
    }

    static func warn(_ w: ScanWarning) { err("warning: \(w.path): \(w.message)") }

    /// Label findings on stderr, at most 10 of each code, then a count of the rest.
    static func findings(_ fs: [LabelFinding]) {
        var shown: [String: Int] = [:]
        for f in fs {
            let n = shown[f.code, default: 0]
            shown[f.code] = n + 1
            if n < 10 { err(f.description) }
        }
        for (code, n) in shown.sorted(by: { $0.key < $1.key }) where n > 10 {
            err("… and \(n - 10) more '\(code)' findings (dvs diff --json lists them all)")
        }
    }

    /// The label sources of a commit, grouped by format when there are many.
    static func labelSources(_ tables: [LabelTableInfo]) -> String {
        let sources = tables.filter { $0.format != "config" }
        if sources.count <= 5 {
            return sources.map { "\($0.path) (\($0.format), \($0.records) record\($0.records == 1 ? "" : "s"))" }.joined(separator: ", ")
        }
        let byFormat = Dictionary(grouping: sources, by: \.format)
        return byFormat.keys.sorted().map { f in
            let group = byFormat[f]!
            return "\(group.count) \(f) file\(group.count == 1 ? "" : "s") (\(group.reduce(0) { $0 + $1.records }) records)"
        }.joined(separator: ", ")
    }

    /// A progress callback drawing one line on stderr, only when stderr is a terminal: items,
    /// bytes, and for transfers (known total bytes) the rate and an ETA.
    static func progress() -> ProgressHandler? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        let last = LastDraw()
        return { p in
            let now = Date().timeIntervalSince1970
            let finished = p.total > 0 && p.done == p.total
            guard let since = last.shouldDraw(now, final: finished, phase: p.phase.rawValue, done: p.done, bytes: p.bytes) else { return }
            FileHandle.standardError.write(Data(("\r" + progressLine(p, elapsed: now - since) + "\u{1B}[K").utf8))
            if p.total > 0 && p.done == p.total { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        }
    }

    /// One progress line: `upload: 40% (2/5), 12.0 MiB, 4.0 MiB/s, ETA 5 s`. The rate is over
    /// `elapsed` seconds, the time since the phase began (the listing before an upload is not
    /// part of it), shown past half a second; the ETA only while bytes are left and the phase
    /// is not done.
    static func progressLine(_ p: DVS.Progress, elapsed: Double) -> String {
        let finished = p.total > 0 && p.done == p.total
        let pct = p.total > 0 ? " \(p.done * 100 / p.total)%" : ""
        var line = "\(p.phase.rawValue):\(pct) (\(p.done)/\(p.total))" + (p.bytes > 0 ? ", \(bytes(p.bytes))" : "")
        if p.totalBytes > 0 || p.phase.isTransfer, elapsed > 0.5, p.bytes > 0 {
            let rate = Double(p.bytes) / elapsed
            line += ", \(bytes(UInt64(rate)))/s"
            if p.totalBytes > p.bytes, !finished { line += String(format: ", ETA %.0f s", Double(p.totalBytes - p.bytes) / rate) }
        }
        return line
    }

    /// When to draw the next progress line, and since when the phase runs.
    final class LastDraw: @unchecked Sendable {
        let lock = NSLock()
        var t = 0.0
        var phase = ""
        var phaseStart = 0.0
        var done = 0
        var bytes: UInt64 = 0
        /// When the progress's phase began (its first report: a new phase name, or a report of
        /// nothing done after some was, a second meter of the same phase; reports of several
        /// threads may arrive out of order, so counts that merely go down do not restart it),
        /// or nil when nothing is to be drawn now (less than 0.1 s since the last line, unless
        /// the phase is done).
        func shouldDraw(_ now: Double, final: Bool, phase: String, done: Int, bytes: UInt64) -> Double? {
            lock.withLock {
                let restarted = done == 0 && bytes == 0 && (self.done > 0 || self.bytes > 0)
                if phase != self.phase || restarted { (self.phase, phaseStart) = (phase, now) }
                (self.done, self.bytes) = (done, bytes)
                if !final && now - t < 0.1 { return nil }
                t = now
                return phaseStart
            }
        }
    }

    /// `Thu Dec 3 18:43:37 2026 +0000`: `time` (s since 1970) at the offset `tzMinutes` east of UTC,
    /// as `DateFormatter` writes `EEE MMM d HH:mm:ss yyyy Z` in `en_US_POSIX`. Computed here for
    /// years 1600–9999 and offsets up to 18 h (creating a `DateFormatter` costs ≈1 ms of ICU set-up,
    /// a tenth of `dvs log -n 1`); other values, which no real commit has, go through `DateFormatter`.
    static func date(_ time: Int64, tzMinutes: Int) -> String {
        if let t = CivilTime(time, offsetSeconds: Int64(tzMinutes) * 60) {
            let sign = tzMinutes < 0 ? "-" : "+"
            let m = abs(tzMinutes)
            return "\(t.weekdayName) \(t.monthName) \(t.day) \(t.clock) \(t.year) \(sign)\(CivilTime.pad(m / 60))\(CivilTime.pad(m % 60))"
        }
        return formatterDate(time, tzMinutes: tzMinutes)
    }

    /// ``date(_:tzMinutes:)`` through `DateFormatter`: values out of ``CivilTime``'s range, and the reference in tests.
    static func formatterDate(_ time: Int64, tzMinutes: Int) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: tzMinutes * 60)
        f.dateFormat = "EEE MMM d HH:mm:ss yyyy Z"
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }
}

/// A moment as a proleptic Gregorian calendar date and clock time at a fixed offset from UTC, for
/// the dates dvs prints (`dvs log`, `show`, `models`, `audit`) without ICU's `DateFormatter`.
/// Only years 1600–9999 and offsets up to 18 h: before 1583 ICU's calendar is Julian, and
/// `TimeZone(secondsFromGMT:)` refuses larger offsets.
struct CivilTime {
    /// The year (1600–9999).
    var year: Int64
    /// The month, 1–12.
    var month: Int64
    /// The day of the month, 1–31.
    var day: Int64
    /// The day of the week, 0 Sunday … 6 Saturday.
    var weekday: Int64
    /// Seconds since midnight, 0–86399.
    var secondOfDay: Int64

    /// `seconds` (since 1970, UTC) at `offsetSeconds` east of UTC; nil out of the range above.
    init?(_ seconds: Int64, offsetSeconds: Int64) {
        guard abs(offsetSeconds) <= 18 * 3600, seconds > -11_676_096_000 - 86_400, seconds < 253_402_300_800 + 86_400 else {
            return nil
        }
        let local = seconds + offsetSeconds
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        secondOfDay = local - days * 86_400
        weekday = ((days + 4) % 7 + 7) % 7  // 1970-01-01 was a Thursday
        // Days to civil date (H. Hinnant, "chrono-compatible low-level date algorithms").
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        guard (1600...9999).contains(year) else { return nil }
    }

    /// `Sun` … `Sat`.
    var weekdayName: String { ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][Int(weekday)] }
    /// `Jan` … `Dec`.
    var monthName: String { ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Int(month - 1)] }
    /// `HH:mm:ss`.
    var clock: String { "\(Self.pad(secondOfDay / 3600)):\(Self.pad(secondOfDay / 60 % 60)):\(Self.pad(secondOfDay % 60))" }

    /// `n` (0–99) in two digits.
    static func pad<N: BinaryInteger>(_ n: N) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// JSON shapes for read commands (snake_case keys, units in the names).
// JSON output keys are snake_case, units in the names.
// swift-format-ignore: AlwaysUseLowerCamelCase
struct JSONAudio: Encodable {
    var container: String
    var encoding: String
    var sample_rate_hz: Int
    var channels: Int
    var frames: Int
    var duration_seconds: Double
    var channel_peak: [Double]?
    var channel_rms_dbfs: [Double?]?
    init(_ a: AudioFacts) {
        container = a.container
        encoding = a.encoding
        sample_rate_hz = a.sampleRate
        channels = a.channelCount
        frames = a.frameCount
        duration_seconds = (a.duration * 1e6).rounded() / 1e6
        if !a.peak.isEmpty {
            channel_peak = a.peak.map { (Double($0) * 1e6).rounded() / 1e6 }
            channel_rms_dbfs = a.rmsDBFS.map { $0.map { ($0 * 100).rounded() / 100 } }
        }
    }
}

// JSON output keys are snake_case, units in the names.

// swift-format-ignore: AlwaysUseLowerCamelCase
struct JSONEntry: Encodable {
    var path: String
    var kind: String
    var blob: String
    var size_bytes: UInt64
    var link_target: String?
    var audio: JSONAudio?
    var labels: [String: JSONLabel]?
    var transcript: JSONTranscript?
    var segments: Int?
    init(_ e: ManifestEntry) {
        path = e.path.string
        kind =
            switch e.kind {
            case .file: "file"
            case .executable: "executable"
            case .symlink: "symlink"
            }
        blob = e.blob.hex
        size_bytes = e.byteCount
        link_target = e.kind == .symlink ? String(decoding: e.linkTarget, as: UTF8.self) : nil
        audio = e.audio.map(JSONAudio.init)
        if let n = e.annotations {
            labels = Dictionary(n.labels.map { ($0.name, JSONLabel($0.value)) }, uniquingKeysWith: { a, _ in a })
            transcript = n.transcript.map(JSONTranscript.init)
            segments = n.segments.isEmpty ? nil : n.segments.count
        }
    }
}

/// A label value as its JSON type.
struct JSONLabel: Encodable {
    var value: LabelValue
    init(_ v: LabelValue) { value = v }
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        }
    }
}

// JSON output keys are snake_case, units in the names.

// swift-format-ignore: AlwaysUseLowerCamelCase
struct JSONTranscript: Encodable {
    var source: String
    var text: String
    var language: String?
    var confidence: Double?
    var mean_word_confidence: Double?
    var word_count: Int
    var speaker_count: Int
    var words: String?
    init(_ t: TranscriptSummary) {
        source = t.source
        text = t.text
        language = t.language
        confidence = t.confidence
        mean_word_confidence = t.meanWordConfidence
        word_count = t.wordCount
        speaker_count = t.speakerCount
        words = t.words?.hex
    }
}

// JSON output keys are snake_case, units in the names.

// swift-format-ignore: AlwaysUseLowerCamelCase
struct JSONTotals: Encodable {
    var files: UInt64
    var samples: UInt64
    var bytes: UInt64
    var audio_seconds: Double
    var audio_hours: Double
    init(_ t: ManifestTotals) {
        files = t.fileCount
        samples = t.sampleCount
        bytes = t.byteCount
        audio_seconds = Double(t.audioMicroseconds) / 1e6
        audio_hours = (t.audioHours * 1e6).rounded() / 1e6
    }
}

// JSON output keys are snake_case, units in the names.

// swift-format-ignore: AlwaysUseLowerCamelCase
struct JSONSignature: Encodable {
    var name: String
    var email: String
    var time: Int64
    var tz_offset_minutes: Int
    init(_ s: Signature) {
        name = s.name
        email = s.email
        time = s.time
        tz_offset_minutes = s.timeZoneOffsetMinutes
    }
}

struct JSONCommit: Encodable {
    var id: String
    var parents: [String]
    var manifest: String
    var author: JSONSignature
    var committer: JSONSignature
    var message: String
    var totals: JSONTotals
    var extra: [String: String]?
    init(_ id: CommitID, _ c: Commit) {
        self.id = id.hex
        parents = c.parents.map(\.hex)
        manifest = c.manifest.hex
        author = JSONSignature(c.author)
        committer = JSONSignature(c.committer)
        message = c.message
        totals = JSONTotals(c.totals)
        extra = c.extra.isEmpty ? nil : c.extra
    }
}

struct JSONChange: Encodable {
    var status: String
    var path: String
    var old: JSONEntry?
    var new: JSONEntry?
    init(_ c: Change) {
        status = c.kind.rawValue
        path = c.path.string
        old = c.old.map(JSONEntry.init)
        new = c.new.map(JSONEntry.init)
    }
}

extension Change {
    /// `new:`, `modified:`, `deleted:` with padding, as git status prints.
    var label: String {
        switch kind {
        case .added: return "new:      "
        case .modified: return "modified: "
        case .deleted: return "deleted:  "
        }
    }
    var letter: String {
        switch kind {
        case .added: "A"
        case .modified: "M"
        case .deleted: "D"
        }
    }
}
