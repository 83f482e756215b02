import DVSTestSupport
import Foundation
import Testing

/// `dvs repack`, and the commit that stores audio as it is past `pack.defer-audio-after`.
@Suite(.serialized) struct RepackCLITests {
    @Test func aCommitDefersAudioAndRepackCodesIt() throws {
        try T.withTemporaryDirectory { dir in
            let recordings = T.debianRecordings(limit: 3)
            try #require(recordings.count >= 3, "install alsa-utils (see README)")
            try T.sh(
                "mkdir -p clips && sox -R '\(recordings[0])' -r 16000 -c 1 -b 16 clips/a.wav"
                    + " && sox -R '\(recordings[1])' -r 48000 -c 2 -b 16 clips/b.wav"
                    + " && sox -R '\(recordings[2])' -r 8000 -c 1 -e mu-law clips/c.wav"
                    + " && printf 'path,speaker\\nclips/a.wav,s1\\nclips/b.wav,s2\\nclips/c.wav,s1\\n' > labels.csv",
                in: dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: dir).status == 0)
            #expect(try g.dvs("config", "pack.audio-codec", "lpc", in: dir).status == 0)
            #expect(try g.dvs("config", "pack.defer-audio-after", "0", in: dir).status == 0)
            #expect(try g.dvs("config", "pack.auto-repack", "false", in: dir).status == 0)
            // Bad values are refused, and change nothing.
            #expect(try g.dvs("config", "pack.defer-audio-after", "64MB", in: dir).status == 1)
            #expect(try g.dvs("config", "pack.auto-repack", "yes", in: dir).status == 1)
            // A size with a 1024-based suffix is stored in bytes.
            #expect(try g.dvs("config", "cache.max-size", "10g", in: dir).status == 0)
            #expect(try g.dvs("config", in: dir).status == 0)

            // All the audio is stored as it is; the labels are coded.
            #expect(try g.dvs("commit", "-m", "three clips", in: dir).status == 0)
            #expect(try g.dvs("fsck", in: dir).status == 0)
            // status says what waits for a repack, and that none is running.
            #expect(try g.dvs("status", in: dir).status == 0)
            #expect(try g.dvs("status", "--json", in: dir).status == 0)
            // Another program holding the repack lock (this test): --json names it and gives its
            // pid as a number (it was only inside the text).
            let fd = open(dir + "/.dvs/repack.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
            let pending = try jsonObject(dvs("status", "--json", in: dir))["pending_repack"] as? [String: Any] ?? [:]
            close(fd)
            #expect(pending["running"] as? Bool == true && pending["running_repack_pid"] as? Int == Int(getpid()), "\(pending)")
            #expect((pending["running_repack"] as? String)?.hasPrefix("process \(getpid()) (") == true, "\(pending)")
            #expect(try g.dvs("repack", in: dir).status == 0)
            #expect(try g.dvs("repack", in: dir).status == 0)
            #expect(try g.dvs("fsck", in: dir).status == 0)
            let out = dir + ".out"
            defer { try? FileManager.default.removeItem(atPath: out) }
            #expect(try g.dvs("checkout", "HEAD", "--to", out, in: dir).status == 0)
            #expect(
                try T.sh("cmp clips/b.wav '\(out)/clips/b.wav' && cmp clips/c.wav '\(out)/clips/c.wav' && echo same", in: dir) == "same\n")

            // With pack.auto-repack (the default) the commit starts the repack in the background.
            #expect(try g.dvs("config", "--unset", "pack.auto-repack", in: dir).status == 0)
            try T.sh("sox -R '\(recordings[0])' -r 16000 -c 1 -b 16 clips/d.wav speed 0.9", in: dir)
            g.replace(matching: #"pid \d+"#, with: "pid <pid>")
            #expect(try g.dvs("commit", "-m", "one more", in: dir).status == 0)
            let log = dir + "/.dvs/repack.log"
            let deadline = Date().addingTimeInterval(60)
            while !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("coded"), Date() < deadline { usleep(50_000) }
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2 && lines[0].hasSuffix(" dvs repack (started by a commit)"), "\(lines)")
            #expect(lines.last?.hasPrefix("coded 1 blob (49.6 KiB) in 1 pack") == true, "\(lines)")
            #expect(try g.dvs("repack", "--json", in: dir).status == 0)
            #expect(try g.dvs("status", in: dir).status == 0)

            // After the setting changes, --recode codes what is stored as the setting now says:
            // codec 2 and plain zstd for the four clips, then nothing left to do; back to lpc.
            #expect(try g.dvs("config", "pack.audio-codec", "predictive", in: dir).status == 0)
            #expect(try g.dvs("repack", in: dir).status == 0)
            #expect(try g.dvs("repack", "--recode", in: dir).status == 0)
            #expect(try g.dvs("repack", "--recode", in: dir).status == 0)
            #expect(try g.dvs("config", "--unset", "pack.audio-codec", in: dir).status == 0)
            #expect(try g.dvs("repack", "--recode", in: dir).status == 0)
            #expect(try g.dvs("fsck", in: dir).status == 0)
            try g.verify()
        }
    }
}
