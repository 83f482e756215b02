import DVSCore
import DVSLearn
import Testing

/// WER and CER against values computed by hand (issue 18).
@Suite struct TranscriptErrorRateTests {
    func counts(_ ref: String, _ hyp: String) -> (s: Int, d: Int, i: Int, n: Int, wer: Double?) {
        let c = TranscriptErrorCounts.words(reference: ref, hypothesis: hyp)
        return (c.substitutions, c.deletions, c.insertions, c.referenceCount, c.rate)
    }

    @Test func identicalTextsHaveNoErrors() {
        let c = counts("the cat sat on the mat", "the cat sat on the mat")
        #expect(c.s == 0 && c.d == 0 && c.i == 0 && c.n == 6 && c.wer == 0)
    }

    @Test func aDroppedWordIsOneDeletion() {
        // "the" before "mat" is missing: 1 / 6.
        let c = counts("the cat sat on the mat", "the cat sat on mat")
        #expect(c.s == 0 && c.d == 1 && c.i == 0 && c.n == 6)
        #expect(c.wer == 1.0 / 6.0)
    }

    @Test func insertionsCanTakeTheRateToOneAndBeyond() {
        #expect(counts("hello world", "hello there big world") == (0, 0, 2, 2, 1.0))
        #expect(counts("no", "oh no no no").wer == 3.0)
    }

    @Test func aMisheardWordIsOneSubstitution() {
        #expect(counts("I was billed twice", "I was build twice") == (1, 0, 0, 4, 0.25))
    }

    @Test func mixedEditsPreferSubstitutionsOnTies() {
        // a b c d → x a b d e: cost 3 either as I(x) D(c) I(e) or as I(x) S(c→d) S(d→e);
        // the tie goes to fewer deletions plus insertions.
        #expect(counts("a b c d", "x a b d e") == (2, 0, 1, 4, 0.75))
        // Deletions and insertions both: "please cancel my order today" → "cancel the order".
        // please (D), cancel, my→the (S), order, today (D): 3 / 5.
        #expect(counts("please cancel my order today", "cancel the order") == (1, 2, 0, 5, 0.6))
    }

    @Test func normalisationIsCasePunctuationAndNumbersAsWritten() {
        #expect(
            TranscriptErrorCounts.normalizedWords("Hello, World! It’s 3.5 o'clock — “well-known” ‘tis 1,000.")
                == ["hello", "world", "it's", "3.5", "o'clock", "well", "known", "tis", "1,000"])
        #expect(counts("Hello, World!", "hello world").wer == 0)
        #expect(counts("It's 3.5 o'clock.", "its 3.5 o'clock").wer == 1.0 / 3.0)
        // Numbers stay as written: "5" is not "five", "1,000" is not "1000".
        #expect(counts("five items", "5 items") == (1, 0, 0, 2, 0.5))
        #expect(counts("1,000 dollars", "1000 dollars").s == 1)
        // Full-width letters fold to ASCII (NFKC).
        #expect(counts("ＡＢＣ", "abc").wer == 0)
    }

    @Test func characterRateCountsSpacesBetweenWords() {
        let c = TranscriptErrorCounts.characters(reference: "abc", hypothesis: "ABD")
        #expect(c.referenceCount == 3 && c.substitutions == 1 && c.rate == 1.0 / 3.0)
        // "hi there" (8 characters) → "hi": 6 deletions.
        let d = TranscriptErrorCounts.characters(reference: "Hi there!", hypothesis: "hi")
        #expect(d.referenceCount == 8 && d.deletions == 6 && d.rate == 0.75)
        let i = TranscriptErrorCounts.characters(reference: "cat", hypothesis: "cart")
        #expect(i.insertions == 1 && i.rate == 1.0 / 3.0)
    }

    @Test func emptyTexts() {
        #expect(counts("", "") == (0, 0, 0, 0, 0))
        #expect(counts("", "uh huh").wer == nil)
        #expect(counts("", "uh huh").i == 2)
        #expect(counts("yes", "") == (0, 1, 0, 1, 1.0))
        #expect(counts("...", "!").wer == 0)
    }

    @Test func corpusRateIsTotalErrorsOverTotalReferenceWords() {
        let scores = [
            TranscriptScore(key: "a.wav", reference: "the cat sat on the mat", hypothesis: "the cat sat on mat"),
            TranscriptScore(key: "b.wav", reference: "hello world", hypothesis: "hello there big world"),
        ]
        let m = TranscriptMetrics(scores)
        #expect(m.sampleCount == 2)
        #expect(m.words.errors == 3 && m.words.referenceCount == 8)
        #expect(m.wer == 3.0 / 8.0)  // not the mean of 1/6 and 1
        #expect(scores[1].wer == 1.0)
    }
}
