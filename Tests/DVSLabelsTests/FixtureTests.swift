import DVSCore
import DVSLabels
import Testing

/// The generated fixture dataset's planted edge cases (`Tests/Fixtures/README.md`).
@Suite struct FixtureTests {
    static let result = Result { try FixtureTree.build() }
    var r: LabelBuildResult { get throws { try Self.result.get() } }

    func findings(_ file: String, _ code: String) throws -> [LabelFinding] { try r.findings.filter { $0.file == file && $0.code == code } }
    func sample(_ path: String) throws -> SampleAnnotations { try #require(try r.samples[RepoPath(path)]) }
    static let chloe = "clips/chlo\u{00E9}_0001.wav"

    @Test func exactlyTheExpectedErrors() throws {
        let errors = try r.findings.filter { $0.severity == .error }.map { "\($0.file):\($0.line ?? 0) \($0.code)" }
        #expect(
            errors == [
                "labelstudio/export.json:285 missing-file",
                "manifest.jsonl:5 unicode-normalization",
                "manifest.jsonl:6 missing-file",
                "manifest.jsonl:9 duplicate-row",  // same file as line 2, different text
                "manifest.jsonl:10 wrong-type",
                "metadata.csv:8 missing-file",
                "validated.tsv:7 missing-file",
                "validated.tsv:9 field-count",
                "validated.tsv:10 duplicate-row",  // ben_0001.wav again, different sentence (line 4)
                "validated.tsv:11 duplicate-row",  // ana_0001.wav again, different sentence (line 2)
            ])
    }

