import DVSCore
import DVSLabels
import DVSTestSupport
import Foundation
import Testing

/// Byte-level mutations of a valid input: what a damaged or hand-edited file looks like.
enum Mutator {
    /// Bytes that matter to the decoders: quotes, separators, line ends, brackets, NUL, invalid UTF-8.
    static let interesting: [UInt8] = [
        0x00, 0x09, 0x0A, 0x0D, 0x22, 0x27, 0x2C, 0x2E, 0x3D, 0x5B, 0x5D, 0x7B, 0x7D, 0x5C, 0x23, 0x3A, 0x2D, 0x30, 0x39,
        0x65, 0x7F, 0x80, 0xC3, 0xFF,
    ]

    /// `input` with 1 to 8 random edits: a byte replaced, inserted or deleted, a run duplicated or
    /// cut, a line duplicated.
    static func mutate(_ input: [UInt8], _ g: inout SeededGenerator) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...8, using: &g) {
            let at = b.isEmpty ? 0 : Int.random(in: 0..<b.count, using: &g)
            let byte = Bool.random(using: &g) ? interesting.randomElement(using: &g)! : UInt8.random(in: 0...255, using: &g)
            switch Int.random(in: 0..<6, using: &g) {
            case 0 where !b.isEmpty: b[at] = byte
            case 1: b.insert(byte, at: at)
            case 2 where !b.isEmpty: b.remove(at: at)
            case 3 where !b.isEmpty:
                let end = min(b.count, at + Int.random(in: 1...16, using: &g))
                b.insert(contentsOf: b[at..<end], at: end)
            case 4 where !b.isEmpty: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...32, using: &g)))
            default:
                let lines = b.split(separator: 0x0A, omittingEmptySubsequences: false)
                if let line = lines.randomElement(using: &g) { b += [0x0A] + line }
            }
        }
        return b
    }
}

/// A tree of byte files and 1-second 16 kHz samples, for the label builder.
struct ByteTree {
    var files: [String: [UInt8]] = [:]
    var samples: [String] = []

    func build() throws -> LabelBuildResult {
        let audio = samples.map {
            LabelTreeFile(
                path: RepoPath($0), blob: ObjectID.hashing(Array($0.utf8)), byteCount: 1,
                audio: AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 1, frameCount: 16000))
        }
        let text = files.map {
            LabelTreeFile(path: RepoPath($0.key), blob: ObjectID.hashing($0.value), byteCount: UInt64($0.value.count), audio: nil)
        }
        let files = self.files
        return try LabelBuilder.build(files: (audio + text).sorted { $0.path < $1.path }) { path in
            guard let t = files[path.string] else { throw CocoaError(.fileNoSuchFile) }
            return t
        }
    }
}

/// "An error or a result, never a crash": each decoder gets a few hundred mutated inputs from a
/// fixed seed. The tests run in-process, so a crash fails the whole run; each crash found is kept
/// below as a named regression case.
@Suite struct LabelFuzzTests {
    /// Cases per decoder: 300 (a few seconds), or `DVS_FUZZ_CASES` for a longer campaign.
    static let cases = ProcessInfo.processInfo.environment["DVS_FUZZ_CASES"].flatMap(Int.init) ?? 300
    static let samples = ["a.wav", "b.wav", "clips/c.wav"]

    /// Builds the tree with `name` holding `bytes`; the builder may report findings but not fail.
    func buildTable(_ name: String, _ bytes: [UInt8], config: [UInt8]? = nil) throws {
        var t = ByteTree(samples: Self.samples)
        t.files[name] = bytes
        if let config { t.files["dvs.toml"] = config }
        _ = try t.build()
    }

    @Test func csvTables() throws {
        var g = SeededGenerator(seed: 0xC5F1)
        let seeds = [
            "path,label,score,duration\na.wav,happy,0.5,1.0\nb.wav,\"sad, very\",1,0.9\nclips/c.wav,,x,\n",
            "file_name,transcription\na.wav,hello\nb.wav,\"multi\nline\"\n",
        ].map { Array($0.utf8) }
        for i in 0..<Self.cases {
            try buildTable(i % 2 == 0 ? "labels.csv" : "metadata.csv", Mutator.mutate(seeds[i % 2], &g))
        }
    }

