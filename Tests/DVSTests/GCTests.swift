import DVSCatalog
import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// `dvs gc` (issue 16): what nothing needs goes once it is older than the grace period, what a
/// ref, reflog entry or record needs stays, and a reader of a rewritten pack finishes.
@Suite(.serialized) struct GCTests {
    typealias T = TestSupport

    /// A repository with three recordings committed on main, and, unreferenced, a commit that
    /// holds `x.txt` (also on main's branch `keep`) and a garbage blob `g.bin` in one pack.
    func withGarbage(_ body: (Repository, _ garbage: ObjectID, _ needed: ObjectID, _ orphan: CommitID) throws -> Void) throws {
        try T.withTemporaryRepository { repo in
            let recs = T.debianRecordings(limit: 3).filter { $0.hasSuffix(".wav") }
            try #require(recs.count >= 3, "alsa-utils recordings are installed")
            try FileManager.default.createDirectory(atPath: repo.root + "/clips", withIntermediateDirectories: true)
            for (i, r) in recs.prefix(3).enumerated() {
                try FileManager.default.copyItem(atPath: r, toPath: repo.root + "/clips/c\(i).wav")
            }
            _ = try repo.commit(CommitOptions(message: "base"))
            // One pack with a needed and a garbage blob (as a killed or refused write leaves).
            let x = Array("needed by branch keep\n".utf8)
            var g = [UInt8](repeating: 0, count: 200_000)
            var rng = SeededGenerator(seed: 7)
            for i in g.indices { g[i] = UInt8.random(in: 0...255, using: &rng) }
            let xe = ManifestEntry(path: RepoPath("x.txt"), kind: .file, blob: ObjectID.hashing(x), byteCount: UInt64(x.count))
            let ge = ManifestEntry(path: RepoPath("g.bin"), kind: .file, blob: ObjectID.hashing(g), byteCount: UInt64(g.count))
            let lock = try repo.lock("test")
            let orphan = try repo.composeCommit([ge, xe], newContent: [xe.blob: x, ge.blob: g], parents: [], message: "garbage")
            let kept = try repo.composeCommit([xe], newContent: [:], parents: [], message: "keep")
            try repo.catalog.write { tx in
                try repo.recordComposed(orphan.packs, orphan.id, orphan.commit, in: tx)
                try repo.recordComposed(kept.packs, kept.id, kept.commit, in: tx)
                try tx.moveRefs([RefUpdate(name: .branch("keep"), expected: nil, new: kept.id, message: "test")], who: repo.identity)
            }
            lock.release()
            try body(repo, ge.blob, xe.blob, orphan.id)
        }
    }