    @Test func tablesRecognised() throws {
        #expect(
            try r.tables.map { "\($0.path) \($0.format) \($0.records) \($0.samples)" } == [
                "clip_durations.tsv common-voice-durations 5 5",
                "deepgram/call_0001_mono.json deepgram 1 1",
                "deepgram/call_0002_stereo.json deepgram 1 1",
                "deepgram/call_0003_silence.json deepgram 1 1",
                "labelstudio/export.json label-studio 6 4",
                "manifest.jsonl nemo 10 5",
                "metadata.csv hf-audiofolder 8 6",
                "validated.tsv common-voice 10 5",
            ])
        #expect(try r.findings.filter { $0.code == "unmatched-sidecar" }.isEmpty)
    }

    @Test func huggingFaceMetadata() throws {
        #expect(try findings("metadata.csv", "missing-file").map(\.line) == [8])
        let dup = try findings("metadata.csv", "duplicate-row")
        #expect(dup.map(\.line) == [9] && dup[0].severity == .warning && dup[0].message.contains("first at line 2"))
        #expect(try findings("metadata.csv", "empty-text").map(\.line) == [10])
        #expect(try findings("metadata.csv", "newline-in-text").map(\.line) == [4])
        #expect(try sample("clips/ana_0001.wav")[label: "speaker_id"] == .string("021"))
        #expect(try sample("clips/ana_0002.wav")[label: "speaker_id"] == .string("021"))
        #expect(try sample("clips/ben_0001.wav")[label: "label"] == .string("billing,refund"))
        #expect(try sample("clips/call_0003_silence.wav")[label: "transcription"] == .null)
        #expect(try sample(Self.chloe)[label: "speaker_id"] == .string("046"))
    }

    @Test func huggingFaceTranscriptionWithDoubledQuotes() throws {
        // Label Studio comes first in path order, so metadata.csv's value is reported as a conflict; read it from the table.
        let conflict = try findings("metadata.csv", "conflicting-labels").first { $0.line == 3 }
        #expect(conflict?.message.contains("transcription is \"He wrote \\\"urgent\\\" on the box\" here") == true)
    }

    @Test func nemoManifest() throws {
        #expect(try findings("manifest.jsonl", "newline-in-text").map(\.line) == [3])
        let nfd = try #require(try findings("manifest.jsonl", "unicode-normalization").first)
        #expect(nfd.line == 5 && nfd.message.contains("differs only in Unicode normalization (row is NFD, file is NFC)"))
        #expect(nfd.hint?.contains("NFC") == true)
        #expect(try findings("manifest.jsonl", "missing-file").map(\.line) == [6])
        #expect(try r.findings.filter { $0.file == "manifest.jsonl" && $0.line == 7 }.isEmpty)
        let segment = try #require(try sample("clips/call_0001_mono.wav").segments.first)
        #expect(segment.start == 3.1 && abs(segment.end - 5.2) < 1e-9 && segment.source == "manifest.jsonl")
        #expect(
            segment.labels == [
                LabelField("speaker", .string("customer")), LabelField("text", .string("hello priya my connection keeps cutting out")),
            ])
        let dups = try findings("manifest.jsonl", "duplicate-row")
        #expect(dups.map(\.line) == [8, 9] && dups.map(\.severity) == [.warning, .error])
        let mismatch = try findings("manifest.jsonl", "duration-mismatch")
        #expect(mismatch.map(\.line) == [9] && mismatch[0].message == "clips/ana_0002.wav declares 0.9 s, audio is 0.750 s")
        let wrong = try findings("manifest.jsonl", "wrong-type")
        #expect(wrong.map(\.line) == [10] && wrong[0].message == "duration is a string \"0.4\", expected a number")
        #expect(try sample("clips/ana_0001.wav")[label: "text"] == .string("yes the parcel left on monday"))
    }

    @Test func commonVoice() throws {
        #expect(try sample("clips/ana_0002.wav")[label: "sentence"] == .string("\"Stop,\" he wrote on the box."))
        #expect(try sample("clips/ana_0002.wav")[label: "up_votes"] == .int(4))
        #expect(try sample("clips/ben_0001.wav")[label: "age"] == .string("fourties"))
        #expect(try findings("validated.tsv", "missing-file").map(\.line) == [7])
        let dup = try findings("validated.tsv", "duplicate-row")
        #expect(dup.map(\.line) == [8, 10, 11] && dup.map(\.severity) == [.warning, .error, .error])
        let count = try #require(try findings("validated.tsv", "field-count").first)
        #expect(count.line == 9 && count.message == "expected 13 fields, found 14")
        let mismatch = try findings("clip_durations.tsv", "duration-mismatch")
        #expect(mismatch.map(\.line) == [3] && mismatch[0].message == "clips/ana_0002.wav declares 0.9 s, audio is 0.750 s")
    }

    @Test func labelStudioExport() throws {
        let f = "labelstudio/export.json"
        #expect(try findings(f, "ambiguous-mapping").map(\.line) == [81])
        let disagree = try #require(try findings(f, "annotators-disagree").first)
        #expect(disagree.line == 81 && disagree.message.contains("7002, 7003"))
        let ana0002 = try sample("clips/ana_0002.wav")
        #expect(ana0002[label: "annotation_id"] == .int(7003) && ana0002[label: "call_quality"] == .string("Good"))
        #expect(ana0002[label: "annotator"] == .string("11") && ana0002[label: "ls_task"] == .int(202))
        #expect(try findings(f, "region-beyond-audio").map(\.line) == [219])
        #expect(try sample(Self.chloe)[label: "ls_task"] == .int(203))
        let missing = try findings(f, "missing-file")
        #expect(missing.map(\.line) == [285] && missing[0].severity == .error)
        let dup = try findings(f, "duplicate-sample")
        #expect(dup.map(\.line) == [318] && dup[0].message.contains("kept task 201"))
        let s206 = try sample("clips/ben 0002.wav")
        #expect(s206[label: "ls_task"] == .int(206))
        let region = try #require(s206.segments.first { $0.source == f })
        #expect(
            region.labels == [LabelField("speaker", .string("Agent")), LabelField("transcription", .string("take one\ntake two"))])
        #expect(region.start == 0.04 && region.end == 0.26 && region.channel == 0)
        #expect(try sample("clips/ana_0001.wav")[label: "speaker"] == .string("Agent"))
    }

    @Test func deepgramResponsesMatchBySHA256() throws {
        #expect(try r.tables.filter { $0.format == "deepgram" }.allSatisfy { $0.samples == 1 })
    }

    @Test func findingsAreSortedByFileThenLine() throws {
        let keys = try r.findings.map { ($0.file, $0.line ?? 0) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 <= $1 })
    }
}
