import DVSTestSupport
import Foundation
import Testing

/// `dvs purge`, `dvs gc` and `dvs merge --resolved`, end to end through the built binary, on
/// Debian's recordings; a purge killed with SIGKILL at each step is finished by the next command.
@Suite(.serialized) struct PurgeCLITests {
    static let marker = "ZQX-CLI-MARKER-0042"

    /// Four recordings and labels.csv (path,lang,speaker,note); spk3's row carries the marker;
    /// a relabel of spk3 on branch `side`; committed on main.
    func dataset(_ dir: String) throws {
        let recs = T.debianRecordings(limit: 4)
        try #require(recs.count >= 4, "install alsa-utils and ktuberling-data (see README)")
        var csv = "path,lang,speaker,note\n"
        for (i, r) in recs.enumerated() {
            try T.sh("mkdir -p clips && sox -R '\(r)' -r 16000 -c 1 -b 16 clips/c\(i).wav", in: dir)
            csv += "clips/c\(i).wav,\(i % 2 == 0 ? "en" : "es"),spk\(i),\(i == 3 ? Self.marker : "fine")\n"
        }
        try T.write(Data(csv.utf8), to: dir + "/labels.csv")
        #expect(try dvs("init", in: dir).status == 0)
        #expect(try dvs("commit", "-m", "base", in: dir).status == 0)
        #expect(try dvs("branch", "side", in: dir).status == 0)
        #expect(try dvs("checkout", "side", in: dir).status == 0)
        try T.sh("sed -i 's|^clips/c3.wav,es,spk3,|clips/c3.wav,es,spk3,x-|' labels.csv", in: dir)
        #expect(try dvs("commit", "-m", "relabel", in: dir).status == 0)
        #expect(try dvs("checkout", "main", in: dir).status == 0)
    }

    /// Files under `.dvs/` whose bytes (as stored, or zstd-decoded for objects) hold `needle`.
    func filesHolding(_ needle: String, in dir: String) throws -> String {
        try T.sh(
            "cd .dvs && { grep -rl -a -F '\(needle)' . ; for f in $(find objects -type f); do zstd -dc \"$f\" 2>/dev/null | grep -q -a -F '\(needle)' && echo \"$f\"; done; } | sort -u",
            in: dir)
    }

