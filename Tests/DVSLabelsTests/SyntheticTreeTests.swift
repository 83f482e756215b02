import DVSCore
import DVSLabels
import Foundation
import Testing

/// A tree held in memory: text files plus samples of given durations (16 kHz mono).
struct MemoryTree {
    var texts: [String: String] = [:]
    var samples: [String: Double] = [:]

    var files: [LabelTreeFile] {
        let audio = samples.map { path, seconds in
            LabelTreeFile(
                path: RepoPath(path), blob: ObjectID.hashing(Array(path.utf8)), byteCount: 1,
                audio: AudioFacts(
                    container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 1, frameCount: Int(seconds * 16000)))
        }
        let text = texts.map {
            LabelTreeFile(
                path: RepoPath($0.key), blob: ObjectID.hashing(Array($0.value.utf8)), byteCount: UInt64($0.value.utf8.count), audio: nil)
        }
        return (audio + text).sorted { $0.path < $1.path }
    }

    func build() throws -> LabelBuildResult {
        let texts = self.texts
        return try LabelBuilder.build(files: files) { path in
            guard let t = texts[path.string] else { throw CocoaError(.fileNoSuchFile) }
            return Array(t.utf8)
        }
    }
}

extension LabelBuildResult {
    /// `file:line code` of every finding.
    var codes: [String] { findings.map { "\($0.file):\($0.line ?? 0) \($0.code)" } }
}

