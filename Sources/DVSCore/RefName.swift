/// The full name of a ref: `HEAD`, a branch (`refs/heads/<name>`), a tag (`refs/tags/<name>`), or a
/// remote-tracking branch (`refs/remotes/<remote>/<branch>`); cohorts are branches under
/// `refs/heads/cohort/`.
///
/// The one place that knows the `refs/…` spellings: build names with the constructors, take them
/// apart with `kind`, `shortName` and friends.
public struct RefName: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The full name as stored in the catalog and on remotes (`refs/heads/main`, `HEAD`).
    public let fullName: String

    /// Which namespace a ref lives in.
    public enum Kind: Sendable, Equatable {
        /// `HEAD`.
        case head
        /// `refs/heads/…`.
        case branch
        /// `refs/tags/…`.
        case tag
        /// `refs/remotes/…`.
        case remoteTracking
        /// Any other `refs/…` name.
        case other
    }

    static let headsPrefix = "refs/heads/"
    static let tagsPrefix = "refs/tags/"
    static let remotesPrefix = "refs/remotes/"
    static let cohortPrefix = "cohort/"

    private init(unchecked fullName: String) { self.fullName = fullName }

    /// Parses a full name: `HEAD`, or `refs/` followed by at least one character.
    /// Returns nil for anything else (a short name such as `main` is not a full name).
    public init?(fullName: String) {
        guard fullName == "HEAD" || (fullName.hasPrefix("refs/") && fullName.count > 5) else { return nil }
        self.fullName = fullName
    }

    /// `HEAD`.
    public static let head = RefName(unchecked: "HEAD")

    /// The branch `name` (`refs/heads/<name>`); `name` is not validated (see ``isValidShortName(_:)``).
    public static func branch(_ name: String) -> RefName { RefName(unchecked: headsPrefix + name) }

    /// The tag `name` (`refs/tags/<name>`); `name` is not validated.
    public static func tag(_ name: String) -> RefName { RefName(unchecked: tagsPrefix + name) }

    /// The remote-tracking branch of `branch` on `remote` (`refs/remotes/<remote>/<branch>`).
    public static func remote(_ remote: String, branch: String) -> RefName {
        RefName(unchecked: remotesPrefix + remote + "/" + branch)
    }

    /// The remote-tracking ref named `<remote>/<branch>` as the user writes it (`origin/main`).
    public static func remoteTracking(_ shortName: String) -> RefName { RefName(unchecked: remotesPrefix + shortName) }

    /// The branch of cohort `name` (`refs/heads/cohort/<name>`).
    public static func cohort(_ name: String) -> RefName { branch(cohortPrefix + name) }

    /// The full names a short name given by the user may stand for, in lookup order: the name
    /// itself when it is a full name, then the branch, the tag and the remote-tracking ref.
    public static func candidates(for name: String) -> [RefName] {
        [RefName(fullName: name)].compactMap { $0 } + [.branch(name), .tag(name), .remoteTracking(name)]
    }

    /// Which namespace the ref is in.
    public var kind: Kind {
        if fullName == "HEAD" { return .head }
        if fullName.hasPrefix(Self.headsPrefix) { return .branch }
        if fullName.hasPrefix(Self.tagsPrefix) { return .tag }
        if fullName.hasPrefix(Self.remotesPrefix) { return .remoteTracking }
        return .other
    }

    /// The branch name (`main` for `refs/heads/main`), or nil when the ref is not a branch.
    public var branchName: String? { kind == .branch ? String(fullName.dropFirst(Self.headsPrefix.count)) : nil }

    /// The tag name (`v1` for `refs/tags/v1`), or nil when the ref is not a tag.
    public var tagName: String? { kind == .tag ? String(fullName.dropFirst(Self.tagsPrefix.count)) : nil }

    /// The cohort name (`es` for `refs/heads/cohort/es`), or nil when the ref is not a cohort's branch.
    public var cohortName: String? {
        guard let b = branchName, b.hasPrefix(Self.cohortPrefix), b.count > Self.cohortPrefix.count else { return nil }
        return String(b.dropFirst(Self.cohortPrefix.count))
    }

    /// The remote-tracking ref's `<remote>/<branch>` (`origin/main`), or nil for other kinds.
    public var remoteTrackingName: String? {
        kind == .remoteTracking ? String(fullName.dropFirst(Self.remotesPrefix.count)) : nil
    }

    /// The name as a user writes it: the branch, tag or `<remote>/<branch>` name; `HEAD`; the
    /// full name for other refs.
    public var shortName: String { branchName ?? tagName ?? remoteTrackingName ?? fullName }

    /// This branch's remote-tracking ref on `remote` (`refs/heads/x` → `refs/remotes/<remote>/x`),
    /// or nil when the ref is not a branch.
    public func tracking(on remote: String) -> RefName? { branchName.map { .remote(remote, branch: $0) } }

    /// Whether the ref lies in `namespace`.
    public func isIn(_ namespace: RefNamespace) -> Bool { fullName.hasPrefix(namespace.prefix) }

    /// The full name.
    public var description: String { fullName }

    /// Orders by full name (byte order of the UTF-8, as the catalog sorts).
    public static func < (a: RefName, b: RefName) -> Bool { a.fullName < b.fullName }

    /// Whether `name` may be used as a branch, tag or cohort name (git's check-ref-format rules,
    /// simplified): not empty, no leading `-` or `/`, no trailing `/`, `.` or `.lock`, no `..`,
    /// `@{`, `//`, control characters, spaces or `~^:?*[\`, no component starting with `.`, and
    /// not `HEAD` or `@`.
    public static func isValidShortName(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"), !name.hasSuffix("."),
            !name.hasSuffix(".lock"), !name.contains(".."), !name.contains("@{"), !name.contains("//"), name != "HEAD", name != "@"
        else { return false }
        if name.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || "~^:?*[\\".unicodeScalars.contains($0) }) {
            return false
        }
        return !name.split(separator: "/").contains { $0.hasPrefix(".") }
    }
}

/// A set of refs that share a prefix, for listing (`refs/heads/`, `refs/remotes/origin/`).
public struct RefNamespace: Hashable, Sendable {
    /// The prefix every full name in the namespace starts with.
    public let prefix: String

    /// Every ref under `refs/`.
    public static let all = RefNamespace(prefix: "refs/")
    /// Branches (`refs/heads/`), cohorts included.
    public static let branches = RefNamespace(prefix: RefName.headsPrefix)
    /// Tags (`refs/tags/`).
    public static let tags = RefNamespace(prefix: RefName.tagsPrefix)
    /// Cohort branches (`refs/heads/cohort/`).
    public static let cohorts = RefNamespace(prefix: RefName.headsPrefix + RefName.cohortPrefix)
    /// Every remote-tracking ref (`refs/remotes/`).
    public static let remoteTracking = RefNamespace(prefix: RefName.remotesPrefix)

    /// The remote-tracking refs of one remote (`refs/remotes/<remote>/`).
    public static func remoteTracking(_ remote: String) -> RefNamespace {
        RefNamespace(prefix: RefName.remotesPrefix + remote + "/")
    }

    /// The rest of `name` after the prefix (`main` for `refs/heads/main` in `.branches`), or nil
    /// when `name` is not in the namespace.
    public func relativeName(of name: RefName) -> String? {
        name.fullName.hasPrefix(prefix) ? String(name.fullName.dropFirst(prefix.count)) : nil
    }
}
