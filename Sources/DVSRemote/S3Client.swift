import Crypto
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// How an ``S3Client`` retries, detects stalls and splits large uploads.
///
/// Parallelism is the caller's: the client runs one request at a time per calling thread.
public struct TransferPolicy: Sendable, Equatable {
    /// Attempts per request, the first included (default 5).
    public var maxAttempts: Int
    /// The first retry's delay in seconds (default 0.2); it doubles per attempt up to `maxBackoff`,
    /// and each delay is drawn uniformly from its upper half ("equal jitter").
    public var initialBackoff: Double
    /// The longest delay between attempts, in seconds (default 20).
    public var maxBackoff: Double
    /// Seconds without a byte sent or received after which a request is cancelled and retried (default 30).
    public var stallTimeout: Double
    /// Bodies larger than this many bytes go up as a multipart upload (default 64 MiB).
    public var multipartThreshold: Int
    /// Bytes per multipart part (default 16 MiB; S3 needs at least 5 MiB for all parts but the last).
    public var partSize: Int

    /// Creates a policy; every argument defaults to the value documented on its property.
    public init(
        maxAttempts: Int = 5, initialBackoff: Double = 0.2, maxBackoff: Double = 20, stallTimeout: Double = 30,
        multipartThreshold: Int = 64 << 20, partSize: Int = 16 << 20
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.stallTimeout = stallTimeout
        self.multipartThreshold = multipartThreshold
        self.partSize = partSize
    }

    /// The delay before attempt `attempt + 1`, in seconds.
    func backoff(after attempt: Int) -> Double {
        let ceiling = min(maxBackoff, initialBackoff * pow(2, Double(attempt - 1)))
        return ceiling / 2 + Double.random(in: 0...(ceiling / 2))
    }
}

/// Where the bucket name goes in request URLs
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html>).
public enum S3Addressing: Sendable, Equatable {
    /// `https://<endpoint>/<bucket>/<key>` (MinIO, moto, most S3-compatible servers).
    case path
    /// `https://<bucket>.<endpoint>/<key>` (AWS's default).
    case virtualHost
}

/// A write condition for ``S3Client/put(_:_:condition:)``
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>).
public enum WriteCondition: Sendable, Equatable {
    /// Unconditional.
    case none
    /// Only if the key does not exist (`If-None-Match: *`).
    case ifNoneMatch
    /// Only if the key's current ETag is this one (`If-Match: "<etag>"`); quotes optional.
    case ifMatch(String)
}

/// One object in a listing.
public struct S3Object: Sendable, Equatable {
    /// The full key in the bucket.
    public var key: String
    /// Size in bytes.
    public var size: UInt64
    /// The ETag without quotes.
    public var etag: String
    /// When it was last written (the listing's `LastModified`), nil when absent or unparsable.
    public var modified: Date? = nil
}

/// A blocking S3 client: GET (ranged), HEAD, PUT (conditional), multipart upload,
/// ListObjectsV2, DELETE and CreateBucket, signed with ``SigV4Signer``.
///
/// Every call blocks the calling thread; run calls on worker threads for parallel transfers.
/// Each request is retried per ``TransferPolicy`` on HTTP 5xx and 429, S3's `SlowDown`,
/// `RequestTimeout` and `InternalError`, stalls and connection errors; other errors are thrown at
/// once as ``RemoteError``. ETags are returned without their quotes.
public final class S3Client: Sendable {
    /// The service endpoint (`https://s3.<region>.amazonaws.com`, `http://127.0.0.1:5000`).
    public let endpoint: URL
    /// The region in the signature scope.
    public let region: String
    /// The bucket every call addresses.
    public let bucket: String
    /// Path-style or virtual-host addressing.
    public let addressing: S3Addressing
    /// The retry, stall and multipart settings.
    public let policy: TransferPolicy
    private let signer: SigV4Signer
    private let transport = HTTPTransport()

