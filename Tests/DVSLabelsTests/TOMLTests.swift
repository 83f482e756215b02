import DVSLabels
import Foundation
import Testing

/// dvs's TOML 1.0 parser: what `dvs.toml` may hold parses as TOML says, and what TOML forbids is
/// an error with its line.
@Suite struct TOMLTests {
    func parse(_ text: String) throws(TOMLError) -> TOMLTable { try TOMLDocument.parse(Array(text.utf8)) }

    @Test func valuesOfEveryKind() throws {
        let t = try parse(
            """
            # comment
            bare-key_1 = "basic \\"quoted\\" \\u00e9 \\t"
            'literal key' = 'C:\\path'
            "quoted.key" = 1
            dotted.inner.leaf = true
            ints = [0, +7, -17, 1_000, 0xdead_BEEF, 0o755, 0b1101]
            floats = [0.5, -1.5e3, 6.626E-34, 1e2, inf, -inf]
            multi = \"\"\"
            first \\
              second\"\"\"
            raw = '''
            keep \\n "this"'''
            when = 1979-05-27T07:32:00-08:00
            day = 1979-05-27
            spaced = 1979-05-27 07:32:00.5
            inline = { a = 1, b.c = "x" }
            nested = [[1, 2], ["a"], [], [{ x = 1 }]]
            trailing = [
              1,  # a comment inside
              2,
            ]
            [table]
            key = "value"
            [[array]]
            n = 1
            [[array]]
            n = 2
            [array.sub]
            x = 1
            """)
        #expect(t["bare-key_1"]?.string == "basic \"quoted\" é \t")
        #expect(t["literal key"]?.string == "C:\\path")
        #expect(t["quoted.key"]?.int == 1)
        #expect(t["dotted"]?.table?["inner"]?.table?["leaf"]?.bool == true)
        #expect(t["ints"]?.array?.compactMap(\.int) == [0, 7, -17, 1000, 0xDEAD_BEEF, 0o755, 0b1101])
        #expect(t["floats"]?.array?.compactMap(\.double) == [0.5, -1500, 6.626e-34, 100, .infinity, -.infinity])
        #expect(t["multi"]?.string == "first second")
        #expect(t["raw"]?.string == "keep \\n \"this\"")
        #expect(t["when"] == .dateTime("1979-05-27T07:32:00-08:00"))
        #expect(t["day"] == .dateTime("1979-05-27"))
        #expect(t["spaced"] == .dateTime("1979-05-27 07:32:00.5"))
        #expect(t["inline"]?.table?["b"]?.table?["c"]?.string == "x")
        #expect(t["nested"]?.array?.count == 4)
        #expect(t["trailing"]?.array?.compactMap(\.int) == [1, 2])
        #expect(t["table"]?.table?["key"]?.string == "value")
        let array = try #require(t["array"]?.array)
        #expect(array.compactMap { $0.table?["n"]?.int } == [1, 2])
        #expect(array[1].table?["sub"]?.table?["x"]?.int == 1)
        #expect(try parse("a = nan")["a"]?.double?.isNaN == true)
        #expect(try parse("") == TOMLTable())
        #expect(try parse("\u{FEFF}a = 1\r\nb = 2\r\n")["b"]?.int == 2)
    }

    @Test func whatTOMLForbidsIsAnErrorWithItsLine() {
        let cases: [(String, Int)] = [
            ("a = 1\na = 2", 2),  // a key twice
            ("[t]\n[t]", 2),  // a table twice
            ("a = 1\n[a]", 2),  // a value, then a table of the same name
            ("a = [1]\n[[a]]", 2),  // a static array, then an array of tables
            ("[a]\nb.c = 1\n[a.b]", 3),  // a table made by dotted keys, then by a header
            ("x = { a = 1 }\n[x.b]", 2),  // inline tables are closed
            ("a = \"unterminated\n", 1),
            ("a = 'x\ny'", 1),
            ("a = 01", 1),  // leading zero
            ("a = 1__0", 1),
            ("a = _1", 1),
            ("a = 1.", 1),
            ("a = .5", 1),
            ("a = 0x", 1),
            ("a = 99999999999999999999", 1),  // out of Int64's range
            ("a = \"\\q\"", 1),  // unknown escape
            ("a = \"\\uD800\"", 1),  // a surrogate is no scalar
            ("a = 1 b = 2", 1),
            ("a = bare", 1),
            ("a =", 1),
            ("= 1", 1),
            ("[a", 1),
            ("[[a]", 1),
            ("[ [a]]", 1),
            ("a = { b = 1, }", 1),
            ("a = [1 2]", 1),
            ("a = 1979-13-01", 1),
            ("a = \"\u{01}\"", 1),  // a control character in a string
            ("# comment \u{7F}", 1),
            ("a = 1\r", 1),  // a lone carriage return
            ("\n\na = \"x\"\0", 3),
        ]
        for (text, line) in cases {
            do {
                _ = try parse(text)
                Issue.record("accepted: \(text.debugDescription)")
            } catch {
                #expect(error.line == line, "\(text.debugDescription): \(error)")
            }
        }
        // Invalid UTF-8, with its line.
        let e = #expect(throws: TOMLError.self) { try TOMLDocument.parse(Array("a = 1\nb = \"".utf8) + [0xC3, 0x28, 0x22]) }
        #expect(e?.line == 2 && e?.message == "the file is not valid UTF-8")
    }

    /// A key of 50,000 dotted parts (100 KB) would nest 50,000 tables, walked recursively: an
    /// error with its line, not a stack overflow (found in review). 64 parts still parse.
    @Test func aKeyOfThousandsOfPartsIsAnError() throws {
        let deep = Array(repeating: "a", count: 50_000).joined(separator: ".")
        for text in ["x = 1\n\(deep) = 1", "x = 1\n[\(deep)]", "x = 1\ny = { \(deep) = 1 }"] {
            let e = #expect(throws: TOMLError.self) { try parse(text) }
            #expect(e?.line == 2 && e?.message == "a key has more than 64 dotted parts", "\(text.prefix(12))")
        }
        let ok = Array(repeating: "a", count: 64).joined(separator: ".")
        #expect(try parse("\(ok) = 1") != TOMLTable())
    }
}
