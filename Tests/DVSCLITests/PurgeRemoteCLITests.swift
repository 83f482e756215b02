import DVSRemote
import DVSTestSupport
import Foundation
import Testing

/// Issue 16, item 3, end to end through the built binary against a folder remote and moto: a
/// purge pushed erases a speaker from the remote, a stale clone is refused until its fetch has
/// applied the purge, a new clone knows it; a push killed while erasing on the remote is
/// finished by the next.
@Suite(.serialized) struct PurgeRemoteCLITests {
    static let marker = "ZQX-REMOTE-MARKER-0042"

    /// Four recordings and labels.csv (path,speaker,note); spk3's row carries the marker; a
    /// relabel of spk3 on branch `side`; a tag v1 on main.
    func dataset(_ dir: String, _ remote: TestRemote) throws {
        let recs = T.debianRecordings(limit: 4)
        try #require(recs.count >= 4, "install alsa-utils and ktuberling-data (see README)")
        var csv = "path,speaker,note\n"
        for (i, r) in recs.enumerated() {
            try T.sh("mkdir -p clips && sox -R '\(r)' -r 16000 -c 1 -b 16 clips/c\(i).wav", in: dir)
            csv += "clips/c\(i).wav,spk\(i),\(i == 3 ? Self.marker : "fine")\n"
        }
        try T.write(Data(csv.utf8), to: dir + "/labels.csv")
        try dvsOK(["init"], in: dir, remote)
        try dvsOK(["commit", "-m", "base"], in: dir, remote)
        try dvsOK(["tag", "v1"], in: dir, remote)
        try dvsOK(["branch", "side"], in: dir, remote)
        try dvsOK(["checkout", "side"], in: dir, remote)
        try T.sh("sed -i 's|^clips/c3.wav,spk3,|clips/c3.wav,spk3,x-|' labels.csv", in: dir)
        try dvsOK(["commit", "-m", "relabel"], in: dir, remote)
        try dvsOK(["checkout", "main"], in: dir, remote)
        try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: dir, remote)
        try dvsOK(["push", "--all", "--tags"], in: dir, remote)
    }

    /// Keys of the remote whose bytes (as stored, and decompressed for objects) hold `needle`.
    func keysHolding(_ needle: String, on remote: TestRemote) throws -> [String] {
        let store = try remote.store()
        var out: [String] = []
        for o in try store.list(prefix: "") {
            guard let data = try store.get(o.key) else { continue }
            var texts = [data]
            if o.key.hasPrefix("objects/") {
                let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-key-\(getpid())")
                try data.write(to: tmp)
                defer { try? FileManager.default.removeItem(at: tmp) }
                if let plain = try? T.sh("zstd -dc '\(tmp.path)'") { texts.append(Data(plain.utf8)) }
            }
            if texts.contains(where: { $0.range(of: Data(needle.utf8)) != nil }) { out.append(o.key) }
        }
        return out
    }

    @Test(arguments: RemoteKind.allCases) func aPurgeReachesTheRemoteAndEveryClone(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            let b = dir + "/b"
            try FileManager.default.createDirectory(atPath: a, withIntermediateDirectories: true)
            try dataset(a, remote)
            try dvsOK(["clone", remote.url, b] + remote.args, in: dir, remote)
            #expect(try !keysHolding(Self.marker, on: remote).isEmpty, "the marker is on the remote before (the scan finds it)")
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)

            try dvsOK(["purge", "--where", "speaker = 'spk3'", "--yes"], in: a, remote, golden: g)
            let pushed = try jsonObject(dvsOK(["push", "--all", "--tags", "--json"], in: a, remote))
            let p = try #require(pushed["purges"] as? [String: Any])
            #expect(p["records_uploaded"] as? Int == 1 && p["deferred"] as? [String] == [], "\(p)")
            #expect((p["old_commits"] as? Int ?? 0) == 2 && (p["packs_deleted"] as? Int ?? 0) >= 1, "\(p)")
            let statuses = (pushed["refs"] as? [[String: Any]] ?? []).map { "\($0["ref"]!) \($0["status"]!)" }.sorted()
            #expect(
                statuses == [
                    "refs/heads/main rewritten (purge)", "refs/heads/side rewritten (purge)", "refs/tags/v1 rewritten (purge)",
                ], "\(statuses)")
            #expect(try keysHolding(Self.marker, on: remote) == [], "no key of the remote holds the marker")
            try dvsOK(["purge", "--verify", "--remote", "origin"], in: a, remote, golden: g)
            try dvsOK(["push"], in: a, remote, golden: g)  // nothing left to do

            // The stale clone: refused, then its fetch applies the purge.
            let refused = try T.dvs(["push"], in: b, environment: remote.env)
            g.append(["push"], in: b, refused)
            #expect(refused.status == 1)
            try dvsOK(["fetch"], in: b, remote, golden: g)
            try dvsOK(["purge", "--list"], in: b, remote, golden: g)
            try dvsOK(["purge", "--verify"], in: b, remote, golden: g)
            try dvsOK(["status"], in: b, remote, golden: g)
            #expect(try !String(contentsOfFile: b + "/labels.csv", encoding: .utf8).contains(Self.marker))
            try dvsOK(["push"], in: b, remote, golden: g)

            // A new clone of the purged remote knows the purge; the rewritten tag says what it lost.
            let c = dir + "/c"
            try dvsOK(["clone", remote.url, c] + remote.args, in: dir, remote)
            let listed = try #require(try json(dvsOK(["purge", "--list", "--json"], in: c, remote).stdout) as? [[String: Any]])
            #expect(listed.count == 1 && listed.first?["samples"] as? Int == 1)
            try dvsOK(["log", "-n", "1", "v1"], in: c, remote, golden: g)
            #expect(try dvsOK(["fsck"], in: c, remote).status == 0)
            #expect(try keysHolding(Self.marker, on: remote) == [])
            try g.verify()
        }
    }

    /// SIGKILL a push after it moved the remote refs, and again after it deleted the first old
    /// object: each time a clone of the remote is sound, and the next push finishes erasing.
    @Test(arguments: RemoteKind.allCases) func aPushKilledWhileErasingOnTheRemoteIsFinishedByTheNext(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try FileManager.default.createDirectory(atPath: a, withIntermediateDirectories: true)
            try dataset(a, remote)
            try dvsOK(["purge", "--where", "speaker = 'spk3'", "--yes"], in: a, remote)
            for (n, step) in ["remote-refs", "remote-packs", "remote-objects-1"].enumerated() {
                let killed = try T.dvs(
                    ["push", "--all", "--tags"], in: a,
                    environment: remote.env.merging(["DVS_TEST_KILL_AFTER_PURGE_STEP": step]) { _, b in b })
                #expect(killed.status == 128 + 9, "\(step): \(killed.stderr)")
                let clone = dir + "/clone-\(n)"
                try dvsOK(["clone", remote.url, clone] + remote.args, in: dir, remote)
                #expect(try dvsOK(["fsck"], in: clone, remote).status == 0, "\(step)")
                #expect(try !String(contentsOfFile: clone + "/labels.csv", encoding: .utf8).contains(Self.marker), "\(step)")
            }
            let unfinished = try T.dvs(["purge", "--verify", "--remote", "origin"], in: a, environment: remote.env)
            #expect(unfinished.status == 1, "killed before the old objects were all gone: \(unfinished.stdout)")
            let done = try jsonObject(dvsOK(["push", "--all", "--tags", "--json"], in: a, remote))
            let p = try #require(done["purges"] as? [String: Any])
            #expect((p["objects_deleted"] as? Int ?? 0) > 0 && p["records_uploaded"] as? Int == 0, "\(p)")
            #expect(try keysHolding(Self.marker, on: remote) == [])
            let v = try dvsOK(["purge", "--verify", "--remote", "origin"], in: a, remote)
            #expect(v.stdout.hasSuffix("clean: no erased id is left\n"), "\(v.stdout)")
        }
    }

    /// SIGKILL a fetch while it applies the remote's purge (after the refs moved, before the
    /// working tree): the next command finishes it, and nothing erased is left in the clone.
    @Test func aFetchKilledWhileApplyingAPurgeIsFinishedByTheNextCommand() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            let b = dir + "/b"
            try FileManager.default.createDirectory(atPath: a, withIntermediateDirectories: true)
            try dataset(a, remote)
            try dvsOK(["clone", remote.url, b] + remote.args, in: dir, remote)
            try dvsOK(["purge", "--where", "speaker = 'spk3'", "--yes"], in: a, remote)
            try dvsOK(["push", "--all", "--tags"], in: a, remote)
            let killed = try T.dvs(["fetch"], in: b, environment: ["DVS_TEST_KILL_AFTER_PURGE_STEP": "refs"])
            #expect(killed.status == 128 + 9, "\(killed.stderr)")
            #expect(FileManager.default.fileExists(atPath: b + "/.dvs/PURGE"))
            let next = try dvsOK(["status"], in: b, remote)
            #expect(next.stderr.contains("note: finished the interrupted purge"), "\(next.stderr)")
            #expect(next.stdout.contains("nothing to commit"), "\(next.stdout)")
            #expect(try !String(contentsOfFile: b + "/labels.csv", encoding: .utf8).contains(Self.marker))
            #expect(!FileManager.default.fileExists(atPath: b + "/clips/c3.wav"))
            let v = try dvsOK(["purge", "--verify"], in: b, remote)
            #expect(v.stdout.hasSuffix("clean: no erased id is left\n"), "\(v.stdout)")
            #expect(try dvsOK(["fsck"], in: b, remote).status == 0)
            try dvsOK(["push"], in: b, remote)
        }
    }
}
