import DVSCatalog
import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// Label tables rewritten by relabeling passes are stored as zstd deltas against their previous
/// version (codec 3), so a pass costs about its changed rows, and read back byte-exact.
@Suite struct DeltaTests {
    /// A 20,000-row table of label rows; `edit(k)` relabels every 100th row for pass k.
    func table(pass k: Int) -> String {
        var rows = ["path,speaker,lang,label,score"]
        for i in 0..<20_000 {
            let label = (k > 0 && i % 100 == k % 100) ? "relabeled\(k)" : ["command", "question", "statement"][i % 3]
            rows.append("spk\(i % 200)/u\(i).wav,spk\(i % 200),\(["en", "de", "fr"][i % 3]),\(label),0.\(i % 9973)")
        }
        return rows.joined(separator: "\n") + "\n"
    }

    @Test func relabeledTableIsAStoredDeltaThatReadsBackExactly() throws {
        try TestSupport.withTemporaryRepository { repo in
            let path = repo.root + "/table.txt"  // a label table without its audio: stored as an ordinary file
            var versions: [[UInt8]] = []
            var stored: [UInt64] = []
            for k in 0..<4 {
                let text = Array(table(pass: k).utf8)
                try TestSupport.write(Data(text), to: path)
                let s = try repo.commit(CommitOptions(message: "pass \(k)"))
                versions.append(text)
                stored.append(s.storedBytes)
            }
            let full = stored[0]
            for k in 1..<4 {
                let id = ObjectID.hashing(versions[k])
                let loc = try #require(try repo.blobs.location(of: id))
                #expect(loc.entry.codec == .zstdDelta, "pass \(k) is a delta")
                #expect(stored[k] * 10 < full, "a 1 % relabel stores \(stored[k]) bytes, the whole table \(full)")
                #expect(try repo.blob(id) == versions[k])
                // Every pass's delta sits on the chain's root, pass 0, at depth 1: a read decodes
                // two frames, however many passes there were.
                let head = try repo.blobs.storedFrame(at: loc).prefix(33)
                #expect(ObjectID(bytes: head[0..<32]) == ObjectID.hashing(versions[0]))
                #expect(head[32] == 1)
            }
            #expect(try repo.fsck().damaged.isEmpty)
            // Checkout of the first version rebuilds it from the whole blob; of the last, from the chain.
            try repo.checkout("HEAD~3", force: true)
            #expect(try TestSupport.read(path) == Data(versions[0]))
            try repo.checkout("main", force: true)
            #expect(try TestSupport.read(path) == Data(versions[3]))
        }
    }
}

/// A version far from its chain's root (most rows relabelled since) extends the chain from
/// the previous version instead, as long as that stays under the depth cap.
@Suite struct DeltaChainTests {
    /// 20,000 rows; with `mixed`, 30 % of them (pseudo-randomly, by `seed`) get one of 97
    /// labels, the others a fixed one: a pass that changed far more than one row.
    func table(seed: UInt64, mixed: Bool, row edited: Int? = nil) -> [UInt8] {
        var rows = ["path,speaker,lang,label"]
        for i in 0..<20_000 {
            var label = ["command", "question", "statement"][i % 3]
            let h = UInt64(i) &* 2_654_435_761 &+ seed &* 40_503
            if mixed && (h >> 8) % 100 < 30 { label = "l\(h % 97)" }
            if i == edited { label = "edited" }
            rows.append("spk\(i % 200)/u\(i).wav,spk\(i % 200),\(["en", "de", "fr"][i % 3]),\(label)")
        }
        return Array((rows.joined(separator: "\n") + "\n").utf8)
    }

    @Test func aVersionFarFromTheRootExtendsTheChain() throws {
        try TestSupport.withTemporaryRepository { repo in
            let path = repo.root + "/table.txt"
            let v0 = table(seed: 0, mixed: false)
            let v1 = table(seed: 1, mixed: true)  // most labels changed: a large delta on v0
            let v2 = table(seed: 1, mixed: true, row: 500)  // one row away from v1, far from v0
            for (k, v) in [v0, v1, v2].enumerated() {
                try TestSupport.write(Data(v), to: path)
                _ = try repo.commit(CommitOptions(message: "pass \(k)"))
            }
            let frame = { (v: [UInt8]) throws -> ArraySlice<UInt8> in
                let loc = try #require(try repo.blobs.location(of: ObjectID.hashing(v)))
                #expect(loc.entry.codec == .zstdDelta)
                return try repo.blobs.storedFrame(at: loc).prefix(33)
            }
            let h1 = try frame(v1)
            #expect(ObjectID(bytes: h1[0..<32]) == ObjectID.hashing(v0) && h1[32] == 1)
            let h2 = try frame(v2)
            #expect(ObjectID(bytes: h2[0..<32]) == ObjectID.hashing(v1), "far from the root: a delta on v1")
            #expect(h2[32] == 2)
            #expect(try repo.blob(ObjectID.hashing(v2)) == v2)
            #expect(try repo.fsck().damaged.isEmpty)
        }
    }
}

/// Deepgram responses that did not change since the last commit are not parsed again: their
/// transcript is reused and their findings are not repeated.
@Suite struct TranscriptReuseTests {
    @Test func unchangedResponsesAreReusedAndChangedOnesReparsed() throws {
        try TestSupport.withTemporaryRepository { repo in
            let ds = TestSupport.fixtures + "/dataset"
            // call_0001's response saved under call_0002's name (call_0001's audio is absent):
            // matched by name, then its hash, duration and channels disagree.
            try TestSupport.sh(
                "mkdir -p clips && cp '\(ds)/clips/call_0002_stereo.wav' clips/ && cp '\(ds)/deepgram/call_0001_mono.json' clips/call_0002_stereo.json",
                in: repo.root)
            let first = try repo.commit(CommitOptions(message: "one"))
            #expect(first.labelFindings.contains { $0.code == "transcript-mismatch" })
            let t1 = try #require(
                try repo.headEntries().first { $0.path == RepoPath("clips/call_0002_stereo.wav") }?.annotations?.transcript)
            #expect(t1.words != nil && t1.wordCount > 0)

            try TestSupport.sh("echo notes > notes.txt", in: repo.root)
            let second = try repo.commit(CommitOptions(message: "two"))
            #expect(!second.labelFindings.contains { $0.code == "transcript-mismatch" }, "shown once, when the response was committed")
            let t2 = try #require(
                try repo.headEntries().first { $0.path == RepoPath("clips/call_0002_stereo.wav") }?.annotations?.transcript)
            #expect(t2 == t1)

            // The right response replaces it: parsed again, no mismatch.
            try TestSupport.sh("cp '\(ds)/deepgram/call_0002_stereo.json' clips/call_0002_stereo.json", in: repo.root)
            let third = try repo.commit(CommitOptions(message: "three"))
            #expect(!third.labelFindings.contains { $0.code == "transcript-mismatch" })
            let t3 = try #require(
                try repo.headEntries().first { $0.path == RepoPath("clips/call_0002_stereo.wav") }?.annotations?.transcript)
            #expect(t3.channels.count == 2 && t3 != t1)
        }
    }
}
