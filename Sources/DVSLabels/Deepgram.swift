import DVSCore
import Foundation

/// Deepgram `/v1/listen` responses as transcription sidecars.
///
/// Follows the pre-recorded response schema of the Deepgram API reference
/// (`developers.deepgram.com/reference/speech-to-text/listen-pre-recorded`) as summarised in
/// `FORMATS.md` §1. Decoding is lenient: a JSON `null` counts as absent, unknown keys are
/// ignored, and arrays may be empty (a response for silence has `words: []`; nothing here
/// indexes `[0]` of an array that may be empty). The raw JSON stays the stored artifact; this type
/// only extracts what the label model needs and checks the response against its audio.
///
/// **Diarization rule.** Deepgram puts `speaker: 0` on utterances even when diarization was off
/// (deepgram/deepgram-go-sdk#54; the `call_0002` fixture), and the request options are not in
/// the response, so utterance and paragraph speakers are never counted. Diarization is taken to
/// have run when `metadata.diarize_info` is present or when any word of
/// `results.channels[].alternatives[0].words` carries a `speaker` (Deepgram writes word speakers
/// only when it diarized). `speakerCount` is then the number of distinct (channel, word
/// `speaker`) pairs — Deepgram numbers the speakers of each channel from 0, so a two-party call
/// on two channels with `speaker: 0` on each is 2 parties — and 0 otherwise (also 0 when
/// `diarize_info` is present but there are no words). On the fixtures: `call_0001` (diarized,
/// word speakers 0 and 1) → 2; `call_0002` (multichannel, `speaker` only on utterances) → 0;
/// `call_0003` (silence) → 0.
public enum DeepgramSidecar {
    /// Seconds two times may differ by and still count as equal: response times are float32
    /// values printed as decimals (`2.2799999`), and a duration is rounded to the audio's frames.
    public static let timeTolerance = 0.05

    /// Whether a parsed JSON object looks like a Deepgram pre-recorded response: it has a
    /// `metadata` object and a `results` object with a `channels` array.
    ///
    /// - Parameter object: the top-level object of a JSON file.
    /// - Returns: true for a response in the documented shape, false for anything else (a
    ///   callback acknowledgement `{request_id}`, another tool's JSON).
    public static func looksLikeResponse(_ object: [String: Any]) -> Bool {
        guard object["metadata"] is [String: Any], let results = object["results"] as? [String: Any] else { return false }
        return results["channels"] is [Any]
    }

    /// What `sniff` saw in a file's bytes.
    public struct Sniffed: Sendable {
        /// The declared `metadata.sha256`, lower-case hex, when the text has one.
        public var sha256: String?
    }

