import Foundation
import Testing

@testable import DVSCore

@Suite struct ObjectIDTests {
    @Test func sha256OfABCMatchesFIPSVector() {
        // FIPS 180-2 appendix B.1.
        #expect(ObjectID.hashing(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hexRoundTripsAndRejectsGarbage() {
        let id = ObjectID.hashing(Array("dvs".utf8))
        #expect(ObjectID(hex: id.hex) == id)
        #expect(ObjectID(hex: id.hex.uppercased()) == id)
        #expect(ObjectID(hex: "xyz") == nil)
        #expect(ObjectID(hex: String(repeating: "g", count: 64)) == nil)
        #expect(id.bytes.count == 32)
        #expect(ObjectID(bytes: id.bytes) == id)
    }
}

@Suite struct RepoPathTests {
    @Test func unsafePathsAreRejected() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", ".dvs/catalog.sqlite", ".DVS/x", ".git/config", "a/."] {
            #expect(RepoPath(bad).validationProblem != nil, "\(bad) must be rejected")
        }
        #expect(RepoPath(bytes: [0x61, 0, 0x62]).validationProblem != nil)
        for good in ["a.wav", "clips/spk02 0002.wav", "x/.dvsignore", "a/.dvsx/b", "Zoë.wav", "..a", "a.."] {
            #expect(RepoPath(good).validationProblem == nil, "\(good) is fine")
        }
    }

    @Test func nfcAndNfdNamesAreDistinctPaths() {
        let nfc = RepoPath(bytes: Array("Zo\u{00EB}.wav".utf8))
        let nfd = RepoPath(bytes: Array("Zoe\u{0308}.wav".utf8))
        // Swift's String == says they are equal; paths must not.
        #expect("Zo\u{00EB}.wav" == "Zoe\u{0308}.wav")
        #expect(nfc != nfd)
        #expect(Set([nfc, nfd]).count == 2)
        #expect(nfd < nfc)  // 'e' (0x65) sorts before 0xC3
    }

    @Test func withinAndParent() {
        #expect(RepoPath("a/b/c").isWithin(RepoPath("a/b")))
        #expect(!RepoPath("a/bc").isWithin(RepoPath("a/b")))
        #expect(RepoPath("a/b/c").parent == RepoPath("a/b"))
        #expect(RepoPath("a").parent == nil)
    }
}

@Suite struct ByteCodingTests {
    @Test func varintMatchesLEB128Vector() throws {
        var w = ByteWriter()
        w.write(varint: 300)
        #expect(w.bytes == [0xAC, 0x02])
        var r = ByteReader(w.bytes)
        #expect(try r.readVarint() == 300)
    }

    @Test func truncatedInputThrows() {
        var r = ByteReader([0x80])
        #expect(throws: FormatError.self) { try r.readVarint() }
        var r2 = ByteReader([1, 2])
        #expect(throws: FormatError.self) { try r2.readU32() }
    }
}

func entry(_ path: String, _ content: String, audio: AudioFacts? = nil) -> ManifestEntry {
    ManifestEntry(
        path: RepoPath(path), kind: .file, blob: ObjectID.hashing(Array(content.utf8)), byteCount: UInt64(content.utf8.count), audio: audio)
}

