import DVSCatalog
import DVSCore
import Foundation

/// A branch or tag as `dvs branch` / `dvs tag` list it.
public struct RefInfo: Sendable {
    /// Short name (`main`, `cohort/es`, `v1`).
    public var name: String
    /// The commit it names.
    public var target: CommitID
    /// Whether HEAD is on this branch.
    public var isCurrent: Bool
    /// The commit's totals (samples, audio µs, …).
    public var totals: ManifestTotals
    /// For a tag, the message given when it was made (`dvs tag -m`); nil otherwise.
    public var message: String?
}

extension Repository {
    /// Whether `name` may name a branch or tag (after git's check-ref-format): non-empty, no
    /// `..`, `@{`, `//`, control characters, space, `~^:?*[\`, not starting with `-` or `/`,
    /// not ending with `/`, `.` or `.lock`, no component starting with `.`.
    public static func isValidRefName(_ name: String) -> Bool { RefName.isValidShortName(name) }

    /// Branches (`refs/heads/*`), sorted by name, with their commits' totals.
    /// - Throws: `DVSError.corrupt` when a branch's commit cannot be read.
    public func branches() throws -> [RefInfo] {
        let current = currentBranch()
        return try catalog.refs(in: .branches).map { r in
            let name = r.name.shortName
            return RefInfo(name: name, target: r.target, isCurrent: name == current, totals: try commit(r.target).totals, message: nil)
        }.sorted { $0.name < $1.name }
    }

    /// Tags (`refs/tags/*`), sorted by name, with the message they were made with.
    public func tags() throws -> [RefInfo] {
        try catalog.refs(in: .tags).map { r in
            RefInfo(
                name: r.name.shortName, target: r.target, isCurrent: false, totals: try commit(r.target).totals,
                message: try tagMessage(r.name))
        }.sorted { $0.name < $1.name }
    }

    /// The message kept with tag `ref` (`dvs tag NAME -m MSG`, or fetched with it): the newest
    /// `tag: MSG` entry of its reflog since the tag was last created; nil when it has none. A tag
    /// deleted and made again does not keep the message of the one before (the reflog is kept
    /// across the deletion, and the oldest entry was read: a re-created tag showed, and pushed,
    /// its predecessor's message).
    /// - Throws: `CatalogError` when the reflog cannot be read.
    func tagMessage(_ ref: RefName) throws -> String? {
        for e in try catalog.reflog(ref, limit: 1000) {  // newest first
            if e.new == nil { return nil }  // deleted: the current tag came after, without one
            if e.message.hasPrefix("tag: ") {
                let text = String(e.message.dropFirst(5))
                return text.isEmpty ? nil : text
            }
            if e.old == nil { return nil }  // created without one
        }
        return nil
    }

    /// Creates branch `name` at `revision` (default HEAD). Takes the repository lock.
    /// - Throws: `DVSError.badInput` for an invalid name, `.alreadyExists` when it exists,
    ///   `.unknownRevision`.
    @discardableResult
    public func createBranch(_ name: String, at revision: Revision? = nil) throws -> CommitID {
        try createRef(
            kind: "branch", ref: RefName.branch, name, at: revision, message: "branch: created from \(revision?.spelling ?? "HEAD")")
    }

    /// The remote whose remote-tracking branch `name` is, when exactly one remote has such a
    /// branch (`refs/remotes/<remote>/<name>`); nil otherwise.
    /// - Throws: `DVSError.io` when the catalog cannot be read.
    public func uniqueRemoteBranch(named name: String) throws -> String? {
        let refs: [RefName]
        do { refs = try catalog.refs(in: .all).map(\.name) } catch { throw DVSError.wrap(error) }
        let remotes = try remotes().map(\.name).filter { r in refs.contains(.remote(r, branch: name)) }
        return remotes.count == 1 ? remotes[0] : nil
    }

    /// Creates tag `name` at `revision` (default HEAD), with an optional message. Takes the lock.
    /// - Throws: as `createBranch`.
    @discardableResult
    public func createTag(_ name: String, at revision: Revision? = nil, message: String? = nil) throws -> CommitID {
        try createRef(kind: "tag", ref: RefName.tag, name, at: revision, message: "tag: " + (message ?? ""))
    }

