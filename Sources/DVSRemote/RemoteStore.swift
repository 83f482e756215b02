import Crypto
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One object in a remote listing.
///
/// Two entries are equal when key and size are: the ETag is the backend's checksum of the
/// content, present or not depending on the backend.
public struct RemoteObject: Sendable, Equatable {
    /// The key relative to the remote's prefix (`packs/ab12….pack`).
    public var key: String
    /// Size in bytes.
    public var size: UInt64
    /// The backend's checksum of the content as listed (S3's ETag without quotes: the hex MD5
    /// for a single-part upload, `<hex>-<parts>` for a multipart one, something else under
    /// SSE-KMS); nil where the backend has none (folder remotes).
    public var etag: String?
    /// When the object was last written (S3's `LastModified`, a file's mtime); nil when the
    /// backend does not say. `dvs gc --remote` keeps what is younger than its grace period.
    public var modified: Date?

    /// Creates a listing entry.
    public init(key: String, size: UInt64, etag: String? = nil, modified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.modified = modified
    }

    /// Equal key and size (the ETag is not compared).
    public static func == (a: RemoteObject, b: RemoteObject) -> Bool { a.key == b.key && a.size == b.size }
}

/// The storage surface `dvs push` and `dvs fetch` need from a remote (DESIGN.md § Storage 6).
///
/// Keys are `/`-separated strings relative to the remote's prefix, with no empty, `.` or `..`
/// components and no leading `/`. Content-addressed objects are written unconditionally (writes are
/// idempotent); refs are moved with compare-and-swap so two concurrent pushes never lose a commit.
/// One contract test suite (`RemoteStoreContractTests`) runs against every implementation.
public protocol RemoteStore: Sendable {
    /// The whole object, or nil when the key does not exist.
    /// - Throws: `RemoteError` for failures other than absence.
    func get(_ key: String) throws -> Data?
    /// Bytes `range` (inclusive offsets) of an object; the end is clipped to the object's size.
    /// - Throws: `RemoteError.notFound` when the key does not exist.
    func getRange(_ key: String, _ range: ClosedRange<UInt64>) throws -> Data
    /// Stores `data` at `key`, replacing what is there. Idempotent.
    func put(_ key: String, _ data: Data) throws
    /// Stores the file at `localPath` at `key` without holding it in memory at once where the
    /// backend allows (S3: multipart above the client's threshold).
    /// - Throws: `RemoteError.io` when the file cannot be read.
    func putFile(_ key: String, localPath: String) throws
    /// Every object whose key starts with `prefix` (a string prefix, not only a folder), in key order.
    func list(prefix: String) throws -> [RemoteObject]
    /// A ref's content and version, or nil when it does not exist. Pass the version to
    /// ``writeRef(_:_:expected:)`` to move the ref only if nobody else did.
    func readRef(_ key: String) throws -> (data: Data, version: String)?
    /// Writes a ref by compare-and-swap.
    /// - Parameters:
    ///   - expected: nil when the ref must not exist yet; else the version it must still have.
    /// - Returns: the ref's new version.
    /// - Throws: `RemoteError.preconditionFailed(key)` when the ref exists (expected nil) or has another
    ///   version; the ref is then unchanged.
    @discardableResult func writeRef(_ key: String, _ data: Data, expected: String?) throws -> String
    /// Deletes an object; deleting a missing key succeeds.
    /// - Warning: the object is gone for good.
    func delete(_ key: String) throws
    /// The checksum a listing shows (``RemoteObject/etag``) after `data` was stored with
    /// ``put(_:_:)``, or nil when this backend lists none. Equal to a listed ETag, it confirms
    /// the remote holds exactly these bytes without downloading them.
    func listedChecksum(of data: Data) -> String?
    /// The checksum a listing shows after the file at `localPath` was stored with
    /// ``putFile(_:localPath:)`` (for S3 the multipart ETag above the client's threshold), or nil
    /// when this backend lists none.
    /// - Throws: `RemoteError.io` when the file cannot be read.
    func listedChecksum(ofFile localPath: String) throws -> String?
}

