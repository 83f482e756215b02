import DVSTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// End-to-end tests: they run the built `dvs` binary on real audio.
typealias T = TestSupport

func dvs(_ args: String..., in dir: String, env: [String: String] = [:]) throws -> TestSupport.Result {
    try T.dvs(args, in: dir, environment: env)
}

func json(_ s: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(s.utf8)) }

@Suite(.serialized) struct CLITests {
    @Test func binaryExistsAndStartsQuickly() throws {
        #expect(FileManager.default.isExecutableFile(atPath: T.dvsBinary), "build dvs first: swift build (looked at \(T.dvsBinary))")
        let r = try T.run(T.dvsBinary, ["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    /// The git-like loop on Debian's recorded voices plus telephony audio made with sox/espeak-ng.
    @Test func commitStatusLogCheckoutLoopOnRealRecordings() throws {
        try T.withTemporaryDirectory { dir in
            let data = dir + "/ds"
            let recordings = T.debianRecordings(limit: 16)
            #expect(recordings.count >= 8, "install alsa-utils and ktuberling-data (see README)")
            var labels = "path,lang,text,source\n"
            for (i, src) in recordings.enumerated() {
                let out = String(format: "%@/clips/r%02d.wav", data, i)
                try FileManager.default.createDirectory(atPath: data + "/clips", withIntermediateDirectories: true)
                try T.sh("sox -R '\(src)' -r 16000 -c 1 -b 16 -e signed-integer '\(out)'")
                labels += String(format: "clips/r%02d.wav,en,word %d,debian\n", i, i)
            }
            try T.speak("please hold while I transfer your call", to: data + "/calls/c1.wav", sampleRate: 8000, encoding: "mu-law", bits: 8)
            labels += "calls/c1.wav,en,please hold,espeak\n"
            try T.write(Data(labels.utf8), to: data + "/labels.csv")
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: data).status == 0)
            let st = try json(dvs("status", "--json", in: data).stdout) as! [String: Any]
            #expect((st["changes"] as! [Any]).count == recordings.count + 2)
            #expect(st["samples_affected"] as? Int == recordings.count + 1)
            #expect((st["hours_affected"] as! Double) > 0)
            let c1 = try g.dvs("commit", "-m", "initial import", "--author", "Ana Díaz <ana@example.com>", in: data)
            #expect(c1.status == 0, "\(c1.stderr)")
            try T.sh("cp -a '\(data)' '\(dir)/copy1' && rm -rf '\(dir)/copy1/.dvs'")
            #expect(try g.dvs("status", in: data).status == 0)
            #expect(try g.dvs("commit", "-m", "again", in: data).status == 1)

            // A labeling pass: re-encode one clip, delete one, add one, relabel.
            try T.sh("sox -R clips/r01.wav clips/tmp.wav gain -3 && mv clips/tmp.wav clips/r01.wav && rm clips/r02.wav", in: data)
            try T.speak("new sample", to: data + "/clips/new.wav")
            // The label table follows: the deleted clip's row goes (a row naming a missing file would
            // refuse the commit), the new clip gets one.
            try T.sh(
                "sed -i -e 's/word 3/word three/' -e '/^clips\\/r02.wav,/d' labels.csv && echo 'clips/new.wav,en,new sample,espeak' >> labels.csv",
                in: data)
            #expect(try g.dvs("status", in: data).status == 0)
            #expect(try g.dvs("commit", "-m", "pass 2", in: data).status == 0)

            let log = try json(g.dvs("log", "--json", in: data, record: .nothing).stdout) as! [[String: Any]]
            #expect(log.map { $0["message"] as! String } == ["pass 2", "initial import"])
            #expect((log[1]["author"] as! [String: Any])["name"] as? String == "Ana Díaz")
            let first = log[1]["id"] as! String
            #expect(try g.dvs("log", "-n", "1", in: data).status == 0)
            let ls = try json(dvs("ls", "HEAD", "calls", "--json", in: data).stdout) as! [[String: Any]]
            // `--rev`, as `stream` and `query` take it, lists what the positional revision lists;
            // with it, every argument is a path.
            let firstByArgument = try dvs("ls", String(first.prefix(8)), "--json", in: data).stdout
            #expect(try dvs("ls", "--rev", String(first.prefix(8)), "--json", in: data).stdout == firstByArgument)
            #expect(firstByArgument != (try dvs("ls", "--json", in: data).stdout))
            #expect(
                try dvs("ls", "--rev", "HEAD", "calls", "--json", in: data).stdout
                    == (try dvs("ls", "HEAD", "calls", "--json", in: data).stdout))
            let audio = ls.first?["audio"] as? [String: Any]
            #expect(audio?["encoding"] as? String == "ULAW" && audio?["sample_rate_hz"] as? Int == 8000 && audio?["channels"] as? Int == 1)
            let cat = try T.run(T.dvsBinary, ["cat", "\(first.prefix(8)):labels.csv"], in: data)
            #expect(cat.stdoutData == (try T.read(dir + "/copy1/labels.csv")))
            #expect(try g.dvs("show", "HEAD", in: data).status == 0)

            // Back to the first commit: byte-exact.
            let co = try g.dvs("checkout", "HEAD~1", in: data)
            #expect(co.status == 0, "\(co.stderr)")
            let (same, diff) = try T.treesEqual(dir + "/copy1", data)
            #expect(same, "\(diff)")
            // The golden status names the first commit as `<id N>`, the number `log` gave it.
            #expect(try g.dvs("status", in: data).status == 0)
            #expect(try g.dvs("checkout", "main", in: data).status == 0)
            // Export without moving HEAD.
            #expect(try g.dvs("checkout", String(first.prefix(10)), "--to", dir + "/export", in: data).status == 0)
            #expect(try T.treesEqual(dir + "/copy1", dir + "/export").0)
            #expect(try dvs("log", "-n", "1", "--json", in: data).stdout.contains("pass 2"))
            let fsck = try g.dvs("fsck", in: data)
            #expect(fsck.status == 0)

            // A rename shows as one line in status, as in diff; a relabel-only pass says no audio changed.
            try T.sh("mv clips/r01.wav clips/r01_moved.wav && sed -i 's|^clips/r01.wav,|clips/r01_moved.wav,|' labels.csv", in: data)
            // Golden: one "renamed:" line (no "new:" line), and "no audio content (1 renamed)":
            // a rename is not a changed sample.
            #expect(try g.dvs("status", in: data).status == 0)
            #expect(try g.dvs("checkout", "HEAD", "--force", in: data).status == 0)
            try T.sh("rm clips/r01_moved.wav && sed -i 's/word three/word 3/' labels.csv", in: data)
            #expect(try g.dvs("status", in: data).status == 0)
            try g.verify()
        }
    }