    @Test func tsvTables() throws {
        var g = SeededGenerator(seed: 0x75F2)
        let seed = Array("path\tclient_id\tsentence\tup_votes\na.wav\tc1\thello\t2\nb.wav\tc2\tworld\t0\n".utf8)
        let durations = Array("clip\tduration[ms]\na.wav\t1000\nb.wav\t900\n".utf8)
        for i in 0..<Self.cases {
            try buildTable(i % 3 == 0 ? "clip_durations.tsv" : "train.tsv", Mutator.mutate(i % 3 == 0 ? durations : seed, &g))
        }
    }

    @Test func jsonLinesTables() throws {
        var g = SeededGenerator(seed: 0x150A)
        let seeds = [
            "{\"audio_filepath\": \"a.wav\", \"duration\": 1.0, \"text\": \"hi\"}\n{\"audio_filepath\": \"b.wav\", \"duration\": 0.5, \"offset\": 0.1}\n",
            "{\"path\": \"a.wav\", \"label\": [1, {\"x\": null}], \"n\": 3}\n",
        ].map { Array($0.utf8) }
        for i in 0..<Self.cases { try buildTable(i % 2 == 0 ? "m.jsonl" : "metadata.jsonl", Mutator.mutate(seeds[i % 2], &g)) }
    }

    @Test func labelStudioExports() throws {
        var g = SeededGenerator(seed: 0x1AB5)
        let seed = Array(
            """
            [{"id": 1, "data": {"audio": "a.wav"}, "annotations": [{"id": 7, "completed_by": 2, "result": [
              {"id": "r1", "type": "labels", "from_name": "label", "value": {"start": 0.1, "end": 0.5, "channel": 0, "labels": ["speech"]}},
              {"id": "r1", "type": "textarea", "from_name": "text", "value": {"text": ["hello"]}},
              {"type": "choices", "from_name": "mood", "value": {"choices": ["calm"]}}]}]}]
            """.utf8)
        for _ in 0..<Self.cases { try buildTable("export.json", Mutator.mutate(seed, &g)) }
    }

    @Test func deepgramResponses() throws {
        var g = SeededGenerator(seed: 0xDE69)
        let folder = TestSupport.fixtures + "/dataset/deepgram/"
        let seeds = try ["call_0001_mono", "call_0002_stereo"].map { Array(try TestSupport.read(folder + $0 + ".json")) }
        let audio = LabelTreeFile(
            path: RepoPath("clips/c.wav"), blob: ObjectID.hashing([1]), byteCount: 1,
            audio: AudioFacts(container: "WAV", encoding: "ULAW", sampleRate: 8000, channelCount: 2, frameCount: 48000))
        for i in 0..<Self.cases {
            _ = DeepgramSidecar.parse(Mutator.mutate(seeds[i % 2], &g), path: "clips/c.wav.json", audio: audio)
        }
    }

