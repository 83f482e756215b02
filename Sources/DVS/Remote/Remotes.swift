import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

/// A named remote as the catalog's `config` table records it (`remote.<name>.url`, …).
///
/// Credentials are never part of it: S3 remotes take them from the AWS environment variables or
/// `~/.aws/credentials` (`AWS_PROFILE`) each time they are opened.
public struct RemoteConfig: Sendable, Equatable {
    /// The remote's name (`origin`).
    public var name: String
    /// Where it lives: `s3://bucket/prefix` or a folder path.
    public var url: RemoteURL
    /// An S3 endpoint other than AWS's (`http://127.0.0.1:9000` for MinIO or moto); nil for AWS,
    /// or `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` from the environment.
    public var endpoint: String?
    /// The S3 region; nil takes `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
    public var region: String?
    /// Path-style S3 addressing (`endpoint/bucket/key`), which MinIO and moto need.
    public var pathStyle: Bool
    /// Parallel transfers (`remote.<name>.transfers`, default 8).
    public var transfers: Int

    /// Creates a configuration.
    public init(name: String, url: RemoteURL, endpoint: String? = nil, region: String? = nil, pathStyle: Bool = false, transfers: Int = 8) {
        self.name = name
        self.url = url
        self.endpoint = endpoint
        self.region = region
        self.pathStyle = pathStyle
        self.transfers = transfers
    }

    /// What a folder remote may hold at its top: the layout dvs writes (`schema/FORMAT.md`
    /// § Remotes).
    static let remoteFolderNames: Set<String> = ["bundles", "objects", "packs", "purges", "records", "refs", "messages", "gc"]
    /// What a file system or NAS puts at the root of a volume or in any folder, let be in a new
    /// remote: a remote at a mount root (`lost+found`; Windows' `System Volume Information` and
    /// `$RECYCLE.BIN`; Synology's `@eaDir` and `#recycle`) or browsed by a file manager
    /// (`Thumbs.db`, `desktop.ini`). Names starting with '.' other than `.dvs` are let be too.
    static let systemFolderNames: Set<String> = [
        "lost+found", "System Volume Information", "$RECYCLE.BIN", "@eaDir", "#recycle", "Thumbs.db", "desktop.ini",
    ]

    /// Why the folder at `path` cannot be a remote, or nil when it can: it is a repository's
    /// working tree (it holds `.dvs`; read as a remote it has no branches), or it holds files a
    /// remote does not while it has no remote layout yet (a folder of recordings given by
    /// mistake): either way a push would write the layout among them. An empty folder, one that
    /// does not exist yet, and a remote already in use (it has `refs/` or `packs/`: a README put
    /// beside them does not lock its users out) can be.
    public static func notARemoteFolder(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path + "/" + Repository.folderName, isDirectory: &isDirectory), isDirectory.boolValue {
            return
                "'\(path)' is a dvs repository's working tree (it holds \(Repository.folderName)), not a remote: a remote is the folder or bucket a push writes to"
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            return "'\(path)' is a file, not a folder: a remote is the folder or bucket a push writes to"
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        if names.contains("refs") || names.contains("packs") { return nil }
        let foreign = names.filter { !$0.hasPrefix(".") && !remoteFolderNames.contains($0) && !systemFolderNames.contains($0) }
        guard !foreign.isEmpty else { return nil }
        let shown =
            foreign.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (foreign.count > 3 ? " and \(foreign.count - 3) more" : "")
        return
            "'\(path)' holds files a dvs remote does not (\(shown)) and no remote yet, so it is not one: a remote is the folder or bucket a push writes to, holding only what dvs writes there"
    }

    /// Refuses a folder that cannot be a remote (``notARemoteFolder(_:)``).
    /// - Throws: `DVSError.remote` naming the remote and the folder.
    static func refuseNonRemoteFolder(_ path: String, remote name: String) throws {
        if let why = notARemoteFolder(path) {
            throw DVSError(.remote, "remote '\(name)' cannot be used: \(why)", next: .giveRemoteLocation)
        }
    }

