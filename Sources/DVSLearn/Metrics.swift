import DVSCore
import Foundation

/// The deterministic train/holdout split: a sample is held out when the SHA-256 of its split key
/// (the sample's path, or the value of the `--split-by` field so that, say, all of a speaker's
/// clips fall on one side) maps below the holdout fraction.
///
/// Precisely: h = the first 8 bytes, big-endian, of SHA-256("dvs-holdout-v1\n" + key as UTF-8);
/// held out iff h / 2⁶⁴ < fraction. The same key always lands on the same side, on every machine
/// and in every version that keeps the "v1" salt, and adding samples never moves old ones.
public enum HoldoutSplit {
    /// Whether `key` is in the holdout set for `fraction` (0 holds out nothing, 1 everything).
    public static func isHeldOut(key: String, fraction: Double) -> Bool {
        if fraction <= 0 { return false }
        if fraction >= 1 { return true }
        let id = ObjectID.hashing(Array(("dvs-holdout-v1\n" + key).utf8))
        var h: UInt64 = 0
        for b in id.bytes.prefix(8) { h = h << 8 | UInt64(b) }
        return Double(h) / 18446744073709551616.0 < fraction
    }
}

/// Classification quality: accuracy, macro-averaged F1 and the confusion matrix.
public struct ClassificationMetrics: Sendable, Equatable, Codable {
    /// Every class seen as truth or prediction, sorted; indexes the confusion matrix.
    public var classNames: [String]
    /// `confusion[t][p]`: samples of true class `classNames[t]` predicted as `classNames[p]`.
    public var confusion: [[Int]]
    /// Number of samples scored.
    public var sampleCount: Int
    /// Fraction predicted correctly, 0…1.
    public var accuracy: Double
    /// Unweighted mean of each class's F1 = 2·precision·recall / (precision + recall), with F1 = 0
    /// for a class that is never predicted or never true (scikit-learn's
    /// `f1_score(average="macro", zero_division=0)`), over every class of `classNames` or, for a
    /// slice, over the classes with a true sample (``MacroAveraging``).
    public var macroF1: Double
    /// Per class, in `classNames` order: F1.
    public var f1: [Double]

    /// Scores predictions against the truth (equal-length arrays of class names), macro-F1 over
    /// every class seen as truth or prediction.
    public init(truth: [String], predicted: [String]) {
        self.init(truth: truth, predicted: predicted, macroAveragingOver: .truthOrPrediction)
    }

    /// Scores predictions against the truth (equal-length arrays of class names), macro-F1
    /// averaged over the classes `averaging` names. `classNames`, `confusion` and `f1` still list
    /// every class seen as truth or prediction.
    public init(truth: [String], predicted: [String], macroAveragingOver averaging: MacroAveraging) {
        let names = Array(Set(truth).union(predicted)).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        var m = Array(repeating: Array(repeating: 0, count: names.count), count: names.count)
        for (t, p) in zip(truth, predicted) { m[index[t]!][index[p]!] += 1 }
        let correct = (0..<names.count).reduce(0) { $0 + m[$1][$1] }
        var f1s: [Double] = []
        for c in 0..<names.count {
            let tp = Double(m[c][c])
            let predictedAs = Double((0..<names.count).reduce(0) { $0 + m[$1][c] })
            let actual = Double(m[c].reduce(0, +))
            let precision = predictedAs > 0 ? tp / predictedAs : 0
            let recall = actual > 0 ? tp / actual : 0
            f1s.append(precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0)
        }
        classNames = names
        confusion = m
        sampleCount = truth.count
        accuracy = truth.isEmpty ? 0 : Double(correct) / Double(truth.count)
        f1 = f1s
        let averaged: [Double]
        switch averaging {
        case .truthOrPrediction: averaged = f1s
        case .truth:
            let present = Set(truth)
            averaged = names.indices.filter { present.contains(names[$0]) }.map { f1s[$0] }
        }
        macroF1 = averaged.isEmpty ? 0 : averaged.reduce(0, +) / Double(averaged.count)
    }

