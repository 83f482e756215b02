import DVSCatalog
import DVSCore
import Foundation

extension Repository {
    /// Resolves a revision to a commit (see ``resolveRevision(_:)``).
    /// - Throws: as ``resolveRevision(_:)``.
    public func resolve(_ revision: Revision) throws -> CommitID { try resolveRevision(revision).commit }

    /// Resolves a revision: its base — `HEAD`, then a ref (the name as a full name, then as a
    /// branch, a tag, a remote-tracking branch), then a full or unique-prefix commit id (≥ 4 hex
    /// digits) — then its `~`/`^` suffixes. The one place revisions are looked up.
    /// - Returns: the commit and what the base named.
    /// - Throws: `DVSError.unknownRevision` naming the revision, with a hint; also when a prefix is
    ///   ambiguous, an ancestor does not exist or a suffix is malformed.
    public func resolveRevision(_ revision: Revision) throws -> ResolvedRevision {
        let whole = revision.spelling
        guard !whole.isEmpty else { throw DVSError(.unknownRevision, "empty revision", hint: "name a commit, branch or HEAD") }
        var (id, named) = try resolveBase(revision.base, whole: whole)
        for step in revision.steps {
            switch step {
            case .ancestor(let n):
                for _ in 0..<n {
                    guard let p = try commit(id).parents.first else {
                        throw DVSError(
                            .unknownRevision, "revision '\(whole)' goes past the root commit \(id.short)",
                            next: .seeHistory)
                    }
                    id = p
                }
            case .parent(let n):
                if n == 0 { continue }
                let parents = try commit(id).parents
                guard n <= parents.count else {
                    throw DVSError(
                        .unknownRevision, "commit \(id.short) has no parent \(n) (in '\(whole)')",
                        next: .seeHistory)
                }
                id = parents[n - 1]
            case .badCount:
                throw DVSError(.unknownRevision, "bad revision '\(whole)'", hint: "use REV~N or REV^")
            case .malformed:
                throw DVSError(.unknownRevision, "bad revision '\(whole)'")
            }
        }
        return ResolvedRevision(revision: revision, commit: id, named: named)
    }

    private func resolveBase(_ base: Revision.Base, whole: String) throws -> (CommitID, ResolvedRevision.Named) {
        guard case .name(let name) = base else {
            switch try catalog.head() {
            case .branch(let b, let c?)?: return (c, .headOnBranch(.branch(b)))
            case .detached(let c)?: return (c, .detachedHead)
            default:
                throw DVSError(
                    .unknownRevision, "HEAD has no commit yet (branch '\(currentBranch() ?? "main")' is unborn)",
                    next: .commitFirst)
            }
        }
        for ref in RefName.candidates(for: name) {
            if let c = try catalog.ref(ref) { return (c, .ref(ref)) }
        }
        let lower = name.lowercased()
        if lower.count >= 4, lower.count <= 64, lower.allSatisfy({ $0.isHexDigit }) {
            let hits = try catalog.commits(withPrefix: lower, limit: 2)
            if hits.count == 1 { return (hits[0], .commitID) }
            // A commit a purge rewrote resolves to the commit that replaced it.
            if hits.isEmpty, let old = try purges().lazy.flatMap({ $0.commits.keys }).first(where: { $0.hasPrefix(lower) }),
                let id = CommitID(hex: old), let r = purgedReplacement(of: id)
            {
                context.notice?(
                    "note: commit \(id.short) was rewritten by purge \(r.purge.id.short); '\(name)' now names \(r.commit.short)")
                return (r.commit, .commitID)
            }
            if hits.count > 1 {
                throw DVSError(
                    .unknownRevision, "revision '\(name)' is ambiguous: several commits start with it", hint: "use more hex digits")
            }
        }
        throw DVSError(
            .unknownRevision, "unknown revision '\(whole)'",
            next: .spellRevision)
    }

    /// The branch HEAD is on, or nil when detached.
    public func currentBranch() -> String? {
        if case .branch(let name, _)? = try? catalog.head() { return name }
        return nil
    }

