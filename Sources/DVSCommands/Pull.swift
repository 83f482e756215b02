import ArgumentParser
import DVS
import Foundation

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Fetch, then fast-forward or merge the remote branch into the current branch and its working tree.",
        discussion:
            "Diverged histories are merged as 'dvs merge' does (by file, label row and field). Refuses when local changes would be overwritten."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The remote.") var remote: String = "origin"
    @Argument(help: "The remote branch (default: the current branch's name).") var branch: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let repo = try global.repository()
        let s = try repo.pull(remote: remote, branch: branch, progress: Output.progress())
        if json {
            fetchNotes(s.fetch)
            var o = fetchJSON(s.fetch)
            o["branch"] = s.branch
            o["old"] = s.old?.hex ?? NSNull()
            o["new"] = s.new?.hex ?? NSNull()
            o["status"] = s.status.rawValue
            o["files_written"] = s.written
            o["files_removed"] = s.removed
            try Output.jsonObject(o)
            return
        }
        printFetch(s.fetch)
        switch s.status {
        case .upToDate: Output.out("Already up to date.")
        case .ahead: Output.out("Already up to date ('\(s.branch)' has commits the remote lacks: dvs push \(remote)).")
        case .merged:
            Output.out(
                "Merged \(remote)/\(branch ?? s.branch) into \(s.branch) as \(s.new?.short ?? ""): wrote \(Output.count(s.written, "file")), removed \(s.removed)"
            )
        case .conflicts:
            Merge.printStopped(s.conflicts, what: "Merge of \(remote)/\(branch ?? s.branch)")
            throw ExitCode(1)
        case .fastForward:
            Output.out(
                "Fast-forward \(s.branch) \(s.old?.short ?? "(none)")..\(s.new?.short ?? ""): wrote \(Output.count(s.written, "file")), removed \(s.removed)"
            )
        }
    }
}