    @Test func configFiles() throws {
        var g = SeededGenerator(seed: 0x70A1)
        let seed = Array(
            """
            [labels]
            duration_tolerance = 0.1
            ignore = ["meta/*.csv", 'x']
            [[labels.table]]
            path = "labels/*.tsv"   # a comment
            format = "table"
            key = "file"
            delimiter = "\\t"
            [labels.table.types]
            age = "int"
            [labels.schema.fields.score]
            type = "float"
            min = -1.5e3
            max = 1_000
            values = [1, 2.5, true, 1979-05-27T07:32:00Z, { a = 1 }]
            [labels.sidecars]
            deepgram = [\"\"\"transcripts/{stem}.json\"\"\"]

            """.utf8)
        for _ in 0..<Self.cases {
            let bytes = Mutator.mutate(seed, &g)
            let (_, findings) = LabelConfig.parse(bytes, file: "dvs.toml")
            for f in findings where f.code == "config" && f.line != nil { #expect(f.line! >= 1) }
            try buildTable("t.csv", Array("path,x\na.wav,1\n".utf8), config: bytes)
        }
    }

    /// The three-way merge of a label table and the row-by-row relabel read tables too.
    @Test func tableMergesAndRowEdits() throws {
        var g = SeededGenerator(seed: 0x3E26)
        let base = Array("path,lang,speaker\nclips/a.wav,en,spk1\nclips/b.wav,en,spk2\n".utf8)
        let jsonl = Array("{\"path\": \"a.wav\", \"n\": 1}\n{\"path\": \"b.wav\", \"n\": 2}\n".utf8)
        for i in 0..<Self.cases {
            let (path, seed) = i % 3 == 0 ? ("t.jsonl", jsonl) : ("labels.csv", base)
            let ours = Mutator.mutate(seed, &g)
            let theirs = Mutator.mutate(seed, &g)
            _ = try? LabelTableMerge.merge(
                path: RepoPath(path), base: i % 2 == 0 ? seed : nil, ours: ours, theirs: theirs, ourRenames: [:], theirRenames: [:])
            if let edit = TableRowEdit(path: RepoPath(path), old: seed, new: ours) {
                _ = edit.annotations(files: [])
            }
        }
    }

    // MARK: Regressions: crashes the campaign (and these tests) found, kept by name.

    /// Exit 132 before: two columns of one name ("Duplicate values for key").
    @Test func duplicatedColumnNameIsAnErrorNotACrash() throws {
        var t = ByteTree(samples: ["a.wav"])
        t.files["labels.csv"] = Array("path,label,label\na.wav,x,y\n".utf8)
        let r = try t.build()
        #expect(r.codes == ["labels.csv:1 duplicate-column"])
        #expect(r.findings[0].severity == .error && r.findings[0].message.contains("\"label\""))
        #expect(r.samples.isEmpty)
    }

    /// Exit 134 before: TOMLKit's C++ parser asserted on a malformed table header.
    @Test func malformedTableHeaderIsAnErrorWithItsLine() {
        for text in ["[labels]\nduration_tolerance = 1\n[,abels]\n", "[[,x]]\n", "a = { ,b = 1 }\n", "[labels.]\n", "[ ]\n"] {
            let (_, findings) = LabelConfig.parse(text, file: "dvs.toml")
            #expect(findings.count == 1 && findings[0].code == "config" && findings[0].severity == .error, "\(text)")
        }
        #expect(LabelConfig.parse("[labels]\nduration_tolerance = 1\n[,abels]\n", file: "dvs.toml").findings.first?.line == 3)
    }

    /// A NUL byte used to end the file silently (the schema after it was not enforced).
    @Test func nulByteInConfigIsAnErrorWithItsLine() {
        let (_, findings) = LabelConfig.parse(Array("[labels]\nduration_tolerance = 0.1\0\n[labels.schema]\n".utf8), file: "dvs.toml")
        #expect(findings.map(\.code) == ["config"])
        #expect(findings.first?.line == 2 && findings.first?.message.contains("NUL") == true)
    }

    /// A misspelt top-level table (`[lables]`) used to be ignored without a word.
    @Test func anUnknownTopLevelKeyIsAWarning() {
        let (config, findings) = LabelConfig.parse("[lables]\nduration_tolerance = 0.5\n", file: "dvs.toml")
        #expect(findings.map(\.code) == ["unknown-config-key"])
        #expect(findings.first?.message == "unknown key 'lables' is ignored")
        #expect(findings.first?.severity == .warning)
        #expect(config.durationTolerance == LabelConfig().durationTolerance)
        #expect(LabelConfig.parse("[labels]\nduration_tolerance = 0.5\n", file: "dvs.toml").findings.isEmpty)
    }

    /// Deep nesting must not exhaust the stack.
    @Test func deeplyNestedConfigValuesAreRefused() {
        let text = "a = " + String(repeating: "[", count: 100_000) + "\n"
        #expect(LabelConfig.parse(text, file: "dvs.toml").findings.first?.code == "config")
        let json = String(repeating: "[", count: 100_000)
        var t = ByteTree(samples: ["a.wav"])
        t.files["m.jsonl"] = Array(("{\"audio_filepath\": \"a.wav\", \"x\": " + json + "}\n").utf8)
        _ = try? t.build()
    }

    /// A Label Studio region on a negative channel used to trap when the manifest was written.
    @Test func labelStudioNegativeChannelIsNoChannel() throws {
        var t = ByteTree(samples: ["a.wav"])
        t.files["export.json"] = Array(
            """
            [{"data": {"audio": "a.wav"}, "annotations": [{"result": [
              {"id": "r", "type": "labels", "from_name": "l", "value": {"start": 0, "end": 0.5, "channel": -1, "labels": ["x"]}}]}]}]
            """.utf8)
        let r = try t.build()
        for s in r.samples.values {
            for seg in s.segments { #expect(seg.channel == nil) }
            var w = ByteWriter()
            w.write(annotations: s)
        }
    }
}
