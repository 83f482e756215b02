import ArgumentParser
import DVS
import DVSCore
import DVSLearn
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a baseline model on a snapshot: metrics overall and per slice, speed, leakage; recorded as lineage.",
        discussion: """
            --model takes a .dvsm path, or a model record id, name or artifact SHA-256 prefix ('dvs models'). Given several times, each model is evaluated on the same snapshot and one table compares them, with a 95% Wilson interval per accuracy cell (as 'dvs models --compare'): dvs eval --model general --model telephony --rev main --by cohort

            classify: accuracy, macro-F1, confusion matrix; regress: MAE, RMSE, Pearson r. --by FIELD slices by a label field's value; --by cohort, when the samples have no 'cohort' label, slices by membership in the cohort/* branches (a sample in two cohorts counts in both).

            Speed is end to end: reading from the packs, decoding, resampling, features and prediction, as the real-time factor (processing seconds per second of audio) and samples per second. Samples whose audio the model was trained on (same SHA-256) are counted in a warning, with metrics on the rest ('unseen').

            --asr scores a transcript against a human one instead of a model: WER and CER per sample and per slice (see 'ASR checks' below).

            Examples:
              dvs eval --model lang.dvsm --rev main --by lang
              dvs eval --model 5e6f7a8b --rev cohort/es --json

            \(EvalASR.help)
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Option(help: "The model: a .dvsm file, or a model record id, name or SHA-256 prefix (repeat to compare).") var model: [String] = []
    @Option(help: "The revision to evaluate on.") var rev = "HEAD"
    @Option(help: "Slice metrics by this label field (or 'cohort').") var by: String?
    @Flag(name: .customLong("no-record"), help: "Do not write an eval record.") var noRecord = false
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var asr: EvalASR

    func run() throws {
        let (repo, cache) = try source.repository(global, revision: rev)
        defer { cache?.close() }
        try evaluate(repo)
        try source.sendBack(cache)
    }

    /// Evaluates in `repo` and prints the results.
    func evaluate(_ repo: Repository) throws {
        if asr.asr {
            guard model.isEmpty else { throw DVSError(.usage, "give --model or --asr, not both") }
            return try asr.run(repo, revision: rev, by: by, json: json)
        }
        if model.count > 1 { return try evaluateSeveral(repo) }  // ModelsCompare.swift
        guard let model = model.first else {
            throw DVSError(.usage, "evaluate what? give --model MODEL, or --asr --reference FIELD", hint: "dvs models lists models")
        }
        var options = EvalOptions(model: model, revision: Revision(rev), sliceBy: by)
        options.record = !noRecord
        let r = try repo.evaluate(options, progress: Output.progress())
        let field = r.model.labelField
        if r.missingLabelCount > 0 {
            Output.err("warning: \(Output.skippedWithoutLabel(r.missingLabelCount, of: r.snapshotSampleCount, label: field))")
        }
        let evaluated = r.overall.sampleCount
        if r.leakedSampleCount > 0 {
            Output.err(
                "warning: \(r.leakedSampleCount) of \(evaluated) evaluation samples were in the model's training set (same audio SHA-256); "
                    + "their scores overstate held-out performance"
                    + (r.unseen != nil ? "; 'unseen' shows the other \(evaluated - r.leakedSampleCount)" : ""))
        }
        Self.warnUnpredictable(r)
        if r.modelID == nil, !noRecord {
            Output.err("warning: model '\(model)' has no model record, so no eval record was written")
            Output.err("hint: register it with 'dvs model add \(model) --rev REV', or train it with 'dvs train'")
        }
        if json {
            try Output.jsonObject(
                [
                    "model": [
                        "name": r.modelName, "record": r.modelID?.hex ?? NSNull(), "task": r.model.task.rawValue, "label_field": field,
                    ] as [String: Any],
                    "revision": rev, "commit": r.commit.hex,
                    "samples": [
                        "snapshot": r.snapshotSampleCount, "missing_label": r.missingLabelCount, "evaluated": evaluated,
                        "leaked": r.leakedSampleCount,
                    ],
                    "metrics": MetricsText.json(r.overall),
                    "unseen_metrics": r.unseen.map(MetricsText.json) ?? NSNull(),
                    "slices": Dictionary(uniqueKeysWithValues: r.slices.map { ($0.name, MetricsText.json($0.metrics)) }),
                    "speed": [
                        "real_time_factor": r.speed.realTimeFactor, "samples_per_second": r.speed.samplesPerSecond,
                        "audio_seconds": r.speed.audioSeconds, "processing_seconds": r.speed.processingSeconds,
                    ],
                    "eval_record": r.evalID?.hex ?? NSNull(),
                ] as [String: Any])
            return
        }
        Output.out(
            "Evaluated '\(r.modelName)' (\(r.model.task.rawValue) '\(field)'\(r.modelID.map { ", record \($0.short)" } ?? "")) on \(rev) (\(r.commit.short)): \(Output.count(evaluated, "sample"))"
        )
        let names = ["all"] + (r.unseen != nil ? ["unseen"] : []) + r.slices.map(\.name)
        let w = names.map(\.count).max()! + 1
        func row(_ n: String, _ m: Metrics) {
            Output.out("  " + (n + ":").padding(toLength: w + 1, withPad: " ", startingAt: 0) + MetricsText.summary(m))
        }
        row("all", r.overall)
        if let u = r.unseen { row("unseen", u) }
        for s in r.slices { row(s.name, s.metrics) }
        for line in MetricsText.confusion(r.overall) { Output.out("    " + line) }
        Output.out(
            String(
                format: "  speed: real-time factor %.4f (%.1f s for %.1f s of audio), %.1f samples/s",
                r.speed.realTimeFactor, r.speed.processingSeconds, r.speed.audioSeconds, r.speed.samplesPerSecond))
        if let id = r.evalID { Output.out("Eval record \(id.short)") }
    }
}
