import DVSCore
import DVSLabels
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// The merge case table of the cohorts issue, on real recordings, through the library API.
@Suite(.serialized) struct MergeTests {
    typealias T = TestSupport

    /// A repository with four Debian recordings under clips/ and labels.csv (path,lang,speaker,quality), committed on main.
    func withDataset(_ body: (Repository, String) throws -> Void) throws {
        try T.withTemporaryRepository { repo in
            let recs = T.debianRecordings(limit: 4).filter { $0.hasSuffix(".wav") }
            try #require(recs.count >= 4, "alsa-utils recordings are installed")
            var csv = "path,lang,speaker,quality\n"
            for (i, r) in recs.prefix(4).enumerated() {
                try FileManager.default.createDirectory(atPath: repo.root + "/clips", withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: r, toPath: repo.root + "/clips/c\(i).wav")
                csv += "clips/c\(i).wav,\(i % 2 == 0 ? "en" : "es"),spk\(i),ok\n"
            }
            try write(csv, repo.root + "/labels.csv")
            _ = try repo.commit(CommitOptions(message: "base"))
            try body(repo, repo.root)
        }
    }

    func commitAll(_ repo: Repository, _ m: String) throws { _ = try repo.commit(CommitOptions(message: m)) }
    func sed(_ expr: String, _ file: String) throws { try T.sh("sed -i '\(expr)' '\(file)'") }
    func labels(_ repo: Repository) throws -> String { try String(contentsOfFile: repo.root + "/labels.csv", encoding: .utf8) }
    func label(_ repo: Repository, _ path: String, _ field: String, rev: Revision = "HEAD") throws -> LabelValue? {
        try repo.entries(at: rev).first { $0.path.string == path }?.annotations?[label: field]
    }

    /// Runs `ours` on main and `theirs` on branch side (both from the base), then merges side into main.
    func diverge(_ repo: Repository, theirs: () throws -> Void, ours: () throws -> Void, prefer: MergePreference? = nil) throws
        -> MergeSummary
    {
        try repo.createBranch("side")
        _ = try repo.checkout("side")
        try theirs()
        try commitAll(repo, "theirs")
        _ = try repo.checkout("main")
        try ours()
        try commitAll(repo, "ours")
        return try repo.merge("side", prefer: prefer)
    }

