import Foundation

/// Word and character error rates of a hypothesis transcript against a reference transcript.
///
/// Definition (the usual one, as in NIST's sclite and the `jiwer` package): align the two token
/// sequences with the fewest edits — the Levenshtein distance (V. I. Levenshtein, "Binary codes
/// capable of correcting deletions, insertions and reversals", Soviet Physics Doklady 10(8),
/// 1966), each substitution, deletion and insertion costing 1 — and count them:
/// `error rate = (S + D + I) / N`, where `N` is the number of reference tokens. It is 0 for a
/// perfect hypothesis and may exceed 1 (many insertions). WER uses the words of the normalised
/// texts; CER the characters (Swift `Character`s, i.e. extended grapheme clusters) of the
/// normalised words joined by single spaces, spaces included.
///
/// Normalisation (``normalizedWords(_:)``), applied to both texts:
/// 1. Unicode NFKC, then lower case (`String.lowercased()`, locale-independent);
/// 2. the typographic apostrophes `’` and `‘` become `'`;
/// 3. a `.` or `,` with a digit on both sides is kept (`3.5`, `1,000`); every other character
///    that is Unicode punctuation or a symbol (general categories P* and S*, hyphens included)
///    except `'` becomes a space;
/// 4. the text is split at white space, and `'` at the start or end of a word is dropped
///    (`'hello'` → `hello`, `don't` stays).
/// Numbers stay as written: `5` and `five` are different words, and `1,000` and `1000` too.
public struct TranscriptErrorCounts: Sendable, Equatable, Hashable {
    /// Reference tokens (N).
    public var referenceCount: Int
    /// Hypothesis tokens.
    public var hypothesisCount: Int
    /// Substitutions (S).
    public var substitutions: Int
    /// Deletions (D): reference tokens missing from the hypothesis.
    public var deletions: Int
    /// Insertions (I): hypothesis tokens not in the reference.
    public var insertions: Int

    /// Creates counts.
    public init(referenceCount: Int, hypothesisCount: Int, substitutions: Int, deletions: Int, insertions: Int) {
        self.referenceCount = referenceCount
        self.hypothesisCount = hypothesisCount
        self.substitutions = substitutions
        self.deletions = deletions
        self.insertions = insertions
    }

    /// S + D + I.
    public var errors: Int { substitutions + deletions + insertions }

    /// (S + D + I) / N; 0 when both sides are empty; nil when the reference is empty and the
    /// hypothesis is not (the rate is undefined; `insertions` still counts the words).
    public var rate: Double? {
        if referenceCount == 0 { return hypothesisCount == 0 ? 0 : nil }
        return Double(errors) / Double(referenceCount)
    }

    /// The sum of two counts (a corpus rate is the ratio of sums, not a mean of rates).
    public static func + (a: Self, b: Self) -> Self {
        Self(
            referenceCount: a.referenceCount + b.referenceCount, hypothesisCount: a.hypothesisCount + b.hypothesisCount,
            substitutions: a.substitutions + b.substitutions, deletions: a.deletions + b.deletions,
            insertions: a.insertions + b.insertions)
    }

    /// No tokens at all.
    public static let zero = Self(referenceCount: 0, hypothesisCount: 0, substitutions: 0, deletions: 0, insertions: 0)

    /// Aligns `hypothesis` to `reference` with the fewest edits and counts them. Among
    /// alignments of equal cost, the one with fewer deletions plus insertions (more
    /// substitutions) wins, then the one with fewer insertions (the split into S, D and I can
    /// differ between tools on such ties; the total cannot).
    /// - Complexity: O(n·m) time, O(m) memory, for n reference and m hypothesis tokens.
    public static func align<T: Hashable>(reference: [T], hypothesis: [T]) -> Self {
        // Tokens as small integers: cheap comparisons in the inner loop.
        var ids: [T: Int] = [:]
        let r = reference.map { t in
            ids[t]
                ?? {
                    ids[t] = ids.count
                    return ids.count - 1
                }()
        }
        let h = hypothesis.map { t in
            ids[t]
                ?? {
                    ids[t] = ids.count
                    return ids.count - 1
                }()
        }
        // Each cell: (cost, substitutions, deletions, insertions) of the best alignment of the
        // prefixes. Ties break by fewer (deletions + insertions), then by fewer insertions.
        typealias Cell = (cost: Int, s: Int, d: Int, i: Int)
        func better(_ a: Cell, _ b: Cell) -> Bool {
            if a.cost != b.cost { return a.cost < b.cost }
            if a.d + a.i != b.d + b.i { return a.d + a.i < b.d + b.i }
            return a.i < b.i
        }
        var previous: [Cell] = (0...h.count).map { ($0, 0, 0, $0) }
        var current = previous
        for x in 0..<r.count {
            current[0] = (x + 1, 0, x + 1, 0)
            for y in 0..<h.count {
                let diagonal = previous[y]
                var best: Cell =
                    r[x] == h[y] ? diagonal : (diagonal.cost + 1, diagonal.s + 1, diagonal.d, diagonal.i)
                let up = previous[y + 1]
                let deletion: Cell = (up.cost + 1, up.s, up.d + 1, up.i)
                if better(deletion, best) { best = deletion }
                let left = current[y]
                let insertion: Cell = (left.cost + 1, left.s, left.d, left.i + 1)
                if better(insertion, best) { best = insertion }
                current[y + 1] = best
            }
            swap(&previous, &current)
        }
        let end = previous[h.count]
        return Self(
            referenceCount: r.count, hypothesisCount: h.count, substitutions: end.s, deletions: end.d, insertions: end.i)
    }

    /// Word error counts of `hypothesis` against `reference` after ``normalizedWords(_:)``.
    public static func words(reference: String, hypothesis: String) -> Self {
        align(reference: normalizedWords(reference), hypothesis: normalizedWords(hypothesis))
    }

    /// Character error counts of `hypothesis` against `reference`: over the characters of the
    /// normalised words joined by single spaces.
    public static func characters(reference: String, hypothesis: String) -> Self {
        align(
            reference: Array(normalizedWords(reference).joined(separator: " ")),
            hypothesis: Array(normalizedWords(hypothesis).joined(separator: " ")))
    }

    /// The words of `text` after the normalisation in the type's description.
    public static func normalizedWords(_ text: String) -> [String] {
        let scalars = Array(text.precomposedStringWithCompatibilityMapping.lowercased().unicodeScalars)
        var cleaned = String.UnicodeScalarView()
        for (k, c) in scalars.enumerated() {
            var c = c
            if c == "\u{2019}" || c == "\u{2018}" { c = "'" }
            if c == "'" {
                cleaned.append(c)
                continue
            }
            if c == "." || c == "," {
                let before = k > 0 && CharacterSet.decimalDigits.contains(scalars[k - 1])
                let after = k + 1 < scalars.count && CharacterSet.decimalDigits.contains(scalars[k + 1])
                if before && after {
                    cleaned.append(c)
                    continue
                }
            }
            if CharacterSet.punctuationCharacters.contains(c) || CharacterSet.symbols.contains(c) {
                cleaned.append(" ")
            } else {
                cleaned.append(c)
            }
        }
        return String(cleaned).split(whereSeparator: { $0.isWhitespace }).compactMap { w -> String? in
            var w = Substring(w)
            while w.first == "'" { w = w.dropFirst() }
            while w.last == "'" { w = w.dropLast() }
            return w.isEmpty ? nil : String(w)
        }
    }
}
