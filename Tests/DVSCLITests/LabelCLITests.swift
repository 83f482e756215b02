import DVSTestSupport
import Foundation
import Testing

/// End-to-end tests of labels: validation at commit, hooks, `dvs diff` and `dvs query`, run on the
/// built binary with Debian's recorded voices, espeak-ng speech and the generated fixtures (Tests/Fixtures).
@Suite(.serialized) struct LabelCLITests {
    /// Makes a dataset of Debian recordings (16 kHz mono) with a `labels.csv` keyed by `path`.
    func makeDataset(_ dir: String, count: Int = 8) throws -> [String] {
        let recordings = T.debianRecordings(limit: count)
        #expect(recordings.count >= 6, "install alsa-utils and ktuberling-data (see README)")
        var rows = "path,speaker_id,lang,label\n"
        var paths: [String] = []
        for (i, src) in recordings.enumerated() {
            let p = String(format: "clips/r%02d.wav", i)
            try FileManager.default.createDirectory(atPath: dir + "/clips", withIntermediateDirectories: true)
            try T.sh("sox -R '\(src)' -r 16000 -c 1 -b 16 -e signed-integer '\(dir)/\(p)'")
            rows += "\(p),\(String(format: "%03d", 7 + i % 3)),\(i % 2 == 0 ? "en" : "de"),\(i % 3 == 0 ? "question" : "statement")\n"
            paths.append(p)
        }
        try T.write(Data(rows.utf8), to: dir + "/labels.csv")
        return paths
    }

    func rows(_ r: TestSupport.Result) throws -> [[String: Any]] {
        try #require(r.status == 0, "\(r.stderr)")
        return try #require(try json(r.stdout) as? [[String: Any]])
    }