extension RemoteStore {
    /// None by default: the caller reads the content to check it.
    public func listedChecksum(of data: Data) -> String? { nil }
    /// None by default: the caller reads the content to check it.
    public func listedChecksum(ofFile localPath: String) throws -> String? { nil }
}

/// Checks a relative key. - Throws: `RemoteError.invalidInput` naming the key.
func validateKey(_ key: String) throws {
    let parts = key.split(separator: "/", omittingEmptySubsequences: false)
    guard !key.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }), !key.contains("\0") else {
        throw RemoteError(
            .invalidInput, "invalid remote key '\(key)': empty, '.' or '..' component",
            hint: "keys are relative, '/'-separated paths such as 'packs/ab12.pack'", subject: key)
    }
}

// MARK: - S3

/// A remote in an S3 bucket under a prefix (`s3://bucket/prefix`).
///
/// Object `k` is stored at `<prefix>/k`. A ref's version is its ETag (without quotes);
/// ``writeRef(_:_:expected:)`` is a PutObject with `If-None-Match: *` or `If-Match: "<etag>"`
/// (S3 conditional writes, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>).
public final class S3RemoteStore: RemoteStore {
    /// The client (bucket, endpoint, credentials, policy).
    public let client: S3Client
    /// The key prefix without leading or trailing `/`; empty for the bucket's root.
    public let prefix: String
    /// `max-keys` for listings; nil uses S3's default of 1000 (tests lower it to exercise paging).
    public let listPageSize: Int?

    /// Creates a store on `client`'s bucket under `prefix`.
    public init(client: S3Client, prefix: String, listPageSize: Int? = nil) {
        self.client = client
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.listPageSize = listPageSize
    }

    private func full(_ key: String) throws -> String {
        try validateKey(key)
        return prefix.isEmpty ? key : "\(prefix)/\(key)"
    }

    public func get(_ key: String) throws -> Data? {
        do { return try client.get(full(key)).data } catch let e as RemoteError where e.code == .notFound { return nil }
    }

    public func getRange(_ key: String, _ range: ClosedRange<UInt64>) throws -> Data {
        try client.get(full(key), range: range).data
    }

    public func put(_ key: String, _ data: Data) throws {
        if data.count > client.policy.multipartThreshold {
            try client.putLarge(full(key), data: data)
        } else {
            try client.put(full(key), data)
        }
    }

    public func putFile(_ key: String, localPath: String) throws {
        try client.putLarge(full(key), fileURL: URL(fileURLWithPath: localPath))
    }

    public func list(prefix p: String) throws -> [RemoteObject] {
        let base = prefix.isEmpty ? "" : prefix + "/"
        return try client.list(prefix: base + p, pageSize: listPageSize).map {
            RemoteObject(
                key: String($0.key.dropFirst(base.count)), size: $0.size, etag: $0.etag.isEmpty ? nil : $0.etag, modified: $0.modified)
        }
    }

    /// The ETag S3 gives a single-part upload of `data`: its hex MD5 (not under SSE-KMS or
    /// SSE-C, where a listed ETag then simply does not match and the caller reads the content).
    public func listedChecksum(of data: Data) -> String? {
        data.count > client.policy.multipartThreshold
            ? S3Client.multipartETag(data, partSize: client.policy.partSize) : S3Client.md5Hex(data)
    }

    public func listedChecksum(ofFile localPath: String) throws -> String? {
        try client.expectedETag(ofFile: localPath)
    }

    public func readRef(_ key: String) throws -> (data: Data, version: String)? {
        do {
            let r = try client.get(full(key))
            return (r.data, r.etag)
        } catch let e as RemoteError where e.code == .notFound { return nil }
    }

    public func writeRef(_ key: String, _ data: Data, expected: String?) throws -> String {
        let k = try full(key)
        do {
            return try client.put(k, data, condition: expected.map { .ifMatch($0) } ?? .ifNoneMatch)
        } catch let e as RemoteError
            where e.code == .preconditionFailed
            || (e.code == .notFound && expected != nil)
        {  // If-Match on a missing key: 404 NoSuchKey
            var lost = RemoteError.preconditionFailed(key)
            lost.httpStatus = e.httpStatus
            lost.s3Code = e.s3Code
            lost.cause = e.cause
            throw lost
        }
    }