    /// Creates a client for one bucket.
    /// - Parameters:
    ///   - bucket: the bucket name.
    ///   - region: the region (see ``AWSCredentials/region(environment:)``).
    ///   - endpoint: the endpoint; nil means `https://s3.<region>.amazonaws.com`.
    ///   - addressing: nil means virtual-host for the default AWS endpoint and path-style for any
    ///     explicit endpoint.
    ///   - credentials: the keys that sign every request.
    ///   - policy: retries, stall timeout, multipart sizes.
    public init(
        bucket: String, region: String, endpoint: URL? = nil, addressing: S3Addressing? = nil,
        credentials: AWSCredentials, policy: TransferPolicy = TransferPolicy()
    ) {
        self.bucket = bucket
        self.region = region
        self.endpoint = endpoint ?? URL(string: "https://s3.\(region).amazonaws.com")!
        self.addressing = addressing ?? (endpoint == nil ? .virtualHost : .path)
        self.policy = policy
        self.signer = SigV4Signer(credentials: credentials, region: region, service: "s3")
    }

    deinit { transport.invalidate() }

    // MARK: Operations

    /// Downloads an object or a byte range of it (GetObject,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html>).
    /// - Parameters:
    ///   - range: inclusive byte offsets (`Range: bytes=a-b`); S3 clips the end to the object's size.
    /// - Returns: the bytes and the object's ETag.
    /// - Throws: `RemoteError` `.notFound` when the key is absent; see the type for the others.
    public func get(_ key: String, range: ClosedRange<UInt64>? = nil) throws -> (data: Data, etag: String) {
        var headers: [String: String] = [:]
        if let range { headers["Range"] = "bytes=\(range.lowerBound)-\(range.upperBound)" }
        let r = try request("GET", key: key, headers: headers)
        var data = r.body
        if let range, r.status == 200 {  // a server that ignores Range sends everything
            let lo = Int(min(range.lowerBound, UInt64(data.count)))
            let hi = Int(min(range.upperBound + 1, UInt64(data.count)))
            data = data.subdata(in: lo..<hi)
        }
        return (data, Self.unquote(r.header("ETag") ?? ""))
    }

    /// The size in bytes and ETag of an object, or nil when it does not exist (HeadObject,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html>).
    /// - Throws: `RemoteError` for errors other than 404.
    public func head(_ key: String) throws -> (size: UInt64, etag: String)? {
        let r = try request("HEAD", key: key, accept: [404])
        if r.status == 404 { return nil }
        return (UInt64(r.header("Content-Length") ?? "") ?? 0, Self.unquote(r.header("ETag") ?? ""))
    }

    /// Uploads `data` in one request (PutObject,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html>), optionally conditional.
    ///
    /// If a conditional put fails with 412 after a retried attempt, the object is checked: when
    /// its ETag is the MD5 of `data` the earlier attempt won and its ETag is returned.
    /// - Returns: the new object's ETag.
    /// - Throws: `RemoteError.preconditionFailed(key)` when the condition does not hold (HTTP 412,
    ///   or 409 `ConditionalRequestConflict` when a concurrent write raced).
    @discardableResult
    public func put(_ key: String, _ data: Data, condition: WriteCondition = .none) throws -> String {
        // Content-MD5: S3 refuses a body that arrived damaged (BadDigest) instead of storing it.
        var headers = [
            "Content-Type": "application/octet-stream", "Content-MD5": Data(Insecure.MD5.hash(data: data)).base64EncodedString(),
        ]
        switch condition {
        case .none: break
        case .ifNoneMatch: headers["If-None-Match"] = "*"
        case .ifMatch(let etag): headers["If-Match"] = "\"\(Self.unquote(etag))\""
        }
        var attempts = 0
        do {
            let r = try request("PUT", key: key, headers: headers, body: data, attempts: &attempts)
            return Self.unquote(r.header("ETag") ?? "")
        } catch let e as RemoteError where e.code == .preconditionFailed && attempts > 1 && condition != .none {
            let md5 = SigV4Signer.hex(Insecure.MD5.hash(data: data))
            if let now = try head(key), now.etag == md5 { return md5 }
            throw e
        }
    }