    @Test func labelingPassDiffAndQueryOnRealRecordings() throws {
        try T.withTemporaryDirectory { dir in
            let paths = try makeDataset(dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: dir).status == 0)
            // Golden: "labels from 1 source(s): labels.csv (table, 8 records)".
            let c1 = try g.dvs("commit", "-m", "import", in: dir)
            #expect(c1.status == 0, "\(c1.stderr)")

            // Labels are typed as stored: undeclared columns stay strings, so 007 keeps its zeros.
            let q1 = try rows(
                dvs("query", "--json", "SELECT path, speaker_id, lang, label, sample_rate, channels FROM sample ORDER BY path", in: dir))
            #expect(q1.count == paths.count)
            #expect(q1.first?["speaker_id"] as? String == "007")
            #expect(q1.first?["sample_rate"] as? Int == 16000)
            let hours = try rows(
                dvs("query", "--json", "SELECT lang, count(*) AS n, sum(duration_s) AS s FROM sample GROUP BY lang ORDER BY lang", in: dir))
            #expect(hours.map { $0["lang"] as? String } == ["de", "en"])
            #expect(hours.reduce(0) { $0 + ($1["n"] as! Int) } == paths.count)

            // A labeling pass: relabel two rows, rename one clip, add one clip, delete one.
            var csv = try String(contentsOfFile: dir + "/labels.csv", encoding: .utf8)
            csv = csv.replacingOccurrences(of: "clips/r00.wav,007,en,question", with: "clips/r00.wav,007,en,greeting")
            csv = csv.replacingOccurrences(of: "clips/r01.wav,008,de,statement", with: "clips/r01.wav,008,fr,statement")
            csv = csv.replacingOccurrences(of: "clips/r02.wav", with: "clips/renamed.wav")
            csv = csv.replacingOccurrences(of: "clips/r03.wav,007,de,question\n", with: "")
            csv += "clips/new.wav,011,en,question\n"
            try T.write(Data(csv.utf8), to: dir + "/labels.csv")
            try T.sh("mv clips/r02.wav clips/renamed.wav && rm clips/r03.wav", in: dir)
            try T.speak("is this the new sample", to: dir + "/clips/new.wav")

            // Golden: relabeled r00 (label: question → greeting) and r01 (lang: de → fr), renamed
            // r02 → renamed.wav, added new.wav, removed r03, "label=greeting: 0 → 1 samples",
            // "file       modified: labels.csv".
            let d = try g.dvs("diff", in: dir)
            #expect(d.status == 0, "\(d.stderr)")

            let dj = try #require(try json(dvs("diff", "--json", in: dir).stdout) as? [String: Any])
            let summary = try #require(dj["summary"] as? [String: Any])
            #expect(summary["added"] as? Int == 1)
            #expect(summary["removed"] as? Int == 1)
            #expect(summary["renamed"] as? Int == 1)
            #expect(summary["relabeled"] as? Int == 2)
            #expect((summary["hours_added"] as! Double) > 0)
            let relabeled = try #require(dj["relabeled"] as? [[String: Any]])
            let r0 = try #require(relabeled.first { $0["path"] as? String == "clips/r00.wav" })
            let f0 = try #require((r0["fields"] as? [[String: Any]])?.first)
            #expect(f0["name"] as? String == "label" && f0["old"] as? String == "question" && f0["new"] as? String == "greeting")

            // Golden: --stat has "1 added" and no per-sample lines.
            #expect(try g.dvs("diff", "--stat", in: dir).status == 0)

            #expect(try g.dvs("commit", "-m", "labeling pass 2", in: dir).status == 0)
            #expect(try g.dvs("diff", in: dir).status == 0)  // golden: "no changes"
            // The same changes between the two commits.
            let d2 = try #require(try json(dvs("diff", "HEAD~1", "HEAD", "--json", in: dir).stdout) as? [String: Any])
            #expect(NSDictionary(dictionary: d2["summary"] as! [String: Any]) == NSDictionary(dictionary: summary))
            // Old labels stay queryable at the old revision.
            let old = try rows(dvs("query", "--rev", "HEAD~1", "--json", "SELECT label FROM sample WHERE path = 'clips/r00.wav'", in: dir))
            #expect(old.first?["label"] as? String == "question")
            let now = try rows(dvs("query", "--json", "SELECT label FROM sample WHERE path = 'clips/r00.wav'", in: dir))
            #expect(now.first?["label"] as? String == "greeting")
            let csvOut = try g.dvs(
                "query", "--format", "csv", "SELECT lang, count(*) AS n FROM sample GROUP BY lang ORDER BY lang", in: dir)
            #expect(csvOut.stdout.hasPrefix("lang,n\n"))

            // Writes are refused ("read-only") and change nothing; bad SQL is an "SQL error".
            let w = try g.dvs("query", "DELETE FROM sample", in: dir)
            #expect(w.status == 1)
            let bad = try g.dvs("query", "SELEC nonsense", in: dir)
            #expect(bad.status == 1)
            try g.verify()
        }
    }

    @Test func diffCountsRemovedAndTrimmedAudioApart() throws {
        // A removed clip and a clip trimmed shorter: "removed" hours are the removed clip's only;
        // the trim is the modified samples' net change.
        try T.withTemporaryDirectory { dir in
            let recs = T.debianRecordings(limit: 2)
            try #require(recs.count == 2, "install alsa-utils (see README)")
            for (i, r) in recs.enumerated() { try T.sh("sox -R '\(r)' -r 16000 -c 1 -b 16 c\(i).wav", in: dir) }
            #expect(try dvs("init", in: dir).status == 0)
            #expect(try dvs("commit", "-m", "two clips", in: dir).status == 0)
            func seconds(_ f: String) throws -> Double {
                Double(try T.sh("soxi -D \(f)", in: dir).trimmingCharacters(in: .whitespacesAndNewlines))!
            }
            let removed = try seconds("c0.wav")
            let before = try seconds("c1.wav")
            try T.sh("rm c0.wav && sox c1.wav c1t.wav trim 0 0.5 && mv c1t.wav c1.wav", in: dir)
            let after = try seconds("c1.wav")
            let dj = try #require(try json(dvs("diff", "--json", in: dir).stdout) as? [String: Any])
            let summary = try #require(dj["summary"] as? [String: Any])
            #expect(abs((summary["hours_removed"] as! Double) * 3600 - removed) < 0.01, "\(summary)")
            #expect(abs((summary["hours_modified_net"] as! Double) * 3600 - (after - before)) < 0.01, "\(summary)")
            #expect(summary["hours_added"] as? Double == 0)
            // Golden: "1 removed (−…" and "1 modified (−…".
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("diff", in: dir).status == 0)
            try g.verify()
        }
    }

    @Test func labelErrorsAbortTheCommitAndWriteNothing() throws {
        try T.withTemporaryDirectory { dir in
            _ = try makeDataset(dir, count: 6)
            #expect(try dvs("init", in: dir).status == 0)
            try T.sh("echo 'clips/missing.wav,009,en,question' >> labels.csv", in: dir)
            let before = try T.sh("find .dvs -type f | grep -v -e lock -e catalog.sqlite | sort", in: dir)
            // Golden: "labels.csv:8: error:" naming clips/missing.wav, and "nothing was committed".
            let g = Golden(replacing: [dir: "$TMP"])
            let c = try g.dvs("commit", "-m", "broken labels", in: dir)
            #expect(c.status == 1)
            #expect(try T.sh("find .dvs -type f | grep -v -e lock -e catalog.sqlite | sort", in: dir) == before)
            #expect((try json(dvs("log", "--json", in: dir).stdout) as? [Any])?.isEmpty == true, "no commit was made")
            // Fixed, it commits.
            try T.sh("sed -i '$d' labels.csv", in: dir)
            #expect(try g.dvs("commit", "-m", "fixed", in: dir).status == 0)
            try g.verify()
        }
    }

    @Test func hooksRejectShortClipsAndSilentChannelsAndRunPostCommit() throws {
        try T.withTemporaryDirectory { dir in
            _ = try makeDataset(dir, count: 6)
            #expect(try dvs("init", in: dir).status == 0)
            let hooks = dir + "/.dvs/hooks/"
            for name in ["pre-commit-audio.sample", "pre-commit-labels.sample"] {
                #expect(FileManager.default.isExecutableFile(atPath: hooks + name), "dvs init installs \(name)")
                #expect(
                    try String(contentsOfFile: hooks + name, encoding: .utf8)
                        == String(contentsOfFile: T.packageRoot + "/hooks/" + name, encoding: .utf8))
            }
            try T.sh("mv .dvs/hooks/pre-commit-audio.sample .dvs/hooks/pre-commit", in: dir)
            try T.sh(
                "printf '#!/bin/sh\\necho \"$1\" > post-commit.out\\n' > .dvs/hooks/post-commit && chmod +x .dvs/hooks/post-commit", in: dir
            )
            // A 0.3 s clip and a stereo call whose second channel is digital silence.
            try T.speak("hello there", to: dir + "/calls/long.wav")
            try T.sh("sox calls/long.wav clips/short.wav trim 0 0.3", in: dir)
            try T.sh("sox calls/long.wav calls/stereo.wav remix 1 0", in: dir)
            let before = try T.sh("find .dvs/packs .dvs/objects -type f | sort", in: dir)
            // Golden: "pre-commit hook refused the commit", "clips/short.wav: 0.30 s is shorter than
            // 0.5 s", "calls/stereo.wav: channel 1 is silent", and nothing about calls/long.wav.
            let g = Golden(replacing: [dir: "$TMP"])
            // The last commit stores post-commit.out, which holds a commit id: how well zstd
            // compresses it changes from run to run.
            g.replace(
                matching: #"stored \d+ B for (\d+) B of new content in 1 blob, \d+% of raw"#,
                with: "stored N B for $1 B of new content in 1 blob, N% of raw")
            let c = try g.dvs("commit", "-m", "with bad clips", in: dir)
            #expect(c.status == 1)
            #expect(try T.sh("find .dvs/packs .dvs/objects -type f | sort", in: dir) == before)
            #expect(!FileManager.default.fileExists(atPath: dir + "/post-commit.out"))

            // --no-verify skips the hook (and a refused commit wrote nothing to undo).
            let skipped = try g.dvs("commit", "-m", "skip the hook", "--no-verify", in: dir)
            #expect(skipped.status == 0, "\(skipped.stderr)")
            try T.sh("rm clips/short.wav calls/stereo.wav", in: dir)
            let ok = try g.dvs("commit", "-m", "clean", in: dir)
            #expect(ok.status == 0, "\(ok.stderr)")
            try g.verify()
            let head = try dvs("log", "--json", in: dir)
            let id = try #require((try json(head.stdout) as? [[String: Any]])?.first?["id"] as? String)
            #expect(try String(contentsOfFile: dir + "/post-commit.out", encoding: .utf8) == id + "\n")
        }
    }

    /// A label source that stops being read as one (a typo in its key column, a Deepgram
    /// response that no longer parses) dropped all its labels without a word, `--strict` or not:
    /// now a warning names it, `--strict` refuses the commit, and a file dvs.toml ignores is
    /// dropped quietly. A dvs.toml alone prints no "labels from 0 sources:" line.
    @Test func aLabelSourceThatStopsParsingIsNamed() throws {
        try T.withTemporaryDirectory { dir in
            _ = try makeDataset(dir, count: 6)
            try T.sh(
                "mkdir -p calls deepgram && cp '\(T.fixtures)/dataset/clips/call_0001_mono.wav' calls/ && cp '\(T.fixtures)/dataset/deepgram/call_0001_mono.json' deepgram/",
                in: dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: dir).status == 0)
            #expect(try g.dvs("commit", "-m", "import", in: dir).status == 0)
            try T.sh("sed -i '1s/^path,/paht,/' labels.csv && printf '{\"metadata\":' > deepgram/call_0001_mono.json", in: dir)
            let strict = try g.dvs("commit", "--strict", "-m", "typo", in: dir)
            #expect(strict.status == 1, "\(strict.stderr)")
            #expect(strict.stderr.contains("labels.csv: error: was a label source of commit"), "\(strict.stderr)")
            #expect(strict.stderr.contains("deepgram/call_0001_mono.json: error: was a label source of commit"), "\(strict.stderr)")
            #expect(try dvs("log", "--oneline", in: dir).stdout.split(separator: "\n").count == 1)
            let warned = try g.dvs("commit", "-m", "typo", in: dir)
            #expect(warned.status == 0, "\(warned.stderr)")
            #expect(warned.stderr.contains("labels.csv: warning: was a label source of commit"), "\(warned.stderr)")
            let left = try rows(
                dvs(
                    "query", "--json",
                    "SELECT (SELECT count(*) FROM sample WHERE transcript IS NOT NULL) AS transcripts, (SELECT count(*) FROM pragma_table_info('sample') WHERE name = 'speaker_id') AS speakers",
                    in: dir))
            #expect(left.first?["transcripts"] as? Int == 0 && left.first?["speakers"] as? Int == 0, "\(left)")
            // Ignored on purpose: no finding, and no empty "labels from" line.
            try T.sh("sed -i '1s/^paht,/path,/' labels.csv && cp '\(T.fixtures)/dataset/deepgram/call_0001_mono.json' deepgram/", in: dir)
            #expect(try g.dvs("commit", "-m", "fixed", in: dir).status == 0)
            try T.write(Data("[labels]\nignore = [\"labels.csv\", \"deepgram/*\"]\n".utf8), to: dir + "/dvs.toml")
            let ignored = try g.dvs("commit", "--strict", "-m", "labels dropped on purpose", in: dir)
            #expect(ignored.status == 0 && !ignored.stderr.contains("was a label source"), "\(ignored.stderr)")
            #expect(!ignored.stdout.contains("labels from"), "\(ignored.stdout)")
            try g.verify()
        }
    }

    /// The generated fixture dataset: every planted error stops the commit, named file:line; once
    /// they are fixed, Deepgram transcripts and words are queryable.
    @Test func fixtureDatasetErrorsThenTranscriptsAndWords() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("cp -r '\(T.fixtures)/dataset' '\(dir)/ds'")
            let ds = dir + "/ds"
            #expect(try dvs("init", in: ds).status == 0)
            let c = try dvs("commit", "-m", "fixtures", in: ds)
            #expect(c.status == 1)
            for expected in [
                "metadata.csv:8: error:", "manifest.jsonl:5: error:", "manifest.jsonl:6: error:", "manifest.jsonl:10: error:",
                "validated.tsv:7: error:", "validated.tsv:9: error:", "expected 13 fields, found 14",
                "differs only in Unicode normalization", "labelstudio/export.json:285: error:",
            ] {
                #expect(c.stderr.contains(expected), "missing '\(expected)' in:\n\(c.stderr)")
            }
            #expect(c.stderr.contains("metadata.csv:9: warning:"), "duplicate row is a warning")
            // Fix the planted errors the way a user would: drop the bad rows.
            try T.sh(
                """
                sed -i '8d' metadata.csv && sed -i '5d;6d;9d;10d' manifest.jsonl && sed -i '7d;9d;10d;11d' validated.tsv &&
                python3 -c "import json; p='labelstudio/export.json'; t=json.load(open(p)); json.dump([x for x in t if x['id'] != 204], open(p, 'w'), indent=2)"
                """, in: ds)
            let ok = try dvs("commit", "-m", "fixtures, fixed", in: ds)
            #expect(ok.status == 0, "\(ok.stderr)")
            #expect(ok.stderr.contains("warning:"))
            let t = try rows(
                dvs(
                    "query", "--json",
                    "SELECT path, transcript, language, word_count, speaker_count, channels FROM sample WHERE transcript IS NOT NULL ORDER BY path",
                    in: ds))
            #expect(
                t.map { $0["path"] as? String } == [
                    "clips/call_0001_mono.wav", "clips/call_0002_stereo.wav", "clips/call_0003_silence.wav",
                ])
            #expect(t[0]["speaker_count"] as? Int == 2)
            #expect(t[2]["transcript"] as? String == "")
            #expect(t[2]["word_count"] as? Int == 0)
            let w = try rows(
                dvs(
                    "query", "--json",
                    "SELECT path, channel, count(*) AS n, min(start) AS first FROM word GROUP BY path, channel ORDER BY path, channel",
                    in: ds))
            #expect(w.count == 3)  // mono call: 1 channel; stereo call: 2; silence: no words
            #expect(w[0]["n"] as? Int == t[0]["word_count"] as? Int)
            #expect(abs((w[2]["first"] as? Double ?? 0) - 2.0) < 0.01, "the customer channel starts at 2.00 s")
            // CSV output keeps a transcript's line break (RFC 4180 quoting), unlike the table view.
            let csv = try dvs("query", "--format", "csv", "SELECT text FROM sample WHERE path = 'clips/ben_0001.wav'", in: ds)
            #expect(csv.stdout == "text\n\"first line\nsecond line\"\n", "\(csv.stdout)")
            // ATTACH would create a file, PRAGMA would change the connection: both refused.
            for sql in ["ATTACH DATABASE '\(dir)/evil.db' AS e", " /* x */ pragma writable_schema = 1"] {
                let r = try dvs("query", sql, in: ds)
                #expect(r.status == 1 && r.stderr.contains("read-only"), "\(sql): \(r.stderr)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/evil.db"))
            // The schema-reading pragmas are allowed (they only read).
            let columns = try rows(dvs("query", "--json", "PRAGMA table_info(sample)", in: ds))
            #expect(
                columns.contains { $0["name"] as? String == "path" } && columns.contains { $0["name"] as? String == "speaker_id" },
                "\(columns)")
            let setter = try dvs("query", "PRAGMA table_info = 1", in: ds)
            #expect(setter.status == 1 && setter.stderr.contains("read-only"))
            let silent = try rows(dvs("query", "--json", "SELECT path FROM sample WHERE silent_channels > 0", in: ds))
            #expect(silent.map { $0["path"] as? String } == ["clips/call_0003_silence.wav"])
            let chloe = try rows(
                dvs("query", "--json", "SELECT speaker_id, transcription FROM sample WHERE path LIKE 'clips/chlo%'", in: ds))
            #expect(chloe.first?["speaker_id"] as? String == "046")
        }
    }
}