    public func delete(_ key: String) throws { try client.delete(full(key)) }
}

// MARK: - Folder

/// A remote in a plain folder (local disk or NFS).
///
/// Object `k` is the file `<root>/k`. Writes go to a temp file in `<root>/.tmp`, are fsynced and
/// renamed into place, so readers see the old or the new content, never a mix. A ref's version is
/// the lower-case hex SHA-256 of its content; ``writeRef(_:_:expected:)`` holds an exclusive `flock`
/// on `<root>/.lock` around read, compare and write, so concurrent writers (threads or processes,
/// also over NFSv4 where `flock` maps to byte-range locks) serialize. Keys whose first component
/// starts with `.` are reserved.
public final class PathRemoteStore: RemoteStore {
    /// The remote's folder (absolute).
    public let root: String
    /// Seconds ``writeRef(_:_:expected:)`` waits for the lock before failing.
    public let lockTimeout: Double

    /// Opens (and creates if needed) the folder remote at `root`.
    /// - Throws: `RemoteError.io` when the folder cannot be created.
    public init(root: String, lockTimeout: Double = 60) throws {
        self.root = root
        self.lockTimeout = lockTimeout
        do {
            try FileIO.makeDirectories(root)
            try FileIO.makeDirectories(root + "/.tmp")
        } catch {
            throw RemoteError(.io, "cannot create the folder remote '\(root)'", cause: "\(error)", subject: root)
        }
    }

    private func path(_ key: String) throws -> String {
        try validateKey(key)
        if key.hasPrefix(".") {
            throw RemoteError(.invalidInput, "invalid remote key '\(key)': names starting with '.' are reserved", subject: key)
        }
        return "\(root)/\(key)"
    }

