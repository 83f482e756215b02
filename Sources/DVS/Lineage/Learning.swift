import DVSCore
import DVSLearn
import DVSStorage
import Foundation

/// What `dvs train` asks for.
public struct TrainOptions: Sendable {
    /// The training revision (`main`, `cohort/es`, a commit id).
    public var revision: Revision
    /// The label field to predict.
    public var labelField: String
    /// Classification or regression.
    public var task: LearningTask = .classify
    /// Fraction held out for evaluation (0…1; default 0.2), split as `HoldoutSplit` describes.
    public var holdoutFraction: Double = 0.2
    /// Split by this label field's value (e.g. `speaker`) instead of by sample path.
    public var splitBy: String?
    /// L2 penalty; nil takes the task's default (`TrainingParameters`).
    public var l2: Double?
    /// The feature front end (default: 40 Slaney log-mel bands and 13 MFCCs at 16 kHz).
    public var features = FeatureConfig()
    /// Where to write the `.dvsm` file.
    public var outputPath: String
    /// Name of the model record (default: the file name).
    public var name: String?
    /// Free text kept in the model record.
    public var message: String = ""

    /// Creates options for training `labelField` on `revision`, writing the model to `outputPath`.
    public init(revision: Revision, labelField: String, outputPath: String) {
        self.revision = revision
        self.labelField = labelField
        self.outputPath = outputPath
    }
}

/// What `dvs train` did.
public struct TrainReport: Sendable {
    /// The commit trained on.
    public var commit: CommitID
    /// Samples in the snapshot.
    public var snapshotSampleCount: Int
    /// Samples skipped because they lack the label (or it is null).
    public var missingLabelCount: Int
    /// With `splitBy`: labelled samples that lack the split field and were split by path instead.
    public var missingSplitKeyCount: Int
    /// Hours of audio read.
    public var audioHours: Double
    /// Wall-clock seconds to read, decode and extract features.
    public var featureSeconds: Double
    /// The fitted model and its metrics.
    public var result: TrainingResult
    /// The model file written (absolute path).
    public var modelPath: String
    /// SHA-256 of the model file.
    public var modelSHA256: ObjectID
    /// The model record written.
    public var modelID: ModelID
    /// The record as stored.
    public var record: ModelRecord
}

/// What `dvs eval` asks for.
public struct EvalOptions: Sendable {
    /// The model: a `.dvsm` path, or a model record id / name / artifact SHA-256 prefix.
    public var model: String
    /// The evaluation revision.
    public var revision: Revision
    /// Slice metrics by this label field's value; `cohort` (when no sample has a `cohort` label)
    /// slices by membership in the `cohort/*` branches' head snapshots.
    public var sliceBy: String?
    /// Write an eval record (default true).
    public var record = true

    /// Creates options.
    public init(model: String, revision: Revision, sliceBy: String? = nil) {
        self.model = model
        self.revision = revision
        self.sliceBy = sliceBy
    }
}

/// What `dvs eval` found.
public struct EvalReport: Sendable {
    /// The model evaluated.
    public var model: Model
    /// Its record, when it has one (models trained by `dvs train` or registered do).
    public var modelID: ModelID?
    /// The model record's name, or the file name.
    public var modelName: String
    /// The commit evaluated.
    public var commit: CommitID
    /// Samples in the evaluation snapshot.
    public var snapshotSampleCount: Int
    /// Samples skipped because they lack the model's label field.
    public var missingLabelCount: Int
    /// Evaluated samples whose audio (by content hash) was in the model's training set.
    public var leakedSampleCount: Int
    /// Metrics over every evaluated sample.
    public var overall: Metrics
    /// Metrics over the samples the model was not trained on; nil when none leaked or all did.
    public var unseen: Metrics?
    /// Per slice (`lang=de`), sorted by slice name.
    public var slices: [(name: String, metrics: Metrics)]
    /// End-to-end speed: reading from packs, decoding, resampling, features and prediction.
    public var speed: InferenceSpeed
    /// The eval record written, when one was.
    public var evalID: EvalID?
}