    /// Opens the store.
    /// - Parameter environment: where AWS credentials, region and a default endpoint come from
    ///   (a repository passes its ``ProcessContext/environment``).
    /// - Throws: `DVSError.remote` when no credentials are found, or a folder remote cannot be
    ///   one (``notARemoteFolder(_:)``); `.badInput` for a bad endpoint.
    public func open(environment: [String: String]) throws -> any RemoteStore {
        do {
            switch url {
            case .path(let p):
                try Self.refuseNonRemoteFolder(p, remote: name)
                return try PathRemoteStore(root: p)
            case .s3(let bucket, let prefix):
                let creds = try AWSCredentials.resolve(environment: environment)
                var endpointURL: URL?
                if let e = endpoint ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !e.isEmpty {
                    if Redaction.credentialsInURL(e, what: "endpoint") != nil {
                        // Stored by an older dvs (or set in AWS_ENDPOINT_URL): refused, and shown without them.
                        throw DVSError(
                            .badInput,
                            "the S3 endpoint '\(Redaction.redact(e))' of remote '\(name)' holds credentials (user:password@), which dvs does not use; give the keys through AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
                            next: .readdRemoteWithEndpoint(remote: name))
                    }
                    guard let u = URL(string: e), u.scheme != nil, u.host != nil else {
                        throw DVSError(
                            .badInput, "invalid S3 endpoint '\(Redaction.redact(e))' for remote '\(name)'",
                            next: .readdRemoteWithEndpoint(remote: name))
                    }
                    endpointURL = u
                }
                let client = S3Client(
                    bucket: bucket, region: region ?? AWSCredentials.region(environment: environment), endpoint: endpointURL,
                    addressing: pathStyle ? .path : nil, credentials: creds)
                return S3RemoteStore(client: client, prefix: prefix)
            }
        } catch { throw DVSError.wrap(error) }
    }
}

/// A remote ref's content: the 64-hex commit id and a newline (`schema/FORMAT.md` § Remotes).
enum RemoteRef {
    static func encode(_ id: CommitID) -> Data { Data((id.hex + "\n").utf8) }

    /// The key of the message kept with remote tag `ref` (`messages/tags/<tag>`, the message as
    /// UTF-8; `schema/FORMAT.md` § Remotes), or nil for a ref that is not a tag. A key of its own,
    /// so that a ref stays the 65 bytes every dvs reads.
    static func messageKey(_ ref: RefName) -> String? {
        ref.kind == .tag ? "messages/" + ref.fullName.dropFirst("refs/".count) : nil
    }

    static func decode(_ data: Data, key: String, remote: String) throws -> CommitID {
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 64, let id = CommitID(hex: text) else {
            throw DVSError(
                .corrupt, "remote ref '\(key)' on '\(remote)' is malformed: expected a 64-hex commit id",
                next: .forcePush(remote: remote))
        }
        return id
    }
}

extension Repository {
    /// A setting's value as commands show it: a password, token or signature in it (an endpoint
    /// stored with `user:secret@` by an older dvs) replaced by `[redacted]`.
    public static func shownSetting(_ value: String) -> String { Redaction.redact(value) }

    /// Whether `name` is acceptable as a remote name: `[A-Za-z0-9._-]+`, not starting with `.` or `-`.
    public static func isValidRemoteName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix(".") && !name.hasPrefix("-")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    /// The configured remotes, sorted by name.
    /// - Throws: `DVSError.io` when the catalog cannot be read.
    public func remotes() throws -> [RemoteConfig] {
        let all: [(String, String)]
        do { all = try catalog.allConfig() } catch { throw DVSError.wrap(error) }
        var values: [String: [String: String]] = [:]
        for (k, v) in all where k.hasPrefix("remote.") {
            let rest = k.dropFirst("remote.".count)
            guard let dot = rest.lastIndex(of: ".") else { continue }
            values[String(rest[..<dot]), default: [:]][String(rest[rest.index(after: dot)...])] = v
        }
        return values.keys.sorted().compactMap { name in
            let v = values[name]!
            guard let u = v["url"], let url = try? RemoteURL.parse(u, currentDirectory: root) else { return nil }
            // The endpoint as stored: one an older dvs stored with credentials is refused when
            // the remote is opened; commands show it through `shownSetting`. (Loaded redacted,
            // an accepted endpoint with an '@' in its query was refused as credentials.)
            return RemoteConfig(
                name: name, url: url, endpoint: v["endpoint"], region: v["region"],
                pathStyle: v["path-style"] == "true",
                transfers: v["transfers"].flatMap(Int.init).map { max(1, min($0, 64)) } ?? 8)
        }
    }

    /// The remote called `name`.
    /// - Throws: `DVSError.badInput` naming it, with the configured names, when there is none.
    public func remote(_ name: String) throws -> RemoteConfig {
        let all = try remotes()
        guard let r = all.first(where: { $0.name == name }) else {
            throw DVSError(
                .badInput, "no remote named '\(name)'",
                next: .addRemote(remote: name, configured: all.map(\.name)))
        }
        return r
    }

