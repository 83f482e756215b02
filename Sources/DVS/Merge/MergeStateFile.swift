import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `.dvs/MERGE_STATE` records about a merge that stopped for conflicts or `--no-commit`.
///
/// Encoded as JSON with the keys `ours`, `theirs`, `theirsName`, `base` (absent for unrelated
/// histories), `message`, `conflicts`, `added`, `sideFiles` and `extra`; commit ids as 64
/// lower-case hex digits and paths as strings, as dvs has always written the file.
struct MergeState: Codable, Equatable {
    /// HEAD's commit when the merge stopped; the state is stale once HEAD moves.
    var ours: CommitID
    /// The commit being merged in.
    var theirs: CommitID
    /// The revision being merged in, as given (`side`, `main`).
    var theirsName: String
    /// The merge base used, nil for unrelated histories.
    var base: CommitID?
    /// The merge commit's message.
    var message: String
    /// The conflicts the merge recorded.
    var conflicts: [MergeConflict]
    /// Paths the merge wrote that HEAD does not have (removed again by `--abort`).
    var added: [RepoPath]
    /// `PATH~theirs` files it wrote.
    var sideFiles: [RepoPath]
    /// Extra commit headers for the merge commit (cohort refresh).
    var extra: [String: String]
    /// Paths (files, or label tables with a deleted-versus-edited row) the user marked resolved
    /// as the working tree holds them; encoded only when not empty (absent in older files).
    var resolved: [RepoPath] = []

    /// A state with every field given (a custom `Codable` takes the memberwise initializer away).
    init(
        ours: CommitID, theirs: CommitID, theirsName: String, base: CommitID?, message: String, conflicts: [MergeConflict],
        added: [RepoPath], sideFiles: [RepoPath], extra: [String: String]
    ) {
        self.ours = ours
        self.theirs = theirs
        self.theirsName = theirsName
        self.base = base
        self.message = message
        self.conflicts = conflicts
        self.added = added
        self.sideFiles = sideFiles
        self.extra = extra
    }

    private enum CodingKeys: String, CodingKey {
        case ours, theirs, theirsName, base, message, conflicts, added, sideFiles, extra, resolved
    }

    /// Decodes the file's JSON. - Throws: `DecodingError` when a key is missing or an id is not 64 hex digits.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ours = try c.decode(CommitID.self, forKey: .ours)
        theirs = try c.decode(CommitID.self, forKey: .theirs)
        theirsName = try c.decode(String.self, forKey: .theirsName)
        base = try c.decodeIfPresent(CommitID.self, forKey: .base)
        message = try c.decode(String.self, forKey: .message)
        conflicts = try c.decode([MergeConflict].self, forKey: .conflicts)
        added = try c.decode([String].self, forKey: .added).map { RepoPath($0) }
        sideFiles = try c.decode([String].self, forKey: .sideFiles).map { RepoPath($0) }
        extra = try c.decode([String: String].self, forKey: .extra)
        resolved = try c.decodeIfPresent([String].self, forKey: .resolved)?.map { RepoPath($0) } ?? []
    }

    /// Encodes as the file's JSON (paths as strings, ids as hex). - Throws: what the encoder throws.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ours, forKey: .ours)
        try c.encode(theirs, forKey: .theirs)
        try c.encode(theirsName, forKey: .theirsName)
        try c.encodeIfPresent(base, forKey: .base)
        try c.encode(message, forKey: .message)
        try c.encode(conflicts, forKey: .conflicts)
        try c.encode(added.map(\.string), forKey: .added)
        try c.encode(sideFiles.map(\.string), forKey: .sideFiles)
        try c.encode(extra, forKey: .extra)
        if !resolved.isEmpty { try c.encode(resolved.map(\.string), forKey: .resolved) }
    }

    /// The cohort a stopped `dvs cohort refresh` is refreshing (nil for `dvs merge`).
    var refreshedCohort: String? { extra[Repository.CohortHeader.name] }
    /// What is being merged, for people: `main`, or `main (refreshing cohort es)`.
    var describedTheirs: String { refreshedCohort.map { "\(theirsName) (refreshing cohort \($0))" } ?? theirsName }

    /// Tables and text files that may still hold conflict markers: label tables hold them inside
    /// cells (`<<<<<<< ours: …`), text files on lines of their own.
    var markedPaths: Set<RepoPath> { Set(conflicts.filter(\.kind.leavesMarkers).map { RepoPath($0.path) }) }
}

