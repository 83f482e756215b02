import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// The journal of an operation that writes the working tree (checkout, merge, pull, clone,
// cohort refresh, merge --abort): `.dvs/JOURNAL` is written durably before the first file of the
// tree changes and removed once HEAD, the refs and the stat cache say the tree is at its target.
// A process killed in between (SIGKILL, SIGINT, SIGTERM, power loss) leaves the file behind, and
// the next dvs command finishes the operation (or, for a merge that was stopping for conflicts,
// rolls it back) before it does anything else, saying so on standard error.

/// The refs a switch of the working tree moves once the tree is written, in the transaction
/// that refreshes the stat cache; recorded in the journal so that recovery can move them.
enum TreeSwitchRefs: Codable, Equatable, Sendable {
    /// No ref moves (`dvs merge --abort` returns the tree to HEAD).
    case none
    /// HEAD is set to `branch` at the target, or detached at the target when `branch` is nil
    /// (`dvs checkout`); `message` is the reflog's.
    case setHead(branch: String?, message: String)
    /// `branch` moves from `expected` (nil: unborn) to the target, or a detached HEAD is set to
    /// the target when `branch` is nil (fast-forward and clean merges, pull, clone).
    case moveBranch(branch: String?, expected: CommitID?, message: String)

    /// Applies the move to `target` in `tx`, with the reflog.
    /// - Throws: catalog errors (a branch no longer at `expected`).
    func apply(to target: CommitID, in tx: CatalogTransaction, who: String) throws {
        switch self {
        case .none: return
        case .setHead(let branch, let message):
            try tx.setHead(branch.map { .branch($0, target) } ?? .detached(target), who: who, message: message)
        case .moveBranch(let branch?, let expected, let message):
            try tx.moveRefs([RefUpdate(name: .branch(branch), expected: expected, new: target, message: message)], who: who)
        case .moveBranch(nil, _, let message):
            try tx.setHead(.detached(target), who: who, message: message)
        }
    }

    /// Whether the catalog already shows the move to `target` (the operation's last transaction
    /// committed before the process stopped); always false for `.none`.
    /// - Throws: catalog errors.
    func isDone(to target: CommitID, in catalog: Catalog) throws -> Bool {
        switch self {
        case .none: return false
        case .setHead(let branch, _):
            return try catalog.head() == (branch.map { .branch($0, target) } ?? .detached(target))
        case .moveBranch(let branch?, _, _): return try catalog.ref(.branch(branch)) == target
        case .moveBranch(nil, _, _): return try catalog.head() == .detached(target)
        }
    }
}

/// What `.dvs/JOURNAL` records about an operation that is writing the working tree.
///
/// Encoded as JSON (sorted keys): `kind`, `command` (as the user typed it, for messages),
/// `revision`, `from` (HEAD's commit before; absent on an unborn branch), `target`, `force`,
/// `refs`; commit ids as 64 lower-case hex digits.
struct OperationJournal: Codable, Equatable, Sendable {
    /// What recovery does with an interrupted operation.
    enum Kind: String, Codable, Sendable {
        /// A switch of the tree to `target` (checkout, fast-forward, pull, clone): finished by
        /// switching again (idempotent), then moving the refs.
        case checkout
        /// A merge commit already recorded as `target`, being written into the tree: finished
        /// like `checkout`.
        case merge
        /// A merge stopping for conflicts (or `--no-commit`), writing its result and
        /// `.dvs/MERGE_STATE`: rolled back to `from`, as `dvs merge --abort` does.
        case mergeStop = "merge-stop"
        /// `dvs merge --abort` returning the tree to `target` (HEAD): finished, and the merge
        /// state removed.
        case mergeAbort = "merge-abort"
    }

