import Crypto
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// AWS Signature Version 4 for requests signed in the `Authorization` header.
///
/// Follows "Authenticating Requests: Using the Authorization Header (AWS Signature Version 4)"
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>) and
/// "Create a signed AWS API request" (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>):
///
/// 1. canonical request = method, canonical URI, canonical query string, canonical headers,
///    signed header names and the payload hash, joined by `\n`;
/// 2. string to sign = `AWS4-HMAC-SHA256`, the `x-amz-date` timestamp, the scope
///    `<yyyymmdd>/<region>/<service>/aws4_request` and the hex SHA-256 of the canonical request;
/// 3. signing key = HMAC-SHA256 chain `"AWS4" + secret` → date → region → service → `aws4_request`;
/// 4. signature = hex HMAC-SHA256(signing key, string to sign).
///
/// The canonical URI is the URL's path exactly as it is percent-encoded in the URL (S3's rule:
/// object keys are encoded once, `/` kept; build paths with ``SigV4Signer/uriEncode(_:encodeSlash:)``).
/// The canonical query string is re-encoded with the AWS rules and sorted by name, so the URL
/// should carry it in that same form (servers that compare bytes, such as moto, then agree).
public struct SigV4Signer: Sendable {
    /// The `x-amz-content-sha256` value for a body that is not hashed (streamed uploads over TLS).
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// Hex SHA-256 of the empty body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// The key pair (and session token) that signs.
    public var credentials: AWSCredentials
    /// The AWS region in the scope (`us-east-1`).
    public var region: String
    /// The service in the scope (`s3`, `iam`).
    public var service: String

    /// Creates a signer for one region and service.
    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The pieces of one signature, kept for tests and for debugging `SignatureDoesNotMatch`.
    public struct Signature: Sendable {
        /// The canonical request (step 1).
        public var canonicalRequest: String
        /// The string to sign (step 2).
        public var stringToSign: String
        /// Semicolon-separated lower-case names of the signed headers (`host;range;x-amz-date`).
        public var signedHeaders: String
        /// The hex signature (64 characters).
        public var signature: String
        /// The complete `Authorization` header value. It names the access key id, never the secret.
        public var authorization: String
    }

    /// Signs `request` in place: sets `x-amz-date`, `x-amz-security-token` (when the credentials
    /// carry a session token), `x-amz-content-sha256` (when `contentHashHeader`) and `Authorization`.
    ///
    /// Every header already on the request is signed, plus `host` (from the URL, with the port
    /// when it is not the scheme's default). Set the headers you want signed before calling;
    /// leave `Content-Length` to the transport.
    /// - Parameters:
    ///   - request: a request with an absolute URL whose path is already percent-encoded.
    ///   - payloadHash: hex SHA-256 of the body, ``emptyPayloadHash`` or ``unsignedPayload``.
    ///   - date: the signing time; requests are valid for 15 minutes around it.
    ///   - contentHashHeader: whether to send `x-amz-content-sha256` (S3 requires it; IAM does not).
    /// - Returns: the signature's pieces.
    @discardableResult
    public func sign(
        _ request: inout URLRequest, payloadHash: String, date: Date = Date(),
        contentHashHeader: Bool = true
    ) -> Signature {
        let amzDate = Self.amzDate(date)
        request.setValue(amzDate, forHTTPHeaderField: "x-amz-date")
        if let token = credentials.sessionToken { request.setValue(token, forHTTPHeaderField: "x-amz-security-token") }
        if contentHashHeader { request.setValue(payloadHash, forHTTPHeaderField: "x-amz-content-sha256") }
        let url = request.url!
        let parts = URLComponents(url: url, resolvingAgainstBaseURL: false)
        var headers = request.allHTTPHeaderFields ?? [:]
        headers["host"] = Self.hostHeader(url)
        let s = signature(
            method: request.httpMethod ?? "GET", encodedPath: parts?.percentEncodedPath ?? "/",
            encodedQuery: parts?.percentEncodedQuery, headers: headers,
            payloadHash: payloadHash, amzDate: amzDate)
        request.setValue(s.authorization, forHTTPHeaderField: "Authorization")
        return s
    }

