import DVSRemote
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

/// `dvs clone --branch` is a partial clone (issue 15, item 1), end to end through the built
/// binary against a folder remote and moto: it downloads only the frames of the branch's
/// snapshot, in merged ranged reads; checking out another revision downloads the rest; a push
/// from it does not send the remote's own frames back; a damaged frame is named.
@Suite(.serialized) struct PartialCloneCLITests {
    /// Bytes of the `.pack` files under `dir`.
    func packBytes(_ dir: String) throws -> UInt64 {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".pack") }.reduce(0) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: dir + "/" + $1)[.size] as? UInt64) ?? 0)
        }
    }

    @Test(arguments: RemoteKind.allCases) func aPartialCloneDownloadsOnlyItsSnapshotThenTheRestOnCheckout(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try committedWithLongClips(a, remote, long: 6, tag: "x")  // one long clip a pack
            // Two of the six long clips, in two packs among many: a cohort spread over the store.
            try dvsOK(["cohort", "create", "sel", "--where", "path IN ('clips/long-x-1.wav', 'clips/long-x-4.wav')"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let remotePacks = try remote.packs()
            #expect(remotePacks.count >= 3, "the clips span several packs: \(remotePacks)")
            let cohortFiles = try dvsOK(["ls", "cohort/sel"], in: a, remote).stdout.split(separator: "\n").count
            try dvsOK(["checkout", "cohort/sel", "--to", dir + "/want-sel"], in: a, remote)

            // The clone: metadata, and only the cohort snapshot's frames.
            let clone = try jsonObject(
                dvsOK(["clone", remote.url, dir + "/b", "--branch", "cohort/sel", "--json"] + remote.args, in: dir, remote))
            #expect(clone["partial"] as? Bool == true)
            let frames = try #require(clone["frames"] as? [String: Any], "\(clone)")
            let blobs = try #require(frames["blobs"] as? Int)
            let frameBytes = try #require(frames["frame_bytes"] as? Int)
            let downloaded = try #require(frames["bytes_downloaded"] as? Int)
            let requests = try #require(frames["requests"] as? Int)
            let indexes = try #require(frames["pack_indexes"] as? Int)
            #expect(blobs == cohortFiles, "one blob per file of the cohort's snapshot")
            #expect(requests <= blobs, "never more than one read per frame")
            #expect(indexes == remotePacks.count)
            // What was read beyond the frames: the merged gaps (at most 10 % of the frames) and
            // the pack indexes (the last 16 KiB of each pack at most, for these small indexes).
            #expect(UInt64(downloaded) <= UInt64(Double(frameBytes) * 1.10) + UInt64(indexes) * 16384, "\(frames)")
            let b = dir + "/b"
            let stored = try packBytes(b + "/.dvs/packs")
            #expect(stored >= UInt64(frameBytes) && stored < UInt64(frameBytes) + 4096, "the local pack holds those frames")
            let remoteBytes = try packBytes(a + "/.dvs/packs")
            #expect(stored * 2 < remoteBytes, "two long clips of six and the small files: \(stored) of \(remoteBytes)")
            try T.sh("rm -rf '\(dir)/got' && mkdir '\(dir)/got' && cp -r '\(b)/clips' '\(b)/labels.csv' '\(dir)/got/'")
            #expect(try T.sh("diff -r '\(dir)/want-sel' '\(dir)/got' && echo same").contains("same"), "byte-exact")
            let fsck = try dvsOK(["fsck"], in: b, remote)
            #expect(fsck.stdout.contains("of other revisions"), "\(fsck.stdout)")
            #expect(fsck.stdout.contains("not downloaded (a partial clone of 'origin'"), "\(fsck.stdout)")

            // Another revision: a stream of one shard downloads that shard's audio only; the
            // rest comes when it is checked out (git's DWIM for `main`).
            try dvsOK(["fetch", "origin"], in: b, remote)
            let shard = try T.run(
                "/bin/sh", ["-c", "'\(T.dvsBinary)' stream --rev origin/main --shard 0/2 | tar -t"], in: b, environment: remote.env)
            #expect(shard.status == 0, "\(shard.stderr)")
            let members = shard.stdout.split(separator: "\n").filter { $0.hasSuffix(".wav") }.count
            #expect(members == 5, "shard 0 of the 10 clips: \(shard.stdout)")
            let got = shard.stderr.split(separator: " ").firstIndex(of: "downloading").map { shard.stderr.split(separator: " ")[$0 + 1] }
            let n = got.flatMap { Int($0) } ?? -1
            #expect(n >= 1 && n <= members, "only the shard's missing clips: \(shard.stderr)")
            let co = try dvsOK(["checkout", "main"], in: b, remote)
            #expect(co.stderr.contains("note: branch 'main' created from 'origin/main'"), "\(co.stderr)")
            #expect(co.stderr.contains(" from 'origin' (this is a partial clone of it)"), "\(co.stderr)")
            #expect(try T.sh("diff -r '\(a)/clips' '\(b)/clips' && cmp '\(a)/labels.csv' '\(b)/labels.csv' && echo same").contains("same"))
            let full = try dvsOK(["fsck"], in: b, remote)
            #expect(!full.stdout.contains("not downloaded") && full.stdout.contains(": ok"), "\(full.stdout)")

            // A commit there: the push sends its own pack only, not the frames it read.
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(b)/clips/new.wav' synth 1 sine 440")
            try dvsOK(["commit", "-m", "a new clip"], in: b, remote)
            try dvsOK(["push", "origin"], in: b, remote)
            #expect(try remote.packs().count == remotePacks.count + 1)
            try dvsOK(["clone", remote.url, dir + "/c"] + remote.args, in: dir, remote)
            #expect(try T.sh("diff -r '\(b)/clips' '\(dir)/c/clips' && echo same").contains("same"), "a full clone has it all")
        }
    }

    @Test(arguments: RemoteKind.allCases) func aDamagedFrameOnTheRemoteIsNamedAndNothingChanges(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try addLongClips(a, count: 2, tag: "y")
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["config", "pack.target-size", "1048576"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["cohort", "create", "one", "--where", "path = 'clips/long-y-0.wav'"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let b = dir + "/b"
            try dvsOK(["clone", remote.url, b, "--branch", "cohort/one"] + remote.args, in: dir, remote)
            try dvsOK(["fetch", "origin"], in: b, remote)
            // Every long clip's frame on the remote gets one byte flipped in its middle (the pack
            // index is intact), so the clip `main` still needs is damaged.
            try damageLongFrames(remote, scratch: dir)
            let r = try T.dvs(["checkout", "origin/main"], in: b, environment: remote.env)
            #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains("read from remote 'origin' is damaged") && r.stderr.contains("object '"), "\(r.stderr)")
            #expect(!r.stderr.contains("testing"), "no credential in the message")
            let status = try dvsOK(["status"], in: b, remote)
            #expect(status.stdout.contains("On branch cohort/one"), "HEAD did not move: \(status.stdout)")
            #expect(try dvsOK(["fsck"], in: b, remote).stdout.contains(": ok"), "nothing damaged was kept")
        }
    }

    /// A partial clone takes in a purge made elsewhere (it downloads only the tables of commits
    /// it must compose; the purge deleted the old ones from the remote), and pushes its whole
    /// history to another remote (downloading what it lacks first) so a clone of that is complete.
    @Test func aPartialCloneTakesAPurgeAndPushesWholeHistoryElsewhere() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["cohort", "create", "two", "--where", "path IN ('clips/r0.wav', 'clips/r1.wav')"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url], in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let b = dir + "/b"
            try dvsOK(["clone", remote.url, b, "--branch", "cohort/two"], in: dir, remote)
            let early = try T.dvs(["checkout", "main"], in: b)
            #expect(
                early.status == 1 && early.stderr.contains("run 'dvs fetch origin' first (a clone with --branch fetched only that branch)"))

            try dvsOK(["purge", "clips/r1.wav", "--yes"], in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let fetched = try dvsOK(["fetch", "origin"], in: b, remote)
            #expect(fetched.stdout.contains("Applied purge"), "\(fetched.stdout)")
            #expect(!FileManager.default.fileExists(atPath: b + "/clips/r1.wav"), "the erased file left the partial clone's tree")
            #expect(try dvsOK(["purge", "--verify"], in: b, remote).stdout.contains("clean"))

            // Its whole history to a new remote: a clone of that has every blob.
            let other = dir + "/other.dvs"
            try dvsOK(["branch", "base", "origin/main"], in: b, remote)
            try dvsOK(["remote", "add", "other", other], in: b, remote)
            let pushed = try dvsOK(["push", "other", "--all"], in: b, remote)
            #expect(pushed.stderr.contains(" from 'origin' (this is a partial clone of it)"), "\(pushed.stderr)")
            try dvsOK(["clone", other, dir + "/c", "--branch", "base", "--full"], in: dir, remote)
            let fsck = try dvsOK(["fsck"], in: dir + "/c", remote)
            #expect(fsck.stdout.contains(": ok") && !fsck.stdout.contains("not downloaded"), "\(fsck.stdout)")
            #expect(try T.sh("cmp '\(a)/clips/r0.wav' '\(dir)/c/clips/r0.wav' && echo same").contains("same"))
        }
    }

    /// A cohort refreshed in a partial clone downloads the samples the refresh takes in (it
    /// failed naming the new clip's blob as "not in any pack", found by the new-user trial).
    @Test func aCohortRefreshedInAPartialCloneDownloadsWhatItTakesIn() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["cohort", "create", "late", "--where", "path >= 'clips/r2'"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url], in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let b = dir + "/b"
            try dvsOK(["clone", remote.url, b, "--branch", "cohort/late"], in: dir, remote)
            try T.speak("a sample that arrives after the cut", to: a + "/clips/s1.wav")
            try dvsOK(["commit", "-m", "one more"], in: a, remote)
            try dvsOK(["push"], in: a, remote)

            // Before a fetch, its source main is not here: said so, and how to get it.
            let before = try dvsOK(["cohort", "show", "late"], in: b, remote)
            #expect(
                before.stdout.contains("main is not in this clone (a clone with --branch fetched only that branch): 'dvs fetch' brings it"),
                "\(before.stdout)")
            let early = try T.dvs(["cohort", "refresh", "late"], in: b)
            #expect(early.status == 1 && early.stderr.contains("run 'dvs fetch' first, or pass --from REV"), "\(early.stderr)")
            // Then its source, main, is origin/main here: shown and refreshed from there (it said
            // "main no longer exists" and needed --from origin/main).
            try dvsOK(["fetch", "origin"], in: b, remote)
            let shown = try dvsOK(["cohort", "show", "late"], in: b, remote)
            #expect(shown.stdout.contains("1 new commit on origin/main since"), "\(shown.stdout)")
            let refreshed = try dvsOK(["cohort", "refresh", "late"], in: b, remote)
            #expect(refreshed.stderr.contains("(this is a partial clone of it)"), "\(refreshed.stderr)")
            #expect(try T.sh("cmp '\(a)/clips/s1.wav' '\(b)/clips/s1.wav' && echo same").contains("same"))
            #expect(!FileManager.default.fileExists(atPath: b + "/clips/r0.wav"), "the cohort still holds only its samples")
            #expect(try dvsOK(["fsck"], in: b, remote).stdout.contains(": ok"))
            // The setting is there to read; a repository without it says which keys exist.
            #expect(try dvsOK(["config", "remote.origin.partial"], in: b, remote).stdout == "true\n")
            let unset = try T.dvs(["config", "remote.origin.partial"], in: a)
            #expect(unset.status == 1 && unset.stderr.contains("remote.<name>.partial, remote.<name>.transfers"), "\(unset.stderr)")
        }
    }
}
