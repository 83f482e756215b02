import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Reading a remote without a clone (issue 15, item 2).
//
// `dvs stream --remote URL …` (and ls, cat, query, train, eval, run) reads through a cache
// repository kept for that remote under `<cache>/remotes/<key>`: a partial clone
// (`remote.origin.partial = true`) with no working tree files, whose local branches mirror the
// remote's. Opening it fetches the metadata (refs, commits, manifests, lineage and purge
// records; purges are applied as in any clone) unless another process did so in the last
// `refreshAfter` seconds and the revision to read resolves; a revision naming a branch of the
// remote fetches that branch's metadata alone. This runs under a setup lock (`<key>.lock`,
// beside the folder): workers started together fetch once and read one snapshot of a branch
// even if it moves meanwhile. The frames a command reads are downloaded by the partial-clone
// path (`PartialClone.swift`): merged ranged reads, verified, added as local packs.
//
// The downloaded packs are bounded by a size limit, least recently used first out: a pack's
// modification time is set to now whenever a command reads a blob of it. Several processes
// share a cache: each holds `.dvs/cache-readers.lock` shared while it reads, and packs are
// evicted only by a process that holds it exclusively (no other reader is then between
// looking a blob up and reading it), when it starts and when it ends; a cache whose readers
// never pause grows past the limit until they do. Metadata is never evicted (it is small).
//
// A model or eval record made on a cache (train, eval, run) is sent back to the remote at once
// (`pushRecords()`): its objects, then its marker `records/<id>` by a conditional write that
// fails when the marker exists, as refs are moved, so `dvs fetch` of any clone sees it.

/// How to reach and cache a remote read without a clone.
public struct RemoteReadOptions: Sendable {
    /// `s3://bucket/prefix`, or a folder (a relative one is taken from the process's current folder).
    public var url: String
    /// The folder holding the caches of remotes; nil: `$XDG_CACHE_HOME/dvs` (else
    /// `$HOME/.cache/dvs`, else `<temporary folder>/dvs-cache-<uid>`).
    public var cacheDirectory: String?
    /// Bytes of downloaded packs kept (least recently used evicted first); nil: 10 GiB.
    public var sizeLimit: UInt64?
    /// S3 endpoint other than AWS (as `dvs remote add --endpoint`).
    public var endpoint: String?
    /// S3 region.
    public var region: String?
    /// Path-style S3 addressing.
    public var pathStyle: Bool = false
    /// Seconds after a fetch during which opening the cache does not fetch again (workers
    /// started together fetch once); 0 fetches every time.
    public var refreshAfter: TimeInterval = 30
    /// A revision the command will read: when the cache cannot resolve it, the metadata is
    /// fetched whatever `refreshAfter` says (a commit pushed a moment ago); when it names a
    /// branch of the remote, only that branch's metadata is fetched.
    public var revision: String?

    /// Options for `url` with the defaults above.
    public init(url: String) { self.url = url }
}

/// A remote's cache repository, open for reading (see the file's header).
///
/// Hold it for as long as the command reads; ``close()`` (or deinit) evicts packs past the size
/// limit when no other process reads the cache, and releases the reader lock.
public final class RemoteCache: @unchecked Sendable {
    /// The cache repository; read it as any repository (its branches are the remote's).
    public let repository: Repository
    /// The URL as given.
    public let url: String
    /// Bytes of downloaded packs kept.
    public let sizeLimit: UInt64
    /// What the fetch at open brought; nil when the last fetch was recent enough.
    public let fetched: FetchSummary?
    /// Seconds since the cache's metadata was fetched (0 when it was fetched at open).
    public let fetchAge: TimeInterval
    /// The commit `RemoteReadOptions.revision` named when the cache was opened (under the setup
    /// lock, after any fetch); nil when there was none or it does not resolve. Read this, not the
    /// revision again: a branch can move in the cache when another process fetches.
    public let commit: CommitID?
    /// Lineage records the cache held when it was opened: ``pushRecords()`` sends only others.
    private let recordsAtOpen: Set<ObjectID>
    /// Packs evicted at open.
    public private(set) var evicted: (packs: Int, bytes: UInt64) = (0, 0)
    /// The shared reader lock's descriptor (-1 once closed).
    private var readers: Int32

