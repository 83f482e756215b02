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
                // Chain depth: pass k's delta sits on pass k−1.
                let head = try repo.blobs.storedFrame(at: loc).prefix(33)
                #expect(ObjectID(bytes: head[0..<32]) == ObjectID.hashing(versions[k - 1]))
                #expect(head[32] == UInt8(k))
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