@Suite struct ManifestTests {
    @Test func leafChunkHasAFixedEncodingAndID() throws {
        // Format stability: these bytes and this id must never change for format version 2.
        let e = ManifestEntry(
            path: RepoPath("a.wav"), kind: .file, blob: ObjectID.hashing(Array("x".utf8)), byteCount: 1,
            audio: AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 1, frameCount: 16000))
        let bytes = ManifestChunk.leaf([e]).encoded()
        #expect(Array(bytes.prefix(7)) == [0x44, 0x56, 0x53, 0x4D, 2, 0, 1])
        // v1 fields, then 0 level pairs and annotations flag 0. 16000 is a 2-byte varint.
        #expect(bytes.count == 7 + 6 + 1 + 32 + 1 + 1 + 4 + 7 + 2 + 1 + 2 + 1 + 1)
        #expect(try ManifestChunk.decode(bytes) == .leaf([e]))
        #expect(ObjectID.hashing(bytes).hex == ManifestTests.pinnedLeafID)
        // The same entry in format 1 (no levels, no annotations flag) still decodes.
        var v1 = Array(bytes.dropLast(2))
        v1[4] = 1
        #expect(ObjectID.hashing(v1).hex == "c06c7190f4957c57f92bcbf090d62226723b856123ee85591ea0baf844417b45")
        #expect(try ManifestChunk.decode(v1) == .leaf([e]))
    }
    static let pinnedLeafID = "2476e90ff1e1ff8301b0b0d7fdca8e9087c116c96ed32b12e7f7551889dba799"

    @Test func annotationsAndLevelsRoundTrip() throws {
        var facts = AudioFacts(container: "WAV", encoding: "ULAW", sampleRate: 8000, channelCount: 2, frameCount: 48000)
        facts.peak = [0.25, 0]
        facts.rms = [0.05, 0]
        let words = ObjectID.hashing(Array("w".utf8))
        let n = SampleAnnotations(
            labels: [
                LabelField("age", .int(-7)), LabelField("ok", .bool(true)), LabelField("score", .double(0.25)),
                LabelField("speaker_id", .string("007")), LabelField("z", .null),
            ],
            segments: [
                LabelSegment(start: 3.04, end: 4.8, channel: 1, source: "manifest.jsonl", labels: [LabelField("text", .string("hi"))])
            ],
            transcript: TranscriptSummary(
                source: "dg/a.json", text: "hello\nworld", language: "en", confidence: 0.91, wordCount: 2,
                speakerCount: 0,
                channels: [
                    ChannelTranscript(channel: 0, text: "hello", language: "en", confidence: 0.9),
                    ChannelTranscript(channel: 1, text: "world"),
                ], words: words),
            sources: ["dg/a.json", "manifest.jsonl"])
        let e = ManifestEntry(path: RepoPath("a.wav"), kind: .file, blob: words, byteCount: 1, audio: facts, annotations: n)
        let decoded = try ManifestChunk.decode(ManifestChunk.leaf([e]).encoded())
        #expect(decoded == .leaf([e]))
        #expect(facts.silentChannels == [1])
        #expect(facts.rmsDBFS[1] == nil)
    }

    @Test func buildRoundTripsThroughChunks() throws {
        let entries = (0..<5000).map { entry(String(format: "spk%03d/clip_%05d.wav", $0 % 50, $0), "content \($0)") }.sorted {
            $0.path < $1.path
        }
        let built = ManifestChunk.build(entries)
        var store: [ObjectID: [UInt8]] = [:]
        for c in built.chunks {
            store[c.id] = c.bytes
            #expect(ObjectID.hashing(c.bytes) == c.id)
        }
        func collect(_ id: ObjectID) throws -> [ManifestEntry] {
            switch try ManifestChunk.decode(store[id]!) {
            case .leaf(let es): return es
            case .inner(_, let ch): return try ch.flatMap { try collect($0.id) }
            }
        }
        #expect(try collect(built.root) == entries)
        #expect(built.totals.fileCount == 5000)
        #expect(built.chunks.count > 20, "5000 entries must be split into many chunks")
    }

    @Test func changingOneEntryRewritesOnlyAFewChunks() {
        let entries = (0..<20000).map { entry(String(format: "spk%03d/clip_%05d.wav", $0 % 100, $0), "content \($0)") }.sorted {
            $0.path < $1.path
        }
        let before = Set(ManifestChunk.build(entries).chunks.map(\.id))
        var changed = entries
        changed[12345] = entry(changed[12345].path.string, "relabelled")
        let after = ManifestChunk.build(changed)
        let fresh = after.chunks.filter { !before.contains($0.id) }
        // One leaf plus one chunk per level above it.
        #expect(fresh.count <= 4, "a one-file change wrote \(fresh.count) new chunks")
        #expect(fresh.reduce(0) { $0 + $1.bytes.count } < 64 * 1024)
    }

    @Test func emptyTreeIsOneEmptyLeaf() throws {
        let built = ManifestChunk.build([])
        #expect(built.chunks.count == 1)
        #expect(try ManifestChunk.decode(built.chunks[0].bytes) == .leaf([]))
    }

    @Test func decoderRejectsUnsortedAndRandomInput() {
        let a = entry("b", "1")
        let b = entry("a", "2")
        var bytes = ManifestChunk.leaf([a]).encoded()
        bytes = ManifestChunk.leaf([a, b]).encoded()
        #expect(throws: FormatError.self) { try ManifestChunk.decode(bytes) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let junk = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? ManifestChunk.decode(Array("DVSM".utf8) + [1] + junk)  // must not crash
        }
    }
}

@Suite struct CommitTests {
    @Test func commitRoundTripsWithExtraAndMultilineMessage() throws {
        let sig = Signature(name: "A U Thor", email: "a@example.com", time: 1_700_000_000, timeZoneOffsetMinutes: -330)
        var totals = ManifestTotals()
        totals.fileCount = 3
        totals.sampleCount = 2
        totals.byteCount = 99
        totals.audioMicroseconds = 1_500_000
        let c = Commit(
            manifest: ObjectID.hashing([1]), parents: [CommitID(ObjectID.hashing([2])), CommitID(ObjectID.hashing([3]))],
            author: sig, committer: sig, totals: totals, extra: ["cohort-predicate": "lang = 'es'\nAND x", "source": "abc"],
            message: "Subject\n\nBody line")
        let bytes = c.encoded()
        #expect(String(decoding: bytes, as: UTF8.self).contains("author A U Thor <a@example.com> 1700000000 -0530\n"))
        #expect(try Commit.decode(bytes) == c)
    }

