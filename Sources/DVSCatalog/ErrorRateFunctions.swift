import DVSCore
import Foundation
import GRDB

/// The SQL functions `wer(reference, hypothesis)` and `cer(reference, hypothesis)` of `dvs query`,
/// cohort and audit predicates: the word and character error rate of one text against another
/// (``TranscriptErrorCounts``, with its normalisation), as a REAL. NULL when either argument is
/// NULL, or when the reference has no words and the hypothesis has some (the rate is undefined).
/// Arguments that are not text are read as their text.
enum ErrorRateFunctions {
    /// The functions, deterministic so SQLite may use them anywhere (ORDER BY, indexes of views).
    static let all: [DatabaseFunction] = [
        DatabaseFunction("wer", argumentCount: 2, pure: true) { rate($0, TranscriptErrorCounts.words) },
        DatabaseFunction("cer", argumentCount: 2, pure: true) { rate($0, TranscriptErrorCounts.characters) },
    ]

    /// Adds the functions to a connection.
    static func add(to db: Database) {
        for f in all { db.add(function: f) }
    }

    private static func rate(
        _ values: [DatabaseValue], _ count: (_ reference: String, _ hypothesis: String) -> TranscriptErrorCounts
    ) -> Double? {
        guard values.count == 2, let reference = text(values[0]), let hypothesis = text(values[1]) else { return nil }
        return count(reference, hypothesis).rate
    }

    private static func text(_ v: DatabaseValue) -> String? {
        switch v.storage {
        case .null: return nil
        case .string(let s): return s
        case .int64(let i): return String(i)
        case .double(let d): return String(d)
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        }
    }
}
