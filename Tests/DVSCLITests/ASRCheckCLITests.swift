import DVSTestSupport
import Foundation
import Testing

/// Issue 18 end to end: `dvs eval --asr` (WER/CER of Deepgram against the humans), the Deepgram
/// summaries `dvs query` sees, and `dvs diff` of a new empty column, on espeak-ng calls with
/// Deepgram-shaped responses (multichannel diarized, empty hang-up, low confidence).
@Suite(.serialized) struct ASRCheckCLITests {
    /// A Deepgram `/v1/listen` response for `audio` (its SHA-256 and duration): per channel,
    /// `alternatives[0].confidence` and words `(punctuated word, confidence, speaker)`, spread
    /// evenly over the audio.
    func response(_ audio: String, channels: [(confidence: Double, words: [(String, Double, Int?)])], diarize: Bool) throws -> Data {
        let bytes = try T.read(audio)
        let seconds = Double(try T.sh("soxi -D '\(audio)'").trimmingCharacters(in: .whitespacesAndNewlines))!
        let sha = try T.sh("sha256sum '\(audio)'").prefix(64)
        let chans = channels.map { c -> [String: Any] in
            let step = (seconds - 0.2) / Double(max(c.words.count, 1))
            let words = c.words.enumerated().map { i, w -> [String: Any] in
                var o: [String: Any] = [
                    "word": w.0.lowercased().trimmingCharacters(in: .punctuationCharacters), "punctuated_word": w.0,
                    "start": 0.1 + Double(i) * step, "end": 0.1 + Double(i + 1) * step - 0.01, "confidence": w.1,
                ]
                if let s = w.2 { o["speaker"] = s }
                return o
            }
            let transcript = c.words.map(\.0).joined(separator: " ")
            return ["alternatives": [["transcript": transcript, "confidence": c.confidence, "words": words]]]
        }
        var metadata: [String: Any] = [
            "request_id": "00000000-0000-0000-0000-000000000001", "sha256": String(sha), "duration": seconds,
            "channels": channels.count, "models": ["nova-2"],
        ]
        if diarize { metadata["diarize_info"] = ["model_uuid": "diarizer"] }
        _ = bytes
        return try JSONSerialization.data(
            withJSONObject: ["metadata": metadata, "results": ["channels": chans]], options: [.prettyPrinted, .sortedKeys])
    }

    /// Five calls: four with a Deepgram response, one without; human transcripts in
    /// `metadata.csv` (`transcription`, empty for the hang-up) and a `line` to slice by.
    func writeCalls(_ ds: String) throws {
        try T.speak("please cancel my order today", to: ds + "/calls/a.wav", sampleRate: 8000)
        try T.speak("hello billing. I was billed twice", to: ds + "/calls/b.wav", sampleRate: 8000, channels: 2)
        try T.sh("sox -n -r 8000 -c 1 -b 16 '\(ds)/calls/c.wav' trim 0 1.5")
        try T.speak("five items please", to: ds + "/calls/d.wav", sampleRate: 8000)
        try T.speak("thank you goodbye", to: ds + "/calls/e.wav", sampleRate: 8000)
        try T.write(
            response(
                ds + "/calls/a.wav",
                channels: [(0.93, [("Please", 0.99, nil), ("cancel", 0.97, nil), ("the", 0.71, nil), ("order.", 0.95, nil)])],
                diarize: false), to: ds + "/calls/a.json")
        // Two channels, Deepgram's speaker 0 on each: two parties.
        try T.write(
            response(
                ds + "/calls/b.wav",
                channels: [
                    (0.97, [("Hello", 0.98, 0), ("billing.", 0.96, 0)]),
                    (0.88, [("I", 0.95, 0), ("was", 0.94, 0), ("build", 0.52, 0), ("twice.", 0.93, 0)]),
                ], diarize: true), to: ds + "/calls/b.json")
        // An empty hang-up: no words, Deepgram's confidence 0.0.
        try T.write(response(ds + "/calls/c.wav", channels: [(0.0, [])], diarize: false), to: ds + "/calls/c.json")
        try T.write(
            response(
                ds + "/calls/d.wav", channels: [(0.41, [("5", 0.62, nil), ("items,", 0.55, nil), ("please.", 0.8, nil)])], diarize: false),
            to: ds + "/calls/d.json")
        try T.write(
            Data(
                """
                file_name,transcription,line
                calls/a.wav,Please cancel my order today.,sales
                calls/b.wav,"Hello, billing. I was billed twice.",sales
                calls/c.wav,,support
                calls/d.wav,Five items please,support
                calls/e.wav,Thank you. Goodbye!,support

                """.utf8), to: ds + "/metadata.csv")
    }

