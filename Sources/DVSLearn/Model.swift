import DVSCore
import Foundation

/// What a baseline model predicts.
public enum LearningTask: String, Sendable, Equatable, Codable, CaseIterable {
    /// A class name from a fixed set (multinomial logistic regression).
    case classify
    /// A number (ridge regression).
    case regress
}

/// The knobs of a training run, kept in the model file.
public struct TrainingParameters: Sendable, Equatable, Codable {
    /// L2 penalty λ: on the mean log-loss for `classify` (default 0.01), on the summed squared
    /// error for `regress` (default 1).
    public var l2: Double
    /// Fraction of split keys held out for evaluation, 0…1 (default 0.2).
    public var holdoutFraction: Double
    /// The label field whose value is the split key (e.g. `speaker`), or nil to split by sample path.
    public var splitBy: String?
    /// L-BFGS iteration limit for `classify` (default 300).
    public var maxIterations: Int

    /// Creates parameters; pass nil for `l2` to get the task's default.
    public init(task: LearningTask, l2: Double? = nil, holdoutFraction: Double = 0.2, splitBy: String? = nil, maxIterations: Int = 300) {
        self.l2 = l2 ?? (task == .classify ? 0.01 : 1)
        self.holdoutFraction = holdoutFraction
        self.splitBy = splitBy
        self.maxIterations = maxIterations
    }
}

/// A trained baseline: the feature front end, the standardisation, the linear model, and what it
/// was trained on. Stored as a `.dvsm` file (`schema/MODEL.md`) by `ModelFile`.
public struct Model: Sendable, Equatable {
    /// Classification or regression.
    public var task: LearningTask
    /// The label field predicted (e.g. `lang`).
    public var labelField: String
    /// How audio becomes features; inputs must be mono at `features.sampleRate` Hz.
    public var features: FeatureConfig
    /// Standardisation fitted on the training set (dimension D = `features.dimension`).
    public var standardizer: Standardizer
    /// `classify`: the K class names, sorted; `regress`: empty.
    public var classNames: [String]
    /// Row-major weights, K × D for `classify`, 1 × D for `regress`, on standardised features.
    public var weights: [Float]
    /// K biases for `classify`, 1 for `regress`.
    public var bias: [Float]
    /// The training run's parameters.
    public var parameters: TrainingParameters
    /// L-BFGS iterations run (0 for ridge regression).
    public var iterations: Int
    /// Samples the model was fitted on (the training side of the split).
    public var trainingSampleCount: Int
    /// Content hashes (blob ids) of the training-side samples' audio, sorted, unique; `dvs eval`
    /// uses them to warn when an evaluation set overlaps the training set.
    public var trainingBlobIDs: [ObjectID]
    /// Free-form facts (revision, commit id, created time, label distribution …), sorted by key
    /// when stored.
    public var metadata: [String: String]

    /// Creates a model from its parts (see the properties for shapes).
    public init(
        task: LearningTask, labelField: String, features: FeatureConfig, standardizer: Standardizer,
        classNames: [String], weights: [Float], bias: [Float], parameters: TrainingParameters,
        iterations: Int, trainingSampleCount: Int, trainingBlobIDs: [ObjectID], metadata: [String: String]
    ) {
        self.task = task
        self.labelField = labelField
        self.features = features
        self.standardizer = standardizer
        self.classNames = classNames
        self.weights = weights
        self.bias = bias
        self.parameters = parameters
        self.iterations = iterations
        self.trainingSampleCount = trainingSampleCount
        self.trainingBlobIDs = trainingBlobIDs
        self.metadata = metadata
    }

    /// Checks that the parts have consistent shapes.
    /// - Throws: `LearnError.Code.shapeMismatch` naming the part that does not fit.
    public func validate() throws(LearnError) {
        let d = features.dimension
        let k = task == .classify ? classNames.count : 1
        func bad(_ what: String) -> LearnError { LearnError(.shapeMismatch, "inconsistent model: \(what)") }
        guard standardizer.mean.count == d, standardizer.scale.count == d else {
            throw bad("standardisation has \(standardizer.mean.count)/\(standardizer.scale.count) values for \(d) features")
        }
        if task == .classify, classNames.count < 2 { throw bad("\(classNames.count) class names") }
        if task == .regress, !classNames.isEmpty { throw bad("a regression model with class names") }
        guard weights.count == k * d, bias.count == k else {
            throw bad("\(weights.count) weights and \(bias.count) biases for \(k) × \(d)")
        }
    }