extension Repository {
    /// Trains the built-in baseline on a snapshot: reads the samples that carry `labelField`
    /// straight from the packs (resampled to the feature rate, mono), extracts pooled log-mel/MFCC
    /// features on all workers, splits, fits, scores the holdout, writes the `.dvsm` file
    /// atomically and registers it as a model record whose training samples are the
    /// training-side content hashes.
    /// - Parameter progress: called with phase `features` as samples are read.
    /// - Returns: what was trained and written.
    /// - Throws: `DVSError.unknownRevision`; `.badInput` when nothing can be trained (no sample
    ///   carries the label, one class only, a non-numeric label for `regress`) or a sample does
    ///   not decode; `.corrupt` for damaged objects; `.io` when the model file cannot be written;
    ///   `.locked` when registering waits too long.
    /// - Complexity: O(audio) decoding and features on `workers` threads, then the fit.
    public func train(_ options: TrainOptions, progress: ProgressHandler? = nil) throws -> TrainReport {
        let started = Date()
        let reader = try SnapshotReader(
            repository: self, revision: options.revision,
            targetSampleRate: options.features.sampleRate, mono: true)
        let extractor: FeatureExtractor
        do { extractor = try FeatureExtractor(config: options.features) } catch { throw Self.wrapLearn(error) }
        let labelled = reader.entries.indices.filter { Self.labelText(reader.entries[$0], options.labelField, options.task) != nil }
        if labelled.isEmpty, options.task == .regress {
            // The label is there but not as a number: say so, rather than "no samples with label".
            let carrying = reader.entries.filter { e in e.annotations?[label: options.labelField].map { $0 != .null } ?? false }
            if let example = carrying.first?.annotations?[label: options.labelField] {
                throw DVSError(
                    .badInput,
                    "no sample of \(options.revision) has a numeric '\(options.labelField)' label to regress on: \(carrying.count) have the label, but as text (e.g. '\(example.text)')",
                    next: .classifyInstead(label: options.labelField))
            }
        }
        var missingSplit = 0
        let t0 = Date()
        let examples = try extractFeatures(reader, order: labelled, extractor: extractor, progress: progress) { s in
            var group: String?
            if let by = options.splitBy {
                if let v = s.labels[by], v != .null { group = v.text } else { missingSplit += 1 }
            }
            return LabeledExample(
                key: s.path.string, group: group, blobID: s.blob, features: [],
                label: Self.labelText(s.labels[options.labelField], options.task) ?? "")
        }
        let featureSeconds = Date().timeIntervalSince(t0)
        let parameters = TrainingParameters(
            task: options.task, l2: options.l2, holdoutFraction: options.holdoutFraction, splitBy: options.splitBy)
        let metadata = [
            "revision": options.revision.spelling, "commit": reader.commit.hex, "created": ISO8601DateFormatter().string(from: Date()),
            "dvs.version": context.dvsVersion,
        ]
        let result: TrainingResult
        do {
            result = try Baseline.train(
                examples.map(\.0), task: options.task, labelField: options.labelField,
                features: options.features, parameters: parameters, metadata: metadata)
        } catch { throw Self.wrapLearn(error, revision: options.revision.spelling) }
        let bytes: [UInt8]
        do { bytes = try ModelFile.encode(result.model) } catch { throw Self.wrapLearn(error) }
        let path = absolute(options.outputPath)
        do {
            try FileIO.writeAtomically(bytes, to: path, tmpDir: (path as NSString).deletingLastPathComponent)
        } catch {
            throw DVSError(
                .io, "cannot write model file '\(options.outputPath)': \(DVSError.wrap(error).message)",
                next: .anotherOutputFolder)
        }
        var reg = ModelRegistration(artifactPath: path, revision: options.revision, name: options.name)
        reg.message = options.message
        reg.task = options.task.rawValue
        reg.labelField = options.labelField
        reg.trainingSamples = Set(result.model.trainingBlobIDs)
        reg.startTime = started
        reg.parameters = Self.recordParameters(result, options)
        let (id, record) = try registerModel(reg)
        let audioSeconds = examples.reduce(0.0) { $0 + $1.1 }
        return TrainReport(
            commit: reader.commit, snapshotSampleCount: reader.count, missingLabelCount: reader.count - labelled.count,
            missingSplitKeyCount: missingSplit, audioHours: audioSeconds / 3600, featureSeconds: featureSeconds,
            result: result, modelPath: path, modelSHA256: ObjectID.hashing(bytes), modelID: id, record: record)
    }