    @Test func werAndCerOfDeepgramAgainstTheHumansAndTheWorstCalls() throws {
        try T.withTemporaryDirectory { dir in
            let ds = dir + "/ds"
            try writeCalls(ds)
            #expect(try dvs("init", in: ds).status == 0)
            let c = try dvs("commit", "-m", "calls", in: ds)
            try #require(c.status == 0, "\(c.stderr)")
            #expect(!c.stderr.contains("transcript-mismatch"), "\(c.stderr)")
            let g = Golden(replacing: [dir: "$TMP"])
            // Golden: a 2/5, b 1/6, d 1/3 (WER); c has no reference, e no transcript (warnings).
            let e = try g.dvs("eval", "--asr", "--reference", "transcription", "--by", "line", in: ds)
            #expect(e.status == 0, "\(e.stderr)")
            let j = try dvs("eval", "--asr", "--reference", "transcription", "--json", in: ds)
            try #require(j.status == 0, "\(j.stderr)")
            let o = try #require(try json(j.stdout) as? [String: Any])
            let perSample = try #require(o["per_sample"] as? [[String: Any]])
            #expect(perSample.map { $0["path"] as? String } == ["calls/a.wav", "calls/b.wav", "calls/d.wav"])
            #expect(perSample.map { $0["wer"] as? Double } == [0.4, 1.0 / 6.0, 1.0 / 3.0])
            let metrics = try #require(o["metrics"] as? [String: Any])
            #expect(metrics["wer"] as? Double == 4.0 / 14.0)  // (2 + 1 + 1) / (5 + 6 + 3)
            #expect((o["samples"] as? [String: Any])?["missing_reference"] as? Int == 1)
            #expect((o["samples"] as? [String: Any])?["missing_hypothesis"] as? Int == 1)
            // The worst calls, as the help shows; and Deepgram's summaries as corrected.
            let q = try g.dvs(
                "query",
                "SELECT path, round(wer(transcription, transcript), 4) AS wer, round(cer(transcription, transcript), 4) AS cer FROM sample WHERE transcript IS NOT NULL ORDER BY wer DESC",
                in: ds)
            #expect(q.status == 0, "\(q.stderr)")
            let s = try g.dvs(
                "query",
                "SELECT path, confidence, round(mean_word_confidence, 4) AS mean_word_confidence, word_count, speaker_count FROM sample WHERE transcript IS NOT NULL ORDER BY path",
                in: ds)
            #expect(s.status == 0, "\(s.stderr)")
            let low = try dvs("query", "--json", "SELECT path FROM sample WHERE confidence < 0.6 ORDER BY path", in: ds)
            #expect((try json(low.stdout) as? [[String: Any]])?.compactMap { $0["path"] as? String } == ["calls/c.wav", "calls/d.wav"])
            // Another label as the hypothesis, and the usage errors.
            #expect(try g.dvs("eval", "--asr", "--reference", "transcription", "--hypothesis", "line", in: ds).status == 0)
            #expect(try g.dvs("eval", "--asr", in: ds).status == 64)
            #expect(try g.dvs("eval", in: ds).status == 64)
            #expect(try g.dvs("eval", "--asr", "--reference", "nothing_here", in: ds).status == 1)
            try g.verify()
        }
    }

    @Test func aNewEmptyColumnIsOneSchemaChange() throws {
        try T.withTemporaryDirectory { dir in
            let ds = dir + "/ds"
            try writeCalls(ds)
            #expect(try dvs("init", in: ds).status == 0)
            try #require(try dvs("commit", "-m", "calls", in: ds).status == 0)
            let csv = try String(contentsOfFile: ds + "/metadata.csv", encoding: .utf8)
            let withNotes =
                csv.split(separator: "\n").enumerated().map { i, l in l + (i == 0 ? ",notes" : ",") }.joined(separator: "\n") + "\n"
            try T.write(Data(withNotes.utf8), to: ds + "/metadata.csv")
            let g = Golden(replacing: [dir: "$TMP"])
            // Golden: "field      + notes  (new field: 0 of 5 sample(s) filled)", 0 relabeled.
            #expect(try g.dvs("diff", in: ds).status == 0)
            try #require(try dvs("commit", "-m", "notes column", in: ds).status == 0)
            #expect(try g.dvs("diff", "HEAD~1", "HEAD", "--stat", in: ds).status == 0)
            let j = try dvs("diff", "HEAD~1", "HEAD", "--json", in: ds)
            let o = try #require(try json(j.stdout) as? [String: Any])
            #expect((o["summary"] as? [String: Any])?["relabeled"] as? Int == 0)
            #expect((o["summary"] as? [String: Any])?["fields_added"] as? Int == 1)
            let changes = try #require(o["schema_changes"] as? [[String: Any]])
            #expect(changes.count == 1 && changes[0]["field"] as? String == "notes" && changes[0]["filled"] as? Int == 0)
            try g.verify()
        }
    }
}