@Suite struct DetectionTests {
    @Test func ordinaryFilesGiveNoFindings() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = [
            "meta/clips.csv": "name,size\na.wav,3\n", "manifest.json": "{\"version\": 2}", "notes.tsv": "x\ty\n1\t2\n",
            "broken.json": "{not json", "other.jsonl": "{\"k\": 1}\n",
        ]
        let r = try t.build()
        #expect(r.findings.isEmpty && r.tables.isEmpty && r.samples.isEmpty)
    }

    @Test func plainTableResolvesBesideThenFromRoot() throws {
        var t = MemoryTree(samples: ["labels/a.wav": 1, "audio/b.wav": 1])
        t.texts = ["labels/t.csv": "path,label\na.wav,x\naudio/b.wav,y\nreadme.txt,z\n", "labels/readme.txt": ""]
        let r = try t.build()
        #expect(r.samples[RepoPath("labels/a.wav")]?[label: "label"] == .string("x"))
        #expect(r.samples[RepoPath("audio/b.wav")]?[label: "label"] == .string("y"))
        #expect(r.codes == ["labels/t.csv:4 not-audio"])
        #expect(r.findings[0].severity == .warning)
    }

    @Test func hfMetadataWithoutLinkColumnIsAnError() throws {
        var t = MemoryTree(samples: ["train/a.wav": 1])
        t.texts = ["train/metadata.csv": "name,text\na.wav,hi\n"]
        #expect(try t.build().codes == ["train/metadata.csv:1 missing-key-column"])
    }

    @Test func hfMetadataJSONLWithPrefixedLinkColumn() throws {
        var t = MemoryTree(samples: ["train/a.wav": 0.5])
        t.texts = ["train/metadata.jsonl": "{\"audio_file_name\": \"a.wav\", \"transcription\": \"\", \"n\": 3}\n"]
        let r = try t.build()
        #expect(r.codes == ["train/metadata.jsonl:1 empty-text"])
        #expect(r.samples[RepoPath("train/a.wav")]?[label: "n"] == .int(3))
    }

    @Test func nemoBlankLineIsAnErrorButAFinalNewlineIsNot() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = [
            "m.jsonl": "{\"audio_filepath\": \"a.wav\", \"duration\": 1.0}\n\n{\"audio_filepath\": \"/abs/a.wav\", \"duration\": 1}\n"
        ]
        #expect(try t.build().codes == ["m.jsonl:2 invalid-json", "m.jsonl:3 absolute-path"])
    }

    @Test func nemoSegmentBeyondAudio() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = [
            "m.json":
                "{\"audio_filepath\": \"a.wav\", \"offset\": 0.5, \"duration\": 0.6}\n{\"audio_filepath\": \"a.wav\", \"offset\": 0.1, \"duration\": 0.2, \"speaker\": \"x\"}\n"
        ]
        let r = try t.build()
        #expect(r.codes == ["m.json:1 segment-beyond-audio"])
        #expect(r.samples[RepoPath("a.wav")]?.segments.map(\.start) == [0.5, 0.1])
        #expect(r.tables.map(\.format) == ["nemo"])
    }

    @Test func conflictingDuplicateRowNamesBothLinesAndFields() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = ["t.csv": "path,label,score\na.wav,x,1\na.wav,y,1\n"]
        let f = try #require(try t.build().findings.first)
        #expect(f.severity == .error && f.code == "duplicate-row" && f.line == 3)
        #expect(f.message == "a.wav is listed at line 2 and line 3 with different label")
    }

    @Test func conflictingLabelsAcrossTablesKeepTheFirstTable() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = ["a.csv": "path,label\na.wav,x\n", "b.csv": "path,label\na.wav,y\n"]
        let r = try t.build()
        #expect(r.codes == ["b.csv:2 conflicting-labels"])
        #expect(r.samples[RepoPath("a.wav")]?[label: "label"] == .string("x"))
        #expect(r.samples[RepoPath("a.wav")]?.sources == ["a.csv", "b.csv"])
    }

    @Test func labelStudioTaskWithoutUsableAnnotation() throws {
        var t = MemoryTree(samples: ["clips/a.wav": 1, "clips/b.wav": 1, "x/b.wav": 1])
        t.texts = [
            "ls.json": """
            [{"id": 1, "data": {"audio": "/data/local-files/?d=clips/a.wav"}, "annotations": [{"id": 9, "was_cancelled": true, "result": []}]},
             {"id": 2, "data": {"audio": "https://bucket.example/audio/b.wav"}, "annotations": []}]
            """
        ]
        #expect(try t.build().codes == ["ls.json:1 no-annotation", "ls.json:2 ambiguous-mapping"])
    }

    @Test func deepgramSidecarsMatchByName() throws {
        var t = MemoryTree(samples: ["clips/a.wav": 1, "clips/b.wav": 1, "calls/c.wav": 1, "x/d.wav": 1])
        let response = "{\"metadata\": {\"sha256\": \"00\"}, \"results\": {\"channels\": []}}"
        t.texts = [
            "clips/a.wav.json": response, "dg/b.json": response, "transcripts/call-c.json": response, "dg/zzz.json": response,
            "dvs.toml": "[labels.sidecars]\ndeepgram = [\"transcripts/call-{stem}.json\"]\n",
        ]
        let r = try t.build()
        // Matched by name, each response's metadata.sha256 ("00") then disagrees with its audio.
        #expect(
            r.codes == [
                "clips/a.wav.json:1 transcript-mismatch", "dg/b.json:1 transcript-mismatch", "dg/zzz.json:0 unmatched-sidecar",
                "transcripts/call-c.json:1 transcript-mismatch",
            ])
        #expect(r.tables.filter { $0.format == "deepgram" }.map(\.samples) == [1, 1, 0, 1])
    }
}

