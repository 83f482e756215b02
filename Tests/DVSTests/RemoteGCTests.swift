import DVSCore
import DVSRemote
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// `dvs gc --remote` with a grace period deletes in two runs a grace period apart (mark, then
/// sweep), so a reader that started before the first run can finish; `--prune=now` at once.
@Suite struct RemoteGCTests {
    typealias T = TestSupport

    /// Puts `count` of Debian's recordings in `repo`'s `clips/` as `c0.wav`, `c1.wav`, …: copied,
    /// or converted by sox with `soxOptions` (e.g. `-r 16000 -c 1 -b 16`).
    func addRecordings(_ repo: Repository, count: Int, soxOptions: String? = nil) throws {
        let recs = T.debianRecordings(limit: count)
        try #require(recs.count >= count, "alsa-utils recordings are installed")
        try FileManager.default.createDirectory(atPath: repo.root + "/clips", withIntermediateDirectories: true)
        for (i, r) in recs.enumerated() {
            let target = "'\(repo.root)/clips/c\(i).wav'"
            try T.sh(soxOptions.map { "sox '\(r)' \($0) \(target)" } ?? "cp '\(r)' \(target)")
        }
    }

    @Test func withAGracePeriodADeletionWaitsOneGracePeriodAfterItIsFound() throws {
        try T.withTemporaryRepository { repo in
            let root = repo.root
            try addRecordings(repo, count: 3)
            _ = try repo.commit(CommitOptions(message: "base"))
            try repo.createBranch("extra")
            _ = try repo.checkout("extra")
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(root)/clips/extra.wav' synth 2 sine 500")
            _ = try repo.commit(CommitOptions(message: "extra clip"))
            _ = try repo.checkout("main")
            let remoteRoot = root + "/../remote.dvs"
            _ = try repo.addRemote(name: "origin", url: remoteRoot)
            _ = try repo.push(remote: "origin", all: true)
            // The branch goes from the remote: its commit and its pack are garbage there.
            let store = try repo.remote("origin").open(environment: [:])
            try store.delete("refs/heads/extra")
            _ = try repo.deleteBranch("extra", force: true)
            Thread.sleep(forTimeInterval: 1.2)  // older than the grace period below
            let before = try store.list(prefix: "")
            var options = GCOptions()
            options.grace = 1

            let first = try repo.gcRemote("origin", options: options)
            #expect(first.pending >= 2 && first.objectsDeleted == 0 && first.packsDeleted == 0, "\(first)")
            #expect(try store.get("gc/pending.json") != nil)
            #expect(Set(try store.list(prefix: "").map(\.key)) == Set(before.map(\.key)).union(["gc/pending.json"]), "nothing deleted")
            let again = try repo.gcRemote("origin", options: options)
            #expect(again.objectsDeleted == 0 && again.pending == first.pending, "marked less than a grace period ago: \(again)")

            Thread.sleep(forTimeInterval: 1.2)
            let sweep = try repo.gcRemote("origin", options: options)
            #expect(sweep.objectsDeleted + sweep.packsDeleted == first.pending && sweep.pending == 0, "\(sweep)")
            #expect(try store.get("gc/pending.json") == nil)
            let c = try Repository.clone(url: remoteRoot, into: root + "/../c", context: T.processContext).repository
            #expect(try c.fsck().damaged.isEmpty, "what main needs stayed")
        }
    }

