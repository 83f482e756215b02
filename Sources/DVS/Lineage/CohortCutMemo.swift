import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension Repository {
    /// `.dvs/cache/cohort-cuts`: per commit looked up, the newest cohort cut on its first-parent
    /// chain. One line each, `<commit hex> <cut commit hex>` or `<commit hex> -` for none;
    /// appended, never rewritten. A cache: commits never change, so an answer stays true;
    /// unreadable lines are skipped and the file may be deleted.
    var cohortCutMemoPath: String { cacheDir + "/cohort-cuts" }

    /// The newest cohort cut on `tip`'s first-parent chain, as ``newestCohortCut(on:since:)``
    /// finds it (first commit walking back with a `cohort-predicate` header), remembered in
    /// ``cohortCutMemoPath``: the walk stops at the first commit whose answer is remembered,
    /// and the answer is remembered for `tip` and every 256th commit walked, so a later lookup
    /// from a descendant walks only the commits made since (at most 256 along a walked chain).
    /// - Returns: the cut's commit, or nil when the chain has none (within 100,000 commits).
    /// - Throws: `DVSError.corrupt` when a commit cannot be read.
    func rememberedCohortCut(on tip: CommitID) throws -> (id: CommitID, commit: Commit)? {
        let memo = readCohortCutMemo()
        var walked: [CommitID] = []
        var next: CommitID? = tip
        var answer: CommitID??
        while let id = next, walked.count < 100_000 {
            if let known = memo[id] {
                answer = .some(known)
                break
            }
            let c = try commit(id)
            if c.extra[CohortHeader.predicate] != nil {
                answer = .some(id)
                break
            }
            walked.append(id)
            next = c.parents.first
        }
        if next == nil { answer = .some(nil) }  // the root passed: there is none
        guard let cut = answer else { return nil }  // too long a chain: not remembered
        var remember = walked.enumerated().filter { $0.offset % 256 == 255 }.map(\.element)
        if memo[tip] == nil { remember.insert(tip, at: 0) }
        appendCohortCutMemo(remember.map { ($0, cut) })
        return try cut.map { ($0, try commit($0)) }
    }

    /// The remembered answers (lines that do not parse are skipped).
    private func readCohortCutMemo() -> [CommitID: CommitID?] {
        guard let bytes = try? FileIO.read(cohortCutMemoPath) else { return [:] }
        var out: [CommitID: CommitID?] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let id = CommitID(hex: parts[0]) else { continue }
            if parts[1] == "-" {
                out[id] = .some(nil)
            } else if let cut = CommitID(hex: parts[1]) {
                out[id] = .some(cut)
            }
        }
        return out
    }

    /// Appends answers in one write (best effort: a cache).
    private func appendCohortCutMemo(_ answers: [(CommitID, CommitID?)]) {
        guard !answers.isEmpty, (try? prepareCacheDir()) != nil else { return }
        let text = answers.map { "\($0.0.hex) \($0.1?.hex ?? "-")\n" }.joined()
        let fd = Glibc.open(cohortCutMemoPath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}
