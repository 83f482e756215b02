import DVSCatalog
import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// Model records in the library: cohort headers found through first-parent ancestry, training
/// subsets, eval records linked to their model.
@Suite struct LineageTests {
    /// Writes a commit with `extra` headers on top of `parent` (same snapshot) and points `branch` at it.
    func commit(_ repo: Repository, on parent: CommitID, extra: [String: String], branch: String) throws -> CommitID {
        let p = try repo.commit(parent)
        let sig = Signature(name: "T", email: "t@e", time: p.committer.time + 1)
        let c = Commit(
            manifest: p.manifest, parents: [parent], author: sig, committer: sig, totals: p.totals, extra: extra, message: "cohort")
        let id = CommitID(try repo.objects.write(c.encoded()))
        let current = try repo.catalog.ref(.branch(branch))
        try repo.catalog.write { tx in
            try tx.insertCommit(id, c)
            try tx.moveRefs([RefUpdate(name: .branch(branch), expected: current, new: id, message: "test")], who: "T <t@e>")
        }
        return id
    }

    @Test func cohortPredicateComesFromTheCommitOrItsFirstParentAncestry() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.speak("uno dos tres", to: repo.root + "/es/a.wav", voice: "es")
            try TestSupport.speak("one two three", to: repo.root + "/en/b.wav")
            try TestSupport.write(Data("file_name,lang\nes/a.wav,es\nen/b.wav,en\n".utf8), to: repo.root + "/metadata.csv")
            let base = try repo.commit(CommitOptions(message: "two clips")).id
            let root = try commit(
                repo, on: base, extra: ["cohort-predicate": "lang = 'es'", "cohort-source": base.hex], branch: "cohort/es")
            let tip = try commit(repo, on: root, extra: [:], branch: "cohort/es")
            try TestSupport.write(Data("weights".utf8), to: repo.root + "/../model.bin")
            var reg = ModelRegistration(artifactPath: repo.root + "/../model.bin", revision: "cohort/es")
            reg.labelField = "lang"
            let (id, record) = try repo.registerModel(reg)
            #expect(record.snapshot == tip)
            #expect(record.cohortPredicate == "lang = 'es'" && record.cohortSource == base)
            #expect(record.labelDistribution == ["es": 1, "en": 1] && record.sampleCount == 2)
            #expect(try repo.modelRecord(id) == record, "the stored record reads back")
            // On main (no cohort header anywhere in its ancestry) there is none.
            let plain = try repo.registerModel(ModelRegistration(artifactPath: repo.root + "/../model.bin", revision: "main"))
            #expect(plain.record.cohortPredicate == nil)
            #expect(try repo.resolveModels(repo.root + "/../model.bin").count == 2, "one artifact, two records")
        }
    }

    @Test func trainingSubsetAndEvalRecordsLinkToTheModel() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.speak("alpha", to: repo.root + "/a.wav")
            try TestSupport.speak("beta", to: repo.root + "/b.wav", sampleRate: 8000)
            let c = try repo.commit(CommitOptions(message: "clips")).id
            try TestSupport.write(Data("w".utf8), to: repo.root + "/../m.bin")
            var reg = ModelRegistration(artifactPath: repo.root + "/../m.bin", revision: "main", name: "subset")
            reg.trainingSamples = [ObjectID.hashing(try TestSupport.read(repo.root + "/a.wav"))]
            let (model, record) = try repo.registerModel(reg)
            #expect(record.sampleCount == 1, "only the samples trained on are counted")
            var ev = EvalRegistration(model: model, revision: Revision(c), metrics: ["accuracy": .number(0.5)], sampleCount: 2)
            ev.leakedSamples = 1
            ev.slices = ["rate=8000": ["accuracy": .number(0)]]
            let (eid, erec) = try repo.recordEval(ev)
            let audit = try repo.audit(model: model)
            #expect(audit.evals.map(\.id) == [eid] && audit.evals.first?.record == erec)
            #expect(erec.snapshot == c && erec.leakedSamples == 1)
            #expect(throws: DVSError.self) {
                try repo.recordEval(EvalRegistration(model: ModelID(ObjectID.hashing([1])), revision: "main", metrics: [:], sampleCount: 0))
            }
            #expect(throws: DVSError.self) {
                try repo.registerModel(ModelRegistration(artifactPath: repo.root + "/../missing.bin", revision: "main"))
            }
            #expect(try repo.catalog.models().count == 1, "a missing artifact registers nothing")
        }
    }
    /// What a pass over every sample of `revision` counts (the way `snapshotLineage` counted
    /// before it read the commit's totals and label distribution).
    func tallied(_ repo: Repository, _ revision: Revision, field: String) throws -> (n: Int, hours: Double, counts: [String: Int]) {
        var n = 0
        var seconds = 0.0
        var counts: [String: Int] = [:]
        for e in try repo.entries(ofManifest: repo.commit(repo.resolve(revision)).manifest) {
            guard let a = e.audio else { continue }
            n += 1
            seconds += a.duration
            counts[e.annotations?[label: field]?.text ?? "", default: 0] += 1
        }
        return (n, seconds / 3600, counts)
    }

    /// Writes `count` short clips under `clips/` (each a different length, none a whole number of
    /// microseconds at 16 kHz when odd) and a `metadata.csv` with the given rows after the header.
    func writeClips(_ repo: Repository, count: Int, header: String, row: (Int) -> String) throws {
        var csv = "file_name," + header + "\n"
        for i in 0..<count {
            let path = String(format: "clips/%03d.wav", i)
            try TestSupport.write(
                Data(BlobStoreContract.wav(format: 1, channels: 1, frames: 1601 + 7 * i)), to: repo.root + "/" + path)
            csv += path + "," + row(i) + "\n"
        }
        try TestSupport.write(Data(csv.utf8), to: repo.root + "/metadata.csv")
    }

    /// A whole snapshot's sample count, hours and label counts come from the commit's totals and
    /// label distribution, and equal a pass over its samples: samples without a value (empty
    /// cell, absent field) under "", numbers and booleans as their text; a field the distribution
    /// does not tally (too many values, fractional) and a training subset are counted over the
    /// entries. The same holds with the cached distribution gone (recomputed on the miss).
    @Test func wholeSnapshotCountsEqualAPassOverItsSamples() throws {
        try TestSupport.withTemporaryRepository { repo in
            try writeClips(repo, count: 70, header: "lang,speaker,score,n,ok") { i in
                let lang = i % 10 == 9 ? "" : ["es", "en", "de"][i % 3]
                return "\(lang),spk\(i),\(Double(i) / 4),\(i % 4),\(i % 2 == 0 ? "true" : "false")"
            }
            try TestSupport.write(Data(BlobStoreContract.wav(format: 1, channels: 1, frames: 3001)), to: repo.root + "/extra/x.wav")
            _ = try repo.commit(CommitOptions(message: "clips"))
            for field in ["lang", "speaker", "score", "n", "ok", "absent"] {
                let want = try tallied(repo, "main", field: field)
                let got = try repo.snapshotLineage("main", labelField: field)
                #expect(got.labelDistribution == want.counts, "\(field)")
                // The totals sum whole microseconds: each sample's duration rounded down.
                #expect(got.sampleCount == want.n && abs(got.hours - want.hours) * 3.6e9 <= Double(want.n), "\(field)")
            }
            #expect(try repo.snapshotLineage("main", labelField: "lang").labelDistribution["", default: 0] == 8)
            #expect(try repo.snapshotLineage("main", labelField: "n").labelDistribution == ["0": 18, "1": 18, "2": 17, "3": 17, "": 1])
            #expect(try repo.snapshotLineage("main").labelDistribution.isEmpty)
            // A second commit carries the distribution from the first; then with the cache gone.
            try writeClips(repo, count: 60, header: "lang,speaker,score,n,ok") { i in "fr,spk\(i),0.5,\(i % 3),true" }
            _ = try repo.commit(CommitOptions(message: "fewer, relabelled"))
            for drop in [false, true] {
                if drop { for suffix in ["", "-wal", "-shm"] { unlink(repo.sampleIndexPath + suffix) } }
                for field in ["lang", "n", "score"] {
                    let want = try tallied(repo, "main", field: field)
                    #expect(try repo.snapshotLineage("main", labelField: field).labelDistribution == want.counts, "\(field) \(drop)")
                }
            }
            // A training subset is counted over its samples.
            let two = try repo.entries(ofManifest: repo.commit(repo.resolve("main")).manifest).filter { $0.audio != nil }.prefix(2)
            let subset = try repo.snapshotLineage("main", labelField: "lang", only: Set(two.map(\.blob)))
            #expect(subset.sampleCount == 2 && subset.labelDistribution == ["fr": 2])
            #expect(abs(subset.hours - two.reduce(0) { $0 + $1.audio!.duration } / 3600) < 1e-12)
        }
    }

    /// `HEAD` is recorded as its branch; a revision with steps (`HEAD~1`, `main~1`) and a
    /// detached HEAD name what HEAD or the branch was, so the record keeps the commit they
    /// resolved to; other revisions are kept as given.
    @Test func revisionsRelativeToHeadAreRecordedAsTheirCommit() throws {
        try TestSupport.withTemporaryRepository { repo in
            try writeClips(repo, count: 2, header: "lang") { _ in "es" }
            let first = try repo.commit(CommitOptions(message: "one")).id
            try writeClips(repo, count: 3, header: "lang") { _ in "en" }
            let second = try repo.commit(CommitOptions(message: "two")).id
            try TestSupport.write(Data("w".utf8), to: repo.root + "/../m.bin")
            func register(_ revision: Revision) throws -> ModelRecord {
                var reg = ModelRegistration(artifactPath: repo.root + "/../m.bin", revision: revision)
                reg.labelField = "lang"
                return try repo.registerModel(reg).record
            }
            let back = try register("HEAD~1")
            #expect(back.snapshot == first && back.revision == first.hex && back.labelDistribution == ["es": 2])
            let head = try register("HEAD")
            #expect(head.snapshot == second && head.revision == "main" && head.sampleCount == 3)
            #expect(try register("main~1").revision == first.hex, "main moves on; main~1 would name another commit later")
            #expect(try register("main").revision == "main")
            #expect(try register(Revision(first)).revision == first.hex)
            let (id, _) = try repo.registerModel(ModelRegistration(artifactPath: repo.root + "/../m.bin", revision: "HEAD^1"))
            #expect(try repo.modelRecord(id).revision == first.hex, "stored so, and read back")
            #expect(try repo.audit(model: id).branch == nil, "no branch to follow")
            _ = try repo.checkout(Revision(first))
            let detached = try register("HEAD")
            #expect(detached.snapshot == first && detached.revision == first.hex)
        }
    }

    /// After a registration the snapshot is loaded into the sample index only when a parent is
    /// there (so only the leaves it changed are read); otherwise the first audit or query does it.
    @Test func registrationIndexesTheSnapshotOnlyWhenItsParentIsIndexed() throws {
        try TestSupport.withTemporaryRepository { repo in
            try writeClips(repo, count: 4, header: "lang") { _ in "es" }
            let first = try repo.commit(CommitOptions(message: "one")).id
            try TestSupport.write(Data("w".utf8), to: repo.root + "/../m.bin")
            _ = try repo.registerModel(ModelRegistration(artifactPath: repo.root + "/../m.bin", revision: "main"))
            #expect(try repo.openSampleIndex().missing([first]) == [first], "no parent indexed: left to the audit")
            #expect(try repo.auditSamples("lang = 'es'").count == 1)
            try writeClips(repo, count: 5, header: "lang") { _ in "es" }
            let second = try repo.commit(CommitOptions(message: "two")).id
            _ = try repo.registerModel(ModelRegistration(artifactPath: repo.root + "/../m.bin", revision: "main"))
            #expect(try repo.openSampleIndex().missing([second]).isEmpty, "parent indexed: indexed now")
        }
    }
    /// The cohort cut found for a commit is remembered (for it and every 256th commit walked),
    /// answers agree with a full walk, and a later lookup from a descendant stops at the first
    /// remembered answer instead of walking the whole history again.
    @Test func cohortCutLookupsAreRememberedAndAgreeWithAFullWalk() throws {
        try TestSupport.withTemporaryRepository { repo in
            try writeClips(repo, count: 2, header: "lang") { _ in "es" }
            let base = try repo.commit(CommitOptions(message: "base")).id
            // 260 commits on main, written at once.
            var chain: [(CommitID, Commit)] = []
            var tip = base
            for i in 0..<260 {
                let p = try repo.commit(tip)
                let sig = Signature(name: "T", email: "t@e", time: p.committer.time + 1)
                let c = Commit(manifest: p.manifest, parents: [tip], author: sig, committer: sig, totals: p.totals, message: "\(i)")
                tip = CommitID(try repo.objects.write(c.encoded()))
                chain.append((tip, c))
            }
            try repo.catalog.write { tx in
                try tx.insertCommits(chain)
                try tx.moveRefs([RefUpdate(name: .branch("main"), expected: base, new: tip, message: "test")], who: "T <t@e>")
            }
            #expect(try repo.rememberedCohortCut(on: tip) == nil && repo.newestCohortCut(on: tip) == nil)
            func lines() throws -> [String] {
                String(decoding: try TestSupport.read(repo.cohortCutMemoPath), as: UTF8.self).split(separator: "\n").map(String.init)
            }
            #expect(try lines().count == 2 && lines().first == tip.hex + " -", "the tip and the 256th commit walked")
            let cut = try commit(repo, on: tip, extra: ["cohort-predicate": "lang = 'es'", "cohort-source": base.hex], branch: "cohort/es")
            var onCohort = cut
            for _ in 0..<3 { onCohort = try commit(repo, on: onCohort, extra: [:], branch: "cohort/es") }
            #expect(try repo.rememberedCohortCut(on: onCohort)?.id == cut && repo.newestCohortCut(on: onCohort)?.id == cut)
            #expect(try repo.rememberedCohortCut(on: onCohort)?.commit.extra["cohort-predicate"] == "lang = 'es'", "remembered now")
            // On main the walk stops at the tip's remembered answer: made up here, to show it is
            // not walked past (a later line for a commit wins).
            let next = try commit(repo, on: tip, extra: [:], branch: "main")
            let memo = try #require(FileHandle(forWritingAtPath: repo.cohortCutMemoPath))
            memo.seekToEndOfFile()
            memo.write(Data("\(tip.hex) \(cut.hex)\nnot a line\n".utf8))
            memo.closeFile()
            #expect(try repo.rememberedCohortCut(on: next)?.id == cut)
            #expect(try repo.newestCohortCut(on: next) == nil)
        }
    }
}