    /// Computes a signature from the request's parts (steps 1–4 above).
    /// - Parameters:
    ///   - method: the HTTP method, upper case.
    ///   - encodedPath: the URI path as sent, percent-encoded (empty means `/`).
    ///   - encodedQuery: the query as sent, without `?`, or nil.
    ///   - headers: every header to sign, including `host` and `x-amz-date`; names in any case.
    ///   - payloadHash: hex SHA-256 of the body, or ``unsignedPayload``.
    ///   - amzDate: the ISO 8601 basic timestamp, `20130524T000000Z`.
    public func signature(
        method: String, encodedPath: String, encodedQuery: String?, headers: [String: String],
        payloadHash: String, amzDate: String
    ) -> Signature {
        var canonical: [String: String] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            let v = Self.trimHeaderValue(value)
            canonical[key] = canonical[key].map { "\($0),\(v)" } ?? v
        }
        let names = canonical.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let canonicalHeaders = names.map { "\($0):\(canonical[$0]!)\n" }.joined()
        let canonicalRequest = [
            method.uppercased(),
            encodedPath.isEmpty ? "/" : encodedPath,
            Self.canonicalQuery(encodedQuery),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        let key = Self.signingKey(secret: credentials.secretAccessKey, day: day, region: region, service: service)
        let sig = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(sig)"
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign,
            signedHeaders: signedHeaders, signature: sig, authorization: authorization)
    }

    /// The signing key: HMAC-SHA256 of `aws4_request` under the key chain `"AWS4" + secret` → `day`
    /// → `region` → `service` ("Derive a signing key", IAM user guide, create-signed-request.html).
    /// - Parameters:
    ///   - day: `yyyymmdd` in UTC.
    public static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: String) -> SymmetricKey {
            SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key)))
        }
        var k = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, region, service, "aws4_request"] { k = hmac(k, part) }
        return k
    }

    /// URI-encodes `text` with the AWS rules: every byte except `A-Z a-z 0-9 - . _ ~` becomes
    /// `%XY` with upper-case hex; `/` is kept when `encodeSlash` is false (object key paths).
    /// Space is `%20`, never `+`.
    public static func uriEncode(_ text: String, encodeSlash: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where !encodeSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// A query string in canonical form: each name and value percent-decoded then re-encoded with
    /// ``uriEncode(_:encodeSlash:)``, a missing value as empty (`lifecycle` → `lifecycle=`), sorted by
    /// name then value, joined by `&`.
    public static func canonicalQuery(_ encodedQuery: String?) -> String {
        guard let q = encodedQuery, !q.isEmpty else { return "" }
        let pairs = q.split(separator: "&", omittingEmptySubsequences: true).map { item -> (String, String) in
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in String(s).removingPercentEncoding ?? String(s) }
            return (uriEncode(decode(kv[0])), kv.count > 1 ? uriEncode(decode(kv[1])) : "")
        }
        return pairs.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC (the `x-amz-date` format).
    public static func amzDate(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
            tm.tm_hour, tm.tm_min, tm.tm_sec)
    }

    /// The `Host` header a client sends for `url`: the host, plus `:port` unless it is the scheme's default.
    public static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port else { return host }
        let scheme = url.scheme?.lowercased()
        if (scheme == "https" && port == 443) || (scheme == "http" && port == 80) { return host }
        return "\(host):\(port)"
    }

    /// Lower-case hex of a digest or MAC.
    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Trims a header value and collapses runs of spaces to one (the canonical header rule).
    static func trimHeaderValue(_ value: String) -> String {
        var out = ""
        var lastSpace = false
        for ch in value.trimmingCharacters(in: .whitespaces) {
            if ch == " " {
                if !lastSpace { out.append(ch) }
                lastSpace = true
            } else {
                out.append(ch)
                lastSpace = false
            }
        }
        return out
    }
}

extension SigV4Signer {
    /// Hex SHA-256 of `data` (the `x-amz-content-sha256` value of a hashed body).
    public static func payloadHash(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
}
