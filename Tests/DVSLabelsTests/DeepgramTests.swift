import DVSCore
import DVSLabels
import DVSTestSupport
import Foundation
import Testing

@Suite struct DeepgramTests {
    static let deepgram = TestSupport.fixtures + "/dataset/deepgram/"
    static let clips = TestSupport.fixtures + "/dataset/clips/"

    /// The response bytes of a fixture (`call_0001_mono`, …).
    func response(_ name: String) throws -> [UInt8] { Array(try TestSupport.read(Self.deepgram + name + ".json")) }

    /// A fixture clip as the label builder sees it: 8 kHz mu-law WAV of `seconds` and `channels`.
    func audio(_ name: String, seconds: Double, channels: Int) throws -> LabelTreeFile {
        let bytes = try TestSupport.read(Self.clips + name + ".wav")
        return LabelTreeFile(
            path: RepoPath("clips/\(name).wav"), blob: ObjectID.hashing(bytes), byteCount: UInt64(bytes.count),
            audio: AudioFacts(
                container: "WAV", encoding: "ULAW", sampleRate: 8000, channelCount: channels,
                frameCount: Int((seconds * 8000).rounded())))
    }

    func monoAudio() throws -> LabelTreeFile { try audio("call_0001_mono", seconds: 6.2, channels: 1) }
    func stereoAudio() throws -> LabelTreeFile { try audio("call_0002_stereo", seconds: 6.0, channels: 2) }
    func silenceAudio() throws -> LabelTreeFile { try audio("call_0003_silence", seconds: 3.0, channels: 1) }

    @Test func diarizedMonoCallSummarisesWordsAndTwoSpeakers() throws {
        let path = "deepgram/call_0001_mono.json"
        let (summary, words, findings) = DeepgramSidecar.parse(try response("call_0001_mono"), path: path, audio: try monoAudio())
        let s = try #require(summary)
        #expect(findings.isEmpty, "\(findings.map(\.description))")
        #expect(s.source == path)
        #expect(s.wordCount == 16 && words.count == 16)
        #expect(s.speakerCount == 2)
        #expect(s.text == "Good morning, Lakeside Internet, Priya speaking. Hello Priya, my connection keeps cutting out. Let me check.")
        #expect(s.text.hasPrefix(words[0].text))
        #expect(s.language == nil)
        #expect(s.channels == [ChannelTranscript(channel: 0, text: s.text, language: nil, confidence: 0.9951)])
        let confidences = [
            0.9962, 0.9978, 0.8347, 0.9915, 0.9106, 0.9987, 0.9971, 0.9532, 0.9996, 0.9989, 0.9958,
            0.9893, 0.9977, 0.9984, 0.9997, 0.9953,
        ]
        // The mean word confidence is its own field; `confidence` is alternatives[0].confidence.
        #expect(abs(try #require(s.meanWordConfidence) - confidences.reduce(0, +) / 16) < 1e-12)
        #expect(abs(try #require(s.meanWordConfidence) - 0.97840625) < 1e-9)
        #expect(s.confidence == 0.9951)
        #expect(s.words == nil)
        // Punctuated words, per-word speakers, float32 times kept as written.
        #expect(words[0] == TranscriptWord(text: "Good", start: 0.3, end: 0.52, confidence: 0.9962, speaker: 0, channel: 0))
        #expect(words[4] == TranscriptWord(text: "Priya", start: 2.08, end: 2.4399998, confidence: 0.9106, speaker: 0, channel: 0))
        #expect(words[6].text == "Hello" && words[6].speaker == 1)
        #expect(words.last == TranscriptWord(text: "check.", start: 5.72, end: 6.12, confidence: 0.9953, speaker: 0, channel: 0))
        #expect(words.map(\.start) == words.map(\.start).sorted())
    }