    @Test func bothSidesAddTheSameFileMergesCleanly() throws {
        try withDataset { repo, root in
            let rec = T.debianRecordings(limit: 6)[5]
            let s = try diverge(
                repo,
                theirs: {
                    try FileManager.default.copyItem(atPath: rec, toPath: root + "/clips/same.wav")
                    try write("x\n", root + "/a.txt")
                },
                ours: {
                    try FileManager.default.copyItem(atPath: rec, toPath: root + "/clips/same.wav")
                    try write("y\n", root + "/b.txt")
                })
            #expect(s.status == .merged && s.conflicts.isEmpty)
            let head = try repo.commit(#require(s.head))
            #expect(head.parents.count == 2)
            #expect(try T.read(root + "/clips/same.wav") == T.read(rec))
            #expect(FileManager.default.fileExists(atPath: root + "/a.txt") && FileManager.default.fileExists(atPath: root + "/b.txt"))
            #expect(try repo.status().changes.isEmpty, "the working tree is the merge commit")
        }
    }

    @Test func bothSidesAddDifferentContentIsAConflict() throws {
        try withDataset { repo, root in
            let recs = T.debianRecordings(limit: 7)
            let s = try diverge(
                repo, theirs: { try FileManager.default.copyItem(atPath: recs[5], toPath: root + "/clips/new.wav") },
                ours: { try FileManager.default.copyItem(atPath: recs[6], toPath: root + "/clips/new.wav") })
            #expect(s.status == .conflicts)
            #expect(s.conflicts.map(\.kind) == [.addAdd] && s.conflicts[0].path == "clips/new.wav")
            #expect(try T.read(root + "/clips/new.wav") == T.read(recs[6]), "ours stays")
            #expect(try T.read(root + "/clips/new.wav~theirs") == T.read(recs[5]), "theirs beside it")
            #expect(throws: DVSError.self) { try repo.mergeContinue() }
            try FileManager.default.removeItem(atPath: root + "/clips/new.wav~theirs")
            let c = try repo.mergeContinue()
            #expect(c.commit.parents.count == 2)
            #expect(repo.mergeInProgress() == nil)
        }
    }

    @Test func textFilesMergeLineByLineWithDiff3MarkersWhereTheSameLinesChanged() throws {
        try withDataset { repo, root in
            let base = "# Corpus notes\nrecorded 2026\nlanguages: en, es\nreviewers: none\nlicence: GPL-2+\n"
            try write(base, root + "/README.md")
            try write("\u{0}\u{1}binary v1\n", root + "/stats.bin")
            try write("{\"speaker\": \"spk0\"}\n", root + "/meta.json")
            try commitAll(repo, "notes")
            // Different lines: merges cleanly, both edits kept (as git merge does).
            let s = try diverge(
                repo, theirs: { try sed("s/^languages: en, es$/languages: en, es, de/", root + "/README.md") },
                ours: { try sed("s/^licence: GPL-2+$/licence: GPL-2+ (see COPYING)/", root + "/README.md") })
            #expect(s.status == .merged && s.conflicts.isEmpty)
            #expect(
                try String(contentsOfFile: root + "/README.md", encoding: .utf8)
                    == "# Corpus notes\nrecorded 2026\nlanguages: en, es, de\nreviewers: none\nlicence: GPL-2+ (see COPYING)\n")
            #expect(try repo.status().changes.isEmpty)

            // The same line both ways: diff3 markers in the file; continue refused until edited.
            try repo.createBranch("side2")
            _ = try repo.checkout("side2")
            try sed("s/^reviewers: none$/reviewers: ana/", root + "/README.md")
            try write("\u{0}\u{1}binary theirs\n", root + "/stats.bin")
            try write("{\"speaker\": \"spk1\"}\n", root + "/meta.json")
            try commitAll(repo, "theirs 2")
            _ = try repo.checkout("main")
            try sed("s/^reviewers: none$/reviewers: bo/", root + "/README.md")
            try sed("s/^recorded 2026$/recorded 2025-2026/", root + "/README.md")
            try write("\u{0}\u{1}binary ours\n", root + "/stats.bin")
            try write("{\"speaker\": \"spk2\"}\n", root + "/meta.json")
            try commitAll(repo, "ours 2")
            let c = try repo.merge("side2")
            #expect(c.status == .conflicts)
            #expect(
                c.conflicts.map { "\($0.kind) \($0.path)" }.sorted() == [
                    "modify-modify meta.json", "modify-modify stats.bin", "text README.md",
                ],
                "binary and JSON files still conflict whole")
            let merged = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
            #expect(
                merged == """
                    # Corpus notes
                    recorded 2025-2026
                    languages: en, es, de
                    <<<<<<< ours
                    reviewers: bo
                    ||||||| base
                    reviewers: none
                    =======
                    reviewers: ana
                    >>>>>>> theirs
                    licence: GPL-2+ (see COPYING)

                    """)
            #expect(try T.read(root + "/stats.bin~theirs") == Data("\u{0}\u{1}binary theirs\n".utf8))
            let left = try #require(repo.mergeInProgress()).unresolved
            #expect(left.contains { $0.hasPrefix("README.md (") && $0.contains("1 line") })
            #expect(throws: DVSError.self) { try repo.mergeContinue() }
            try write(
                merged.replacingOccurrences(
                    of: "<<<<<<< ours\nreviewers: bo\n||||||| base\nreviewers: none\n=======\nreviewers: ana\n>>>>>>> theirs\n",
                    with: "reviewers: ana, bo\n"), root + "/README.md")
            try FileManager.default.removeItem(atPath: root + "/stats.bin~theirs")
            try FileManager.default.removeItem(atPath: root + "/meta.json~theirs")
            let done = try repo.mergeContinue()
            #expect(done.commit.parents.count == 2)
            #expect(try String(contentsOfFile: root + "/README.md", encoding: .utf8).contains("\nreviewers: ana, bo\nlicence:"))

