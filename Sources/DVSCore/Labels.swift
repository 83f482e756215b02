import Foundation

/// The label model of a snapshot: what the label tables and transcription sidecars of a tree say
/// about each sample. Pure data; parsing lives in `DVSLabels`, storage in the manifest
/// (`schema/FORMAT.md` § Sample annotations).

/// One typed label value.
///
/// Values keep the type their source gave them or the config declared. A column nobody declared
/// stays a string, so a speaker id `007` keeps its zeros (pandas would read it as `7`).
public enum LabelValue: Hashable, Sendable {
    /// An empty cell or a JSON `null`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A whole number (64-bit signed).
    case int(Int64)
    /// A floating-point number (IEEE 754 binary64).
    case double(Double)
    /// Text, exactly as written (after CSV unquoting).
    case string(String)

    /// The value as text, as a user would write it: `null` is empty, doubles use the shortest
    /// form that reads back the same (`0.5`, `3.04`).
    public var text: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        case .string(let s): return s
        }
    }

    /// The value as a number when it is one (int or double); nil otherwise.
    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
}

extension LabelValue {
    /// The value as `JSONSerialization` takes it: `NSNull` for null, else Bool, Int, Double or String.
    public var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .double(let d): return d
        case .string(let s): return s
        }
    }
}

/// A named label value. Fields of a sample are kept sorted by name so equal label sets encode equally.
public struct LabelField: Hashable, Sendable {
    /// The field (column) name, e.g. `speaker_id`, `lang`, `label`.
    public var name: String
    /// Its value.
    public var value: LabelValue
    /// Creates a field.
    public init(_ name: String, _ value: LabelValue) {
        self.name = name
        self.value = value
    }
}

/// A time span of a sample with labels of its own: a NeMo manifest line with `offset`, a Label
/// Studio region.
public struct LabelSegment: Hashable, Sendable {
    /// Start, seconds from the start of the file.
    public var start: Double
    /// End, seconds from the start of the file (≥ `start`).
    public var end: Double
    /// Audio channel the span is on, from 0; nil when the source does not say.
    public var channel: Int?
    /// The label file (tree path) the segment came from.
    public var source: String
    /// The segment's fields, sorted by name.
    public var labels: [LabelField]
    /// Creates a segment.
    public init(start: Double, end: Double, channel: Int? = nil, source: String, labels: [LabelField]) {
        self.start = start
        self.end = end
        self.channel = channel
        self.source = source
        self.labels = labels
    }
}

/// One transcribed word (Deepgram `results.channels[c].alternatives[0].words[i]`).
public struct TranscriptWord: Hashable, Sendable {
    /// The word as punctuated when the response has `punctuated_word`, else `word`.
    public var text: String
    /// Start, seconds from file start.
    public var start: Double
    /// End, seconds from file start.
    public var end: Double
    /// Recognition confidence, 0…1.
    public var confidence: Double
    /// Diarization cluster label (per file, not an identity); nil without diarization.
    public var speaker: Int?
    /// Audio channel, from 0.
    public var channel: Int
    /// Creates a word.
    public init(text: String, start: Double, end: Double, confidence: Double, speaker: Int? = nil, channel: Int = 0) {
        self.text = text
        self.start = start
        self.end = end
        self.confidence = confidence
        self.speaker = speaker
        self.channel = channel
    }
}

/// One channel's transcript of a multichannel response.
public struct ChannelTranscript: Hashable, Sendable {
    /// Audio channel, from 0.
    public var channel: Int
    /// The transcript text (may be empty: no speech is valid data).
    public var text: String
    /// Detected language (BCP-47 code such as `en`), when language detection ran.
    public var language: String?
    /// The alternative's confidence, 0…1.
    public var confidence: Double?
    /// Creates a channel transcript.
    public init(channel: Int, text: String, language: String? = nil, confidence: Double? = nil) {
        self.channel = channel
        self.text = text
        self.language = language
        self.confidence = confidence
    }
}

