import DVSCore
import Foundation

extension Repository {
    // MARK: Merge base

    /// The best common ancestors of two commits: common ancestors that are not ancestors of
    /// another common ancestor (git's merge-base --all), sorted by committer time, newest first
    /// (ties: larger id first).
    /// - Complexity: O(commits reachable from either) commit reads.
    public func mergeBases(_ a: CommitID, _ b: CommitID) throws -> [CommitID] {
        try MergeBases.best(a, b, commit: commit)
    }

    /// The cohort predicate in force on `tip`'s side since `base`: the newest commit on its
    /// first-parent chain, before reaching `base` or an ancestor of it, that records
    /// `cohort-predicate`.
    /// With `base` nil, the newest on the whole first-parent chain.
    func cohortPredicate(since base: CommitID?, on tip: CommitID) throws -> String? {
        try newestCohortCut(on: tip, since: base)?.commit.extra[CohortHeader.predicate]
    }
}

/// Merge bases computed over any commit reader (a repository's objects, or commits in memory).
enum MergeBases {
    /// The best common ancestors of `a` and `b`: common ancestors that are not ancestors of
    /// another common ancestor (git's merge-base --all), sorted by committer time, newest first
    /// (ties: larger id first).
    /// - Parameter commit: reads a commit by id.
    /// - Throws: what `commit` throws.
    /// - Complexity: O(commits reachable from either) commit reads.
    static func best(_ a: CommitID, _ b: CommitID, commit: (CommitID) throws -> Commit) throws -> [CommitID] {
        func ancestors(_ start: CommitID) throws -> Set<CommitID> {
            var seen: Set<CommitID> = [start]
            var stack = [start]
            while let c = stack.popLast() {
                for p in try commit(c).parents where seen.insert(p).inserted { stack.append(p) }
            }
            return seen
        }
        let common = try ancestors(a).intersection(ancestors(b))
        var dominated = Set<CommitID>()
        for c in common {
            var stack = try commit(c).parents
            while let x = stack.popLast() {
                guard dominated.insert(x).inserted else { continue }
                stack.append(contentsOf: try commit(x).parents)
            }
        }
        return try common.subtracting(dominated).map { ($0, try commit($0).committer.time) }
            .sorted { ($0.1, $0.0.hex) > ($1.1, $1.0.hex) }.map(\.0)
    }
}

/// How cohort cuts shape a merge (`schema/MERGE.md`): a cohort's history cut samples away, and
/// those must not count as deletions on the cohort's side.
enum CohortMergeRules {
    /// The merge base cut by every distinct predicate, in the order given (nil: that side has
    /// no cut since the base), so the samples a cohort never had do not count as deleted on it.
    /// - Parameters:
    ///   - cut: restricts entries to the samples matching a predicate (`Repository.cohortCut`).
    /// - Throws: what `cut` throws.
    static func cutBase(
        _ base: [ManifestEntry], predicates: [String?], cut: ([ManifestEntry], String) throws -> [ManifestEntry]
    ) rethrows -> [ManifestEntry] {
        var distinct: [String] = []
        for case let p? in predicates where !distinct.contains(p) { distinct.append(p) }
        var entries = base
        for p in distinct { entries = try cut(entries, p) }
        return entries
    }

    /// Whether a merge where HEAD is the base may fast-forward: taking a cohort's history
    /// wholesale into a branch that is not that cohort would delete the samples it cut away, so
    /// it fast-forwards only when their side has no cut since HEAD (`theirCut` nil) or the same
    /// cut as ours (`ourCut`).
    static func allowsFastForward(theirCut: String?, ourCut: String?) -> Bool {
        theirCut == nil || theirCut == ourCut
    }
}