    /// After `repack(recode: true)` and a push that moves a ref, the remote holds every audio
    /// blob twice (the old pack, and the new one under the new codec): a collection keeps the
    /// copy this repository reads and drops the other pack; a clone is whole.
    @Test func aBlobInTwoPacksIsKeptInOne() throws {
        try T.withTemporaryRepository { repo in
            let root = repo.root
            try addRecordings(repo, count: 3, soxOptions: "-r 16000 -c 1 -b 16")
            try repo.setConfig("pack.audio-codec", "predictive")
            _ = try repo.commit(CommitOptions(message: "base"))
            let remoteRoot = root + "/../remote.dvs"
            _ = try repo.addRemote(name: "origin", url: remoteRoot)
            _ = try repo.push(remote: "origin", all: true)
            let store = try repo.remote("origin").open(environment: [:])
            let before = try store.list(prefix: "packs/").map(\.key)

            try repo.setConfig("pack.audio-codec", "lpc")
            #expect(try repo.repack(recode: true).blobs == 3)
            // Packs go up with a push that moves a ref: the recoded one with the next commit's.
            try Data("notes\n".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
            _ = try repo.commit(CommitOptions(message: "notes"))
            _ = try repo.push(remote: "origin", all: true)
            let both = try store.list(prefix: "packs/").map(\.key)
            #expect(both.count == before.count + 2, "the recoded pack is uploaded beside the old one: \(both)")

            var options = GCOptions()
            options.grace = 0
            let r = try repo.gcRemote("origin", options: options)
            #expect(r.packsDeleted == 1, "\(r)")
            let local = try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).filter { $0.hasSuffix(".pack") }
            #expect(
                Set(try store.list(prefix: "packs/").map { String($0.key.dropFirst(6)) }) == Set(local),
                "the remote keeps the packs read here")
            let c = try Repository.clone(url: remoteRoot, into: root + "/../c", context: T.processContext).repository
            #expect(try c.fsck().isClean)
            #expect(try repo.gcRemote("origin", options: options).packsDeleted == 0, "nothing more to collect")
        }
    }

    /// A marked pack or object that a push uses again before the sweep is not deleted.
    @Test func aMarkedKeyThatAPushUsesAgainStays() throws {
        try T.withTemporaryRepository { repo in
            let root = repo.root
            try addRecordings(repo, count: 2)
            _ = try repo.commit(CommitOptions(message: "base"))
            try repo.createBranch("extra")
            _ = try repo.checkout("extra")
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(root)/clips/extra.wav' synth 2 sine 500")
            _ = try repo.commit(CommitOptions(message: "extra clip"))
            _ = try repo.checkout("main")
            _ = try repo.addRemote(name: "origin", url: root + "/../remote.dvs")
            _ = try repo.push(remote: "origin", all: true)
            let store = try repo.remote("origin").open(environment: [:])
            try store.delete("refs/heads/extra")
            Thread.sleep(forTimeInterval: 1.2)
            var options = GCOptions()
            options.grace = 1
            let first = try repo.gcRemote("origin", options: options)
            #expect(first.pending >= 2, "\(first)")
            // The branch comes back before the sweep: its commit and pack are needed again.
            _ = try repo.push(remote: "origin", branches: ["extra"])
            Thread.sleep(forTimeInterval: 1.2)
            let sweep = try repo.gcRemote("origin", options: options)
            #expect(sweep.objectsDeleted == 0 && sweep.packsDeleted == 0 && sweep.pending == 0, "\(sweep)")
            let c = try Repository.clone(
                url: root + "/../remote.dvs", into: root + "/../c", branch: "extra", partial: false, context: T.processContext)
            #expect(try c.repository.fsck().damaged.isEmpty, "the branch pushed again is whole")
            #expect(FileManager.default.fileExists(atPath: root + "/../c/clips/extra.wav"))
        }
    }

    /// A push that found an object on the remote, and so did not send it, lists `objects/` again
    /// before it moves a ref and sends what went meanwhile (a gc sweeping elsewhere).
    @Test func aPushSendsAgainWhatWasCollectedWhileItRan() throws {
        try T.withTemporaryRepository { repo in
            let root = repo.root
            let recs = T.debianRecordings(limit: 2)
            try #require(recs.count >= 2, "alsa-utils recordings are installed")
            try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
            try T.sh("cp '\(recs[0])' '\(root)/clips/a.wav'")
            let base = try repo.commit(CommitOptions(message: "base")).id
            _ = try repo.addRemote(name: "origin", url: root + "/../remote.dvs")
            _ = try repo.push(remote: "origin")
            try T.sh("cp '\(recs[1])' '\(root)/clips/b.wav'")
            _ = try repo.commit(CommitOptions(message: "more"))
            // While the push uploads its pack, the base commit goes from the remote (as a sweep
            // of a gc elsewhere would delete it, had main been deleted there).
            var context = repo.context
            let remoteRoot = root + "/../remote.dvs"
            context.beforeTransfer = { unlink(remoteRoot + "/objects/" + base.hex) }
            let pusher = try Repository.discover(from: root, context: context)
            _ = try pusher.push(remote: "origin")
            #expect(FileManager.default.fileExists(atPath: remoteRoot + "/objects/" + base.hex), "sent again before the ref moved")
            let c = try Repository.clone(url: remoteRoot, into: root + "/../c", context: T.processContext).repository
            #expect(try c.fsck().damaged.isEmpty)
        }
    }
}