    /// Records a remote in the catalog, under the repository lock.
    /// - Parameters:
    ///   - url: `s3://bucket/prefix`, `file:///path` or a folder path (relative paths are taken from the working tree's root).
    /// - Throws: `DVSError.badInput` for a bad name or URL (a URL or endpoint with credentials
    ///   included: they are never stored), or when the name is taken; nothing changes then.
    @discardableResult
    public func addRemote(name: String, url: String, endpoint: String? = nil, region: String? = nil, pathStyle: Bool = false) throws
        -> RemoteConfig
    {
        guard Self.isValidRemoteName(name) else {
            throw DVSError(.badInput, "invalid remote name '\(name)'", hint: "use letters, digits, '.', '_' and '-', for example 'origin'")
        }
        let parsed: RemoteURL
        do { parsed = try RemoteURL.parse(url, currentDirectory: root) } catch { throw DVSError.wrap(error) }
        try Self.checkS3Settings(of: parsed, endpoint: endpoint, region: region, pathStyle: pathStyle)
        if case .path(let p) = parsed { try RemoteConfig.refuseNonRemoteFolder(p, remote: name) }
        let lock = try self.lock("dvs remote add \(name)")
        defer { lock.release() }
        if try remotes().contains(where: { $0.name == name }) {
            throw DVSError(.badInput, "remote '\(name)' already exists", next: .removeRemote(name))
        }
        do {
            try catalog.write { tx in
                try tx.setConfig("remote.\(name).url", parsed.description)
                if let endpoint { try tx.setConfig("remote.\(name).endpoint", endpoint) }
                if let region { try tx.setConfig("remote.\(name).region", region) }
                if pathStyle { try tx.setConfig("remote.\(name).path-style", "true") }
            }
        } catch { throw DVSError.wrap(error) }
        return RemoteConfig(name: name, url: parsed, endpoint: endpoint, region: region, pathStyle: pathStyle)
    }

