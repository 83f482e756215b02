import ArgumentParser
import DVS
import DVSCore

struct Checkout: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkout", abstract: "Update the working tree to a revision, or export it into another folder.",
        discussion: "Refuses, naming the files, when it would overwrite uncommitted changes or untracked files, unless --force.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Branch, commit or HEAD~N.") var revision: String
    @Flag(help: "Discard uncommitted changes and untracked files in the way.") var force = false
    @Option(help: ArgumentHelp("Export the snapshot into this new or empty folder; HEAD does not move.", valueName: "dir")) var to: String?

    func run() throws {
        let repo = try global.repository()
        if let to {
            let target = to.hasPrefix("/") || global.directory == nil ? to : global.directory! + "/" + to
            let s = try repo.export(Revision(revision), to: target, progress: Output.progress())
            Output.out("Exported \(s.id.short) to \(to): \(Output.count(s.written, "file")), \(Output.bytes(s.bytesWritten))")
            return
        }
        // A detached HEAD left for another commit: warn when no branch or tag keeps its commit
        // (git's "you are leaving N commits behind"); the reflog still has it.
        let leaving = repo.currentBranch() == nil ? try repo.headCommit() : nil
        // As git: a name that is no branch, tag or commit here but one remote's branch becomes a
        // local branch at it (a clone has only the branch it checked out).
        if (try? repo.resolveRevision(Revision(revision))) == nil {
            if let remote = try repo.uniqueRemoteBranch(named: revision) {
                _ = try repo.createBranch(revision, at: Revision("\(remote)/\(revision)"))
                Output.err("note: branch '\(revision)' created from '\(remote)/\(revision)'")
            } else if let remote = try repo.remotes().first?.name, !revision.contains(where: { "~^:".contains($0) }) {
                // A clone with --branch fetched that branch only: say how to get the others.
                do { _ = try repo.resolveRevision(Revision(revision)) } catch var e as DVSError where e.code == .unknownRevision {
                    e.next = nil
                    e.hint =
                        "if '\(revision)' is a branch on '\(remote)', run 'dvs fetch \(remote)' first (a clone with --branch fetched only that branch), then 'dvs checkout \(revision)'"
                    throw e
                }
            }
        }
        let s = try repo.checkout(Revision(revision), force: force, progress: Output.progress())
        if let b = s.branch {
            Output.out("Switched to branch '\(b)' at \(s.id.short)")
        } else {
            Output.out("HEAD is now at \(s.id.short) (detached)")
        }
        Output.out(
            " wrote \(Output.count(s.written, "file")) (\(Output.bytes(s.bytesWritten))), removed \(s.removed), \(s.unchanged) unchanged")
        if let old = leaving, old != s.id {
            let tips = try (repo.branches() + repo.tags()).map(\.target) + [s.id]
            if try !tips.contains(where: { try repo.isAncestor(old, of: $0) }) {
                Output.err(
                    "warning: commit \(old.short) was on a detached HEAD and no branch or tag holds it; keep it with 'dvs branch NAME \(old.short)' (the reflog has it too)"
                )
            }
        }
    }
}