/// The file `.dvs/MERGE_STATE`: pretty-printed JSON with sorted keys, written atomically.
/// It knows nothing of HEAD; `Repository.mergeState()` ignores a state whose `ours` is not HEAD.
struct MergeStateFile {
    /// The file's path.
    var path: String
    /// A directory on the same file system for the atomic write's temporary file.
    var tmpDir: String

    /// The recorded state; nil when there is none or it cannot be decoded.
    func read() -> MergeState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(MergeState.self, from: data)
    }

    /// Records `state`, replacing any earlier one.
    /// - Throws: `DVSError` wrapping the encoding or storage error.
    func write(_ state: MergeState) throws {
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileIO.writeAtomically(Array(try enc.encode(state)), to: path, tmpDir: tmpDir)
        } catch { throw DVSError.wrap(error) }
    }

    /// Removes the file (no error when it is absent).
    func clear() { unlink(path) }
}

extension MergeOperation {
    /// The stopped merge, if one is in progress (a state left by a merge whose commit already
    /// landed is stale and ignored).
    func state() -> MergeState? {
        guard let s = stateFile.read() else { return nil }
        guard (try? history.headCommit()) == s.ours else { return nil }
        return s
    }

    /// Refuses `operation` (checkout, pull) while a stopped merge waits in the working tree:
    /// switching away would drop the merge's conflicts and let its `~theirs` files be committed
    /// elsewhere (git refuses the same way).
    /// - Throws: `DVSError.badInput` naming the merge and the two ways out.
    func refuseDuringMerge(_ operation: String) throws {
        guard let s = state() else { return }
        throw DVSError(
            .badInput, "cannot \(operation): a merge of '\(s.describedTheirs)' is in progress in the working tree; nothing was changed",
            next: .finishOrAbortMerge(afterStatus: true))
    }

    /// The merge in progress, for `dvs status`: what is merged, and the conflicts left.
    func inProgress() -> (theirs: String, conflicts: [MergeConflict], unresolved: [String])? {
        guard let s = state() else { return nil }
        return (s.describedTheirs, s.conflicts, unresolvedConflicts(s))
    }

    /// Conflicts still visible in the working tree: `PATH~theirs` files that exist, label
    /// tables and text files that still hold conflict markers, and deletions against changes
    /// (`MergeConflict.Kind.needsExplicitResolution`) neither taken nor marked resolved.
    func unresolvedConflicts(_ s: MergeState) -> [String] {
        var out = unresolvedDeletions(s).map(\.line)
        for p in s.sideFiles where workingTree.exists(p) {
            out.append("\(p) (remove it once '\(p.string.dropLast(7))' holds the version to keep)")
        }
        for p in s.markedPaths.sorted(by: { $0.string < $1.string }) {
            guard let data = workingTree.contents(of: p) else { continue }
            let n = data.split(separator: 0x0A).filter { $0.firstRange(of: Array("<<<<<<< ours".utf8)) != nil }.count
            if n > 0 { out.append("\(p) (\(counted(n, "line")) still \(n == 1 ? "holds" : "hold") conflict markers '<<<<<<< ours …')") }
        }
        return out
    }

