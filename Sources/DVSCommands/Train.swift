import ArgumentParser
import DVS
import DVSCore
import DVSLearn
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train the built-in baseline on a snapshot, straight from the packs, and record its lineage.",
        discussion: """
            Features: 40 Slaney log-mel bands and 13 MFCCs of 25 ms windows every 10 ms at 16 kHz mono (resampled with libsamplerate), mean and standard deviation over time. classify: softmax regression (L-BFGS); regress: ridge regression. Samples without the label are skipped and counted.

            The holdout is deterministic: a sample is held out when the SHA-256 of its path (or of its --split-by value, so a speaker's clips stay on one side) falls below the fraction. The model file format is schema/MODEL.md; a model record links it to the snapshot ('dvs models', 'dvs audit').

            Examples:
              dvs train --rev main --label lang --out lang.dvsm
              dvs train --rev cohort/es --label speaker --split-by session --holdout 0.25
              dvs train --rev main --label snr_db --task regress
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Option(help: "The revision to train on.") var rev = "HEAD"
    @Option(help: "The label field to predict.") var label: String
    @Option(help: "classify or regress.") var task: LearningTask = .classify
    @Option(help: "Fraction held out for evaluation, 0…1.") var holdout = 0.2
    @Option(name: .customLong("split-by"), help: "Keep samples with the same value of this field on one side of the split.") var splitBy:
        String?
    @Option(help: "L2 penalty (default 0.01 for classify, 1 for regress).") var l2: Double?
    @Option(help: "Where to write the model file (default <label>.dvsm in the current folder).") var out: String?
    @Option(help: "Name of the model record (default the file name).") var name: String?
    @Option(name: .shortAndLong, help: "A message kept in the model record.") var message: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard holdout >= 0, holdout < 1 else { throw ValidationError("--holdout must be at least 0 and below 1 (got \(holdout))") }
        if let l2, !(l2 >= 0) { throw ValidationError("--l2 must be ≥ 0 (got \(l2))") }
    }

    func run() throws {
        let (repo, cache) = try source.repository(global, revision: rev)
        defer { cache?.close() }
        var options = TrainOptions(
            revision: Revision(rev), labelField: label, outputPath: out ?? "\(label.replacingOccurrences(of: "/", with: "_")).dvsm")
        options.task = task
        options.holdoutFraction = holdout
        options.splitBy = splitBy
        options.l2 = l2
        options.name = name
        options.message = message ?? ""
        let r = try repo.train(options, progress: Output.progress())
        try source.sendBack(cache)
        let written =
            options.outputPath.hasPrefix("/") ? options.outputPath : CurrentProcess.context.currentDirectory + "/" + options.outputPath
        if repo.wouldTrack(written) {
            Output.err(
                "warning: the model file '\(options.outputPath)' is inside the working tree, so the next 'dvs commit' would add it; write it elsewhere with --out, or list it in .dvsignore"
            )
        }
        if r.missingLabelCount > 0 {
            Output.err(
                "warning: \(Output.skippedWithoutLabel(r.missingLabelCount, of: r.snapshotSampleCount, label: label, qualifier: task == .regress ? " (or a non-numeric one)" : ""))"
            )
        }
        if let by = splitBy, r.missingSplitKeyCount > 0 {
            Output.err(
                "warning: \(Output.count(r.missingSplitKeyCount, "sample")) \(r.missingSplitKeyCount == 1 ? "has" : "have") no '\(by)' label and \(r.missingSplitKeyCount == 1 ? "was" : "were") split by path"
            )
        }
        if !r.result.holdoutOnlyClasses.isEmpty {
            let names = r.result.holdoutOnlyClasses
            Output.err(
                "warning: \(names.count) '\(label)' value\(names.count == 1 ? "" : "s") only in the holdout (\(names.map { "'\($0)'" }.joined(separator: ", "))): the model cannot predict \(names.count == 1 ? "it" : "them") and every such holdout sample scores as an error; add training samples of \(names.count == 1 ? "it" : "them"), or split differently"
            )
        }
        if json {
            var o: [String: Any] = [
                "revision": rev, "commit": r.commit.hex, "label_field": label, "task": task.rawValue,
                "samples": [
                    "snapshot": r.snapshotSampleCount, "missing_label": r.missingLabelCount, "training": r.result.trainingCount,
                    "holdout": r.result.holdoutCount, "missing_split_key": r.missingSplitKeyCount,
                    "moved_identical_audio": r.result.movedCopies,
                ],
                "audio_hours": r.audioHours, "feature_seconds": r.featureSeconds,
                "training_metrics": MetricsText.json(r.result.trainingMetrics),
                "holdout_metrics": r.result.holdoutMetrics.map(MetricsText.json) ?? NSNull(),
                "label_distribution": r.result.labelCounts, "holdout_only_labels": r.result.holdoutOnlyClasses,
                "model": [
                    "path": r.modelPath, "sha256": r.modelSHA256.hex, "record": r.modelID.hex, "name": r.record.name,
                    "iterations": r.result.model.iterations, "l2": r.result.model.parameters.l2,
                ],
            ]
            if let by = splitBy { o["split_by"] = by }
            try Output.jsonObject(o)
            return
        }
        Output.out(
            "Trained '\(label)' (\(task.rawValue)) on \(rev) (\(r.commit.short)): \(r.result.trainingCount + r.result.holdoutCount) samples, \(Output.hours(r.audioHours))"
        )
        Output.out(
            "  split: \(r.result.trainingCount) training, \(r.result.holdoutCount) holdout (\(Self.percent(Double(r.result.holdoutCount) / Double(max(1, r.result.trainingCount + r.result.holdoutCount)))) of \(Self.percent(holdout)) asked, by \(splitBy.map { "'\($0)'" } ?? "path"))"
        )
        if r.result.movedCopies > 0 {
            Output.out(
                "  \(r.result.movedCopies) sample\(r.result.movedCopies == 1 ? "" : "s") with the same audio as another \(splitBy.map { "'\($0)' group" } ?? "path")'s went to that one's side (identical audio is never on both sides)"
            )
        }
        if !r.result.labelCounts.isEmpty {
            Output.out(
                "  training labels: "
                    + r.result.labelCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        Output.out("  training: " + MetricsText.summary(r.result.trainingMetrics))
        if let h = r.result.holdoutMetrics {
            Output.out("  holdout:  " + MetricsText.summary(h))
            for line in MetricsText.confusion(h) { Output.out("    " + line) }
        } else if holdout > 0 {
            Output.err(
                "warning: no sample fell in the \(Self.percent(holdout)) holdout\(splitBy.map { " (every '\($0)' group hashed to the training side)" } ?? ""); the model is trained on everything and not evaluated here; use a larger --holdout, more \(splitBy.map { "'\($0)' groups" } ?? "samples"), or 'dvs eval' on other data"
            )
            Output.out("  holdout:  none (no sample fell in it)")
        } else {
            Output.out("  holdout:  none (--holdout 0)")
        }
        Output.out("Wrote \(out ?? options.outputPath) (sha256 \(r.modelSHA256.short))")
        Output.out("Model record \(r.modelID.short) '\(r.record.name)'")
    }

    static func percent(_ f: Double) -> String {
        let p = f * 100
        return p == p.rounded() ? "\(Int(p))%" : String(format: "%.1f%%", p)
    }
}

extension LearningTask: ExpressibleByArgument {}

/// Metrics as text lines and JSON values.
enum MetricsText {
    static func summary(_ m: Metrics) -> String {
        switch m {
        case .classification(let c):
            return String(format: "accuracy %.3f, macro-F1 %.3f (%d samples)", c.accuracy, c.macroF1, c.sampleCount)
        case .regression(let r):
            return String(
                format: "MAE %.4g, RMSE %.4g, Pearson r %@ (%d samples)", r.meanAbsoluteError, r.rootMeanSquaredError,
                r.pearsonR.map { String(format: "%.3f", $0) } ?? "undefined", r.sampleCount)
        }
    }

    /// The confusion matrix, rows true class, columns predicted; empty for regression.
    static func confusion(_ m: Metrics) -> [String] {
        guard case .classification(let c) = m, c.classNames.count <= 20 else { return [] }
        let w = max(6, (c.classNames.map(\.count).max() ?? 0) + 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        var lines = ["confusion (rows: true, columns: predicted)"]
        lines.append(pad("") + c.classNames.map(pad).joined())
        for (i, row) in c.confusion.enumerated() { lines.append(pad(c.classNames[i]) + row.map { pad(String($0)) }.joined()) }
        return lines
    }

    /// True classes of `m` that are not among `classNames` (what the model can output), with
    /// their sample counts, sorted by name; empty for regression.
    static func unpredictable(_ m: Metrics, classNames: [String]) -> [(name: String, count: Int)] {
        guard case .classification(let c) = m else { return [] }
        let known = Set(classNames)
        return c.classNames.enumerated().compactMap { i, name in
            let n = c.confusion[i].reduce(0, +)
            return n > 0 && !known.contains(name) ? (name, n) : nil
        }
    }

    static func json(_ m: Metrics) -> [String: Any] {
        switch m {
        case .classification(let c):
            return [
                "samples": c.sampleCount, "accuracy": c.accuracy, "macro_f1": c.macroF1, "class_names": c.classNames,
                "confusion": c.confusion, "f1": c.f1,
            ]
        case .regression(let r):
            return [
                "samples": r.sampleCount, "mae": r.meanAbsoluteError, "rmse": r.rootMeanSquaredError,
                "pearson_r": r.pearsonR ?? NSNull(),
            ]
        }
    }
}