    /// The predicted class index (into `classNames`) for a pooled feature vector (`classify`).
    /// - Precondition: `features.count == self.features.dimension`.
    public func predictClass(_ features: [Float]) -> Int {
        let s = SoftmaxRegression.scores(standardizer.apply(features), weights: weights, bias: bias)
        var best = 0
        for c in 1..<s.count where s[c] > s[best] { best = c }
        return best
    }

    /// The predicted value for a pooled feature vector (`regress`).
    /// - Precondition: `features.count == self.features.dimension`.
    public func predictValue(_ features: [Float]) -> Double {
        let x = standardizer.apply(features)
        var s = Double(bias[0])
        for j in 0..<x.count { s += Double(weights[j]) * x[j] }
        return s
    }

    /// The prediction as the label's text: a class name, or the number.
    public func predictLabel(_ features: [Float]) -> String {
        task == .classify ? classNames[predictClass(features)] : String(predictValue(features))
    }
}

/// One labelled sample for training or evaluation: its pooled features and label text.
public struct LabeledExample: Sendable {
    /// The sample's path in the snapshot (the default split key and a stable identity).
    public var key: String
    /// The value of the `--split-by` field, if splitting by a field; nil splits by `key`.
    public var group: String?
    /// Content hash of the sample's audio.
    public var blobID: ObjectID?
    /// Pooled features from `FeatureExtractor.features(_:)`.
    public var features: [Float]
    /// The label's text: a class name for `classify`, a decimal number for `regress`.
    public var label: String

    /// Creates an example.
    public init(key: String, group: String? = nil, blobID: ObjectID? = nil, features: [Float], label: String) {
        self.key = key
        self.group = group
        self.blobID = blobID
        self.features = features
        self.label = label
    }
}

/// The outcome of `Baseline.train`.
public struct TrainingResult: Sendable {
    /// The fitted model.
    public var model: Model
    /// Samples on the training side.
    public var trainingCount: Int
    /// Samples held out.
    public var holdoutCount: Int
    /// Metrics on the holdout set; nil when nothing was held out.
    public var holdoutMetrics: Metrics?
    /// Metrics on the training set (how well the model fits what it saw).
    public var trainingMetrics: Metrics
    /// Training-side samples per label value (`classify`; empty for `regress`).
    public var labelCounts: [String: Int]
    /// Label values that only holdout samples carry (`classify`), sorted: the model cannot
    /// predict them, so every such holdout sample scores as an error.
    public var holdoutOnlyClasses: [String] = []
    /// Samples put on the other side than their split key's, to keep byte-identical audio on
    /// one side (``HoldoutSplit/heldOut(_:fraction:)``).
    public var movedCopies = 0
}