    private func createRef(kind: String, ref: (String) -> RefName, _ name: String, at revision: Revision?, message: String) throws
        -> CommitID
    {
        guard Self.isValidRefName(name) else {
            throw DVSError(
                .badInput, "'\(name)' is not a valid \(kind) name",
                hint: "use letters, digits, '-', '_', '.' and '/' (e.g. cohort/es); no spaces, '..', '~^:?*[\\' or a leading '-'")
        }
        let lock = try self.lock("dvs \(kind) \(name)")
        defer { lock.release() }
        let target = try resolve(revision ?? .head)
        if try catalog.ref(ref(name)) != nil {
            throw DVSError(.alreadyExists, "\(kind) '\(name)' already exists", next: .renameOrDeleteRef(ref(name)))
        }
        do {
            try catalog.write { tx in
                try tx.moveRefs([RefUpdate(name: ref(name), expected: nil, new: target, message: message)], who: identity)
            }
        } catch { throw DVSError.wrap(error) }
        return target
    }

    /// Deletes branch `name`. Refuses the current branch, and a branch whose commit is not
    /// reachable from HEAD or another branch (its commits would be lost) unless `force`.
    /// - Throws: `DVSError.unknownRevision` when it does not exist; `.badInput` when refused.
    public func deleteBranch(_ name: String, force: Bool = false) throws -> CommitID {
        let lock = try self.lock("dvs branch -d \(name)")
        defer { lock.release() }
        guard let target = try catalog.ref(.branch(name)) else {
            throw DVSError(.unknownRevision, "branch '\(name)' does not exist", next: .listBranches)
        }
        if currentBranch() == name {
            throw DVSError(.badInput, "cannot delete branch '\(name)': HEAD is on it", hint: "check out another branch first")
        }
        if !force {
            var tips = try catalog.refs(in: .branches).filter { $0.name != .branch(name) }.map(\.target)
            if let h = try catalog.head()?.commit { tips.append(h) }
            guard try tips.contains(where: { try isAncestor(target, of: $0) }) else {
                throw DVSError(
                    .badInput, "branch '\(name)' is not merged: its commit \(target.short) is not reachable from HEAD or another branch",
                    next: .mergeOrForceDelete(branch: name))
            }
        }
        do {
            try catalog.write { tx in
                try tx.moveRefs(
                    [RefUpdate(name: .branch(name), expected: target, new: nil, message: "branch: deleted")], who: identity)
            }
        } catch { throw DVSError.wrap(error) }
        return target
    }

    /// Deletes tag `name`. - Throws: `DVSError.unknownRevision` when it does not exist.
    public func deleteTag(_ name: String) throws -> CommitID {
        let lock = try self.lock("dvs tag -d \(name)")
        defer { lock.release() }
        guard let target = try catalog.ref(.tag(name)) else {
            throw DVSError(.unknownRevision, "tag '\(name)' does not exist", next: .listTags)
        }
        do {
            try catalog.write { tx in
                try tx.moveRefs([RefUpdate(name: .tag(name), expected: target, new: nil, message: "tag: deleted")], who: identity)
            }
        } catch { throw DVSError.wrap(error) }
        return target
    }

    /// The moves of `ref` (`HEAD`, a branch, a tag, or a full ref name), newest first.
    public func reflog(_ ref: String = "HEAD", limit: Int = 1000) throws -> [(
        old: CommitID?, new: CommitID?, time: Int64, who: String, message: String
    )] {
        var name = RefName(fullName: ref) ?? .branch(ref)
        if RefName(fullName: ref) == nil {
            for candidate in [RefName.branch(ref), .tag(ref), .remoteTracking(ref)]
            where try catalog.ref(candidate) != nil || !(try catalog.reflog(candidate, limit: 1)).isEmpty {
                name = candidate
                break
            }
        }
        return try catalog.reflog(name, limit: limit).map { ($0.old, $0.new, $0.time, $0.who, $0.message) }
    }
}
