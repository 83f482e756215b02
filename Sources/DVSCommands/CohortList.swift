import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

extension Cohort {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List cohorts: predicate, source, samples, hours, how far the source has moved on.")
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
            let partial = repo.partialRemote() != nil
            for c in all {
                let source = c.sourceTracking ?? c.sourceRevision
                let moved =
                    c.sourceMovedOn.map {
                        $0 == 0 ? "up to date with \(source)" : "\(source) has moved on \(Output.count($0, "commit"))"
                    }
                    ?? (partial
                        ? "\(c.sourceRevision) is not in this clone: 'dvs fetch' brings it" : "\(c.sourceRevision) no longer exists")
                Output.out(
                    "\(c.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(c.head.short)  \(Output.count(c.totals.sampleCount, "sample")), \(Output.hours(c.totals.audioHours))  where \(c.predicate)  (\(moved))"
                )
            }
        }
    }
}
