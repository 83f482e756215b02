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
            dvs branch -d NAME…    delete each NAME whose commits HEAD or a branch holds
            dvs branch -D NAME…    delete them anyway
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customShort("d"), help: "Delete the branch (refused when it is not merged).") var delete = false
    @Flag(name: .customShort("D"), help: "Delete the branch even when it is not merged.") var forceDelete = false
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "NAME [REV]: the branch to create and where (default HEAD); with -d or -D, the branches to delete.")
    var names: [String] = []

    func run() throws {
        let repo = try global.repository()
        if delete || forceDelete {
            guard !names.isEmpty else { throw DVSError(.usage, "which branch? 'dvs branch -d NAME…'") }
            // As git: each branch on its own; one that cannot go is reported, the others still go.
            var failures: [DVSError.Code] = []
            for name in names {
                do {
                    let old = try repo.deleteBranch(name, force: forceDelete)
                    Output.out("Deleted branch \(name) (was \(old.short))")
                } catch let e as DVSError where names.count > 1 && e.code != .internal {
                    DVSCommand.report(e, withKind: false)
                    failures.append(e.code)
                }
            }
            if !failures.isEmpty {
                let failed = failures.count
                let count = failed == 1 ? "1 branch" : "\(failed) branches"
                let others = names.count - failed
                let rest = others == 0 ? "" : others == 1 ? "; the other was" : "; the others were"
                // The failures' kind when they share one (a lock to retry, a name unknown), else bad input.
                let code = Set(failures).count == 1 ? failures[0] : .badInput
                throw DVSError(code, "\(count) of \(names.count) not deleted (above)\(rest)")
            }
            return
        }
        guard names.count <= 2 else {
            throw DVSError(.usage, "too many arguments: 'dvs branch NAME [REV]' creates one branch; -d deletes several")
        }
        let name = names.first
        let revision = names.count == 2 ? names[1] : nil
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
