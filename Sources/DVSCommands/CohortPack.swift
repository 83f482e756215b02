import ArgumentParser
import DVS
import Foundation

extension Cohort {
    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pack", abstract: "Copy a cohort's frames into packs of their own, for fast reads from a remote.",
            discussion: """
                A cohort cut by a predicate is spread over every pack of its source, so a partial clone or \
                'dvs stream --remote' of it needs about one request per sample. This copies the frames its \
                snapshot names, as stored, into packs in the snapshot's order; push them, and readers of the \
                remote fetch the cohort in a few long requests. Only what no earlier pack of the cohort holds \
                is copied (after 'dvs cohort refresh', what came in); in a partial clone, what is not downloaded \
                is downloaded first. 'dvs gc' removes the packs once the \
                branch is deleted.
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Cohort name, or its branch's name cohort/NAME.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            let p = try repo.packCohort(name, progress: json ? nil : Output.progress())
            if json {
                try Output.jsonObject(Cohort.json(p))
                return
            }
            Output.out(Cohort.describe(p, subject: "cohort \(name)"))
        }
    }
}
