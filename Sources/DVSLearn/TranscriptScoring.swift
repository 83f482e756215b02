import DVSCore
import Foundation

/// One sample's transcript scored against its reference: word and character error counts
/// (``TranscriptErrorCounts``: Levenshtein alignment after the documented normalisation).
public struct TranscriptScore: Sendable, Equatable {
    /// The sample's path in the snapshot.
    public var key: String
    /// Word-level counts (WER = errors / reference words).
    public var words: TranscriptErrorCounts
    /// Character-level counts (CER = errors / reference characters).
    public var characters: TranscriptErrorCounts

    /// Scores `hypothesis` against `reference` for the sample `key`.
    public init(key: String, reference: String, hypothesis: String) {
        self.key = key
        words = .words(reference: reference, hypothesis: hypothesis)
        characters = .characters(reference: reference, hypothesis: hypothesis)
    }

    /// This sample's word error rate; nil for an empty reference with a non-empty hypothesis.
    public var wer: Double? { words.rate }
    /// This sample's character error rate; nil as for `wer`.
    public var cer: Double? { characters.rate }
}

/// Error rates over a set of samples: the corpus rates, total errors over total reference
/// tokens (so a long call weighs by its words, as sclite and `jiwer` report them), not a mean of
/// per-sample rates.
public struct TranscriptMetrics: Sendable, Equatable {
    /// Samples scored.
    public var sampleCount: Int
    /// Summed word counts.
    public var words: TranscriptErrorCounts
    /// Summed character counts.
    public var characters: TranscriptErrorCounts

    /// The corpus metrics of `scores`.
    public init(_ scores: some Sequence<TranscriptScore>) {
        var n = 0
        var w = TranscriptErrorCounts.zero
        var c = TranscriptErrorCounts.zero
        for s in scores {
            n += 1
            w = w + s.words
            c = c + s.characters
        }
        sampleCount = n
        words = w
        characters = c
    }

    /// Corpus word error rate; nil when no reference has words and some hypothesis has.
    public var wer: Double? { words.rate }
    /// Corpus character error rate; nil as for `wer`.
    public var cer: Double? { characters.rate }
}