    @Test func dryRunPurgeListLogAndGC() throws {
        try T.withTemporaryDirectory { dir in
            try dataset(dir)
            #expect(try !filesHolding(Self.marker, in: dir).isEmpty, "the marker is in objects before the purge")
            let dry = try dvs("purge", "--where", "speaker = 'spk3'", in: dir)
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdout.contains("where speaker = 'spk3': 1 sample"), "\(dry.stdout)")
            #expect(dry.stdout.contains("refs/heads/main") && dry.stdout.contains("refs/heads/side"))
            #expect(dry.stdout.contains("Nothing was changed; run again with --yes"))
            #expect(try dvs("ls", "side", in: dir).stdout.contains("clips/c3.wav"), "a dry run changes nothing")

            let sideBefore = try dvs("log", "-n", "1", "--json", "side", in: dir).stdout
            let oldSide = try #require((try json(sideBefore) as? [[String: Any]])?.first?["id"] as? String)
            let badColumn = try dvs("purge", "--where", "nosuch = 1", in: dir)
            #expect(badColumn.status == 1 && badColumn.stderr.contains("no such column: nosuch"), "\(badColumn.stderr)")
            #expect(
                badColumn.stderr.contains("hint: write one condition over the sample table") && badColumn.stderr.contains("speaker_count"))
            // The label fields by name, the columns a rule most often wants (it said "a column per label field").
            #expect(badColumn.stderr.contains(", then the label fields: lang, note, speaker\n"), "\(badColumn.stderr)")
            // A model predicting `note`: its record counts the marked value.
            try T.withTemporaryDirectory { aside in
                try T.write(Data("weights".utf8), to: aside + "/m1.bin")
                #expect(try dvs("model", "add", aside + "/m1.bin", "--rev", "main", "--label", "note", "--name", "m1", in: dir).status == 0)
            }
            // The dry run names the model by what its snapshot holds, not as "trained on" all of
            // them (audit may count some held out).
            let withModel = try dvs("purge", "--where", "speaker = 'spk3'", in: dir)
            #expect(
                withModel.stdout.split(separator: "\n").contains {
                    $0.hasPrefix("model m1 (") && $0.hasSuffix(") was trained on a snapshot holding 1 of them: retrain it")
                }, "\(withModel.stdout)")
            let done = try dvs("purge", "--where", "speaker = 'spk3'", "--yes", in: dir)
            #expect(done.status == 0, "\(done.stderr)")
            #expect(done.stdout.contains("erased 1 sample"), "\(done.stdout)")
            #expect(done.stdout.contains("Rewrote 1 model/eval record without the label values only erased samples carried"))
            let audit = try dvs("audit", "m1", in: dir)
            #expect(audit.status == 0 && audit.stdout.contains("note: fine 3"), "\(audit.stdout)")
            #expect(audit.stdout.contains("erased    1 sample of its training snapshot was erased by purge"), "\(audit.stdout)")
            #expect(try filesHolding(Self.marker, in: dir).isEmpty)
            #expect(try !dvs("ls", "side", in: dir).stdout.contains("clips/c3.wav"))
            let log = try dvs("log", "side", in: dir)
            #expect(log.stdout.contains("Erased: 1 sample by purge"), "\(log.stdout)")
            let show = try dvs("show", "side", in: dir)
            #expect(show.stdout.contains("Erased: 1 sample by purge") && !show.stdout.contains("purge-erased"), "\(show.stdout)")
            // The old id still resolves, to its replacement, and says so.
            let old = try dvs("log", "-n", "1", String(oldSide.prefix(12)), in: dir)
            #expect(old.status == 0 && old.stdout.contains("Erased: 1 sample"), "\(old.stdout)")
            #expect(old.stderr.contains("note: commit \(oldSide.prefix(12)) was rewritten by purge"), "\(old.stderr)")
            let list = try dvs("purge", "--list", in: dir)
            #expect(list.stdout.contains("where speaker = 'spk3'") && list.stdout.contains("1 sample"), "\(list.stdout)")
            let listed = try #require(try json(dvs("purge", "--list", "--json", in: dir).stdout) as? [[String: Any]])
            #expect(listed.first?["samples"] as? Int == 1)
            #expect(try dvs("fsck", in: dir).status == 0)
            let verify = try dvs("purge", "--verify", in: dir)
            #expect(verify.status == 0 && verify.stdout.contains("clean: no erased id is left"), "\(verify.stdout)")

            let gc = try dvs("gc", "--prune=now", in: dir)
            #expect(gc.status == 0, "\(gc.stderr)")
            #expect(gc.stdout.contains("reclaimed"), "\(gc.stdout)")
            let bad = try dvs("gc", "--prune=someday", in: dir)
            #expect(bad.status == 64 && bad.stderr.contains("--prune"), "\(bad.stderr)")
            let none = try dvs("purge", in: dir)
            #expect(none.status == 64)
        }
    }

    @Test func aPurgeKilledAtAnyStepIsFinishedByTheNextCommand() throws {
        for step in ["journal", "rewritten", "recorded", "refs", "tree", "packs", "objects"] {
            try T.withTemporaryDirectory { dir in
                try dataset(dir)
                let killed = try dvs(
                    "purge", "clips/c3.wav", "--yes", in: dir, env: ["DVS_TEST_KILL_AFTER_PURGE_STEP": step])
                #expect(killed.status == 128 + 9, "\(step): \(killed.stderr)")
                #expect(FileManager.default.fileExists(atPath: dir + "/.dvs/PURGE"), "\(step)")
                let next = try dvs("status", in: dir)
                #expect(next.status == 0, "\(step): \(next.stderr)")
                #expect(next.stderr.contains("finished the interrupted purge"), "\(step): \(next.stderr)")
                #expect(!FileManager.default.fileExists(atPath: dir + "/.dvs/PURGE"), "\(step)")
                #expect(try filesHolding(Self.marker, in: dir).isEmpty, "\(step)")
                #expect(try dvs("fsck", in: dir).status == 0, "\(step)")
                #expect(try !dvs("ls", "side", in: dir).stdout.contains("clips/c3.wav"), "\(step)")
            }
        }
    }

    /// A remote that still holds what a local purge erased (the purge not pushed yet) cannot
    /// bring it back: fetch skips the remote branches still at replaced commits, saying so, and
    /// downloads nothing of them; pull finds nothing new.
    @Test func fetchFromARemoteStillHoldingErasedDataSkipsIt() throws {
        try T.withTemporaryDirectory { dir in
            try dataset(dir)
            let remoteDir = try T.sh("mktemp -d /tmp/dvs-remote-XXXXXX").trimmingCharacters(in: .whitespacesAndNewlines)
            defer { try? FileManager.default.removeItem(atPath: remoteDir) }
            #expect(try dvs("remote", "add", "origin", remoteDir + "/remote.dvs", in: dir).status == 0)
            #expect(try dvs("push", "origin", "main", in: dir).status == 0)
            #expect(try dvs("push", "origin", "side", in: dir).status == 0)
            #expect(try dvs("purge", "--where", "speaker = 'spk3'", "--yes", in: dir).status == 0)
            let f = try T.dvs(["fetch", "origin", "--json"], in: dir)
            #expect(f.status == 0, "\(f.stderr)")
            let o = try #require(try json(f.stdout) as? [String: Any])
            #expect(o["refs_skipped"] as? [String] == ["refs/heads/main", "refs/heads/side"], "\(o)")
            #expect(o["bytes_downloaded"] as? Int == 0 && o["objects_downloaded"] as? Int == 0, "\(o)")
            #expect(f.stderr.contains("note: refs/heads/main on 'origin' still points at a commit a purge replaced"), "\(f.stderr)")
            let p = try T.dvs(["pull", "origin", "main"], in: dir)
            #expect(p.status == 0 && p.stdout.contains("Already up to date"), "\(p.stdout) \(p.stderr)")
            #expect(try filesHolding(Self.marker, in: dir).isEmpty, "nothing erased came back")
            #expect(try dvs("purge", "--verify", in: dir).status == 0)
            #expect(try !dvs("ls", "main", in: dir).stdout.contains("clips/c3.wav"))
        }
    }

    @Test func mergeResolvedKeepsADeletedVersusEditedRowExplicitly() throws {
        try T.withTemporaryDirectory { dir in
            try dataset(dir)
            try T.sh("rm clips/c3.wav && sed -i '/^clips\\/c3.wav/d' labels.csv", in: dir)
            #expect(try dvs("commit", "-m", "erase spk3", in: dir).status == 0)
            let m = try dvs("merge", "side", in: dir)
            #expect(m.status == 1 && m.stdout.contains("CONFLICT (delete-edit)"), "\(m.stdout)")
            let early = try dvs("merge", "--continue", in: dir)
            #expect(early.status == 1 && early.stderr.contains("labels.csv row clips/c3.wav"), "\(early.stderr)")
            #expect(early.stderr.contains("dvs merge --resolved PATH"), "\(early.stderr)")
            let wrong = try dvs("merge", "--resolved", "nope.csv", in: dir)
            #expect(wrong.status == 1, "\(wrong.stdout)")
            let marked = try dvs("merge", "--resolved", "labels.csv", in: dir)
            #expect(marked.status == 0 && marked.stdout.contains("0 conflicts still unresolved"), "\(marked.stdout)")
            #expect(try dvs("merge", "--continue", in: dir).status == 0)
            #expect(try dvs("ls", "HEAD", in: dir).stdout.contains("clips/c3.wav"), "kept, as the user said")
        }
    }
}
