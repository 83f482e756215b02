import DVSCore
import Foundation

/// HTML building: escaping, the page frame, URL query strings.
enum HTML {
    /// `s` with `&`, `<`, `>`, `"` and `'` escaped, for text and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A whole page: the header with the navigation links, then `body`.
    static func page(title: String, revision: String?, body: String) -> String {
        let rev = revision.map { "&amp;rev=" + escape(Query.encode($0)) } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · dvs</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/static/app.css"><script src="/static/app.js"></script></head>
            <body><header><a class="brand" href="/">dvs</a><a href="/">repository</a><a href="/snapshot?page=1\(rev)">samples</a><a href="/models">models</a></header>
            <main>
            \(body)
            </main></body></html>
            """
    }

    /// An error box: what failed and, when known, what to do next.
    static func errorBox(_ message: String, hint: String?) -> String {
        "<div class=\"error\" id=\"error\"><div>\(escape(message))</div>" + (hint.map { "<div class=\"hint\">\(escape($0))</div>" } ?? "")
            + "</div>"
    }

    /// A label value as display text (`∅` for null).
    static func text(_ v: LabelValue?) -> String {
        guard let v else { return "∅" }
        switch v {
        case .null: return "∅"
        case .double(let d): return String(format: "%.4g", d)
        case .string(let s): return s.isEmpty ? "\"\"" : s
        default: return v.text
        }
    }

    /// Seconds as `1.23 s`, or `m:ss` from a minute on.
    static func seconds(_ s: Double) -> String {
        s < 60 ? String(format: "%.2f s", s) : String(format: "%d:%05.2f", Int(s) / 60, s.truncatingRemainder(dividingBy: 60))
    }

    /// Hours as `1.25 h`, minutes below one hour, and (when `precise`) seconds below one minute.
    static func hours(_ h: Double, precise: Bool = true) -> String {
        if h >= 1 { return String(format: "%.2f h", h) }
        if precise, h * 60 < 1 { return String(format: "%.1f s", h * 3600) }
        return String(format: "%.1f min", h * 60)
    }
}

/// URL query strings: parsing (`+` is a space, `%XX` bytes) and building.
enum Query {
    /// The parameters of `query` (the part after `?`), first value per name.
    static func parse(_ query: String?) -> [String: String] {
        var out: [String: String] = [:]
        guard let query else { return out }
        for part in query.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(String(kv[0]))
            if out[key] == nil { out[key] = kv.count > 1 ? decode(String(kv[1])) : "" }
        }
        return out
    }

    /// Percent-decodes `s` (`+` as a space); invalid escapes stay as they are.
    static func decode(_ s: String) -> String {
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), i + 2 < bytes.count, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// Percent-encodes `s` for a query value (unreserved characters and `/` stay).
    static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"),
                UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// `path?name=value&…` with each value encoded, nil values left out.
    static func url(_ path: String, _ items: [(String, String?)]) -> String {
        let q = items.compactMap { k, v in v.map { "\(k)=\(encode($0))" } }.joined(separator: "&")
        return q.isEmpty ? path : path + "?" + q
    }
}
