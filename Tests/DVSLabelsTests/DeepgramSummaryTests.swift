import DVSLabels
import DVSTestSupport
import Foundation
import Testing

@testable import DVSCore

/// The summary fields of a Deepgram response (issue 18): speakers per channel, Deepgram's own
/// confidence, the mean word confidence, and summaries stored by older versions.
@Suite struct DeepgramSummaryTests {
    /// A Deepgram-shaped response: per channel, its `alternatives[0]` confidence and words
    /// `(word, start, end, confidence, speaker)`.
    static func response(
        _ channels: [(confidence: Double, words: [(String, Double, Double, Double, Int?)])], diarizeInfo: Bool = false
    ) -> [UInt8] {
        let chans = channels.map { c -> [String: Any] in
            let words = c.words.map { w -> [String: Any] in
                var o: [String: Any] = ["word": w.0.lowercased(), "punctuated_word": w.0, "start": w.1, "end": w.2, "confidence": w.3]
                if let s = w.4 { o["speaker"] = s }
                return o
            }
            return [
                "alternatives": [["transcript": c.words.map(\.0).joined(separator: " "), "confidence": c.confidence, "words": words]]
            ]
        }
        var metadata: [String: Any] = ["request_id": "r", "duration": 6.0, "channels": channels.count]
        if diarizeInfo { metadata["diarize_info"] = ["model_uuid": "x"] }
        let object: [String: Any] = ["metadata": metadata, "results": ["channels": chans]]
        return Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    @Test func multichannelDiarizedCallCountsChannelSpeakerPairs() throws {
        // Deepgram numbers speakers per channel: agent and caller are both speaker 0.
        let bytes = Self.response([
            (0.97, [("Hello,", 0.1, 0.4, 0.98, 0), ("billing.", 0.5, 0.9, 0.96, 0)]),
            (0.91, [("I", 1.0, 1.1, 0.93, 0), ("was", 1.1, 1.3, 0.9, 0), ("billed", 1.3, 1.6, 0.89, 0)]),
        ])
        let (summary, words, findings) = DeepgramSidecar.parse(bytes, path: "dg/two.json", audio: nil)
        let s = try #require(summary)
        #expect(findings.isEmpty, "\(findings.map(\.description))")
        #expect(words.count == 5)
        #expect(s.speakerCount == 2)
        #expect(s.confidence == 0.91)  // the lowest channel's alternatives[0].confidence
        let wordConfidences: [Double] = [0.98, 0.96, 0.93, 0.9, 0.89]
        let mean = try #require(s.meanWordConfidence)
        #expect(abs(mean - wordConfidences.reduce(0, +) / 5) < 1e-12)
        // Two speakers on one channel and one on the other: three parties.
        let three = Self.response([
            (0.9, [("a", 0.1, 0.2, 0.9, 0), ("b", 0.3, 0.4, 0.9, 1)]), (0.9, [("c", 0.5, 0.6, 0.9, 0)]),
        ])
        #expect(DeepgramSidecar.parse(three, path: "x.json", audio: nil).summary?.speakerCount == 3)
    }

    @Test func emptyHangUpKeepsDeepgramsZeroConfidence() throws {
        let bytes = Self.response([(0.0, []), (0.0, [])], diarizeInfo: true)
        let s = try #require(DeepgramSidecar.parse(bytes, path: "dg/hangup.json", audio: nil).summary)
        #expect(s.confidence == 0.0)
        #expect(s.meanWordConfidence == nil)
        #expect(s.wordCount == 0 && s.speakerCount == 0)
        #expect(s.text == "\n")
    }

    @Test func lowConfidenceIsTheAlternativesNotTheWordMean() throws {
        // Deepgram's transcript confidence can be far below the mean of its words' confidences.
        let bytes = Self.response([(0.42, [("maybe", 0.1, 0.5, 0.8, nil), ("refund", 0.6, 1.0, 0.9, nil)])])
        let s = try #require(DeepgramSidecar.parse(bytes, path: "dg/low.json", audio: nil).summary)
        #expect(s.confidence == 0.42)
        let mean = try #require(s.meanWordConfidence)
        #expect(abs(mean - 0.85) < 1e-12)
        #expect(s.speakerCount == 0)
    }

    @Test func summariesRoundTripAndOlderOnesAreReadInTheNewMeaning() throws {
        let current = TranscriptSummary(
            source: "dg/a.json", text: "hi\nyes", language: "en", confidence: 0.5, meanWordConfidence: 0.75, wordCount: 2,
            speakerCount: 2,
            channels: [
                ChannelTranscript(channel: 0, text: "hi", confidence: 0.5), ChannelTranscript(channel: 1, text: "yes", confidence: 0.8),
            ])
        var w = ByteWriter()
        w.write(annotations: SampleAnnotations(transcript: current))
        var r = ByteReader(w.bytes)
        #expect(try r.readAnnotations().transcript == current)

        // Tag 1, as older versions wrote it: `confidence` held the mean word confidence and the
        // speaker count spanned channels (1 here: speaker 0 on both channels).
        var old = ByteWriter()
        old.write(labels: [])
        old.write(varint: 0)
        old.write(byte: 1)
        old.write(string: "dg/a.json")
        old.write(string: "hi\nyes")
        old.write(optionalString: "en")
        old.write(optionalDouble: 0.75)
        old.write(varint: 2)
        old.write(varint: 1)
        old.write(varint: 2)
        for (c, t, conf) in [(0, "hi", 0.5), (1, "yes", 0.8)] {
            old.write(varint: UInt64(c))
            old.write(string: t)
            old.write(optionalString: nil)
            old.write(optionalDouble: conf)
        }
        old.write(byte: 0)
        old.write(varint: 0)
        var oldReader = ByteReader(old.bytes)
        var legacy = try #require(try oldReader.readAnnotations().transcript)
        #expect(legacy.confidence == 0.5)
        #expect(legacy.meanWordConfidence == 0.75)
        #expect(legacy.speakersCountedAcrossChannels)
        // Written back in the older form while its speaker count is uncorrected: same bytes.
        var again = ByteWriter()
        again.write(annotations: SampleAnnotations(transcript: legacy))
        #expect(again.bytes == old.bytes)
        legacy.recountSpeakers([
            TranscriptWord(text: "hi", start: 0, end: 1, confidence: 0.7, speaker: 0, channel: 0),
            TranscriptWord(text: "yes", start: 1, end: 2, confidence: 0.8, speaker: 0, channel: 1),
        ])
        #expect(legacy.speakerCount == 2 && !legacy.speakersCountedAcrossChannels)
        #expect(legacy == current)
    }
}