    /// The default folder holding the remotes' caches for `context`.
    public static func defaultDirectory(_ context: ProcessContext) -> String {
        let env = context.environment
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/dvs" }
        if let h = env["HOME"], h.hasPrefix("/") { return h + "/.cache/dvs" }
        return NSTemporaryDirectory() + "dvs-cache-\(getuid())"
    }

    /// Opens (creating on first use) the cache of `options.url`, fetches its metadata when the
    /// last fetch is older than `options.refreshAfter`, mirrors the remote's branches as local
    /// ones, evicts packs past the limit if no other process reads it, and takes the shared
    /// reader lock.
    /// - Parameter progress: the fetch's progress.
    /// - Throws: `DVSError.remote` when the remote cannot be reached or the folder does not
    ///   exist; `.badInput` when the folder is a dvs repository of another remote; `.io`; what
    ///   ``Repository/fetch(remote:branch:progress:)`` throws.
    public static func open(_ options: RemoteReadOptions, context: ProcessContext, progress: ProgressHandler? = nil) throws -> RemoteCache {
        var url = options.url
        while url.count > 1 && url.hasSuffix("/") { url.removeLast() }
        if url.contains("://") && !url.lowercased().hasPrefix("s3://") {
            throw DVSError(
                .remote, "cannot read remote '\(Redaction.redact(options.url))': dvs reads s3:// URLs and folders only",
                next: .giveRemoteLocation)
        }
        if !url.lowercased().hasPrefix("s3://") {
            url = context.absolute(url)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw DVSError(
                    .remote, "cannot read remote '\(Redaction.redact(options.url))': no folder at '\(url)'", next: .giveRemoteLocation)
            }
            if let why = RemoteConfig.notARemoteFolder(url) {
                throw DVSError(.remote, "cannot read remote '\(Redaction.redact(options.url))': \(why)", next: .giveRemoteLocation)
            }
        }
        let base = (options.cacheDirectory.map { context.absolute($0) } ?? defaultDirectory(context)) + "/remotes"
        var endpoint = options.endpoint ?? ""
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        let key = String(ObjectID.hashing(Array("\(url)\n\(endpoint)".utf8)).hex.prefix(16))
        let root = base + "/" + key
        do { try FileIO.makeDirectories(base) } catch { throw DVSError.wrap(error) }
        // One process at a time makes the cache and fetches; the others wait, then find it fresh.
        let setup: RepositoryLock
        do {
            setup = try RepositoryLock(
                path: root + ".lock", timeout: 600, command: "dvs (reading remote '\(Redaction.redact(options.url))')")
        } catch {
            throw DVSError.wrap(error)
        }
        defer { setup.release() }
        let repo: Repository
        let created = !FileIO.exists(root + "/" + Repository.folderName)
        if !created {
            repo = try Repository.discover(from: root, context: context)
            let marker = try? String(contentsOfFile: repo.cacheMarkerPath, encoding: .utf8)
            guard marker == url + "\n" else {
                throw DVSError(
                    .badInput, "the cache folder '\(root)' holds another repository",
                    hint: "remove that folder, or cache this remote in another one")
            }
        } else {
            // Made aside and renamed in place: an interrupted first open leaves no half cache.
            let staging = base + "/.new-\(key)-\(getpid())"
            try? FileManager.default.removeItem(atPath: staging)
            let made = try Repository.initialize(at: staging, context: context)
            do {
                try made.catalog.write { tx in try tx.setConfig("remote.origin.partial", "true") }
                try FileIO.writeAtomically(Array((url + "\n").utf8), to: made.cacheMarkerPath, tmpDir: made.tmpDir)
            } catch { throw DVSError.wrap(error) }
            try made.addRemote(name: "origin", url: url, endpoint: options.endpoint, region: options.region, pathStyle: options.pathStyle)
            guard rename(staging, root) == 0 else {
                throw DVSError.wrap(StorageError.posix("cannot create the remote cache", path: root))
            }
            repo = try Repository.discover(from: root, context: context)
        }
        var fetched: FetchSummary?
        // A revision that may name one branch of the remote is fetched alone (that branch's
        // history and snapshots' metadata, not every branch's: a cohort of a large dataset does
        // not wait for main's manifests); anything else, or a name the remote has no branch of,
        // fetches every ref. Each scope has its stamp; a branch is fresh when either is.
        let branch = options.revision.flatMap { RefName.isValidShortName($0) ? $0 : nil }
        let stamp = repo.dvsDir + "/cache-fetched"
        let branchStamp = branch.map { repo.dvsDir + "/cache-fetched-\(ObjectID.hashing(Array($0.utf8)).hex.prefix(16))" }
        func age(of path: String) -> TimeInterval? {
            (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date).map {
                Date().timeIntervalSince($0)
            }
        }
        let ages = ([age(of: stamp)] + [branchStamp.flatMap(age(of:))]).compactMap { $0 }.filter { $0 >= 0 }
        let age = ages.min()
        // Stale `.new-<key>-<pid>` folders of a first open that was killed (the setup lock is
        // held: nobody is making this cache now).
        for n in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where n.hasPrefix(".new-\(key)-") {
            try? FileManager.default.removeItem(atPath: base + "/" + n)
        }
        let unknown = options.revision.map { (try? repo.resolve(Revision($0))) == nil } ?? false
        if age == nil || age! >= options.refreshAfter || unknown {
            var written = stamp
            do {
                // Asked first (one GET), so that a fetch's own errors are never taken for "no
                // such branch"; a tag, a commit id or `main~2` fetches every ref.
                if let branch,
                    try repo.remote("origin").open(environment: context.environment).readRef(RefName.branch(branch).fullName) != nil
                {
                    fetched = try repo.fetch(remote: "origin", branch: branch, progress: progress)
                    written = branchStamp!
                }
                if fetched == nil { fetched = try repo.fetch(remote: "origin", progress: progress) }
                if created, try repo.catalog.refs(in: .all).isEmpty {
                    throw DVSError(
                        .remote, "no dvs repository at '\(Redaction.redact(options.url))': it has no branches",
                        hint: "check the URL: the bucket and prefix (or folder) that a push went to")
                }
            } catch {
                // A first open that fails leaves no cache behind.
                if created { try? FileManager.default.removeItem(atPath: root) }
                throw DVSError.wrap(error)
            }
            try repo.mirrorRemoteBranches()
            do { try FileIO.writeAtomically([], to: written, tmpDir: repo.tmpDir) } catch { throw DVSError.wrap(error) }
        }
        let commit = options.revision.flatMap { try? repo.resolve(Revision($0)) }
        let records: Set<ObjectID>
        do { records = try repo.catalog.lineageRecordIDs() } catch { throw DVSError.wrap(error) }
        return try RemoteCache(
            repository: repo, url: options.url, sizeLimit: options.sizeLimit ?? 10 << 30, fetched: fetched,
            fetchAge: fetched == nil ? max(0, age ?? 0) : 0, commit: commit, records: records)
    }

    private init(
        repository: Repository, url: String, sizeLimit: UInt64, fetched: FetchSummary?, fetchAge: TimeInterval, commit: CommitID?,
        records: Set<ObjectID>
    ) throws {
        self.fetchAge = fetchAge
        self.repository = repository
        self.url = url
        self.sizeLimit = sizeLimit
        self.fetched = fetched
        self.commit = commit
        self.recordsAtOpen = records
        let path = repository.dvsDir + "/cache-readers.lock"
        readers = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard readers >= 0 else { throw DVSError.wrap(StorageError.posix("cannot open", path: path)) }
        if flock(readers, LOCK_EX | LOCK_NB) == 0 {
            // A failure (a full disk) is left for a later command: reading may still work.
            evicted = (try? repository.evictDownloadedPacks(limit: sizeLimit)) ?? (0, 0)
        }
        // Shared from here (from exclusive, or waiting for an evicting process to finish).
        while flock(readers, LOCK_SH) != 0 {
            guard errno == EINTR else { throw DVSError.wrap(StorageError.posix("cannot lock", path: path)) }
        }
    }

    deinit { close() }

    /// Evicts packs past the size limit when no other process reads the cache, then releases
    /// the reader lock. Safe to call more than once; a failure to evict is left for the next
    /// command (the cache stays sound).
    /// - Returns: packs and bytes evicted.
    @discardableResult
    public func close() -> (packs: Int, bytes: UInt64) {
        guard readers >= 0 else { return (0, 0) }
        defer {
            Glibc.close(readers)
            readers = -1
        }
        guard flock(readers, LOCK_EX | LOCK_NB) == 0 else { return (0, 0) }
        let evicted = (try? repository.evictDownloadedPacks(limit: sizeLimit)) ?? (0, 0)
        // Decoded copies `dvs run` made (.dvs/cache/blobs) share the limit with the packs (no
        // other process reads now, so recent ones go too).
        let packs = repository.downloadedPackBytes
        _ = repository.evictBlobCache(limit: sizeLimit > packs ? sizeLimit - packs : 0, dryRun: false, keepingRecent: false)
        return evicted
    }

    /// Sends the cache's lineage records the remote lacks (those made here by train, eval or
    /// run) back to it: each record's object and its model artifact under `objects/`, verified
    /// before upload, then the marker `records/<id>` by a conditional write that succeeds only
    /// where none exists (one already there, another process's upload of the same record, is
    /// fine: records are content-addressed).
    /// - Returns: the records sent.
    /// - Throws: `DVSError.remote` when an upload fails (the record stays here; the next
    ///   command on this cache sends it again); `.corrupt` when a local object is damaged.
    @discardableResult
    public func pushRecords() throws -> [ObjectID] {
        let repo = repository
        let config = try repo.remote("origin")
        let store = try config.open(environment: repo.context.environment)
        let local = try repo.catalog.lineageRecordIDs()
        let markers: Set<ObjectID>
        do { markers = Set(try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) }) } catch {
            throw DVSError.wrap(error)
        }
        let todo = local.subtracting(recordsAtOpen).subtracting(markers).sorted()
        if todo.isEmpty { return [] }
        // A purge that reached the remote while this command ran: the record may name what it
        // erased (its snapshot, label values), so it is not sent.
        let missing: [PurgeRecord]
        do { missing = try repo.remotePurges(store: store, remote: "origin").missing } catch { throw DVSError.wrap(error) }
        if let p = missing.first {
            throw DVSError(
                .remote,
                "cannot send \(todo.count == 1 ? "record" : "records") \(todo.map(\.short).joined(separator: ", ")) back to remote '\(Redaction.redact(url))': it holds purge \(p.id.short) (\(p.rule)), made while this command ran",
                hint: "run the command again: it reads the remote as the purge left it")
        }
        let objects = repo.objects
        for id in todo {
            var uploads = [id]
            let bytes = try objects.read(id)
            let kind = LineageEncoding.kind(of: bytes) ?? "model"
            if kind == "model", let r = try? LineageEncoding.decodeModel(bytes), let a = ObjectID(hex: r.artifactSHA256),
                objects.contains(a)
            {
                uploads.insert(a, at: 0)
            }
            do {
                for o in uploads where try store.list(prefix: "objects/\(o.hex)").isEmpty {
                    try store.put("objects/\(o.hex)", Data(try Repository.verifiedFrame(objects, o)))
                }
                do { try store.writeRef("records/\(id.hex)", Data((kind + "\n").utf8), expected: nil) } catch let e as RemoteError
                    where e.code == .preconditionFailed
                {
                    // Another process sent the same record: it is there.
                }
            } catch {
                let e = DVSError.wrap(error)
                throw DVSError(
                    e.code, "cannot send record '\(id.short)' back to remote '\(Redaction.redact(url))': \(e.message)",
                    hint: "run the command again (the record in the cache is not sent by a later one)", cause: e.cause,
                    underlying: e.underlying)
            }
        }
        return todo
    }
}