    /// Every generated audio edge-case fixture (Tests/Fixtures) commits as a sample with libsndfile's
    /// facts or as a plain file with a warning, never crashes dvs, and checks out byte-exact.
    @Test func audioEdgeFixturesCommitAndCheckOutByteExact() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("cp -a '\(T.fixtures)/audio_edge' '\(dir)/edge'")
            _ = try dvs("init", in: dir + "/edge")
            let c = try dvs("commit", "-m", "edge cases", in: dir + "/edge")
            #expect(c.status == 0, "\(c.stderr)")
            #expect(c.stderr.contains("warning: zero_bytes.wav: named like audio but does not decode"))
            #expect(c.stderr.contains("warning: html_error_page_named_wav.wav: named like audio but does not decode"))
            #expect(c.stderr.contains("warning: data_size_zero_streaming.wav: WAV data chunk declares 0 bytes but 3200 bytes follow"))
            #expect(c.stderr.contains("warning: truncated_mid_sample.wav: WAV is truncated"))
            let ls = try json(dvs("ls", "--json", in: dir + "/edge").stdout) as! [[String: Any]]
            let byName = Dictionary(uniqueKeysWithValues: ls.map { ($0["path"] as! String, $0["audio"] as? [String: Any]) })
            #expect(byName["zero_bytes.wav"]! == nil && byName["html_error_page_named_wav.wav"]! == nil)
            #expect(byName["tone_opus.opus"]??["encoding"] as? String == "OPUS")
            #expect(byName["tone.mp3"]??["frames"] as? Int == 1600)
            #expect(byName["extensible_pcm24_stereo_48k.wav"]??["container"] as? String == "WAVEX")
            #expect(ls.filter { $0["audio"] != nil }.count == 22)
            #expect(try dvs("checkout", "HEAD", "--to", dir + "/out", in: dir + "/edge").status == 0)
            let (same, diff) = try T.treesEqual(T.fixtures + "/audio_edge", dir + "/out")
            #expect(same, "\(diff)")
            let strict = try dvs("commit", "--allow-empty", "--strict", "-m", "strict", in: dir + "/edge")
            #expect(strict.status == 1)
            // Damaged audio (truncated, never finalised) is refused too: a user ran --strict on a
            // truncated WAV and got a commit.
            #expect(strict.stderr.contains("error: 2 files named like audio do not decode and 2 audio files are damaged (--strict)"))
            #expect(strict.stderr.contains("\n  truncated_mid_sample.wav: WAV is truncated: data chunk declares 3200 bytes, 2469 present"))
            #expect(strict.stderr.contains("\n  data_size_zero_streaming.wav: WAV data chunk declares 0 bytes"))
            #expect(strict.stderr.contains("hint: "))
            #expect(try dvs("log", "--oneline", in: dir + "/edge").stdout.split(separator: "\n").count == 1)
        }
    }

    /// A rename (content unchanged, new path) is one rename in `status`, the commit's summary,
    /// `show` and `diff` alike; the commit and `show` reported an add and a delete.
    @Test func aRenameIsOneRenameEverywhere() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("sox -R '\(T.debianRecordings(limit: 1)[0])' b.wav && printf 'path,speaker\\nb.wav,s2\\n' > labels.csv", in: dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: dir).status == 0)
            #expect(try g.dvs("commit", "-m", "init", in: dir).status == 0)
            try T.sh("mv b.wav c.wav && sed -i 's/^b.wav/c.wav/' labels.csv", in: dir)
            #expect(try g.dvs("status", in: dir).stdout.contains("renamed:  b.wav → c.wav"))
            let c = try g.dvs("commit", "-m", "mv", in: dir)
            #expect(c.stdout.contains("2 changed (0 new, 1 modified, 0 deleted, 1 renamed)"), "\(c.stdout)")
            let show = try g.dvs("show", in: dir)
            #expect(show.stdout.contains("\nR  b.wav → c.wav  ("), "\(show.stdout)")
            #expect(try g.dvs("diff", "HEAD~1", "HEAD", "--stat", in: dir).stdout.contains("1 renamed"))
            try g.verify()
        }
    }

    @Test func pathsFromASubfolderGetARootRelativeHint() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("mkdir -p clips && sox -R '\(T.debianRecordings(limit: 1)[0])' clips/a.wav", in: dir)
            #expect(try dvs("init", in: dir).status == 0)
            #expect(try dvs("commit", "-m", "one", in: dir).status == 0)
            // Golden: "hint: paths are from the tree root, not from 'clips/': write 'clips/a.wav'".
            let g = Golden(replacing: [dir: "$TMP"])
            for args in [["ls", "HEAD", "a.wav"], ["cat", "HEAD:a.wav"]] {
                let r = try g.run(args, in: dir + "/clips")
                #expect(r.status == 1, "\(args): \(r.stderr)")
            }
            try g.verify()
        }
    }

    @Test func errorsSayWhatWhereAndWhatNext() throws {
        try T.withTemporaryDirectory { dir in
            // Every error and its hint is in the golden file, whole.
            let g = Golden(replacing: [dir: "$TMP"])
            let notRepo = try g.dvs("status", in: dir)
            #expect(notRepo.status == 1)
            #expect(notRepo.stderr.hasPrefix("error: not a dvs repository"))
            _ = try g.dvs("init", in: dir)
            let again = try g.dvs("init", in: dir)
            #expect(again.status == 1)
            let unborn = try g.dvs("log", in: dir)
            #expect(unborn.status == 1)
            try T.write(Data("x".utf8), to: dir + "/a.txt")
            _ = try g.dvs("commit", "-m", "one", in: dir)
            let bad = try g.dvs("checkout", "no-such-branch", in: dir)
            #expect(bad.status == 1)
            #expect(try g.dvs("cat", "HEAD:missing.txt", in: dir).status == 1)
            #expect(try g.dvs("commit", in: dir).status == 64, "usage error")
            #expect(try g.dvs("commit", "-m", "x", "--author", "no-brackets", in: dir).status != 0)
            #expect(try g.dvs("status", in: dir).status == 0)
            try g.verify()
        }
    }

    @Test func aSecondWriterWaitsThenNamesTheHolder() throws {
        try T.withTemporaryDirectory { dir in
            _ = try dvs("init", in: dir)
            try T.write(Data("x".utf8), to: dir + "/a.txt")
            // Hold the lock as a dvs writer would: pid and command in the file, flock on it.
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/bin/sh")
            holder.arguments = ["-c", "echo \"pid $$: dvs commit\" > .dvs/lock; exec flock .dvs/lock sleep 5"]
            holder.currentDirectoryURL = URL(fileURLWithPath: dir)
            try holder.run()
            defer {
                kill(holder.processIdentifier, SIGKILL)
                holder.waitUntilExit()
            }
            usleep(300_000)
            let start = Date()
            // Golden: "error: repository is locked by another dvs process (pid $HOLDER: dvs commit)" and a hint.
            let g = Golden(replacing: [dir: "$TMP"])
            g.replace("pid \(holder.processIdentifier):", with: "pid $HOLDER:")
            let r = try g.dvs("commit", "-m", "blocked", in: dir, env: ["DVS_LOCK_TIMEOUT": "0.5"])
            #expect(Date().timeIntervalSince(start) >= 0.45)
            #expect(r.status == 1)
            // Readers do not wait.
            #expect(try g.dvs("status", in: dir, env: ["DVS_LOCK_TIMEOUT": "0.5"]).status == 0)
            try g.verify()
        }
    }

    @Test func worksInsideAGitCheckoutWithoutTouchingGit() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("git init -q . && git -c user.name=t -c user.email=t@e commit -q --allow-empty -m init", in: dir)
            let before = try T.sh("find .git -type f -exec sha256sum {} + | sort", in: dir)
            try T.speak("hello", to: dir + "/a.wav")
            let g = Golden(replacing: [dir: "$TMP"])
            _ = try g.dvs("init", in: dir)
            #expect(try g.dvs("commit", "-m", "audio", in: dir).status == 0)
            // Golden: ls lists a.wav and nothing of .git.
            #expect(try g.dvs("ls", in: dir).status == 0)
            try g.verify()
            #expect(try T.sh("find .git -type f -exec sha256sum {} + | sort", in: dir) == before)
        }
    }

    /// Issue 2 §8: SIGKILL `dvs commit` at many points; afterwards fsck is clean, HEAD is the old
    /// commit or the new one, and re-running the commit succeeds.
    @Test func killedCommitLeavesOldOrNewStateAndRerunSucceeds() throws {
        try T.withTemporaryDirectory { dir in
            let data = dir + "/ds"
            try T.speak("this recording is repeated to make a long call", to: dir + "/base.wav")
            try FileManager.default.createDirectory(atPath: data + "/calls", withIntermediateDirectories: true)
            try T.write(Data("v0".utf8), to: data + "/labels.csv")
            _ = try dvs("init", in: data)
            #expect(try dvs("commit", "-m", "base", in: data).status == 0)
            let old = (try json(dvs("log", "-n", "1", "--json", in: data).stdout) as! [[String: Any]])[0]["id"] as! String
            try T.sh("seq 0 119 | xargs -P 4 -I{} sh -c 'sox -R base.wav ds/calls/call{}.wav repeat 12 gain -$(( {} % 7 ))'", in: dir)
            try T.write(Data("v1".utf8), to: data + "/labels.csv")
            var outcomes: [String] = []
            for delayMs in [5, 20, 50, 100, 200, 350, 500, 800, 1200, 2000] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: T.dvsBinary)
                p.arguments = ["commit", "-m", "big"]
                p.currentDirectoryURL = URL(fileURLWithPath: data)
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle.nullDevice
                try p.run()
                usleep(useconds_t(delayMs * 1000))
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                let fsck = try dvs("fsck", in: data)
                #expect(fsck.status == 0, "fsck after kill at \(delayMs) ms: \(fsck.stdout)")
                let head = (try json(dvs("log", "-n", "1", "--json", in: data).stdout) as! [[String: Any]])[0]
                let headID = head["id"] as! String
                if headID == old {
                    outcomes.append("old")
                } else {
                    #expect(head["parents"] as? [String] == [old], "HEAD after kill at \(delayMs) ms is neither old nor new")
                    #expect(try dvs("status", in: data).stdout.contains("working tree clean"))
                    outcomes.append("new")
                    break
                }
            }
            #expect(outcomes.contains("old"), "no kill landed mid-commit: \(outcomes)")
            // Re-running the commit succeeds (or there is nothing left to commit).
            let rerun = try dvs("commit", "-m", "big", in: data)
            #expect(rerun.status == 0 || (outcomes.last == "new" && rerun.status == 1), "\(rerun.stderr)")
            #expect(try dvs("fsck", in: data).status == 0)
            #expect(try dvs("checkout", "HEAD", "--to", dir + "/out", in: data).status == 0)
            #expect(try T.treesEqual(data, dir + "/out").0)
        }
    }
}

