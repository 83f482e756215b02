import Testing

@testable import DVS

/// `Repository.numberComparisons(in:)`: which columns a statement compares with a number literal.
@Suite struct NumberComparisonTests {
    @Test func findsEachComparedColumnOnceAndSkipsStringsAndCasts() {
        let found = Repository.numberComparisons(
            in:
                #"SELECT path FROM sample WHERE score>=.5 AND 0.2 < "snr" AND sample.age BETWEEN 18 AND 65 AND score < 1e3 AND label = 'conf > 0.9' AND CAST(wpm AS REAL) > 2 AND duration_s > -1"#
        )
        #expect(found.map(\.column) == ["score", "duration_s", "snr", "age"])
        #expect(found.map(\.text) == ["score>=.5", "duration_s > -1", #"0.2 < "snr""#, "sample.age BETWEEN 18"])
        #expect(Repository.numberComparisons(in: "SELECT * FROM sample WHERE lang = 'es' AND channels = 2").isEmpty)
    }
}