extension Repository {
    /// The packs `.dvs/partial-packs` lists whose files exist: line, id, bytes and modification
    /// time; and their total bytes.
    private func downloadedPacks() -> (packs: [(line: Substring, id: PackID, size: UInt64, used: Date)], total: UInt64) {
        guard let text = try? String(contentsOfFile: partialPacksPath, encoding: .utf8) else { return ([], 0) }
        var listed: [(line: Substring, id: PackID, size: UInt64, used: Date)] = []
        var total: UInt64 = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let id = ObjectID(hex: parts[1]),
                let a = try? FileManager.default.attributesOfItem(atPath: "\(packsDir)/\(id.hex).pack")
            else { continue }
            let size = (a[.size] as? UInt64) ?? 0
            listed.append((line, PackID(id), size, (a[.modificationDate] as? Date) ?? .distantPast))
            total += size
        }
        return (listed, total)
    }

    /// Bytes of the downloaded packs (those `.dvs/partial-packs` lists whose files exist).
    var downloadedPackBytes: UInt64 { downloadedPacks().total }

    /// `.dvs/remote-cache`: present (holding the remote's URL) in a cache repository made by
    /// ``RemoteCache/open(_:context:progress:)``.
    var cacheMarkerPath: String { dvsDir + "/remote-cache" }

    /// Whether this repository is a remote's cache (its downloaded packs are evicted by use).
    var isRemoteCache: Bool { FileIO.exists(cacheMarkerPath) }

    /// Makes the local branches equal to `origin`'s remote-tracking ones (created, moved or
    /// deleted), so that revisions name the remote's branches in a cache. Takes the lock.
    /// - Throws: `DVSError.locked`; `CatalogError` wrapped.
    func mirrorRemoteBranches() throws {
        let lock = try self.lock("dvs (mirroring the remote's branches)")
        defer { lock.release() }
        let origin = RefNamespace.remoteTracking("origin")
        var remote: [String: CommitID] = [:]
        for r in try catalog.refs(in: origin) {
            if let b = origin.relativeName(of: r.name) { remote[b] = r.target }
        }
        var updates: [RefUpdate] = []
        for (b, target) in remote.sorted(by: { $0.key < $1.key }) {
            let local = try catalog.ref(.branch(b))
            if local != target {
                updates.append(RefUpdate(name: .branch(b), expected: local, new: target, message: "remote cache: origin/\(b)"))
            }
        }
        for r in try catalog.refs(in: .branches) {
            guard let b = RefNamespace.branches.relativeName(of: r.name), remote[b] == nil else { continue }
            updates.append(RefUpdate(name: .branch(b), expected: r.target, new: nil, message: "remote cache: gone from origin"))
        }
        if updates.isEmpty { return }
        do { try catalog.write { tx in try tx.moveRefs(updates, who: identity) } } catch { throw DVSError.wrap(error) }
    }

    /// Sets to now the modification time of the packs holding `ids` (the reads of a remote
    /// cache: least recently used packs are evicted first).
    func touchPacks(holding ids: Set<ObjectID>) {
        var packs = Set<PackID>()
        for id in ids { if let l = try? blobs.location(of: id) { packs.insert(l.pack) } }
        for p in packs { utimensat(AT_FDCWD, "\(packsDir)/\(p.object.hex).pack", nil, 0) }
    }

    /// Evicts downloaded packs (those `.dvs/partial-packs` lists), least recently used first,
    /// until they hold at most `limit` bytes: each is unlisted from the blob index and the list,
    /// then deleted. Takes the repository lock; the caller makes sure no other process reads.
    /// - Returns: packs and bytes evicted.
    /// - Throws: `DVSError.locked`, `.io`; on a failure nothing that was read stays half-evicted
    ///   (the index moves in one transaction; a pack file left behind is removed by `dvs gc`).
    func evictDownloadedPacks(limit: UInt64) throws -> (packs: Int, bytes: UInt64) {
        // Sizes first without the lock (the common case: under the limit), then again under it.
        guard downloadedPacks().total > limit else { return (0, 0) }
        let lock = try self.lock("dvs (evicting least recently used packs of a remote cache)")
        defer { lock.release() }
        var (listed, total) = downloadedPacks()
        guard total > limit else { return (0, 0) }
        listed.sort { $0.used < $1.used }
        var out: [PackID] = []
        var bytes: UInt64 = 0
        for p in listed where total > limit {
            out.append(p.id)
            total -= p.size
            bytes += p.size
        }
        let gone = Set(out)
        let kept = listed.filter { !gone.contains($0.id) }.map { $0.line + "\n" }.joined()
        // Index, files, then the list: killed in between, a listed pack whose file is gone is
        // skipped (and dropped from the list next time); a file never outlives its line.
        do { try catalog.write { tx in try tx.removePacks(out) } } catch { throw DVSError.wrap(error) }
        for p in out { unlink("\(packsDir)/\(p.object.hex).pack") }
        do { try FileIO.writeAtomically(Array(kept.utf8), to: partialPacksPath, tmpDir: tmpDir) } catch { throw DVSError.wrap(error) }
        packedBlobs.forgetReaders()
        return (out.count, bytes)
    }
}