    /// The deletions against changes still open: a file deleted on one side and changed on the
    /// other that is still in the tree, or a label row deleted on one side and edited on the
    /// other, unless its path was marked resolved; each with its path and a line for people.
    func unresolvedDeletions(_ s: MergeState) -> [(path: RepoPath, line: String)] {
        let marked = Set(s.resolved)
        var out: [(path: RepoPath, line: String)] = []
        for c in s.conflicts where c.kind.needsExplicitResolution {
            let p = RepoPath(c.path)
            if marked.contains(p) { continue }
            switch c.kind {
            case .deleteEdit:
                let sample = c.key.map { RepoPath($0) }
                if let sample, marked.contains(sample) { continue }
                // The row's audio deleted from the tree: the deletion was taken (a row left
                // without its audio is refused by the commit's label check).
                if let sample, !sample.string.hasPrefix("#"), !workingTree.exists(sample) { continue }
                out.append(
                    (
                        p,
                        "\(p) row \(c.key ?? "?") (deleted on one side, edited on the other: delete the row and its audio to take the deletion, or mark the path resolved to keep the edit)"
                    ))
            default:
                guard workingTree.exists(p) else { continue }
                out.append(
                    (
                        p,
                        "\(p) (\(c.kind == .modifyDelete ? "modified by us, deleted by them" : "deleted by us, modified by them"): delete it to take the deletion, or mark it resolved to keep it)"
                    ))
            }
        }
        return out
    }

    /// Marks conflicts of the stopped merge resolved as the working tree holds them (git's
    /// `add`/`rm` of an unmerged path): a file deleted on one side and changed on the other, or
    /// a label table (or a sample key) with a row deleted on one side and edited on the other.
    /// - Parameter paths: tree paths named by the merge's conflicts.
    /// - Returns: the conflicts still unresolved afterwards (as `unresolvedConflicts`).
    /// - Throws: `DVSError.badInput` when no merge is in progress or a path names no conflict of
    ///   the merge (nothing is marked then); what writing `.dvs/MERGE_STATE` throws.
    func markResolved(_ paths: [RepoPath]) throws -> [String] {
        guard var s = state() else {
            throw DVSError(.badInput, "no merge is in progress", next: .startMerge)
        }
        let named = Set(s.conflicts.flatMap { c in [RepoPath(c.path)] + (c.kind == .deleteEdit ? c.key.map { [RepoPath($0)] } ?? [] : []) })
        let unknown = paths.filter { !named.contains($0) }
        if !unknown.isEmpty {
            throw DVSError(
                .badInput,
                "no conflict of the merge of '\(s.describedTheirs)' is at \(unknown.map { "'\($0)'" }.joined(separator: ", ")); nothing was marked",
                details: s.conflicts.map { $0.path + ($0.key.map { " (row \($0))" } ?? "") })
        }
        for p in paths where !s.resolved.contains(p) { s.resolved.append(p) }
        try stateFile.write(s)
        return unresolvedConflicts(s)
    }
}

extension Repository {
    /// `.dvs/MERGE_STATE`'s path.
    var mergeStatePath: String { dvsDir + "/MERGE_STATE" }
    /// `.dvs/MERGE_STATE`.
    var mergeStateFile: MergeStateFile { MergeStateFile(path: mergeStatePath, tmpDir: tmpDir) }

    /// The stopped merge, if one is in progress (see `MergeOperation.state`).
    func mergeState() -> MergeState? { mergeOperation.state() }

    /// Refuses `operation` (checkout, pull) while a stopped merge waits in the working tree.
    /// - Throws: `DVSError.badInput` naming the merge and the two ways out.
    func refuseDuringMerge(_ operation: String) throws { try mergeOperation.refuseDuringMerge(operation) }

    /// The merge in progress, for `dvs status`: what is merged, and the conflicts left.
    public func mergeInProgress() -> (theirs: String, conflicts: [MergeConflict], unresolved: [String])? {
        mergeOperation.inProgress()
    }

    /// Marks conflicts of the stopped merge resolved as the working tree holds them (see
    /// `MergeOperation.markResolved`), under the repository lock.
    /// - Parameter paths: tree paths named by the merge's conflicts (a file, a label table, or a
    ///   deleted-versus-edited row's sample).
    /// - Returns: the conflicts still unresolved afterwards.
    /// - Throws: `DVSError.badInput` when no merge is in progress or a path names no conflict;
    ///   `.locked`.
    public func mergeMarkResolved(_ paths: [RepoPath]) throws -> [String] {
        let lock = try self.lock("dvs merge --resolved")
        defer { lock.release() }
        return try mergeOperation.markResolved(paths)
    }
}
