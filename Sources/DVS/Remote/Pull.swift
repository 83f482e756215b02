import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `pull` did.
public struct PullSummary: Sendable {
    /// The fetch it ran first.
    public var fetch: FetchSummary
    /// The local branch updated.
    public var branch: String
    /// The branch's commit before (nil when it had none).
    public var old: CommitID?
    /// The branch's commit after.
    public var new: CommitID?
    /// What happened to the branch.
    public var status: Status
    /// Files written into the working tree.
    public var written: Int
    /// Files removed from the working tree.
    public var removed: Int
    /// When the merge stopped (`status` `conflicts`): what is left to resolve.
    public var conflicts: [MergeConflict] = []

    /// What a pull did to the current branch; the raw value is the JSON spelling.
    public enum Status: String, Sendable, Equatable {
        /// The branch moved forward to the remote's commit.
        case fastForward = "fast-forward"
        /// Diverged histories: a merge commit was made.
        case merged
        /// The merge stopped on conflicts (`dvs merge --continue`).
        case conflicts
        /// The branch already was at the remote's commit.
        case upToDate = "up-to-date"
        /// The branch already contains the remote's commit and has more.
        case ahead
    }
}

/// What `clone` did.
public struct CloneSummary: Sendable {
    /// The new repository.
    public var repository: Repository
    /// The fetch it ran.
    public var fetch: FetchSummary
    /// The branch checked out; nil when the remote has no branches.
    public var branch: String?
    /// Its commit.
    public var commit: CommitID?
    /// Files written into the working tree.
    public var written: Int
    /// Whether an interrupted clone was resumed.
    public var resumed: Bool
    /// What a partial clone (`--branch`) downloaded for the snapshot it checked out; nil for a
    /// full clone, or when nothing was missing.
    public var frames: FrameFetch? = nil
}

extension Repository {
    /// The marker of a clone in progress (`.dvs/clone-in-progress`, holding the URL).
    static let cloneMarker = "clone-in-progress"