/// Trains the built-in baselines: standardised pooled features → softmax regression
/// (`classify`) or ridge regression (`regress`), with the deterministic `HoldoutSplit`.
public enum Baseline {
    /// Splits `examples`, fits on the training side and scores both sides.
    /// - Parameters:
    ///   - examples: labelled samples, features of dimension `features.dimension`.
    ///   - task: classification or regression.
    ///   - labelField: the field the labels come from (stored in the model).
    ///   - features: the configuration the features were extracted with.
    ///   - parameters: penalty, holdout fraction, split field, iteration limit.
    ///   - metadata: stored in the model as is.
    /// - Returns: the model and its metrics.
    /// - Throws: `LearnError.Code.badInput` when there is nothing to train on (no examples, the
    ///   holdout took them all, fewer than 2 classes on the training side, a `regress` label that
    ///   is not a finite number), `.shapeMismatch` for features of the wrong length, `.numerical`
    ///   if ridge regression fails.
    /// - Complexity: O(iterations × N × D × K) for `classify`, O(N·D² + D³) for `regress`.
    public static func train(
        _ examples: [LabeledExample], task: LearningTask, labelField: String,
        features: FeatureConfig, parameters: TrainingParameters,
        metadata: [String: String] = [:]
    ) throws(LearnError) -> TrainingResult {
        let d = features.dimension
        guard !examples.isEmpty else {
            throw LearnError(
                .badInput, "no samples with label '\(labelField)' to train on",
                reason: .noLabeledSamples, subject: labelField)
        }
        for e in examples where e.features.count != d {
            throw LearnError(.shapeMismatch, "sample '\(e.key)' has \(e.features.count) features, expected \(d)")
        }
        var targets: [Double] = []
        if task == .regress {
            for e in examples {
                guard let v = Double(e.label.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                    throw LearnError(
                        .badInput, "sample '\(e.key)': label '\(labelField)' = '\(e.label)' is not a number",
                        reason: .categoricalLabel, subject: labelField)
                }
                targets.append(v)
            }
        }
        var trainIdx: [Int] = []
        var testIdx: [Int] = []
        for (i, held) in HoldoutSplit.heldOut(examples, fraction: parameters.holdoutFraction).enumerated() {
            if held {
                testIdx.append(i)
            } else {
                trainIdx.append(i)
            }
        }
        guard !trainIdx.isEmpty else {
            throw LearnError(
                .badInput, "the holdout (\(parameters.holdoutFraction)) left no samples to train on",
                reason: .holdoutLeavesNothingToTrain)
        }
        let standardizer = Standardizer(fitting: trainIdx.map { examples[$0].features })
        let rows = trainIdx.map { standardizer.apply(examples[$0].features) }
        var labelCounts: [String: Int] = [:]
        let model: Model
        if task == .classify {
            for i in trainIdx { labelCounts[examples[i].label, default: 0] += 1 }
            let names = labelCounts.keys.sorted()
            guard names.count >= 2 else {
                throw LearnError(
                    .badInput,
                    "label '\(labelField)' has \(names.count) value\(names.count == 1 ? "" : "s") on the training side; classification needs at least 2",
                    reason: .tooFewClasses, subject: labelField)
            }
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            let fit = SoftmaxRegression.fit(
                rows: rows, classes: trainIdx.map { index[examples[$0].label]! },
                classCount: names.count, l2: parameters.l2, maxIterations: parameters.maxIterations)
            model = Model(
                task: task, labelField: labelField, features: features, standardizer: standardizer, classNames: names,
                weights: fit.weights, bias: fit.bias, parameters: parameters, iterations: fit.iterations,
                trainingSampleCount: trainIdx.count, trainingBlobIDs: blobIDs(examples, trainIdx), metadata: metadata)
        } else {
            let fit = try RidgeRegression.fit(rows: rows, targets: trainIdx.map { targets[$0] }, l2: parameters.l2)
            model = Model(
                task: task, labelField: labelField, features: features, standardizer: standardizer, classNames: [],
                weights: fit.weights, bias: [fit.bias], parameters: parameters, iterations: 0,
                trainingSampleCount: trainIdx.count, trainingBlobIDs: blobIDs(examples, trainIdx), metadata: metadata)
        }
        let trainMetrics = score(model, trainIdx.map { examples[$0] })
        let holdout = testIdx.isEmpty ? nil : score(model, testIdx.map { examples[$0] })
        var result = TrainingResult(
            model: model, trainingCount: trainIdx.count, holdoutCount: testIdx.count,
            holdoutMetrics: holdout, trainingMetrics: trainMetrics, labelCounts: labelCounts)
        result.movedCopies = HoldoutSplit.movedCopies(examples, fraction: parameters.holdoutFraction)
        if task == .classify {
            result.holdoutOnlyClasses = Set(testIdx.map { examples[$0].label }).subtracting(labelCounts.keys).sorted()
        }
        return result
    }

    private static func blobIDs(_ examples: [LabeledExample], _ idx: [Int]) -> [ObjectID] {
        Array(Set(idx.compactMap { examples[$0].blobID })).sorted()
    }

    /// Scores `model` on `examples` (labels not known to a classifier count as errors; a
    /// regression label that is not a number is skipped).
    public static func score(_ model: Model, _ examples: [LabeledExample]) -> Metrics {
        switch model.task {
        case .classify:
            return .classification(
                ClassificationMetrics(
                    truth: examples.map(\.label),
                    predicted: examples.map { model.classNames[model.predictClass($0.features)] }))
        case .regress:
            var t: [Double] = []
            var p: [Double] = []
            for e in examples {
                guard let v = Double(e.label.trimmingCharacters(in: .whitespaces)), v.isFinite else { continue }
                t.append(v)
                p.append(model.predictValue(e.features))
            }
            return .regression(RegressionMetrics(truth: t, predicted: p))
        }
    }
}
