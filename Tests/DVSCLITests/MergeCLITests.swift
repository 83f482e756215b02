import DVSTestSupport
import Foundation
import Testing

/// `dvs merge`, `dvs cohort`, `dvs log --graph` and `A..B`, end to end through the built binary,
/// on Debian's recordings and espeak-ng speech.
@Suite(.serialized) struct MergeCLITests {
    /// Four recordings and labels.csv (path,lang,quality), committed on main.
    func dataset(_ dir: String) throws {
        let recs = T.debianRecordings(limit: 4)
        try #require(recs.count >= 4, "install alsa-utils and ktuberling-data (see README)")
        var csv = "path,lang,quality\n"
        for (i, r) in recs.enumerated() {
            try T.sh("mkdir -p clips && sox -R '\(r)' -r 16000 -c 1 -b 16 clips/c\(i).wav", in: dir)
            csv += "clips/c\(i).wav,\(i % 2 == 0 ? "en" : "es"),ok\n"
        }
        try T.write(Data(csv.utf8), to: dir + "/labels.csv")
        #expect(try dvs("init", in: dir).status == 0)
        #expect(try dvs("commit", "-m", "base", in: dir).status == 0)
    }

    @Test func conflictStatusContinueAndGraph() throws {
        try T.withTemporaryDirectory { dir in
            try dataset(dir)
            #expect(try dvs("branch", "review", in: dir).status == 0)
            #expect(try dvs("checkout", "review", in: dir).status == 0)
            try T.sh("sed -i 's|^clips/c0.wav,en,ok|clips/c0.wav,en,noisy|; s|^clips/c1.wav,es|clips/c1.wav,pt|' labels.csv", in: dir)
            #expect(try dvs("commit", "-m", "review pass", in: dir).status == 0)
            #expect(try dvs("checkout", "main", in: dir).status == 0)
            try T.sh("sed -i 's|^clips/c0.wav,en|clips/c0.wav,fr|; s|^clips/c1.wav,es|clips/c1.wav,gl|' labels.csv", in: dir)
            #expect(try dvs("commit", "-m", "main pass", in: dir).status == 0)

            // The remote lives outside the working tree (inside it, its files would be listed by
            // status and committed by the merge, in an order that changes with the ids).
            let remoteDir = try T.sh("mktemp -d /tmp/dvs-remote-XXXXXX").trimmingCharacters(in: .whitespacesAndNewlines)
            defer { try? FileManager.default.removeItem(atPath: remoteDir) }
            #expect(try dvs("remote", "add", "origin", remoteDir + "/remote.dvs", in: dir).status == 0)
            #expect(try dvs("push", in: dir).status == 0)
            // Every command's whole output (hints included) is in the golden file.
            let g = Golden(replacing: [dir: "$TMP", remoteDir: "$REMOTE"])
            // Golden: "CONFLICT (field) labels.csv: row clips/c1.wav field lang: base es, ours gl, theirs pt".
            let m = try g.dvs("merge", "review", in: dir)
            #expect(m.status == 1)
            // Golden: "You are merging review", "unresolved: labels.csv".
            #expect(try g.dvs("status", in: dir).status == 0)
            let sj = try #require(try json(dvs("status", "--json", in: dir).stdout) as? [String: Any])
            #expect((sj["conflicts"] as? [[String: Any]])?.first?["field"] as? String == "lang")
            let early = try g.dvs("merge", "--continue", in: dir)
            #expect(early.status == 1, "\(early.stderr)")  // golden: "not resolved"
            // Switching away would drop the stopped merge: refused, even with --force, tree untouched
            // (golden: "a merge of 'review' is in progress", "dvs merge --abort").
            let labelsBefore = try T.read(dir + "/labels.csv")
            for args in [["checkout", "review"], ["checkout", "HEAD", "--force"]] {
                let away = try g.run(args, in: dir)
                #expect(away.status == 1, "\(away.stderr)")
            }
            // Golden: "cannot pull: a merge of 'review' is in progress".
            let pull = try g.dvs("pull", in: dir)
            #expect(pull.status == 1, "\(pull.stderr)")
            #expect(try T.read(dir + "/labels.csv") == labelsBefore)
            #expect(try g.dvs("status", in: dir).status == 0)  // golden: still "You are merging review"
            try T.sh("sed -i 's|<<<<<<< ours: gl.*>>>>>>>|pt|' labels.csv", in: dir)
            let done = try g.dvs("merge", "--continue", in: dir)
            #expect(done.status == 0, "\(done.stderr)")
            // Golden: "clips/c0.wav,fr,noisy" and "clips/c1.wav,pt,ok".
            let q = try g.dvs(
                "query", "--format", "csv",
                "SELECT path, lang, quality FROM sample WHERE path IN ('clips/c0.wav', 'clips/c1.wav') ORDER BY path", in: dir)
            #expect(q.status == 0)

            // Golden: the merge on top ("*  " … "Merge review into main"), "| *  " … "review pass" in
            // the second lane, "base" last.
            #expect(try g.dvs("log", "--graph", in: dir).status == 0)
            let range = try g.dvs("log", "--oneline", "main..review", in: dir).stdout
            #expect(range.isEmpty, "review is merged into main: \(range)")
            // Golden: two lines, "main pass" and not "review pass".
            let range2 = try g.dvs("log", "--oneline", "review..main", in: dir).stdout.split(separator: "\n")
            #expect(range2.count == 2, "\(range2)")
            let merge = try #require(try json(dvs("log", "--json", "-n1", in: dir).stdout) as? [[String: Any]])
            #expect(merge.count == 1, "-n1 as git writes it")
            #expect((merge.first?["parents"] as? [String])?.count == 2)

            // 'dvs checkout HEAD --force' (the hint for discarding changes) stays on the branch.
            try T.sh("echo scratch >> labels.csv", in: dir)
            // Golden: "Switched to branch 'main'", then status "On branch main".
            let reset = try g.dvs("checkout", "HEAD", "--force", in: dir)
            #expect(reset.status == 0, "\(reset.stdout)\(reset.stderr)")
            #expect(try g.dvs("status", in: dir).stdout.hasPrefix("On branch main"))
            // Leaving a commit made on a detached HEAD warns, naming it (golden: "no branch or tag
            // holds it", "dvs branch NAME").
            #expect(try g.dvs("checkout", "HEAD~1", in: dir).status == 0)
            try T.sh("sed -i 's|^clips/c2.wav,en,ok|clips/c2.wav,en,loud|' labels.csv", in: dir)
            #expect(try g.dvs("commit", "-m", "detached pass", in: dir).status == 0)
            let back = try g.dvs("checkout", "main", in: dir)
            #expect(back.status == 0, "\(back.stderr)")
            try g.verify()
        }
    }

