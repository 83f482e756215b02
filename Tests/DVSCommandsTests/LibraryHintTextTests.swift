import Foundation
import Testing

/// Keeps "the library never names a dvs command" true: the modules below DVSCommands report a
/// typed next step (`DVSError.NextStep`, a `LearnError.Reason`) and the command layer words it
/// (`Hints`); a `hint:` string literal there may only say things that name no command.
@Suite struct LibraryHintTextTests {
    /// The modules below the command layer (the command layer, the executables and the test
    /// support are not among them).
    static let libraryModules = ["DVS", "DVSAudio", "DVSCatalog", "DVSCore", "DVSLabels", "DVSLearn", "DVSRemote", "DVSStorage"]

    @Test func noLibraryHintNamesADVSCommand() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        var offenders: [String] = []
        var scanned = 0
        for module in Self.libraryModules {
            let dir = sources.appendingPathComponent(module)
            guard let walk = FileManager.default.enumerator(atPath: dir.path) else { continue }
            for case let file as String in walk where file.hasSuffix(".swift") {
                let text = try String(contentsOfFile: dir.path + "/" + file, encoding: .utf8)
                scanned += 1
                for literal in Self.hintLiterals(in: text) where literal.contains("dvs ") {
                    offenders.append("\(module)/\(file): \(literal)")
                }
            }
        }
        #expect(scanned > 50, "found too few sources under \(sources.path)")
        #expect(offenders.isEmpty, "hint text naming a dvs command below DVSCommands:\n\(offenders.joined(separator: "\n"))")
    }

    @Test func theScannerFindsLiteralsOfOneArgumentOnly() {
        let text = #"""
            throw E(.x, "m", hint: cond ? "run 'dvs log'" : "list \(a.map { "\($0)" })", cause: "dvs y")
            throw E(.y, "m", hint: "plain")
            }
            let lock = try self.lock("dvs commit")
            """#
        #expect(Self.hintLiterals(in: text) == [#"run 'dvs log'"#, #"list \(a.map { "\($0)" })"#, "plain"])
    }

    /// The string literals (as written, interpolations included) in each `hint:` argument of
    /// `text`: from `hint:` to the `,` or `)` that ends the argument.
    static func hintLiterals(in text: String) -> [String] {
        let chars = Array(text.unicodeScalars)
        let key = Array("hint:".unicodeScalars)
        var found: [String] = []
        var i = 0
        while i + key.count <= chars.count {
            guard Array(chars[i..<i + key.count]) == key, i == 0 || !isIdentifier(chars[i - 1]) else {
                i += 1
                continue
            }
            var j = i + key.count
            var depth = 0
            argument: while j < chars.count {
                switch chars[j] {
                case "\"":
                    let (literal, end) = stringLiteral(chars, from: j)
                    found.append(literal)
                    j = end
                    continue argument
                case "(", "[", "{": depth += 1
                case ")", "]", "}":
                    if depth == 0 { break argument }
                    depth -= 1
                case ",": if depth == 0 { break argument }
                default: break
                }
                j += 1
            }
            i = j
        }
        return found
    }

    /// The literal opening at `start` (a `"`) and the index after its closing quote; nested
    /// interpolations (with their own literals) are kept in the text.
    static func stringLiteral(_ chars: [Unicode.Scalar], from start: Int) -> (String, Int) {
        var out = String.UnicodeScalarView()
        var j = start + 1
        while j < chars.count, chars[j] != "\"" {
            if chars[j] == "\\", j + 1 < chars.count, chars[j + 1] == "(" {
                // Copy the interpolation through its matching parenthesis, skipping over literals.
                out.append(contentsOf: chars[j...j + 1])
                var depth = 1
                j += 2
                while j < chars.count, depth > 0 {
                    if chars[j] == "\"" {
                        let (inner, end) = stringLiteral(chars, from: j)
                        out.append("\"")
                        out.append(contentsOf: inner.unicodeScalars)
                        out.append("\"")
                        j = end
                        continue
                    }
                    if chars[j] == "(" { depth += 1 }
                    if chars[j] == ")" { depth -= 1 }
                    out.append(chars[j])
                    j += 1
                }
                continue
            }
            if chars[j] == "\\", j + 1 < chars.count {
                out.append(contentsOf: chars[j...j + 1])
                j += 2
                continue
            }
            out.append(chars[j])
            j += 1
        }
        return (String(out), j + 1)
    }

    static func isIdentifier(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c == "_" || ("0"..."9").contains(c) }
}
