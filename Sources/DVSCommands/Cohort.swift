import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

struct Cohort: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cohorts: branches cut from the data by an SQL predicate over samples, refreshed and merged back.",
        subcommands: [Create.self, List.self, Show.self, Refresh.self], defaultSubcommand: List.self)

    static func json(_ c: CohortInfo) -> [String: Any] {
        [
            "name": c.name, "branch": "cohort/" + c.name, "head": c.head.hex, "predicate": c.predicate, "source": c.sourceRevision,
            "source_commit": c.sourceCommit.hex, "cut": c.cut.hex, "samples": c.totals.sampleCount,
            "hours": (c.totals.audioHours * 1e6).rounded() / 1e6, "source_moved_on": c.sourceMovedOn ?? NSNull(),
            "commits_since_cut": c.commitsSinceCut,
        ]
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create branch cohort/NAME holding the samples that match a predicate.",
            discussion: """
                The predicate is SQL over the sample table, as in 'dvs query' (e.g. lang = 'es' AND sample_rate = 8000).
                Label tables keep only the cohort's rows; other files are unchanged; no audio is copied.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name (the branch is cohort/NAME).") var name: String
        @Option(name: .customLong("where"), help: "SQL predicate over the sample table.") var predicate: String
        @Option(help: "Revision to cut from (default: the current branch).") var from: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            let c = try repo.createCohort(name, predicate: predicate, from: from)
            if json {
                try Output.jsonObject(Cohort.json(c))
                return
            }
            Output.out(
                "Created cohort \(c.name) (branch cohort/\(c.name) at \(c.head.short)): \(c.totals.sampleCount) samples, \(Output.hours(c.totals.audioHours)) from \(c.sourceRevision) (\(c.sourceCommit.short))"
            )
            Output.out("Switch to it with 'dvs checkout cohort/\(c.name)'")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List cohorts: predicate, source, samples, hours, how far the source has moved on.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            let all = try repo.cohorts()
            if json {
                try Output.jsonObject(all.map(Cohort.json))
                return
            }
            if all.isEmpty {
                Output.out("No cohorts yet; make one with 'dvs cohort create NAME --where \"lang = 'es'\"'")
                return
            }
            let width = all.map(\.name.count).max() ?? 0
            for c in all {
                let moved =
                    c.sourceMovedOn.map {
                        $0 == 0 ? "up to date with \(c.sourceRevision)" : "\(c.sourceRevision) has moved on \($0) commit(s)"
                    } ?? "\(c.sourceRevision) no longer exists"
                Output.out(
                    "\(c.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(c.head.short)  \(c.totals.sampleCount) samples, \(Output.hours(c.totals.audioHours))  where \(c.predicate)  (\(moved))"
                )
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one cohort.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            let c = try repo.cohort(name)
            if json {
                try Output.jsonObject(Cohort.json(c))
                return
            }
            Output.out("cohort \(c.name)  (branch cohort/\(c.name))")
            Output.out("where:    \(c.predicate)")
            Output.out("source:   \(c.sourceRevision) at \(c.sourceCommit.short) (latest cut \(c.cut.short))")
            if let m = c.sourceMovedOn {
                Output.out(
                    "          "
                        + (m == 0
                            ? "no new commits on \(c.sourceRevision) since"
                            : "\(m) new commit(s) on \(c.sourceRevision) since; 'dvs cohort refresh \(c.name)' brings them in"))
            } else {
                Output.out("          \(c.sourceRevision) no longer exists; refresh with --from REV")
            }
            Output.out("head:     \(c.head.short), \(c.commitsSinceCut) commit(s) since the cut")
            Output.out("samples:  \(c.totals.sampleCount), \(Output.hours(c.totals.audioHours)) of audio")
        }
    }

    struct Refresh: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-apply the predicate to the newer source and merge the result into the cohort (a merge commit).",
            discussion: "Labels edited on the cohort are kept; the source's new samples and relabels come in.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name.") var name: String
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
            let s = try repo.refreshCohort(name, from: from, prefer: prefer, progress: json ? nil : Output.progress())
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
