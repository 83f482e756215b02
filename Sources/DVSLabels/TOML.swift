import Foundation

/// A value of a TOML document (TOML 1.0.0), as ``TOMLDocument/parse(_:)`` returns it.
///
/// dvs reads `dvs.toml` with this parser rather than a C++ library, so that no input, however
/// malformed, can stop the process: every problem is a ``TOMLError`` with its line.
public enum TOMLValue: Sendable, Hashable, CustomStringConvertible {
    /// A string (basic, literal or multi-line), escapes resolved.
    case string(String)
    /// A 64-bit signed integer (decimal, `0x`, `0o` or `0b`).
    case integer(Int64)
    /// An IEEE 754 binary64 (`inf` and `nan` included).
    case float(Double)
    /// `true` or `false`.
    case boolean(Bool)
    /// An offset or local date-time, date or time, kept as written (dvs's config has none).
    case dateTime(String)
    /// An array (static, or an array of tables).
    case array([TOMLValue])
    /// A table (standard, inline, or an element of an array of tables).
    case table(TOMLTable)

    /// The string, if this is one.
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    /// The integer, if this is one.
    public var int: Int64? { if case .integer(let i) = self { i } else { nil } }
    /// The float, if this is one (an integer is not).
    public var double: Double? { if case .float(let d) = self { d } else { nil } }
    /// The boolean, if this is one.
    public var bool: Bool? { if case .boolean(let b) = self { b } else { nil } }
    /// The elements, if this is an array.
    public var array: [TOMLValue]? { if case .array(let a) = self { a } else { nil } }
    /// The table, if this is one.
    public var table: TOMLTable? { if case .table(let t) = self { t } else { nil } }