/// Whether this process may mount a small tmpfs (root in CI and on the developers' machines).
func canMountTmpfs() -> Bool {
    guard getuid() == 0, let dir = try? T.sh("mktemp -d").trimmingCharacters(in: .whitespacesAndNewlines) else { return false }
    defer {
        _ = try? T.run("/bin/umount", [dir])
        rmdir(dir)
    }
    return (try? T.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]))?.status == 0
}

@Suite(.serialized) struct DiskFullTests {
    /// Issue 2: disk full while writing a pack aborts the commit and leaves the repository intact.
    @Test(.enabled(if: canMountTmpfs(), "needs root to mount a small tmpfs"))
    func diskFullAbortsTheCommitAndChangesNothing() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("mount -t tmpfs -o size=6m tmpfs '\(dir)'")
            defer { _ = try? T.run("/bin/umount", ["-l", dir]) }
            let data = dir + "/ds"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            _ = try dvs("init", in: data)
            try T.speak("a first clip that fits", to: data + "/a.wav")
            #expect(try dvs("commit", "-m", "fits", in: data).status == 0)
            let head = try dvs("log", "-n", "1", "--json", in: data).stdout
            // Noise does not compress: 3.5 MB of it cannot be stored a second time in what is left.
            try T.sh("head -c 3500000 /dev/urandom > noise.bin && sha256sum a.wav noise.bin > ../sums", in: data)
            // Golden: the error names "no space left on device"; "hint: free some disk space".
            let g = Golden(replacing: [dir: "$TMP"])
            let r = try g.dvs("commit", "-m", "too big", in: data)
            #expect(r.status == 1)
            try g.verify()
            #expect(try dvs("log", "-n", "1", "--json", in: data).stdout == head, "HEAD did not move")
            #expect(try dvs("fsck", in: data).status == 0)
            #expect(try T.run("/usr/bin/sha256sum", ["-c", "--quiet", "../sums"], in: data).status == 0, "working files intact")
            #expect((try FileManager.default.contentsOfDirectory(atPath: data + "/.dvs/tmp")).isEmpty, "no temp files left")
            try FileManager.default.removeItem(atPath: data + "/noise.bin")
            try T.sh("head -c 100000 /dev/urandom > small.bin", in: data)
            #expect(try dvs("commit", "-m", "after freeing space", in: data).status == 0)
        }
    }
}

