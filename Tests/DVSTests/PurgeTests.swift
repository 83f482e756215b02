import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// `dvs purge` (issue 16): a speaker's audio, label row and transcript, planted with a marker on
/// several branches, a cohort and a model's snapshot, leave no byte in `.dvs/` once purged, and
/// history, old ids and the model's audit still work.
@Suite(.serialized) struct PurgeTests {
    typealias T = TestSupport

    /// The marker planted in the erased speaker's audio, label row and transcript.
    static let marker = Array("ZQX-ERASE-ME-4711".utf8)

    /// A repository with four recordings (speaker spk3's audio carries the marker in its PCM data),
    /// labels.csv (path,lang,speaker,quality,text; spk3's row holds the marker), a relabel of
    /// spk3 on branch `side`, a cohort `es` holding spk3, a model registered on main predicting
    /// `quality` (its label counts hold the marker), and an eval of it with the marked value as a
    /// slice and a class name.
    func withMarkedRepository(_ body: (Repository, String) throws -> Void) throws {
        try T.withTemporaryRepository { repo in
            let recs = T.debianRecordings(limit: 4).filter { $0.hasSuffix(".wav") }
            try #require(recs.count >= 4, "alsa-utils recordings are installed")
            let root = repo.root
            try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
            var csv = "path,lang,speaker,quality,text\n"
            let m = String(decoding: Self.marker, as: UTF8.self)
            for (i, r) in recs.prefix(4).enumerated() {
                var bytes = [UInt8](try T.read(r))
                if i == 3 {
                    // The marker inside the samples (past the header): still valid audio.
                    let at = bytes.count / 2
                    bytes.replaceSubrange(at..<(at + Self.marker.count), with: Self.marker)
                }
                try Data(bytes).write(to: URL(fileURLWithPath: root + "/clips/c\(i).wav"))
                csv +=
                    "clips/c\(i).wav,\(i % 2 == 0 ? "en" : "es"),spk\(i),\(i == 3 ? "ok-" + m : "ok"),\(i == 3 ? "hello " + m : "hello \(i)")\n"
            }
            try Data(csv.utf8).write(to: URL(fileURLWithPath: root + "/labels.csv"))
            _ = try repo.commit(CommitOptions(message: "base"))
            try repo.createBranch("side")
            _ = try repo.checkout("side")
            try T.sh("sed -i 's|^clips/c3.wav,es,spk3,ok-|clips/c3.wav,es,spk3,checked-|' '\(root)/labels.csv'")
            _ = try repo.commit(CommitOptions(message: "relabel on side"))
            _ = try repo.checkout("main")
            try Data("notes\n".utf8).write(to: URL(fileURLWithPath: root + "/README.md"))
            _ = try repo.commit(CommitOptions(message: "notes"))
            _ = try repo.createCohort("es", predicate: "lang = 'es'")
            // Its file names its classes, the marked value among them (as a `dvs train` model does).
            try Data("weights; classes ok, ok-\(m)".utf8).write(to: URL(fileURLWithPath: root + "/../model.bin"))
            // The model predicts `quality`, so its label counts hold spk3's marked value; the
            // eval names it as a slice and as a class.
            var registration = ModelRegistration(artifactPath: root + "/../model.bin", revision: "main", name: "m1")
            registration.labelField = "quality"
            let m1 = try repo.registerModel(registration).id
            var e = EvalRegistration(
                model: m1, revision: "main",
                metrics: ["accuracy": .number(0.75), "class_names": .array([.string("ok"), .string("ok-" + m)])], sampleCount: 4)
            e.slices = ["quality=ok-" + m: ["accuracy": .number(1)], "lang=es": ["accuracy": .number(0.5)]]
            _ = try repo.recordEval(e)
            try body(repo, root)
        }
    }

    /// Where `needle` occurs in `.dvs/`: every file's raw bytes, every loose object decompressed
    /// and every pack frame decoded (a marker inside compressed data is found too); the same
    /// scan as a folder remote's (``PurgeTests/scanRemote(_:with:for:)``).
    static func scan(_ repo: Repository, for needles: [[UInt8]]) throws -> [String] {
        try scanRemote(repo.root + "/.dvs", with: repo, for: needles)
    }