    /// Evaluates a model on a snapshot: predictions for every sample that carries the model's
    /// label field, metrics overall and per slice, end-to-end speed, and the count of samples the
    /// model was trained on (same audio content hash); records an eval record when the model has a
    /// model record.
    /// - Parameter progress: called with phase `evaluating` as samples are read.
    /// - Throws: `DVSError.badInput` when the model file cannot be read or no sample carries the
    ///   label; `.unknownRevision` for an unknown model or revision; `.corrupt`; `.locked`.
    /// - Complexity: O(audio) decoding and features on `workers` threads.
    public func evaluate(_ options: EvalOptions, progress: ProgressHandler? = nil) throws -> EvalReport {
        let (model, modelID, modelName) = try loadModel(options.model)
        let reader = try SnapshotReader(
            repository: self, revision: options.revision,
            targetSampleRate: model.features.sampleRate, mono: true)
        let extractor: FeatureExtractor
        do { extractor = try FeatureExtractor(config: model.features) } catch { throw Self.wrapLearn(error) }
        let labelled = reader.entries.indices.filter { Self.labelText(reader.entries[$0], model.labelField, model.task) != nil }
        guard !labelled.isEmpty else {
            throw DVSError(
                .badInput,
                "no sample of \(options.revision) (\(reader.commit.short)) has the label '\(model.labelField)' that model '\(modelName)' predicts",
                next: .evaluateOnLabeledRevision(label: model.labelField, revision: options.revision))
        }
        let cohorts =
            try options.sliceBy == "cohort" && !reader.entries.contains { $0.annotations?[label: "cohort"] != nil }
            ? cohortMembership() : nil
        let training = Set(model.trainingBlobIDs)
        let t0 = Date()
        let examples = try extractFeatures(reader, order: labelled, extractor: extractor, progress: progress, phase: .evaluating) { s in
            LabeledExample(
                key: s.path.string, group: nil, blobID: s.blob, features: [],
                label: Self.labelText(s.labels[model.labelField], model.task) ?? "")
        }
        let predicted = examples.map { model.predictLabel($0.0.features) }
        let seconds = Date().timeIntervalSince(t0)
        let speed = InferenceSpeed(
            sampleCount: examples.count, audioSeconds: examples.reduce(0.0) { $0 + $1.1 }, processingSeconds: seconds)
        // A slice's macro-F1 averages over the classes present in it (`MacroAveraging.truth`).
        func score(_ idx: [Int], slice: Bool = false) -> Metrics {
            switch model.task {
            case .classify:
                return .classification(
                    ClassificationMetrics(
                        truth: idx.map { examples[$0].0.label }, predicted: idx.map { predicted[$0] },
                        macroAveragingOver: slice ? .truth : .truthOrPrediction))
            case .regress:
                return .regression(
                    RegressionMetrics(truth: idx.map { Double(examples[$0].0.label)! }, predicted: idx.map { Double(predicted[$0])! }))
            }
        }
        let overall = score(Array(examples.indices))
        let leaked = examples.indices.filter { examples[$0].0.blobID.map(training.contains) ?? false }
        let unseenIdx = examples.indices.filter { !(examples[$0].0.blobID.map(training.contains) ?? false) }
        let unseen = leaked.isEmpty || unseenIdx.isEmpty ? nil : score(unseenIdx)
        var sliceMembers: [String: [Int]] = [:]
        if let by = options.sliceBy {
            let sliceLabels = Dictionary(
                uniqueKeysWithValues: labelled.map { i in
                    (reader.entries[i].path.string, reader.entries[i].annotations?[label: by])
                })
            for (i, e) in examples.enumerated() {
                if let cohorts {
                    let names = cohorts[e.0.blobID!] ?? []
                    for n in names.isEmpty ? ["(none)"] : names.sorted() { sliceMembers["cohort=\(n)", default: []].append(i) }
                } else {
                    let v = sliceLabels[e.0.key] ?? nil
                    sliceMembers["\(by)=\(v.map { $0 == .null ? "(none)" : $0.text } ?? "(none)")", default: []].append(i)
                }
            }
        }
        let slices = sliceMembers.keys.sorted().map { ($0, score(sliceMembers[$0]!, slice: true)) }
        var evalID: EvalID?
        if options.record, let modelID {
            var reg = EvalRegistration(
                model: modelID, revision: options.revision, metrics: Self.recordMetrics(overall, speed: speed),
                sampleCount: examples.count)
            reg.slices = Dictionary(uniqueKeysWithValues: slices.map { ($0.0, Self.recordMetrics($0.1, speed: nil)) })
            reg.leakedSamples = leaked.count
            reg.startTime = t0
            evalID = try recordEval(reg).id
        }
        return EvalReport(
            model: model, modelID: modelID, modelName: modelName, commit: reader.commit, snapshotSampleCount: reader.count,
            missingLabelCount: reader.count - labelled.count, leakedSampleCount: leaked.count, overall: overall, unseen: unseen,
            slices: slices, speed: speed, evalID: evalID)
    }

