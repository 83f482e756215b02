import DVSCore
import DVSLearn
import DVSStorage
import Foundation

/// Metrics a model's own code computed (a PyTorch model, a vendor's API), as read from a JSON
/// file, to be kept in an eval record beside those `dvs eval` writes.
///
/// The file is one JSON object:
///
///     {"samples": 120,
///      "metrics": {"accuracy": 0.91, "macro_f1": 0.88, "real_time_factor": 0.05, "samples_per_second": 40},
///      "slices": {"cohort=telephony": {"samples": 40, "accuracy": 0.85}}}
///
/// `metrics` is required; `samples` (default: the evaluation snapshot's sample count) and
/// `slices` (name `FIELD=VALUE` → metrics) are optional. Known keys are checked: `accuracy` and
/// `macro_f1` in 0…1; `wer`, `cer`, `mae`, `rmse`, `audio_seconds` ≥ 0; `real_time_factor` and
/// `samples_per_second` > 0; `samples` a whole number ≥ 0. Other metric keys are kept as given.
public struct ExternalMetrics: Sendable, Equatable {
    /// Samples evaluated; nil when the file does not say.
    public var sampleCount: Int?
    /// Overall metrics (eval record keys: `accuracy`, `macro_f1`, `wer`, `real_time_factor` …).
    public var metrics: [String: RecordValue]
    /// Per-slice metrics (`cohort=telephony` → metrics).
    public var slices: [String: [String: RecordValue]]
    /// Where the metrics came from (the file's path), for messages; empty when not from a file.
    public var source = ""

    /// Creates metrics from their parts (not checked; ``parse(_:source:)`` checks).
    public init(sampleCount: Int?, metrics: [String: RecordValue], slices: [String: [String: RecordValue]] = [:]) {
        self.sampleCount = sampleCount
        self.metrics = metrics
        self.slices = slices
    }

