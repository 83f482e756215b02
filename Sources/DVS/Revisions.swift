import DVSCatalog
import DVSCore
import Foundation

extension Repository {
    /// Resolves a revision to a commit.
    ///
    /// Grammar (a subset of gitrevisions(7)): `HEAD`, a branch (`main`, `refs/heads/main`), a tag
    /// (`v1`, `refs/tags/v1`), a full or unique-prefix commit id (≥ 4 hex digits), each optionally
    /// followed by any mix of `~N` (N-th first-parent ancestor, `~` alone is `~1`), `^` (first
    /// parent) and `^N` (N-th parent).
    /// - Throws: `DVSError.unknownRevision` naming the revision, with a hint; also when a prefix is
    ///   ambiguous or an ancestor does not exist.
    public func resolve(_ revision: String) throws -> CommitID {
        guard !revision.isEmpty else { throw DVSError(.unknownRevision, "empty revision", hint: "name a commit, branch or HEAD") }
        var baseEnd = revision.endIndex
        if let i = revision.firstIndex(where: { $0 == "~" || $0 == "^" }) { baseEnd = i }
        let base = String(revision[..<baseEnd])
        var id = try resolveBase(base, whole: revision)
        var rest = revision[baseEnd...]
        while let op = rest.first {
            rest = rest.dropFirst()
            let digits = rest.prefix(while: { $0.isNumber })
            rest = rest.dropFirst(digits.count)
            let n = digits.isEmpty ? 1 : Int(digits) ?? -1
            guard n >= 0 else { throw DVSError(.unknownRevision, "bad revision '\(revision)'", hint: "use REV~N or REV^") }
            if op == "~" {
                for _ in 0..<n {
                    guard let p = try commit(id).parents.first else {
                        throw DVSError(
                            .unknownRevision, "revision '\(revision)' goes past the root commit \(id.short)",
                            hint: "run 'dvs log' to see the history")
                    }
                    id = p
                }
            } else if op == "^" {
                if n == 0 { continue }
                let parents = try commit(id).parents
                guard n <= parents.count else {
                    throw DVSError(
                        .unknownRevision, "commit \(id.short) has no parent \(n) (in '\(revision)')",
                        hint: "run 'dvs log' to see the history")
                }
                id = parents[n - 1]
            } else {
                throw DVSError(.unknownRevision, "bad revision '\(revision)'")
            }
        }
        return id
    }

    private func resolveBase(_ base: String, whole: String) throws -> CommitID {
        if base == "HEAD" || base == "@" {
            guard let c = try catalog.head()?.commit else {
                throw DVSError(
                    .unknownRevision, "HEAD has no commit yet (branch '\(currentBranch() ?? "main")' is unborn)",
                    hint: "run 'dvs commit -m MSG' first")
            }
            return c
        }
        for name in RefName.candidates(for: base) {
            if let c = try catalog.ref(name) { return c }
        }
        let lower = base.lowercased()
        if lower.count >= 4, lower.count <= 64, lower.allSatisfy({ $0.isHexDigit }) {
            let hits = try catalog.commits(withPrefix: lower, limit: 2)
            if hits.count == 1 { return hits[0] }
            if hits.count > 1 {
                throw DVSError(
                    .unknownRevision, "revision '\(base)' is ambiguous: several commits start with it", hint: "use more hex digits")
            }
        }
        throw DVSError(
            .unknownRevision, "unknown revision '\(whole)'",
            hint: "use a branch name, HEAD, HEAD~N or a commit id of at least 4 hex digits; 'dvs log' lists commits")
    }

    /// The branch HEAD is on, or nil when detached.
    public func currentBranch() -> String? {
        if case .branch(let name, _)? = try? catalog.head() { return name }
        return nil
    }

    /// Commits reachable from `start` (following all parents), newest committer time first.
    /// - Parameters:
    ///   - limit: stop after this many.
    ///   - excluding: commits reachable from these are left out (`A..B`).
    /// - Complexity: O(reachable commits) object reads.
    public func log(from start: CommitID, limit: Int = .max, excluding: [CommitID] = []) throws -> [(CommitID, Commit)] {
        var hidden = Set<CommitID>()
        var stack = excluding
        while let c = stack.popLast() {
            if hidden.insert(c).inserted { stack.append(contentsOf: try commit(c).parents) }
        }
        var out: [(CommitID, Commit)] = []
        var seen: Set<CommitID> = [start]
        var frontier: [(CommitID, Commit)] = hidden.contains(start) ? [] : [(start, try commit(start))]
        while !frontier.isEmpty, out.count < limit {
            // Pick the newest (ties: larger id, for a stable order).
            let i = frontier.indices.max {
                (frontier[$0].1.committer.time, frontier[$0].0) < (frontier[$1].1.committer.time, frontier[$1].0)
            }!
            let (id, c) = frontier.remove(at: i)
            out.append((id, c))
            for p in c.parents where !seen.contains(p) && !hidden.contains(p) {
                seen.insert(p)
                frontier.append((p, try commit(p)))
            }
        }
        return out
    }

    /// Splits `REV:PATH`. - Throws: `DVSError.unknownRevision` when there is no colon.
    public func resolveBlobSpec(_ spec: String) throws -> (CommitID, ManifestEntry) {
        guard let colon = spec.firstIndex(of: ":") else {
            throw DVSError(.usage, "'\(spec)' is not REV:PATH", hint: "for example: dvs cat HEAD:labels.csv")
        }
        let rev = String(spec[..<colon])
        let path = RepoPath(String(spec[spec.index(after: colon)...]).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
        let id = try resolve(rev.isEmpty ? "HEAD" : rev)
        let entries = try self.entries(ofManifest: commit(id).manifest)
        if !entries.contains(where: { $0.path == path }), entries.contains(where: { $0.path.isWithin(path) }) {
            throw DVSError(
                .usage, "'\(path)' is a folder in \(rev.isEmpty ? "HEAD" : rev), not a file",
                hint: "list it with 'dvs ls \(rev.isEmpty ? "HEAD" : rev) \(path)'")
        }
        guard let e = entries.first(where: { $0.path == path }) else {
            throw DVSError(
                .unknownRevision, "path '\(path)' does not exist in \(rev.isEmpty ? "HEAD" : rev) (\(id.short))",
                hint: missingPathHint(path, in: entries, revision: rev.isEmpty ? "HEAD" : rev))
        }
        return (id, e)
    }

    /// The hint for a path a snapshot lacks: when the current directory is a subfolder of the
    /// working tree and the path exists under it, that paths are from the tree root (with the
    /// path to write); else where to list the files.
    public func missingPathHint(_ path: RepoPath, in entries: [ManifestEntry], revision: String) -> String {
        let cwd = URL(fileURLWithPath: context.currentDirectory).standardizedFileURL.path
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        if cwd.hasPrefix(base + "/") {
            let sub = String(cwd.dropFirst(base.count + 1))
            let full = RepoPath(sub + "/" + path.string)
            if entries.contains(where: { $0.path.isWithin(full) }) {
                return "paths are from the tree root, not from '\(sub)/': write '\(full)'"
            }
        }
        return "run 'dvs ls \(revision)' to list its files"
    }
}