/// What a transcription sidecar (a Deepgram `/v1/listen` response) says about a sample.
public struct TranscriptSummary: Hashable, Sendable {
    /// The sidecar's tree path.
    public var source: String
    /// All channels' transcripts joined by a newline, channel order.
    public var text: String
    /// Detected language of the first channel that has one.
    public var language: String?
    /// Deepgram's own transcript confidence, `results.channels[c].alternatives[0].confidence`
    /// (0…1): the channel's value for a mono response, the lowest channel's for a multichannel
    /// one; nil only when no channel has one. An empty hang-up keeps Deepgram's 0.0.
    public var confidence: Double?
    /// Mean of `results.channels[].alternatives[0].words[].confidence` over all words (0…1); nil
    /// when there are no words.
    public var meanWordConfidence: Double?
    /// Words over all channels.
    public var wordCount: Int
    /// Diarized parties: distinct (channel, word `speaker`) pairs, because Deepgram numbers the
    /// speakers of each channel from 0 (0 without diarization).
    public var speakerCount: Int
    /// True for a summary read from an older repository (annotation transcript tag 1) whose
    /// `speakerCount` counted distinct speaker numbers over all channels, for a multichannel
    /// diarized response; `recountSpeakers(_:)` corrects it from the words. Stored again in the
    /// older form while set.
    public var speakersCountedAcrossChannels: Bool = false
    /// Recounts `speakerCount` as distinct (channel, speaker) pairs of `words` (the summary's
    /// words object) and clears `speakersCountedAcrossChannels`.
    public mutating func recountSpeakers(_ words: [TranscriptWord]) {
        speakerCount = Self.parties(words)
        speakersCountedAcrossChannels = false
    }
    /// Distinct (channel, speaker) pairs among `words` that carry a speaker.
    public static func parties(_ words: [TranscriptWord]) -> Int {
        var seen = Set<Int64>()
        for w in words { if let s = w.speaker { seen.insert(Int64(w.channel) << 32 | Int64(s & 0xFFFF_FFFF)) } }
        return seen.count
    }
    /// Per-channel transcripts (one entry for a mono response).
    public var channels: [ChannelTranscript]
    /// The words object (`TranscriptWords` encoding), when there are words; the sample references it.
    public var words: ObjectID?
    /// Creates a summary.
    public init(
        source: String, text: String, language: String? = nil, confidence: Double? = nil, meanWordConfidence: Double? = nil,
        wordCount: Int = 0, speakerCount: Int = 0, channels: [ChannelTranscript] = [], words: ObjectID? = nil
    ) {
        self.source = source
        self.text = text
        self.language = language
        self.confidence = confidence
        self.meanWordConfidence = meanWordConfidence
        self.wordCount = wordCount
        self.speakerCount = speakerCount
        self.channels = channels
        self.words = words
    }
}

/// Everything the labels of a tree say about one sample.
public struct SampleAnnotations: Hashable, Sendable {
    /// Whole-file label fields, sorted by name.
    public var labels: [LabelField]
    /// Time spans with labels (NeMo segments, Label Studio regions), in source order.
    public var segments: [LabelSegment]
    /// The transcription sidecar's summary, if one belongs to this sample.
    public var transcript: TranscriptSummary? {
        get { transcriptBox?.value }
        set { transcriptBox = newValue.map(TranscriptBox.init) }
    }
    /// The summary out of line: most samples have none, and inline it would add ≈120 bytes to
    /// every annotation and manifest entry (a million of them in a large tree).
    private var transcriptBox: TranscriptBox?
    /// Tree paths of the label files that contributed, sorted.
    public var sources: [String]

    /// Creates annotations.
    public init(labels: [LabelField] = [], segments: [LabelSegment] = [], transcript: TranscriptSummary? = nil, sources: [String] = []) {
        self.labels = labels
        self.segments = segments
        self.transcriptBox = transcript.map(TranscriptBox.init)
        self.sources = sources
    }

    /// Whether there is nothing to store.
    public var isEmpty: Bool { labels.isEmpty && segments.isEmpty && transcript == nil }

    /// The value of field `name`, if present.
    public subscript(label name: String) -> LabelValue? { labels.first { $0.name == name }?.value }
}