    /// What recovery does.
    var kind: Kind
    /// The command as the user would recognise it (`dvs checkout side`), for messages.
    var command: String
    /// The revision being switched to, as given (`side`, `origin/main`).
    var revision: String
    /// HEAD's commit when the operation started; nil on an unborn branch.
    var from: CommitID?
    /// The commit the tree is being switched to (for `mergeStop`, HEAD's own).
    var target: CommitID
    /// Whether the switch discards local changes (`--force`, clone, abort).
    var force: Bool
    /// The refs moved when the tree is written.
    var refs: TreeSwitchRefs
}

/// The file `.dvs/JOURNAL`, written atomically and durably (temp file in `.dvs/tmp`, fsync,
/// rename, fsync of `.dvs`).
struct OperationJournalFile: Sendable {
    /// The file's path.
    var path: String
    /// A folder on the same file system for the atomic write's temporary file.
    var tmpDir: String

    /// Whether a journal is there (one `stat`).
    var exists: Bool { FileIO.exists(path) }

    /// The recorded operation; nil when there is none.
    /// - Throws: `DVSError.corrupt` when the file is there but cannot be decoded.
    func read() throws -> OperationJournal? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(OperationJournal.self, from: data) } catch {
            throw DVSError(
                .corrupt, "the journal of an interrupted operation '\(path)' cannot be read: \(error)",
                hint: "check that the working tree holds what you expect, then delete '\(path)'")
        }
    }

    /// Records `journal` durably before the working tree is touched.
    /// - Throws: `DVSError` wrapping the encoding or storage error.
    func write(_ journal: OperationJournal) throws {
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try FileIO.writeAtomically(Array(try enc.encode(journal)), to: path, tmpDir: tmpDir)
        } catch { throw DVSError.wrap(error) }
    }

    /// Removes the file once the operation is complete (no error when it is absent).
    func clear() {
        // Synced, so a power loss cannot bring the journal back to replay a finished operation.
        if unlink(path) == 0 { FileIO.syncDirectory((path as NSString).deletingLastPathComponent) }
    }
}

extension Repository {
    /// `.dvs/JOURNAL`.
    var journalFile: OperationJournalFile { OperationJournalFile(path: dvsDir + "/JOURNAL", tmpDir: tmpDir) }

    /// Prefix of the temporary files a working-tree write makes in `.dvs/tmp`.
    static let treeTempPrefix = "wt-"

    /// Finishes (or rolls back) an operation a killed process left in `.dvs/JOURNAL`, when there
    /// is one and the lock is free; a failure is reported through the context's `notice`, not
    /// thrown, so that read commands (`status`, `fsck`, `log`) still run. Writers try again when
    /// they take the lock (``lock(_:)``), and fail there.
    func recoverOnOpen() {
        guard journalFile.exists || FileIO.exists(purgeJournalPath),
            let lock = RepositoryLock.tryAcquire(path: dvsDir + "/lock", command: "dvs (finishing an interrupted operation)")
        else { return }
        defer { lock.release() }
        do {
            try recoverInterruptedOperation()
            if FileIO.exists(purgeJournalPath) { _ = try finishInterruptedPurge() }
        } catch {
            let e = DVSError.wrap(error)
            interruptedOperationFailure = e
            context.notice?("warning: \(e.message)\(Self.naming(e.details.map(Self.pathOnly)))")
        }
    }

    /// The path of a `details` line of a refused checkout (`clips/a.wav (uncommitted changes …)`).
    static func pathOnly(_ detail: String) -> String {
        guard let r = detail.range(of: " (", options: .backwards), detail.hasSuffix(")") else { return detail }
        return String(detail[..<r.lowerBound])
    }

    /// `: a, b, c` for up to 10 of `files` (`… and N more` after), or nothing when there are none.
    static func naming(_ files: [String]) -> String {
        guard !files.isEmpty else { return "" }
        let more = files.count > 10 ? ", … and \(files.count - 10) more" : ""
        return ": " + files.prefix(10).joined(separator: ", ") + more
    }