    /// Whether `region` can name an S3 region: 1–64 ASCII letters, digits, `-`, `_` and `.`
    /// (AWS's are `us-east-1`; MinIO, Garage and Ceph take names like `garage` or `default`).
    /// A region is signed into every request (AWS Signature Version 4's credential scope), so a
    /// stray space, CR or newline would make every request fail.
    static func isValidRegion(_ region: String) -> Bool {
        (1...64).contains(region.utf8.count)
            && region.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
            }
    }

    /// Checks S3 settings for a remote at `url`.
    /// - Throws: `DVSError.badInput` for an endpoint that is not an http(s) URL, one holding
    ///   credentials (never shown), a region that is not a region name
    ///   (``isValidRegion(_:)``), or any of them given for a folder remote.
    static func checkS3Settings(of url: RemoteURL, endpoint: String?, region: String?, pathStyle: Bool) throws {
        if let endpoint {
            if let refusal = Redaction.credentialsInURL(endpoint, what: "endpoint") { throw DVSError.wrap(refusal) }
            guard let u = URL(string: endpoint), u.scheme == "http" || u.scheme == "https", u.host != nil else {
                throw DVSError(
                    .badInput, "invalid endpoint '\(Redaction.redact(endpoint))'",
                    hint: "use a URL such as https://s3.example.com or http://127.0.0.1:9000")
            }
        }
        if let region, !isValidRegion(region) {
            throw DVSError(
                .badInput, "invalid region '\(region.unicodeScalars.map { $0.escaped(asASCII: true) }.joined())'",
                hint: "use a region name of letters, digits, '-', '_' and '.', such as us-east-1")
        }
        if case .path = url, endpoint != nil || region != nil || pathStyle {
            throw DVSError(.badInput, "--endpoint, --region and --path-style apply to s3:// remotes, not to the folder '\(url)'")
        }
    }

    /// Sets a remote's S3 settings that are given (an endpoint, a region, path-style addressing)
    /// and keeps the others; for a clone run again with the settings its first attempt lacked.
    /// Takes the repository lock.
    /// - Throws: `DVSError.badInput` when there is no such remote, or as ``checkS3Settings(of:endpoint:region:pathStyle:)``.
    func updateRemoteSettings(name: String, endpoint: String?, region: String?, pathStyle: Bool) throws {
        let config = try remote(name)
        try Self.checkS3Settings(of: config.url, endpoint: endpoint, region: region, pathStyle: pathStyle)
        let lock = try self.lock("dvs clone (remote '\(name)' settings)")
        defer { lock.release() }
        do {
            try catalog.write { tx in
                if let endpoint { try tx.setConfig("remote.\(name).endpoint", endpoint) }
                if let region { try tx.setConfig("remote.\(name).region", region) }
                if pathStyle { try tx.setConfig("remote.\(name).path-style", "true") }
            }
        } catch { throw DVSError.wrap(error) }
    }

    /// Forgets a remote: its settings and its remote-tracking refs (`refs/remotes/<name>/…`).
    /// The remote's data is not touched.
    /// - Throws: `DVSError.badInput` when there is no such remote.
    public func removeRemote(name: String) throws {
        _ = try remote(name)
        let lock = try self.lock("dvs remote remove \(name)")
        defer { lock.release() }
        do {
            let tracking = try catalog.refs(in: .remoteTracking(name))
            let keys = try catalog.allConfig().map(\.0).filter { $0.hasPrefix("remote.\(name).") }
            try catalog.write { tx in
                for k in keys { try tx.setConfig(k, nil) }
                try tx.moveRefs(
                    tracking.map { RefUpdate(name: $0.name, expected: $0.target, new: nil, message: "remote remove \(name)") },
                    who: identity)
            }
        } catch { throw DVSError.wrap(error) }
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors (all parents followed).
    /// False when `ancestor` is not stored locally.
    /// - Complexity: O(commits between them) object reads.
    public func isAncestor(_ ancestor: CommitID, of descendant: CommitID) throws -> Bool {
        if ancestor == descendant { return true }
        guard objects.contains(ancestor.object) else { return false }
        var seen: Set<CommitID> = [descendant]
        var stack = [descendant]
        while let c = stack.popLast() {
            for p in try commit(c).parents where seen.insert(p).inserted {
                if p == ancestor { return true }
                stack.append(p)
            }
        }
        return false
    }

    /// Metadata objects reachable from `tips` that `present` lacks, in an order that keeps
    /// "an object is present only when everything it references is": words objects, then
    /// manifest chunks by level (leaves first), then commits parents first. A present commit or
    /// chunk is not descended into (that same rule makes its subtree present).
    /// - Returns: also `owner`: for each chunk and words object, the commit whose metadata
    ///   bundle carries it (``MetadataBundle``): of the commits whose manifest reaches it, the
    ///   first in parents-first order, so a reader of an older branch finds it in a bundle its
    ///   own history holds.
    func metadataClosure(
        from tips: [CommitID], present: (ObjectID) -> Bool
    ) throws -> (levels: [[ObjectID]], commits: [CommitID], owner: [ObjectID: CommitID]) {
        var commits: [CommitID] = []
        var seen = Set<CommitID>()
        var stack: [(CommitID, Bool)] = tips.map { ($0, false) }
        var manifests: [CommitID: ObjectID] = [:]
        while let (c, expanded) = stack.popLast() {
            if expanded {
                commits.append(c)
                continue
            }
            guard seen.insert(c).inserted, !present(c.object) else { continue }
            let decoded = try commit(c)
            manifests[c] = decoded.manifest
            stack.append((c, true))
            for p in decoded.parents.reversed() where !seen.contains(p) { stack.append((p, false)) }
        }
        var byLevel: [Int: [ObjectID]] = [:]
        var seenChunks = Set<ObjectID>()
        var owner: [ObjectID: CommitID] = [:]
        // Parents first (`commits`' order) when popped: an ancestor owns what it shares.
        var chunkStack = commits.reversed().map { (manifests[$0]!, $0) }
        while let (id, c) = chunkStack.popLast() {
            guard seenChunks.insert(id).inserted, !present(id) else { continue }
            owner[id] = c
            let chunk: ManifestChunk
            do { chunk = try ManifestChunk.decode(objects.read(id)) } catch {
                throw DVSError(
                    .corrupt, "cannot read manifest chunk '\(id.hex)': \(DVSError.wrap(error).message)",
                    next: .listDamagedObjects)
            }
            switch chunk {
            case .leaf(let entries):
                byLevel[0, default: []].append(id)
                for e in entries {
                    if let w = e.annotations?.transcript?.words, seenChunks.insert(w).inserted, !present(w) {
                        byLevel[-1, default: []].append(w)
                        owner[w] = c
                    }
                }
            case .inner(let level, let children):
                byLevel[level, default: []].append(id)
                chunkStack.append(contentsOf: children.map { ($0.id, c) })
            }
        }
        return (byLevel.keys.sorted().map { byLevel[$0]! }, commits, owner)
    }
}
