import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Join another branch's history into the current branch: by file, by label row, by label field.",
        discussion: """
            dvs merge REV                    fast-forward, or a committed three-way merge
            dvs merge REV --strategy theirs  resolve every conflict to their side (or ours)
            dvs merge REV --no-commit        merge into the working tree only
            dvs merge --resolved PATH        keep the tree's file at a deleted/changed path
            dvs merge --continue             commit once the conflicts are fixed
            dvs merge --abort                restore the tree as it was before the merge

            Audio and other files merge by path; label tables (CSV/TSV/JSON Lines) merge
            row by row, keyed by sample, and field by field inside a row; other text
            files merge line by line, as in git. A field changed two ways holds
            conflict markers in its cell until you edit it:
              <<<<<<< ours: … ||||||| base: … ======= theirs: … >>>>>>>
            Lines of a text file changed two ways hold git's diff3 markers. Audio or
            another binary file changed two ways keeps ours and puts theirs in
            PATH~theirs. A file or label row deleted on one side and changed on the
            other stays in the tree changed, and the merge waits until you delete it
            (taking the deletion) or mark it kept with --resolved PATH.
            'dvs status' lists what is left. Rules: schema/MERGE.md.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The branch, tag or commit to merge.") var revision: String?
    @Option(help: ArgumentHelp("Resolve every conflict to one side: ours or theirs.", valueName: "side")) var strategy: String?
    @Flag(help: "Merge into the working tree without committing.") var noCommit = false
    @Option(name: .shortAndLong, help: "The merge commit's message.") var message: String?
    @Flag(name: .customLong("continue"), help: "Commit a stopped merge once its conflicts are fixed.") var continueMerge = false
    @Flag(help: "Undo a stopped merge: restore the working tree to HEAD.") var abort = false
    @Option(
        help: ArgumentHelp(
            "Mark a deleted-versus-changed conflict at PATH (a file, a label table or a row's sample) resolved as the tree holds it; repeatable.",
            valueName: "path")) var resolved: [String] = []
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        if abort {
            let s = try repo.mergeAbort(progress: Output.progress())
            if json {
                try Output.jsonObject(["status": "aborted", "head": s.id.hex, "written": s.written, "removed": s.removed] as [String: Any])
                return
            }
            Output.out(
                "Merge aborted; the working tree is back at \(s.id.short) (\(Output.count(s.written, "file")) restored, \(s.removed) removed)"
            )
            return
        }
        if !resolved.isEmpty {
            let left = try repo.mergeMarkResolved(resolved.map { RepoPath($0) })
            if json {
                if !continueMerge {
                    try Output.jsonObject(["status": "marked", "resolved": resolved, "unresolved": left] as [String: Any])
                }
            } else {
                Output.out(
                    "Marked \(Output.count(resolved.count, "path")) resolved; \(Output.count(left.count, "conflict")) still unresolved")
                for l in left.prefix(50) { Output.out("  \(l)") }
            }
            if !continueMerge { return }
        }
        if continueMerge {
            let s = try repo.mergeContinue(message: message, progress: Output.progress())
            Output.findings(s.labelFindings)
            if json {
                try Output.jsonObject(["status": "merged", "head": s.id.hex, "parents": s.commit.parents.map(\.hex)] as [String: Any])
                return
            }
            Output.out("[\(s.branch ?? "detached HEAD") \(s.id.short)] \(s.commit.message.split(separator: "\n").first ?? "")")
            Output.out(
                " merge commit of \(s.commit.parents.map(\.short).joined(separator: " ")); \(Output.count(s.commit.totals.sampleCount, "sample")), \(Output.hours(s.commit.totals.audioHours)) of audio"
            )
            return
        }
        guard let revision else { throw DVSError(.usage, "what to merge? dvs merge REV (or --continue, --abort)") }
        var prefer: MergePreference?
        if let strategy {
            guard let p = MergePreference(rawValue: strategy) else {
                throw DVSError(.usage, "--strategy is 'ours' or 'theirs', not '\(strategy)'")
            }
            prefer = p
        }
        let s = try repo.merge(
            Revision(revision), prefer: prefer, noCommit: noCommit, message: message, progress: json ? nil : Output.progress())
        try Self.report(s, revision: revision, json: json)
        if s.status == .conflicts { throw ExitCode(1) }
    }

    static func report(_ s: MergeSummary, revision: String, json: Bool) throws {
        if json {
            let conflicts = try Output.jsonValue(s.conflicts, snakeCase: false)
            try Output.jsonObject(
                [
                    "status": s.status.rawValue, "head": s.head?.hex ?? NSNull(), "theirs": s.theirs.hex, "base": s.base?.hex ?? NSNull(),
                    "merge_bases": s.baseCount, "conflicts": conflicts, "changes": s.changes.count,
                ] as [String: Any])
            return
        }
        if s.baseCount > 1 {
            Output.err("note: \(s.baseCount) merge bases (criss-cross history); using \(s.base?.short ?? "?"), the newest")
        }
        let added = s.changes.filter { $0.kind == .added }.count
        let modified = s.changes.filter { $0.kind == .modified }.count
        let deleted = s.changes.filter { $0.kind == .deleted }.count
        let counts = "\(Output.count(s.changes.count, "file")) changed (\(added) new, \(modified) modified, \(deleted) deleted)"
        switch s.status {
        case .upToDate: Output.out("Already up to date.")
        case .fastForward: Output.out("Fast-forward to \(s.head?.short ?? "")\n \(counts)")
        case .merged:
            Output.out("Merged \(revision) (\(s.theirs.short)) as \(s.head?.short ?? ""), base \(s.base?.short ?? "none")\n \(counts)")
        case .noCommit:
            Output.out(
                "Merged \(revision) into the working tree, not committed (\(counts)); 'dvs merge --continue' commits it, 'dvs merge --abort' undoes it"
            )
        case .conflicts: printStopped(s.conflicts, what: "Merge of \(revision)", detail: "; \(counts)")
        }
    }

    /// The conflicts of a stopped merge (`dvs merge`, `dvs pull`, `dvs cohort refresh`) and what to do next.
    static func printStopped(_ conflicts: [MergeConflict], what: String, detail: String = "") {
        Output.out("\(what) stopped with \(Output.count(conflicts.count, "conflict"))\(detail):")
        for c in conflicts.prefix(50) { Output.out("  CONFLICT (\(c.kind.rawValue)) \(c.message)") }
        if conflicts.count > 50 { Output.out("  … and \(conflicts.count - 50) more ('dvs status' lists them all)") }
        Output.out("Fix them, then 'dvs merge --continue'; or 'dvs merge --abort' to undo the merge.")
    }
}
