import DVSCatalog
import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// The bug: `log` ordered commits by committer time in whole seconds with ties broken by the
/// larger id, so commits made within one second came out in a random order (and the graph of
/// `MergeCLITests.cohortLifecycle` failed about one run in several).
@Suite struct LogOrderTests {
    /// Writes a commit at the fixed committer time `time` with `parents` (same snapshot as the
    /// first parent) and records it in the catalog.
    func commit(_ repo: Repository, parents: [CommitID], time: Int64, message: String) throws -> (CommitID, Commit) {
        let p = try repo.commit(parents[0])
        let sig = Signature(name: "T", email: "t@e", time: time)
        let c = Commit(manifest: p.manifest, parents: parents, author: sig, committer: sig, totals: p.totals, message: message)
        return (CommitID(try repo.objects.write(c.encoded())), c)
    }

    @Test func sameSecondCommitsAreLoggedLaterRecordedFirstNotByID() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.write(Data("a".utf8), to: repo.root + "/a.txt")
            let base = try repo.commit(CommitOptions(message: "base")).id
            let second = try repo.commit(base).committer.time + 100
            // A chain of five commits, all within one second.
            var chain: [CommitID] = []
            var tip = base
            for i in 0..<5 {
                let (id, c) = try commit(repo, parents: [tip], time: second, message: "chain \(i)")
                try repo.catalog.write { tx in try tx.insertCommit(id, c) }
                chain.append(id)
                tip = id
            }
            #expect(try repo.log(from: tip).map(\.0) == chain.reversed() + [base])
            // Two siblings and their merge in the same second: the later-recorded sibling first.
            let (x, cx) = try commit(repo, parents: [tip], time: second, message: "x")
            let (y, cy) = try commit(repo, parents: [tip], time: second, message: "y")
            let (m, cm) = try commit(repo, parents: [x, y], time: second, message: "merge")
            try repo.catalog.write { tx in
                try tx.insertCommit(x, cx)
                try tx.insertCommit(y, cy)
                try tx.insertCommit(m, cm)
            }
            #expect(try repo.log(from: m).map(\.0) == [m, y, x] + chain.reversed() + [base])
        }
    }

    @Test func aBatchOfSameSecondCommitsIsRecordedParentsFirst() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.write(Data("a".utf8), to: repo.root + "/a.txt")
            let base = try repo.commit(CommitOptions(message: "base")).id
            let second = try repo.commit(base).committer.time + 100
            var batch: [(CommitID, Commit)] = []
            var tip = base
            for i in 0..<5 {
                let (id, c) = try commit(repo, parents: [tip], time: second, message: "fetched \(i)")
                batch.append((id, c))
                tip = id
            }
            // A fetch hands its commits over newest first (or in any order).
            try repo.catalog.write { tx in try tx.insertCommits(batch.reversed()) }
            #expect(try repo.log(from: tip).map(\.0) == batch.map(\.0).reversed() + [base])
            #expect(try repo.catalog.recordingOrder(of: batch[0].0)! < repo.catalog.recordingOrder(of: batch[4].0)!)
        }
    }
}
