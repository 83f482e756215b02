import Foundation

/// An error from a remote: S3, a folder remote, credentials or a remote URL.
///
/// Messages name the subject (key, bucket, endpoint, access key id) and never contain a secret
/// key, a session token or a signed URL.
public struct RemoteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable, Equatable {
        /// A conditional write lost: the object exists (`If-None-Match: *`) or changed (`If-Match`).
        case preconditionFailed
        /// The key does not exist (S3 `NoSuchKey`, HTTP 404; a missing file).
        case notFound
        /// The bucket does not exist (S3 `NoSuchBucket`).
        case noSuchBucket
        /// S3 refused the credentials or denied access (HTTP 403: `InvalidAccessKeyId`,
        /// `SignatureDoesNotMatch`, `AccessDenied`, `ExpiredToken`…).
        case credentialsRejected
        /// No credentials could be found.
        case credentialsMissing
        /// The endpoint could not be reached (connection refused, DNS, TLS, reset).
        case connection
        /// No bytes moved for the stall timeout, or the server asked to slow down, on every attempt.
        case timeout
        /// Any other error answer from S3 (see `s3Code` and `httpStatus`).
        case server
        /// The remote URL or a key is not acceptable.
        case invalidInput
        /// A local file operation failed (folder remotes, reading a file to upload).
        case io
        /// The server's answer could not be understood (malformed XML, missing ETag).
        case protocolViolation
    }

    /// What kind of failure.
    public var code: Code
    /// What failed, lower-case, naming the subject: `cannot write ref 'refs/main': it changed since it was read`.
    public var message: String
    /// The exact next step, if there is one.
    public var hint: String?
    /// The underlying cause (S3's `Code: Message`, an errno text, a URLError).
    public var cause: String?
    /// The key, bucket, path or endpoint the error is about.
    public var subject: String?
    /// The HTTP status, when the error came from an HTTP answer.
    public var httpStatus: Int?
    /// S3's error `Code` element (`SlowDown`, `NoSuchKey`), when there was one.
    public var s3Code: String?
    /// The lower-level error this one was made from (a `StorageError` of a folder remote), when
    /// there was one. Not part of equality.
    public var underlying: (any Error & Sendable)?

    /// Creates an error; signatures, session tokens, `Authorization` values and URL passwords in
    /// `message`, `cause` and `subject` are replaced by ``Redaction/placeholder``.
    public init(
        _ code: Code, _ message: String, hint: String? = nil, cause: String? = nil, subject: String? = nil,
        httpStatus: Int? = nil, s3Code: String? = nil
    ) {
        self.code = code
        // What a server sent may echo the request's signature or session token: never shown.
        self.message = Redaction.redact(message)
        self.hint = hint
        self.cause = cause.map(Redaction.redact)
        self.subject = subject.map(Redaction.redact)
        self.httpStatus = httpStatus
        self.s3Code = s3Code
    }

    /// Equal when every field but ``underlying`` is equal.
    public static func == (a: RemoteError, b: RemoteError) -> Bool {
        a.code == b.code && a.message == b.message && a.hint == b.hint && a.cause == b.cause && a.subject == b.subject
            && a.httpStatus == b.httpStatus && a.s3Code == b.s3Code
    }

    /// The compare-and-swap loss of ``RemoteStore/writeRef(_:_:expected:)`` and conditional puts.
    public static func preconditionFailed(_ key: String) -> RemoteError {
        RemoteError(
            .preconditionFailed, "cannot write '\(key)': it was changed by someone else",
            hint: "fetch the remote again, then retry the push", subject: key)
    }

    /// The message, then `hint:` and `caused by:` lines when present.
    public var description: String {
        var s = message
        if let hint { s += "\nhint: \(hint)" }
        if let cause { s += "\ncaused by: \(cause)" }
        return s
    }

    /// Whether another attempt may succeed (5xx, 429, `SlowDown`, timeouts, connection errors).
    var isRetryable: Bool {
        switch code {
        case .timeout, .connection: return true
        case .server:
            if let s = httpStatus, s >= 500 || s == 429 { return true }
            return ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling"].contains(s3Code ?? "")
        default: return false
        }
    }
}
