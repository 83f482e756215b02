import ArgumentParser
import DVS
import DVSCore
import DVSLabels
import Foundation

struct Cohort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort", abstract: "Cohorts: branches cut from the data by an SQL predicate over samples, refreshed and merged back.",
        subcommands: [Create.self, List.self, Show.self, Refresh.self, Pack.self], defaultSubcommand: List.self)

    static func json(_ c: CohortInfo) -> [String: Any] {
        [
            "name": c.name, "branch": "cohort/" + c.name, "head": c.head.hex, "predicate": c.predicate, "source": c.sourceRevision,
            "source_commit": c.sourceCommit.hex, "cut": c.cut.hex, "samples": c.totals.sampleCount,
            "hours": (c.totals.audioHours * 1e6).rounded() / 1e6, "source_moved_on": c.sourceMovedOn ?? NSNull(),
            "commits_since_cut": c.commitsSinceCut, "source_tracking": c.sourceTracking ?? NSNull(),
        ]
    }

    static func json(_ p: CohortPacking) -> [String: Any] { ["packs": p.packs, "blobs": p.blobs, "bytes": p.bytes] }

    /// One line on what was packed; `subject` names the cohort ("its frames", "cohort es").
    static func describe(_ p: CohortPacking, subject: String) -> String {
        p.packs == 0 && p.blobs == 0
            ? "Nothing to pack: every frame of the cohort is already in its packs"
            : "Packed \(subject) for reads from a remote: \(Output.count(p.blobs, "blob")) in \(Output.count(p.packs, "pack")), \(Output.bytes(p.bytes))"
    }
}
