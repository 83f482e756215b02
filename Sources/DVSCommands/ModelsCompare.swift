import DVS
import DVSCore
import DVSLearn
import DVSStorage
import Foundation

/// The comparison table of `dvs models --compare` and of `dvs eval` with several models: text,
/// JSON and the SVG plot.
enum ComparisonOutput {
    /// Prints `c` (text or JSON) and writes its plot when `plot` names a file.
    /// - Parameter revision: the evaluation revision as typed, for the heading and hints.
    static func show(_ c: ModelComparison, revision: String?, repository: Repository, json: Bool, plot: String?) throws {
        if let plot { try writePlot(c, to: plot, revision: revision) }
        if json {
            try Output.jsonObject(object(c, revision: revision))
            return
        }
        guard !c.models.isEmpty else {
            Output.out("No models yet: 'dvs model add PATH --rev REV' or 'dvs train' registers one")
            return
        }
        for line in text(c, revision: revision) { Output.out(line) }
    }

    // MARK: Text

    /// The heading, the table, the per-slice reading and the notes.
    static func text(_ c: ModelComparison, revision: String?) -> [String] {
        let common = c.commonSnapshot
        var heading = "Compared \(c.models.count) model\(c.models.count == 1 ? "" : "s")"
        if let common {
            heading += " on \(revision ?? "their latest evaluation") (\(common.short))"
        } else if let revision {
            heading += " on \(revision)"
        } else {
            heading += " on their latest evaluations"
        }
        if let by = c.sliceField { heading += ", sliced by \(by)" }
        var lines = [heading + ":"]
        let metrics = c.metricsPresent
        var header = ["model", "trained on", "cohort", "train audio", "size", "params"]
        if common == nil { header.append("evaluated on") }
        header += ["overlap", "RTF", "samples/s", "slice", "n"]
        var numeric: Set<String> = ["train audio", "size", "params", "RTF", "samples/s", "n"]
        for m in metrics {
            let h = m == .accuracy ? "accuracy (95% CI)" : Self.header(m)
            header.append(h)
            if m != .accuracy { numeric.insert(h) }
        }
        header.append("front")
        var rows: [[String]] = []
        for m in c.models {
            let trained = Self.trainedOn(m)
            let cohort = m.cohortName ?? m.cohortPredicate.map { Self.clip($0, 28) } ?? "—"
            var modelCells = [
                m.name, trained, cohort, m.trainingHours.map(Output.hours) ?? "—", m.artifactBytes.map(Output.bytes) ?? "—",
                m.parameterCount.map(Self.count) ?? "—",
            ]
            guard let e = m.evaluation else {
                if common == nil { modelCells.append("—") }
                rows.append(modelCells + ["—", "—", "—", "(no evaluation)"] + Array(repeating: "", count: metrics.count + 2))
                continue
            }
            if common == nil { modelCells.append("\(e.revision)@\(e.snapshot.short)") }
            modelCells += [
                e.overlapsTraining ? "\(e.overlapSampleCount)/\(e.sampleCount)" : "no",
                e.realTimeFactor.map { String(format: "%.4f", $0) } ?? "—",
                e.samplesPerSecond.map { String(format: "%.1f", $0) } ?? "—",
            ]
            for (k, s) in e.slices.enumerated() {
                var row = k == 0 ? modelCells : Array(repeating: "", count: modelCells.count)
                row += [s.name, s.sampleCount.map(String.init) ?? "—"]
                for metric in metrics {
                    guard let v = s.values[metric] else {
                        row.append("—")
                        continue
                    }
                    var cell = metric.isFraction ? String(format: "%.3f", v) : String(format: "%.4g", v)
                    if metric == .accuracy, let ci = s.accuracyInterval { cell += String(format: " (%.3f–%.3f)", ci.lower, ci.upper) }
                    row.append(cell)
                }
                row.append(s.onParetoFront ? "*" : "")
                rows.append(row)
            }
        }
        lines += Self.table(header: header, rows: rows, rightAligned: numeric).map { "  " + $0 }
        let reading = Self.reading(c)
        if !reading.isEmpty {
            lines.append("Per slice (95% Wilson intervals of accuracy; overlapping intervals cannot tell models apart):")
            lines += reading.map { "  " + $0 }
        }
        lines += Self.notes(c, revision: revision)
        return lines
    }