/// A transcript summary held by reference (immutable: a change makes a new box), compared and
/// hashed by value, so ``SampleAnnotations`` keeps its value semantics.
private final class TranscriptBox: Hashable, Sendable {
    let value: TranscriptSummary
    init(_ value: TranscriptSummary) { self.value = value }
    static func == (a: TranscriptBox, b: TranscriptBox) -> Bool { a.value == b.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

// MARK: - Canonical encoding (manifest format 2, `schema/FORMAT.md` § Sample annotations)

extension ByteWriter {
    /// Writes a Double as the little-endian bits of IEEE 754 binary64.
    mutating func write(double d: Double) { write(u64: d.bitPattern) }
    /// Writes an optional string: 0, or 1 then the length-prefixed UTF-8.
    mutating func write(optionalString s: String?) {
        if let s {
            write(byte: 1)
            write(lengthPrefixed: Array(s.utf8))
        } else {
            write(byte: 0)
        }
    }
    /// Writes an optional Double: 0, or 1 then its bits.
    mutating func write(optionalDouble d: Double?) {
        if let d {
            write(byte: 1)
            write(double: d)
        } else {
            write(byte: 0)
        }
    }
    /// Writes a string, length-prefixed UTF-8.
    mutating func write(string s: String) { write(lengthPrefixed: Array(s.utf8)) }

    /// Writes label fields: count, then name and tagged value each.
    mutating func write(labels: [LabelField]) {
        write(varint: UInt64(labels.count))
        for f in labels {
            write(string: f.name)
            switch f.value {
            case .null: write(byte: 0)
            case .bool(let b): write(byte: b ? 2 : 1)
            case .int(let i):
                write(byte: 3)
                write(varint: UInt64(bitPattern: (i << 1) ^ (i >> 63)))
            case .double(let d):
                write(byte: 4)
                write(double: d)
            case .string(let s):
                write(byte: 5)
                write(string: s)
            }
        }
    }

    /// Writes sample annotations in their canonical form.
    public mutating func write(annotations a: SampleAnnotations) {
        write(labels: a.labels)
        write(varint: UInt64(a.segments.count))
        for s in a.segments {
            write(double: s.start)
            write(double: s.end)
            write(varint: s.channel.map { UInt64($0) + 1 } ?? 0)
            write(string: s.source)
            write(labels: s.labels)
        }
        if let t = a.transcript {
            // Tag 2: Deepgram's confidence, then the mean word confidence. Tag 1 (older
            // repositories) had only the mean word confidence, and a speaker count over all
            // channels; a summary still carrying that count is written back as it was read.
            let legacy = t.speakersCountedAcrossChannels
            write(byte: legacy ? 1 : 2)
            write(string: t.source)
            write(string: t.text)
            write(optionalString: t.language)
            write(optionalDouble: legacy ? t.meanWordConfidence : t.confidence)
            if !legacy { write(optionalDouble: t.meanWordConfidence) }
            write(varint: UInt64(t.wordCount))
            write(varint: UInt64(t.speakerCount))
            write(varint: UInt64(t.channels.count))
            for c in t.channels {
                write(varint: UInt64(c.channel))
                write(string: c.text)
                write(optionalString: c.language)
                write(optionalDouble: c.confidence)
            }
            if let w = t.words {
                write(byte: 1)
                write(w.bytes)
            } else {
                write(byte: 0)
            }
        } else {
            write(byte: 0)
        }
        write(varint: UInt64(a.sources.count))
        for s in a.sources { write(string: s) }
    }
}

extension ByteReader {
    mutating func readDouble() throws(FormatError) -> Double { Double(bitPattern: try readU64()) }
    mutating func readString() throws(FormatError) -> String { String(decoding: try readLengthPrefixed(), as: UTF8.self) }
    mutating func readFlag() throws(FormatError) -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        default: throw .invalid("bad presence flag", at: offset - 1)
        }
    }
    mutating func readOptionalString() throws(FormatError) -> String? { try readFlag() ? try readString() : nil }
    mutating func readOptionalDouble() throws(FormatError) -> Double? { try readFlag() ? try readDouble() : nil }

    mutating func readLabels() throws(FormatError) -> [LabelField] {
        let n = try readInt(limit: min(1 << 20, bytes.count - offset))
        var out: [LabelField] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let name = try readString()
            let value: LabelValue
            switch try readByte() {
            case 0: value = .null
            case 1: value = .bool(false)
            case 2: value = .bool(true)
            case 3:
                let z = try readVarint()
                value = .int(Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
            case 4: value = .double(try readDouble())
            case 5: value = .string(try readString())
            default: throw .invalid("unknown label value tag", at: offset - 1)
            }
            out.append(LabelField(name, value))
        }
        return out
    }

    /// Reads sample annotations written by `ByteWriter.write(annotations:)`.
    /// - Throws: `FormatError` when the bytes are malformed.
    public mutating func readAnnotations() throws(FormatError) -> SampleAnnotations {
        var a = SampleAnnotations()
        a.labels = try readLabels()
        let segments = try readInt(limit: min(1 << 24, bytes.count - offset))
        for _ in 0..<segments {
            let start = try readDouble()
            let end = try readDouble()
            let ch = try readInt(limit: 1 << 32)
            let source = try readString()
            a.segments.append(
                LabelSegment(start: start, end: end, channel: ch == 0 ? nil : ch - 1, source: source, labels: try readLabels()))
        }
        let transcriptTag = try readByte()
        guard transcriptTag <= 2 else { throw .invalid("unknown transcript summary tag \(transcriptTag)", at: offset - 1) }
        if transcriptTag != 0 {
            var t = TranscriptSummary(source: try readString(), text: try readString())
            t.language = try readOptionalString()
            if transcriptTag == 2 {
                t.confidence = try readOptionalDouble()
                t.meanWordConfidence = try readOptionalDouble()
            } else {
                t.meanWordConfidence = try readOptionalDouble()
            }
            t.wordCount = try readInt()
            t.speakerCount = try readInt()
            let channels = try readInt(limit: min(1 << 16, bytes.count - offset))
            for _ in 0..<channels {
                let ch = try readInt()
                let text = try readString()
                t.channels.append(
                    ChannelTranscript(channel: ch, text: text, language: try readOptionalString(), confidence: try readOptionalDouble()))
            }
            if try readFlag() { t.words = try readID() }
            if transcriptTag == 1 {
                // Tag 1 kept every channel's `alternatives[0].confidence`: Deepgram's confidence
                // is exact from them. Its speaker count is right unless it spans channels.
                t.confidence = t.channels.compactMap(\.confidence).min()
                t.speakersCountedAcrossChannels = t.channels.count > 1 && t.speakerCount > 0
            }
            a.transcript = t
        }
        let sources = try readInt(limit: min(1 << 20, bytes.count - offset))
        for _ in 0..<sources { a.sources.append(try readString()) }
        return a
    }
}