/// A label column read from CSV without a declared type holds text, and SQLite orders all text
/// after all numbers: `score >= 0.5` matched every sample without a word. A query still runs as
/// SQL says, with a warning that names the column and the fix; a new cohort is refused; a
/// refresh of a cohort whose column lost its type warns.
@Suite struct TextComparedWithNumberCLITests {
    static func problem(_ text: String, column: String = "score") -> String {
        "column '\(column)' holds only text, so \(text) compares text with a number, which SQLite orders after every number and never finds equal to one: it is true for every sample or for none. Write CAST(\(column) AS REAL), or give the field a type in dvs.toml (under its file's [[labels.table]]: [labels.table.types] \(column) = \"float\")"
    }

    @Test func aTextColumnComparedWithANumberIsWarnedAboutAndRefusedForACohort() throws {
        try T.withTemporaryDirectory { dir in
            try T.speak("a low score", to: dir + "/a.wav")
            try T.speak("a high score", to: dir + "/b.wav")
            try T.write(Data("path,score,label\na.wav,0.3,x > 3\nb.wav,0.9,y\n".utf8), to: dir + "/labels.csv")
            #expect(try dvs("init", in: dir).status == 0)
            #expect(try dvs("commit", "-m", "scores", in: dir).status == 0)
            let q = try dvs("query", "SELECT path FROM sample WHERE score >= 0.5 ORDER BY path", "--format", "csv", in: dir)
            #expect(q.status == 0)
            #expect(q.stdout == "path\na.wav\nb.wav\n")
            #expect(q.stderr == "warning: " + Self.problem("score >= 0.5") + "\n")
            // The column as the table names it, whatever case the statement wrote it in.
            let upper = try dvs("query", "SELECT count(*) FROM sample WHERE SCORE = 0.9", "--format", "csv", in: dir)
            #expect(upper.stdout == "count(*)\n0\n")
            #expect(upper.stderr == "warning: " + Self.problem("SCORE = 0.9") + "\n")
            // CAST, a '>' inside a string literal, a comment, a numeric column: no warning, right rows.
            let cast = try dvs(
                "query",
                "SELECT path FROM sample WHERE (CAST(score AS REAL) >= 0.5 OR label = 'x > 3') AND duration_s > 0 -- score > 1\nORDER BY path",
                "--format", "csv", in: dir)
            #expect(cast.stdout == "path\na.wav\nb.wav\n" && cast.stderr == "")
            // A new cohort is refused, and nothing is made.
            let c = try dvs("cohort", "create", "high", "--where", "score >= 0.5", in: dir)
            #expect(c.status == 1)
            #expect(c.stderr.contains("cohort predicate \"score >= 0.5\": " + Self.problem("score >= 0.5") + "; no cohort was made"))
            #expect(try dvs("branch", in: dir).stdout.contains("cohort/high") == false)
            let ok = try dvs("cohort", "create", "high", "--where", "CAST(score AS REAL) >= 0.5", in: dir)
            #expect(ok.status == 0 && ok.stderr == "")
            // A declared type makes the column numeric: the comparison is of values, unwarned.
            try T.write(
                Data("[[labels.table]]\npath = \"labels.csv\"\n[labels.table.types]\nscore = \"float\"\n".utf8), to: dir + "/dvs.toml")
            #expect(try dvs("commit", "-m", "typed", in: dir).status == 0)
            let typed = try dvs("query", "SELECT path FROM sample WHERE score >= 0.5", "--format", "csv", in: dir)
            #expect(typed.stdout == "path\nb.wav\n" && typed.stderr == "")
            #expect(try dvs("cohort", "create", "typed", "--where", "score > 0.5", in: dir).status == 0)
            // The type dropped again: refreshing that cohort warns (its predicate is recorded).
            try FileManager.default.removeItem(atPath: dir + "/dvs.toml")
            #expect(try dvs("commit", "-m", "untyped", in: dir).status == 0)
            let refresh = try dvs("cohort", "refresh", "typed", in: dir)
            #expect(refresh.stderr.contains("warning: cohort predicate \"score > 0.5\": " + Self.problem("score > 0.5")))
        }
    }
}
