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
        // Notes sorting between the clips and labels.csv, so the manifest has several leaves
        // and labels.csv is not in the leaf of the erased clip (as in any real dataset).
        try T.sh("for i in $(seq -w 0 47); do echo \"note $i\" > clips/d$i.txt; done", in: dir)
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
            func decompressed(_ frame: Data) throws {
                let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-key-\(getpid())")
                try frame.write(to: tmp)
                defer { try? FileManager.default.removeItem(at: tmp) }
                if let plain = try? T.sh("zstd -dc '\(tmp.path)'") { texts.append(Data(plain.utf8)) }
            }
            if o.key.hasPrefix("objects/") { try decompressed(data) }
            if o.key.hasPrefix("bundles/") {
                // 8 magic bytes, then per object: 32-byte id, UInt32 LE length, the zstd frame.
                let b = [UInt8](data)
                var i = 8
                while i + 36 <= b.count {
                    let n = (0..<4).reduce(0) { $0 | Int(b[i + 32 + $1]) << (8 * $1) }
                    try decompressed(Data(b[(i + 36)..<min(b.count, i + 36 + n)]))
                    i += 36 + n
                }
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
            let holding = try keysHolding(Self.marker, on: remote)
            #expect(holding.contains { $0.hasPrefix("objects/") }, "the marker is on the remote before (the scan finds it): \(holding)")
            #expect(holding.contains { $0.hasPrefix("bundles/") }, "and in a commit's metadata bundle: \(holding)")
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)
            // What .dvs holds besides the data (the catalog's write-ahead log, caches) varies from
            // run to run; the verdict does not.
            g.replace(matching: #"checked \d+ files? \([^)]*\) of \.dvs"#, with: "checked \\$N files (\\$SIZE) of .dvs")
            // The fetched pack holds rewritten commits and a purge record, stamped with the time of
            // the run, so its size varies by a few bytes; the counts of packs and objects do not.
            g.replace(matching: #"(objects?), [0-9.]+ [KMG]?i?B in"#, with: "$1, \\$SIZE in")

            let store = try remote.store()
            let leaking = try #require(holding.first { $0.hasPrefix("bundles/") })
            let leaked = try #require(try store.get(leaking))
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
            #expect(try store.get(leaking) == nil, "the replaced commit's bundle went")
            // A bundle still naming erased audio (the old one, put back under a kept commit's key)
            // is found inside, and so is one cut short (it cannot be looked into).
            let keptKey = "bundles/\(try #require(try remote.ref("main"))).bundle"
            let kept = try #require(try store.get(keptKey))
            try store.put(keptKey, leaked)
            let found = try T.dvs(["purge", "--verify", "--remote", "origin"], in: a, environment: remote.env)
            #expect(found.status == 1 && found.stdout.contains("\(keptKey) (object "), "\(found.stdout)")
            try store.put(keptKey, kept.prefix(kept.count - 1))
            let cut = try T.dvs(["purge", "--verify", "--remote", "origin"], in: a, environment: remote.env)
            #expect(cut.status == 1 && cut.stdout.contains("\(keptKey): not a whole metadata bundle"), "\(cut.stdout)")
            try store.put(keptKey, kept)
            // The replacements' bundles were written again with what the replaced ones held: a
            // clone reads one bundle per commit and no loose object.
            let fresh = try jsonObject(dvsOK(["clone", remote.url, dir + "/fresh", "--json"] + remote.args, in: dir, remote))
            let bundleCount = try store.list(prefix: "bundles/").count
            #expect(fresh["metadata_requests"] as? Int == bundleCount, "\(fresh) (\(bundleCount) bundles)")
            #expect(fresh["damaged_bundles"] as? [String: String] == [:], "\(fresh)")
            try dvsOK(["push"], in: a, remote, golden: g)  // nothing left to do

            // The stale clone: refused, then its fetch applies the purge.
            let refused = try T.dvs(["push"], in: b, environment: remote.env)
            g.append(["push"], in: b, refused)
            #expect(refused.status == 1)
            // A copy of the stale clone fetches with --json: its tag v1, at the commit the purge
            // replaced, differs from the remote's until the purge the fetch applies moves it there
            // (a move by the purge, not a tag kept against the remote's).
            try T.sh("cp -a b b-json", in: dir)
            let fetched = try jsonObject(dvsOK(["fetch", "--json"], in: dir + "/b-json", remote))
            let tagMoves = (fetched["refs"] as? [[String: Any]] ?? []).filter { ($0["ref"] as? String ?? "").hasPrefix("refs/tags/") }
            #expect(tagMoves.map { "\($0["ref"]!) \($0["status"]!)" } == ["refs/tags/v1 rewritten (purge)"], "\(tagMoves)")
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

            // The same recording added again there never goes back up.
            try T.sh("sox -R '\(T.debianRecordings(limit: 4)[3])' -r 16000 -c 1 -b 16 clips/again.wav", in: c)
            try dvsOK(["commit", "-m", "the same voice again"], in: c, remote)
            let again = try T.dvs(["push"], in: c, environment: remote.env)
            g.append(["push"], in: c, again)
            #expect(again.status == 1)
            #expect(try keysHolding("again.wav", on: remote) == [], "nothing naming it was uploaded")
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

/// `dvs gc --remote` (issue 16, item 4) against a folder remote and moto.
@Suite(.serialized) struct RemoteGCCLITests {
    /// A commit force-pushed away leaves a pack holding a large clip only it had and a small one
    /// the new commit has again, two loose objects and the commit's metadata bundle: nothing goes
    /// within the grace period; with --prune=now the objects and the bundle go and the pack is
    /// rewritten with the small clip only, after
    /// which a clone is complete. A remote branch this repository lacks stops it.
    @Test(arguments: RemoteKind.allCases) func forcePushedGarbageIsCollectedAfterTheGracePeriod(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try T.sh("mkdir -p a/clips && cp '\(T.debianRecordings(limit: 1)[0])' a/clips/first.wav", in: dir)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "first"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let small = T.debianRecordings(limit: 2)[1]
            try T.sh("sox -R -n -r 16000 -c 1 -b 16 clips/big.wav synth 20 pinknoise vol 0.2 && cp '\(small)' clips/small.wav", in: a)
            try dvsOK(["commit", "-m", "big and small"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let packsBefore = try remote.packs()
            let dropped = try #require(try remote.ref("main"))
            #expect(try remote.store().get("bundles/\(dropped).bundle") != nil)
            try T.sh(
                "\(T.dvsBinary) branch old HEAD~1 && \(T.dvsBinary) checkout old && \(T.dvsBinary) branch -D main && \(T.dvsBinary) branch main && \(T.dvsBinary) checkout main && \(T.dvsBinary) branch -D old && cp '\(small)' clips/small.wav",
                in: a)
            try dvsOK(["commit", "-m", "small only"], in: a, remote)
            try dvsOK(["push", "--force"], in: a, remote)

            let young = try jsonObject(dvsOK(["gc", "--remote", "origin", "--json"], in: a, remote))
            #expect(young["kept_young"] as? Int == 4 && young["objects_deleted"] as? Int == 0, "\(young)")
            let dry = try jsonObject(dvsOK(["gc", "--remote", "origin", "--prune=now", "--dry-run", "--json"], in: a, remote))
            #expect(dry["objects_deleted"] as? Int == 3 && dry["packs_rewritten"] as? Int == 1, "\(dry)")
            #expect(try remote.packs() == packsBefore, "a dry run deletes nothing")

            // Someone else's branch this repository has not fetched: refused, nothing deleted.
            let c = dir + "/c"
            try dvsOK(["clone", remote.url, c] + remote.args, in: dir, remote)
            try T.speak("a branch elsewhere", to: c + "/clips/elsewhere.wav")
            try dvsOK(["branch", "elsewhere"], in: c, remote)
            try dvsOK(["checkout", "elsewhere"], in: c, remote)
            try dvsOK(["commit", "-m", "elsewhere"], in: c, remote)
            try dvsOK(["push", "origin", "elsewhere"], in: c, remote)
            let refused = try T.dvs(["gc", "--remote", "origin", "--prune=now"], in: a, environment: remote.env)
            #expect(refused.status == 1, "\(refused.stdout)")
            #expect(refused.stderr.contains("its refs/heads/elsewhere is at") && refused.stderr.contains("which this repository lacks"))
            #expect(refused.stderr.contains("hint: run 'dvs fetch origin' first"), "\(refused.stderr)")
            try dvsOK(["fetch"], in: a, remote)

            let done = try jsonObject(dvsOK(["gc", "--remote", "origin", "--prune=now", "--json"], in: a, remote))
            #expect(done["objects_deleted"] as? Int == 3 && done["packs_rewritten"] as? Int == 1, "\(done)")
            #expect(try remote.store().get("bundles/\(dropped).bundle") == nil, "the dropped commit's bundle went with it")
            #expect(try remote.store().get("bundles/\(try #require(try remote.ref("main"))).bundle") != nil, "main's stays")
            let before = done["pack_bytes_before"] as? Int ?? 0
            let after = done["pack_bytes_after"] as? Int ?? 0
            #expect(after > 0 && after * 4 < before, "the big clip's frames went (\(before) → \(after))")
            #expect(try remote.packs().count == packsBefore.count + 1, "one rewritten in place, the branch's pack kept")
            let again = try jsonObject(dvsOK(["gc", "--remote", "origin", "--prune=now", "--json"], in: a, remote))
            #expect(again["objects_deleted"] as? Int == 0 && again["packs_rewritten"] as? Int == 0, "\(again)")
            let fresh = dir + "/fresh"
            try dvsOK(["clone", remote.url, fresh] + remote.args, in: dir, remote)
            #expect(try dvsOK(["fsck"], in: fresh, remote).status == 0)
            let (same, diff) = try T.treesEqual(a, fresh)
            #expect(same, "\(diff)")
            try dvsOK(["checkout", "origin/elsewhere"], in: fresh, remote)
            #expect(FileManager.default.fileExists(atPath: fresh + "/clips/elsewhere.wav"))
        }
    }
}