    private func io<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as StorageError {
            var wrapped = RemoteError(e.code == .notFound ? .notFound : .io, e.message, cause: e.cause)
            wrapped.underlying = e
            throw wrapped
        }
    }

    public func get(_ key: String) throws -> Data? {
        let p = try path(key)
        do { return Data(try FileIO.read(p)) } catch let e as StorageError where e.code == .notFound { return nil } catch let e
            as StorageError
        {
            var wrapped = RemoteError(.io, e.message, cause: e.cause, subject: p)
            wrapped.underlying = e
            throw wrapped
        }
    }

    public func getRange(_ key: String, _ range: ClosedRange<UInt64>) throws -> Data {
        let p = try path(key)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw RemoteError(.notFound, "'\(key)' does not exist in '\(root)'", subject: key) }
            throw S3Client.posixError("cannot open", p)
        }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = UInt64(max(0, st.st_size))
        guard range.lowerBound < size else { return Data() }
        let count = Int(min(range.upperBound + 1, size) - range.lowerBound)
        var d = Data(count: count)
        var done = 0
        while done < count {
            let n = d.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(range.lowerBound) + off_t(done)) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw S3Client.posixError("cannot read", p) }
            if n == 0 { break }
            done += n
        }
        return d.prefix(done)
    }

    public func put(_ key: String, _ data: Data) throws {
        let p = try path(key)
        try io {
            try FileIO.makeDirectories((p as NSString).deletingLastPathComponent)
            try FileIO.writeAtomically([UInt8](data), to: p, tmpDir: root + "/.tmp")
        }
    }

    public func putFile(_ key: String, localPath: String) throws {
        let p = try path(key)
        let src = open(localPath, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw S3Client.posixError("cannot open", localPath) }
        defer { close(src) }
        try io { try FileIO.makeDirectories((p as NSString).deletingLastPathComponent) }
        let (fd, tmp) = try io { try FileIO.makeTemp(in: root + "/.tmp") }
        var open = true  // closed exactly once: a second close could hit another thread's descriptor
        do {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(src, $0.baseAddress!, $0.count) }
                if n < 0, errno == EINTR { continue }
                if n < 0 { throw S3Client.posixError("cannot read", localPath) }
                if n == 0 { break }
                try io {
                    try buffer.withUnsafeBytes { try FileIO.writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: tmp) }
                }
            }
            guard fsync(fd) == 0 else { throw S3Client.posixError("cannot fsync", tmp) }
            // Renamed while still open (and so locked), as `FileIO.makeTemp` asks.
            guard rename(tmp, p) == 0 else { throw S3Client.posixError("cannot rename into", p) }
            close(fd)
            open = false
        } catch {
            if open { close(fd) }
            unlink(tmp)
            throw error
        }
        FileIO.syncDirectory((p as NSString).deletingLastPathComponent)
    }

    public func list(prefix: String) throws -> [RemoteObject] {
        // Walk the deepest folder the prefix names, then filter by the whole prefix.
        let folder = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
        var out: [RemoteObject] = []
        func walk(_ rel: String) throws {
            let dir = rel.isEmpty ? root : "\(root)/\(rel)"
            guard let d = opendir(dir) else {
                if errno == ENOENT || errno == ENOTDIR { return }
                throw S3Client.posixError("cannot list", dir)
            }
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name == "." || name == ".." || (rel.isEmpty && name.hasPrefix(".")) { continue }
                let key = rel.isEmpty ? name : "\(rel)/\(name)"
                var st = stat()
                guard lstat("\(root)/\(key)", &st) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    if prefix.hasPrefix(key + "/") || (key + "/").hasPrefix(prefix) || key.hasPrefix(prefix) { try walk(key) }
                } else if (st.st_mode & S_IFMT) == S_IFREG, key.hasPrefix(prefix) {
                    let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                    out.append(RemoteObject(key: key, size: UInt64(st.st_size), modified: Date(timeIntervalSince1970: mtime)))
                }
            }
        }
        try walk(folder)
        return out.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    public func readRef(_ key: String) throws -> (data: Data, version: String)? {
        guard let data = try get(key) else { return nil }
        return (data, Self.version(of: data))
    }

    public func writeRef(_ key: String, _ data: Data, expected: String?) throws -> String {
        let p = try path(key)
        let lockPath = root + "/.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw S3Client.posixError("cannot open lock file", lockPath) }
        defer { close(fd) }  // closing the descriptor releases the lock
        let deadline = Date().addingTimeInterval(lockTimeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw S3Client.posixError("cannot lock", lockPath) }
            if Date() >= deadline {
                throw RemoteError(
                    .timeout, "cannot lock '\(lockPath)': another writer held it for \(Int(lockTimeout)) seconds",
                    hint: "retry the push; if no push is running, check for a hung process on the machine that holds the lock",
                    subject: lockPath)
            }
            usleep(2_000)
        }
        let current = try get(key).map(Self.version(of:))
        guard current == expected else { throw RemoteError.preconditionFailed(key) }
        try io {
            try FileIO.makeDirectories((p as NSString).deletingLastPathComponent)
            try FileIO.writeAtomically([UInt8](data), to: p, tmpDir: root + "/.tmp")
        }
        return Self.version(of: data)
    }

    public func delete(_ key: String) throws {
        let p = try path(key)
        if unlink(p) != 0, errno != ENOENT { throw S3Client.posixError("cannot delete", p) }
    }

    /// A ref's version: lower-case hex SHA-256 of its content.
    public static func version(of data: Data) -> String { SigV4Signer.hex(SHA256.hash(data: data)) }
}

// MARK: - URLs

/// Where a remote lives: `s3://bucket/prefix` or a folder path.
public enum RemoteURL: Sendable, Equatable, CustomStringConvertible {
    /// An S3 bucket and a key prefix without leading or trailing `/` (may be empty).
    case s3(bucket: String, prefix: String)
    /// An absolute folder path.
    case path(String)