    /// Reads and checks a metrics file's bytes.
    /// - Parameter source: the file's path, for messages.
    /// - Throws: `DVSError.badInput` naming the file and the key when it is not JSON, not an
    ///   object, lacks `metrics`, has an unknown top-level key, or a known key is out of range.
    public static func parse(_ bytes: [UInt8], source: String) throws -> ExternalMetrics {
        func bad(_ what: String) -> DVSError {
            DVSError(
                .badInput, "metrics file '\(source)': \(what)",
                hint: #"write one JSON object: {"samples": N, "metrics": {"accuracy": 0.9, …}, "slices": {"cohort=NAME": {…}}}"#)
        }
        let value: RecordValue
        do { value = try JSONDecoder().decode(RecordValue.self, from: Data(bytes)) } catch {
            throw bad("not JSON (\(Self.jsonError(error)))")
        }
        guard case .object(let top) = value else { throw bad("not a JSON object") }
        for key in top.keys.sorted() where !["samples", "metrics", "slices"].contains(key) {
            throw bad("unknown key '\(key)' (expected samples, metrics, slices)")
        }
        guard let m = top["metrics"] else { throw bad("no 'metrics' object") }
        let metrics = try checked(m, at: "metrics", bad)
        guard !metrics.isEmpty else { throw bad("'metrics' is empty") }
        var slices: [String: [String: RecordValue]] = [:]
        if let s = top["slices"] {
            guard case .object(let o) = s else { throw bad("'slices' is not an object of slice name → metrics") }
            for (name, v) in o {
                guard !name.isEmpty, name.contains("=") else {
                    throw bad("slice name '\(name)' is not FIELD=VALUE (for example cohort=telephony)")
                }
                slices[name] = try checked(v, at: "slices.\(name)", bad)
            }
        }
        var samples: Int?
        if let s = top["samples"] { samples = try count(s, at: "samples", bad) }
        var out = ExternalMetrics(sampleCount: samples, metrics: metrics, slices: slices)
        out.source = source
        return out
    }

    /// A metrics object with its known keys checked.
    private static func checked(
        _ v: RecordValue, at path: String, _ bad: (String) -> DVSError
    ) throws -> [String: RecordValue] {
        guard case .object(let o) = v else { throw bad("'\(path)' is not an object") }
        for (key, value) in o {
            let range: ClosedRange<Double>?
            var positive = false
            switch key {
            case "accuracy", "macro_f1": range = 0...1
            case "wer", "cer", "mae", "rmse", "audio_seconds": range = 0...Double.greatestFiniteMagnitude
            case "real_time_factor", "samples_per_second":
                range = 0...Double.greatestFiniteMagnitude
                positive = true
            case "samples":
                _ = try count(value, at: "\(path).samples", bad)
                range = nil
            default: range = nil
            }
            guard let range else { continue }
            guard case .number(let d) = value, d.isFinite else { throw bad("'\(path).\(key)' is not a number") }
            guard range.contains(d), !positive || d > 0 else {
                throw bad("'\(path).\(key)' is \(d); it must be \(positive ? "> 0" : range.upperBound == 1 ? "in 0…1" : "≥ 0")")
            }
        }
        return o
    }

    private static func count(_ v: RecordValue, at path: String, _ bad: (String) -> DVSError) throws -> Int {
        guard case .number(let d) = v, d.isFinite, d >= 0, d == d.rounded(), d < 1e15 else {
            throw bad("'\(path)' is not a whole number of samples ≥ 0")
        }
        return Int(d)
    }

    private static func jsonError(_ e: Error) -> String {
        if case DecodingError.dataCorrupted(let c) = e {
            return (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? c.debugDescription
        }
        return "\(e)"
    }
}

extension Repository {
    /// Checks metrics against the evaluation snapshot before anything is written: the revision
    /// resolves, and no slice claims more samples than the whole.
    /// - Returns: the samples evaluated (`metrics.sampleCount`, else the snapshot's sample count).
    /// - Throws: `DVSError.unknownRevision`; `.badInput` naming the slice that claims too many.
    public func checkExternalEval(revision: Revision, metrics: ExternalMetrics) throws -> Int {
        let commit = try self.commit(resolve(revision))
        let n = metrics.sampleCount ?? Int(commit.totals.sampleCount)
        for name in metrics.slices.keys.sorted() {
            if case .number(let k)? = metrics.slices[name]?["samples"], k > Double(n) {
                throw DVSError(
                    .badInput,
                    "\(metrics.source.isEmpty ? "metrics" : "metrics file '\(metrics.source)'"): slice '\(name)' has \(Int(k)) samples, more than the \(n) evaluated",
                    hint: "give the whole evaluation's sample count as 'samples' at the top of the metrics file")
            }
        }
        return n
    }

    /// Records metrics computed outside dvs as an eval record of `model` on `revision`'s
    /// snapshot, with the overlap with the training set computed from the lineage: evaluation
    /// samples (audio content hashes of the snapshot) the model was trained on — its training
    /// samples for a `dvs train` model, every sample of its training snapshot otherwise.
    /// - Returns: the record's id and the record.
    /// - Throws: `DVSError.unknownRevision` for the model or the revision; `.badInput` when the
    ///   training snapshot is not in this repository (overlap cannot be computed) or a slice
    ///   claims more samples than the whole; `.corrupt`; `.locked`; `.io`.
    public func recordExternalEval(model: ModelID, revision: Revision, metrics: ExternalMetrics) throws -> (id: EvalID, record: EvalRecord)
    {
        let record = try modelRecord(model)
        let evalCommit = try resolve(revision)
        let evaluated = try entries(ofManifest: commit(evalCommit).manifest).filter { $0.audio != nil }
        let trained: Set<ObjectID>
        if let baseline = baselineModel(record) {
            trained = Set(baseline.trainingBlobIDs)
        } else {
            let training: Commit
            do { training = try commit(record.snapshot) } catch {
                throw DVSError(
                    .badInput,
                    "model '\(record.name)' was trained on snapshot \(record.snapshot.short), which is not in this repository, so the overlap of the evaluation set with it cannot be computed",
                    next: .pullToFetch)
            }
            trained = Set(try entries(ofManifest: training.manifest).lazy.filter { $0.audio != nil }.map(\.blob))
        }
        let overlap = evaluated.reduce(0) { $0 + (trained.contains($1.blob) ? 1 : 0) }
        let n = try checkExternalEval(revision: revision, metrics: metrics)
        var values = metrics.metrics
        values["samples"] = .number(Double(n))
        var reg = EvalRegistration(model: model, revision: revision, metrics: values, sampleCount: n)
        reg.slices = metrics.slices
        reg.leakedSamples = min(overlap, n)
        return try recordEval(reg)
    }
}
