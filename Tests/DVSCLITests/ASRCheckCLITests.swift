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

/// Issue 18, training hygiene end to end: a jingle in every speaker's folder, a class only the
/// holdout has, the eval warning, and the audit's "since" section after a new empty column.
@Suite(.serialized) struct SplitHygieneCLITests {
    /// Whether `key` is held out at fraction 0.5 (`HoldoutSplit`: the first byte of
    /// SHA-256("dvs-holdout-v1\n" + key) below 0x80).
    func heldOut(_ key: String) throws -> Bool {
        let hex = try T.sh("printf 'dvs-holdout-v1\\n%s' '\(key)' | sha256sum")
        return Int(hex.prefix(2), radix: 16)! < 0x80
    }

    @Test func jingleSplitHoldoutOnlyClassAndAuditSince() throws {
        try T.withTemporaryDirectory { dir in
            let ds = dir + "/ds"
            let names = (0..<40).map { "spk\($0)" }
            let kept = try names.filter { try !heldOut($0) }
            let held = try names.filter { try heldOut($0) && $0 > kept[0] }
            // The smallest speaker trains, so all jingle copies train; two speakers are held out.
            let speakers = [kept[0], kept[1], held[0], held[1]].sorted()
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(dir)/jingle.wav' synth 0.6 sine 660 sine 880")
            var csv = "file_name,speaker,kind\n"
            for (k, s) in speakers.enumerated() {
                for i in 0..<2 {
                    try T.speak("hello from speaker \(k) take \(i)", to: "\(ds)/\(s)/\(i).wav")
                    csv += "\(s)/\(i).wav,\(s),speech\n"
                }
                try T.sh("cp '\(dir)/jingle.wav' '\(ds)/\(s)/jingle.wav'")
                csv += "\(s)/jingle.wav,\(s),jingle\n"
            }
            // A class only a held-out speaker has.
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(ds)/\(held[0])/quiet.wav' synth 0.8 whitenoise vol 0.01")
            csv += "\(held[0])/quiet.wav,\(held[0]),noise\n"
            try T.write(Data(csv.utf8), to: ds + "/metadata.csv")
            #expect(try dvs("init", in: ds).status == 0)
            try #require(try dvs("commit", "-m", "speakers and a jingle", in: ds).status == 0)
            let g = Golden(replacing: [dir: "$TMP"])
            g.replace(matching: "sha256 [0-9a-f]{7,64}", with: "sha256 <model file>")
            // Golden: "split: 8 training, 5 holdout", "2 samples with the same audio as another
            // 'speaker' group's went to that one's side", and the 'noise' warning.
            let t = try g.dvs(
                "train", "--label", "kind", "--split-by", "speaker", "--holdout", "0.5", "--out", dir + "/kind.dvsm", in: ds)
            try #require(t.status == 0, "\(t.stderr)")
            let j = try dvs(
                "train", "--label", "kind", "--split-by", "speaker", "--holdout", "0.5", "--out", dir + "/kind2.dvsm", "--json", in: ds)
            let o = try #require(try json(j.stdout) as? [String: Any])
            let samples = try #require(o["samples"] as? [String: Any])
            #expect(samples["training"] as? Int == 8 && samples["holdout"] as? Int == 5)
            #expect(samples["moved_identical_audio"] as? Int == 2)
            #expect(o["holdout_only_labels"] as? [String] == ["noise"])
            // Golden: "warning: 1 evaluated sample has a 'kind' value the model cannot output ('noise' 1)".
            #expect(try g.dvs("eval", "--model", dir + "/kind.dvsm", "--no-record", in: ds).status == 0)
            // The record, the printout and the audit agree: the 4 jingles were all trained on.
            let a = try dvs("audit", "--samples", "kind = 'jingle'", "--json", in: ds)
            let hits = try #require(try json(a.stdout) as? [[String: Any]])
            #expect(hits.count == 2 && hits.allSatisfy { $0["matched_trained"] as? Int == 4 && $0["training_samples"] as? Int == 8 })
            // A new empty column on the branch since: one schema change, no relabels.
            let withNotes =
                csv.split(separator: "\n").enumerated().map { i, l in l + (i == 0 ? ",notes" : ",") }.joined(separator: "\n") + "\n"
            try T.write(Data(withNotes.utf8), to: ds + "/metadata.csv")
            try #require(try dvs("commit", "-m", "notes column", in: ds).status == 0)
            let audit = try dvs("audit", dir + "/kind.dvsm", in: ds)
            #expect(audit.status == 0, "\(audit.stderr)")
            let since = audit.stdout.split(separator: "\n").filter { $0.hasPrefix("since") || $0.hasPrefix("  field") }
            #expect(
                since.map(String.init) == [
                    "since     branch main is now at \(since.first.map { String($0.split(separator: " ")[6].dropLast()) } ?? ""): 0 relabeled, 0 removed, 0 audio changed, 0 added, 1 field added",
                    "  field     + notes  (new field: 0 of 13 samples filled)",
                ], "\(audit.stdout)")
            try g.verify()
        }
    }
}
