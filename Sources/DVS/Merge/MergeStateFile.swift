import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `.dvs/MERGE_STATE` records about a merge that stopped for conflicts or `--no-commit`.
struct MergeState: Codable, Equatable {
    /// HEAD's commit when the merge stopped (hex); the state is stale once HEAD moves.
    var ours: String
    /// The commit being merged in (hex).
    var theirs: String
    /// The revision being merged in, as given (`side`, `main`).
    var theirsName: String
    /// The merge base used (hex), nil for unrelated histories.
    var base: String?
    /// The merge commit's message.
    var message: String
    /// The conflicts the merge recorded.
    var conflicts: [MergeConflict]
    /// Paths the merge wrote that HEAD does not have (removed again by `--abort`).
    var added: [String]
    /// `PATH~theirs` files it wrote.
    var sideFiles: [String]
    /// Extra commit headers for the merge commit (cohort refresh).
    var extra: [String: String]

    /// The cohort a stopped `dvs cohort refresh` is refreshing (nil for `dvs merge`).
    var refreshedCohort: String? { extra[Repository.CohortHeader.name] }
    /// What is being merged, for people: `main`, or `main (refreshing cohort es)`.
    var describedTheirs: String { refreshedCohort.map { "\(theirsName) (refreshing cohort \($0))" } ?? theirsName }
    /// The command that starts this merge again (to retry it with `--strategy`).
    var restartCommand: String { refreshedCohort.map { "dvs cohort refresh \($0)" } ?? "dvs merge \(theirsName)" }

    /// Tables and text files that may still hold conflict markers: label tables hold them inside
    /// cells (`<<<<<<< ours: …`), text files on lines of their own.
    var markedPaths: Set<String> { Set(conflicts.filter(\.kind.leavesMarkers).map(\.path)) }
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

extension Repository {
    /// `.dvs/MERGE_STATE`'s path.
    var mergeStatePath: String { dvsDir + "/MERGE_STATE" }
    /// `.dvs/MERGE_STATE`.
    var mergeStateFile: MergeStateFile { MergeStateFile(path: mergeStatePath, tmpDir: tmpDir) }

    /// The stopped merge, if one is in progress (a state left by a merge whose commit already
    /// landed is stale and ignored).
    func mergeState() -> MergeState? {
        guard let s = mergeStateFile.read() else { return nil }
        guard (try? headCommit())??.hex == s.ours else { return nil }
        return s
    }

    /// Refuses `operation` (checkout, pull) while a stopped merge waits in the working tree:
    /// switching away would drop the merge's conflicts and let its `~theirs` files be committed
    /// elsewhere (git refuses the same way).
    /// - Throws: `DVSError.badInput` naming the merge and the two ways out.
    func refuseDuringMerge(_ operation: String) throws {
        guard let s = mergeState() else { return }
        throw DVSError(
            .badInput, "cannot \(operation): a merge of '\(s.describedTheirs)' is in progress in the working tree; nothing was changed",
            next: .finishOrAbortMerge(afterStatus: true))
    }

    /// The merge in progress, for `dvs status`: what is merged, and the conflicts left.
    public func mergeInProgress() -> (theirs: String, conflicts: [MergeConflict], unresolved: [String])? {
        guard let s = mergeState() else { return nil }
        return (s.describedTheirs, s.conflicts, unresolvedConflicts(s))
    }

    /// Conflicts still visible in the working tree: `PATH~theirs` files that exist, and label
    /// tables and text files that still hold conflict markers.
    func unresolvedConflicts(_ s: MergeState) -> [String] {
        var out: [String] = []
        for p in s.sideFiles where FileIO.exists(root + "/" + p) {
            out.append("\(p) (remove it once '\(p.dropLast(7))' holds the version to keep)")
        }
        for p in s.markedPaths.sorted() {
            guard let data = FileManager.default.contents(atPath: root + "/" + p) else { continue }
            let n = data.split(separator: 0x0A).filter { $0.firstRange(of: Array("<<<<<<< ours".utf8)) != nil }.count
            if n > 0 { out.append("\(p) (\(n) line(s) still hold conflict markers '<<<<<<< ours …')") }
        }
        return out
    }
}
