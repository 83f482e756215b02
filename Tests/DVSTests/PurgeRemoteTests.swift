import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// Issue 16, item 3: a purge travels with push and fetch. A speaker's audio, label row and a
/// call's transcript words, planted with markers on several branches, a cohort and a model's
/// snapshot, pushed to a folder remote and cloned, leave no byte on the remote or in the clone
/// once the purge is pushed and fetched; a stale clone cannot push them back; clones reach the
/// commit ids the purging repository made.
@Suite(.serialized) struct PurgeRemoteTests {
    typealias T = TestSupport

    /// The marker word planted in the call's Deepgram transcript.
    static let word = "zqxremoteword"

    @Test func aPurgeTravelsWithPushAndFetchAndNothingOfItStaysAnywhere() throws {
        try PurgeTests().withMarkedRepository { a, root in
            try T.withTemporaryDirectory { away in
                // A call whose transcript carries a marker word, on main.
                let ds = T.fixtures + "/dataset"
                try T.sh(
                    "cp '\(ds)/clips/call_0002_stereo.wav' '\(ds)/deepgram/call_0002_stereo.json' clips/ && sed -i 's/lakeside/\(Self.word)/gI' clips/call_0002_stereo.json",
                    in: root)
                _ = try a.commit(CommitOptions(message: "a call"))
                let victim = try #require(try a.entries(at: "main").first { $0.path.string == "clips/c3.wav" })
                let call = try #require(try a.entries(at: "main").first { $0.path.string == "clips/call_0002_stereo.wav" })
                let words = try #require(call.annotations?.transcript?.words)
                let model = try #require(try a.modelRecords().first)
                let remoteRoot = away + "/remote.dvs"
                _ = try a.addRemote(name: "origin", url: remoteRoot)
                _ = try a.push(remote: "origin", all: true, tags: true)
                let oldMain = try a.resolve("main")
                let oldTable = try String(contentsOfFile: root + "/labels.csv", encoding: .utf8)
                let oldClip = try Data(contentsOf: URL(fileURLWithPath: root + "/clips/c3.wav"))
                let needles = [PurgeTests.marker, Array(Self.word.utf8), victim.blob.bytes, call.blob.bytes, words.bytes]
                #expect(
                    Set(try PurgeTests.scanRemote(remoteRoot, with: a, for: [PurgeTests.marker, Array(Self.word.utf8)])).count >= 3,
                    "the markers are on the remote before the purge (the scan finds them)")

                // A clone with an unpushed commit on main, made before the purge.
                let bDir = away + "/b"
                let b = try Repository.clone(url: remoteRoot, into: bDir, context: T.processContext).repository
                try Data("from b\n".utf8).write(to: URL(fileURLWithPath: bDir + "/b-notes.txt"))
                _ = try b.commit(CommitOptions(message: "b notes"))

                let rule = PurgeRule(predicate: "speaker = 'spk3'", paths: ["clips/call_0002_stereo.wav"])
                let record = try #require(try a.purge(rule))
                #expect(record.samples == 2)
                let pushed = try a.push(remote: "origin", all: true, tags: true)
                let cleanup = try #require(pushed.purges)
                #expect(cleanup.recordsUploaded == 1 && cleanup.deferred.isEmpty, "\(cleanup)")
                #expect(cleanup.oldCommits == record.commits.count, "every replaced commit was on the remote")
                #expect(cleanup.packsDeleted >= 1 && cleanup.objectsDeleted > cleanup.oldCommits, "\(cleanup)")
                #expect(cleanup.recordsReplaced == 2, "the model and eval records naming the erased value left the remote")
                let records = try a.catalog.lineageRecordIDs()
                #expect(record.lineage.map { Set($0.values.compactMap(ObjectID.init(hex:))) } == records)
                #expect(pushed.refs.contains { $0.name == .branch("side") && $0.status == .rewritten }, "a branch not named moved too")
                #expect(try a.remote("origin").open(environment: [:]).readRef("refs/heads/main") != nil)
                let left = try PurgeTests.scanRemote(remoteRoot, with: a, for: needles)
                #expect(left == [], "no byte of the erased samples is left on the remote: \(left)")
                let remoteVerify = try a.verifyRemotePurges(remote: "origin")
                #expect(remoteVerify.found.isEmpty && remoteVerify.files > 5 && remoteVerify.ids > 2, "\(remoteVerify)")
                // A second push finds nothing left to do.
                let again = try #require(try a.push(remote: "origin", all: true, tags: true).purges)
                #expect(again.oldCommits == 0 && again.objectsDeleted == 0 && again.recordsUploaded == 0, "\(again)")

                // The stale clone cannot push the erased data back.
                do {
                    _ = try b.push(remote: "origin")
                    Issue.record("a clone without the purge pushed to the purged remote")
                } catch let e as DVSError {
                    #expect(e.code == .remote && e.message.contains("holds purge \(record.id.short)"), "\(e.message)")
                    #expect(e.next == .fetchPurgeFirst(remote: "origin"))
                }
                #expect(try PurgeTests.scanRemote(remoteRoot, with: a, for: needles) == [], "the refused push uploaded nothing")

                // Its fetch applies the purge: its own commit is rewritten, nothing erased is left.
                let fetched = try b.fetch(remote: "origin")
                #expect(fetched.purgesApplied.map(\.id) == [record.id])
                let bRecord = try #require(try b.purges().first)
                #expect(bRecord.commits[oldMain.hex] == record.commits[oldMain.hex], "the clone reaches the purging repository's ids")
                #expect(bRecord.lineage == record.lineage, "and its records'")
                #expect(try b.catalog.lineageRecordIDs() == records)
                #expect(try b.resolve("refs/remotes/origin/main") == a.resolve("main"))
                let bMain = try b.entries(at: "main").map(\.path.string)
                #expect(bMain.contains("b-notes.txt") && !bMain.contains("clips/c3.wav") && !bMain.contains("clips/call_0002_stereo.wav"))
                #expect(try b.isAncestor(a.resolve("main"), of: b.resolve("main")), "its own commit now builds on the rewritten history")
                #expect(!FileManager.default.fileExists(atPath: bDir + "/clips/c3.wav"), "its working tree followed")
                let bLeft = try PurgeTests.scan(b, for: needles)
                #expect(bLeft == [], "no byte of the erased samples is left in the clone: \(bLeft)")
                let bVerify = try b.verifyPurges()
                #expect(bVerify.found.isEmpty && bVerify.indexed.isEmpty, "\(bVerify)")
                #expect(try b.fsck().damaged.isEmpty)
                let audit = try b.audit(model: model.id)
                #expect(audit.erasedSamples == 1 && audit.erasedBy == [record.id], "the model's audit counts what was erased")
                let bPush = try b.push(remote: "origin")
                #expect(bPush.refs.first?.status == .fastForward)

                let purgedMain = try a.resolve("main")
                // Someone restores the erased clip and the old labels.csv here (theirs to do; push will
                // refuse it): a fetch must not drop the table version, an obsolete one, that commit needs.
                _ = try a.pull(remote: "origin")
                try oldClip.write(to: URL(fileURLWithPath: root + "/clips/c3.wav"))
                try Data(oldTable.utf8).write(to: URL(fileURLWithPath: root + "/labels.csv"))
                let restored = try a.commit(CommitOptions(message: "restore")).id
                let table = try #require(try a.entries(at: Revision(restored.hex)).first { $0.path.string == "labels.csv" })
                #expect(record.obsolete?.contains(table.blob.hex) == true, "the restored bytes are an obsolete version")
                _ = try a.fetch(remote: "origin")
                #expect(try a.blob(table.blob) == Array(oldTable.utf8), "the fetch kept the version a commit names")
                #expect(try a.fsck().damaged.isEmpty)
                #expect(throws: DVSError.self, "push refuses the erased clip") { try a.push(remote: "origin") }

                // A fresh clone of the purged remote knows the purge and holds nothing of it.
                let c = try Repository.clone(url: remoteRoot, into: away + "/c", context: T.processContext).repository
                #expect(try c.purges().map(\.id) == [record.id])
                #expect(try c.catalog.lineageRecordIDs() == records, "only the rewritten lineage records are fetched")
                #expect(try c.audit(model: model.id).record.labelDistribution == ["ok": 3], "the old model id resolves")
                #expect(try c.resolve(Revision(oldMain.hex)) == purgedMain, "an old id resolves in the new clone")
                #expect(try PurgeTests.scan(c, for: needles) == [])
                #expect(try c.fsck().damaged.isEmpty)
                #expect(try PurgeTests.scanRemote(remoteRoot, with: a, for: needles) == [])
            }
        }
    }

    /// A commit pushed by someone who built on the old history before the purge reached the
    /// remote: the purging repository's push moves what it can and waits; its fetch rewrites
    /// that commit as the clone will; the next push erases everything.
    @Test func aBranchBuiltOnPurgedHistoryIsRewrittenByFetchThenErasedByPush() throws {
        try PurgeTests().withMarkedRepository { a, root in
            try T.withTemporaryDirectory { away in
                let remoteRoot = away + "/remote.dvs"
                _ = try a.addRemote(name: "origin", url: remoteRoot)
                _ = try a.push(remote: "origin")
                let cDir = away + "/c"
                let c = try Repository.clone(url: remoteRoot, into: cDir, context: T.processContext).repository
                try c.createBranch("feat")
                _ = try c.checkout("feat")
                try T.sh("sed -i 's|^clips/c3.wav,es,spk3,ok-|clips/c3.wav,es,spk3,edited-|' labels.csv", in: cDir)
                _ = try c.commit(CommitOptions(message: "edit on the old history"))
                let oldFeat = try c.resolve("feat")
                _ = try c.push(remote: "origin", branches: ["feat"])

                let record = try #require(try a.purge(PurgeRule(predicate: "speaker = 'spk3'", paths: [])))
                let first = try #require(try a.push(remote: "origin").purges)
                #expect(first.deferred == [.branch("feat")] && first.objectsDeleted == 0, "\(first)")
                // A clone of only that branch now: its parent's replacement is fetched with it, and
                // the branch is rewritten onto it.
                let d = try Repository.clone(url: remoteRoot, into: away + "/d", branch: "feat", context: T.processContext).repository
                let dFeat = try d.resolve("feat")
                let dPaths = try d.entries(at: "feat").map(\.path.string)
                #expect(dFeat != oldFeat && !dPaths.contains("clips/c3.wav"))
                #expect(try d.commit(dFeat).parents == [a.resolve("main")], "built on the replacement of the commit it was built on")
                #expect(try d.fsck().damaged.isEmpty)
                // Over uncommitted changes the fetch that would rewrite feat stores nothing; once the
                // tree is clean again it does rewrite it (the refusal left nothing half done).
                let labels = try String(contentsOfFile: root + "/labels.csv", encoding: .utf8)
                try Data((labels + "clips/c9.wav,en,spk9,ok,more\n").utf8).write(to: URL(fileURLWithPath: root + "/labels.csv"))
                #expect(throws: DVSError.self) { try a.fetch(remote: "origin") }
                #expect(try a.catalog.ref(.branch("feat").tracking(on: "origin")!) == nil && !a.objects.contains(oldFeat.object))
                try Data(labels.utf8).write(to: URL(fileURLWithPath: root + "/labels.csv"))
                let fetched = try a.fetch(remote: "origin")
                #expect(fetched.purgesReapplied == [record.id])
                #expect(a.pendingPurges().isEmpty && !FileManager.default.fileExists(atPath: a.pendingPurgesPath))
                let newFeat = try a.resolve("refs/remotes/origin/feat")
                let featPaths = try a.entries(at: Revision(newFeat.hex)).map(\.path.string)
                #expect(newFeat != oldFeat && !featPaths.contains("clips/c3.wav"))
                #expect(newFeat == dFeat, "the clone of the branch rewrote it as this repository did")
                let second = try #require(try a.push(remote: "origin").purges)
                #expect(second.deferred.isEmpty && second.objectsDeleted > 0, "\(second)")
                let erasedID = try #require(record.erased.first.flatMap { ObjectID(hex: $0) })
                let needles = [PurgeTests.marker, erasedID.bytes]
                let left = try PurgeTests.scanRemote(remoteRoot, with: a, for: needles)
                #expect(left == [], "\(left)")
                #expect(try a.verifyRemotePurges(remote: "origin").found.isEmpty)

                // The one who built on the old history: refused, then its fetch of main alone (the
                // rewritten feat is not fetched, so it is rebuilt there) reaches the same commit.
                #expect(throws: DVSError.self) { try c.push(remote: "origin", branches: ["feat"]) }
                #expect(!c.objects.contains(newFeat.object), "the rewritten feat is not here before the fetch")
                _ = try c.fetch(remote: "origin", branch: "main")
                #expect(try c.resolve("feat") == newFeat, "rewriting is deterministic: the same commit id in both clones")
                #expect(try PurgeTests.scan(c, for: needles) == [])
            }
        }
    }

    /// A fetch that must apply a purge refuses while tracked files have uncommitted changes,
    /// and changes nothing.
    @Test func aFetchThatBringsAPurgeRefusesADirtyTree() throws {
        try PurgeTests().withMarkedRepository { a, root in
            try T.withTemporaryDirectory { away in
                let remoteRoot = away + "/remote.dvs"
                _ = try a.addRemote(name: "origin", url: remoteRoot)
                _ = try a.push(remote: "origin")
                let bDir = away + "/b"
                let b = try Repository.clone(url: remoteRoot, into: bDir, context: T.processContext).repository
                _ = try a.purge(PurgeRule(predicate: "speaker = 'spk3'", paths: []))
                _ = try a.push(remote: "origin")
                try T.sh("echo 'clips/c9.wav,en,spk9,ok,new' >> labels.csv", in: bDir)
                let before = try b.resolve("refs/remotes/origin/main")
                do {
                    _ = try b.fetch(remote: "origin")
                    Issue.record("the fetch applied a purge over uncommitted changes")
                } catch let e as DVSError {
                    #expect(e.code == .badInput && e.message.contains("uncommitted change"), "\(e.message)")
                    #expect(e.details == ["modified: labels.csv"])
                }
                #expect(try b.resolve("refs/remotes/origin/main") == before && b.purges().isEmpty, "nothing changed")
            }
        }
    }

    /// Two purges that each write the same model's record again (it counts samples per
    /// speaker), run back to back (same second: their order on disk is by id): the old id still
    /// resolves, the remote keeps only the last record, and a clone made before both fetches
    /// the chain and reaches the same records.
    @Test func aChainOfTwoPurgesOfOneRecordConvergesEverywhere() throws {
        try PurgeTests().withMarkedRepository { a, _ in
            try T.withTemporaryDirectory { away in
                try Data("w2".utf8).write(to: URL(fileURLWithPath: away + "/m2.bin"))
                var reg = ModelRegistration(artifactPath: away + "/m2.bin", revision: "main", name: "m2")
                reg.labelField = "speaker"
                let m2 = try a.registerModel(reg)
                #expect(m2.record.labelDistribution == ["spk0": 1, "spk1": 1, "spk2": 1, "spk3": 1])
                let remoteRoot = away + "/remote.dvs"
                _ = try a.addRemote(name: "origin", url: remoteRoot)
                _ = try a.push(remote: "origin", all: true, tags: true)
                let b = try Repository.clone(url: remoteRoot, into: away + "/b", context: T.processContext).repository
                #expect(try b.catalog.lineageRecordIDs().contains(m2.id.object))

                let first = try #require(try a.purge(PurgeRule(predicate: "speaker = 'spk3'", paths: [])))
                let second = try #require(try a.purge(PurgeRule(predicate: "speaker = 'spk2'", paths: [])))
                #expect(first.lineage?[m2.id.hex] != nil && second.lineage != nil)
                let now = try #require(try a.resolveModels("m2").first)
                #expect(now.record.labelDistribution == ["spk0": 1, "spk1": 1])
                #expect(try a.modelRecord(m2.id) == now.record, "the original id reads the last record")
                #expect(try a.audit(model: m2.id).id == now.id)
                #expect(try a.resolveModels(String(m2.id.hex.prefix(10))).map(\.id) == [now.id])
                let records = try a.catalog.lineageRecordIDs()
                #expect(records.contains(now.id.object) && !records.contains(m2.id.object))

                let pushed = try #require(try a.push(remote: "origin", all: true, tags: true).purges)
                #expect(pushed.recordsReplaced >= 2, "\(pushed)")
                let store = try a.remote("origin").open(environment: [:])
                let listed = Set(try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
                #expect(listed == records, "the remote lists exactly this repository's records")
                let v = try a.verifyRemotePurges(remote: "origin")
                #expect(v.found.isEmpty, "\(v.found)")

                // The clone fetches both purges at once, and the records the purger made.
                let fetched = try b.fetch(remote: "origin")
                #expect(fetched.purgesApplied.count == 2)
                #expect(try b.catalog.lineageRecordIDs() == records, "the same records as the purger")
                #expect(try b.modelRecord(m2.id) == now.record)
                let bv = try b.verifyPurges()
                #expect(bv.found.isEmpty && bv.indexed.isEmpty, "\(bv)")
                // Its push adds nothing to the remote's records.
                _ = try b.push(remote: "origin", all: true, tags: true)
                #expect(Set(try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) }) == records)
            }
        }
    }
}
