import DVSStorage
import DVSTestSupport
import Foundation
import Testing

/// Reading a remote without a clone (`--remote URL`, issue 15 item 2), end to end through the
/// built binary against a folder remote and moto: shards read by workers at once cover the
/// snapshot exactly once and share one cache; a small cache evicts and stays sound; a model
/// trained without a clone is sent back and audited elsewhere; a damaged frame is named.
@Suite(.serialized) struct RemoteReadCLITests {
    /// A repository of recordings and three long clips (one 1 MiB pack each), pushed to `remote`;
    /// returns its folder.
    func pushedDataset(_ dir: String, _ remote: TestRemote, long: Int = 3) throws -> String {
        let a = dir + "/a"
        try committedWithLongClips(a, remote, recordings: 6, long: long, tag: "w")
        try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
        try dvsOK(["push", "--all"], in: a, remote)
        return a
    }

    /// `--remote URL --cache-dir DIR` and the remote's S3 arguments.
    func reading(_ remote: TestRemote, cache: String, size: String? = nil) -> [String] {
        ["--remote", remote.url, "--cache-dir", cache] + (size.map { ["--cache-size", $0] } ?? []) + remote.args
    }

    /// The one cache repository under `cache/remotes`.
    func cacheRepository(_ cache: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: cache + "/remotes").filter { !$0.hasSuffix(".lock") }
        #expect(names.count == 1, "one remote, one cache: \(names)")
        return cache + "/remotes/" + (try #require(names.first))
    }

