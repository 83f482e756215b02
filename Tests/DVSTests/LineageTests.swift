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
}
