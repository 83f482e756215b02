import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// How a partial clone turns wanted frames into ranged reads (`Repository.coalesce`).
@Suite struct PartialCloneTests {
    func frame(_ pack: String, _ offset: UInt64, _ length: UInt64) -> RemoteFrame {
        RemoteFrame(
            pack: ObjectID(hex: String(repeating: pack, count: 64))!,
            entry: PackEntry(
                id: ObjectID.hashing(Array("\(pack)\(offset)".utf8)), offset: offset, storedLength: length, rawLength: length, codec: .zstd)
        )
    }

    @Test func adjacentFramesShareARead() {
        let r = Repository.coalesce([frame("a", 16, 100), frame("a", 116, 50), frame("a", 166, 10)], slack: 0)
        #expect(r.count == 1)
        #expect(r[0].start == 16 && r[0].end == 175 && r[0].length == 160 && r[0].frames.count == 3)
    }

    @Test func smallestGapsAreMergedFirstWithinTheBudget() {
        // 1,000 bytes of frames, a budget of 10 % = 100 bytes: the smallest gaps first, 30 then
        // 50 (80 bytes); the 60-byte one would make 140: so the reads are [f0 f1 f2] and [f3].
        let fs = [frame("b", 16, 250), frame("b", 296, 250), frame("b", 596, 250), frame("b", 906, 250)]
        // gaps: 296-266 = 30, 596-546 = 50, 906-846 = 60
        let r = Repository.coalesce(fs, slack: 0.10)
        #expect(r.map(\.frames.count) == [3, 1], "\(r)")
        #expect(r[0].start == 16 && r[0].end == 845 && r[1].start == 906 && r[1].end == 1155)
        #expect(r.reduce(0) { $0 + $1.length } == 1000 + 80, "the frames and the merged gaps, nothing else")
    }

    @Test func packsAreReadApartAndNoReadPassesTheLimit() {
        let fs = [frame("c", 16, 600), frame("c", 616, 600), frame("d", 16, 10), frame("c", 1216, 600)]
        let r = Repository.coalesce(fs, slack: 1, maxRequest: 1000)
        #expect(r.count == 4, "three reads of pack c (two frames would pass the limit), one of d: \(r)")
        #expect(r.allSatisfy { $0.length <= 1000 || $0.frames.count == 1 })
        #expect(Set(r.flatMap(\.frames).map(\.offset)) == [16, 616, 1216], "every frame once")
        #expect(r.filter { $0.pack == ObjectID(hex: String(repeating: "d", count: 64))! }.count == 1)
    }

    @Test func aFrameLargerThanTheLimitIsOneRead() {
        let r = Repository.coalesce([frame("e", 16, 5000), frame("e", 5016, 10)], slack: 1, maxRequest: 1000)
        #expect(r.map(\.frames.count) == [1, 1])
        #expect(r[0].length == 5000)
    }

    /// A partial clone interrupted while it downloads, run again, reads only what is left.
    @Test func anInterruptedDownloadResumes() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let a = dir + "/a"
            try FileManager.default.createDirectory(atPath: a + "/clips", withIntermediateDirectories: true)
            var csv = "path,k\n"
            for i in 0..<8 {
                try TestSupport.sh("sox -n -r 16000 -c 1 -b 16 '\(a)/clips/n\(i).wav' synth 1 whitenoise vol 0.\(i + 1)")
                csv += "clips/n\(i).wav,\(i % 2)\n"
            }
            try Data(csv.utf8).write(to: URL(fileURLWithPath: a + "/labels.csv"))
            let repo = try Repository.initialize(at: a, context: TestSupport.processContext)
            _ = try repo.commit(CommitOptions(message: "noise"))
            _ = try repo.createCohort("even", predicate: "k = '0'")  // every other clip: gaps between
            _ = try repo.addRemote(name: "origin", url: dir + "/remote.dvs")
            _ = try repo.push(remote: "origin", all: true)
            let full = try Repository.clone(
                url: dir + "/remote.dvs", into: dir + "/full", branch: "cohort/even", context: TestSupport.processContext)
            let reads = try #require(full.frames).requests
            try #require(reads >= 3, "several ranged reads to interrupt")

            // The remote's pack goes away after the first read, as a dropped connection would end it.
            // Reads run in parallel, so the second read waits until the first is saved: without
            // that wait, the first could lose the race to the rename and nothing would be kept.
            let packs = try FileManager.default.contentsOfDirectory(atPath: dir + "/remote.dvs/packs")
            let calls = Locked(0)
            var context = TestSupport.processContext
            let remote = dir + "/remote.dvs/packs/"
            let saved = dir + "/b/.dvs/tmp/partial-ranges"
            context.beforeTransfer = {
                if calls.withLock({
                    $0 += 1
                    return $0
                }) == 2 {
                    let deadline = Date().addingTimeInterval(30)
                    while (try? FileManager.default.contentsOfDirectory(atPath: saved))?.isEmpty ?? true, Date() < deadline {
                        usleep(10_000)
                    }
                    for p in packs { rename(remote + p, remote + p + ".away") }
                }
            }
            #expect(throws: DVSError.self) {
                try Repository.clone(url: dir + "/remote.dvs", into: dir + "/b", branch: "cohort/even", context: context)
            }
            for p in packs { rename(remote + p + ".away", remote + p) }
            let again = try Repository.clone(
                url: dir + "/remote.dvs", into: dir + "/b", branch: "cohort/even", context: TestSupport.processContext)
            #expect(again.resumed)
            let left = try #require(again.frames).requests
            #expect(left < reads, "only what the first attempt had not read: \(left) of \(reads)")
            #expect(try TestSupport.sh("diff -r '\(dir)/full/clips' '\(dir)/b/clips' && echo same").contains("same"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/b/.dvs/tmp/partial-ranges"), "the saved reads go once used")

            // A partial clone that failed, run again without --branch, becomes the full clone
            // asked for (it stayed partial: four blobs of eight).
            let marker = dir + "/c/.dvs/" + Repository.cloneMarker
            #expect(throws: DVSError.self) {
                try Repository.clone(
                    url: dir + "/remote.dvs", into: dir + "/c", branch: "no-such-branch", context: TestSupport.processContext)
            }
            #expect(FileManager.default.fileExists(atPath: marker), "unfinished")
            let notes = Locked([String]())
            var noting = TestSupport.processContext
            noting.notice = { line in notes.withLock { $0.append(line) } }
            let c = try Repository.clone(url: dir + "/remote.dvs", into: dir + "/c", context: noting)
            #expect(
                notes.withLock { $0 } == [
                    "note: the partial clone started here resumes as the full clone asked for: every blob of every branch is downloaded"
                ])
            #expect(c.resumed && c.branch == "main")
            #expect(c.repository.partialRemote() == nil)
            for e in try repo.entries(at: "main") { #expect(try c.repository.blobs.contains(e.blob), "\(e.path)") }
            #expect(try c.repository.fsck().notes.isEmpty)
        }
    }
}
