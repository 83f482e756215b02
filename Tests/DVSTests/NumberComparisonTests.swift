import Testing

@testable import DVS

/// `Repository.numberComparisons(in:)`: which columns a statement compares with a number literal.
@Suite struct NumberComparisonTests {
    @Test func findsEachComparedColumnOnceAndSkipsStringsCommentsAndCasts() {
        let found = Repository.numberComparisons(
            in: """
                SELECT path FROM sample WHERE score>=.5 AND 0.2 < "snr" AND sample.age BETWEEN 18 AND 65 AND score < 1e3
                AND label = 'conf > 0.9' AND CAST(wpm AS REAL) > 2 AND duration_s > -1 AND `pitch` = 7 AND [rate] != 3
                AND speaker IN (1, 2) -- loud > 3
                /* quiet < 2 */ AND x2 = y
                """)
        #expect(found.map(\.column) == ["score", "duration_s", "pitch", "rate", "snr", "age", "speaker"])
        #expect(
            found.map(\.text) == [
                "score>=.5", "duration_s > -1", "`pitch` = 7", "[rate] != 3", #"0.2 < "snr""#, "sample.age BETWEEN 18 AND 65",
                "speaker IN (1, …)",
            ])
        #expect(
            Repository.numberComparisons(in: "SELECT * FROM sample WHERE lang = 'es' AND channels = 2 LIMIT 5").map(\.column) == [
                "channels"
            ])
        #expect(Repository.numberComparisons(in: "SELECT * FROM sample WHERE lang = 'it''s < 3'").isEmpty)
    }

    /// What compares numbers, or another table's column, is left out: arithmetic on either side,
    /// a function, another qualifier, a keyword.
    @Test func leavesOutArithmeticFunctionsOtherTablesAndKeywords() {
        for sql in [
            "1.0 * score >= 0.5", "0 + score >= 0.5", "-score < -0.5", "0.5 < score * 1.0", "score >= 0.5 * 2", "0 < length(score)",
            "EXISTS (SELECT 1 FROM word w WHERE w.path = sample.path AND w.speaker = 0)",
            "CASE WHEN tier = 'gold' THEN 1 ELSE 0 END = 1", "score || '' > 1",
        ] {
            #expect(Repository.numberComparisons(in: sql).isEmpty, "\(sql)")
        }
    }

    /// Ranges stay right past characters of two UTF-16 units, and a comment ends at CRLF.
    @Test func keepsTheTextRightAfterEmojiAndCRLF() {
        let found = Repository.numberComparisons(in: "label = '😀😀' OR score > 0.5 -- note\r\nAND rank < 3")
        #expect(found.map(\.column) == ["score", "rank"])
        #expect(found.map(\.text) == ["score > 0.5", "rank < 3"])
    }
}
