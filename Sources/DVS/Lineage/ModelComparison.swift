import DVSCore
import DVSLearn
import Foundation

/// A quality metric a model comparison shows, by its key in eval records' metrics.
public enum ComparedMetric: String, CaseIterable, Sendable, Hashable {
    /// Fraction of samples classified correctly, 0…1 (`accuracy`).
    case accuracy
    /// Macro-averaged F1, 0…1 (`macro_f1`); per slice over the classes present in the slice.
    case macroF1 = "macro_f1"
    /// Word error rate of transcripts: (substitutions + deletions + insertions) / reference words (`wer`).
    case wordErrorRate = "wer"
    /// Character error rate of transcripts, as `wer` over characters (`cer`).
    case characterErrorRate = "cer"
    /// Mean absolute error of a regression, in the label's unit (`mae`).
    case meanAbsoluteError = "mae"
    /// Root mean squared error of a regression, in the label's unit (`rmse`).
    case rootMeanSquaredError = "rmse"

    /// Whether a higher value is better (accuracy, F1) rather than lower (error rates).
    public var higherIsBetter: Bool { self == .accuracy || self == .macroF1 }
    /// Whether values lie in 0…1 (accuracy, F1); error rates may exceed 1.
    public var isFraction: Bool { self == .accuracy || self == .macroF1 }
}

/// One model's scores on one slice of an evaluation (`all` for the whole set).
public struct SliceScores: Sendable, Equatable {
    /// The slice: `all`, or `FIELD=VALUE` (`cohort=telephony`, `lang=de`).
    public var name: String
    /// Samples scored in the slice; nil when an outside evaluation did not say.
    public var sampleCount: Int?
    /// The metrics the evaluation recorded for the slice.
    public var values: [ComparedMetric: Double]
    /// 95 % Wilson score interval of the accuracy, from the accuracy and the sample count; nil
    /// without both.
    public var accuracyInterval: WilsonInterval?
    /// Whether no other model on the same slice has accuracy ≥ and real-time factor ≤ with one
    /// strictly better (set by ``ModelComparison/markParetoFront()``).
    public var onParetoFront = false

    /// Creates scores; the accuracy interval follows from `values[.accuracy]` and `sampleCount`
    /// (correct samples = accuracy × samples, rounded).
    public init(name: String, sampleCount: Int?, values: [ComparedMetric: Double]) {
        self.name = name
        self.sampleCount = sampleCount
        self.values = values
        if let n = sampleCount, let a = values[.accuracy], a.isFinite {
            accuracyInterval = WilsonInterval(successes: Int((a * Double(n)).rounded()), trials: n)
        }
    }

    /// Scores of `metrics` as `dvs eval` computes them.
    public init(name: String, metrics: Metrics) {
        switch metrics {
        case .classification(let c):
            self.init(name: name, sampleCount: c.sampleCount, values: [.accuracy: c.accuracy, .macroF1: c.macroF1])
            // Exact: the count of correct samples, not accuracy × n rounded.
            accuracyInterval = WilsonInterval(successes: c.correctCount, trials: c.sampleCount)
        case .regression(let r):
            self.init(
                name: name, sampleCount: r.sampleCount,
                values: [.meanAbsoluteError: r.meanAbsoluteError, .rootMeanSquaredError: r.rootMeanSquaredError])
        }
    }

    /// Scores from an eval record's metrics object: the numeric ``ComparedMetric`` keys and `samples`.
    public init(name: String, record: [String: RecordValue], sampleCount fallback: Int? = nil) {
        var values: [ComparedMetric: Double] = [:]
        for m in ComparedMetric.allCases {
            if case .number(let v)? = record[m.rawValue], v.isFinite { values[m] = v }
        }
        var n = fallback
        if case .number(let v)? = record["samples"], v.isFinite, v >= 0, v < 1e15 { n = Int(v) }
        self.init(name: name, sampleCount: n, values: values)
    }
}

/// One evaluation of a compared model: where, how much overlapped its training set, how fast,
/// and its scores overall and per slice.
public struct ComparedEvaluation: Sendable {
    /// The eval record; nil for an evaluation not recorded (`dvs eval --no-record`, a model without a record).
    public var id: EvalID?
    /// The evaluation revision as given.
    public var revision: String
    /// The evaluation snapshot.
    public var snapshot: CommitID
    /// Samples evaluated.
    public var sampleCount: Int
    /// Evaluation samples whose audio (by content hash) the model was trained on, from the
    /// lineage records: for a `dvs train` model its training samples, for a model trained
    /// elsewhere every sample of its training snapshot.
    public var overlapSampleCount: Int
    /// Processing seconds per second of audio; nil when not measured.
    public var realTimeFactor: Double?
    /// Samples processed per second; nil when not measured.
    public var samplesPerSecond: Double?
    /// `all` first, then the slices by the compared field, sorted by name.
    public var slices: [SliceScores]