    @Test func unneededDataGoesOnlyAfterTheGracePeriod() throws {
        try withGarbage { repo, garbage, needed, orphan in
            let young = try repo.gc()
            #expect(young.objectsDeleted == 0 && young.blobsDropped == 0, "everything is younger than 14 days")
            #expect(try repo.blobs.contains(garbage))
            // Age everything by three weeks.
            _ = try T.sh("find '\(repo.root)/.dvs/objects' '\(repo.root)/.dvs/packs' -type f -exec touch -d '21 days ago' {} +")
            let dry = try repo.gc(dryRun: true)
            #expect(dry.objectsDeleted >= 2 && dry.blobsDropped == 1)
            #expect(try repo.blobs.contains(garbage), "a dry run removes nothing")
            let r = try repo.gc()
            #expect(r.objectsDeleted == dry.objectsDeleted && r.blobsDropped == 1 && r.packsRewritten == 1)
            #expect(r.bytesReclaimed > 150_000, "the random 200 kB blob is reclaimed: \(r)")
            #expect(try !repo.blobs.contains(garbage))
            #expect(!repo.objects.contains(orphan.object))
            #expect(try repo.blob(needed) == Array("needed by branch keep\n".utf8), "the blob a branch needs stays")
            for rev in ["main", "keep"] { #expect(try !repo.entries(at: Revision(rev)).isEmpty) }
            #expect(try repo.fsck().damaged.isEmpty)
            let again = try repo.gc(GCOptions.withGrace(0))
            #expect(again.objectsDeleted == 0 && again.blobsDropped == 0, "nothing is left to remove")
        }
    }

    @Test func aReaderOfARewrittenPackFinishes() throws {
        try withGarbage { repo, garbage, needed, _ in
            let reader = try Repository.discover(from: repo.root, context: T.processContext)
            #expect(try reader.blob(needed).count > 0, "the reader has the pack open")
            let r = try repo.gc(GCOptions.withGrace(0))
            #expect(r.blobsDropped == 1 && r.packsRewritten >= 1)
            #expect(try reader.blob(needed) == Array("needed by branch keep\n".utf8), "the reader still reads it")
            for e in try reader.entries(at: "main") { #expect(try reader.blob(e.blob).count == Int(e.byteCount)) }
            #expect(try !repo.blobs.contains(garbage))
        }
    }

    /// `--dry-run` counts what the reflog's expiry would free: before, it kept every reflog entry
    /// as a root and reported none of a deleted branch's samples.
    @Test func aDryRunCountsWhatTheReflogExpiryFrees() throws {
        try withGarbage { repo, _, _, _ in
            let g = try commitScratchOnBranchTmp(repo, seed: 9)
            _ = try repo.deleteBranch("tmp", force: true)
            let dry = try repo.gc(GCOptions.withGrace(0), dryRun: true)
            #expect(try repo.blobs.contains(ObjectID.hashing(g)), "a dry run removes nothing")
            #expect(try !repo.reflog("refs/heads/tmp").isEmpty, "nor expires anything")
            let real = try repo.gc(GCOptions.withGrace(0))
            #expect(real.reflogEntriesExpired > 0)
            #expect(dry.reflogEntriesExpired == real.reflogEntriesExpired)
            #expect(dry.objectsDeleted == real.objectsDeleted && dry.objectBytes == real.objectBytes)
            #expect(dry.blobsDropped == real.blobsDropped && dry.packsRewritten == real.packsRewritten)
            #expect(dry.packBytesBefore == real.packBytesBefore, "\(dry) vs \(real)")
        }
    }

    /// Samples only a deleted branch held: kept while its reflog entries are younger than the
    /// grace period, reclaimed by `--prune=now` (the entries expire with it).
    @Test func aDeletedBranchsSamplesAreReclaimedOnceItsReflogExpires() throws {
        try withGarbage { repo, _, needed, _ in
            let g = try commitScratchOnBranchTmp(repo, seed: 9)
            _ = try repo.deleteBranch("tmp", force: true)
            let kept = try repo.gc()
            let stillThere = try repo.blobs.contains(ObjectID.hashing(g))
            #expect(kept.reflogEntriesExpired == 0 && stillThere, "young reflog entries protect it")
            let r = try repo.gc(GCOptions.withGrace(0))
            #expect(r.reflogEntriesExpired > 0)
            #expect(try !repo.blobs.contains(ObjectID.hashing(g)))
            #expect(r.bytesReclaimed > 250_000, "\(r)")
            #expect(try repo.blob(needed).count > 0)
            let damage = try repo.fsck().damaged
            #expect(damage.isEmpty, "\(damage)")
            #expect(try repo.reflog().allSatisfy { e in e.new.map { repo.objects.contains($0.object) } ?? true })
        }
    }

    /// A purge rewrites every branch holding the erased sample, deleted-later ones too; its
    /// record's new commits are roots for later purges, not for gc, so a branch deleted after
    /// a purge still gives its space back once its reflog expires (third review).
    @Test func aBranchDeletedAfterAPurgeIsStillReclaimed() throws {
        try withGarbage { repo, _, needed, _ in
            let g = try commitScratchOnBranchTmp(repo, seed: 11)
            let record = try #require(try repo.purge(PurgeRule(predicate: nil, paths: ["clips/c0.wav"])))
            #expect(record.refs.contains("refs/heads/tmp"), "\(record.refs)")
            _ = try repo.deleteBranch("tmp", force: true)
            let r = try repo.gc(GCOptions.withGrace(0))
            #expect(try !repo.blobs.contains(ObjectID.hashing(g)), "\(r)")
            #expect(try repo.blob(needed).count > 0)
            #expect(try repo.entries(at: "HEAD").map(\.path.string).sorted() == ["clips/c1.wav", "clips/c2.wav"])
            let damage = try repo.fsck().damaged
            #expect(damage.isEmpty, "\(damage)")
        }
    }

    /// Commits 300,000 random bytes (`scratch.bin`) on a new branch `tmp` and goes back to
    /// main; returns the bytes.
    func commitScratchOnBranchTmp(_ repo: Repository, seed: UInt64) throws -> [UInt8] {
        try repo.createBranch("tmp")
        _ = try repo.checkout("tmp")
        var g = [UInt8](repeating: 0, count: 300_000)
        var rng = SeededGenerator(seed: seed)
        for i in g.indices { g[i] = UInt8.random(in: 0...255, using: &rng) }
        try Data(g).write(to: URL(fileURLWithPath: repo.root + "/scratch.bin"))
        _ = try repo.commit(CommitOptions(message: "scratch"))
        _ = try repo.checkout("main")
        return g
    }

    @Test func pruneValuesParse() {
        #expect(GCOptions.grace(parsing: "now") == 0)
        #expect(GCOptions.grace(parsing: "2.weeks.ago") == 14.0 * 86_400)
        #expect(GCOptions.grace(parsing: "3.days.ago") == 3.0 * 86_400)
        #expect(GCOptions.grace(parsing: "1.hour.ago") == 3_600)
        #expect(GCOptions.grace(parsing: "soon") == nil)
    }

    @Test func theBlobCacheIsKeptUnderItsLimitLeastRecentlyUsedFirst() throws {
        try T.withTemporaryRepository { repo in
            let dir = repo.blobCacheDir + "/ab"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<4 {
                try Data(repeating: UInt8(i), count: 1000).write(to: URL(fileURLWithPath: dir + "/f\(i)"))
                _ = try T.sh("touch -a -m -d '\(10 - i) days ago' '\(dir)/f\(i)'")
            }
            var o = GCOptions()
            o.cacheLimit = 2500
            let r = try repo.gc(o)
            #expect(r.cacheFilesEvicted == 2 && r.cacheBytesEvicted == 2000)
            #expect(!FileManager.default.fileExists(atPath: dir + "/f0") && FileManager.default.fileExists(atPath: dir + "/f3"))
        }
    }
}

extension GCOptions {
    /// Options with `grace` seconds and every pack with garbage rewritten.
    static func withGrace(_ grace: TimeInterval) -> GCOptions {
        var o = GCOptions()
        o.grace = grace
        o.rewriteFraction = 0
        return o
    }
}
