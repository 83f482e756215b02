import DVSTestSupport
import Foundation
import Testing

/// `dvs branch`, `dvs tag`, `dvs reflog` and switching branches with `dvs checkout`.
@Suite(.serialized) struct BranchCLITests {
    @Test func branchTagReflogAndSwitching() throws {
        try T.withTemporaryDirectory { dir in
            let recordings = T.debianRecordings(limit: 3)
            try #require(recordings.count >= 2, "install alsa-utils (see README)")
            try T.sh("mkdir -p clips && sox -R '\(recordings[0])' -r 16000 -c 1 -b 16 clips/a.wav", in: dir)
            // Every command's whole output (hints included) is in the golden file.
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: dir).status == 0)
            #expect(try g.dvs("commit", "-m", "one", in: dir).status == 0)

            let created = try g.dvs("branch", "cohort/es", in: dir)
            #expect(created.status == 0 && created.stdout.hasPrefix("Created branch cohort/es at "), "\(created.stderr)")
            #expect(try g.dvs("branch", "cohort/es", in: dir).status == 1, "already exists")
            let bad = try g.dvs("branch", "bad..name", in: dir)
            #expect(bad.status == 1)

            // Switch, commit on the branch, switch back: the working tree follows.
            let co = try g.dvs("checkout", "cohort/es", in: dir)
            #expect(co.status == 0, "\(co.stderr)")
            try T.sh("sox -R '\(recordings[1])' -r 16000 -c 1 -b 16 clips/b.wav", in: dir)
            #expect(try g.dvs("commit", "-m", "two on cohort", in: dir).status == 0)
            // Golden: "* cohort/es" (2 samples) and "  main" (1 samples).
            #expect(try g.dvs("branch", in: dir).status == 0)
            let branches = try #require(try json(dvs("branch", "--json", in: dir).stdout) as? [[String: Any]])
            #expect(branches.map { $0["name"] as? String } == ["cohort/es", "main"])
            #expect(branches.first?["current"] as? Bool == true && branches.first?["samples"] as? Int == 2)
            #expect(try g.dvs("checkout", "main", in: dir).status == 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/clips/b.wav"))

            // An unmerged branch is kept unless -D ("is not merged"); the current branch cannot go ("HEAD is on it").
            let refused = try g.dvs("branch", "-d", "cohort/es", in: dir)
            #expect(refused.status == 1, "\(refused.stderr)")
            #expect(try g.dvs("branch", "-d", "main", in: dir).status == 1)

            // Tags name a commit with a message; `log shipped-v1` shows "two on cohort".
            #expect(try g.dvs("tag", "shipped-v1", "cohort/es", "-m", "model v1 trained here", in: dir).status == 0)
            #expect(try g.dvs("tag", in: dir).status == 0)
            #expect(try g.dvs("log", "-n", "1", "shipped-v1", in: dir).status == 0)

            let gone = try g.dvs("branch", "-D", "cohort/es", in: dir)
            #expect(gone.status == 0 && gone.stdout.hasPrefix("Deleted branch cohort/es"))
            // Several at once, as git: each that can go goes; one that cannot is named, exit 1.
            #expect(try dvs("branch", "tmp/a", in: dir).status == 0)
            #expect(try dvs("branch", "tmp/b", in: dir).status == 0)
            let several = try g.dvs("branch", "-d", "tmp/a", "no-such", "tmp/b", in: dir)
            #expect(several.status == 1 && several.stdout.hasPrefix("Deleted branch tmp/a"))
            #expect(several.stdout.contains("Deleted branch tmp/b"))
            #expect(several.stderr.hasPrefix("error: branch 'no-such' does not exist"), "\(several.stderr)")
            #expect(try dvs("branch", "--json", in: dir).stdout.contains("tmp/") == false)
            // For the Python package: one kind line, the exit's (there was one per failed branch).
            let kinds = try dvs("branch", "-d", "no-such", "nor-this", in: dir, env: ["DVS_ERROR_KIND": "1"])
            #expect(kinds.status == 1 && kinds.stderr.components(separatedBy: "\nkind: ").count == 2, "\(kinds.stderr)")
            #expect(kinds.stderr.hasSuffix("\nkind: unknownRevision\n"), "the failures' own kind: \(kinds.stderr)")
            #expect(try g.dvs("branch", "x", "HEAD", "extra", in: dir).status == 64)
            // The reflog keeps every move of HEAD, newest first (golden: HEAD@{0} first).
            let reflog = try g.dvs("reflog", in: dir).stdout.split(separator: "\n")
            #expect(reflog.count >= 4)
            // -n joined to its number, as git users write it.
            #expect(try dvs("reflog", "-n2", in: dir).stdout.split(separator: "\n") == Array(reflog.prefix(2)))
            try g.verify()
            let branchLog = try #require(try json(dvs("reflog", "cohort/es", "--json", in: dir).stdout) as? [[String: Any]])
            #expect(branchLog.first?["message"] as? String == "branch: deleted")
        }
    }
}