    /// A model from a `.dvsm` path (with its record, when one registered the same bytes) or from
    /// a model record (its stored artifact).
    func loadModel(_ spec: String) throws -> (Model, ModelID?, String) {
        var isFile = false
        var st = stat()
        if stat(spec, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { isFile = true }
        if isFile {
            let bytes: [UInt8]
            do { bytes = try FileIO.read(spec) } catch {
                throw DVSError(.badInput, "cannot read model file '\(spec)': \(DVSError.wrap(error).message)", hint: "check the path")
            }
            let model: Model
            do { model = try ModelFile.decode(bytes, source: spec) } catch { throw Self.wrapLearn(error) }
            let sha = ObjectID.hashing(bytes).hex
            // Of several records of this artifact (trained twice to the same bytes), the newest
            // named after this file, else the newest.
            let name = (spec as NSString).lastPathComponent
            let records = try modelRecords().filter { $0.record.artifactSHA256 == sha }
            let record = records.last { $0.record.name == name } ?? records.last
            return (model, record?.id, record?.record.name ?? name)
        }
        let hits = try resolveModels(spec)
        let artifacts = Set(hits.map(\.record.artifactSHA256))
        guard artifacts.count == 1, let hit = hits.last else {
            throw DVSError(
                .usage, "model '\(spec)' is ambiguous: \(hits.count) records with \(artifacts.count) different artifacts",
                details: hits.map { "\($0.id.short)  \($0.record.name)  \($0.record.artifactSHA256.prefix(12))" },
                next: .longerRecordIDOrPath)
        }
        let bytes = try artifact(of: hit.record)
        do { return (try ModelFile.decode(bytes, source: hit.record.name), hit.id, hit.record.name) } catch {
            throw DVSError(
                .badInput, "model '\(hit.record.name)' (\(hit.id.short)) is not a dvs baseline model: \(error.message)",
                next: .evaluateOnlyTrainedModels)
        }
    }

    /// Reads samples in `order`, extracts features on all workers in batches, and returns each
    /// example (with features filled in) and its duration in seconds, in `order`.
    private func extractFeatures(
        _ reader: SnapshotReader, order: [Int], extractor: FeatureExtractor, progress: ProgressHandler?,
        phase: Progress.Phase = .features, _ make: (SnapshotSample) -> LabeledExample
    ) throws -> [(LabeledExample, Double)] {
        var out: [(LabeledExample, Double)] = []
        out.reserveCapacity(order.count)
        let batchSize = max(8, 4 * reader.workers)
        var pending: [(LabeledExample, [Float], Double)] = []
        var done = 0
        func flush() {
            let slots = SlotBuffer<[Float]>(count: pending.count)
            let pcm = pending.map(\.1)
            DispatchQueue.concurrentPerform(iterations: pending.count) { i in slots[i] = extractor.features(pcm[i]) }
            for (i, p) in pending.enumerated() {
                var e = p.0
                e.features = slots.take(i)!
                out.append((e, p.2))
            }
            done += pending.count
            pending.removeAll(keepingCapacity: true)
            progress?(Progress(phase: phase, done: done, total: order.count, bytes: 0))
        }
        try reader.forEach(order: order) { s in
            pending.append((make(s), s.pcm, s.duration))
            if pending.count >= batchSize { flush() }
        }
        if !pending.isEmpty { flush() }
        return out
    }

    /// blob → names of the `cohort/*` branches whose head snapshot holds it.
    private func cohortMembership() throws -> [ObjectID: Set<String>] {
        var out: [ObjectID: Set<String>] = [:]
        for b in try branches() where b.name.hasPrefix("cohort/") {
            let name = String(b.name.dropFirst("cohort/".count))
            for e in try entries(ofManifest: commit(b.target).manifest) where e.audio != nil { out[e.blob, default: []].insert(name) }
        }
        return out
    }

    private static func labelText(_ e: ManifestEntry, _ field: String, _ task: LearningTask) -> String? {
        guard e.audio != nil else { return nil }
        return labelText(e.annotations?[label: field], task)
    }

    /// The label as the learner takes it: text for `classify`, a decimal for `regress` (nil when
    /// absent, null, or not a number for `regress`).
    private static func labelText(_ v: LabelValue?, _ task: LearningTask) -> String? {
        guard let v, v != .null else { return nil }
        switch task {
        case .classify: return v.text
        case .regress:
            if let n = v.number { return String(n) }
            return Double(v.text.trimmingCharacters(in: .whitespaces)).map { String($0) }
        }
    }

    static func wrapLearn(_ e: LearnError, revision: String? = nil) -> DVSError {
        let code: DVSError.Code =
            switch e.code {
            case .badInput, .badModelFile, .shapeMismatch: .badInput
            case .numerical: .badInput
            }
        return DVSError(code, e.message, hint: e.hint, cause: e.cause, underlying: e)
    }

    private static func recordParameters(_ r: TrainingResult, _ o: TrainOptions) -> [String: String] {
        let f = o.features
        var p: [String: String] = [
            "trainer": "dvs baseline (\(o.task == .classify ? "softmax regression, L-BFGS" : "ridge regression"))",
            "features":
                "log-mel \(f.melBandCount) \(f.melScale == .slaney ? "Slaney" : "HTK") + \(f.mfccCount) MFCC, mean+std; \(f.sampleRate) Hz mono, window \(f.windowLength), hop \(f.hopLength), FFT \(f.fftSize)",
            "holdout": String(o.holdoutFraction),
            "l2": String(r.model.parameters.l2),
            "training_samples": String(r.trainingCount),
            "holdout_samples": String(r.holdoutCount),
        ]
        if let s = o.splitBy { p["split_by"] = s }
        if o.task == .classify { p["iterations"] = String(r.model.iterations) }
        switch r.holdoutMetrics {
        case .classification(let m)?:
            p["holdout_accuracy"] = String(format: "%.4f", m.accuracy)
            p["holdout_macro_f1"] = String(format: "%.4f", m.macroF1)
        case .regression(let m)?:
            p["holdout_mae"] = String(format: "%.4f", m.meanAbsoluteError)
            p["holdout_rmse"] = String(format: "%.4f", m.rootMeanSquaredError)
            if let r = m.pearsonR { p["holdout_pearson_r"] = String(format: "%.4f", r) }
        case nil: break
        }
        return p
    }

    /// Metrics as eval-record values (snake_case keys).
    static func recordMetrics(_ m: Metrics, speed: InferenceSpeed?) -> [String: RecordValue] {
        var out: [String: RecordValue] = ["samples": .number(Double(m.sampleCount))]
        switch m {
        case .classification(let c):
            out["accuracy"] = .number(c.accuracy)
            out["macro_f1"] = .number(c.macroF1)
            out["class_names"] = .array(c.classNames.map { .string($0) })
            out["confusion"] = .array(c.confusion.map { .array($0.map { .number(Double($0)) }) })
        case .regression(let r):
            out["mae"] = .number(r.meanAbsoluteError)
            out["rmse"] = .number(r.rootMeanSquaredError)
            out["pearson_r"] = r.pearsonR.map { .number($0) } ?? .null
        }
        if let speed {
            out["real_time_factor"] = .number(speed.realTimeFactor)
            out["samples_per_second"] = .number(speed.samplesPerSecond)
            out["audio_seconds"] = .number(speed.audioSeconds)
        }
        return out
    }
}