    /// Uploads a file: one PutObject up to `policy.multipartThreshold` bytes, else a multipart upload
    /// of `policy.partSize` parts read one at a time (CreateMultipartUpload, UploadPart,
    /// CompleteMultipartUpload; <https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html>).
    /// Each part is retried on its own; if the upload fails it is aborted (AbortMultipartUpload)
    /// so no parts are left billed.
    /// - Returns: the object's ETag (`<hex>-<parts>` for multipart uploads).
    /// - Throws: `RemoteError` `.io` when the file cannot be read; S3 errors as for ``put(_:_:condition:)``.
    @discardableResult
    public func putLarge(_ key: String, fileURL: URL) throws -> String {
        let path = fileURL.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.posixError("cannot open", path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.posixError("cannot stat", path) }
        let size = Int(st.st_size)
        let read = { (offset: Int, count: Int) throws -> Data in
            var d = Data(count: count)
            var done = 0
            while done < count {
                let n = d.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 {
                    throw n == 0
                        ? RemoteError(.io, "cannot read '\(path)': it shrank while uploading", subject: path)
                        : Self.posixError("cannot read", path)
                }
                done += n
            }
            return d
        }
        if size <= policy.multipartThreshold { return try put(key, read(0, size)) }
        return try multipart(key, size: size, read: read)
    }

    /// Uploads in-memory bytes like ``putLarge(_:fileURL:)``.
    @discardableResult
    public func putLarge(_ key: String, data: Data) throws -> String {
        if data.count <= policy.multipartThreshold { return try put(key, data) }
        return try multipart(key, size: data.count) { offset, count in
            data.subdata(in: data.startIndex + offset..<data.startIndex + offset + count)
        }
    }

    /// Every object whose key starts with `prefix`, in key order (ListObjectsV2,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>), following
    /// continuation tokens page by page.
    /// - Parameters:
    ///   - pageSize: `max-keys` per request; nil leaves S3's default (1000).
    /// - Complexity: one request per page.
    public func list(prefix: String, pageSize: Int? = nil) throws -> [S3Object] {
        var out: [S3Object] = []
        var token: String?
        repeat {
            var query: [(String, String?)] = [("list-type", "2"), ("prefix", prefix)]
            if let pageSize { query.append(("max-keys", String(pageSize))) }
            if let token { query.append(("continuation-token", token)) }
            let r = try request("GET", key: nil, query: query)
            guard let root = XMLElementNode.parse(r.body), root.name == "ListBucketResult" else {
                throw RemoteError(
                    .protocolViolation, "cannot read the listing of 's3://\(bucket)/\(prefix)': not a ListBucketResult",
                    subject: prefix)
            }
            for c in root.all("Contents") {
                guard let key = c.text("Key") else { continue }
                out.append(
                    S3Object(
                        key: key, size: UInt64(c.text("Size") ?? "") ?? 0, etag: Self.unquote(c.text("ETag") ?? ""),
                        modified: c.text("LastModified").flatMap(Self.parseTimestamp)))
            }
            token = root.text("IsTruncated") == "true" ? root.text("NextContinuationToken") : nil
        } while token != nil
        return out
    }

    /// Deletes an object; deleting a missing key succeeds (DeleteObject,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html>).
    /// - Warning: the object is gone unless the bucket keeps versions.
    public func delete(_ key: String) throws {
        _ = try request("DELETE", key: key, accept: [404])
    }

    /// Creates the bucket; succeeds if it already exists and is ours (CreateBucket,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html>). Outside
    /// `us-east-1` the region goes in a `CreateBucketConfiguration` body.
    public func createBucket() throws {
        var body: Data?
        if region != "us-east-1" {
            body = Data(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(region.xmlEscaped)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8)
        }
        do {
            _ = try request("PUT", key: nil, headers: body == nil ? [:] : ["Content-Type": "application/xml"], body: body)
        } catch let e as RemoteError where e.s3Code == "BucketAlreadyOwnedByYou" {
            return
        }
    }