@Suite struct ChangingFileTests {
    /// Issue 2: a file that keeps changing while it is read is reported, and nothing is committed.
    @Test func aFileGrowingDuringTheCommitIsReportedAndNothingIsCommitted() throws {
        try T.withTemporaryDirectory { dir in
            _ = try dvs("init", in: dir)
            try T.speak("steady", to: dir + "/a.wav")
            #expect(try dvs("commit", "-m", "one", in: dir).status == 0)
            let head = try dvs("log", "-n", "1", "--json", in: dir).stdout
            try T.sh("head -c 60000000 /dev/zero > growing.bin", in: dir)
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/sh")
            writer.arguments = ["-c", "while :; do printf x >> growing.bin; done"]
            writer.currentDirectoryURL = URL(fileURLWithPath: dir)
            try writer.run()
            defer {
                kill(writer.processIdentifier, SIGKILL)
                writer.waitUntilExit()
            }
            usleep(100_000)
            // Golden: "error: file 'growing.bin' changed while it was being read", "hint: stop the program writing it".
            let g = Golden(replacing: [dir: "$TMP"])
            // How often the size moved depends on the writer's speed.
            g.replace(matching: #"moved \d+ times?"#, with: "moved N times")
            let r = try g.dvs("commit", "-m", "two", in: dir)
            #expect(r.status == 1)
            try g.verify()
            #expect(try dvs("log", "-n", "1", "--json", in: dir).stdout == head)
        }
    }
}