            // --strategy theirs settles the conflicting lines to theirs and keeps our other edit.
            _ = try repo.checkout("side2")
            try sed("s/^reviewers: ana$/reviewers: cy/", root + "/README.md")
            try commitAll(repo, "theirs 3")
            _ = try repo.checkout("main")
            try sed("s/^reviewers: ana, bo$/reviewers: dee/", root + "/README.md")
            try sed("s/^# Corpus notes$/# Corpus notes (v2)/", root + "/README.md")
            try commitAll(repo, "ours 3")
            let t = try repo.merge("side2", prefer: .theirs)
            #expect(t.status == .merged && t.conflicts.isEmpty)
            let final = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
            #expect(final.hasPrefix("# Corpus notes (v2)\n") && final.contains("\nreviewers: cy\n") && !final.contains("<<<<<<<"))
        }
    }

    @Test func modifyVersusDeleteIsAConflictKeepingTheModifiedFile() throws {
        try withDataset { repo, root in
            let other = T.debianRecordings(limit: 6)[5]
            let s = try diverge(
                repo,
                theirs: {
                    try FileManager.default.removeItem(atPath: root + "/clips/c0.wav")
                    try sed("/^clips\\/c0.wav/d", root + "/labels.csv")
                },
                ours: {
                    try FileManager.default.removeItem(atPath: root + "/clips/c0.wav")
                    try FileManager.default.copyItem(atPath: other, toPath: root + "/clips/c0.wav")
                })
            #expect(s.conflicts.map(\.kind) == [.modifyDelete])
            #expect(try T.read(root + "/clips/c0.wav") == T.read(other))
            let open = #expect(throws: DVSError.self) { try repo.mergeContinue() }
            #expect(
                open?.details == [
                    "clips/c0.wav (modified by us, deleted by them: delete it to take the deletion, or mark it resolved to keep it)"
                ])
            #expect(throws: DVSError.self) { try repo.mergeMarkResolved([RepoPath("clips/nope.wav")]) }
            let theirs = try diverge2(repo)
            _ = theirs
        }
    }

    /// --strategy theirs takes the deletion.
    func diverge2(_ repo: Repository) throws -> Bool {
        _ = try repo.mergeAbort()
        let s = try repo.merge("side", prefer: .theirs)
        #expect(s.status == .merged)
        #expect(!FileManager.default.fileExists(atPath: repo.root + "/clips/c0.wav"))
        return true
    }

    @Test func renameOnOneSideModifyOnTheOther() throws {
        try withDataset { repo, root in
            let other = T.debianRecordings(limit: 6)[5]
            let s = try diverge(
                repo,
                theirs: {
                    try FileManager.default.removeItem(atPath: root + "/clips/c1.wav")
                    try FileManager.default.copyItem(atPath: other, toPath: root + "/clips/c1.wav")
                },
                ours: {
                    try FileManager.default.createDirectory(atPath: root + "/moved", withIntermediateDirectories: true)
                    try FileManager.default.moveItem(atPath: root + "/clips/c1.wav", toPath: root + "/moved/c1.wav")
                    try sed("s|^clips/c1.wav|moved/c1.wav|", root + "/labels.csv")
                })
            #expect(s.status == .merged && s.conflicts.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: root + "/clips/c1.wav"))
            #expect(try T.read(root + "/moved/c1.wav") == T.read(other), "their modification lands at our new path")
        }
    }

    @Test func renameOnOneSideRelabelOnTheOtherFollowsTheFile() throws {
        try withDataset { repo, root in
            // They rename a clip and its row; we relabel that row: the relabel lands on the
            // renamed row, the audio is not duplicated, and nothing conflicts.
            let s = try diverge(
                repo,
                theirs: {
                    try FileManager.default.moveItem(atPath: root + "/clips/c1.wav", toPath: root + "/clips/es_one.wav")
                    try sed("s|^clips/c1.wav,|clips/es_one.wav,|", root + "/labels.csv")
                },
                ours: {
                    try sed("s|^clips/c1.wav,es,spk1,ok|clips/c1.wav,es,spk1,noisy|", root + "/labels.csv")
                })
            #expect(s.status == .merged && s.conflicts.isEmpty, "\(s.conflicts.map(\.message))")
            #expect(!FileManager.default.fileExists(atPath: root + "/clips/c1.wav"))
            #expect(FileManager.default.fileExists(atPath: root + "/clips/es_one.wav"))
            let rows = try labels(repo).split(separator: "\n").map(String.init)
            #expect(rows.contains("clips/es_one.wav,es,spk1,noisy") && !rows.contains { $0.hasPrefix("clips/c1.wav,") }, "\(rows)")
            #expect(try label(repo, "clips/es_one.wav", "quality") == .string("noisy"))
            #expect(try repo.status().changes.isEmpty)
            // Untouched rows keep their bytes and their order.
            #expect(rows.first == "path,lang,speaker,quality" && rows[1].hasPrefix("clips/c0.wav,"))
        }
    }

    @Test func relabelOfDifferentFieldsMergesAndOfTheSameFieldConflicts() throws {
        try withDataset { repo, root in
            let s = try diverge(
                repo,
                theirs: {
                    try sed(
                        "s|^clips/c0.wav,en,spk0,ok|clips/c0.wav,en,spk0,noisy|; s|^clips/c2.wav,en|clips/c2.wav,de|", root + "/labels.csv")
                },
                ours: { try sed("s|^clips/c0.wav,en|clips/c0.wav,fr|; s|^clips/c2.wav,en|clips/c2.wav,it|", root + "/labels.csv") })
            #expect(s.status == .conflicts)
            #expect(s.conflicts.count == 1)
            let c = try #require(s.conflicts.first)
            #expect(
                c.kind == .field && c.key == "clips/c2.wav" && c.field == "lang" && c.base == "en" && c.ours == "it" && c.theirs == "de")
            let text = try labels(repo)
            #expect(text.contains("clips/c0.wav,fr,spk0,noisy\n"), "different fields of one row merged: \(text)")
            #expect(text.contains("clips/c2.wav,<<<<<<< ours: it ||||||| base: en ======= theirs: de >>>>>>>,spk2,ok"))
            #expect(repo.mergeInProgress()?.unresolved.count == 1)
            try sed("s|<<<<<<< ours: it.*>>>>>>>|de|", root + "/labels.csv")
            let done = try repo.mergeContinue()
            #expect(done.commit.parents.count == 2)
            #expect(try label(repo, "clips/c0.wav", "lang") == .string("fr"))
            #expect(try label(repo, "clips/c0.wav", "quality") == .string("noisy"))
            #expect(try label(repo, "clips/c2.wav", "lang") == .string("de"))
        }
    }

    @Test func rowDeletedVersusEditedIsAConflict() throws {
        try withDataset { repo, root in
            let s = try diverge(
                repo, theirs: { try sed("/^clips\\/c3.wav/d", root + "/labels.csv") },
                ours: { try sed("s|^clips/c3.wav,es,spk3,ok|clips/c3.wav,es,spk3,bad|", root + "/labels.csv") })
            #expect(s.conflicts.map(\.kind) == [.deleteEdit] && s.conflicts[0].key == "clips/c3.wav")
            #expect(try labels(repo).contains("clips/c3.wav,es,spk3,bad"), "the edited row is kept for the user to decide")
        }
    }

    /// A sample deleted on one side (audio and row) and relabeled on the other: the edit keeps
    /// the whole sample, not only its row (a row without its audio would not commit).
    @Test func sampleDeletedVersusRelabeledKeepsAudioWithTheRow() throws {
        for prefer in [nil, MergePreference.ours, .theirs] {
            try withDataset { repo, root in
                let s = try diverge(
                    repo,
                    theirs: {
                        try FileManager.default.removeItem(atPath: root + "/clips/c3.wav")
                        try sed("/^clips\\/c3.wav/d", root + "/labels.csv")
                    }, ours: { try sed("s|^clips/c3.wav,es,spk3,ok|clips/c3.wav,es,spk3,good|", root + "/labels.csv") }, prefer: prefer)
                let kept = FileManager.default.fileExists(atPath: root + "/clips/c3.wav")
                let table = try labels(repo)
                switch prefer {
                case nil:
                    #expect(s.status == .conflicts && s.conflicts.map(\.kind) == [.deleteEdit])
                    #expect(s.conflicts.first?.message.contains("its audio 'clips/c3.wav' was kept too") == true, "\(s.conflicts)")
                    #expect(kept && table.contains("clips/c3.wav,es,spk3,good"))
                    // Kept as the tree holds it only once the user says so (issue 16, item 5).
                    let open = #expect(throws: DVSError.self) { try repo.mergeContinue() }
                    #expect(open?.details.first?.hasPrefix("labels.csv row clips/c3.wav") == true, "\(String(describing: open?.details))")
                    #expect(open?.next == .resolveDeletionOrRestartMerge(cohort: nil, theirs: "side"))
                    #expect(try repo.mergeMarkResolved([RepoPath("labels.csv")]).isEmpty)
                    let done = try repo.mergeContinue()
                    #expect(done.commit.parents.count == 2)
                    #expect(try label(repo, "clips/c3.wav", "quality") == .string("good"))
                case .ours?:
                    #expect(s.status == .merged && kept, "ours keeps the relabeled sample whole")
                    #expect(try label(repo, "clips/c3.wav", "quality") == .string("good"))
                case .theirs?:
                    #expect(s.status == .merged && !kept && !table.contains("clips/c3.wav"))
                }
            }
        }
    }

    @Test func abortRestoresThePreMergeTreeByteExact() throws {
        try withDataset { repo, root in
            let before = root + "-before"
            _ = try diverge(
                repo,
                theirs: {
                    try sed("s|^clips/c1.wav,es|clips/c1.wav,de|", root + "/labels.csv")
                    try FileManager.default.copyItem(atPath: T.debianRecordings(limit: 6)[5], toPath: root + "/clips/theirs.wav")
                    try write("their notes\n", root + "/notes.txt")
                },
                ours: {
                    try sed("s|^clips/c1.wav,es|clips/c1.wav,pt|", root + "/labels.csv")
                    try write("our notes\n", root + "/notes.txt")
                })
            // (the merge above stopped with conflicts; abort, keep a copy, and merge again)
            _ = try repo.mergeAbort()
            try write("untracked, not ours to touch\n", root + "/scratch.txt")
            try T.sh("rm -rf '\(before)' && cp -a '\(root)' '\(before)'")
            defer { try? FileManager.default.removeItem(atPath: before) }
            let s = try repo.merge("side")
            #expect(s.status == .conflicts && s.conflicts.count == 2)
            #expect(FileManager.default.fileExists(atPath: root + "/clips/theirs.wav"))
            #expect(throws: DVSError.self) { try repo.merge("side") }  // a merge is in progress
            _ = try repo.mergeAbort()
            let (same, diff) = try T.treesEqual(before, root)
            #expect(same, "abort restores every byte: \(diff)")
            #expect(repo.mergeInProgress() == nil)
        }
    }

    @Test func mergeRefusesADirtyTreeAndChangesNothing() throws {
        try withDataset { repo, root in
            try repo.createBranch("side")
            _ = try repo.checkout("side")
            try sed("s|^clips/c1.wav,es|clips/c1.wav,de|", root + "/labels.csv")
            try commitAll(repo, "theirs")
            _ = try repo.checkout("main")
            try write("main moves\n", root + "/m.txt")
            try commitAll(repo, "ours")
            try sed("s|^clips/c0.wav,en|clips/c0.wav,xx|", root + "/labels.csv")
            let dirty = try labels(repo)
            #expect(throws: DVSError.self) { try repo.merge("side") }
            #expect(try labels(repo) == dirty)
        }
    }

    @Test func fastForwardAndNoCommit() throws {
        try withDataset { repo, root in
            try repo.createBranch("side")
            _ = try repo.checkout("side")
            try sed("s|^clips/c1.wav,es|clips/c1.wav,de|", root + "/labels.csv")
            try commitAll(repo, "theirs")
            let side = try repo.resolve("side")
            _ = try repo.checkout("main")
            let ff = try repo.merge("side")
            #expect(ff.status == .fastForward && ff.head == side)
            #expect(try repo.merge("side").status == .upToDate)
            // --no-commit on a real merge, then --continue.
            try repo.createBranch("other", at: "HEAD~1")
            _ = try repo.checkout("other")
            try write("other\n", root + "/o.txt")
            try commitAll(repo, "other")
            _ = try repo.checkout("main")
            let nc = try repo.merge("other", noCommit: true)
            #expect(nc.status == .noCommit && FileManager.default.fileExists(atPath: root + "/o.txt"))
            #expect(try repo.headCommit() == side, "HEAD does not move before --continue")
            let c = try repo.mergeContinue()
            let otherID = try repo.resolve("other")
            #expect(c.commit.parents == [side, otherID])
        }
    }

    /// Criss-cross: two best common ancestors. dvs uses the one committed last (as git's resolve
    /// strategy), reports how many there were, and the result is defined.
    @Test func crissCrossHistoryUsesTheNewestMergeBase() throws {
        try withDataset { repo, root in
            try repo.createBranch("b")
            try write("a1\n", root + "/a.txt")
            try commitAll(repo, "a1")
            sleep(1)
            _ = try repo.checkout("b")
            try write("b1\n", root + "/b.txt")
            try commitAll(repo, "b1")
            let b1 = try repo.resolve("b")
            _ = try repo.checkout("main")
            let a1 = try repo.resolve("main")
            _ = try repo.merge("b")  // main: M1 = a1 + b1
            _ = try repo.checkout("b")
            _ = try repo.merge(Revision(a1))  // b: M2 = b1 + a1
            try sed("s|^clips/c0.wav,en|clips/c0.wav,de|", root + "/labels.csv")
            try commitAll(repo, "b2")
            _ = try repo.checkout("main")
            try sed("s|^clips/c1.wav,es,spk1,ok|clips/c1.wav,es,spk1,noisy|", root + "/labels.csv")
            try commitAll(repo, "a2")
            let bases = try repo.mergeBases(repo.resolve("main"), repo.resolve("b"))
            #expect(bases == [b1, a1], "the two best common ancestors, newest first")
            let s = try repo.merge("b")
            #expect(s.baseCount == 2)
            #expect(s.base == b1)
            #expect(s.status == .merged)
            #expect(try label(repo, "clips/c0.wav", "lang") == .string("de"))
            #expect(try label(repo, "clips/c1.wav", "quality") == .string("noisy"))
        }
    }

    @Test func cohortCreateRefreshAndMergeBack() throws {
        try withDataset { repo, root in
            let blobsBefore = try repo.catalog.blobIDs().count
            #expect(throws: DVSError.self) { try repo.createCohort("none", predicate: "lang = 'xx'") }
            let c = try repo.createCohort("es", predicate: "lang = 'es'")
            #expect(c.totals.sampleCount == 2 && c.sourceRevision == "main" && c.predicate == "lang = 'es'")
            #expect(try repo.catalog.blobIDs().count == blobsBefore + 1, "only the filtered labels.csv is new; no audio is copied")
            #expect(try repo.query("SELECT count(*) FROM sample", at: "cohort/es").rows == [[.int(2)]])
            #expect(
                String(decoding: try repo.blob(repo.resolveBlobSpec("cohort/es:labels.csv").1.blob), as: UTF8.self)
                    == "path,lang,speaker,quality\nclips/c1.wav,es,spk1,ok\nclips/c3.wav,es,spk3,ok\n")
            let cut = try repo.commit(repo.resolve("cohort/es"))
            let mainID = try repo.resolve("main")
            #expect(cut.extra["cohort-predicate"] == "lang = 'es'" && cut.parents == [mainID])
            // The cohort relabels one field of c1; main relabels another field of c1 and adds an es clip.
            _ = try repo.checkout("cohort/es")
            try sed("s|^clips/c1.wav,es,spk1,ok|clips/c1.wav,es,spk1,great|", root + "/labels.csv")
            try commitAll(repo, "cohort pass")
            _ = try repo.checkout("main")
            try sed("s|^clips/c1.wav,es,spk1|clips/c1.wav,es,spk9|", root + "/labels.csv")
            try FileManager.default.copyItem(atPath: T.debianRecordings(limit: 6)[5], toPath: root + "/clips/c9.wav")
            try T.sh(
                "echo 'clips/c9.wav,es,spk5,ok' >> labels.csv; echo 'clips/c8.wav,en,spk5,ok' >> labels.csv; cp clips/c0.wav clips/c8.wav",
                in: root)
            try commitAll(repo, "main pass")
            #expect(try repo.cohort("es").sourceMovedOn == 1)
            let r = try repo.refreshCohort("es")
            #expect(r.status == .merged)
            let head = try repo.commit(repo.resolve("cohort/es"))
            #expect(head.parents.count == 2 && head.extra["cohort-predicate"] == "lang = 'es'")
            #expect(try label(repo, "clips/c1.wav", "quality", rev: "cohort/es") == .string("great"), "the cohort's relabel is kept")
            #expect(try label(repo, "clips/c1.wav", "speaker", rev: "cohort/es") == .string("spk9"), "the source's relabel comes in")
            #expect(
                try repo.query("SELECT count(*) FROM sample", at: "cohort/es").rows == [[.int(3)]],
                "the new es clip joins, the en one does not")
            // Merge the cohort back: main keeps its other samples and gains the cohort's labels.
            let m = try repo.merge("cohort/es")
            #expect(m.status == .merged, "never a fast-forward onto a cohort")
            #expect(try repo.query("SELECT count(*) FROM sample", at: "main").rows == [[.int(6)]])
            #expect(try label(repo, "clips/c1.wav", "quality") == .string("great"))
            #expect(try label(repo, "clips/c0.wav", "lang") == .string("en"))
            // Refresh while the cohort is checked out: the working tree follows, conflicts would stop there.
            try sed("s|^clips/c3.wav,es,spk3,ok|clips/c3.wav,es,spk3,checked|", root + "/labels.csv")
            try commitAll(repo, "main again")
            _ = try repo.checkout("cohort/es")
            let r2 = try repo.refreshCohort("es")
            #expect(r2.status == .merged)
            #expect(try labels(repo).contains("clips/c3.wav,es,spk3,checked\n"))
            #expect(try repo.status().changes.isEmpty)
            #expect(try repo.cohort("es").sourceMovedOn == 0)
            // A checked-out refresh that conflicts stops there, named as the refresh it is, and
            // the way to retry it with a side is 'dvs cohort refresh', not 'dvs merge main'.
            try sed("s|^clips/c3.wav,es,spk3,checked|clips/c3.wav,es,spk3,cohort-says|", root + "/labels.csv")
            try commitAll(repo, "cohort pass")
            _ = try repo.checkout("main")
            try sed("s|^clips/c3.wav,es,spk3,checked|clips/c3.wav,es,spk3,main-says|", root + "/labels.csv")
            try commitAll(repo, "main pass 3")
            _ = try repo.checkout("cohort/es")
            let r3 = try repo.refreshCohort("es")
            #expect(r3.status == .conflicts && r3.conflicts.map(\.field) == ["quality"])
            #expect(repo.mergeInProgress()?.theirs == "main (refreshing cohort es)")
            let stuck = #expect(throws: DVSError.self) { try repo.mergeContinue() }
            // Rendered as "… then 'dvs cohort refresh es --strategy ours|theirs' …" (HintsTests).
            #expect(stuck?.next == .resolveOrRestartMerge(cohort: "es", theirs: "main"), "\(String(describing: stuck?.next))")
            #expect(throws: DVSError.self) { try repo.checkout("main") }
            _ = try repo.mergeAbort()
        }
    }

    /// Issue 16's scenario: a speaker is erased on main (audio and rows) while a labeller edits
    /// one of the speaker's rows on a cohort; merging the cohort after the erasure stops, and
    /// `--continue` refuses, naming the table and row, until the deletion is taken or the
    /// edit is explicitly kept. Taking the deletion leaves the sample out of the merge commit.
    @Test func cohortEditOfAnErasedSpeakerStopsTheMergeUntilResolved() throws {
        try withDataset { repo, root in
            _ = try repo.createCohort("es", predicate: "lang = 'es'")
            _ = try repo.checkout("cohort/es")
            try sed("s|^clips/c3.wav,es,spk3,ok|clips/c3.wav,es,spk3,relabelled|", root + "/labels.csv")
            try commitAll(repo, "labeller pass")
            _ = try repo.checkout("main")
            try FileManager.default.removeItem(atPath: root + "/clips/c3.wav")
            try sed("/^clips\\/c3.wav/d", root + "/labels.csv")
            try commitAll(repo, "erase spk3")
            let s = try repo.merge("cohort/es")
            #expect(s.status == .conflicts && s.conflicts.map(\.kind) == [.deleteEdit], "\(s.conflicts)")
            let open = #expect(throws: DVSError.self) { try repo.mergeContinue() }
            #expect(open?.message.contains("1 conflict is not resolved yet") == true)
            #expect(open?.details.first?.hasPrefix("labels.csv row clips/c3.wav (deleted on one side") == true)
            #expect(repo.mergeInProgress()?.unresolved.count == 1, "dvs status lists it")
            // Take the deletion: remove the row and its audio again.
            try FileManager.default.removeItem(atPath: root + "/clips/c3.wav")
            try sed("/^clips\\/c3.wav/d", root + "/labels.csv")
            #expect(repo.mergeInProgress()?.unresolved.isEmpty == true)
            let done = try repo.mergeContinue()
            #expect(done.commit.parents.count == 2)
            #expect(try !repo.entries(at: "HEAD").contains { $0.path.string == "clips/c3.wav" }, "the erased sample is not resurrected")
        }
    }
}