    /// Per slice with at least two models scored on accuracy: the best, and which others its
    /// interval cannot tell from it.
    static func reading(_ c: ModelComparison) -> [String] {
        var order: [String] = []
        var scores: [String: [(model: String, s: SliceScores)]] = [:]
        for m in c.models {
            for s in m.evaluation?.slices ?? [] where s.values[.accuracy] != nil {
                if scores[s.name] == nil { order.append(s.name) }
                scores[s.name, default: []].append((m.name, s))
            }
        }
        var out: [String] = []
        for name in order {
            guard let list = scores[name], list.count >= 2 else { continue }
            let sorted = list.sorted { $0.s.values[.accuracy]! > $1.s.values[.accuracy]! }
            let best = sorted[0]
            // One count in the heading when every model scored the same samples, else one each.
            let counts = Set(list.map(\.s.sampleCount))
            func describe(_ x: (model: String, s: SliceScores)) -> String {
                var t = "\(x.model) \(String(format: "%.3f", x.s.values[.accuracy]!))"
                var inside: [String] = []
                if let ci = x.s.accuracyInterval { inside.append(String(format: "%.3f–%.3f", ci.lower, ci.upper)) }
                if counts.count > 1 { inside.append("n=" + (x.s.sampleCount.map(String.init) ?? "?")) }
                if !inside.isEmpty { t += " (" + inside.joined(separator: ", ") + ")" }
                return t
            }
            let n = counts.count == 1 ? best.s.sampleCount.map { " (\($0) samples)" } ?? "" : ""
            let top = sorted.prefix { $0.s.values[.accuracy]! == best.s.values[.accuracy]! }
            let rest = sorted.dropFirst(top.count)
            let tied = rest.filter { other in
                guard let a = best.s.accuracyInterval, let b = other.s.accuracyInterval else { return true }
                return a.overlaps(b)
            }
            let behind = rest.filter { o in !tied.contains { $0.model == o.model } }
            var line = "\(name)\(n): best \(top.map(describe).joined(separator: ", "))"
            if !tied.isEmpty { line += "; not told apart from " + tied.map(describe).joined(separator: ", ") }
            if !behind.isEmpty { line += "; ahead of " + behind.map(describe).joined(separator: ", ") }
            out.append(line)
        }
        return out
    }

    /// What to do about models without a fitting evaluation, and what overlap and `*` mean.
    static func notes(_ c: ModelComparison, revision: String?) -> [String] {
        var out: [String] = []
        let rev = revision ?? "REV"
        let by = c.sliceField.map { " --by \($0)" } ?? ""
        for m in c.models {
            let ref = m.id?.short ?? m.name
            if m.evaluation == nil {
                out.append(
                    "note: \(m.name) has no evaluation\(revision.map { " on \($0)" } ?? ""): 'dvs eval --model \(ref) --rev \(rev)\(by)' for a dvs model, "
                        + "'dvs model add-eval \(ref) --rev \(rev) --metrics FILE.json' for one evaluated elsewhere")
            } else if let field = c.sliceField, m.evaluation!.slices.count == 1 {
                out.append("note: \(m.name)'s evaluation has no slices by \(field): 'dvs eval --model \(ref) --rev \(rev) --by \(field)'")
            }
        }
        if c.models.contains(where: { $0.evaluation?.overlapsTraining == true }) {
            out.append("overlap: evaluation samples the model was trained on (same audio SHA-256); their scores overstate held-out quality")
        }
        if c.models.contains(where: { $0.evaluation?.slices.contains(where: \.onParetoFront) == true }) {
            out.append("*: Pareto front of the slice: no other model is at once as accurate and as fast (real-time factor)")
        }
        return out
    }

