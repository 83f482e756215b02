import DVSTestSupport
import Foundation
import Testing

@testable import DVSCore

/// Manifests are validated structurally on read: a damaged or hand-made chunk is an error naming
/// what is wrong, never a crash or numbers that trap later.
@Suite struct ManifestFuzzTests {
    /// Cases per decoder: 400, or `DVS_FUZZ_CASES` for a longer campaign.
    static let cases = ProcessInfo.processInfo.environment["DVS_FUZZ_CASES"].flatMap(Int.init) ?? 400

    /// A leaf and an inner chunk of a real-looking tree: entries with audio facts, levels and labels.
    static func seeds() -> [[UInt8]] {
        var entries: [ManifestEntry] = []
        for i in 0..<Self.cases {
            var facts = AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 2, frameCount: 16000 + i)
            facts.peak = [0.5, 0.25]
            facts.rms = [0.1, 0.05]
            var e = entry(String(format: "spk%02d/clip_%04d.wav", i % 7, i), "c\(i)", audio: i % 5 == 0 ? nil : facts)
            if i % 3 == 0 {
                e.annotations = SampleAnnotations(
                    labels: [LabelField("speaker", .string("s\(i % 7)")), LabelField("n", .int(Int64(i)))],
                    segments: [LabelSegment(start: 0.1, end: 0.5, channel: 1, source: "t.json", labels: [])],
                    transcript: TranscriptSummary(source: "t.json", text: "hi", wordCount: 1), sources: ["t.csv"])
            }
            entries.append(e)
        }
        let built = ManifestChunk.build(entries.sorted { $0.path < $1.path })
        let leaf = built.chunks.first { $0.bytes[5] == 0 }!.bytes
        let inner = built.chunks.first { $0.bytes[5] != 0 }!.bytes
        return [leaf, inner]
    }

    @Test func mutatedChunksDecodeOrFail() {
        var g = SeededGenerator(seed: 0x3A41)
        let seeds = Self.seeds()
        for i in 0..<Self.cases {
            var b = seeds[i % 2]
            for _ in 0..<Int.random(in: 1...6, using: &g) {
                let at = Int.random(in: 0..<b.count, using: &g)
                switch Int.random(in: 0..<4, using: &g) {
                case 0: b[at] = UInt8.random(in: 0...255, using: &g)
                case 1: b[at] ^= 1 << UInt8.random(in: 0...7, using: &g)
                case 2: b.insert(UInt8.random(in: 0x80...0xFF, using: &g), at: at)
                default: b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...9, using: &g)))
                }
            }
            guard let chunk = try? ManifestChunk.decode(b) else { continue }
            // What decodes must be usable: totals and re-encoding do not trap.
            var t = ManifestTotals()
            switch chunk {
            case .leaf(let es):
                for e in es {
                    t.add(e)
                    _ = e.audio?.duration
                }
            case .inner(_, let children): for c in children { t.add(c.totals) }
            }
            _ = chunk.encoded()
        }
    }

    /// Commits and transcript words objects, mutated the same way.
    @Test func mutatedCommitsAndWordsDecodeOrFail() {
        var g = SeededGenerator(seed: 0xC0117)
        let sig = Signature(name: "A U Thor", email: "a@example.com", time: 1_700_000_000, timeZoneOffsetMinutes: -330)
        let commit = Commit(
            manifest: ObjectID.hashing([1]), parents: [CommitID(ObjectID.hashing([2]))], author: sig, committer: sig,
            totals: ManifestTotals(), extra: ["cohort-predicate": "lang = 'es'"], message: "Subject\n\nBody"
        ).encoded()
        let words = TranscriptWords.encode(
            (0..<50).map { TranscriptWord(text: "w\($0)", start: Double($0), end: Double($0) + 0.5, confidence: 0.9, speaker: $0 % 2) })
        for i in 0..<Self.cases {
            var b = i % 2 == 0 ? commit : words
            for _ in 0..<Int.random(in: 1...6, using: &g) {
                let at = Int.random(in: 0..<b.count, using: &g)
                if Bool.random(using: &g) { b[at] = UInt8.random(in: 0...255, using: &g) } else { b.remove(at: at) }
            }
            if i % 2 == 0 {
                if let c = try? Commit.decode(b) { _ = c.encoded() }
            } else {
                _ = try? TranscriptWords.decode(b)
            }
        }
    }

    // MARK: Regressions: structurally invalid chunks that clone and fsck used to accept.

    static func inner(level: UInt8 = 1, _ children: [(path: String, files: UInt64, samples: UInt64)]) -> [UInt8] {
        var w = ByteWriter()
        w.write(ManifestChunk.magic)
        w.write(byte: ManifestChunk.version)
        w.write(byte: level)
        w.write(varint: UInt64(children.count))
        for c in children {
            w.write(lengthPrefixed: Array(c.path.utf8))
            w.write(ObjectID.hashing(Array(c.path.utf8)).bytes)
            for v in [c.files, c.samples, 10, 10] { w.write(varint: v) }
        }
        return w.bytes
    }

    @Test func unsortedOrOverlappingChildrenAreRefused() {
        #expect(throws: FormatError.self) { try ManifestChunk.decode(Self.inner([("b", 1, 0), ("a", 1, 0)])) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(Self.inner([("a", 1, 0), ("a", 1, 0)])) }
        #expect(throws: Never.self) { try ManifestChunk.decode(Self.inner([("a", 1, 0), ("b", 1, 1)])) }
    }

    @Test func absurdCountsAreRefused() {
        // 10¹² files under one child; more samples than files; an inner chunk with no children or at level 200.
        #expect(throws: FormatError.self) { try ManifestChunk.decode(Self.inner([("a", 1_000_000_000_000, 0)])) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(Self.inner([("a", 1, 2)])) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(Self.inner([])) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(Self.inner(level: 200, [("a", 1, 0)])) }
    }

    @Test func absurdAudioFactsAreRefused() {
        func leaf(channels: UInt64, rate: UInt64 = 16000, frames: UInt64 = 16000, size: UInt64 = 1) -> [UInt8] {
            var w = ByteWriter()
            w.write(ManifestChunk.magic)
            w.write(byte: ManifestChunk.version)
            w.write(byte: 0)
            w.write(varint: 1)
            w.write(lengthPrefixed: Array("a.wav".utf8))
            w.write(byte: FileKind.file.rawValue)
            w.write(ObjectID.hashing([1]).bytes)
            w.write(varint: size)
            w.write(byte: 1)
            w.write(lengthPrefixed: Array("WAV".utf8))
            w.write(lengthPrefixed: Array("PCM_16".utf8))
            for v in [rate, channels, frames, 0] { w.write(varint: v) }
            w.write(byte: 0)
            return w.bytes
        }
        #expect(throws: Never.self) { try ManifestChunk.decode(leaf(channels: 2)) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(leaf(channels: 1 << 40)) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(leaf(channels: 1, rate: 1 << 40)) }
        // 2⁶² frames: their duration in µs used to overflow (a trap) when totals were summed.
        #expect(throws: FormatError.self) { try ManifestChunk.decode(leaf(channels: 1, frames: 1 << 62)) }
        #expect(throws: FormatError.self) { try ManifestChunk.decode(leaf(channels: 1, size: 1 << 60)) }
    }

    @Test func totalsSaturateInsteadOfTrapping() {
        var t = ManifestTotals()
        var big = ManifestTotals()
        big.byteCount = .max - 1
        big.audioMicroseconds = .max
        t.add(big)
        t.add(big)
        #expect(t.byteCount == .max && t.audioMicroseconds == .max)
    }
}
