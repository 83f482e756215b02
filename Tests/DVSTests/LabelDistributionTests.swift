import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// Label distributions carried from a parent over the entries that differ equal those tallied
/// anew, and give `dvs diff` the same label shifts.
@Suite struct LabelDistributionTests {
    static func sample(_ i: Int, lang: String, speaker: String, score: Double? = nil, seconds: Int = 2) -> ManifestEntry {
        let bytes = Array("RIFF \(i) \(lang) \(speaker)".utf8)
        var labels = [LabelField("lang", .string(lang)), LabelField("speaker", .string(speaker))]
        if let score { labels.append(LabelField("score", .double(score))) }
        return ManifestEntry(
            path: RepoPath(String(format: "clips/%05d.wav", i)), kind: .file, blob: ObjectID.hashing(bytes),
            byteCount: UInt64(bytes.count),
            audio: AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 1, frameCount: 16000 * seconds),
            annotations: SampleAnnotations(labels: labels))
    }

    @Test func carriedOverTheDifferingEntriesEqualsTalliedAnew() throws {
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        // lang: 3 values (categorical); speaker: 200 values (not); score: fractional (not).
        let a = (0..<5000).map { Self.sample($0, lang: ["en", "de", "es"][$0 % 3], speaker: "spk\($0 % 200)", score: $0 == 7 ? 0.5 : nil) }
        var b = a
        b[10] = Self.sample(10, lang: "fr", speaker: "spk10")  // relabelled to a new value
        b[11] = Self.sample(11, lang: "en", speaker: "spk11", seconds: 5)  // longer take
        b.remove(at: 4000)
        b.append(Self.sample(9999, lang: "de", speaker: "spk1"))
        let rootA = try store.writeManifest(a).root
        let rootB = try store.writeManifest(b).root
        let (old, new) = try store.differingEntries(rootA, rootB)
        let carried = LabelDistribution(a).applying(removed: old, added: new)
        #expect(carried == LabelDistribution(b))
        #expect(carried.values["lang"]?["fr"] == LabelDistribution.Tally(count: 1, microseconds: 2_000_000))
        #expect(carried.values["speaker"] == nil && carried.notCategorical.contains("speaker"))
        #expect(carried.notCategorical.contains("score"))
        // The shifts: only lang, only the values that moved.
        let shifts = labelShifts(LabelDistribution(a), carried)
        #expect(
            shifts.map { "\($0.field)=\($0.value) \($0.before)→\($0.after)" } == [
                "lang=de 1667→1666", "lang=en 1667→1668", "lang=es 1666→1665", "lang=fr 0→1",
            ])
        #expect(abs(shifts[1].hoursDelta - 5.0 / 3600) < 1e-9)
    }

    /// A commit whose distribution was never cached (made by an older dvs, fetched, or the
    /// cache deleted) is carried from its nearest cached ancestor over the entries that differ,
    /// and equals a tally of its whole snapshot.
    @Test func anUncachedCommitIsCarriedFromItsNearestCachedAncestor() throws {
        try TestSupport.withTemporaryRepository { repo in
            let voices = TestSupport.debianRecordings(limit: 4)
            try #require(voices.count >= 3, "alsa-utils' recordings are missing")
            var rows = ["path,lang"]
            for (i, v) in voices.enumerated() {
                try FileManager.default.copyItem(atPath: v, toPath: repo.root + "/c\(i).wav")
                rows.append("c\(i).wav,\(i % 2 == 0 ? "en" : "de")")
            }
            try TestSupport.write(Data((rows.joined(separator: "\n") + "\n").utf8), to: repo.root + "/labels.csv")
            let c1 = try repo.commit(CommitOptions(message: "one")).id
            rows[1] = "c0.wav,fr"
            try TestSupport.write(Data((rows.joined(separator: "\n") + "\n").utf8), to: repo.root + "/labels.csv")
            _ = try repo.commit(CommitOptions(message: "relabel"))
            try TestSupport.speak("one more call", to: repo.root + "/c9.wav")
            rows.append("c9.wav,en")
            try TestSupport.write(Data((rows.joined(separator: "\n") + "\n").utf8), to: repo.root + "/labels.csv")
            let c3 = try repo.commit(CommitOptions(message: "add")).id
            // Every cached distribution goes with the sample index; a fresh repository object
            // caches c1's alone (a root: tallied), then carries c3's from it over two commits.
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: repo.root + "/.dvs/cache/samples.sqlite" + suffix)
            }
            let again = try Repository.discover(from: repo.root, context: repo.context)
            _ = try again.labelDistribution(c1)
            // c3's parent has none cached: the carry goes back to c1 (a parent-only carry gave nil).
            let fromC1 = try #require(try again.carriedDistribution(again.commit(c3), in: again.openSampleIndex()))
            let carried = try again.labelDistribution(c3)
            #expect(carried == fromC1)
            let tallied = LabelDistribution(try again.entries(ofManifest: again.commit(c3).manifest))
            #expect(carried == tallied)
            #expect(carried.values["lang"]?["fr"]?.count == 1 && carried.values["lang"]?["en"]?.count == 2)
        }
    }

    /// A field at exactly 50 values stays categorical when one sample moves to a 51st value
    /// while the only sample of another value goes (second review: applied in path order, the
    /// count passed 50 on the way).
    @Test func removalsApplyBeforeAdditionsAtTheValueLimit() {
        var a = (0..<50).map { Self.sample($0, lang: "v\($0)", speaker: "s") }
        a.append(Self.sample(50, lang: "v0", speaker: "s"))
        var b = a
        b[0] = Self.sample(0, lang: "v50", speaker: "s")  // first path: moves to a 51st value
        b[49] = Self.sample(49, lang: "v0", speaker: "s")  // a later path: v49's only sample leaves it
        let carried = LabelDistribution(a).applying(removed: a, added: b)
        #expect(carried == LabelDistribution(b))
        #expect(!carried.notCategorical.contains("lang"))
        #expect(carried.values["lang"]?.count == 50)
    }

    @Test func aValueRemovedEverywhereLeavesNoTally() {
        let one = [Self.sample(1, lang: "en", speaker: "a"), Self.sample(2, lang: "en", speaker: "a")]
        let d = LabelDistribution(one).applying(removed: one, added: [])
        #expect(d == LabelDistribution())
    }
    /// The per-value sample counts a model record keeps: value text → samples, "" for the rest
    /// (field absent, null, empty text); nil for a field the distribution does not tally.
    @Test func sampleCountsLeaveTheSamplesWithoutAValueUnderTheEmptyText() {
        var entries = (0..<9).map { Self.sample($0, lang: ["en", "de", "en"][$0 % 3], speaker: "s\($0)", score: $0 == 1 ? 0.5 : nil) }
        entries[3].annotations?.labels[0].value = .null
        entries[4].annotations?.labels[0].value = .string("")
        entries[5].annotations = nil
        entries[6].annotations?.labels[0].value = .int(7)
        entries[7].audio = nil  // not a sample
        let d = LabelDistribution(entries)
        let samples = entries.filter { $0.audio != nil }.count
        var want: [String: Int] = [:]
        for e in entries where e.audio != nil { want[e.annotations?[label: "lang"]?.text ?? "", default: 0] += 1 }
        #expect(d.sampleCounts(of: "lang", sampleCount: samples) == want)
        #expect(want == ["en": 3, "de": 1, "7": 1, "": 3])
        #expect(d.sampleCounts(of: "absent", sampleCount: samples) == ["": 8])
        #expect(LabelDistribution().sampleCounts(of: "lang", sampleCount: 0) == [:])
        #expect(d.sampleCounts(of: "score", sampleCount: samples) == nil, "fractional: not tallied")
        #expect(d.sampleCounts(of: "lang", sampleCount: 2) == nil, "more carriers than samples")
    }
}
