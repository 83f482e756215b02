/// A revision as the user wrote it (a subset of gitrevisions(7)), parsed once: a base — `HEAD`
/// (or `@`), or a name that resolving looks up as a ref (branch, tag, remote-tracking branch, full
/// ref name) and then as a commit id prefix — followed by any mix of `~N` (N-th first-parent
/// ancestor, `~` alone is `~1`), `^` (first parent) and `^N` (N-th parent; `^0` the commit itself).
///
/// Parsing never fails: a malformed suffix is kept as ``Step/malformed`` (or ``Step/badCount``) and reported when the
/// revision is resolved (after the steps before it, as git does). `Repository.resolveRevision(_:)`
/// turns it into a ``ResolvedRevision``.
public struct Revision: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// Exactly what the user wrote (`main~2`, `HEAD`, `3fa9`).
    public let spelling: String
    /// What the revision starts from.
    public let base: Base
    /// The `~`/`^` suffixes, in order.
    public let steps: [Step]

    /// What a revision starts from, before its suffixes.
    public enum Base: Hashable, Sendable {
        /// `HEAD` or `@`.
        case head
        /// A ref name (short or full) or a commit id prefix; which is decided when resolving.
        case name(String)
    }

    /// One suffix.
    public enum Step: Hashable, Sendable {
        /// `~N`: the N-th first-parent ancestor.
        case ancestor(Int)
        /// `^N`: the N-th parent (`^0` is the commit itself).
        case parent(Int)
        /// `~N` or `^N` whose N is not a number that fits an `Int`.
        case badCount
        /// Something after the base that is neither `~N` nor `^N`.
        case malformed
    }

    /// `HEAD`.
    public static let head = Revision("HEAD")

    /// Parses `spelling`.
    public init(_ spelling: String) {
        self.spelling = spelling
        let baseEnd = spelling.firstIndex(where: { $0 == "~" || $0 == "^" }) ?? spelling.endIndex
        let name = String(spelling[..<baseEnd])
        base = name == "HEAD" || name == "@" ? .head : .name(name)
        var steps: [Step] = []
        var rest = spelling[baseEnd...]
        while let op = rest.first {
            rest = rest.dropFirst()
            let digits = rest.prefix(while: { $0.isNumber })
            rest = rest.dropFirst(digits.count)
            let n = digits.isEmpty ? 1 : Int(digits) ?? -1
            guard n >= 0 else {
                steps.append(.badCount)
                break
            }
            guard op == "~" || op == "^" else {
                steps.append(.malformed)
                break
            }
            steps.append(op == "~" ? .ancestor(n) : .parent(n))
        }
        self.steps = steps
    }

    /// Parses a literal (`"main"`, `"HEAD~2"`).
    public init(stringLiteral value: String) { self.init(value) }

    /// The revision of a commit id (its 64 hex digits).
    public init(_ id: CommitID) { self.init(id.hex) }

    /// Whether it is `HEAD` or `@` itself, without suffixes.
    public var isHead: Bool { base == .head && steps.isEmpty }

    /// The spelling.
    public var description: String { spelling }
}

/// `A..B` as `dvs log` takes it: the commits reachable from `B` and not from `A` (each side
/// `HEAD` when empty); without `..`, everything reachable from the revision.
public struct RevisionRange: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// What the user wrote.
    public let spelling: String
    /// `A`: commits reachable from it are left out; nil without `..`.
    public let excluded: Revision?
    /// `B`, or the whole revision without `..`.
    public let included: Revision

    /// Parses `spelling` at its first `..`.
    public init(_ spelling: String) {
        self.spelling = spelling
        if let r = spelling.range(of: "..") {
            let a = String(spelling[..<r.lowerBound])
            let b = String(spelling[r.upperBound...])
            excluded = a.isEmpty ? .head : Revision(a)
            included = b.isEmpty ? .head : Revision(b)
        } else {
            excluded = nil
            included = Revision(spelling)
        }
    }

    /// Parses a literal.
    public init(stringLiteral value: String) { self.init(value) }

    /// The spelling.
    public var description: String { spelling }
}

/// A revision resolved to a commit, with what its base named; made by
/// `Repository.resolveRevision(_:)` (the one place that looks revisions up).
public struct ResolvedRevision: Hashable, Sendable, CustomStringConvertible {
    /// The revision as written.
    public let revision: Revision
    /// The commit it resolves to (after the suffixes).
    public let commit: CommitID
    /// What the base named.
    public let named: Named

    /// What a revision's base named.
    public enum Named: Hashable, Sendable {
        /// `HEAD` (or `@`) while on a branch.
        case headOnBranch(RefName)
        /// `HEAD` (or `@`) while detached.
        case detachedHead
        /// A ref: a branch, tag or remote-tracking branch (by short or full name).
        case ref(RefName)
        /// A commit id or unique id prefix.
        case commitID
    }

    /// Creates a resolved revision; `Repository.resolveRevision(_:)` is the one caller.
    public init(revision: Revision, commit: CommitID, named: Named) {
        self.revision = revision
        self.commit = commit
        self.named = named
    }

    /// The branch the revision stands for as a whole, as `checkout` stays on it: HEAD's branch
    /// for `HEAD`/`@`, the branch for its short name (`main`); nil with suffixes (`main~1`), for
    /// a full ref name (`refs/heads/main`, as in git), tags, ids and a detached HEAD.
    public var branch: RefName? {
        guard revision.steps.isEmpty else { return nil }
        switch named {
        case .headOnBranch(let b): return b
        case .ref(let r) where r.kind == .branch && revision.base == .name(r.branchName ?? ""): return r
        default: return nil
        }
    }

    /// The revision's spelling and the commit it resolved to.
    public var description: String { "\(revision.spelling) (\(commit.short))" }
}