    /// The URL of the clone that made this repository and did not finish (killed, or failed),
    /// from `.dvs/clone-in-progress`, as `Redaction.redact` shows it; "" when the marker holds
    /// none; nil for a finished clone or a repository `init` made.
    public var unfinishedClone: String? {
        guard let text = try? String(contentsOfFile: dvsDir + "/" + Self.cloneMarker, encoding: .utf8) else { return nil }
        return Redaction.redact(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Whether `directory` holds a clone that did not finish (`.dvs/clone-in-progress`).
    public static func hasUnfinishedClone(at directory: String) -> Bool {
        FileIO.exists(directory + "/" + folderName + "/" + cloneMarker)
    }

    /// Fetches, then fast-forwards the current branch (and its working tree) to the remote's, or
    /// merges it (`merge`) when the histories have diverged.
    ///
    /// The working tree is updated by the checkout code, with its rules: it refuses, changing
    /// nothing, when the update would overwrite uncommitted changes or untracked files.
    /// - Parameters:
    ///   - remoteName: the remote.
    ///   - branch: the remote branch to take; nil means the one named like the current branch.
    /// - Throws: `DVSError.badInput` when a stopped merge waits (before anything is fetched), the
    ///   remote lacks the branch, or the histories diverged and the working tree has uncommitted
    ///   changes; `.wouldOverwrite` naming the files; as `fetch`.
    public func pull(remote remoteName: String, branch: String? = nil, progress: ProgressHandler? = nil) throws -> PullSummary {
        guard let current = currentBranch() else {
            throw DVSError(.usage, "HEAD is detached: check out a branch to pull into", next: .checkOutBranchToPullInto)
        }
        // As git: no pull (not even its fetch) while a stopped merge waits in the tree.
        try refuseDuringMerge("pull")
        let source = branch ?? current
        let fetched = try fetch(remote: remoteName, progress: progress)
        let tracking = RefName.remote(remoteName, branch: source)
        guard let target = try catalog.ref(tracking) else {
            throw DVSError(
                .badInput, "remote '\(remoteName)' has no branch '\(source)'",
                next: .namePullBranch(remote: remoteName))
        }
        let lock = try self.lock("dvs pull \(remoteName)")
        defer { lock.release() }
        do {
            let local = try catalog.ref(.branch(current))
            if let local {
                if try local == target || isAncestor(target, of: local) {
                    return PullSummary(
                        fetch: fetched, branch: current, old: local, new: local, status: local == target ? .upToDate : .ahead,
                        written: 0, removed: 0)
                }
                guard try isAncestor(local, of: target) else {
                    // Diverged: a three-way merge, as `dvs merge REMOTE/BRANCH`.
                    let m = try mergeLocked(
                        Revision("\(remoteName)/\(source)"), theirs: target, prefer: nil, noCommit: false,
                        message: "Merge \(remoteName)/\(source) into \(current)", extra: [:], progress: progress)
                    return PullSummary(
                        fetch: fetched, branch: current, old: local, new: m.head, status: m.status == .conflicts ? .conflicts : .merged,
                        written: m.changes.filter { $0.kind != .deleted }.count, removed: m.changes.filter { $0.kind == .deleted }.count,
                        conflicts: m.conflicts)
                }
            }
            let s = try switchTree(
                to: target, revision: "\(remoteName)/\(source)", force: false,
                refs: .moveBranch(branch: current, expected: local, message: "pull \(remoteName) \(source): fast-forward"),
                journal: (.checkout, "dvs pull \(remoteName)"), progress: progress)
            return PullSummary(
                fetch: fetched, branch: current, old: local, new: target, status: .fastForward, written: s.written, removed: s.removed)
        } catch { throw DVSError.wrap(error) }
    }

    /// Makes a new repository from a remote: init, remote `origin`, fetch, checkout.
    ///
    /// The destination must be missing or empty. While the clone runs, `.dvs/clone-in-progress`
    /// marks it; run again on the same folder, an interrupted clone resumes (packs and objects
    /// already downloaded are kept, a partly downloaded pack continues where it stopped) and never
    /// deletes what it has.
    /// - Parameters:
    ///   - url: `s3://bucket/prefix` or a folder path.
    ///   - directory: the new working tree.
    ///   - branch: fetch and check out only this branch; nil takes every branch and checks out
    ///     `main`, else the remote's only branch.
    ///   - partial: a partial clone (metadata, and the blobs of a snapshot when it is checked out:
    ///     `Remote/PartialClone.swift`); nil makes one when `branch` is given. A partial clone
    ///     resumed as a full one (false, or nil without `branch`) becomes full.
    ///   - endpoint, region, pathStyle: S3 settings recorded for `origin` (a resumed clone
    ///     records those given, over what its first attempt recorded).
    ///   - context: the process the clone runs in (kept on the new repository).
    ///   A relative folder `url` is taken from `context.currentDirectory` and stored absolute.
    /// - Throws: `DVSError.remote` when a folder `url` does not exist (nothing is created);
    ///   `.alreadyExists` when the folder holds files or a finished repository;
    ///   as `fetch` and `checkout`.
    public static func clone(
        url given: String, into directory: String, branch: String? = nil, partial: Bool? = nil, endpoint: String? = nil,
        region: String? = nil, pathStyle: Bool = false, progress: ProgressHandler? = nil, context: ProcessContext
    ) throws -> CloneSummary {
        // A folder remote is named from where the command runs (as git clone does), not from
        // the new repository, and must exist: a typo must not give an empty clone.
        var url = given
        if !given.lowercased().hasPrefix("s3://") {
            url = context.absolute(given)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DVSError(
                    .remote, "cannot clone '\(given)': no folder at '\(url)'",
                    next: .giveRemoteLocation)
            }
            // Checked before anything is made (opening the store checks it again, for fetch and push).
            if let why = RemoteConfig.notARemoteFolder(url) {
                throw DVSError(.remote, "cannot clone '\(given)': \(why)", next: .giveRemoteLocation)
            }
        }
        let root = context.absolute(directory)
        // The URL and S3 settings are checked before anything is made: the marker holds the URL,
        // and a folder left for a clone that can never start helps no one.
        do {
            let parsed = try RemoteURL.parse(url, currentDirectory: root)
            try checkS3Settings(of: parsed, endpoint: endpoint, region: region, pathStyle: pathStyle)
        } catch { throw DVSError.wrap(error) }
        let marker = root + "/" + folderName + "/" + cloneMarker
        let repo: Repository
        var resumed = false
        if FileIO.exists(root + "/" + folderName) {
            guard FileIO.exists(marker) else {
                throw DVSError(
                    .alreadyExists, "cannot clone into '\(root)': it is a dvs repository already",
                    next: .cloneElsewhereOrPull)
            }
            repo = try discover(from: root, context: context)
            resumed = true
            // Resumed only as the clone of what it was started from (the marker holds the URL).
            let started = (try? String(contentsOfFile: marker, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let started, !started.isEmpty, started != url {
                let (asked, first) = (Redaction.redact(given), Redaction.redact(started))
                throw DVSError(
                    .alreadyExists, "cannot clone '\(asked)' into '\(root)': a clone of '\(first)' was started there and is unfinished",
                    next: .cloneIntoEmptyFolder)
            }
        } else {
            if let items = try? FileManager.default.contentsOfDirectory(atPath: root), !items.isEmpty {
                throw DVSError(
                    .alreadyExists, "cannot clone into '\(root)': the folder is not empty",
                    next: .cloneIntoEmptyFolder)
            }
            repo = try initialize(at: root, context: context)
            do { try FileIO.writeAtomically(Array((url + "\n").utf8), to: marker, tmpDir: repo.tmpDir) } catch {
                throw DVSError.wrap(error)
            }
        }
        if (try? repo.remote("origin")) == nil {
            // One branch: a partial clone (metadata now, the snapshot's blobs at checkout). Set
            // before the remote, so a clone killed in between resumes as the same kind.
            if partial ?? (branch != nil) {
                let lock = try repo.lock("dvs clone")
                defer { lock.release() }
                do { try repo.catalog.write { tx in try tx.setConfig("remote.origin.partial", "true") } } catch {
                    throw DVSError.wrap(error)
                }
            }
            try repo.addRemote(name: "origin", url: url, endpoint: endpoint, region: region, pathStyle: pathStyle)
        } else {
            if endpoint != nil || region != nil || pathStyle {
                // Run again with S3 settings the first attempt lacked (it failed to connect): they
                // apply now; those not given are kept.
                try repo.updateRemoteSettings(name: "origin", endpoint: endpoint, region: region, pathStyle: pathStyle)
            }
            // A partial clone resumed as a full one (no --branch, or --full): it becomes full,
            // and the fetch below downloads every blob (it stayed partial, without a word).
            if !(partial ?? (branch != nil)), repo.partialRemote() == "origin" {
                let lock = try repo.lock("dvs clone")
                defer { lock.release() }
                do { try repo.catalog.write { tx in try tx.setConfig("remote.origin.partial", "false") } } catch {
                    throw DVSError.wrap(error)
                }
                context.notice?(
                    "note: the partial clone started here resumes as the full clone asked for: every blob of every branch is downloaded"
                )
            }
        }
        let fetched = try repo.fetch(remote: "origin", branch: branch, progress: progress)
        let origin = RefNamespace.remoteTracking("origin")
        let branches = try repo.catalog.refs(in: origin).compactMap { origin.relativeName(of: $0.name) }
        let chosen = branch ?? (branches.contains("main") ? "main" : branches.count == 1 ? branches[0] : nil)
        guard let chosen else {
            if branches.isEmpty {
                unlink(marker)
                return CloneSummary(repository: repo, fetch: fetched, branch: nil, commit: nil, written: 0, resumed: resumed)
            }
            throw DVSError(
                .badInput, "the remote has no 'main' branch and several others: \(branches.joined(separator: ", "))",
                next: .pickCloneBranch(url: url, directory: directory))
        }
        guard let target = try repo.catalog.ref(.remote("origin", branch: chosen)) else {
            throw DVSError(.badInput, "the remote has no branch '\(chosen)'", hint: "its branches: \(branches.joined(separator: ", "))")
        }
        let lock = try repo.lock("dvs clone")
        defer { lock.release() }
        do {
            let who = repo.identity
            let local = try repo.catalog.ref(.branch(chosen))
            if repo.currentBranch() != chosen {
                try repo.catalog.write { tx in
                    try tx.setHead(.branch(chosen, local), who: who, message: "clone: checkout \(chosen)")
                }
            }
            // A partial clone: the blobs of this snapshot, counted for the summary.
            let frames = try repo.ensureBlobs(of: target, progress: progress)
            // The folder was empty when the clone started: files in the way are this clone's own.
            let s = try repo.switchTree(
                to: target, revision: "origin/\(chosen)", force: true,
                refs: local == target ? .none : .moveBranch(branch: chosen, expected: local, message: "clone: from \(url)"),
                journal: (.checkout, "dvs clone \(url)"), progress: progress)
            unlink(marker)
            return CloneSummary(
                repository: repo, fetch: fetched, branch: chosen, commit: target, written: s.written, resumed: resumed, frames: frames)
        } catch { throw DVSError.wrap(error) }
    }
}
