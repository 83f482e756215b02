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

            #expect(try dvs("remote", "add", "origin", dir + "/remote.dvs", in: dir).status == 0)
            #expect(try dvs("push", in: dir).status == 0)
            let m = try dvs("merge", "review", in: dir)
            #expect(m.status == 1)
            #expect(
                m.stdout.contains("CONFLICT (field) labels.csv: row clips/c1.wav field lang: base es, ours gl, theirs pt"), "\(m.stdout)")
            let st = try dvs("status", in: dir)
            #expect(st.stdout.contains("You are merging review") && st.stdout.contains("unresolved: labels.csv"), "\(st.stdout)")
            let sj = try #require(try json(dvs("status", "--json", in: dir).stdout) as? [String: Any])
            #expect((sj["conflicts"] as? [[String: Any]])?.first?["field"] as? String == "lang")
            let early = try dvs("merge", "--continue", in: dir)
            #expect(early.status == 1 && early.stderr.contains("not resolved"), "\(early.stderr)")
            // Switching away would drop the stopped merge: refused, even with --force, tree untouched.
            let labelsBefore = try T.read(dir + "/labels.csv")
            for args in [["checkout", "review"], ["checkout", "HEAD", "--force"]] {
                let away = try T.dvs(args, in: dir)
                #expect(
                    away.status == 1 && away.stderr.contains("a merge of 'review' is in progress")
                        && away.stderr.contains("dvs merge --abort"), "\(away.stderr)")
            }
            let pull = try dvs("pull", in: dir)
            #expect(pull.status == 1 && pull.stderr.contains("cannot pull: a merge of 'review' is in progress"), "\(pull.stderr)")
            #expect(try T.read(dir + "/labels.csv") == labelsBefore)
            #expect(try dvs("status", in: dir).stdout.contains("You are merging review"))
            try T.sh("sed -i 's|<<<<<<< ours: gl.*>>>>>>>|pt|' labels.csv", in: dir)
            let done = try dvs("merge", "--continue", in: dir)
            #expect(done.status == 0, "\(done.stderr)")
            let q = try dvs(
                "query", "--format", "csv",
                "SELECT path, lang, quality FROM sample WHERE path IN ('clips/c0.wav', 'clips/c1.wav') ORDER BY path", in: dir
            ).stdout
            #expect(q.contains("clips/c0.wav,fr,noisy") && q.contains("clips/c1.wav,pt,ok"), "\(q)")

            let graph = try dvs("log", "--graph", in: dir).stdout
            let lines = graph.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("*  ") == true && lines.first?.contains("Merge review into main") == true, "\(graph)")
            #expect(lines.contains { $0.hasPrefix("| *  ") && $0.contains("review pass") }, "\(graph)")
            #expect(lines.last?.contains("base") == true)
            let range = try dvs("log", "--oneline", "main..review", in: dir).stdout
            #expect(range.isEmpty, "review is merged into main: \(range)")
            let range2 = try dvs("log", "--oneline", "review..main", in: dir).stdout.split(separator: "\n")
            #expect(
                range2.count == 2 && range2.contains { $0.contains("main pass") } && !range2.contains { $0.contains("review pass") },
                "\(range2)")
            let merge = try #require(try json(dvs("log", "--json", "-n1", in: dir).stdout) as? [[String: Any]])
            #expect(merge.count == 1, "-n1 as git writes it")
            #expect((merge.first?["parents"] as? [String])?.count == 2)

            // 'dvs checkout HEAD --force' (the hint for discarding changes) stays on the branch.
            try T.sh("echo scratch >> labels.csv", in: dir)
            let reset = try dvs("checkout", "HEAD", "--force", in: dir)
            #expect(reset.status == 0 && reset.stdout.contains("Switched to branch 'main'"), "\(reset.stdout)\(reset.stderr)")
            #expect(try dvs("status", in: dir).stdout.hasPrefix("On branch main"))
            // Leaving a commit made on a detached HEAD warns, naming it.
            #expect(try dvs("checkout", "HEAD~1", in: dir).status == 0)
            try T.sh("sed -i 's|^clips/c2.wav,en,ok|clips/c2.wav,en,loud|' labels.csv", in: dir)
            #expect(try dvs("commit", "-m", "detached pass", in: dir).status == 0)
            let back = try dvs("checkout", "main", in: dir)
            #expect(
                back.status == 0 && back.stderr.contains("no branch or tag holds it") && back.stderr.contains("dvs branch NAME"),
                "\(back.stderr)")
        }
    }

    @Test func cohortLifecycle() throws {
        try T.withTemporaryDirectory { dir in
            try dataset(dir)
            let none = try dvs("cohort", "create", "xx", "--where", "lang = 'xx'", in: dir)
            #expect(none.status == 1 && none.stderr.contains("matches no sample"), "\(none.stderr)")
            let bad = try dvs("cohort", "create", "bad", "--where", "lang = ", in: dir)
            #expect(bad.status == 1 && bad.stderr.contains("SQL error"))
            let injected = try dvs("cohort", "create", "inj", "--where", "1) OR (1", in: dir)
            #expect(injected.status == 1 && injected.stderr.contains("not one SQL condition"), "\(injected.stderr)")
            let parenthesized = try dvs("cohort", "create", "p", "--where", "(lang = 'es') AND ('a)' != 'b(')", in: dir)
            #expect(parenthesized.status == 0, "\(parenthesized.stderr)")
            #expect(try dvs("branch", "-D", "cohort/p", in: dir).status == 0)
            let made = try dvs("cohort", "create", "es", "--where", "lang = 'es' AND sample_rate = 16000", in: dir)
            #expect(made.status == 0 && made.stdout.contains("2 samples"), "\(made.stdout)\(made.stderr)")
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
            let show = try dvs("cohort", "show", "es", in: dir).stdout
            #expect(show.contains("1 new commit(s) on main"), "\(show)")
            let refresh = try dvs("cohort", "refresh", "es", in: dir)
            #expect(refresh.status == 0 && refresh.stdout.contains("Merged"), "\(refresh.stdout)\(refresh.stderr)")
            let cohortRows = try dvs(
                "query", "--rev", "cohort/es", "--format", "csv", "SELECT path, quality FROM sample ORDER BY path", in: dir
            ).stdout
            #expect(cohortRows == "path,quality\nclips/c1.wav,great\nclips/c3.wav,ok\nclips/new.wav,ok\n", "\(cohortRows)")
            // Merge back: main keeps every sample and takes the review.
            let back = try dvs("merge", "cohort/es", in: dir)
            #expect(back.status == 0 && back.stdout.contains("Merged cohort/es"), "\(back.stdout)\(back.stderr)")
            let mainRows = try dvs("query", "--format", "csv", "SELECT count(*) AS n, sum(quality = 'great') AS great FROM sample", in: dir)
                .stdout
            #expect(mainRows == "n,great\n5,1\n", "\(mainRows)")
            #expect(FileManager.default.fileExists(atPath: dir + "/clips/c0.wav"))
            // The graph draws the new cut's edge back to main's lane one lane per line, past the
            // cohort's own lane (as git draws it), not into the cohort's lane.
            let graph = try dvs("log", "--graph", "--oneline", in: dir).stdout.split(separator: "\n").map(String.init)
            let cut = try #require(graph.firstIndex { $0.hasPrefix("| | *  ") && $0.contains("Cohort es:") }, "\(graph)")
            #expect(
                Array(graph[(cut + 1)...].prefix(3)).map { String($0.prefix(4)) } == ["| |/", "|/|", "* | "],
                "\(graph.joined(separator: "\n"))")
            // 'cohort show' names the cut the refresh made (the refresh merge's second parent).
            let info = try #require(try json(dvs("cohort", "show", "es", "--json", in: dir).stdout) as? [String: Any])
            let tip = try #require(try json(dvs("log", "--json", "-n1", "cohort/es", in: dir).stdout) as? [[String: Any]])
            #expect((tip.first?["parents"] as? [String])?.last == info["cut"] as? String, "\(info) \(tip)")
            // Main moved only by merging the cohort back: a refresh changes no file and says so.
            let again = try dvs("cohort", "refresh", "es", in: dir)
            #expect(
                again.status == 0 && again.stdout.contains("already had everything its predicate selects")
                    && again.stdout.contains("no file changed"), "\(again.stdout)")
            #expect(try dvs("cohort", "show", "es", in: dir).stdout.contains("no new commits on main"))
        }
    }
}