    // MARK: Checksums

    /// The hex MD5 of `data`: S3's ETag for a single-part upload of it.
    public static func md5Hex(_ data: Data) -> String { SigV4Signer.hex(Insecure.MD5.hash(data: data)) }

    /// S3's ETag for a multipart upload of `data` in `partSize`-byte parts: the hex MD5 of the
    /// parts' MD5 digests, `-`, the part count.
    public static func multipartETag(_ data: Data, partSize: Int) -> String {
        var digests = Data()
        var offset = 0
        var parts = 0
        while offset < data.count {
            let end = min(data.count, offset + partSize)
            digests.append(contentsOf: Insecure.MD5.hash(data: data[data.startIndex + offset..<data.startIndex + end]))
            offset = end
            parts += 1
        }
        return "\(md5Hex(digests))-\(parts)"
    }

    /// The ETag S3 gives the file at `path` uploaded with ``putLarge(_:fileURL:)`` under this
    /// client's policy: its hex MD5 up to `policy.multipartThreshold` bytes, else the multipart
    /// ETag of `policy.partSize` parts. Read in 16 MiB pieces.
    /// - Throws: `RemoteError.io` when the file cannot be read.
    public func expectedETag(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.posixError("cannot open", path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.posixError("cannot stat", path) }
        let size = Int(st.st_size)
        let multipart = size > policy.multipartThreshold
        let partSize = multipart ? policy.partSize : max(size, 1)
        var digests = Data()
        var parts = 0
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: 16 << 20)
        repeat {
            var md5 = Insecure.MD5()
            let end = min(size, offset + partSize)
            while offset < end {
                let want = min(buffer.count, end - offset)
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(offset)) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw n == 0
                        ? RemoteError(.io, "cannot read '\(path)': it shrank while being read", subject: path)
                        : Self.posixError("cannot read", path)
                }
                buffer.withUnsafeBytes { md5.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                offset += n
            }
            let digest = md5.finalize()
            if !multipart { return SigV4Signer.hex(digest) }
            digests.append(contentsOf: digest)
            parts += 1
        } while offset < size
        return "\(Self.md5Hex(digests))-\(parts)"
    }

    // MARK: Multipart

    private func multipart(_ key: String, size: Int, read: (Int, Int) throws -> Data) throws -> String {
        let start = try request("POST", key: key, query: [("uploads", nil)], headers: ["Content-Type": "application/octet-stream"])
        guard let uploadID = XMLElementNode.parse(start.body)?.text("UploadId"), !uploadID.isEmpty else {
            throw RemoteError(.protocolViolation, "cannot start a multipart upload of '\(key)': no UploadId in the answer", subject: key)
        }
        do {
            var etags: [String] = []
            var offset = 0
            var number = 1
            while offset < size {
                let count = min(policy.partSize, size - offset)
                let part = try read(offset, count)
                let r = try request(
                    "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                    headers: ["Content-MD5": Data(Insecure.MD5.hash(data: part)).base64EncodedString()], body: part)
                guard let etag = r.header("ETag") else {
                    throw RemoteError(.protocolViolation, "cannot upload part \(number) of '\(key)': no ETag in the answer", subject: key)
                }
                etags.append(Self.unquote(etag))
                offset += count
                number += 1
            }
            let parts = etags.enumerated().map { "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\"\($0.element)\"</ETag></Part>" }
            let body = Data(
                "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(parts.joined())</CompleteMultipartUpload>"
                    .utf8)
            // CompleteMultipartUpload may answer 200 with an <Error> body; check() turns that into an error.
            let r = try request(
                "POST", key: key, query: [("uploadId", uploadID)], headers: ["Content-Type": "application/xml"], body: body,
                errorInBody: true)
            let etag = XMLElementNode.parse(r.body)?.text("ETag") ?? r.header("ETag") ?? ""
            return Self.unquote(etag)
        } catch {
            _ = try? request("DELETE", key: key, query: [("uploadId", uploadID)], accept: [404])
            throw error
        }
    }

    // MARK: Requests

    private func request(
        _ method: String, key: String?, query: [(String, String?)] = [], headers: [String: String] = [:],
        body: Data? = nil, accept: Set<Int> = [], errorInBody: Bool = false
    ) throws -> HTTPResponse {
        var attempts = 0
        return try request(
            method, key: key, query: query, headers: headers, body: body, accept: accept,
            errorInBody: errorInBody, attempts: &attempts)
    }

    /// Sends one request with retries; `attempts` counts the attempts made.
    private func request(
        _ method: String, key: String?, query: [(String, String?)] = [], headers: [String: String] = [:],
        body: Data? = nil, accept: Set<Int> = [], errorInBody: Bool = false, attempts: inout Int
    ) throws -> HTTPResponse {
        let url = makeURL(key: key, query: query)
        // Errors name the key, or for a listing the prefix listed (`s3://bucket/team/data/purges/`).
        let shown = key ?? query.first { $0.0 == "prefix" }?.1.flatMap { $0.isEmpty ? nil : $0 }
        let payloadHash = body.map(SigV4Signer.payloadHash) ?? SigV4Signer.emptyPayloadHash
        while true {
            attempts += 1
            do {
                var req = URLRequest(url: url)
                req.httpMethod = method
                for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
                signer.sign(&req, payloadHash: payloadHash)
                let r: HTTPResponse
                do {
                    r = try transport.run(
                        req, body: body ?? (method == "PUT" || method == "POST" ? Data() : nil),
                        stallTimeout: policy.stallTimeout)
                } catch {
                    throw transportError(error, method: method, key: shown)
                }
                if (200..<300).contains(r.status) {
                    if errorInBody, let root = XMLElementNode.parse(r.body), root.name == "Error" {
                        throw httpError(HTTPResponse(status: 500, headers: r.headers, body: r.body), method: method, key: shown)
                    }
                    return r
                }
                if accept.contains(r.status) { return r }
                throw httpError(r, method: method, key: shown)
            } catch let e as RemoteError where e.isRetryable && attempts < policy.maxAttempts {
                Thread.sleep(forTimeInterval: policy.backoff(after: attempts))
            }
        }
    }

    private func makeURL(key: String?, query: [(String, String?)]) -> URL {
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        var path: String
        switch addressing {
        case .path:
            path = "/\(SigV4Signer.uriEncode(bucket))"
            if let key { path += "/\(SigV4Signer.uriEncode(key, encodeSlash: false))" }
        case .virtualHost:
            if let scheme = endpoint.scheme, let host = endpoint.host {
                base = "\(scheme)://\(bucket).\(host)" + (endpoint.port.map { ":\($0)" } ?? "")
            }
            path = "/" + (key.map { SigV4Signer.uriEncode($0, encodeSlash: false) } ?? "")
        }
        var s = base + path
        if !query.isEmpty {
            s +=
                "?"
                + query.map { k, v in SigV4Signer.uriEncode(k) + (v.map { "=" + SigV4Signer.uriEncode($0) } ?? "") }
                .joined(separator: "&")
        }
        return URL(string: s)!
    }

    private var endpointDescription: String { endpoint.absoluteString }

    /// An ISO 8601 timestamp as S3 listings write it (`2026-12-04T17:05:09.000Z`, fractional
    /// seconds optional).
    static func parseTimestamp(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    private func subject(_ key: String?) -> String { key.map { "s3://\(bucket)/\($0)" } ?? "s3://\(bucket)" }

    /// What went wrong with a request that got no HTTP answer, in words (Foundation's own text
    /// on Linux is `The operation could not be completed. (NSURLErrorDomain error -1004.)`).
    static func describe(_ error: Error) -> String {
        guard let u = error as? URLError else { return "\(error)" }
        switch u.code {
        case .cannotConnectToHost: return "connection refused: nothing listens at that address and port"
        case .cannotFindHost, .dnsLookupFailed: return "the host name does not resolve"
        case .networkConnectionLost: return "the connection was closed before the answer was complete"
        case .notConnectedToInternet: return "no network"
        case .secureConnectionFailed: return "the TLS handshake failed"
        case .badServerResponse: return "the answer was not HTTP"
        case .timedOut: return "timed out"
        case .cancelled: return "cancelled"
        default: return "network error \(u.code.rawValue)"
        }
    }

    private func transportError(_ error: Error, method: String, key: String?) -> RemoteError {
        let cause = Self.describe(error)
        if let u = error as? URLError {
            switch u.code {
            case .timedOut:
                return RemoteError(
                    .timeout,
                    "S3 request \(method) '\(subject(key))' stalled: no data for \(String(format: "%g", policy.stallTimeout)) seconds",
                    hint: "check the network, or raise the stall timeout", cause: cause, subject: subject(key))
            case .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .networkConnectionLost, .notConnectedToInternet,
                .secureConnectionFailed, .cannotLoadFromNetwork, .badServerResponse, .resourceUnavailable:
                return RemoteError(
                    .connection, "cannot connect to S3 endpoint '\(endpointDescription)'", cause: cause, subject: endpointDescription)
            default: break
            }
        }
        return RemoteError(
            .connection, "S3 request \(method) '\(subject(key))' to '\(endpointDescription)' failed",
            hint: "check the endpoint and the network", cause: cause, subject: endpointDescription)
    }

    private func httpError(_ r: HTTPResponse, method: String, key: String?) -> RemoteError {
        let root = XMLElementNode.parse(r.body)
        let code = root?.name == "Error" ? root?.text("Code") : nil
        let message = root?.name == "Error" ? root?.text("Message") : nil
        let cause = code.map { "\($0): \(message ?? "")" } ?? "HTTP \(r.status)"
        let keyID = signer.credentials.accessKeyID
        if r.status == 412 || code == "PreconditionFailed" || code == "ConditionalRequestConflict" {
            var e = RemoteError.preconditionFailed(key ?? bucket)
            e.httpStatus = r.status
            e.s3Code = code
            e.cause = Redaction.redact(cause)
            return e
        }
        if code == "NoSuchBucket" {
            return RemoteError(
                .noSuchBucket, "bucket '\(bucket)' does not exist at '\(endpointDescription)'",
                hint: "check the remote URL, or create the bucket first", cause: cause, subject: bucket,
                httpStatus: r.status, s3Code: code)
        }
        if r.status == 404 && (code == nil || code == "NoSuchKey") {
            return RemoteError(
                .notFound, "'\(subject(key))' does not exist", cause: cause, subject: key, httpStatus: r.status, s3Code: code)
        }
        let rejected: Set<String> = [
            "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
            "ExpiredToken", "TokenRefreshRequired", "InvalidClientTokenId",
        ]
        if r.status == 403 || rejected.contains(code ?? "") {
            return RemoteError(
                .credentialsRejected,
                "S3 rejected the credentials of access key '\(keyID)' for \(method) '\(subject(key))'",
                hint:
                    "check AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (these keys came from \(signer.credentials.source)), and that the key may access bucket '\(bucket)'",
                cause: cause, subject: subject(key), httpStatus: r.status, s3Code: code)
        }
        return RemoteError(
            .server, "S3 request \(method) '\(subject(key))' failed with HTTP \(r.status)\(code.map { " (\($0))" } ?? "")",
            cause: cause, subject: subject(key), httpStatus: r.status, s3Code: code)
    }

    static func unquote(_ etag: String) -> String {
        var s = etag.trimmingCharacters(in: .whitespaces)
        if s.hasPrefix("W/") { s.removeFirst(2) }
        if s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") { s = String(s.dropFirst().dropLast()) }
        return s
    }

    static func posixError(_ what: String, _ path: String) -> RemoteError {
        RemoteError(.io, "\(what) '\(path)': \(String(cString: strerror(errno)))", subject: path)
    }
}
