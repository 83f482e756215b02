import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Branch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "branch", abstract: "List, create or delete branches.",
        discussion: """
            dvs branch             list branches: head, samples, hours (* marks HEAD's)
            dvs branch NAME [REV]  create NAME at REV (default HEAD); switch: dvs checkout
            dvs branch -d NAME     delete NAME if HEAD or another branch has its commits
            dvs branch -D NAME     delete it anyway
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customShort("d"), help: "Delete the branch (refused when it is not merged).") var delete = false
    @Flag(name: .customShort("D"), help: "Delete the branch even when it is not merged.") var forceDelete = false
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "Branch name.") var name: String?
    @Argument(help: "Where to create it (default HEAD).") var revision: String?

    func run() throws {
        let repo = try global.repository()
        if delete || forceDelete {
            guard let name else { throw DVSError(.usage, "which branch? 'dvs branch -d NAME'") }
            let old = try repo.deleteBranch(name, force: forceDelete)
            Output.out("Deleted branch \(name) (was \(old.short))")
            return
        }
        if let name {
            let id = try repo.createBranch(name, at: revision.map { Revision($0) })
            Output.out("Created branch \(name) at \(id.short)")
            return
        }
        let all = try repo.branches()
        if json {
            try Output.jsonObject(
                all.map {
                    [
                        "name": $0.name, "commit": $0.target.hex, "current": $0.isCurrent,
                        "samples": $0.totals.sampleCount, "hours": ($0.totals.audioHours * 1e6).rounded() / 1e6,
                    ] as [String: Any]
                })
            return
        }
        let width = all.map(\.name.count).max() ?? 0
        for b in all {
            Output.out(
                "\(b.isCurrent ? "*" : " ") \(b.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(b.target.short)  \(Output.count(b.totals.sampleCount, "sample")), \(Output.hours(b.totals.audioHours))"
            )
        }
    }
}
