import ArgumentParser
import DVS
import DVSCore
import DVSLearn
import Foundation

/// The `--asr` options of `dvs eval`: a transcript scored against a human transcript.
struct EvalASR: ParsableArguments {
    /// The help section `dvs eval --help` shows for them.
    static let help = """
        ASR checks:
          dvs eval --asr --reference FIELD [--hypothesis deepgram|FIELD] [--rev R] [--by FIELD] [--json]
          WER and CER of the Deepgram transcript (or of another label field) against the human transcript in label FIELD, per sample and per slice (corpus rates: all errors over all reference words or characters). Alignment: Levenshtein, substitutions + deletions + insertions over reference tokens. Both texts are normalised first: NFKC, lower case, punctuation and symbols (hyphens too) become spaces except apostrophes inside words and '.'/',' between digits; numbers stay as written ('5' and 'five' differ). Nothing is written. The same rates are the SQL functions wer(reference, hypothesis) and cer(...) of 'dvs query', so the worst calls are:
            dvs query "SELECT path, wer(transcription, transcript) AS wer, cer(transcription, transcript) AS cer FROM sample WHERE transcript IS NOT NULL ORDER BY wer DESC LIMIT 10"
        """

    @Flag(help: "Score a transcript against a human transcript (WER, CER) instead of a model.") var asr = false
    @Option(help: "With --asr: the label field with the human (reference) transcript.") var reference: String?
    @Option(help: "With --asr: 'deepgram' (the Deepgram transcript) or a label field to score.") var hypothesis = "deepgram"

    /// Runs the check and prints it.
    func run(_ repo: Repository, revision: String, by: String?, json: Bool) throws {
        guard let reference, !reference.isEmpty else {
            throw DVSError(
                .usage, "--asr needs --reference FIELD: the label field with the human transcript",
                hint: "dvs query \"PRAGMA table_info(sample)\" lists the fields")
        }
        var options = TranscriptEvalOptions(revision: Revision(revision), reference: reference)
        options.hypothesis = hypothesis == "deepgram" ? .deepgram : .field(hypothesis)
        options.sliceBy = by
        let r = try repo.evaluateTranscripts(options)
        if r.missingReferenceCount > 0 {
            Output.err(
                "warning: \(Output.skippedWithoutLabel(r.missingReferenceCount, of: r.snapshotSampleCount, label: reference))")
        }
        if r.missingHypothesisCount > 0 {
            let what = hypothesis == "deepgram" ? "Deepgram transcript" : "'\(hypothesis)' label"
            let n = r.missingHypothesisCount
            Output.err(
                "warning: \(n) sample\(n == 1 ? "" : "s") with a '\(reference)' label \(n == 1 ? "has" : "have") no \(what) and \(n == 1 ? "was" : "were") skipped"
            )
        }
        if json {
            try Output.jsonObject(
                [
                    "revision": revision, "commit": r.commit.hex, "reference": reference, "hypothesis": hypothesis,
                    "samples": [
                        "snapshot": r.snapshotSampleCount, "missing_reference": r.missingReferenceCount,
                        "missing_hypothesis": r.missingHypothesisCount, "evaluated": r.scores.count,
                    ],
                    "metrics": Self.json(r.overall),
                    "slices": Dictionary(uniqueKeysWithValues: r.slices.map { ($0.name, Self.json($0.metrics)) }),
                    "per_sample": r.scores.map { s -> [String: Any] in
                        [
                            "path": s.key, "wer": s.wer ?? NSNull(), "cer": s.cer ?? NSNull(),
                            "words": Self.json(s.words), "characters": Self.json(s.characters),
                        ]
                    },
                ] as [String: Any])
            return
        }
        Output.out(
            "ASR check on \(revision) (\(r.commit.short)): '\(hypothesis)' against '\(reference)', \(r.scores.count) sample\(r.scores.count == 1 ? "" : "s")"
        )
        let names = ["all"] + r.slices.map(\.name)
        let w = names.map(\.count).max()! + 1
        func row(_ n: String, _ m: TranscriptMetrics) {
            Output.out("  " + (n + ":").padding(toLength: w + 1, withPad: " ", startingAt: 0) + Self.summary(m))
        }
        row("all", r.overall)
        for s in r.slices { row(s.name, s.metrics) }
        let worst = r.scores.filter { ($0.wer ?? .infinity) > 0 }.sorted { a, b in
            let (x, y) = (a.wer ?? .infinity, b.wer ?? .infinity)
            return x != y ? x > y : a.key < b.key
        }
        if worst.isEmpty {
            Output.out("  no sample has a word error")
        } else {
            Output.out("  highest WER\(worst.count > 10 ? " (10 of \(worst.count) with errors)" : ""):")
            for s in worst.prefix(10) {
                Output.out(
                    "    \(Self.rate(s.wer))  \(s.key)  (\(s.words.substitutions) S, \(s.words.deletions) D, \(s.words.insertions) I of \(s.words.referenceCount) words)"
                )
            }
        }
    }

    /// A rate with three decimals, or `n/a` when undefined.
    static func rate(_ r: Double?) -> String { r.map { String(format: "%.3f", $0) } ?? "n/a  " }

    /// `WER 0.125 (3 S, 1 D, 0 I / 32 words), CER 0.050 (…) (4 samples)`.
    static func summary(_ m: TranscriptMetrics) -> String {
        "WER \(rate(m.wer)) (\(m.words.substitutions) S, \(m.words.deletions) D, \(m.words.insertions) I / \(m.words.referenceCount) words), "
            + "CER \(rate(m.cer)) (\(m.characters.errors) edits / \(m.characters.referenceCount) chars) (\(m.sampleCount) sample\(m.sampleCount == 1 ? "" : "s"))"
    }

    static func json(_ m: TranscriptMetrics) -> [String: Any] {
        [
            "samples": m.sampleCount, "wer": m.wer ?? NSNull(), "cer": m.cer ?? NSNull(), "words": json(m.words),
            "characters": json(m.characters),
        ]
    }

    static func json(_ c: TranscriptErrorCounts) -> [String: Any] {
        [
            "reference": c.referenceCount, "hypothesis": c.hypothesisCount, "substitutions": c.substitutions,
            "deletions": c.deletions, "insertions": c.insertions,
        ]
    }
}