    /// Columns padded to their widest cell; numbers right-aligned; trailing spaces dropped.
    static func table(header: [String], rows: [[String]], rightAligned: Set<String>) -> [String] {
        let widths = header.indices.map { i in ([header[i]] + rows.map { i < $0.count ? $0[i] : "" }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, w) in widths.enumerated() {
                let cell = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: w - cell.count)
                parts.append(rightAligned.contains(header[i]) ? pad + cell : cell + pad)
            }
            var s = parts.joined(separator: "  ")
            while s.hasSuffix(" ") { s.removeLast() }
            return s
        }
        return [line(header)] + rows.map(line)
    }

    static func header(_ m: ComparedMetric) -> String {
        switch m {
        case .accuracy: "accuracy"
        case .macroF1: "macro-F1"
        case .wordErrorRate: "WER"
        case .characterErrorRate: "CER"
        case .meanAbsoluteError: "MAE"
        case .rootMeanSquaredError: "RMSE"
        }
    }

    /// `1062`, `12.3k`, `1.20M`, `3.4G`.
    static func count(_ n: Int) -> String {
        switch n {
        case ..<10_000: String(n)
        case ..<1_000_000: String(format: "%.1fk", Double(n) / 1e3)
        case ..<1_000_000_000: String(format: "%.2fM", Double(n) / 1e6)
        default: String(format: "%.2fG", Double(n) / 1e9)
        }
    }

    /// `main@5e6f7a8b9c0d`, or the snapshot alone when the revision was recorded as its id.
    static func trainedOn(_ m: ComparedModel) -> String {
        guard let r = m.trainingRevision else { return "—" }
        guard let s = m.trainingSnapshot else { return r }
        return r == s.hex ? s.short : "\(r)@\(s.short)"
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }

    // MARK: JSON

    /// The comparison as JSON: every metric key present (null when not recorded) so the shape is fixed.
    static func object(_ c: ModelComparison, revision: String?) -> [String: Any] {
        func opt(_ v: Any?) -> Any { v ?? NSNull() }
        let models: [[String: Any]] = c.models.map { m in
            var o: [String: Any] = [
                "id": opt(m.id?.hex), "name": m.name, "task": opt(m.task), "label_field": opt(m.labelField),
                "trained_on": [
                    "revision": opt(m.trainingRevision), "snapshot": opt(m.trainingSnapshot?.hex), "cohort": opt(m.cohortName),
                    "cohort_predicate": opt(m.cohortPredicate), "samples": opt(m.trainingSampleCount), "hours": opt(m.trainingHours),
                ] as [String: Any],
                "artifact_bytes": opt(m.artifactBytes), "parameter_count": opt(m.parameterCount),
            ]
            o["evaluation"] = opt(
                m.evaluation.map { e -> [String: Any] in
                    [
                        "id": opt(e.id?.hex), "revision": e.revision, "snapshot": e.snapshot.hex, "samples": e.sampleCount,
                        "overlap_samples": e.overlapSampleCount, "overlaps_training": e.overlapsTraining,
                        "real_time_factor": opt(e.realTimeFactor), "samples_per_second": opt(e.samplesPerSecond),
                        "slices": e.slices.map { s -> [String: Any] in
                            var so: [String: Any] = [
                                "name": s.name, "samples": opt(s.sampleCount), "pareto_front": s.onParetoFront,
                                "accuracy_ci95": opt(s.accuracyInterval.map { [$0.lower, $0.upper] }),
                            ]
                            for metric in ComparedMetric.allCases { so[metric.rawValue] = opt(s.values[metric]) }
                            return so
                        },
                    ]
                })
            return o
        }
        return [
            "revision": opt(revision), "evaluation_snapshot": opt(c.commonSnapshot?.hex), "by": opt(c.sliceField), "models": models,
        ]
    }

    // MARK: Plot

    /// Writes the SVG plot to `path` (relative to the current directory) atomically.
    /// - Throws: `DVSError.io` when it cannot be written; `.badInput` when no model has both an
    ///   accuracy and a real-time factor to plot.
    static func writePlot(_ c: ModelComparison, to path: String, revision: String?) throws {
        var title = "Accuracy against real-time factor"
        if let s = c.commonSnapshot { title += " on \(revision ?? "the latest evaluation") (\(s.short))" }
        if let by = c.sliceField { title += ", by \(by)" }
        let plot = c.plot(title: title)
        guard !plot.points.isEmpty else {
            throw DVSError(
                .badInput, "nothing to plot to '\(path)': no compared model has both an accuracy and a real-time factor",
                hint: "evaluate classifiers with 'dvs eval', or give real_time_factor in the metrics file of 'dvs model add-eval'")
        }
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        do {
            try FileIO.writeAtomically(Array(plot.svg().utf8), to: full, tmpDir: (full as NSString).deletingLastPathComponent)
        } catch {
            throw DVSError(.io, "cannot write the plot '\(path)': \(error)", hint: "choose a path in a folder you can write to")
        }
    }
}

extension Eval {
    /// `dvs eval` with several `--model`s: evaluates each on the same snapshot (recording eval
    /// records unless `--no-record`), then prints one comparison table with a 95% Wilson
    /// interval per accuracy cell and the per-slice reading.
    func evaluateSeveral(_ repo: Repository) throws {
        var compared: [ComparedModel] = []
        for spec in model {
            var options = EvalOptions(model: spec, revision: Revision(rev), sliceBy: by)
            options.record = !noRecord
            let r = try repo.evaluate(options, progress: Output.progress())
            let evaluated = r.overall.sampleCount
            if r.missingLabelCount > 0 {
                Output.err(
                    "warning: \(r.modelName): \(Output.skippedWithoutLabel(r.missingLabelCount, of: r.snapshotSampleCount, label: r.model.labelField))"
                )
            }
            if r.leakedSampleCount > 0 {
                Output.err(
                    "warning: \(r.modelName): \(r.leakedSampleCount) of \(evaluated) evaluation samples were in the model's training set (same audio SHA-256); their scores overstate held-out performance"
                )
            }
            var m: ComparedModel
            if let id = r.modelID {
                m = repo.comparedModel(id: id, record: try repo.modelRecord(id))
            } else {
                m = ComparedModel(id: nil, name: r.modelName)
                m.task = r.model.task.rawValue
                m.labelField = r.model.labelField
                m.trainingSampleCount = r.model.trainingSampleCount
                m.parameterCount = r.model.parameterCount
                if let size = try? FileManager.default.attributesOfItem(atPath: spec)[.size] as? NSNumber {
                    m.artifactBytes = size.uint64Value
                }
            }
            m.evaluation = ComparedEvaluation(report: r, revision: rev)
            compared.append(m)
        }
        try ComparisonOutput.show(ModelComparison(models: compared, sliceField: by), revision: rev, repository: repo, json: json, plot: nil)
    }
}
