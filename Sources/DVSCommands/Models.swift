import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List model records: name, id, artifact, training snapshot, samples, hours, code commit.",
        discussion: """
            --compare puts models side by side in one table from their lineage records: training snapshot and cohort, hours of training audio, artifact size, parameters, whether the evaluation set overlapped the training set (same audio SHA-256), speed (real-time factor, samples/s), and per slice the samples, accuracy with its 95% Wilson interval, macro-F1 (or WER/CER, MAE/RMSE when the eval records carry them). Each model's latest eval record is used: on --rev's snapshot when given, sliced by --by when one is. Models trained elsewhere take part through 'dvs model add … --metrics FILE.json' or 'dvs model add-eval'. A '*' marks each slice's Pareto front: no other model is at once as accurate and as fast.

            Examples:
              dvs models --compare --rev main --by cohort
              dvs models --compare general telephony-v2 --rev main --by cohort \\
                --plot front.svg
              dvs models --compare --rev main --json
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Compare models in one table (from their eval records).") var compare = false
    @Argument(help: "With --compare: the models (name, record id or SHA-256 prefix, artifact path); default all.") var models: [String] = []
    @Option(help: "With --compare: use evaluations on this revision's snapshot.") var rev: String?
    @Option(help: "With --compare: show the slices by this field ('cohort', 'lang').") var by: String?
    @Option(help: ArgumentHelp("With --compare: also write accuracy against real-time factor as SVG.", valueName: "FILE.svg"))
    var plot: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if !compare, !models.isEmpty || rev != nil || by != nil || plot != nil {
            throw ValidationError("MODEL, --rev, --by and --plot go with --compare (dvs models --compare [MODEL…] [--rev R] [--by FIELD])")
        }
    }

    func run() throws {
        let repo = try global.repository()
        if compare {
            let c = try repo.compareModels(models, on: rev.map { Revision($0) }, sliceBy: by)
            try ComparisonOutput.show(c, revision: rev, repository: repo, json: json, plot: plot)
            return
        }
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
                "\(id.short)  \(r.name)  \(LineageOutput.time(r.endTime))  \(r.revision)@\(r.snapshot.short)\(cohort)  \(Output.count(r.sampleCount, "sample")), \(Output.hours(r.hours))  code \(r.code.summary)"
            )
        }
    }
}