    /// Finishes the operation recorded in `.dvs/JOURNAL`, if any, and says what it did through
    /// the context's `notice`: a checkout, pull, clone or merge that was writing its target is
    /// completed (the tree is switched to the target again, which only writes what still differs,
    /// then the refs move); a merge that was stopping for conflicts is rolled back to HEAD as
    /// `dvs merge --abort` would; an interrupted `--abort` is completed. Temporary files the
    /// killed process left in `.dvs/tmp` are removed. The caller holds the lock.
    ///
    /// Files changed since the operation was interrupted stop the completion (every writer then
    /// refuses, naming them) unless `overwriting`: then they are overwritten with the target's
    /// content, and the notice names them (git's `checkout --force`: the user asked to discard
    /// local changes). The journal is never left to be deleted by hand.
    /// - Throws: `DVSError` naming the interrupted command when it cannot be finished (the
    ///   journal stays, so the next command tries again): `.wouldOverwrite` naming the changed
    ///   files in `details`, with the next step ``DVSError/NextStep/finishInterruptedOperation``;
    ///   `.corrupt` for a damaged journal or object.
    func recoverInterruptedOperation(overwriting: Bool = false) throws {
        guard let j = try journalFile.read() else { return }
        removeTreeTempFiles()
        let note: String
        var overwritten: [String] = []
        do {
            switch j.kind {
            case .checkout, .merge, .mergeAbort:
                if try !j.refs.isDone(to: j.target, in: catalog) {
                    do {
                        _ = try switchTree(to: j.target, revision: j.revision, force: j.force, refs: j.refs, journal: nil, progress: nil)
                    } catch let e as DVSError where e.code == .wouldOverwrite && overwriting && !j.force {
                        overwritten = e.details
                        _ = try switchTree(to: j.target, revision: j.revision, force: true, refs: j.refs, journal: nil, progress: nil)
                    }
                }
                if j.kind == .mergeAbort { mergeStateFile.clear() }
                switch j.kind {
                case .mergeAbort:
                    note =
                        "the interrupted '\(j.command)' was finished: the working tree is at HEAD (\(j.target.short)) and no merge is in progress"
                case .merge:
                    // The target is the merge's result (a merge commit or a fast-forward), not the
                    // revision merged in.
                    note =
                        "the interrupted '\(j.command)' was finished: the working tree and HEAD are at the merge's result (\(j.target.short))"
                default:
                    note =
                        "the interrupted '\(j.command)' was finished: the working tree and HEAD are at \(j.target.short) ('\(j.revision)')"
                }
            case .mergeStop:
                if let s = mergeStateFile.read(), try headCommit() == s.ours {
                    let head = Set(try entries(ofManifest: commit(s.ours).manifest).map(\.path))
                    workingTree.remove(s.added.filter { !head.contains($0) })
                }
                _ = try switchTree(to: j.target, revision: "HEAD", force: true, refs: .none, journal: nil, progress: nil)
                mergeStateFile.clear()
                note =
                    "the interrupted '\(j.command)' was rolled back: the working tree is at HEAD (\(j.target.short)) again and no merge is in progress; run it again to merge"
            }
        } catch {
            var e = DVSError.wrap(error)
            e.message = "cannot finish the interrupted '\(j.command)': \(e.message)"
            if e.code == .wouldOverwrite {
                e.message =
                    "cannot finish the interrupted '\(j.command)': \(counted(e.details.count, "file")) it must write were changed since it was interrupted"
                e.hint = nil
                e.next = .finishInterruptedOperation(command: j.command, target: j.target.short)
            }
            throw e
        }
        journalFile.clear()
        context.notice?("note: \(note)")
        if !overwritten.isEmpty {
            context.notice?(
                "note: to finish it, \(counted(overwritten.count, "file")) changed since were overwritten\(Self.naming(overwritten.map(Self.pathOnly)))"
            )
        }
    }

    /// Removes the temporary files working-tree writes leave in `.dvs/tmp` when killed.
    /// The caller holds the lock (no other writer can be using them).
    func removeTreeTempFiles() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: tmpDir) else { return }
        for n in names where n.hasPrefix(Self.treeTempPrefix) { unlink(tmpDir + "/" + n) }
    }
}
