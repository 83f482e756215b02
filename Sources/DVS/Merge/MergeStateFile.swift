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
        case ours, theirs, theirsName, base, message, conflicts, added, sideFiles, extra
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

    /// Conflicts still visible in the working tree: `PATH~theirs` files that exist, and label
    /// tables and text files that still hold conflict markers.
    func unresolvedConflicts(_ s: MergeState) -> [String] {
        var out: [String] = []
        for p in s.sideFiles where workingTree.exists(p) {
            out.append("\(p) (remove it once '\(p.string.dropLast(7))' holds the version to keep)")
        }
        for p in s.markedPaths.sorted(by: { $0.string < $1.string }) {
            guard let data = workingTree.contents(of: p) else { continue }
            let n = data.split(separator: 0x0A).filter { $0.firstRange(of: Array("<<<<<<< ours".utf8)) != nil }.count
            if n > 0 { out.append("\(p) (\(n) line(s) still hold conflict markers '<<<<<<< ours …')") }
        }
        return out
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
}