    /// `commits` reordered so that every commit comes after all its children in the list, else
    /// keeping the given (newest first) order: Kahn's algorithm (Kahn 1962), taking the
    /// earliest-listed ready commit each time. Commits made in the same second would otherwise
    /// interleave wrongly. Parents not in the list are ignored. O(n · w) for n commits, w the
    /// most commits ready at once (the history's width: a few for the usual few branches).
    public static func topological(_ commits: [(CommitID, Commit)]) -> [(CommitID, Commit)] {
        let index = Dictionary(commits.enumerated().map { ($0.element.0, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var pendingChildren = [Int](repeating: 0, count: commits.count)
        for (_, c) in commits { for p in c.parents { if let i = index[p] { pendingChildren[i] += 1 } } }
        var ready = Set(commits.indices.filter { pendingChildren[$0] == 0 })
        var out: [(CommitID, Commit)] = []
        while let i = ready.min() {
            ready.remove(i)
            out.append(commits[i])
            for p in commits[i].1.parents {
                guard let j = index[p] else { continue }
                pendingChildren[j] -= 1
                if pendingChildren[j] == 0 { ready.insert(j) }
            }
        }
        return out
    }

    /// Commits reachable from `start` (following all parents), newest committer time first;
    /// commits made within the same second come later-recorded first (the order this repository
    /// recorded them, which puts a child before its parent), then by the larger id when the
    /// catalog does not know the order.
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
        /// A commit waiting to be listed, with its sort key: committer time, recording order
        /// (0 when unknown: such commits predate every numbered one), id.
        struct Pending {
            let id: CommitID
            let commit: Commit
            let recorded: Int64
            func isOlder(than o: Pending) -> Bool {
                (commit.committer.time, recorded, id) < (o.commit.committer.time, o.recorded, o.id)
            }
        }
        func pending(_ id: CommitID) throws -> Pending {
            Pending(id: id, commit: try commit(id), recorded: try catalog.recordingOrder(of: id) ?? 0)
        }
        var out: [(CommitID, Commit)] = []
        var seen: Set<CommitID> = [start]
        var frontier: [Pending] = hidden.contains(start) ? [] : [try pending(start)]
        while !frontier.isEmpty, out.count < limit {
            let i = frontier.indices.max { frontier[$0].isOlder(than: frontier[$1]) }!
            let next = frontier.remove(at: i)
            out.append((next.id, next.commit))
            for p in next.commit.parents where !seen.contains(p) && !hidden.contains(p) {
                seen.insert(p)
                frontier.append(try pending(p))
            }
        }
        return out
    }

    /// Splits `REV:PATH`. - Throws: `DVSError.unknownRevision` when there is no colon.
    public func resolveBlobSpec(_ spec: String) throws -> (CommitID, ManifestEntry) {
        guard let colon = spec.firstIndex(of: ":") else {
            throw DVSError(.usage, "'\(spec)' is not REV:PATH", next: .spellRevisionPath)
        }
        let rev = String(spec[..<colon])
        let path = RepoPath(String(spec[spec.index(after: colon)...]).trimmingCharacters(in: CharacterSet(charactersIn: "/")))
        let id = try resolve(rev.isEmpty ? .head : Revision(rev))
        let entries = try self.entries(ofManifest: commit(id).manifest)
        if !entries.contains(where: { $0.path == path }), entries.contains(where: { $0.path.isWithin(path) }) {
            throw DVSError(
                .usage, "'\(path)' is a folder in \(rev.isEmpty ? "HEAD" : rev), not a file",
                next: .listFolder(rev.isEmpty ? .head : Revision(rev), path))
        }
        guard let e = entries.first(where: { $0.path == path }) else {
            throw DVSError(
                .unknownRevision, "path '\(path)' does not exist in \(rev.isEmpty ? "HEAD" : rev) (\(id.short))",
                next: missingPathStep(path, in: entries, revision: rev.isEmpty ? .head : Revision(rev)))
        }
        return (id, e)
    }

    /// The next step for a path a snapshot lacks: when the current directory is a subfolder of
    /// the working tree and the path exists under it, ``DVSError/NextStep/pathFromTreeRoot(folder:path:)``
    /// (paths are from the tree root, with the path to write); else
    /// ``DVSError/NextStep/listFiles(_:)`` of `revision`.
    public func missingPathStep(_ path: RepoPath, in entries: [ManifestEntry], revision: Revision) -> DVSError.NextStep {
        let cwd = URL(fileURLWithPath: context.currentDirectory).standardizedFileURL.path
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        if cwd.hasPrefix(base + "/") {
            let sub = String(cwd.dropFirst(base.count + 1))
            let full = RepoPath(sub + "/" + path.string)
            if entries.contains(where: { $0.path.isWithin(full) }) {
                return .pathFromTreeRoot(folder: sub, path: full)
            }
        }
        return .listFiles(revision)
    }
}