    @Test func cohortLifecycle() throws {
        try T.withTemporaryDirectory { dir in
            try dataset(dir)
            // Every command's whole output (hints included) is in the golden file.
            let g = Golden(replacing: [dir: "$TMP"])
            let none = try g.dvs("cohort", "create", "xx", "--where", "lang = 'xx'", in: dir)
            #expect(none.status == 1, "\(none.stderr)")  // golden: "matches no sample"
            let bad = try g.dvs("cohort", "create", "bad", "--where", "lang = ", in: dir)
            #expect(bad.status == 1)  // golden: "SQL error"
            let injected = try g.dvs("cohort", "create", "inj", "--where", "1) OR (1", in: dir)
            #expect(injected.status == 1, "\(injected.stderr)")  // golden: "not one SQL condition"
            // Named by its branch (cohort/p), as `dvs branch` lists it: the same cohort p.
            let parenthesized = try g.dvs("cohort", "create", "cohort/p", "--where", "(lang = 'es') AND ('a)' != 'b(')", in: dir)
            #expect(parenthesized.status == 0, "\(parenthesized.stderr)")
            #expect(try g.dvs("branch", "-D", "cohort/p", in: dir).status == 0)
            let made = try g.dvs("cohort", "create", "es", "--where", "lang = 'es' AND sample_rate = 16000", in: dir)
            #expect(made.status == 0, "\(made.stdout)\(made.stderr)")  // golden: "2 samples"
            let list = try #require(try json(dvs("cohort", "list", "--json", in: dir).stdout) as? [[String: Any]])
            #expect(
                list.count == 1 && list[0]["predicate"] as? String == "lang = 'es' AND sample_rate = 16000"
                    && list[0]["samples"] as? Int == 2)
            #expect(list[0]["source"] as? String == "main" && list[0]["source_moved_on"] as? Int == 0)
            // Relabel on the cohort; new es data lands on main.
            #expect(try dvs("checkout", "cohort/es", in: dir).status == 0)
            #expect(!FileManager.default.fileExists(atPath: dir + "/clips/c0.wav"), "the cohort holds only its samples")
            try T.sh("sed -i 's|^clips/c1.wav,es,ok|clips/c1.wav,es,great|' labels.csv", in: dir)
            #expect(try dvs("commit", "-m", "cohort review", in: dir).status == 0)
            #expect(try dvs("checkout", "main", in: dir).status == 0)
            try T.speak("hola, esto es una prueba", to: dir + "/clips/new.wav", voice: "es")
            try T.sh("echo 'clips/new.wav,es,ok' >> labels.csv", in: dir)
            #expect(try dvs("commit", "-m", "new spanish clip", in: dir).status == 0)
            #expect(try g.dvs("cohort", "show", "es", in: dir).status == 0)  // golden: "1 new commit(s) on main"
            let refresh = try g.dvs("cohort", "refresh", "es", in: dir)
            #expect(refresh.status == 0, "\(refresh.stdout)\(refresh.stderr)")  // golden: "Merged"
            let cohortRows = try g.dvs(
                "query", "--rev", "cohort/es", "--format", "csv", "SELECT path, quality FROM sample ORDER BY path", in: dir
            ).stdout
            #expect(cohortRows == "path,quality\nclips/c1.wav,great\nclips/c3.wav,ok\nclips/new.wav,ok\n", "\(cohortRows)")
            // Merge back: main keeps every sample and takes the review.
            let back = try g.dvs("merge", "cohort/es", in: dir)
            #expect(back.status == 0, "\(back.stdout)\(back.stderr)")  // golden: "Merged cohort/es"
            let mainRows = try g.dvs(
                "query", "--format", "csv", "SELECT count(*) AS n, sum(quality = 'great') AS great FROM sample", in: dir
            )
            .stdout
            #expect(mainRows == "n,great\n5,1\n", "\(mainRows)")
            #expect(FileManager.default.fileExists(atPath: dir + "/clips/c0.wav"))
            // The graph draws the new cut's edge back to main's lane one lane per line, past the
            // cohort's own lane (as git draws it), not into the cohort's lane: golden has the line
            // "| | *  … Cohort es: …" followed by lines starting "| |/", "|/|", "* | ".
            #expect(try g.dvs("log", "--graph", "--oneline", in: dir).status == 0)
            // 'cohort show' names the cut the refresh made (the refresh merge's second parent).
            let info = try #require(try json(dvs("cohort", "show", "es", "--json", in: dir).stdout) as? [String: Any])
            let tip = try #require(try json(dvs("log", "--json", "-n1", "cohort/es", in: dir).stdout) as? [[String: Any]])
            #expect((tip.first?["parents"] as? [String])?.last == info["cut"] as? String, "\(info) \(tip)")
            // Main moved only by merging the cohort back: a refresh changes no file and says so.
            // Golden: "already had everything its predicate selects", "no file changed", then
            // "no new commits on main".
            let again = try g.dvs("cohort", "refresh", "es", in: dir)
            #expect(again.status == 0, "\(again.stdout)")
            #expect(try g.dvs("cohort", "show", "cohort/es", in: dir).status == 0)
            try g.verify()
        }
    }
}
