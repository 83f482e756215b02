import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

extension Cohort {
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Create branch cohort/NAME holding the samples that match a predicate.",
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
}
