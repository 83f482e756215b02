import DVSCore
import DVSLearn
import Foundation

/// What `dvs eval --asr` asks for.
public struct TranscriptEvalOptions: Sendable {
    /// Where the hypothesis transcript comes from.
    public enum Hypothesis: Sendable, Equatable {
        /// The Deepgram transcript summary (`TranscriptSummary.text`, channels joined by a newline).
        case deepgram
        /// A label field holding text.
        case field(String)
    }
    /// The evaluation revision.
    public var revision: Revision
    /// The label field with the human (reference) transcript.
    public var reference: String
    /// The transcript scored against it.
    public var hypothesis: Hypothesis = .deepgram
    /// Slice metrics by this label field's value.
    public var sliceBy: String?

    /// Creates options scoring the Deepgram transcript against `reference` on `revision`.
    public init(revision: Revision, reference: String) {
        self.revision = revision
        self.reference = reference
    }
}

/// What `dvs eval --asr` found.
public struct TranscriptEvalReport: Sendable {
    /// The commit evaluated.
    public var commit: CommitID
    /// Samples in the snapshot.
    public var snapshotSampleCount: Int
    /// Samples without a (non-null) reference.
    public var missingReferenceCount: Int
    /// Samples with a reference but no hypothesis (no transcript, or a null field).
    public var missingHypothesisCount: Int
    /// Per scored sample, in path order.
    public var scores: [TranscriptScore]
    /// Corpus metrics over every scored sample.
    public var overall: TranscriptMetrics
    /// Per slice (`lang=de`, `(none)` for samples without the field), sorted by slice name.
    public var slices: [(name: String, metrics: TranscriptMetrics)]
}

extension Repository {
    /// Scores a transcript against a human reference on every sample of a snapshot that has
    /// both: per sample and corpus word and character error rates (``TranscriptErrorCounts``),
    /// overall and per slice. Reads only the manifest (no audio). Writes nothing.
    /// - Throws: `DVSError.unknownRevision`; `.badInput` when no sample has both texts;
    ///   `.corrupt` when the manifest cannot be read.
    /// - Complexity: O(n·m) per sample for n reference and m hypothesis tokens.
    public func evaluateTranscripts(_ options: TranscriptEvalOptions) throws -> TranscriptEvalReport {
        let commitID = try resolve(options.revision)
        let samples = try entries(ofManifest: commit(commitID).manifest).filter { $0.audio != nil }
        var missingReference = 0
        var missingHypothesis = 0
        var scores: [TranscriptScore] = []
        var sliceMembers: [String: [Int]] = [:]
        for e in samples {
            guard let r = e.annotations?[label: options.reference], r != .null else {
                missingReference += 1
                continue
            }
            let hypothesis: String?
            switch options.hypothesis {
            case .deepgram: hypothesis = e.annotations?.transcript?.text
            case .field(let f): hypothesis = e.annotations?[label: f].flatMap { $0 == .null ? nil : $0.text }
            }
            guard let hypothesis else {
                missingHypothesis += 1
                continue
            }
            if let by = options.sliceBy {
                let v = e.annotations?[label: by]
                sliceMembers["\(by)=\(v.map { $0 == .null ? "(none)" : $0.text } ?? "(none)")", default: []].append(scores.count)
            }
            scores.append(TranscriptScore(key: e.path.string, reference: r.text, hypothesis: hypothesis))
        }
        guard !scores.isEmpty else {
            let what =
                switch options.hypothesis {
                case .deepgram: "a Deepgram transcript"
                case .field(let f): "a '\(f)' label"
                }
            throw DVSError(
                .badInput,
                "no sample of \(options.revision) (\(commitID.short)) has both a '\(options.reference)' label and \(what): \(samples.count) samples, \(missingReference) without the reference, \(missingHypothesis) without the transcript",
                hint: "name the label field that holds the human transcript, on a revision whose samples have it")
        }
        let slices = sliceMembers.keys.sorted().map { name in (name, TranscriptMetrics(sliceMembers[name]!.map { scores[$0] })) }
        return TranscriptEvalReport(
            commit: commitID, snapshotSampleCount: samples.count, missingReferenceCount: missingReference,
            missingHypothesisCount: missingHypothesis, scores: scores, overall: TranscriptMetrics(scores), slices: slices)
    }
}
