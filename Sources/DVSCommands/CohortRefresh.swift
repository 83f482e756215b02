import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

extension Cohort {
    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "refresh",
            abstract: "Re-apply the predicate to the newer source and merge the result into the cohort (a merge commit).",
            discussion: "Labels edited on the cohort are kept; the source's new samples and relabels come in.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name, or its branch's name cohort/NAME.") var name: String
        @Option(help: "Revision to cut from (default: the cohort's source).") var from: String?
        @Option(help: ArgumentHelp("Resolve every conflict to one side: ours (the cohort) or theirs (the source).", valueName: "side"))
        var strategy: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            var prefer: MergePreference?
            if let strategy {
                guard let p = MergePreference(rawValue: strategy) else {
                    throw DVSError(.usage, "--strategy is 'ours' or 'theirs', not '\(strategy)'")
                }
                prefer = p
            }
            let s: MergeSummary
            do { s = try repo.refreshCohort(name, from: from, prefer: prefer, progress: json ? nil : Output.progress()) } catch var e
                as DVSError where e.code == .unknownRevision && from == nil && repo.partialRemote() != nil
            {
                // A partial clone of the cohort lacks its source until a fetch brings it.
                if let c = try? repo.cohort(name) {
                    e.next = nil
                    e.hint =
                        "the cohort's source '\(c.sourceRevision)' is not in this clone (a clone with --branch fetched only that branch): run 'dvs fetch' first, or pass --from REV"
                }
                throw e
            }
            if !json, s.status == .merged, s.changes.isEmpty, let head = s.head {
                // The source moved, but nothing the cohort selects changed (e.g. the cohort's own
                // work merged back): say so; the merge commit only records the new source.
                Output.out(
                    "Cohort \(name) already had everything its predicate selects from the source; recorded the source's new commit in \(head.short) (no file changed), so 'dvs cohort list' counts from there"
                )
                return
            }
            try Merge.report(s, revision: "the new cut of cohort \(name)", json: json)
            if s.status == .conflicts { throw ExitCode(1) }
        }
    }
}
