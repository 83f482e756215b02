import Foundation

/// A minimal XML element tree for S3's small answers (errors, ListObjectsV2 pages, multipart
/// results). Namespace prefixes are dropped; an element's text is all the character data directly
/// inside it, concatenated. Parsed here rather than with FoundationXML's `XMLParser`, which would
/// make every dvs command load libxml2 and ICU at start-up (bench/README.md, "Start-up").
final class XMLElementNode {
    let name: String
    var text = ""
    var children: [XMLElementNode] = []

    init(name: String) { self.name = name }

    /// The first child called `name`.
    func child(_ name: String) -> XMLElementNode? { children.first { $0.name == name } }
    /// Every child called `name`.
    func all(_ name: String) -> [XMLElementNode] { children.filter { $0.name == name } }
    /// The text of the first child called `name`.
    func text(_ name: String) -> String? { child(name)?.text }

    /// Parses `data` (UTF-8) up to the end of its root element. - Returns: the root element, or nil
    /// when it is not well-formed XML (unbalanced or unclosed tags, an unknown entity, no root).
    static func parse(_ data: Data) -> XMLElementNode? {
        var reader = XMLReader(bytes: [UInt8](data))
        return reader.document()
    }
}

/// The reader behind `XMLElementNode.parse`: elements, attributes (skipped), character data with
/// the five predefined and numeric entities, CDATA, comments, processing instructions, DOCTYPE.
private struct XMLReader {
    let bytes: [UInt8]
    var i = 0
    var stack: [XMLElementNode] = []
    var root: XMLElementNode?

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() -> XMLElementNode? {
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<") {
                guard markup() else { return nil }
                if stack.isEmpty, let root { return root }  // what follows the root is not read (as XMLParser)
            } else {
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "<") { i += 1 }
                guard let text = Self.decode(bytes[start..<i]) else { return nil }
                if let open = stack.last {
                    open.text += text
                } else if text.unicodeScalars.contains(where: { !" \t\r\n".unicodeScalars.contains($0) }) {
                    return nil  // character data outside the root element
                }
            }
        }
        return stack.isEmpty ? root : nil
    }

    /// Reads one piece of markup starting at `<`. - Returns: false when it is malformed.
    private mutating func markup() -> Bool {
        if starts("<?") { return skip(past: "?>") }
        if starts("<!--") { return skip(past: "-->") }
        if starts("<![CDATA[") {
            let start = i + 9
            guard skip(past: "]]>"), let open = stack.last else { return false }
            open.text += String(decoding: bytes[start..<(i - 3)], as: UTF8.self)
            return true
        }
        if starts("<!") { return skipDeclaration() }
        let closing = starts("</")
        i += closing ? 2 : 1
        let nameStart = i
        while i < bytes.count, !Self.isNameEnd(bytes[i]) { i += 1 }
        guard i > nameStart else { return false }
        let qualified = String(decoding: bytes[nameStart..<i], as: UTF8.self)
        var quote: UInt8?
        var selfClosing = false
        while i < bytes.count {  // attributes, skipped; a quoted value may hold '>'
            let b = bytes[i]
            i += 1
            if let q = quote {
                if b == q { quote = nil }
            } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                quote = b
            } else if b == UInt8(ascii: ">") {
                selfClosing = bytes[i - 2] == UInt8(ascii: "/")
                break
            } else if i == bytes.count {
                return false
            }
        }
        guard i <= bytes.count, bytes[i - 1] == UInt8(ascii: ">") else { return false }
        let local = qualified.split(separator: ":").last.map(String.init) ?? qualified
        if closing {
            guard let open = stack.popLast(), open.name == local else { return false }
            return true
        }
        let node = XMLElementNode(name: local)
        if let parent = stack.last { parent.children.append(node) } else { root = node }
        if !selfClosing { stack.append(node) }
        return true
    }

    private func starts(_ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        return bytes.count - i >= p.count && bytes[i..<(i + p.count)].elementsEqual(p)
    }

    /// Moves past the next `terminator`. - Returns: false when there is none.
    private mutating func skip(past terminator: String) -> Bool {
        while i < bytes.count {
            if starts(terminator) {
                i += terminator.utf8.count
                return true
            }
            i += 1
        }
        return false
    }

    /// Moves past a `<!DOCTYPE …>` (with an internal subset in brackets).
    private mutating func skipDeclaration() -> Bool {
        var depth = 0
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "[") { depth += 1 }
            if b == UInt8(ascii: "]") { depth -= 1 }
            if b == UInt8(ascii: ">") && depth == 0 { return true }
        }
        return false
    }

    private static func isNameEnd(_ b: UInt8) -> Bool {
        b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") || b == UInt8(ascii: "\n")
            || b == UInt8(ascii: ">") || b == UInt8(ascii: "/")
    }

    /// Character data with its entity references replaced. - Returns: nil for an unknown or
    /// unterminated reference.
    private static func decode(_ raw: ArraySlice<UInt8>) -> String? {
        let text = String(decoding: raw, as: UTF8.self)
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { return nil }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let hex = entity.hasPrefix("#x") || entity.hasPrefix("#X")
                guard entity.hasPrefix("#"), let v = UInt32(entity.dropFirst(hex ? 2 : 1), radix: hex ? 16 : 10),
                    let scalar = Unicode.Scalar(v)
                else { return nil }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}

extension String {
    /// Escapes `& < > " '` for XML text.
    var xmlEscaped: String {
        var s = ""
        for ch in self {
            switch ch {
            case "&": s += "&amp;"
            case "<": s += "&lt;"
            case ">": s += "&gt;"
            case "\"": s += "&quot;"
            case "'": s += "&apos;"
            default: s.append(ch)
            }
        }
        return s
    }
}
