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
            #expect(try dvs("init", in: dir).status == 0)
            #expect(try dvs("commit", "-m", "one", in: dir).status == 0)

            let created = try dvs("branch", "cohort/es", in: dir)
            #expect(created.status == 0 && created.stdout.hasPrefix("Created branch cohort/es at "), "\(created.stderr)")
            #expect(try dvs("branch", "cohort/es", in: dir).status == 1, "already exists")
            let bad = try dvs("branch", "bad..name", in: dir)
            #expect(bad.status == 1 && bad.stderr.contains("not a valid branch name"))

            // Switch, commit on the branch, switch back: the working tree follows.
            let co = try dvs("checkout", "cohort/es", in: dir)
            #expect(co.status == 0, "\(co.stderr)")
            try T.sh("sox -R '\(recordings[1])' -r 16000 -c 1 -b 16 clips/b.wav", in: dir)
            #expect(try dvs("commit", "-m", "two on cohort", in: dir).status == 0)
            let list = try dvs("branch", in: dir).stdout
            #expect(list.contains("* cohort/es") && list.contains("  main"), "\(list)")
            #expect(list.contains("2 samples") && list.contains("1 samples"))
            let branches = try #require(try json(dvs("branch", "--json", in: dir).stdout) as? [[String: Any]])
            #expect(branches.map { $0["name"] as? String } == ["cohort/es", "main"])
            #expect(branches.first?["current"] as? Bool == true && branches.first?["samples"] as? Int == 2)
            #expect(try dvs("checkout", "main", in: dir).status == 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/clips/b.wav"))

            // An unmerged branch is kept unless -D; the current branch cannot go.
            let refused = try dvs("branch", "-d", "cohort/es", in: dir)
            #expect(refused.status == 1 && refused.stderr.contains("is not merged"), "\(refused.stderr)")
            #expect(try dvs("branch", "-d", "main", in: dir).stderr.contains("HEAD is on it"))

            // Tags name a commit with a message.
            #expect(try dvs("tag", "shipped-v1", "cohort/es", "-m", "model v1 trained here", in: dir).status == 0)
            let tags = try dvs("tag", in: dir).stdout
            #expect(tags.contains("shipped-v1") && tags.contains("model v1 trained here"))
            #expect(try dvs("log", "-n", "1", "shipped-v1", in: dir).stdout.contains("two on cohort"))

            let gone = try dvs("branch", "-D", "cohort/es", in: dir)
            #expect(gone.status == 0 && gone.stdout.hasPrefix("Deleted branch cohort/es"))
            // The reflog keeps every move of HEAD, newest first.
            let reflog = try dvs("reflog", in: dir).stdout.split(separator: "\n")
            #expect(reflog.count >= 4)
            #expect(reflog.first?.contains("HEAD@{0}") == true)
            // -n joined to its number, as git users write it.
            #expect(try dvs("reflog", "-n2", in: dir).stdout.split(separator: "\n") == Array(reflog.prefix(2)))
            let branchLog = try #require(try json(dvs("reflog", "cohort/es", "--json", in: dir).stdout) as? [[String: Any]])
            #expect(branchLog.first?["message"] as? String == "branch: deleted")
        }
    }
}
