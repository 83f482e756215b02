import DVSCore
import Foundation
import Testing

@testable import DVSCommands

/// `dvs query --json` writes its rows directly; the text must stay what `JSONSerialization` wrote
/// with the output's options (scripts and golden files compare it), and values JSON cannot hold
/// must not fail the command.
@Suite struct QueryJSONTests {
    static let columns = ["path", "b", "dup", "x", "dup", "n", "t", "Total", "f10", "f2", "_a", "aB", "a_b", "B2", "é", "Z1", "z"]
    static let rows: [[LabelValue]] = [
        [
            .string("calls/a\"b\\c/é.wav"), .double(0.1 + 0.2), .int(1), .double(5), .int(2), .null, .bool(true), .int(1), .int(2), .int(3),
            .int(4), .int(5), .int(6), .int(7), .int(8), .int(9), .int(10),
        ],
        [
            .string("tab\there\nline\u{1}\u{8}\u{c}\u{7f}\u{2028}"), .double(1e-7), .int(-3), .double(-0.0), .int(4), .double(1e300),
            .bool(false), .null, .null, .null, .null, .null, .null, .null, .null, .null, .null,
        ],
        [
            .string(""), .double(123_456_789_012.5), .int(Int64.max), .double(1e20), .int(0), .double(3e-5), .string("/"), .int(0), .int(0),
            .int(0), .int(0), .int(0), .int(0), .int(0), .int(0), .int(0), .int(0),
        ],
    ]

    @Test func sameTextAsJSONSerializationWithTheOutputOptions() throws {
        let expected = try JSONSerialization.data(
            withJSONObject: Self.rows.map { row in
                Dictionary(zip(Self.columns, row.map { $0.jsonObject }), uniquingKeysWith: { a, _ in a })
            }, options: Output.jsonWritingOptions)
        #expect(
            String(decoding: Query.json(columns: Self.columns, rows: Self.rows), as: UTF8.self) == String(decoding: expected, as: UTF8.self)
        )
        let none = try JSONSerialization.data(withJSONObject: [Any](), options: Output.jsonWritingOptions)
        #expect(Query.json(columns: Self.columns, rows: []) == Array(none))
    }

    @Test func aSmallResultReadsAsExpected() {
        let text = String(
            decoding: Query.json(columns: ["n", "lang"], rows: [[.int(2), .string("de")], [.double(1.5), .null]]), as: UTF8.self)
        #expect(
            text == """
                [
                  {
                    "lang" : "de",
                    "n" : 2
                  },
                  {
                    "lang" : null,
                    "n" : 1.5
                  }
                ]
                """)
    }

    /// `SELECT 1e999` gave "Invalid number value (inf) in JSON write" and exit 1 with a raw
    /// Foundation error; JSON has no infinities or NaN (RFC 8259 §6), so they are null.
    @Test func infinitiesAndNaNAreNull() throws {
        let text = Query.json(columns: ["inf", "nan", "ninf"], rows: [[.double(.infinity), .double(.nan), .double(-.infinity)]])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text)) as? [[String: Any]])
        #expect(parsed.count == 1 && parsed[0].count == 3 && parsed[0].values.allSatisfy { $0 is NSNull })
    }
}