    /// Samples predicted correctly: the confusion matrix's diagonal, 0…`sampleCount`.
    public var correctCount: Int { confusion.indices.reduce(0) { $0 + confusion[$1][$1] } }

    /// The classes a macro average runs over.
    public enum MacroAveraging: Sendable, Equatable {
        /// Every class seen as truth or prediction (scikit-learn's default `labels`): right for a
        /// whole evaluation set, where a class the model predicts but never meets is a real error.
        case truthOrPrediction
        /// Only the classes with at least one true sample (scikit-learn's `labels=` the slice's
        /// true classes): right for a slice such as `lang=de`, where every other class is absent by
        /// construction and would add an F1 of 0 that says nothing about the slice. Wrong
        /// predictions still count, as lost recall of the true class.
        case truth
    }
}

/// Regression quality: mean absolute error, root mean squared error and Pearson's r.
public struct RegressionMetrics: Sendable, Equatable, Codable {
    /// Number of samples scored.
    public var sampleCount: Int
    /// Mean |prediction − truth|, in the label's unit.
    public var meanAbsoluteError: Double
    /// √(mean (prediction − truth)²), in the label's unit.
    public var rootMeanSquaredError: Double
    /// Pearson correlation of predictions and truth; nil when either side is constant or there
    /// are fewer than 2 samples.
    public var pearsonR: Double?

    /// Scores predictions against the truth (equal-length arrays).
    public init(truth: [Double], predicted: [Double]) {
        let n = Double(truth.count)
        sampleCount = truth.count
        var abs = 0.0
        var sq = 0.0
        for (t, p) in zip(truth, predicted) {
            abs += Swift.abs(p - t)
            sq += (p - t) * (p - t)
        }
        meanAbsoluteError = n > 0 ? abs / n : 0
        rootMeanSquaredError = n > 0 ? (sq / n).squareRoot() : 0
        let mt = truth.reduce(0, +) / max(n, 1)
        let mp = predicted.reduce(0, +) / max(n, 1)
        var stt = 0.0
        var spp = 0.0
        var stp = 0.0
        for (t, p) in zip(truth, predicted) {
            stt += (t - mt) * (t - mt)
            spp += (p - mp) * (p - mp)
            stp += (t - mt) * (p - mp)
        }
        pearsonR = n >= 2 && stt > 0 && spp > 0 ? stp / (stt * spp).squareRoot() : nil
    }
}

/// The metrics of one task.
public enum Metrics: Sendable, Equatable {
    /// For `classify` models.
    case classification(ClassificationMetrics)
    /// For `regress` models.
    case regression(RegressionMetrics)

    /// Number of samples scored.
    public var sampleCount: Int {
        switch self {
        case .classification(let m): m.sampleCount
        case .regression(let m): m.sampleCount
        }
    }
}

/// Inference speed: how long feature extraction and prediction took against how much audio.
public struct InferenceSpeed: Sendable, Equatable, Codable {
    /// Samples (clips) processed.
    public var sampleCount: Int
    /// Total audio duration in seconds.
    public var audioSeconds: Double
    /// Wall-clock processing time in seconds.
    public var processingSeconds: Double

    /// Creates a measurement.
    public init(sampleCount: Int, audioSeconds: Double, processingSeconds: Double) {
        self.sampleCount = sampleCount
        self.audioSeconds = audioSeconds
        self.processingSeconds = processingSeconds
    }

    /// Real-time factor: processing seconds per second of audio (below 1 is faster than real time).
    public var realTimeFactor: Double { audioSeconds > 0 ? processingSeconds / audioSeconds : 0 }
    /// Samples processed per wall-clock second.
    public var samplesPerSecond: Double { processingSeconds > 0 ? Double(sampleCount) / processingSeconds : 0 }
}