    @Test func purgeErasesEveryByteAndKeepsHistoryUsable() throws {
        try withMarkedRepository { repo, root in
            let victim = try #require(try repo.entries(at: "main").first { $0.path.string == "clips/c3.wav" })
            let needles = [Self.marker, victim.blob.bytes]
            #expect(!(try Self.scan(repo, for: [Self.marker])).isEmpty, "the marker is found before the purge (the scan works)")
            let oldMain = try repo.resolve("main")
            let model = try #require(try repo.modelRecords().first)

            let plan = try repo.planPurge(PurgeRule(predicate: "speaker = 'spk3'", paths: []))
            #expect(plan.samples == 1)
            #expect(plan.commitsHolding >= 4, "base, side, notes and the cohort cut hold it")
            #expect(Set(plan.refs.map(\.fullName)).isSuperset(of: ["refs/heads/main", "refs/heads/side", "refs/heads/cohort/es"]))
            #expect(plan.models.map(\.name) == ["m1"])
            #expect(try repo.resolve("main") == oldMain, "planning changes nothing")

            // A sample index a read-only open of this repository kept outside it holds the rows
            // too (under a temporary XDG_CACHE_HOME, not the real ~/.cache of whoever runs this).
            var context = repo.context
            context.environment["XDG_CACHE_HOME"] = root + "/../xdg"
            let purger = try Repository.discover(from: root, context: context)
            let outside = purger.fallbackCacheDir
            #expect(outside.hasPrefix(root + "/../xdg/dvs/"))
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try Data(Self.marker).write(to: URL(fileURLWithPath: outside + "/samples.sqlite"))

            let record = try #require(try purger.purge(PurgeRule(predicate: "speaker = 'spk3'", paths: [])))
            #expect(record.samples == 1 && record.erased == [victim.blob.hex])
            #expect(
                (try? FileManager.default.contentsOfDirectory(atPath: outside)) == [],
                "the cache kept outside the repository is emptied too")
            let left = try Self.scan(repo, for: needles)
            #expect(left == [], "no byte of the erased sample is left under .dvs/: \(left)")
            #expect(!FileManager.default.fileExists(atPath: root + "/clips/c3.wav"), "the tracked file followed HEAD")
            #expect(try !String(contentsOfFile: root + "/labels.csv", encoding: .utf8).contains("spk3"))
            #expect(try repo.status().changes.isEmpty, "the working tree is HEAD")

            for rev in ["main", "side", "cohort/es", "main~1"] {
                let es = try repo.entries(at: Revision(rev))
                #expect(!es.contains { $0.path.string == "clips/c3.wav" }, "\(rev)")
                #expect(es.contains { $0.path.string == "clips/c1.wav" }, "\(rev) keeps the others")
            }
            #expect(try repo.resolve(Revision(oldMain.hex)) == repo.resolve("main"), "an old id resolves to its replacement")
            let head = try repo.commit(repo.resolve("main"))
            #expect(head.extra[Repository.purgeHeader] == "\(record.id.hex) 1")
            #expect(head.message == "notes")
            let audit = try repo.audit(model: model.id)
            #expect(audit.erasedSamples == 1 && audit.erasedBy == [record.id])
            #expect(try repo.purges() == [record])
            // The model and eval records named spk3's marked quality: written again without it.
            #expect(record.lineage?.count == 2, "\(String(describing: record.lineage))")
            let now = try #require(try repo.resolveModels(String(model.id.hex.prefix(12))).first, "the old model id resolves")
            #expect(now.id != model.id && record.lineage?[model.id.hex] == now.id.hex)
            #expect(now.record.labelDistribution == ["ok": 3], "only the erased sample's value is gone")
            #expect(now.record.sampleCount == 4 && now.record.name == "m1", "what the model was trained on is kept")
            #expect(try repo.modelRecords().map(\.id) == [now.id])
            let eval = try #require(try repo.catalog.evals(of: now.id).first, "the eval names the new model id")
            let e = try repo.evalRecord(eval)
            #expect(e.slices.keys.sorted() == ["lang=es"])
            #expect(e.metrics["class_names"] == .array([.string("ok"), .string("(erased)")]))
            #expect(e.metrics["accuracy"] == .number(0.75))
            #expect(try repo.catalog.lineageRecordIDs() == [now.id.object, eval.object])
            // Its stored file named the erased value: deleted; the record keeps its SHA-256.
            #expect(record.artifacts == [model.record.artifactSHA256])
            #expect(now.record.artifactSHA256 == model.record.artifactSHA256)
            #expect(throws: DVSError.self) { try repo.artifact(of: now.record) }
            #expect(audit.artifactDeletedBy == record.id)
            let fsck = try repo.fsck()
            #expect(fsck.damaged.isEmpty, "\(fsck.damaged)")
            #expect(try repo.planPurge(PurgeRule(predicate: "speaker = 'spk3'", paths: [])).samples == 0)
            let clean = try repo.verifyPurges()
            // The old versions of labels.csv held the erased row (main's, side's relabel, the
            // cohort's cut): the record names them, and the scan looks for them too.
            #expect(record.obsolete?.count == 3, "\(String(describing: record.obsolete))")
            #expect(clean.found.isEmpty && clean.indexed.isEmpty && clean.ids == 4 && clean.files > 10, "\(clean)")
            // A stray copy naming the erased id (a file copied back into .dvs) is found.
            try Data(victim.blob.bytes).write(to: URL(fileURLWithPath: root + "/.dvs/tmp/stray"))
            #expect(try repo.verifyPurges().found == ["tmp/stray: \(victim.blob.hex)"])
            // So is an old lineage record put back.
            try repo.objects.write(LineageEncoding.encode(model.record), id: model.id.object)
            let back = try repo.verifyPurges().found
            #expect(back.count == 2 && back[0].contains("lineage record \(model.id.hex)"), "\(back)")
        }
    }

    /// Two purges of one second sort by id in `purges()`; a fetch applies them in the order they
    /// ran (the second rewrote commits and records the first made), whatever their ids.
    /// The usual order — audio first, then a labelling pass — leaves commits without the label a
    /// purge names: the condition matches none of their samples, and the audio the labelled
    /// commit names is erased from every commit that holds it. A column no commit has is still
    /// an error (a trial found `purge --where "speaker = 'x'"` refused with "no such column").
    @Test func aConditionOnALabelAddedLaterErasesTheAudioFromEarlierCommitsToo() throws {
        try T.withTemporaryRepository { repo in
            let recs = T.debianRecordings(limit: 3).filter { $0.hasSuffix(".wav") }
            try #require(recs.count >= 3, "alsa-utils recordings are installed")
            let root = repo.root
            try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
            for (i, r) in recs.prefix(3).enumerated() {
                try T.read(r).write(to: URL(fileURLWithPath: root + "/clips/c\(i).wav"))
            }
            _ = try repo.commit(CommitOptions(message: "audio"))
            let csv = "path,speaker\nclips/c0.wav,spk0\nclips/c1.wav,spk1\nclips/c2.wav,spk2\n"
            try Data(csv.utf8).write(to: URL(fileURLWithPath: root + "/labels.csv"))
            _ = try repo.commit(CommitOptions(message: "labels"))

            let plan = try repo.planPurge(PurgeRule(predicate: "speaker = 'spk1'", paths: []))
            #expect(plan.samples == 1 && plan.commitsHolding == 2, "\(plan.samples) samples in \(plan.commitsHolding) commits")
            #expect(throws: DVSError.self) { try repo.planPurge(PurgeRule(predicate: "speakr = 'spk1'", paths: [])) }

            let record = try #require(try repo.purge(PurgeRule(predicate: "speaker = 'spk1'", paths: [])))
            #expect(record.erased.count == 1)
            let history = try repo.log(from: repo.resolve("main"))
            #expect(history.count == 2)
            for (_, c) in history {
                let paths = try repo.entries(ofManifest: c.manifest).map(\.path.string)
                #expect(!paths.contains("clips/c1.wav") && paths.contains("clips/c0.wav"), "\(c.message): \(paths)")
            }
            #expect(try repo.fsck().isClean)
        }
    }

    @Test func causalOrderPutsAPurgeAfterTheOneWhoseCommitsItRewrote() throws {
        func record(_ id: String, commits: [String: String], lineage: [String: String]? = nil) -> PurgeRecord {
            var r = PurgeRecord(
                id: PurgeID(ObjectID(hex: String(repeating: id, count: 64))!), time: 1, who: "t",
                rule: PurgeRule(predicate: "x", paths: []),
                samples: 1, hours: 0, bytes: 0, refs: [], models: [], erased: [], commits: commits, erasedPerCommit: [:], head: nil)
            r.lineage = lineage
            return r
        }
        let (a, b, c) = (String(repeating: "a", count: 64), String(repeating: "b", count: 64), String(repeating: "c", count: 64))
        let first = record("f", commits: [a: b])
        let second = record("1", commits: [b: c])  // sorts first by id
        #expect(Repository.causalOrder([second, first]).map(\.id) == [first.id, second.id])
        #expect(Repository.causalOrder([first, second]).map(\.id) == [first.id, second.id])
        let byRecord = record("0", commits: [:], lineage: [b: c])
        let made = record("e", commits: [:], lineage: [a: b])
        #expect(Repository.causalOrder([byRecord, made]).map(\.id) == [made.id, byRecord.id], "lineage chains count too")
        let other = record("2", commits: [c: String(repeating: "d", count: 64)])
        #expect(Repository.causalOrder([other, second, first]).map(\.id) == [first.id, second.id, other.id])
    }

    @Test func anInterruptedPurgeIsFinishedByTheNextCommand() throws {
        for step in PurgeStep.allCases {
            try withMarkedRepository { repo, root in
                let victim = try #require(try repo.entries(at: "main").first { $0.path.string == "clips/c3.wav" })
                PurgeStop.$at.withValue(step) {
                    #expect(throws: DVSError.self, "\(step)") { try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c3.wav"])) }
                }
                #expect(FileManager.default.fileExists(atPath: root + "/.dvs/PURGE"), "\(step): the journal stays")
                // The next process finishes it when it opens the repository.
                let again = try Repository.discover(from: root, context: T.processContext)
                #expect(!FileManager.default.fileExists(atPath: root + "/.dvs/PURGE"), "\(step)")
                #expect(try Self.scan(again, for: [Self.marker, victim.blob.bytes]) == [], "\(step)")
                #expect(try again.fsck().damaged.isEmpty, "\(step)")
                #expect(try again.purges().count == 1, "\(step)")
                #expect(try !again.entries(at: "side").contains { $0.path.string == "clips/c3.wav" }, "\(step)")
                #expect(!FileManager.default.fileExists(atPath: root + "/clips/c3.wav"), "\(step): the erased file left the tree")
                #expect(FileManager.default.fileExists(atPath: root + "/clips/c2.wav"), "\(step)")
            }
        }
    }

    /// A rerun that cannot read the old HEAD's snapshot (here: its manifest deleted after the
    /// refs moved) fails and keeps the journal; it never reports the purge done with the erased
    /// file still in the working tree (it used to skip the tree step on any read error).
    @Test func aRerunThatCannotBringTheTreeAlongFailsAndKeepsTheJournal() throws {
        try withMarkedRepository { repo, root in
            let oldHead = try repo.resolve("main")
            let manifest = try repo.snapshots.commit(oldHead).manifest
            PurgeStop.$at.withValue(.refs) {
                #expect(throws: DVSError.self) { try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c3.wav"])) }
            }
            let path = repo.objects.path(of: manifest)
            let saved = try Data(contentsOf: URL(fileURLWithPath: path))
            try FileManager.default.removeItem(atPath: path)
            // A reader opens the repository with the failure as a warning; a writer is refused.
            let stuck = try Repository.discover(from: root, context: T.processContext)
            #expect(
                stuck.interruptedOperationFailure?.message.contains(manifest.hex) == true,
                "\(String(describing: stuck.interruptedOperationFailure))")
            #expect(throws: DVSError.self) { _ = try stuck.commit(CommitOptions(message: "after")) }
            #expect(FileManager.default.fileExists(atPath: root + "/.dvs/PURGE"), "the journal stays for the next command")
            // With the object back, the next command finishes the purge, tree included.
            try saved.write(to: URL(fileURLWithPath: path))
            let again = try Repository.discover(from: root, context: T.processContext)
            #expect(!FileManager.default.fileExists(atPath: root + "/.dvs/PURGE"))
            #expect(!FileManager.default.fileExists(atPath: root + "/clips/c3.wav"))
            #expect(try Self.scan(again, for: [Self.marker]) == [])
        }
    }

    /// A journal an earlier build left in phase `apply` (no `collects` mark), killed while step 4
    /// deleted old objects: the rerun skips the tree step it cannot redo, as that build did,
    /// instead of failing on every command.
    @Test func aJournalOfAnEarlierBuildKilledInStep4IsFinished() throws {
        try withMarkedRepository { repo, root in
            PurgeStop.$at.withValue(.objects) {
                #expect(throws: DVSError.self) { try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c3.wav"])) }
            }
            let path = root + "/.dvs/PURGE"
            var journal = try JSONDecoder().decode(PurgeJournal.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(journal.phase == .collect && journal.collects == true)
            journal.phase = .apply
            journal.collects = nil
            try JSONEncoder().encode(journal).write(to: URL(fileURLWithPath: path))
            let again = try Repository.discover(from: root, context: T.processContext)
            #expect(again.interruptedOperationFailure == nil, "\(String(describing: again.interruptedOperationFailure))")
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(!FileManager.default.fileExists(atPath: root + "/clips/c3.wav"))
            #expect(try Self.scan(again, for: [Self.marker]) == [])
        }
    }

    /// A transcript and its words (a Deepgram response beside the call, with the marker as a
    /// word) are erased with the call: the response, the words object and the manifest leaves.
    @Test func aCallsTranscriptAndWordsGoWithIt() throws {
        try T.withTemporaryRepository { repo in
            let root = repo.root
            let ds = T.fixtures + "/dataset"
            let word = "zqxerasemeword"
            try T.sh(
                "mkdir -p clips && cp '\(ds)/clips/call_0002_stereo.wav' '\(ds)/deepgram/call_0002_stereo.json' clips/ && sed -i 's/lakeside/\(word)/gI' clips/call_0002_stereo.json && cp '\(ds)/clips/call_0001_mono.wav' '\(ds)/deepgram/call_0001_mono.json' clips/",
                in: root)
            _ = try repo.commit(CommitOptions(message: "calls"))
            let call = try #require(try repo.entries(at: "HEAD").first { $0.path.string == "clips/call_0002_stereo.wav" })
            let words = try #require(call.annotations?.transcript?.words, "the response gave the call its words")
            #expect(!(try Self.scan(repo, for: [Array(word.utf8)])).isEmpty, "the marker is in the store before")
            let r = try #require(try repo.purge(PurgeRule(predicate: nil, paths: ["clips/call_0002_stereo.wav"])))
            #expect(r.samples == 1)
            // Paths carry names: the record keeps the path's SHA-256, never the path.
            let hashed = "sha256:" + ObjectID.hashing(Array("clips/call_0002_stereo.wav".utf8)).hex
            #expect(r.rule.paths == [hashed] && r.rule.description == "paths \(hashed)")
            let recordFile = try String(contentsOfFile: root + "/.dvs/purges/\(r.id.hex).json", encoding: .utf8)
            #expect(recordFile.contains(hashed) && !recordFile.contains("call_0002"))
            let left = try Self.scan(repo, for: [Array(word.utf8), call.blob.bytes, words.bytes])
            #expect(left == [], "\(left)")
            let after = try repo.entries(at: "HEAD").map(\.path.string)
            #expect(after == ["clips/call_0001_mono.json", "clips/call_0001_mono.wav"], "the response went with its call")
            #expect(try repo.verifyPurges().found.isEmpty)
        }
    }
    /// Two recordings and labels.csv (path,speaker,note) committed on main, then the packed
    /// copy of labels.csv damaged (bytes in the middle of its frame overwritten), so the table
    /// cannot be read.
    /// - Parameter body: gets the repository, its root, main's commit, and a function that
    ///   damages the table again (`true`) or repairs it (`false`).
    func withDamagedLabels(_ body: (Repository, String, CommitID, (Bool) throws -> Void) throws -> Void) throws {
        try T.withTemporaryRepository { repo in
            let recs = T.debianRecordings(limit: 2).filter { $0.hasSuffix(".wav") }
            try #require(recs.count >= 2, "alsa-utils recordings are installed")
            let root = repo.root
            try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
            for (i, r) in recs.prefix(2).enumerated() { try FileManager.default.copyItem(atPath: r, toPath: root + "/clips/c\(i).wav") }
            let csv = "path,speaker,note\nclips/c0.wav,spk0,fine\nclips/c1.wav,spk1,fine\n"
            try Data(csv.utf8).write(to: URL(fileURLWithPath: root + "/labels.csv"))
            let head = try repo.commit(CommitOptions(message: "base")).id
            let table = try #require(try repo.entries(at: "main").first { $0.path.string == "labels.csv" })
            let loc = try #require(try repo.catalog.allLocations()[table.blob])
            let path = root + "/.dvs/packs/\(loc.pack.hex).pack"
            let at = loc.entry.offset + loc.entry.storedLength / 2
            let original = try #require(try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readToEnd())
            func damage(_ on: Bool) throws {
                let pack = try FileHandle(forUpdating: URL(fileURLWithPath: path))
                try pack.seek(toOffset: at)
                try pack.write(contentsOf: on ? Data(repeating: 0xA5, count: 4) : original[Int(at)..<Int(at) + 4])
                try pack.close()
            }
            try damage(true)
            #expect(throws: (any Error).self, "the table cannot be read") { try repo.blob(table.blob) }
            try body(repo, root, head, damage)
        }
    }

    /// Purge filters label tables strictly: one it cannot read stops it, naming the table and
    /// the commit, where a cohort would keep the table whole (the erased sample's row must never
    /// survive a purge that reports success).
    @Test func aLabelTableThatCannotBeReadStopsThePurge() throws {
        try withDamagedLabels { repo, _, head, _ in
            do {
                let r = try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c1.wav"]))
                Issue.record("the purge reported success (\(String(describing: r?.id))) with labels.csv's row of clips/c1.wav kept")
            } catch let e as DVSError {
                #expect(e.message.contains("label table 'labels.csv' of commit \(head.short) cannot be read"), "\(e.message)")
                #expect(e.next == .listDamagedObjectsAndPaths)
            }
            #expect(try repo.entries(at: "main").contains { $0.path.string == "clips/c1.wav" }, "nothing was erased")
        }
    }

    /// A purge that fails while rewriting history (here: a label table it cannot read) is
    /// abandoned, not left half done: `.dvs/PURGE` is gone, refs, records and the tree are as
    /// they were, and later commits work. One a killed process left in phase `rewrite` is redone
    /// by the next command and, failing again, dropped with the error rather than wedging every
    /// later write.
    @Test func aPurgeThatFailsWhileRewritingIsAbandonedAndChangesNothing() throws {
        try withDamagedLabels { repo, root, head, damage in
            let journal = root + "/.dvs/PURGE"
            let rule = PurgeRule(predicate: nil, paths: ["clips/c1.wav"])
            func refs() throws -> [String] { try repo.catalog.refs(in: .all).map { "\($0.name.fullName) \($0.target.hex)" }.sorted() }
            let before = try refs()
            do {
                _ = try repo.purge(rule)
                Issue.record("the purge succeeded")
            } catch let e as DVSError {
                #expect(e.message.contains("abandoned") && e.message.contains("not erased"), "\(e.message)")
                #expect(e.message.contains("labels.csv") && e.message.contains(head.short), "where it failed: \(e.message)")
            }
            #expect(!FileManager.default.fileExists(atPath: journal), "the journal is removed")
            #expect(try repo.purges().isEmpty, "no record is left")
            #expect(try refs() == before, "no ref moved")
            #expect(FileManager.default.fileExists(atPath: root + "/clips/c1.wav"))
            try damage(false)  // the user restores the damaged pack
            try Data("one\n".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
            let next = try repo.commit(CommitOptions(message: "after the failed purge"))
            #expect(next.commit.parents == [head], "a later commit works")

            // Killed after writing its journal; the next writer redoes it, fails, drops it.
            try damage(true)
            PurgeStop.$at.withValue(.journal) {
                #expect(throws: DVSError.self) { try repo.purge(rule) }
            }
            #expect(FileManager.default.fileExists(atPath: journal))
            try Data("two\n".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
            do {
                _ = try repo.commit(CommitOptions(message: "finishes the purge first"))
                Issue.record("the redone purge succeeded")
            } catch let e as DVSError {
                #expect(e.message.contains("the interrupted purge") && e.message.contains("abandoned"), "\(e.message)")
            }
            #expect(!FileManager.default.fileExists(atPath: journal), "the journal is dropped, not left to wedge writes")
            try damage(false)
            let last = try repo.commit(CommitOptions(message: "after the dropped purge"))
            #expect(last.commit.parents == [next.id])
            #expect(try repo.purges().isEmpty)
            #expect(try repo.entries(at: "main").contains { $0.path.string == "clips/c1.wav" })
        }
    }
    /// A model trained on a branch later deleted, and an eval on a snapshot only its record
    /// names: purges rewrite their snapshots (records keep naming the old commit, which resolves
    /// to its replacement), gc keeps the replacements, and a second purge rewrites them again
    /// instead of deleting their leaves.
    @Test func modelAndEvalSnapshotsFollowPurgesAndSurviveGC() throws {
        try withMarkedRepository { repo, root in
            let m1 = try #require(try repo.modelRecords().first).id
            for (branch, file) in [("train", "train.txt"), ("evalset", "eval.txt")] {
                try repo.createBranch(branch)
                _ = try repo.checkout(Revision(branch))
                try Data("\(branch)\n".utf8).write(to: URL(fileURLWithPath: root + "/" + file))
                _ = try repo.commit(CommitOptions(message: branch))
                _ = try repo.checkout("main")
            }
            let trained = try repo.resolve("train")
            let evaluated = try repo.resolve("evalset")
            try Data("w2".utf8).write(to: URL(fileURLWithPath: root + "/../model2.bin"))
            let m2 = try repo.registerModel(ModelRegistration(artifactPath: root + "/../model2.bin", revision: "train", name: "m2")).id
            _ = try repo.recordEval(EvalRegistration(model: m1, revision: "evalset", metrics: [:], sampleCount: 3))
            for b in ["train", "evalset"] { _ = try repo.deleteBranch(b, force: true) }
            _ = try repo.gc(GCOptions.withGrace(0))  // the deleted branches' reflog entries expire

            func check(_ label: String, without gone: [String]) throws {
                for (id, file) in [(trained, "train.txt"), (evaluated, "eval.txt")] {
                    let paths = try repo.entries(ofManifest: repo.commit(id).manifest).map(\.path.string)
                    #expect(paths.contains(file), "\(label): \(file)")
                    for g in gone { #expect(!paths.contains(g), "\(label): \(g) is erased from \(file)'s snapshot") }
                    #expect(paths.contains("clips/c0.wav"), "\(label)")
                }
                let fsck = try repo.fsck()
                #expect(fsck.damaged.isEmpty, "\(label): \(fsck.damaged)")
            }
            let first = try #require(try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c3.wav"])))
            #expect(first.models.contains("m2"))
            #expect(!repo.objects.contains(trained.object) && !repo.objects.contains(evaluated.object), "the old snapshots are gone")
            _ = try repo.gc(GCOptions.withGrace(0))
            try check("after the first purge and gc", without: ["clips/c3.wav"])
            let audit = try repo.audit(model: m2)
            #expect(audit.erasedSamples == 1 && audit.erasedBy == [first.id])

            let plan = try repo.planPurge(PurgeRule(predicate: nil, paths: ["clips/c1.wav"]))
            #expect(Set(plan.models.map(\.name)) == ["m1", "m2"], "the second purge sees the rewritten snapshots")
            let second = try #require(try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c1.wav"])))
            _ = try repo.gc(GCOptions.withGrace(0))
            try check("after the second purge and gc", without: ["clips/c3.wav", "clips/c1.wav"])
            let again = try repo.audit(model: m2)
            #expect(again.erasedSamples == 2 && again.erasedBy == [first.id, second.id])
            #expect(try repo.verifyPurges().found.isEmpty)
        }
    }

    /// Purge deletes old objects words first, then chunks (each after those under it), then the
    /// commits, so a kill after any number of deletions leaves the rerun able to find the rest:
    /// no words object of an erased call survives.
    @Test func aPurgeKilledWhileDeletingOldObjectsLeavesNoWords() throws {
        var stopped = 0
        for n in 0..<30 {
            let finished = try T.withTemporaryRepository { repo -> Bool in
                let root = repo.root
                let ds = T.fixtures + "/dataset"
                let word = "zqxerasemeword"
                try T.sh(
                    "mkdir -p clips && cp '\(ds)/clips/call_0002_stereo.wav' '\(ds)/deepgram/call_0002_stereo.json' clips/ && sed -i 's/lakeside/\(word)/gI' clips/call_0002_stereo.json && cp '\(ds)/clips/call_0001_mono.wav' '\(ds)/deepgram/call_0001_mono.json' clips/",
                    in: root)
                _ = try repo.commit(CommitOptions(message: "calls"))
                try Data("more\n".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
                _ = try repo.commit(CommitOptions(message: "notes"))
                let call = try #require(try repo.entries(at: "HEAD").first { $0.path.string == "clips/call_0002_stereo.wav" })
                let words = try #require(call.annotations?.transcript?.words)
                let rule = PurgeRule(predicate: nil, paths: ["clips/call_0002_stereo.wav"])
                var finished = false
                try PurgeStop.$afterDeletions.withValue(n) {
                    do { finished = try repo.purge(rule) != nil } catch let e as DVSError where e.message.contains("(test)") {}
                }
                let again = try Repository.discover(from: root, context: T.processContext)
                #expect(
                    again.interruptedOperationFailure == nil,
                    "after \(n) deletion(s): \(String(describing: again.interruptedOperationFailure))")
                #expect(!FileManager.default.fileExists(atPath: root + "/.dvs/PURGE"), "after \(n) deletion(s)")
                let left = try Self.scan(again, for: [Array(word.utf8), call.blob.bytes, words.bytes])
                #expect(left == [], "after \(n) deletion(s): \(left)")
                #expect(try again.fsck().damaged.isEmpty, "after \(n) deletion(s)")
                return finished
            }
            if finished { break }
            stopped += 1
        }
        #expect(stopped >= 4, "the purge was stopped at every deletion (words, chunks, two commits)")
    }
}

extension PurgeTests {
    /// Where any of `needles` occurs on a folder remote: every file's raw bytes, every object
    /// decompressed, every pack frame decoded (deltas through their bases; a marker inside
    /// compressed or audio-coded data is found too). `repo` decodes (its codecs and blobs).
    static func scanRemote(_ root: String, with repo: Repository, for needles: [[UInt8]]) throws -> [String] {
        var hits: [String] = []
        func check(_ bytes: [UInt8], _ what: String) {
            for n in needles where bytes.count >= n.count && bytes.firstRange(of: n) != nil { hits.append(what) }
        }
        let d = ZstdDecompressor()
        var packs: [(id: ObjectID, reader: PackReader, entries: [PackEntry])] = []
        let walker = FileManager.default.enumerator(atPath: root)
        while let rel = walker?.nextObject() as? String {
            let path = root + "/" + rel
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            let bytes = [UInt8](data)
            check(bytes, rel)
            if rel.hasPrefix("objects/"), let plain = try? bytes.withUnsafeBytes({ try d.decompress($0) }) {
                check(plain, rel + " (decompressed)")
            }
            if MetadataBundle.commit(ofKey: rel) != nil {
                let (frames, whole) = bytes.withUnsafeBytes { MetadataBundle.entries($0) }
                if !whole { hits.append(rel + " (not a whole bundle)") }
                for (id, frame) in frames {
                    if let plain = try? frame.withUnsafeBytes({ try d.decompress($0) }) { check(plain, rel + " (\(id.hex))") }
                }
            }
            if rel.hasPrefix("packs/"), rel.hasSuffix(".pack"), let id = ObjectID(hex: rel.dropFirst(6).dropLast(5)) {
                let reader = try PackReader(path: path)
                packs.append((id, reader, try reader.readIndex()))
            }
        }
        var lookup: [ObjectID: (PackReader, PackEntry, ObjectID)] = [:]
        for p in packs { for e in p.entries { lookup[e.id] = (p.reader, e, p.id) } }
        for p in packs {
            for e in p.entries {
                check(try repo.decodeFetched(e.id, lookup: lookup, decompressor: d, depth: 0), "packs/\(p.id.hex).pack blob \(e.id.short)")
            }
        }
        return hits
    }
}
