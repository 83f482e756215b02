import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List model records: name, id, artifact, training snapshot, samples, hours, code commit.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        let all = try repo.modelRecords()
        if json {
            try Output.jsonObject(
                all.map { m -> [String: Any] in
                    var o = LineageOutput.object(m.record, id: m.id)
                    o["evals"] = ((try? repo.catalog.evals(of: m.id)) ?? []).map(\.hex)
                    return o
                })
            return
        }
        if all.isEmpty {
            Output.out("No models yet: 'dvs model add PATH --rev REV' or 'dvs run --rev REV --artifact PATH -- CMD' registers one")
            return
        }
        for (id, r) in all.reversed() {
            let cohort = r.cohortPredicate.map { " [cohort: \($0)]" } ?? ""
            Output.out(
                "\(id.short)  \(r.name)  \(LineageOutput.time(r.endTime))  \(r.revision)@\(r.snapshot.short)\(cohort)  \(r.sampleCount) samples, \(Output.hours(r.hours))  code \(r.code.summary)"
            )
        }
    }
}