    /// Whether the evaluation set overlapped the training set.
    public var overlapsTraining: Bool { overlapSampleCount > 0 }

    /// Creates an evaluation from its parts.
    public init(
        id: EvalID?, revision: String, snapshot: CommitID, sampleCount: Int, overlapSampleCount: Int, realTimeFactor: Double?,
        samplesPerSecond: Double?, slices: [SliceScores]
    ) {
        self.id = id
        self.revision = revision
        self.snapshot = snapshot
        self.sampleCount = sampleCount
        self.overlapSampleCount = overlapSampleCount
        self.realTimeFactor = realTimeFactor
        self.samplesPerSecond = samplesPerSecond
        self.slices = slices
    }

    /// The evaluation an eval record holds: `all` and, with `sliceBy`, its slices named `sliceBy=…`.
    public init(id: EvalID, record r: EvalRecord, sliceBy: String?) {
        func number(_ key: String) -> Double? {
            if case .number(let v)? = r.metrics[key], v.isFinite { return v }
            return nil
        }
        var slices = [SliceScores(name: "all", record: r.metrics, sampleCount: r.sampleCount)]
        if let by = sliceBy {
            for name in r.slices.keys.sorted() where name.hasPrefix(by + "=") {
                slices.append(SliceScores(name: name, record: r.slices[name]!))
            }
        }
        self.init(
            id: id, revision: r.revision, snapshot: r.snapshot, sampleCount: r.sampleCount, overlapSampleCount: r.leakedSamples,
            realTimeFactor: number("real_time_factor"), samplesPerSecond: number("samples_per_second"), slices: slices)
    }

    /// The evaluation `dvs eval` just ran: `all` and every slice.
    public init(report r: EvalReport, revision: String) {
        self.init(
            id: r.evalID, revision: revision, snapshot: r.commit, sampleCount: r.overall.sampleCount,
            overlapSampleCount: r.leakedSampleCount, realTimeFactor: r.speed.realTimeFactor, samplesPerSecond: r.speed.samplesPerSecond,
            slices: [SliceScores(name: "all", metrics: r.overall)] + r.slices.map { SliceScores(name: $0.name, metrics: $0.metrics) })
    }
}

/// One model in a comparison: what it is, what it was trained on, what it costs, how it scored.
public struct ComparedModel: Sendable {
    /// The model record; nil for a `.dvsm` file without one.
    public var id: ModelID?
    /// Display name.
    public var name: String
    /// `classify`, `regress`, …; nil when not told.
    public var task: String?
    /// The label field predicted; nil when not told.
    public var labelField: String?
    /// The training revision as recorded (`main`, `cohort/telephony`); nil without a record.
    public var trainingRevision: String?
    /// The training snapshot; nil without a record.
    public var trainingSnapshot: CommitID?
    /// The cohort predicate of the training snapshot, when it was cut as a cohort.
    public var cohortPredicate: String?
    /// Samples the model was trained on.
    public var trainingSampleCount: Int?
    /// Hours of audio it was trained on; nil without a record.
    public var trainingHours: Double?
    /// The artifact's size in bytes; nil when unknown.
    public var artifactBytes: UInt64?
    /// Learned parameters; nil when unknown (an outside model registered without `--parameter-count`).
    public var parameterCount: Int?
    /// The evaluation compared; nil when the model has none that fits.
    public var evaluation: ComparedEvaluation?

    /// The cohort's name when the training revision is a cohort branch (`cohort/telephony` → `telephony`).
    public var cohortName: String? {
        guard let r = trainingRevision, r.hasPrefix("cohort/") else { return nil }
        return String(r.dropFirst("cohort/".count))
    }

    /// Creates a model entry from its parts (everything else unknown).
    public init(id: ModelID?, name: String) {
        self.id = id
        self.name = name
    }
}

/// Models side by side on one question: which to ship, given quality per slice and cost.
public struct ModelComparison: Sendable {
    /// The models, in the order asked for (or registration order).
    public var models: [ComparedModel]
    /// The field the slices are by (`cohort`, `lang`); nil for overall scores only.
    public var sliceField: String?

    /// Creates a comparison and marks each slice's Pareto front.
    public init(models: [ComparedModel], sliceField: String?) {
        self.models = models
        self.sliceField = sliceField
        markParetoFront()
    }

    /// The evaluation snapshot when every evaluated model was evaluated on the same one.
    public var commonSnapshot: CommitID? {
        let s = Set(models.compactMap { $0.evaluation?.snapshot })
        return s.count == 1 ? s.first : nil
    }