@Suite struct ConfigTests {
    @Test func declaredTypesAndSchema() throws {
        var t = MemoryTree(samples: ["audio/a.wav": 1, "audio/b.wav": 1, "audio/c.wav": 1])
        t.texts = [
            "labels/train.tsv":
                "file\tage\tlabel\tscore\tok\na.wav\t31\thappy\t0.5\tyes\nb.wav\tx\thappy\t0.5\tno\nc.wav\t40\tbored\t1.5\t\n",
            "dvs.toml": """
            [labels]
            duration_tolerance = 0.1
            colour = "blue"
            [[labels.table]]
            path = "labels/*.tsv"
            format = "table"
            key = "file"
            base = "audio"
            [labels.table.types]
            age = "int"
            ok = "bool"
            [labels.schema.fields.label]
            required = true
            values = ["angry", "happy", "neutral"]
            [labels.schema.fields.score]
            type = "float"
            min = 0.0
            max = 1.0
            [labels.schema.fields.ok]
            required = true
            """,
        ]
        let r = try t.build()
        #expect(
            r.codes == [
                "dvs.toml:0 unknown-config-key", "labels/train.tsv:3 wrong-type", "labels/train.tsv:4 not-allowed",
                "labels/train.tsv:4 missing-field", "labels/train.tsv:4 out-of-range",
            ])
        let a = try #require(r.samples[RepoPath("audio/a.wav")])
        #expect(a[label: "age"] == .int(31) && a[label: "ok"] == .bool(true) && a[label: "score"] == .double(0.5))
        #expect(r.findings.first { $0.code == "not-allowed" }?.hint == "allowed: angry, happy, neutral")
        #expect(r.findings.first { $0.code == "wrong-type" }?.message == "column age of \"b.wav\" is \"x\", expected int")
    }

    @Test func ignoredFilesAreNotRead() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = ["meta/x.csv": "path\nmissing.wav\n", "dvs.toml": "[labels]\nignore = [\"meta/*.csv\"]\n"]
        #expect(try t.build().findings.isEmpty)
    }

    @Test func brokenConfigIsAnErrorWithItsLine() throws {
        var t = MemoryTree()
        t.texts = ["dvs.toml": "[labels]\nduration_tolerance = \n"]
        let f = try #require(try t.build().findings.first)
        #expect(f.code == "config" && f.severity == .error && f.line == 2)
    }

    @Test func requiredFieldMissingFromALabeledSample() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = ["t.csv": "path,x\na.wav,1\n", "dvs.toml": "[labels.schema.fields.label]\nrequired = true\n"]
        #expect(try t.build().codes == ["a.wav:0 missing-field"])
    }
}

@Suite struct ScaleTests {
    @Test func aHundredThousandRowTableJoins() throws {
        var t = MemoryTree()
        var text = "path,speaker,label,score,duration\n"
        for i in 0..<100_000 {
            t.samples["clips/\(i).wav"] = 1
            text += "clips/\(i).wav,s\(i % 97),l\(i % 5),0.\(i % 10),1.0\n"
        }
        t.texts["labels.csv"] = text
        let r = try t.build()
        #expect(r.findings.isEmpty)
        #expect(r.samples.count == 100_000)
        #expect(r.tables == [LabelTableInfo(path: "labels.csv", format: "table", records: 100_000, samples: 100_000)])
        #expect(r.samples[RepoPath("clips/99999.wav")]?[label: "speaker"] == .string("s89"))
    }
}

@Suite struct OneLineManifestTests {
    @Test func aOneLineNeMoManifestNamedJSONIsStillAManifest() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = ["m.json": "{\"audio_filepath\": \"a.wav\", \"duration\": 1.0, \"text\": \"hi\"}\n"]
        let r = try t.build()
        #expect(r.findings.isEmpty && r.samples[RepoPath("a.wav")]?[label: "text"] == .string("hi"))
    }

    /// `[labels.table.types]` without `[[labels.table]]` is a mistake, not a silent no-op.
    @Test func misnestedTableDeclarationIsAConfigError() throws {
        var t = MemoryTree(samples: ["a.wav": 1])
        t.texts = ["dvs.toml": "[labels.table.types]\nspeaker_id = \"integr\"\n", "a.csv": "path,speaker_id\na.wav,007\n"]
        let r = try t.build()
        let f = try #require(r.findings.first { $0.code == "config" })
        #expect(f.severity == .error && f.message.contains("[[labels.table]]"))
    }

    /// The TSV field-count hint fits a table read without quoting, and a short row.
    @Test func fieldCountHintsFitTheTable() throws {
        var t = MemoryTree(samples: ["a.wav": 1, "b.wav": 1])
        t.texts = ["l.tsv": "path\tlabel\na.wav\tx\ty\nb.wav\n"]
        let r = try t.build()
        let hints = r.findings.filter { $0.code == "field-count" }.map { $0.hint ?? "" }
        #expect(hints.count == 2)
        #expect(hints[0].contains("read without quoting") && !hints[0].contains("quote the value"))
        #expect(hints[1].contains("a value is missing"))
    }
}