    /// Parses a remote URL.
    ///
    /// Accepts `s3://bucket[/prefix]` (bucket names per S3's rules: 3–63 characters of `a-z 0-9 . -`),
    /// `file:///abs/path`, and folder paths (absolute, `~/…`, or relative to `currentDirectory`).
    /// - Throws: `RemoteError.invalidInput` for other schemes (`http://`, `gs://`, `host:path`),
    ///   an empty string or a bad bucket name, with a hint showing the accepted forms; for a URL
    ///   with credentials (`s3://key:secret@bucket`), with a hint to use the AWS variables.
    public static func parse(
        _ string: String,
        currentDirectory: String = "/"
    ) throws -> RemoteURL {
        let hint = "use s3://bucket/prefix or a folder path such as /mnt/share/dataset.dvs"
        let s = string.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { throw RemoteError(.invalidInput, "empty remote URL", hint: hint) }
        if let refusal = Redaction.credentialsInURL(s, what: "remote URL") { throw refusal }
        if s.lowercased().hasPrefix("s3://") {
            let rest = s.dropFirst(5)
            let bucket = String(rest.prefix { $0 != "/" })
            let prefix = rest.dropFirst(bucket.count).split(separator: "/").joined(separator: "/")
            let ok =
                (3...63).contains(bucket.count)
                && bucket.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "." || $0 == "-" }
                && bucket.first.map { $0.isLetter || $0.isNumber } == true
            guard ok else {
                throw RemoteError(
                    .invalidInput, "invalid S3 bucket name '\(Redaction.redact(bucket))' in remote URL '\(Redaction.redact(string))'",
                    hint: "bucket names are 3 to 63 characters of lower-case letters, digits, '.' and '-'",
                    subject: Redaction.redact(string))
            }
            return .s3(bucket: bucket, prefix: prefix)
        }
        if s.hasPrefix("file://") {
            let p = String(s.dropFirst(7))
            guard p.hasPrefix("/") else {
                throw RemoteError(
                    .invalidInput, "invalid file URL '\(Redaction.redact(string))': the path must be absolute", hint: hint,
                    subject: Redaction.redact(string))
            }
            return .path(p.removingPercentEncoding ?? p)
        }
        if let r = s.range(of: "://") {
            throw RemoteError(
                .invalidInput, "unsupported remote URL scheme '\(s[..<r.lowerBound])' in '\(Redaction.redact(string))'", hint: hint,
                subject: Redaction.redact(string))
        }
        if let colon = s.firstIndex(of: ":"), !s[..<colon].contains("/") {
            throw RemoteError(
                .invalidInput, "unsupported remote URL '\(Redaction.redact(string))' (ssh-style host:path is not supported)", hint: hint,
                subject: Redaction.redact(string))
        }
        var p = (s as NSString).expandingTildeInPath
        if !p.hasPrefix("/") { p = currentDirectory + "/" + p }
        return .path(URL(fileURLWithPath: p).standardizedFileURL.path)
    }

    /// `s3://bucket/prefix` or the folder path.
    public var description: String {
        switch self {
        case .s3(let bucket, let prefix): return prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)"
        case .path(let p): return p
        }
    }

    /// Opens a store for this URL. Folder remotes are created if missing. S3 remotes resolve
    /// credentials and region from `environment` (see ``AWSCredentials/resolve(environment:)``)
    /// and the endpoint from `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (path-style when set).
    /// - Throws: `RemoteError` `.credentialsMissing`, `.invalidInput` for a bad endpoint, `.io`.
    public func open(
        environment: [String: String],
        policy: TransferPolicy = TransferPolicy()
    ) throws -> any RemoteStore {
        switch self {
        case .path(let p):
            return try PathRemoteStore(root: p)
        case .s3(let bucket, let prefix):
            let creds = try AWSCredentials.resolve(environment: environment)
            var endpoint: URL?
            if let e = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !e.isEmpty {
                if let refusal = Redaction.credentialsInURL(e, what: "S3 endpoint") { throw refusal }
                guard let u = URL(string: e), u.scheme != nil, u.host != nil else {
                    throw RemoteError(
                        .invalidInput, "invalid S3 endpoint '\(Redaction.redact(e))'",
                        hint: "set AWS_ENDPOINT_URL to a URL such as http://127.0.0.1:9000", subject: Redaction.redact(e))
                }
                endpoint = u
            }
            let client = S3Client(
                bucket: bucket, region: AWSCredentials.region(environment: environment), endpoint: endpoint,
                credentials: creds, policy: policy)
            return S3RemoteStore(client: client, prefix: prefix)
        }
    }
}