    @Test func authorParsing() {
        #expect(Signature(parsing: "Ana Díaz <ana@example.com>", time: 0)?.email == "ana@example.com")
        #expect(Signature(parsing: "no email", time: 0) == nil)
        #expect(Signature(parsing: "x <a@b> trailing", time: 0) == nil)
    }
}

/// Ref names: building, parsing and short names.
@Suite struct RefNameTests {
    @Test func namesAndKinds() {
        #expect(RefName.branch("main").fullName == "refs/heads/main")
        #expect(RefName.tag("v1").fullName == "refs/tags/v1")
        #expect(RefName.remote("origin", branch: "main").fullName == "refs/remotes/origin/main")
        #expect(RefName.cohort("es").fullName == "refs/heads/cohort/es")
        #expect(RefName.cohort("es").cohortName == "es" && RefName.branch("main").cohortName == nil)
        #expect(RefName.branch("cohort/es").kind == .branch)
        #expect(RefName(fullName: "refs/tags/v1")?.kind == .tag)
        #expect(RefName(fullName: "HEAD") == .head && RefName.head.kind == .head)
        #expect(RefName(fullName: "main") == nil && RefName(fullName: "refs/") == nil)
        #expect(RefName.branch("a/b").shortName == "a/b")
        #expect(RefName.tag("v1").shortName == "v1")
        #expect(RefName.remote("origin", branch: "x").shortName == "origin/x")
        #expect(RefName(fullName: "refs/notes/x")?.shortName == "refs/notes/x")
        #expect(RefName.branch("x").tracking(on: "origin") == .remote("origin", branch: "x"))
        #expect(RefName.tag("x").tracking(on: "origin") == nil)
        #expect(RefName.candidates(for: "main") == [.branch("main"), .tag("main"), .remoteTracking("main")])
        #expect(RefName.candidates(for: "refs/tags/v1").first == .tag("v1"))
        #expect(RefNamespace.remoteTracking("origin").relativeName(of: .remote("origin", branch: "dev")) == "dev")
        #expect(RefName.tag("v1").isIn(.tags) && !RefName.tag("v1").isIn(.branches))
    }

    @Test func shortNameValidation() {
        for good in ["main", "cohort/es-telephony", "v1.0", "a_b"] { #expect(RefName.isValidShortName(good), "\(good)") }
        for bad in ["", "-x", "/a", "a/", "a.", "a.lock", "a..b", "a@{1}", "a//b", "HEAD", "@", "a b", "a~1", "a/.b"] {
            #expect(!RefName.isValidShortName(bad), "\(bad)")
        }
    }
}

@Suite struct ChannelLevelsTests {
    @Test func monoAndStereoStayInlineAndSixChannelsSpillToAnArray() throws {
        var mono: ChannelLevels = [0.5]
        #expect(Array(mono) == [0.5])
        mono[0] = 0.25
        mono.append(0.125)
        #expect(Array(mono) == [0.25, 0.125])
        #expect(MemoryLayout<ChannelLevels>.size <= 17)

        var six = ChannelLevels((0..<6).map { Float($0) / 8 })
        #expect(six.count == 6)
        six[5] = 1.5
        #expect(Array(six) == [0, 0.125, 0.25, 0.375, 0.5, 1.5])
        #expect(six == ChannelLevels([0, 0.125, 0.25, 0.375, 0.5, 1.5]))
        #expect(six != ChannelLevels([0, 0.125, 0.25, 0.375, 0.5]))
        #expect(Set([mono, ChannelLevels([0.25, 0.125])]).count == 1)
    }

    @Test func encodesAsAJSONArrayOfNumbers() throws {
        let levels: ChannelLevels = [0.5, 0.25, 0.125]
        let json = String(decoding: try JSONEncoder().encode(levels), as: UTF8.self)
        #expect(json == "[0.5,0.25,0.125]")
        #expect(try JSONDecoder().decode(ChannelLevels.self, from: Data("[]".utf8)).isEmpty)
        #expect(try JSONDecoder().decode(ChannelLevels.self, from: Data(json.utf8)) == levels)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ChannelLevels.self, from: Data(#"{"a":1}"#.utf8)) }
    }
}