    @Test func multichannelCallKeepsEachChannelAndCountsNoSpeakers() throws {
        let (summary, words, findings) = DeepgramSidecar.parse(
            try response("call_0002_stereo"), path: "d/call_0002_stereo.json", audio: try stereoAudio())
        let s = try #require(summary)
        #expect(findings.isEmpty, "\(findings.map(\.description))")
        #expect(
            s.channels == [
                ChannelTranscript(
                    channel: 0, text: "Lakeside billing, how may I help? Sure, refunding it now.", language: "en", confidence: 0.991827),
                ChannelTranscript(channel: 1, text: "I was billed twice.", language: "en", confidence: 0.983305),
            ])
        #expect(s.text == "Lakeside billing, how may I help? Sure, refunding it now.\nI was billed twice.")
        #expect(s.language == "en")
        // Utterances say `speaker: 0`, but no word carries a speaker and there is no diarize_info.
        #expect(s.speakerCount == 0)
        #expect(words.allSatisfy { $0.speaker == nil })
        #expect(s.wordCount == 14)
        #expect(abs(try #require(s.meanWordConfidence) - 0.990357142857) < 1e-9)
        // The lowest channel's alternatives[0].confidence.
        #expect(s.confidence == 0.983305)
        // Channel order, then time order: 10 agent words, then the customer from 2.00 s.
        #expect(words.prefix(10).allSatisfy { $0.channel == 0 })
        let customer = words.filter { $0.channel == 1 }
        #expect(customer.count == 4)
        #expect(customer.first == TranscriptWord(text: "I", start: 2.0, end: 2.08, confidence: 0.9802, speaker: nil, channel: 1))
        #expect(words[10] == customer[0])
    }

    @Test func silenceIsAnEmptyTranscriptWithoutFindings() throws {
        let (summary, words, findings) = DeepgramSidecar.parse(
            try response("call_0003_silence"), path: "d/call_0003_silence.json", audio: try silenceAudio())
        let s = try #require(summary)
        #expect(findings.isEmpty, "\(findings.map(\.description))")
        #expect(s.text == "")
        // An empty hang-up keeps Deepgram's 0.0, so `confidence < 0.6` finds it; no words, no mean.
        #expect(s.confidence == 0.0)
        #expect(s.meanWordConfidence == nil)
        #expect(s.wordCount == 0 && words.isEmpty)
        #expect(s.speakerCount == 0)
        #expect(s.language == "en")
        #expect(s.channels == [ChannelTranscript(channel: 0, text: "", language: "en", confidence: 0.0)])
    }

    @Test func responseAgainstTheWrongAudioWarnsOnHashDurationAndChannels() throws {
        let path = "deepgram/call_0001_mono.json"
        let (summary, _, findings) = DeepgramSidecar.parse(try response("call_0001_mono"), path: path, audio: try stereoAudio())
        #expect(summary != nil)
        let mismatches = findings.filter { $0.code == "transcript-mismatch" }
        #expect(mismatches.count == 3)
        #expect(mismatches.allSatisfy { $0.severity == .warning && $0.file == path })
        #expect(
            mismatches[0].message
                == "metadata.sha256 88039a6a806f… does not match the audio's SHA-256 d8e4e3add2ea… of 'clips/call_0002_stereo.wav'; this response may belong to another file or to a re-encoded upload"
        )
        #expect(mismatches[0].line == 5)
        #expect(mismatches[1].message == "metadata.duration is 6.2 s but 'clips/call_0002_stereo.wav' lasts 6 s")
        #expect(mismatches[1].line == 6)
        #expect(mismatches[2].message == "metadata.channels is 1 but 'clips/call_0002_stereo.wav' has 2 channels")
        #expect(mismatches[2].line == 7)
        // "check." ends at 6.12 s, past the 6.0 s stereo file.
        #expect(findings.map(\.code) == ["transcript-mismatch", "transcript-mismatch", "transcript-mismatch", "word-beyond-audio"])
        #expect(!findings.contains { $0.severity == .error })
    }

    @Test func withoutAudioThereAreNoComparisons() throws {
        let (summary, words, findings) = DeepgramSidecar.parse(try response("call_0001_mono"), path: "x.json", audio: nil)
        #expect(summary?.wordCount == 16 && words.count == 16)
        #expect(findings.isEmpty)
    }

    @Test func wordEndingPastTheAudioIsOneFindingWithCountAndExample() throws {
        let json = """
            {"metadata": {"sha256": "0C5B975743CC6D56E33E1B79264D13297F906BE739AC5A903501A6D71E85491F", "duration": 3.0, "channels": 1},
             "results": {"channels": [{"alternatives": [{"transcript": "one two three", "confidence": 0.9, "words": [
               {"word": "one", "start": 0.5, "end": 1.0, "confidence": 0.9},
               {"word": "two", "start": 2.9, "end": 3.0499999, "confidence": 0.9},
               {"word": "three", "start": 3.0, "end": 3.4, "confidence": 0.9, "punctuated_word": "three."},
               {"word": "four", "start": 3.4, "end": 3.9, "confidence": null}]}]}]}}
            """
        let (summary, _, findings) = DeepgramSidecar.parse(Array(json.utf8), path: "t.json", audio: try silenceAudio())
        #expect(summary?.wordCount == 4)
        #expect(abs((summary?.meanWordConfidence ?? 0) - 0.9) < 1e-12)  // the null confidence is left out of the mean
        #expect(findings.count == 1)
        let f = try #require(findings.first)
        #expect(f.severity == .warning && f.code == "word-beyond-audio" && f.file == "t.json")
        #expect(
            f.message
                == "2 words end after the end of 'clips/call_0003_silence.wav' (3 s); first: channel 0 'three.' ends at 3.4 s (word 3)")
    }

    @Test func wordStartingAfterItEndsIsReportedOnce() throws {
        let json = """
            {"metadata": {"duration": 2.0, "channels": 1}, "results": {"channels": [{"alternatives": [{"transcript": "a b c", "words": [
              {"word": "a", "start": 0.5, "end": 0.4, "confidence": 1},
              {"word": "b", "start": 0.6, "end": 0.2, "confidence": 1},
              {"word": "c", "end": 0.9, "confidence": 1}]}]}]}}
            """
        let (summary, words, findings) = DeepgramSidecar.parse(Array(json.utf8), path: "t.json", audio: nil)
        #expect(summary?.wordCount == 2 && words.map(\.text) == ["a", "b"])
        #expect(findings.count == 1)
        #expect(findings.first?.code == "bad-word-times" && findings.first?.severity == .warning)
        #expect(findings.first?.message == "3 words have impossible times; first: channel 0 word 1 'a' starts at 0.5 after it ends at 0.4")
    }

    @Test func multichannelResponseMissingAChannelWarns() throws {
        let json = """
            {"metadata": {"duration": 6.0, "channels": 3}, "results": {"channels": [
              {"alternatives": [{"transcript": "", "words": []}]}, {"alternatives": []}]}}
            """
        let (summary, _, findings) = DeepgramSidecar.parse(Array(json.utf8), path: "t.json", audio: nil)
        #expect(summary?.channels.map(\.text) == ["", ""])
        #expect(summary?.text == "\n")
        #expect(findings.map(\.code) == ["transcript-mismatch"])
        #expect(
            findings.first?.message == "metadata.channels is 3 but results.channels has 2 entries; a channel's transcript may be missing")
    }

    @Test func garbageIsABadJSONError() throws {
        for bytes in [Array("RIFF\u{0}\u{1}garbage".utf8), [0xFF, 0xFE, 0x00], [], Array("[1, 2]".utf8), Array("{\"metadata\": {}}".utf8)] {
            let (summary, words, findings) = DeepgramSidecar.parse(bytes, path: "g.json", audio: try monoAudio())
            #expect(summary == nil && words.isEmpty)
            #expect(findings.count == 1)
            #expect(findings.first?.severity == .error && findings.first?.code == "bad-json" && findings.first?.file == "g.json")
        }
    }

    @Test func badJSONNamesTheParserLine() throws {
        let (_, _, findings) = DeepgramSidecar.parse(Array("{\n  \"metadata\": {},\n  \"results\": ?\n}".utf8), path: "g.json", audio: nil)
        #expect(findings.first?.code == "bad-json")
        #expect(findings.first?.line == 3, "\(findings.map(\.description))")
    }

    @Test func recognisesResponsesAndReadsTheirHash() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(try response("call_0002_stereo"))) as? [String: Any])
        #expect(DeepgramSidecar.looksLikeResponse(object))
        #expect(DeepgramSidecar.declaredSHA256(object) == "d8e4e3add2eaaad700f99f6a0fb98cad634129aeb83309c3fac7e093dca4c5e8")
        #expect(DeepgramSidecar.declaredSHA256(["metadata": ["sha256": "ABCDEF"]]) == "abcdef")
        #expect(DeepgramSidecar.declaredSHA256(["metadata": ["sha256": NSNull()]]) == nil)
        #expect(!DeepgramSidecar.looksLikeResponse(["request_id": "x"]))
        #expect(!DeepgramSidecar.looksLikeResponse(["metadata": [String: Any](), "results": ["channels": NSNull()]]))
        #expect(!DeepgramSidecar.looksLikeResponse(["audio_filepath": "a.wav", "duration": 1.0]))
    }
}
