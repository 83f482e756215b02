import DVS
import Foundation
import Hummingbird
import Logging

/// How `dvs serve` listens and whom it answers.
public struct ServeConfiguration: Sendable {
    /// Address to bind (default 127.0.0.1, loopback only).
    public var host: String
    /// TCP port (0: any free port).
    public var port: Int
    /// The token every request must carry (`?token=`, `Authorization: Bearer`, or the cookie the
    /// first such request sets); nil: none needed, allowed on a loopback host only.
    public var token: String?

    /// A configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, token: String? = nil) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// Whether `host` is a loopback address or name: an IPv4 literal in 127.0.0.0/8 (RFC 1122
    /// §3.2.1.3, four decimal parts), `::1` (bracketed or not), or exactly `localhost`. A name that
    /// merely starts with `127.` (`127.evil.example`, which DNS can point anywhere) is not.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.utf8.allSatisfy { (0x30...0x39).contains($0) } && (Int(p) ?? 256) <= 255
        }
    }

    /// A random token: 24 bytes from the system's generator, as 48 hex digits.
    public static func generateToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}

/// The token check, the security headers, and the request → `Site` → response bridge.
struct SiteResponder<Context: RequestContext>: RouterMiddleware {
    let site: Site
    let configuration: ServeConfiguration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            return respond(.error(405, "the server is read-only: only GET and HEAD"), head: false)
        }
        let query = Query.parse(request.uri.query)
        var setCookie: String?
        if let token = configuration.token {
            let cookie = request.headers[.cookie].flatMap { Self.cookie("dvs-token", in: $0) }
            let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
            let given = query["token"] ?? bearer ?? cookie
            guard let given, Self.equal(given, token) else {
                return respond(
                    .error(
                        401, "this server needs its token",
                        hint: "open the URL that 'dvs serve' printed (it ends in ?token=…), or send 'Authorization: Bearer TOKEN'"),
                    head: false)
            }
            if query["token"] != nil, cookie == nil { setCookie = "dvs-token=\(token); Path=/; HttpOnly; SameSite=Strict" }
        } else if let host = request.head.authority, !Self.loopbackAuthority(host) {
            // A page elsewhere that points a name at 127.0.0.1 (DNS rebinding) gets nothing.
            return respond(.error(403, "requests must name this server as 127.0.0.1 or localhost, not '\(host)'"), head: false)
        }
        let path = request.uri.path
        let range = request.headers[.range]
        let site = self.site
        var reply = try await Blocking.run { site.reply(path: path, query: query, range: range) }
        if let setCookie { reply.headers.append(("Set-Cookie", setCookie)) }
        return respond(reply, head: request.method == .head)
    }

    func respond(_ reply: Reply, head: Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = reply.contentType
        headers[.contentLength] = String(reply.body.count)
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("Content-Security-Policy")!] =
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none'"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        for (name, value) in reply.headers {
            if let field = HTTPFields.Element.Name(name) { headers[field] = value }
        }
        return Response(
            status: HTTPResponse.Status(code: reply.status), headers: headers,
            body: head ? .init() : .init(byteBuffer: ByteBuffer(bytes: reply.body)))
    }

    /// The value of cookie `name` in a `Cookie` header.
    static func cookie(_ name: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == name { return String(kv[1]) }
        }
        return nil
    }

    /// Compares in time independent of where the strings differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }

    /// Whether a `Host` value (`127.0.0.1:8080`, `localhost`, `[::1]:80`) names the loopback.
    static func loopbackAuthority(_ authority: String) -> Bool {
        var host = authority
        if host.hasPrefix("[") {
            host = String(host.dropFirst().prefix { $0 != "]" })
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        return ServeConfiguration.isLoopback(host.lowercased())
    }
}

/// The routes of `dvs serve`, for tests and for `serve(…)`.
public enum ServeRoutes {
    /// Every path the server answers (with GET or HEAD).
    public static let paths = [
        "/", "/snapshot", "/sample", "/audio", "/spectrogram", "/diff", "/models", "/static/app.css", "/static/app.js",
        "/favicon.svg", "/favicon.ico",
    ]

    /// The application serving `site` at `configuration`'s address.
    /// - Throws: `ServeError` (403) when the host is not a loopback address and there is no token.
    public static func application(
        site: Site, configuration: ServeConfiguration, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        if configuration.token == nil, !ServeConfiguration.isLoopback(configuration.host) {
            throw ServeError(403, "binding to \(configuration.host) needs a token", hint: "pass --token TOKEN (or --token generate)")
        }
        let router = Router()
        router.add(middleware: SiteResponder(site: site, configuration: configuration))
        // The middleware answers every request, matched or not (the router's not-found responder
        // runs through it too), so no route is registered.
        var logger = Logger(label: "dvs-serve")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "dvs"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) }, logger: logger)
    }
}

extension ServeError: CustomStringConvertible {
    /// The message and, when known, the hint.
    public var description: String { message + (hint.map { "\nhint: \($0)" } ?? "") }
}
