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
                The predicate is SQL over the sample table, as in 'dvs query' (e.g. lang = 'es' AND sample_rate = 8000). \
                Label tables keep only the cohort's rows; other files are unchanged; no audio is copied.

                With --pack, the cohort's frames are also copied, as stored, into packs of their own. A partial \
                clone of the cohort or 'dvs stream --remote' then reads them in a few long requests instead of \
                about one per sample. It costs the cohort's stored size once more; 'dvs gc' removes those packs \
                once the branch is deleted. After 'dvs cohort refresh', 'dvs cohort pack NAME' packs what came in.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name (the branch is cohort/NAME; cohort/NAME names it too).") var name: String
        @Option(name: .customLong("where"), help: "SQL predicate over the sample table.") var predicate: String
        @Option(help: "Revision to cut from (default: the current branch).") var from: String?
        @Flag(help: "Also copy the cohort's frames into packs of their own, for fast reads from a remote.") var pack = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            let (c, packing) = try repo.createCohort(
                name, predicate: predicate, from: from, pack: pack, progress: json ? nil : Output.progress())
            if json {
                var o = Cohort.json(c)
                if let packing { o["packed"] = Cohort.json(packing) }
                try Output.jsonObject(o)
                return
            }
            Output.out(
                "Created cohort \(c.name) (branch cohort/\(c.name) at \(c.head.short)): \(Output.count(c.totals.sampleCount, "sample")), \(Output.hours(c.totals.audioHours)) from \(c.sourceRevision) (\(c.sourceCommit.short))"
            )
            if let packing { Output.out(Cohort.describe(packing, subject: "its frames")) }
            Output.out("Switch to it with 'dvs checkout cohort/\(c.name)'")
        }
    }
}
