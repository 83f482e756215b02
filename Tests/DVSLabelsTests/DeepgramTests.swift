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
        #expect(s.wordCount == 17 && words.count == 17)
        #expect(s.speakerCount == 2)
        #expect(s.text == "Thanks for calling Northwind Support, this is Dana. Hi Dana, my router keeps dropping. Let's fix that.")
        #expect(s.text.hasPrefix(words[0].text))
        #expect(s.language == nil)
        #expect(s.channels == [ChannelTranscript(channel: 0, text: s.text, language: nil, confidence: 0.9968)])
        let confidences = [
            0.9981, 0.999, 0.9987, 0.8123, 0.9812, 0.9991, 0.9993, 0.921, 0.9975, 0.9602, 0.9989,
            0.9934, 0.9977, 0.9856, 0.9968, 0.9995, 0.9979,
        ]
        #expect(abs(try #require(s.confidence) - confidences.reduce(0, +) / 17) < 1e-12)
        #expect(abs(try #require(s.confidence) - 0.9786) < 1e-9)
        #expect(s.words == nil)
        // Punctuated words, per-word speakers, float32 times kept as written.
        #expect(words[0] == TranscriptWord(text: "Thanks", start: 0.32, end: 0.56, confidence: 0.9981, speaker: 0, channel: 0))
        #expect(words[6] == TranscriptWord(text: "is", start: 2.16, end: 2.2799999, confidence: 0.9993, speaker: 0, channel: 0))
        #expect(words[8].text == "Hi" && words[8].speaker == 1)
        #expect(words.last == TranscriptWord(text: "that.", start: 5.68, end: 6.08, confidence: 0.9979, speaker: 0, channel: 0))
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
                    channel: 0, text: "Northwind billing, how can I help? I can refund that today.", language: "en", confidence: 0.993891),
                ChannelTranscript(channel: 1, text: "Hi, I was charged twice.", language: "en", confidence: 0.98904),
            ])
        #expect(s.text == "Northwind billing, how can I help? I can refund that today.\nHi, I was charged twice.")
        #expect(s.language == "en")
        // Utterances say `speaker: 0`, but no word carries a speaker and there is no diarize_info.
        #expect(s.speakerCount == 0)
        #expect(words.allSatisfy { $0.speaker == nil })
        #expect(s.wordCount == 16)
        #expect(abs(try #require(s.confidence) - 0.992375) < 1e-9)
        // Channel order, then time order: 11 agent words, then the customer from 2.00 s.
        #expect(words.prefix(11).allSatisfy { $0.channel == 0 })
        let customer = words.filter { $0.channel == 1 }
        #expect(customer.count == 5)
        #expect(customer.first == TranscriptWord(text: "Hi,", start: 2.0, end: 2.24, confidence: 0.9731, speaker: nil, channel: 1))
        #expect(words[11] == customer[0])
    }

    @Test func silenceIsAnEmptyTranscriptWithoutFindings() throws {
        let (summary, words, findings) = DeepgramSidecar.parse(
            try response("call_0003_silence"), path: "d/call_0003_silence.json", audio: try silenceAudio())
        let s = try #require(summary)
        #expect(findings.isEmpty, "\(findings.map(\.description))")
        #expect(s.text == "")
        #expect(s.confidence == nil)
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
                == "metadata.sha256 43e1048aff7c… does not match the audio's SHA-256 65e76d373cb2… of 'clips/call_0002_stereo.wav'; this response may belong to another file or to a re-encoded upload"
        )
        #expect(mismatches[0].line == 5)
        #expect(mismatches[1].message == "metadata.duration is 6.2 s but 'clips/call_0002_stereo.wav' lasts 6 s")
        #expect(mismatches[1].line == 7)
        #expect(mismatches[2].message == "metadata.channels is 1 but 'clips/call_0002_stereo.wav' has 2 channels")
        #expect(mismatches[2].line == 8)
        // "that." ends at 6.08 s, past the 6.0 s stereo file.
        #expect(findings.map(\.code) == ["transcript-mismatch", "transcript-mismatch", "transcript-mismatch", "word-beyond-audio"])
        #expect(!findings.contains { $0.severity == .error })
    }

    @Test func withoutAudioThereAreNoComparisons() throws {
        let (summary, words, findings) = DeepgramSidecar.parse(try response("call_0001_mono"), path: "x.json", audio: nil)
        #expect(summary?.wordCount == 17 && words.count == 17)
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
        #expect(abs((summary?.confidence ?? 0) - 0.9) < 1e-12)  // the null confidence is left out of the mean
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
        #expect(DeepgramSidecar.declaredSHA256(object) == "65e76d373cb2b8d218a430b6f83f32a4032b69d7c5c4445da5b3b686bad6d84b")
        #expect(DeepgramSidecar.declaredSHA256(["metadata": ["sha256": "ABCDEF"]]) == "abcdef")
        #expect(DeepgramSidecar.declaredSHA256(["metadata": ["sha256": NSNull()]]) == nil)
        #expect(!DeepgramSidecar.looksLikeResponse(["request_id": "x"]))
        #expect(!DeepgramSidecar.looksLikeResponse(["metadata": [String: Any](), "results": ["channels": NSNull()]]))
        #expect(!DeepgramSidecar.looksLikeResponse(["audio_filepath": "a.wav", "duration": 1.0]))
    }
}