    /// The value as TOML would write it (strings quoted).
    public var description: String {
        switch self {
        case .string(let s): return JSONValue.quote(s)
        case .integer(let i): return String(i)
        case .float(let d): return d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : "\(d)"
        case .boolean(let b): return b ? "true" : "false"
        case .dateTime(let t): return t
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .table(let t): return "{" + t.values.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A TOML table: keys and their values.
public struct TOMLTable: Sendable, Hashable {
    /// The values by key.
    public var values: [String: TOMLValue] = [:]
    /// The keys, sorted.
    public var keys: [String] { values.keys.sorted() }
    /// The value at `key`, if any.
    public subscript(key: String) -> TOMLValue? { values[key] }
    /// An empty table.
    public init() {}
}

/// Why a TOML document does not parse: what and on which line.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line of the problem.
    public var line: Int
    /// What is wrong, lower-case.
    public var message: String
    /// `line N: message`.
    public var description: String { "line \(line): \(message)" }
}

/// A strict TOML 1.0.0 parser over UTF-8 bytes.
public enum TOMLDocument {
    /// Parses a whole document.
    /// - Returns: the root table.
    /// - Throws: ``TOMLError`` for anything TOML 1.0.0 does not allow (a NUL or other control
    ///   byte, invalid UTF-8, a malformed key, header or value, a key or table defined twice),
    ///   naming the line.
    public static func parse(_ bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        var p = TOMLParser(bytes)
        try p.document()
        return p.root.value
    }
}

/// How a table came to be, which decides what may still be added to it (TOML 1.0.0 § Table).
private enum TableOrigin { case header, implicit, dotted, inline, arrayElement }

/// A table under construction.
private final class Node {
    var origin: TableOrigin
    var children: [String: Entry] = [:]
    init(_ origin: TableOrigin) { self.origin = origin }

    var value: TOMLTable {
        var t = TOMLTable()
        for (k, e) in children {
            switch e {
            case .value(let v): t.values[k] = v
            case .table(let n): t.values[k] = .table(n.value)
            case .tables(let ns): t.values[k] = .array(ns.map { .table($0.value) })
            }
        }
        return t
    }
}

private enum Entry {
    case value(TOMLValue)
    case table(Node)
    case tables([Node])
}

private struct TOMLParser {
    let b: [UInt8]
    var i = 0
    var line = 1
    /// Arrays and inline tables open around the current value (bounded, so that no input can
    /// exhaust the stack).
    var depth = 0
    let root = Node(.header)
    static let maxDepth = 64

    init(_ bytes: [UInt8]) { b = bytes }

    var atEnd: Bool { i >= b.count }
    var current: UInt8? { i < b.count ? b[i] : nil }
    func peek(_ k: Int) -> UInt8? { i + k < b.count ? b[i + k] : nil }

    func fail(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }

    func show(_ c: UInt8?) -> String {
        guard let c else { return "the end of the file" }
        if c == 0 { return "a NUL byte" }
        if c == 0x0A || c == 0x0D { return "the end of the line" }
        if c < 0x20 || c == 0x7F { return "control byte 0x\(String(c, radix: 16))" }
        if c >= 0x80 { return "a non-ASCII character" }
        return "'\(Character(UnicodeScalar(c)))'"
    }

    // MARK: Document

    mutating func document() throws(TOMLError) {
        try checkBytes()
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        var table = root
        while true {
            skipSpaces()
            guard let c = current else { return }
            if c == UInt8(ascii: "#") {
                try comment()
            } else if c == 0x0A || c == 0x0D {
                try newline()
            } else if c == UInt8(ascii: "[") {
                table = try header()
                try endOfLine()
            } else {
                try keyValue(into: table)
                try endOfLine()
            }
        }
    }

    /// NUL and invalid UTF-8 are reported before anything else, with their line.
    func checkBytes() throws(TOMLError) {
        var n = 1
        var k = 0
        while k < b.count {
            let c = b[k]
            if c == 0x0A { n += 1 }
            if c == 0 { throw TOMLError(line: n, message: "a NUL byte is not allowed in a TOML file") }
            if c < 0x80 {
                k += 1
                continue
            }
            let length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0
            guard length > 0, k + length <= b.count,
                Array(String(decoding: b[k..<k + length], as: UTF8.self).utf8).elementsEqual(b[k..<k + length])
            else { throw TOMLError(line: n, message: "the file is not valid UTF-8") }
            k += length
        }
    }

    mutating func skipSpaces() { while let c = current, c == 0x20 || c == 0x09 { i += 1 } }

    mutating func newline() throws(TOMLError) {
        if current == 0x0D {
            guard peek(1) == 0x0A else { throw fail("a carriage return must be followed by a line feed") }
            i += 1
        }
        guard current == 0x0A else { throw fail("expected the end of the line, found \(show(current))") }
        i += 1
        line += 1
    }

    mutating func comment() throws(TOMLError) {
        i += 1
        while let c = current, c != 0x0A {
            if c == 0x0D, peek(1) == 0x0A { return }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("\(show(c)) is not allowed in a comment") }
            i += 1
        }
    }

    /// After a header or key/value pair: spaces, an optional comment, then a line end or the end.
    mutating func endOfLine() throws(TOMLError) {
        skipSpaces()
        if current == UInt8(ascii: "#") { try comment() }
        guard !atEnd else { return }
        guard current == 0x0A || current == 0x0D else {
            throw fail("expected the end of the line after a value or table header, found \(show(current))")
        }
        try newline()
    }

    // MARK: Keys and tables

    mutating func key() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let c = current else { throw fail("expected a key, found the end of the file") }
            if c == UInt8(ascii: "\"") {
                if peek(1) == c, peek(2) == c { throw fail("a key cannot be a multi-line string") }
                parts.append(try basicString())
            } else if c == UInt8(ascii: "'") {
                if peek(1) == c, peek(2) == c { throw fail("a key cannot be a multi-line string") }
                parts.append(try literalString())
            } else if isBare(c) {
                let start = i
                while let d = current, isBare(d) { i += 1 }
                parts.append(String(decoding: b[start..<i], as: UTF8.self))
            } else {
                throw fail("expected a key (letters, digits, '_', '-' or a quoted string), found \(show(c))")
            }
            skipSpaces()
            guard current == UInt8(ascii: ".") else { return parts }
            // Each part is a level of nested tables, which converting and freeing walk
            // recursively: a hostile `a.a.a…` of 50k parts would overflow the stack.
            guard parts.count < Self.maxDepth else { throw fail("a key has more than \(Self.maxDepth) dotted parts") }
            i += 1
        }
    }

    func isBare(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    func dotted(_ parts: [String]) -> String { parts.joined(separator: ".") }

    mutating func header() throws(TOMLError) -> Node {
        i += 1
        let isArray = current == UInt8(ascii: "[")
        if isArray { i += 1 }
        let parts = try key()
        guard current == UInt8(ascii: "]") else { throw fail("expected ']' to close the table header, found \(show(current))") }
        i += 1
        if isArray {
            guard current == UInt8(ascii: "]") else {
                throw fail("expected ']]' to close the array of tables header, found \(show(current))")
            }
            i += 1
        }
        var table = root
        for (n, part) in parts.enumerated().dropLast() {
            switch table.children[part] {
            case nil:
                let t = Node(.implicit)
                table.children[part] = .table(t)
                table = t
            case .table(let t) where t.origin != .inline: table = t
            case .tables(let ts): table = ts[ts.count - 1]
            default: throw fail("'\(dotted(Array(parts[...n])))' is already defined as a value, not a table")
            }
        }
        let last = parts[parts.count - 1]
        if isArray {
            let t = Node(.arrayElement)
            switch table.children[last] {
            case nil: table.children[last] = .tables([t])
            case .tables(let ts): table.children[last] = .tables(ts + [t])
            default: throw fail("'\(dotted(parts))' is already defined, not as an array of tables")
            }
            return t
        }
        switch table.children[last] {
        case nil:
            let t = Node(.header)
            table.children[last] = .table(t)
            return t
        case .table(let t) where t.origin == .implicit:
            t.origin = .header
            return t
        default: throw fail("'\(dotted(parts))' is already defined")
        }
    }

    mutating func keyValue(into table: Node) throws(TOMLError) {
        let parts = try key()
        guard current == UInt8(ascii: "=") else { throw fail("expected '=' after the key '\(dotted(parts))', found \(show(current))") }
        i += 1
        skipSpaces()
        let v = try value()
        var t = table
        for (n, part) in parts.enumerated().dropLast() {
            switch t.children[part] {
            case nil:
                let d = Node(.dotted)
                t.children[part] = .table(d)
                t = d
            case .table(let d) where d.origin == .dotted: t = d
            default: throw fail("'\(dotted(Array(parts[...n])))' is already defined")
            }
        }
        let last = parts[parts.count - 1]
        guard t.children[last] == nil else { throw fail("the key '\(dotted(parts))' is defined twice") }
        t.children[last] = v
    }

    // MARK: Values

    mutating func value() throws(TOMLError) -> Entry {
        guard let c = current else { throw fail("expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "\""):
            return .value(.string(peek(1) == c && peek(2) == c ? try multiLineBasicString() : try basicString()))
        case UInt8(ascii: "'"):
            return .value(.string(peek(1) == c && peek(2) == c ? try multiLineLiteralString() : try literalString()))
        case UInt8(ascii: "["): return .value(.array(try arrayValue()))
        case UInt8(ascii: "{"): return .table(try inlineTable())
        default: return .value(try scalar())
        }
    }

    /// Skips spaces, line ends and comments inside an array.
    mutating func skipArrayFiller() throws(TOMLError) {
        while true {
            skipSpaces()
            if current == UInt8(ascii: "#") {
                try comment()
            } else if current == 0x0A || current == 0x0D {
                try newline()
            } else {
                return
            }
        }
    }

    mutating func arrayValue() throws(TOMLError) -> [TOMLValue] {
        i += 1
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw fail("arrays and inline tables nest deeper than \(Self.maxDepth) levels") }
        var out: [TOMLValue] = []
        while true {
            try skipArrayFiller()
            if current == UInt8(ascii: "]") {
                i += 1
                return out
            }
            switch try value() {
            case .value(let v): out.append(v)
            case .table(let n): out.append(.table(n.value))
            case .tables: throw fail("unexpected array of tables")
            }
            try skipArrayFiller()
            if current == UInt8(ascii: ",") {
                i += 1
            } else if current != UInt8(ascii: "]") {
                throw fail("expected ',' or ']' in an array, found \(show(current))")
            }
        }
    }

    mutating func inlineTable() throws(TOMLError) -> Node {
        i += 1
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw fail("arrays and inline tables nest deeper than \(Self.maxDepth) levels") }
        let t = Node(.inline)
        skipSpaces()
        if current == UInt8(ascii: "}") {
            i += 1
            return t
        }
        while true {
            try keyValue(into: t)
            skipSpaces()
            if current == UInt8(ascii: "}") {
                i += 1
                freeze(t)
                return t
            }
            guard current == UInt8(ascii: ",") else { throw fail("expected ',' or '}' in an inline table, found \(show(current))") }
            i += 1
        }
    }

    /// Marks an inline table and the tables its dotted keys made as closed to later additions.
    func freeze(_ t: Node) {
        t.origin = .inline
        for case .table(let c) in t.children.values { freeze(c) }
    }

    // MARK: Strings

    mutating func basicString() throws(TOMLError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw fail("unterminated string") }
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"): try escape(into: &out)
            case 0x0A, 0x0D: throw fail("unterminated string (a basic string ends on its line)")
            default:
                if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("\(show(c)) is not allowed in a string; write it as an escape") }
                out.append(c)
                i += 1
            }
        }
    }

    /// Ends a multi-line string at three `quote`s; up to two more belong to the string
    /// (`""""` ends with one `"` inside, TOML 1.0), a sixth is an error.
    mutating func closeMultiLine(quote: UInt8, _ out: inout [UInt8]) throws(TOMLError) -> String {
        var n = 3
        while peek(n) == quote { n += 1 }
        guard n <= 5 else { throw fail("too many quotes at the end of a multi-line string") }
        out += Array(repeating: quote, count: n - 3)
        i += n
        return String(decoding: out, as: UTF8.self)
    }

    mutating func multiLineBasicString() throws(TOMLError) -> String {
        i += 3
        try trimFirstNewline()
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw fail("unterminated multi-line string") }
            if c == UInt8(ascii: "\""), peek(1) == c, peek(2) == c { return try closeMultiLine(quote: c, &out) }
            if c == UInt8(ascii: "\\") {
                // A line-ending backslash removes the line end and the whitespace after it.
                var k = i + 1
                while k < b.count, b[k] == 0x20 || b[k] == 0x09 { k += 1 }
                if k < b.count, b[k] == 0x0A || (b[k] == 0x0D && k + 1 < b.count && b[k + 1] == 0x0A) {
                    i = k
                    while true {
                        skipSpaces()
                        guard current == 0x0A || current == 0x0D else { break }
                        try newline()
                    }
                    continue
                }
                try escape(into: &out)
                continue
            }
            if c == 0x0A || c == 0x0D {
                try newline()
                out.append(0x0A)
                continue
            }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("\(show(c)) is not allowed in a string; write it as an escape") }
            out.append(c)
            i += 1
        }
    }

    mutating func trimFirstNewline() throws(TOMLError) {
        if current == 0x0A || (current == 0x0D && peek(1) == 0x0A) { try newline() }
    }

    mutating func escape(into out: inout [UInt8]) throws(TOMLError) {
        i += 1
        guard let e = current else { throw fail("unterminated escape") }
        i += 1
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let n = e == UInt8(ascii: "u") ? 4 : 8
            guard i + n <= b.count, let v = UInt32(String(decoding: b[i..<i + n], as: UTF8.self), radix: 16),
                b[i..<i + n].allSatisfy({ isHex($0) }), let scalar = UnicodeScalar(v)
            else { throw fail("\\\(Character(UnicodeScalar(e))) must be followed by \(n) hex digits of a Unicode scalar value") }
            i += n
            out += Array(String(Character(scalar)).utf8)
        default: throw fail("unknown escape \\\(show(e)) in a string")
        }
    }

    func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66) }

    mutating func literalString() throws(TOMLError) -> String {
        i += 1
        let start = i
        while true {
            guard let c = current else { throw fail("unterminated string") }
            if c == UInt8(ascii: "'") {
                i += 1
                return String(decoding: b[start..<i - 1], as: UTF8.self)
            }
            if c == 0x0A || c == 0x0D { throw fail("unterminated string (a literal string ends on its line)") }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("\(show(c)) is not allowed in a string") }
            i += 1
        }
    }

    mutating func multiLineLiteralString() throws(TOMLError) -> String {
        i += 3
        try trimFirstNewline()
        var out: [UInt8] = []
        while true {
            guard let c = current else { throw fail("unterminated multi-line string") }
            if c == UInt8(ascii: "'"), peek(1) == c, peek(2) == c { return try closeMultiLine(quote: c, &out) }
            if c == 0x0A || c == 0x0D {
                try newline()
                out.append(0x0A)
                continue
            }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("\(show(c)) is not allowed in a string") }
            out.append(c)
            i += 1
        }
    }

    // MARK: Numbers, booleans, dates

    mutating func scalar() throws(TOMLError) -> TOMLValue {
        let start = i
        while let c = current, isBare(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
        // A date and a time may be separated by one space.
        if i - start == 10, current == 0x20, let d = peek(1), d >= 0x30, d <= 0x39, b[start + 4] == UInt8(ascii: "-") {
            i += 1
            while let c = current, isBare(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
        }
        let token = String(decoding: b[start..<i], as: UTF8.self)
        guard !token.isEmpty else { throw fail("expected a value, found \(show(current))") }
        switch token {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if let v = Self.integer(token) { return .integer(v) }
        if let v = Self.float(token) { return .float(v) }
        if Self.isDateTime(token) { return .dateTime(token) }
        throw fail("'\(token)' is not a TOML value (strings need quotes)")
    }

    /// Digits with single underscores between them.
    static func digits(_ s: Substring, _ isDigit: (Character) -> Bool) -> String? {
        guard let f = s.first, let l = s.last, isDigit(f), isDigit(l), !s.contains("__") else { return nil }
        guard s.allSatisfy({ $0 == "_" || isDigit($0) }) else { return nil }
        return s.replacingOccurrences(of: "_", with: "")
    }

    static func integer(_ token: String) -> Int64? {
        let prefixes: [(String, Int, (Character) -> Bool)] = [
            ("0x", 16, { $0.isHexDigit }), ("0o", 8, { ("0"..."7").contains($0) }), ("0b", 2, { $0 == "0" || $0 == "1" }),
        ]
        for (p, radix, isDigit) in prefixes where token.hasPrefix(p) {
            guard let d = digits(token.dropFirst(2), isDigit) else { return nil }
            return Int64(d, radix: radix)
        }
        var body = Substring(token)
        var sign = ""
        if let f = body.first, f == "+" || f == "-" {
            sign = f == "-" ? "-" : ""
            body = body.dropFirst()
        }
        guard let d = digits(body, { $0.isASCII && $0.isNumber }), d == "0" || !d.hasPrefix("0") else { return nil }
        return Int64(sign + d)
    }

    static func float(_ token: String) -> Double? {
        var body = Substring(token)
        var sign = ""
        if let f = body.first, f == "+" || f == "-" {
            sign = f == "-" ? "-" : ""
            body = body.dropFirst()
        }
        let isDigit: (Character) -> Bool = { $0.isASCII && $0.isNumber }
        let exponentAt = body.firstIndex { $0 == "e" || $0 == "E" }
        let mantissa = body[..<(exponentAt ?? body.endIndex)]
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, exponentAt != nil || parts.count == 2 else { return nil }
        guard let whole = digits(parts[0], isDigit), whole == "0" || !whole.hasPrefix("0") else { return nil }
        var text = sign + whole
        if parts.count == 2 {
            guard let fraction = digits(parts[1], isDigit) else { return nil }
            text += "." + fraction
        }
        if let e = exponentAt {
            var exponent = body[body.index(after: e)...]
            var esign = ""
            if let f = exponent.first, f == "+" || f == "-" {
                esign = String(f)
                exponent = exponent.dropFirst()
            }
            guard let d = digits(exponent, isDigit) else { return nil }
            text += "e" + esign + d
        }
        return Double(text)
    }

    /// A date (`1979-05-27`), a time (`07:32:00.999`) or both, with an optional offset; the
    /// fields are checked for shape and range, not against the calendar.
    static func isDateTime(_ token: String) -> Bool {
        let s = Array(token.utf8)
        var k = 0
        func number(_ n: Int, max: Int) -> Bool {
            guard k + n <= s.count, s[k..<k + n].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
            let v = s[k..<k + n].reduce(0) { $0 * 10 + Int($1 - 0x30) }
            k += n
            return v <= max
        }
        func byte(_ c: UInt8) -> Bool {
            guard k < s.count, s[k] == c else { return false }
            k += 1
            return true
        }
        func time() -> Bool {
            guard number(2, max: 23), byte(0x3A), number(2, max: 59), byte(0x3A), number(2, max: 60) else { return false }
            if byte(0x2E) {
                let f = k
                while k < s.count, s[k] >= 0x30, s[k] <= 0x39 { k += 1 }
                guard k > f else { return false }
            }
            return true
        }
        if s.count >= 10, s[4] == 0x2D {
            guard number(4, max: 9999), byte(0x2D), number(2, max: 12), byte(0x2D), number(2, max: 31) else { return false }
            if k == s.count { return true }
            guard k < s.count, s[k] == 0x54 || s[k] == 0x74 || s[k] == 0x20 else { return false }
            k += 1
            guard time() else { return false }
            if k == s.count { return true }
            if byte(0x5A) || byte(0x7A) { return k == s.count }
            guard k < s.count, s[k] == 0x2B || s[k] == 0x2D else { return false }
            k += 1
            return number(2, max: 23) && byte(0x3A) && number(2, max: 59) && k == s.count
        }
        return time() && k == s.count
    }
}