    /// Bytes of the `.pack` files in `dir`.
    func packBytes(_ dir: String) throws -> UInt64 {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".pack") }.reduce(0) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: dir + "/" + $1)[.size] as? UInt64) ?? 0)
        }
    }

    /// Runs `script` with sh in `dir`; checks it exited 0.
    @discardableResult
    func shell(_ script: String, in dir: String, _ remote: TestRemote) throws -> TestSupport.Result {
        let r = try T.run("/bin/sh", ["-c", script], in: dir, environment: remote.env)
        #expect(r.status == 0, "\(script)\n\(r.stdout)\(r.stderr)")
        return r
    }

    /// The command line of `dvs ARGS` for sh, each argument quoted.
    func command(_ args: [String]) -> String { ([T.dvsBinary] + args).map { "'\($0)'" }.joined(separator: " ") }

    /// Runs the dvs commands at once (not through sh's `&` and `wait`: the test runner spawns
    /// children with SIGCHLD blocked, and dash's `wait` then never returns), each writing its
    /// stdout to `dir/<name>` and its stderr to `dir/<name>.err`; checks each exited 0.
    func together(_ commands: [(name: String, args: [String])], in dir: String, _ remote: TestRemote) throws {
        var running: [(String, Process)] = []
        for c in commands {
            FileManager.default.createFile(atPath: dir + "/" + c.name, contents: nil)
            FileManager.default.createFile(atPath: dir + "/" + c.name + ".err", contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: T.dvsBinary)
            p.arguments = c.args
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            var e = ProcessInfo.processInfo.environment
            e["DVS_AUTHOR_NAME"] = "Test Author"
            e["DVS_AUTHOR_EMAIL"] = "test@example.com"
            for (k, v) in remote.env { e[k] = v }
            p.environment = e
            p.standardInput = FileHandle.nullDevice
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/" + c.name))
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/" + c.name + ".err"))
            try p.run()
            running.append((c.name, p))
        }
        for (name, p) in running {
            p.waitUntilExit()
            let err = (try? String(contentsOfFile: dir + "/" + name + ".err", encoding: .utf8)) ?? ""
            #expect(p.terminationStatus == 0, "\(name): \(err)")
        }
    }

    @Test(arguments: RemoteKind.allCases) func threeWorkersWithoutACloneReadTheSnapshotOnceThroughOneCache(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = try pushedDataset(dir, remote)
            let cache = dir + "/cache"
            // Three workers started together, as DataLoader workers are, with one shuffle seed.
            try together(
                (0..<3).map {
                    ("s\($0).tar", ["stream", "--rev", "main", "--shuffle", "7", "--shard", "\($0)/3"] + reading(remote, cache: cache))
                },
                in: dir, remote)
            // Each worker says which commit it read: one for all.
            let main = try #require(try remote.ref("main"))
            for i in 0..<3 {
                let err = try String(contentsOfFile: dir + "/s\(i).tar.err", encoding: .utf8)
                #expect(err.contains("dvs stream: main is \(main) on the remote"), "\(err)")
            }
            var members: [String] = []
            for i in 0..<3 {
                let list = try shell("tar -tf s\(i).tar", in: dir, remote).stdout.split(separator: "\n").map(String.init)
                #expect(!list.filter { $0.hasSuffix(".wav") }.isEmpty, "every shard gets samples: \(list)")
                members += list.filter { $0.hasSuffix(".wav") }
                try shell("mkdir -p out && tar -xf s\(i).tar -C out", in: dir, remote)
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: a + "/clips").filter { $0.hasSuffix(".wav") }
            #expect(members.count == files.count && Set(members) == Set(files.map { "clips/" + $0 }), "exactly once: \(members.sorted())")
            for f in files { try shell("cmp '\(a)/clips/\(f)' 'out/clips/\(f)'", in: dir, remote) }

            // One cache: the audio downloaded once, its packs and metadata sound; a later read
            // of metadata downloads nothing.
            let repo = try cacheRepository(cache)
            let stored = try packBytes(repo + "/.dvs/packs")
            let audio = try files.reduce(UInt64(0)) {
                $0 + ((try FileManager.default.attributesOfItem(atPath: a + "/clips/" + $1)[.size] as? UInt64) ?? 0)
            }
            #expect(
                stored > audio / 3 && stored < audio * 2, "the snapshot's frames, downloaded once or twice at most: \(stored) of \(audio)")
            let fsck = try dvsOK(["fsck"], in: repo, remote)
            #expect(fsck.stdout.contains(": ok"), "\(fsck.stdout)")
            let ls = try dvsOK(["ls", "main"] + reading(remote, cache: cache), in: dir, remote)
            #expect(ls.stdout.split(separator: "\n").count == files.count + 1, "the clips and labels.csv: \(ls.stdout)")
            #expect(!ls.stderr.contains("downloading"), "\(ls.stderr)")
            let cat = try dvsOK(["cat", "main:labels.csv"] + reading(remote, cache: cache), in: dir, remote)
            #expect(cat.stdoutData == FileManager.default.contents(atPath: a + "/labels.csv"))
            let q = try dvsOK(
                ["query", "--rev", "main", "SELECT count(*) AS n FROM sample"] + reading(remote, cache: cache), in: dir, remote)
            #expect(q.stdout.contains("\(files.count)"), "\(q.stdout)")

            // A commit pushed a moment later: a branch is read as it was at the last fetch (for
            // 30 s, so workers started together read one snapshot), the new commit by its id.
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(a)/clips/late.wav' synth 1 sine 440")
            try dvsOK(["commit", "-m", "late"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let stale = try dvsOK(
                ["ls", "main"] + reading(remote, cache: cache), in: dir, remote, env: ["DVS_REMOTE_REFRESH_SECONDS": "3600"])
            #expect(!stale.stdout.contains("late.wav"), "\(stale.stdout)")
            let id = try #require(try remote.ref("main"))
            let late = try dvsOK(
                ["cat", "\(id):clips/late.wav"] + reading(remote, cache: cache), in: dir, remote,
                env: ["DVS_REMOTE_REFRESH_SECONDS": "3600"])
            #expect(late.stdoutData == FileManager.default.contents(atPath: a + "/clips/late.wav"))
            let fresh = try dvsOK(
                ["ls", "main"] + reading(remote, cache: cache), in: dir, remote, env: ["DVS_REMOTE_REFRESH_SECONDS": "3600"])
            #expect(fresh.stdout.contains("clips/late.wav"), "the fetch for the id moved the branch too: \(fresh.stdout)")
        }
    }

    @Test(arguments: RemoteKind.allCases) func aSmallCacheSharedByReadersEvictsAndStaysSound(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = try pushedDataset(dir, remote, long: 4)
            let cache = dir + "/cache"
            let limit: UInt64 = 1_500_000  // about one long clip's pack
            // Four readers at once on one cache smaller than what they read, twice over.
            for round in 0..<2 {
                try together(
                    (0..<4).map {
                        (
                            "r\(round)-\($0).tar",
                            ["stream", "--rev", "main", "--shard", "\($0)/4"] + reading(remote, cache: cache, size: "\(limit)")
                        )
                    },
                    in: dir, remote)
            }
            let files = try FileManager.default.contentsOfDirectory(atPath: a + "/clips").filter { $0.hasSuffix(".wav") }
            for round in 0..<2 {
                try shell("rm -rf out && mkdir out && for i in 0 1 2 3; do tar -xf r\(round)-$i.tar -C out; done", in: dir, remote)
                for f in files { try shell("cmp '\(a)/clips/\(f)' 'out/clips/\(f)'", in: dir, remote) }
            }
            let repo = try cacheRepository(cache)
            let stored = try packBytes(repo + "/.dvs/packs")
            #expect(stored > 0 && stored <= limit, "kept under the limit once nobody reads: \(stored)")
            let fsck = try dvsOK(["fsck"], in: repo, remote)
            #expect(fsck.stdout.contains(": ok") && !fsck.stdout.contains("damaged"), "\(fsck.stdout)")
            // What was evicted is downloaded again when read.
            let all = try shell(
                command(["stream", "--rev", "main"] + reading(remote, cache: cache, size: "\(limit)")) + " | tar -t", in: dir, remote)
            #expect(all.stdout.split(separator: "\n").filter { $0.hasSuffix(".wav") }.count == files.count)
            #expect(all.stderr.contains(" from the remote into its cache"), "\(all.stderr)")
        }
    }

    @Test(arguments: RemoteKind.allCases) func aModelTrainedWithoutACloneIsSentBackAndAuditedInAClone(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 8)
            var labels = "path,lang,text\n"
            for i in 0..<8 { labels += "clips/r\(i).wav,\(i % 2 == 0 ? "en" : "es"),recording \(i)\n" }
            try T.write(Data(labels.utf8), to: a + "/labels.csv")
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let cache = dir + "/cache"
            let train = try dvsOK(
                ["train", "--rev", "main", "--label", "lang", "--holdout", "0", "--out", dir + "/lang.dvsm", "--name", "lang-remote"]
                    + reading(remote, cache: cache), in: dir, remote)
            #expect(train.stderr.contains("sent 1 lineage record back to the remote"), "\(train.stderr)")
            let eval = try dvsOK(["eval", "--model", "lang-remote", "--rev", "main"] + reading(remote, cache: cache), in: dir, remote)
            #expect(eval.stderr.contains("sent 1 lineage record back to the remote"), "\(eval.stderr)")
            #expect(try remote.store().list(prefix: "records/").count == 2, "the model and its eval")

            // Another clone sees both.
            try dvsOK(["clone", remote.url, dir + "/c"] + remote.args, in: dir, remote)
            let models = try dvsOK(["models"], in: dir + "/c", remote)
            #expect(models.stdout.contains("lang-remote"), "\(models.stdout)")
            let audit = try dvsOK(["audit", "lang-remote"], in: dir + "/c", remote)
            let main = try #require(try remote.ref("main"))
            #expect(audit.stdout.contains("snapshot  \(main)") && audit.stdout.contains("8 samples"), "\(audit.stdout)")
            // The eval sent its own record only, not the model's again: one model there.
            #expect(models.stdout.split(separator: "\n").filter { $0.contains("lang-remote") }.count == 1, "\(models.stdout)")
        }
    }

    /// More samples than the first download window (64): the stream downloads window after
    /// window while it reads, and writes the same bytes as a stream of the repository itself.
    @Test func aLongStreamDownloadsInWindowsAndMatchesALocalStream() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            try FileManager.default.createDirectory(atPath: a + "/clips", withIntermediateDirectories: true)
            try T.sh("cd '\(a)/clips' && for i in $(seq 0 299); do sox -n -r 8000 -c 1 -b 16 c$i.wav synth 0.05 sine $((200 + i)); done")
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "300 clips"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let cache = dir + "/cache"
            try shell(command(["stream", "--shuffle", "3", "--from", "store", "-C", a]) + " > local.tar", in: dir, remote)
            let r = try shell(
                command(["stream", "--rev", "main", "--shuffle", "3"] + reading(remote, cache: cache)) + " > remote.tar", in: dir, remote)
            let notes = r.stderr.components(separatedBy: " from the remote into its cache").count - 1
            #expect(notes == 2, "windows of 64 and of the other 236: \(r.stderr)")
            try shell("cmp local.tar remote.tar", in: dir, remote)
        }
    }

    /// Reading one branch without a clone fetches that branch's metadata alone (a cohort of a
    /// large dataset does not wait for main's manifests); main is fetched when a command names it,
    /// and a name the remote has no branch of (a commit id) fetches every ref.
    @Test func aBranchReadWithoutACloneFetchesThatBranchAlone() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 6)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["cohort", "create", "two", "--where", "text IN ('recording 1', 'recording 3')"], in: a, remote)
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(a)/clips/main-only.wav' synth 0.5 sine 300")
            try dvsOK(["commit", "-m", "main moves on"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url], in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let cache = dir + "/cache"
            let cohortFiles = try dvsOK(["ls", "cohort/two"], in: a, remote).stdout
            let streamed = try shell(
                command(["stream", "--rev", "cohort/two"] + reading(remote, cache: cache)) + " | tar -t", in: dir, remote)
            let wavs = cohortFiles.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }.filter {
                $0.hasSuffix(".wav")
            }
            #expect(
                !wavs.isEmpty && Set(streamed.stdout.split(separator: "\n").map(String.init).filter { $0.hasSuffix(".wav") }) == Set(wavs))
            let repo = try cacheRepository(cache)
            func branches() throws -> [String] {
                try dvsOK(["branch"], in: repo, remote).stdout.split(separator: "\n").map {
                    $0.dropFirst(2).split(separator: " ").first.map(String.init) ?? ""
                }
            }
            #expect(try branches() == ["cohort/two"], "only the cohort's branch was fetched")
            // main, named by a command within the refresh period, is fetched alone.
            let hour = ["DVS_REMOTE_REFRESH_SECONDS": "3600"]
            let main = try dvsOK(["cat", "main:clips/main-only.wav"] + reading(remote, cache: cache), in: dir, remote, env: hour)
            #expect(main.stdoutData == FileManager.default.contents(atPath: a + "/clips/main-only.wav"))
            #expect(try branches() == ["cohort/two", "main"], "main fetched when named")
            // A commit id the cache lacks names no branch of the remote: every ref is fetched.
            try dvsOK(["branch", "side"], in: a, remote)
            try T.sh("sox -n -r 16000 -c 1 -b 16 '\(a)/clips/late.wav' synth 0.5 sine 500")
            try dvsOK(["commit", "-m", "late"], in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let id = try #require(try remote.ref("main"))
            let late = try dvsOK(["cat", "\(id):clips/late.wav"] + reading(remote, cache: cache), in: dir, remote, env: hour)
            #expect(late.stdoutData == FileManager.default.contents(atPath: a + "/clips/late.wav"))
            #expect(try branches() == ["cohort/two", "main", "side"], "every ref fetched for an id")
            #expect(try dvsOK(["fsck"], in: repo, remote).status == 0)
        }
    }

    /// A URL with no repository, or of a kind dvs does not read, is refused by name and leaves
    /// no cache; `dvs run`'s decoded copies count against `--cache-size`.
    @Test func wrongURLsLeaveNoCacheAndRunStaysWithinTheLimit() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            _ = try pushedDataset(dir, remote, long: 1)
            let cache = dir + "/cache"
            try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
            let empty = try T.dvs(["ls", "--remote", dir + "/empty", "--cache-dir", cache], in: dir)
            #expect(
                empty.status == 1 && empty.stderr.contains("no dvs repository at '\(dir)/empty': it has no branches"), "\(empty.stderr)")
            let http = try T.dvs(["ls", "--remote", "http://127.0.0.1:9/voice", "--cache-dir", cache], in: dir)
            #expect(http.status == 1 && http.stderr.contains("dvs reads s3:// URLs and folders only"), "\(http.stderr)")
            let left = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/remotes")) ?? []
            #expect(left.filter { !$0.hasSuffix(".lock") }.isEmpty, "no cache for a failed first open: \(left)")

            let limit = 400_000
            try dvsOK(
                ["run", "--rev", "main"] + reading(remote, cache: cache, size: "\(limit)") + [
                    "--", "sh", "-c", "test -s \"$DVS_SNAPSHOT_DIR/clips/r0.wav\"",
                ],
                in: dir, remote)
            let repo = try cacheRepository(cache)
            let kept = try T.sh(
                "du -sb --apparent-size '\(repo)/.dvs/packs' '\(repo)/.dvs/cache/blobs' 2>/dev/null | awk '{s += $1} END {print s}'")
            let bytes = try #require(UInt64(kept.trimmingCharacters(in: .whitespacesAndNewlines)))
            // The folders' own entries (4 KiB each) count in du's figure beside the files.
            #expect(bytes <= UInt64(limit) + 64 * 4096, "packs and decoded copies within the limit: \(bytes)")
        }
    }

    @Test func aPurgeOnTheRemoteReachesTheCache() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 6)
            var labels = "path,speaker\n"
            for i in 0..<6 { labels += "clips/r\(i).wav,\(i % 2 == 0 ? "spk_a" : "spk_b")\n" }
            try T.write(Data(labels.utf8), to: a + "/labels.csv")
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url], in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let cache = dir + "/cache"
            let before = try shell(command(["stream", "--rev", "main"] + reading(remote, cache: cache)) + " | tar -t", in: dir, remote)
            #expect(before.stdout.split(separator: "\n").filter { $0.hasSuffix(".wav") }.count == 6)
            try dvsOK(["purge", "--where", "speaker = 'spk_b'", "--yes"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            // The next read applies the purge to the cache: the erased clips are gone from its
            // snapshot and from its store.
            let after = try T.run(
                "/bin/sh", ["-c", command(["stream", "--rev", "main"] + reading(remote, cache: cache)) + " | tar -t"], in: dir,
                environment: remote.env.merging(["DVS_REMOTE_REFRESH_SECONDS": "0"]) { _, b in b })
            #expect(after.status == 0, "\(after.stderr)")
            let wavs = after.stdout.split(separator: "\n").filter { $0.hasSuffix(".wav") }.map(String.init)
            #expect(wavs == ["clips/r0.wav", "clips/r2.wav", "clips/r4.wav"], "\(after.stdout)\(after.stderr)")
            let repo = try cacheRepository(cache)
            // Exit 0: no erased id left in any file of the cache.
            let verify = try dvsOK(["purge", "--verify"], in: repo, remote)
            #expect(!verify.stdout.contains("NOT CLEAN"), "\(verify.stdout)")
            #expect(try dvsOK(["fsck"], in: repo, remote).stdout.contains(": ok"))
        }
    }

    @Test func aDamagedFrameIsNamedWhenReadingWithoutAClone() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.s3, dir: dir)
            _ = try pushedDataset(dir, remote, long: 1)
            try damageLongFrames(remote, scratch: dir)
            let cache = dir + "/cache"
            let r = try T.dvs(["cat", "main:clips/long-w-0.wav"] + reading(remote, cache: cache), in: dir, environment: remote.env)
            #expect(r.status == 1 && r.stdout.isEmpty, "\(r.stderr)")
            #expect(r.stderr.contains("is damaged") && r.stderr.contains("object '"), "\(r.stderr)")
            #expect(!r.stderr.contains("testing"), "no credential in the message")
            let repo = try cacheRepository(cache)
            #expect(try packBytes(repo + "/.dvs/packs") == 0, "nothing damaged was kept")
        }
    }
}