    /// Sets `onParetoFront` for every slice score with an accuracy and a real-time factor: per
    /// slice name, the scores no other model beats on both accuracy (higher) and real-time
    /// factor (lower).
    public mutating func markParetoFront() {
        var bySlice: [String: [(model: Int, slice: Int)]] = [:]
        for (i, m) in models.enumerated() {
            guard let e = m.evaluation, e.realTimeFactor != nil else { continue }
            for (j, s) in e.slices.enumerated() where s.values[.accuracy] != nil { bySlice[s.name, default: []].append((i, j)) }
        }
        for cells in bySlice.values {
            let points = cells.map { c in
                (quality: models[c.model].evaluation!.slices[c.slice].values[.accuracy]!, cost: models[c.model].evaluation!.realTimeFactor!)
            }
            let front = Set(ParetoFront.indexes(points))
            for (k, c) in cells.enumerated() { models[c.model].evaluation!.slices[c.slice].onParetoFront = front.contains(k) }
        }
    }

    /// The metrics at least one slice of one model has, in ``ComparedMetric`` order.
    public var metricsPresent: [ComparedMetric] {
        let present = Set(models.flatMap { $0.evaluation?.slices.flatMap { $0.values.keys } ?? [] })
        return ComparedMetric.allCases.filter(present.contains)
    }

    /// The plot of accuracy against real-time factor, one point per model and slice.
    public func plot(title: String) -> ComparisonPlot {
        var points: [ComparisonPlot.Point] = []
        for m in models {
            guard let e = m.evaluation, let rtf = e.realTimeFactor else { continue }
            for s in e.slices {
                if let a = s.values[.accuracy] { points.append(.init(model: m.name, slice: s.name, accuracy: a, realTimeFactor: rtf)) }
            }
        }
        return ComparisonPlot(points: points, title: title)
    }
}

extension Repository {
    /// Compares registered models from their lineage records: for each, its training snapshot,
    /// cohort, hours, size and parameter count, and its latest fitting eval record — on
    /// `revision`'s snapshot when given, preferring one sliced by `sliceBy` when given.
    /// - Parameters:
    ///   - specs: models as `resolveModels(_:)` takes them (the newest record of each); empty
    ///     compares every model.
    ///   - revision: compare evaluations on this snapshot only; nil takes each model's latest.
    ///   - sliceBy: show the slices `sliceBy=…` of the evaluations.
    /// - Throws: `DVSError.unknownRevision` for an unknown model or revision; `.corrupt` when a
    ///   record cannot be read.
    /// - Complexity: reads every eval record of the compared models, and the artifact of each
    ///   `dvs train` model (small) to count its parameters.
    public func compareModels(_ specs: [String], on revision: Revision?, sliceBy: String?) throws -> ModelComparison {
        var chosen: [(id: ModelID, record: ModelRecord)] = []
        if specs.isEmpty {
            chosen = try modelRecords()
        } else {
            for s in specs {
                guard let hit = try resolveModels(s).last else { continue }
                if !chosen.contains(where: { $0.id == hit.id }) { chosen.append(hit) }
            }
        }
        let target = try revision.map { try resolve($0) }
        // An eval record keeps naming the snapshot it ran on; a purge may have replaced it since.
        let purgeRecords = try purges()
        func current(_ c: CommitID) -> CommitID { Self.rewriteChain(of: c, in: purgeRecords).last?.to ?? c }
        var models: [ComparedModel] = []
        for (id, r) in chosen {
            var m = comparedModel(id: id, record: r)
            var evals = try catalog.evals(of: id).map { ($0, try evalRecord($0)) }
            if let target { evals = evals.filter { current($0.1.snapshot) == target } }
            let sliced = sliceBy.map { by in evals.filter { $0.1.slices.keys.contains { $0.hasPrefix(by + "=") } } } ?? []
            if let hit = sliced.last ?? evals.last { m.evaluation = ComparedEvaluation(id: hit.0, record: hit.1, sliceBy: sliceBy) }
            models.append(m)
        }
        return ModelComparison(models: models, sliceField: sliceBy)
    }

    /// The model-level facts of a record: training snapshot, cohort, hours, size, parameters
    /// (the record's count, else the `.dvsm` artifact's when it is one).
    public func comparedModel(id: ModelID, record r: ModelRecord) -> ComparedModel {
        var m = ComparedModel(id: id, name: r.name)
        m.task = r.task
        m.labelField = r.labelField
        m.trainingRevision = r.revision
        m.trainingSnapshot = r.snapshot
        m.cohortPredicate = r.cohortPredicate
        m.trainingSampleCount = r.sampleCount
        m.trainingHours = r.hours
        m.artifactBytes = r.artifactBytes
        m.parameterCount = r.parameterCount ?? baselineModel(r)?.parameterCount
        return m
    }

    /// The `dvs train` model a record's artifact holds, or nil when it is not one (or unreadable).
    func baselineModel(_ r: ModelRecord) -> Model? {
        guard r.artifactName.hasSuffix(".dvsm") || r.parameters["trainer"]?.hasPrefix("dvs baseline") == true,
            r.artifactBytes < 64 << 20, let bytes = try? artifact(of: r)
        else { return nil }
        return try? ModelFile.decode(bytes, source: r.name)
    }
}
