import Foundation

/// What a route answers, before it becomes an HTTP response: status, content type, body and
/// extra headers.
struct Reply: Sendable {
    /// HTTP status code.
    var status: Int
    /// `Content-Type`.
    var contentType: String
    /// The body bytes.
    var body: [UInt8]
    /// Other headers (`Content-Range`, `Accept-Ranges`, `Cache-Control`).
    var headers: [(String, String)] = []

    /// An HTML page.
    static func html(_ s: String, status: Int = 200) -> Reply {
        Reply(status: status, contentType: "text/html; charset=utf-8", body: Array(s.utf8))
    }

    /// A page with one error box: `status`, what failed and what to do next.
    static func error(_ status: Int, _ message: String, hint: String? = nil) -> Reply {
        .html(HTML.page(title: "error", revision: nil, body: "<h1>\(status)</h1>" + HTML.errorBox(message, hint: hint)), status: status)
    }
}

/// A request's failure that becomes an error page: an HTTP status, the message and a hint.
public struct ServeError: Error, Sendable {
    /// HTTP status code (400 bad input, 404 not found, 403 forbidden).
    public var status: Int
    /// What failed.
    public var message: String
    /// What to do next, when known.
    public var hint: String?

    init(_ status: Int, _ message: String, hint: String? = nil) {
        self.status = status
        self.message = message
        self.hint = hint
    }
}