    /// Whether `bytes` look like a Deepgram response without parsing them: a JSON object whose
    /// text has the keys `"metadata"`, `"results"` and `"channels"`; with the first
    /// `"sha256": "<64 hex>"` after `"metadata"`. `parse` then decides for sure. Cost: a few
    /// linear scans, far less than a JSON parse of a 100 KB response.
    public static func sniff(_ bytes: [UInt8]) -> Sniffed? {
        guard let first = bytes.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }), first == UInt8(ascii: "{") else {
            return nil
        }
        func find(_ needle: String, from start: Int = 0) -> Int? {
            let n = Array(needle.utf8)
            guard bytes.count >= n.count else { return nil }
            return bytes.withUnsafeBufferPointer { b -> Int? in
                var i = start
                while i <= b.count - n.count {
                    if b[i] == n[0], b[i..<(i + n.count)].elementsEqual(n) { return i }
                    i += 1
                }
                return nil
            }
        }
        guard let m = find("\"metadata\""), find("\"results\"") != nil, find("\"channels\"") != nil else { return nil }
        var sha: String?
        if let k = find("\"sha256\"", from: m) {
            var i = k + 8
            while i < bytes.count, [0x20, 0x3A, 0x0A, 0x09, 0x0D].contains(bytes[i]) { i += 1 }
            if i + 65 < bytes.count, bytes[i] == 0x22, bytes[i + 65] == 0x22 {
                let hex = String(decoding: bytes[(i + 1)...(i + 64)], as: UTF8.self)
                if hex.allSatisfy(\.isHexDigit) { sha = hex.lowercased() }
            }
        }
        return Sniffed(sha256: sha)
    }

    /// The `metadata.sha256` of a response: the SHA-256 of the audio Deepgram received.
    ///
    /// - Parameter object: the top-level object of a response.
    /// - Returns: the value lower-cased with surrounding white space removed, or nil when it is
    ///   absent, `null`, not a string or empty. It is not checked to be 64 hex digits.
    public static func declaredSHA256(_ object: [String: Any]) -> String? {
        guard let s = (object["metadata"] as? [String: Any])?["sha256"] as? String else { return nil }
        let t = s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        return t.isEmpty ? nil : t
    }

    /// Parses a response and checks it against the audio it is attached to.
    ///
    /// The summary has one `ChannelTranscript` per `results.channels[i]` (its `alternatives[0]`
    /// transcript and confidence, the channel's `detected_language`); `text` joins the channel
    /// transcripts with `"\n"` (a mono response gives its transcript unchanged, silence gives
    /// `""`); `language` is the first detected language; `confidence` is
    /// `alternatives[0].confidence` (the lowest over channels of a multichannel response; an
    /// empty hang-up keeps its 0.0); `meanWordConfidence` is the mean word confidence over all
    /// words (nil without words); `speakerCount` follows the diarization rule in the type's
    /// documentation. `words` is left nil: the caller stores the returned words as
    /// a `TranscriptWords` object and sets it.
    ///
    /// The words are every channel's `alternatives[0].words`, as `TranscriptWord`s with the
    /// `punctuated_word` when there is one, in channel order and, within a channel, by start time
    /// (stable). A word without a numeric `start` or `end` is dropped and reported. A negative
    /// `speaker` is treated as absent.
    ///
    /// Findings, all with `file` = `path`:
    /// - error `bad-json`: not JSON (with the parser's line when it gives one), not an object, or
    ///   no `results.channels` array. The summary is then nil and there are no words.
    /// - warning `transcript-mismatch`: `metadata.sha256` differs from `audio.blob`; `metadata.duration`
    ///   differs from the audio's by more than `timeTolerance`; `metadata.channels` differs from the
    ///   audio's channel count; a multichannel response (more than one `results.channels` entry)
    ///   whose entry count differs from `metadata.channels`.
    /// - warning `bad-word-times`: words with a missing, negative or non-finite time, `start > end`,
    ///   or a start before the previous word's start in the same channel; one finding per
    ///   response with the count and the first example.
    /// - warning `word-beyond-audio`: words ending more than `timeTolerance` after the audio's end;
    ///   one finding per response with the count and the first example.
    ///
    /// An empty transcript is valid data and gives no finding. Without `audio`, or when `audio`
    /// has no `AudioFacts`, the comparisons that need it are skipped.
    ///
    /// - Parameters:
    ///   - bytes: the response file's bytes (UTF-8 JSON).
    ///   - path: the sidecar's tree path; becomes `summary.source` and every finding's `file`.
    ///   - audio: the sample the response is attached to, or nil.
    /// - Returns: the summary (nil on `bad-json`), the words, and the findings in the order found.
    /// - Complexity: O(n log n) in the number of words.
    public static func parse(_ bytes: [UInt8], path: String, audio: LabelTreeFile?) -> (
        summary: TranscriptSummary?, words: [TranscriptWord], findings: [LabelFinding]
    ) {
        var findings: [LabelFinding] = []
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            findings.append(
                LabelFinding(
                    .error, "bad-json", file: path, line: errorLine(error, in: bytes),
                    "not a JSON document: \(errorText(error))",
                    hint: "a Deepgram response is the JSON body of a /v1/listen reply"))
            return (nil, [], findings)
        }
        guard let object = parsed as? [String: Any] else {
            findings.append(
                LabelFinding(
                    .error, "bad-json", file: path, line: 1, "the top level is not a JSON object",
                    hint: "a Deepgram response is the JSON body of a /v1/listen reply"))
            return (nil, [], findings)
        }
        guard let results = object["results"] as? [String: Any], let rawChannels = results["channels"] as? [Any] else {
            findings.append(
                LabelFinding(
                    .error, "bad-json", file: path,
                    "not a Deepgram response: no 'results.channels' array",
                    hint: "with callback= the HTTP reply is only {request_id}; store the body delivered to the callback"))
            return (nil, [], findings)
        }
        let metadata = object["metadata"] as? [String: Any] ?? [:]

        var channels: [ChannelTranscript] = []
        var words: [TranscriptWord] = []
        var confidenceSum = 0.0
        var confidenceCount = 0
        var badTimes = Tally()
        for (index, raw) in rawChannels.enumerated() {
            let channel = raw as? [String: Any] ?? [:]
            let alternative = (channel["alternatives"] as? [Any])?.first as? [String: Any] ?? [:]
            let language = (channel["detected_language"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            channels.append(
                ChannelTranscript(
                    channel: index, text: alternative["transcript"] as? String ?? "",
                    language: language, confidence: number(alternative["confidence"])))
            var channelWords: [TranscriptWord] = []
            var previousStart = -Double.infinity
            for (wordIndex, rawWord) in ((alternative["words"] as? [Any]) ?? []).enumerated() {
                let w = rawWord as? [String: Any] ?? [:]
                let text = w["punctuated_word"] as? String ?? w["word"] as? String ?? ""
                let label = "channel \(index) word \(wordIndex + 1) '\(text)'"
                guard let start = number(w["start"]), let end = number(w["end"]) else {
                    badTimes.add("\(label) has no start or end time")
                    continue
                }
                if !start.isFinite || !end.isFinite || start < 0 {
                    badTimes.add("\(label) has times \(start)…\(end)")
                } else if start > end + 1e-3 {
                    badTimes.add("\(label) starts at \(seconds(start)) after it ends at \(seconds(end))")
                } else if start < previousStart - 1e-3 {
                    badTimes.add("\(label) starts at \(seconds(start)), before the previous word (\(seconds(previousStart)))")
                }
                if start.isFinite { previousStart = max(previousStart, start) }
                let confidence = number(w["confidence"])
                if let confidence {
                    confidenceSum += confidence
                    confidenceCount += 1
                }
                let speaker = integer(w["speaker"]).flatMap { $0 >= 0 ? $0 : nil }
                channelWords.append(
                    TranscriptWord(
                        text: text, start: start, end: end, confidence: confidence ?? 0,
                        speaker: speaker, channel: index))
            }
            // Stable sort by start: Deepgram already emits time order, this only fixes strays.
            words += channelWords.enumerated().sorted { a, b in
                a.element.start != b.element.start ? a.element.start < b.element.start : a.offset < b.offset
            }.map(\.element)
        }

        let parties = TranscriptSummary.parties(words)
        let diarized = metadata["diarize_info"] is [String: Any] || parties > 0
        let summary = TranscriptSummary(
            source: path,
            text: channels.map(\.text).joined(separator: "\n"),
            language: channels.lazy.compactMap(\.language).first,
            confidence: channels.compactMap(\.confidence).min(),
            meanWordConfidence: confidenceCount > 0 ? confidenceSum / Double(confidenceCount) : nil,
            wordCount: words.count,
            speakerCount: diarized ? parties : 0,
            channels: channels)

        if let first = badTimes.first {
            findings.append(
                LabelFinding(
                    .warning, "bad-word-times", file: path,
                    "\(badTimes.count) word\(badTimes.count == 1 ? " has" : "s have") impossible times; first: \(first)",
                    hint: "the response may be damaged; transcribe the audio again"))
        }

        let declaredChannels = integer(metadata["channels"])
        if rawChannels.count > 1, let declaredChannels, declaredChannels != rawChannels.count {
            findings.append(
                LabelFinding(
                    .warning, "transcript-mismatch", file: path, line: line(ofNumericKey: "channels", in: bytes),
                    "metadata.channels is \(declaredChannels) but results.channels has \(rawChannels.count) entries; a channel's transcript may be missing"
                ))
        }

        guard let audio else { return (summary, words, findings) }
        let audioPath = audio.path.string
        if let declared = declaredSHA256(object), declared != audio.blob.hex {
            findings.append(
                LabelFinding(
                    .warning, "transcript-mismatch", file: path, line: line(of: "\"sha256\"", in: bytes),
                    "metadata.sha256 \(declared.prefix(12))… does not match the audio's SHA-256 \(audio.blob.short)… of '\(audioPath)'; this response may belong to another file or to a re-encoded upload",
                    hint: "check which file was sent to Deepgram, or transcribe '\(audioPath)' again"))
        }
        if let facts = audio.audio {
            if let duration = number(metadata["duration"]), abs(duration - facts.duration) > timeTolerance {
                findings.append(
                    LabelFinding(
                        .warning, "transcript-mismatch", file: path, line: line(ofNumericKey: "duration", in: bytes),
                        "metadata.duration is \(seconds(duration)) s but '\(audioPath)' lasts \(seconds(facts.duration)) s"))
            }
            if let declaredChannels, declaredChannels != facts.channelCount {
                findings.append(
                    LabelFinding(
                        .warning, "transcript-mismatch", file: path, line: line(ofNumericKey: "channels", in: bytes),
                        "metadata.channels is \(declaredChannels) but '\(audioPath)' has \(facts.channelCount) channel\(facts.channelCount == 1 ? "" : "s")"
                    ))
            }
            var beyond = Tally()
            let limit = facts.duration + timeTolerance
            for (i, w) in words.enumerated() where w.end > limit {
                beyond.add("channel \(w.channel) '\(w.text)' ends at \(seconds(w.end)) s (word \(i + 1))")
            }
            if let first = beyond.first {
                findings.append(
                    LabelFinding(
                        .warning, "word-beyond-audio", file: path,
                        "\(beyond.count) word\(beyond.count == 1 ? " ends" : "s end") after the end of '\(audioPath)' (\(seconds(facts.duration)) s); first: \(first)",
                        hint: "the response may belong to a longer recording"))
            }
        }
        return (summary, words, findings)
    }

    // MARK: - Helpers

    /// A count of problems and the first one's description.
    private struct Tally {
        var count = 0
        var first: String?
        mutating func add(_ example: @autoclosure () -> String) {
            if first == nil { first = example() }
            count += 1
        }
    }

    /// A JSON number as a Double (`null`, strings and anything else → nil).
    private static func number(_ value: Any?) -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        if let d = value as? Double { return d }
        if let i = value as? Int { return Double(i) }
        if let n = value as? NSNumber { return n.doubleValue }
        return nil
    }

    /// A JSON number that is a whole number small enough for `Int`.
    private static func integer(_ value: Any?) -> Int? {
        guard let d = number(value), d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    /// Seconds for messages: up to 3 decimals, trailing zeros dropped (`6.2`, `2.28`).
    private static func seconds(_ t: Double) -> String {
        guard t.isFinite else { return "\(t)" }
        var s = String(format: "%.3f", t)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    /// The 1-based line of the first occurrence of `needle`, if any.
    private static func line(of needle: String, in bytes: [UInt8]) -> Int? {
        let n = Array(needle.utf8)
        guard !n.isEmpty, bytes.count >= n.count else { return nil }
        var line = 1
        for i in 0...(bytes.count - n.count) {
            if bytes[i] == n[0], Array(bytes[i..<i + n.count]) == n { return line }
            if bytes[i] == 0x0A { line += 1 }
        }
        return nil
    }

    /// The 1-based line of the first `"key": <number>` (so `"channels": 2` of `metadata`, not
    /// `"channels": [` of `results`).
    private static func line(ofNumericKey key: String, in bytes: [UInt8]) -> Int? {
        let n = Array("\"\(key)\"".utf8)
        guard bytes.count >= n.count else { return nil }
        var line = 1
        var i = 0
        while i <= bytes.count - n.count {
            if bytes[i] == 0x0A { line += 1 }
            if bytes[i] == n[0], Array(bytes[i..<i + n.count]) == n {
                var j = i + n.count
                while j < bytes.count, [0x20, 0x09, 0x0A, 0x0D, 0x3A].contains(bytes[j]) { j += 1 }
                if j < bytes.count, bytes[j] == 0x2D || (0x30...0x39).contains(bytes[j]) { return line }
            }
            i += 1
        }
        return nil
    }

    /// The parser's own message for a JSONSerialization error.
    private static func errorText(_ error: Error) -> String {
        let ns = error as NSError
        let text = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }

    /// The line a JSONSerialization error points at: its "line N" when it names one (Darwin),
    /// else the line holding its "character N" byte offset (swift-corelibs-foundation).
    private static func errorLine(_ error: Error, in bytes: [UInt8]) -> Int? {
        let text = errorText(error)
        func number(after word: String) -> Int? {
            guard let r = text.range(of: word) else { return nil }
            return Int(text[r.upperBound...].prefix { $0.isASCII && $0.isNumber })
        }
        if let line = number(after: "line ") { return line }
        guard let offset = number(after: "character "), offset >= 0 else { return nil }
        return 1 + bytes.prefix(offset).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }
}
