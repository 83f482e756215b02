import DVSLabels
import Foundation
import Testing

@Suite struct CSVReaderTests {
    func fixture(_ name: String) throws -> [UInt8] { try FixtureTree.read(.init(name)) }

    @Test func metadataCSVRecordsCarryPhysicalLines() throws {
        let (records, problems) = CSVReader().read(try fixture("metadata.csv"))
        #expect(problems.isEmpty)
        #expect(records.map(\.line) == [1, 2, 3, 4, 6, 7, 8, 9, 10])
        #expect(records[2].fields[1] == "He wrote \"urgent\" on the box")
        #expect(records[3].fields[1] == "first line\nsecond line")
        #expect(records[3].fields[3] == "billing,refund")
        #expect(records[1].fields[2] == "021")
        #expect(records[8].fields[1] == "")
    }

    @Test func byteRangesCoverEachRecordWithoutItsTerminator() throws {
        let bytes = Array("\u{FEFF}a,b\r\n\"x\ny\",2\n3,4".utf8)
        let (records, problems) = CSVReader().read(bytes)
        #expect(problems.isEmpty)
        #expect(records.map(\.fields) == [["a", "b"], ["x\ny", "2"], ["3", "4"]])
        #expect(records.map(\.line) == [1, 2, 4])
        #expect(records.map { String(decoding: bytes[$0.byteRange], as: UTF8.self) } == ["a,b", "\"x\ny\",2", "3,4"])
    }

    @Test func commonVoiceTSVUnderQuoteNone() throws {
        let (records, problems) = CSVReader(delimiter: 0x09, quoting: .none).read(try fixture("validated.tsv"))
        #expect(problems == [CSVProblem(code: "field-count", line: 9, message: "expected 13 fields, found 14", tooMany: true)])
        #expect(records.count + problems.count == 11)
        #expect(records[2].fields[3] == "\"Stop,\" he wrote on the box.")
        #expect(records.map(\.line).suffix(2) == [10, 11])
        #expect(records.last?.fields[3] == "The final row, swallowed by a quote-aware reader.")
        #expect(records[8].fields[3] == "\"An opening quote that never closes")
    }

    @Test func unbalancedQuoteStopsReadingAtTheOpeningLine() {
        let (records, problems) = CSVReader().read(Array("a,b\n1,2\n\"open,3\n4,5\n".utf8))
        #expect(records.count == 2)
        #expect(problems.map(\.code) == ["unbalanced-quote"] && problems[0].line == 3)
    }

    @Test func invalidUTF8IsReportedWithItsLine() {
        let (records, problems) = CSVReader().read([0x61, 0x0A, 0x62, 0x0A, 0xFF, 0xFE, 0x0A, 0x63, 0x0A])
        #expect(records.map(\.fields) == [["a"], ["b"], ["c"]])
        #expect(problems.map(\.code) == ["invalid-utf8"] && problems[0].line == 3)
    }

    @Test func aHundredThousandRowsParse() {
        var text = "path,speaker,label,score,duration\n"
        for i in 0..<100_000 { text += "clips/\(i).wav,s\(i % 97),l\(i % 5),0.\(i % 10),1.0\n" }
        let (records, problems) = CSVReader().read(Array(text.utf8))
        #expect(problems.isEmpty && records.count == 100_001)
        #expect(records.last?.fields == ["clips/99999.wav", "s89", "l4", "0.9", "1.0"])
    }
}
