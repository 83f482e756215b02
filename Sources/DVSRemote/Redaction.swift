import Foundation

/// Keeps secrets out of what dvs prints or stores: request signatures, session tokens,
/// `Authorization` values and passwords in URLs.
///
/// An S3-compatible server's error body may echo the request's headers (some echo the canonical
/// request or the whole `Authorization` header); its text goes through ``redact(_:)`` before it
/// becomes part of an error. A URL with `user:password@` is refused (``credentialsInURL(_:)``):
/// credentials come from the standard AWS variables, never from a URL dvs would store.
public enum Redaction {
    /// What replaces a secret.
    public static let placeholder = "[redacted]"

    /// (pattern, template) pairs, applied in order; case-insensitive.
    private static let rules: [(NSRegularExpression, String)] = [
        // Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=… (to the line end).
        (#"(authorization\s*[:=]\s*)[^\r\n<]+"#, "$1\(placeholder)"),
        (#"(x-amz-security-token\s*[:=]\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        (#"(x-amz-signature\s*[:=]\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        (#"(x-amz-credential\s*[:=]\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        (#"(signature\s*=\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        (#"(credential\s*=\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        (#"(secret[_-]?access[_-]?key\s*[:=]\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        (#"(session[_-]?token\s*[:=]\s*)[^\s&;,"'<]+"#, "$1\(placeholder)"),
        // <SignatureProvided>, <StringToSign>, <CanonicalRequest> (which holds the token) elements.
        (#"(<(SignatureProvided|StringToSign|StringToSignBytes|CanonicalRequest|CanonicalRequestBytes)>)[^<]*"#, "$1\(placeholder)"),
        // scheme://user:password@host (a pasted secret may hold '/', '?' or '#'), scheme://token@host.
        // Shown text errs on the safe side: an '@' in a query is blanked too.
        (#"([a-z][a-z0-9+.-]*://)[^@\s/:]*:[^@\s]*@"#, "$1\(placeholder)@"),
        (#"([a-z][a-z0-9+.-]*://)[^@\s/:]+@"#, "$1\(placeholder)@"),
    ].map { (try! NSRegularExpression(pattern: $0.0, options: [.caseInsensitive]), $0.1) }

    /// Whether `text` is `host[:port][/path]`: a host name with a '.' (letters, digits, '.',
    /// '-', '_'), `localhost` or an IPv6 literal in brackets; a port of digits; a path without
    /// ':' or '@'.
    static func isHostPortPath(_ text: Substring) -> Bool {
        let slash = text.firstIndex(of: "/") ?? text.endIndex
        let authority = text[..<slash]
        if text[slash...].contains(where: { $0 == ":" || $0 == "@" }) { return false }
        var host = authority
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            let port = authority[authority.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
            host = authority[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { return host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" } }
        return (host.contains(".") || host == "localhost")
            && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
    }

    /// `text` with every signature, session token, credential scope, `Authorization` value and
    /// URL password replaced by ``placeholder``.
    public static func redact(_ text: String) -> String {
        // Most messages hold none of these words: skip the expressions for them.
        let lower = text.lowercased()
        guard ["authorization", "x-amz-", "signature", "credential", "secret", "token", "@", "<"].contains(where: lower.contains) else {
            return text
        }
        var s = text
        for (re, template) in rules {
            s = re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
        }
        return s
    }

    /// The refusal of a URL that carries credentials (`scheme://user:password@host`,
    /// `scheme://token@host`, or a query parameter named like one: `?X-Amz-Signature=…`,
    /// `?token=…`), or nil when it has none. The error shows the URL without them.
    /// - Parameter what: what the URL is, for the message (`endpoint`, `remote URL`).
    public static func credentialsInURL(_ url: String, what: String) -> RemoteError? {
        guard let scheme = url.range(of: "://") else { return nil }
        // A query parameter named like a credential (a presigned URL's `X-Amz-Signature`,
        // `X-Amz-Credential`, `X-Amz-Security-Token`; `token=`, `secret=`, `password=`, `key=`…).
        if let q = url[scheme.upperBound...].firstIndex(where: { $0 == "?" || $0 == "#" }) {
            // Parameters of the query and the fragment, split on '&' and ';' (both are used).
            let names = url[url.index(after: q)...].lowercased().split(whereSeparator: { "&;#?".contains($0) })
                .map { $0.split(separator: "=").first ?? "" }
            let secretWords = ["signature", "credential", "token", "secret", "password", "passwd", "key", "sig", "auth"]
            if names.contains(where: { n in secretWords.contains { n.contains($0) } }) {
                let shown = String(url[..<q]) + "?…"
                return RemoteError(
                    .invalidInput,
                    "the \(what) '\(redact(shown))' holds credentials in its query string; dvs neither stores nor shows them",
                    hint:
                        "remove the query string and give the keys through the standard AWS variables (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
                    subject: redact(shown))
            }
        }
        // `user:password@` before the host; a pasted secret may hold '/', so an '@' after a ':'
        // counts even past a '/' (an endpoint with '@' in its path and a port is refused too).
        // An '@' past a '?' is the query's only when it is inside a `name=value` pair and what
        // comes before the '?' is plainly a host (with a '.', in brackets, or `localhost`), port
        // and path (`http://127.0.0.1:9000/?owner=ml@example.com`): a pasted password may hold
        // '?' or '#' (`http://KEY:1234?ss@host`), and a '#' before an '@' is always refused.
        let rest = url[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        let userinfo = rest[..<at]
        if !userinfo.contains("#"), let q = userinfo.firstIndex(of: "?") {
            // One '@', in a name=value pair of a plain host's query, and no URL nested in it.
            let plain =
                isHostPortPath(userinfo[..<q]) && userinfo[q...].split(separator: "&").last?.contains("=") == true
                && !rest[rest.index(after: at)...].contains("@") && !rest[q...].contains("://")
            if plain { return nil }
        } else {
            guard userinfo.contains(":") || userinfo.contains("#") || !userinfo.contains("/") else { return nil }
        }
        return RemoteError(
            .invalidInput,
            "the \(what) '\(redact(url))' holds credentials (user:password@); dvs neither stores nor shows them",
            hint:
                "remove them from the URL and give the keys through the standard AWS variables (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
            subject: redact(url))
    }
}
