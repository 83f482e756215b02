import DVS
import DVSCore
import Foundation
import Testing

@Suite struct SampleJSONTests {
    /// The fast hook-input writer must say exactly what the JSONSerialization form says.
    @Test func fastWriterMatchesJSONSerialization() throws {
        var facts = AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 2, frameCount: 8000)
        facts.peak = [0.41, 0]
        facts.rms = [0.07, 0]
        let e = ManifestEntry(
            path: RepoPath("clips/Zoë \"q\".wav"), kind: .file, blob: ObjectID.hashing(Array("x".utf8)), byteCount: 16044, audio: facts,
            annotations: SampleAnnotations(
                labels: [
                    LabelField("n", .int(-3)), LabelField("ok", .bool(false)), LabelField("score", .double(0.25)),
                    LabelField("speaker_id", .string("007")), LabelField("text", .string("line\none\ttab \\ \u{01}")),
                    LabelField("z", .null),
                ],
                segments: [
                    LabelSegment(start: 3.04, end: 4.8, channel: nil, source: "m.jsonl", labels: [LabelField("speaker", .string("a"))])
                ],
                transcript: TranscriptSummary(source: "dg.json", text: "", language: nil, confidence: nil, wordCount: 0, speakerCount: 0)))
        var line = ""
        SampleJSON.write(e, to: &line)
        #expect(!line.contains("\n"))
        let fast = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary)
        let reference = try #require(
            try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: sampleJSONObject(e))) as? NSDictionary)
        #expect(fast == reference)
        #expect((fast["labels"] as? NSDictionary)?["speaker_id"] as? String == "007")
        #expect((fast["channel_rms_dbfs"] as? [Any])?.last is NSNull)
    }
}
