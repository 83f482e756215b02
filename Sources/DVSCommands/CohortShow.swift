import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

extension Cohort {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one cohort.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name, or its branch's name cohort/NAME.") var name: String
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
                let source = c.sourceTracking ?? c.sourceRevision
                Output.out(
                    "          "
                        + (m == 0
                            ? "no new commits on \(source) since"
                            : "\(Output.count(m, "new commit")) on \(source) since; 'dvs cohort refresh \(c.name)' brings them in"))
            } else {
                Output.out(
                    repo.partialRemote() != nil
                        ? "          \(c.sourceRevision) is not in this clone (a clone with --branch fetched only that branch): 'dvs fetch' brings it"
                        : "          \(c.sourceRevision) no longer exists; refresh with --from REV")
            }
            Output.out("head:     \(c.head.short), \(Output.count(c.commitsSinceCut, "commit")) since the cut")
            Output.out("samples:  \(c.totals.sampleCount), \(Output.hours(c.totals.audioHours)) of audio")
        }
    }
}
