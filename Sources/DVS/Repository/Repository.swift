import CGit2
import DVSAudio
import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A dvs repository: a working tree and its `.dvs/` folder.
///
/// ```
/// .dvs/catalog.sqlite   refs, reflog, blob index, stat cache, config (schema/)
/// .dvs/reflog           every ref move, appended before the catalog records it (rebuilds refs)
/// .dvs/packs/<id>.pack  file content, one zstd frame per blob (schema/FORMAT.md)
/// .dvs/objects/xx/…     commits, manifest chunks, lineage records, model artifacts
/// .dvs/cache/           blob cache of dvs run (blobs/), sample index (samples.sqlite); safe to delete
///                       (outside the repository when .dvs cannot be written: `cacheDir`)
/// .dvs/tmp/             temp files, renamed into place when complete (working-tree files too);
///                       a killed writer's are deleted by the next command that takes the lock
/// .dvs/JOURNAL          the working-tree operation in progress, finished by the next command
/// .dvs/lock             the writer lock
/// .dvs/hooks/           hook scripts (pre-commit, post-commit); samples installed as *.sample
/// ```
/// Every mutating operation holds the lock; readers never block.
public final class Repository: @unchecked Sendable {
    /// The working tree's root (absolute).
    public let root: String
    /// `root/.dvs`.
    public let dvsDir: String
    /// The catalog.
    public let catalog: Catalog
    /// Metadata objects.
    public let objects: LocalObjectStore
    /// File content: blobs in `.dvs/packs`, indexed by the catalog.
    public var blobs: any BlobStore { packedBlobs }
    /// The same store, for what only packs have (pack readers, their checksums).
    let packedBlobs: PackedBlobStore
    /// `pack.audio-codec` as the blob encoder reads it: once, at the first audio file written,
    /// and again after ``setConfig(_:_:)`` changes it.
    let codecChoice: Once<AudioCodecChoice>
    /// The process this repository was opened from: environment, arguments, host, version.
    public let context: ProcessContext
    /// Commits and manifests in ``objects``.
    public let snapshots: SnapshotStore
    /// Why the operation a killed process left in `.dvs/JOURNAL` could not be finished when this
    /// repository was opened (files changed since, named in its `details`); nil when there was
    /// none or it was finished. Every writer meets the same error until it is resolved.
    public internal(set) var interruptedOperationFailure: DVSError?

    /// The `.dvs` folder name.
    public static let folderName = ".dvs"

    var packsDir: String { dvsDir + "/packs" }
    var tmpDir: String { dvsDir + "/tmp" }

    /// Where derived caches go (sample index, cohort cuts, blob cache; all safe to delete):
    /// `.dvs/cache`, or, when `.dvs` cannot be written (a read-only mount, a shared copy of
    /// someone else's), ``fallbackCacheDir`` so that reading commands (`query`, `serve`, `audit`)
    /// still work. Decided when the repository is opened.
    public var cacheDir: String { cacheIsFallback ? fallbackCacheDir : dvsDir + "/cache" }

    /// Whether ``cacheDir`` is ``fallbackCacheDir`` (`.dvs` was not writable when opened).
    let cacheIsFallback: Bool

    /// The cache of this repository outside it: `<base>/<key>`, where `<base>` is
    /// `$XDG_CACHE_HOME/dvs` (else `$HOME/.cache/dvs`, else `<temporary folder>/dvs-cache-<uid>`)
    /// and `<key>` the first 16 hex digits of the SHA-256 of the `.dvs` path. ``prepareCacheDir()``
    /// keeps it private and empties it after a purge; a purge run on this machine under the
    /// same path and user empties it at once.
    var fallbackCacheDir: String { fallbackCacheBase + "/" + String(ObjectID.hashing(Array(dvsDir.utf8)).hex.prefix(16)) }

    private var fallbackCacheBase: String {
        let env = context.environment
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return x + "/dvs" }
        if let h = env["HOME"], h.hasPrefix("/") { return h + "/.cache/dvs" }
        return NSTemporaryDirectory() + "dvs-cache-\(getuid())"
    }

    /// Creates ``cacheDir`` before a cache is written there. The cache outside the repository
    /// (``cacheIsFallback``) is made private (folders mode 0700, an existing one of this user's
    /// narrowed to it; refused when one is a symbolic link or another user's, as a shared
    /// temporary folder could hold) and is emptied when the
    /// repository's purges (`.dvs/purges/`) differ from those it was filled under (its file
    /// `purges`): a purge made elsewhere, on a writable copy, reaches a reader's cache here.
    /// - Throws: `DVSError.io` when a folder cannot be made or is not private to this user.
    func prepareCacheDir() throws {
        guard cacheIsFallback else {
            try FileIO.makeDirectories(cacheDir)
            return
        }
        let base = fallbackCacheBase
        let dir = fallbackCacheDir
        let above = String(base[..<(base.lastIndex(of: "/") ?? base.startIndex)])
        do { if !above.isEmpty { try FileIO.makeDirectories(above) } } catch { throw DVSError.wrap(error) }
        // Each folder in turn: made 0700, or, when it exists, checked to be this user's own
        // folder (not a link) and narrowed to 0700; another user's is refused before anything
        // is made inside it.
        for folder in [base, dir] {
            if mkdir(folder, 0o700) != 0 && errno != EEXIST {
                throw DVSError(
                    .io,
                    "cannot create the cache folder '\(folder)' for the read-only repository '\(root)': \(String(cString: strerror(errno)))",
                    hint: "set XDG_CACHE_HOME to a folder of your own")
            }
            var st = stat()
            guard lstat(folder, &st) == 0, st.st_mode & S_IFMT == S_IFDIR, st.st_uid == getuid(),
                st.st_mode & 0o077 == 0 || chmod(folder, 0o700) == 0
            else {
                throw DVSError(
                    .io,
                    "the cache folder '\(folder)' is not this user's own (a symbolic link, or another user's folder); the read-only repository '\(root)' would keep its sample index there",
                    hint: "remove it, or set XDG_CACHE_HOME to a folder of your own")
            }
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dvsDir + "/purges")) ?? []).filter { $0.hasSuffix(".json") }
        let marker = names.sorted().joined(separator: "\n") + "\n"
        let markerPath = dir + "/purges"
        if (try? FileIO.read(markerPath)).map({ String(decoding: $0, as: UTF8.self) }) != marker {
            for n in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                try? FileManager.default.removeItem(atPath: dir + "/" + n)
            }
            do { try FileIO.writeAtomically(Array(marker.utf8), to: markerPath, tmpDir: dir) } catch { throw DVSError.wrap(error) }
        }
    }

    private init(root: String, context: ProcessContext) throws {
        self.root = root
        self.context = context
        dvsDir = root + "/" + Self.folderName
        cacheIsFallback = access(dvsDir, W_OK) != 0 && FileIO.exists(dvsDir)
        let catalog = try Catalog(path: dvsDir + "/catalog.sqlite")
        self.catalog = catalog
        let objects = LocalObjectStore(root: dvsDir + "/objects", tmpDir: dvsDir + "/tmp")
        self.objects = objects
        snapshots = SnapshotStore(
            objects: objects,
            workers: { (try? catalog.config("core.workers")).flatMap { $0.flatMap(Int.init) } ?? context.processorCount })
        let codecChoice = Once { Self.audioCodec(catalog) }
        self.codecChoice = codecChoice
        packedBlobs = PackedBlobStore(
            packsDir: dvsDir + "/packs", tmpDir: dvsDir + "/tmp", index: CatalogBlobIndex(catalog: catalog),
            transforms: BlobTransforms.all(choice: codecChoice),
            targetSize: { Self.packTargetSize(catalog) }, level: { Self.zstdLevel(catalog) })
    }

    /// Creates a repository in `directory` (created if missing) with HEAD on branch `main`.
    /// - Parameters:
    ///   - directory: the working tree's root; a relative path is taken from `context.currentDirectory`.
    ///   - context: the process the repository is used from (kept as ``context``).
    /// - Throws: `DVSError.alreadyExists` when `directory/.dvs` exists; `.io` when it cannot be created.
    /// A git checkout's `.git` is never touched.
    public static func initialize(at directory: String, context: ProcessContext) throws -> Repository {
        let root = context.absolute(directory)
        let dvs = root + "/" + folderName
        if FileIO.exists(dvs) {
            throw DVSError(
                .alreadyExists, "'\(dvs)' already exists: this is a dvs repository already",
                next: .useOrRemoveRepository(dvsFolder: dvs))
        }
        do {
            try FileIO.makeDirectories(root)
            // Build in a temp folder beside, then rename: a crash never leaves a half-made .dvs.
            let staging = root + "/.dvs-init-\(getpid())"
            try? FileManager.default.removeItem(atPath: staging)
            for sub in ["", "/packs", "/objects", "/tmp", "/hooks"] { try FileIO.makeDirectories(staging + sub) }
            do {
                let catalog = try Catalog.create(at: staging + "/catalog.sqlite")
                try catalog.write { tx in
                    try tx.setHead(.branch("main", nil), who: defaultIdentity(in: context), message: "init")
                    try tx.setConfig("core.format", "1")
                }
            }
            for (name, text) in HookSamples.all {
                let path = staging + "/hooks/" + name
                try FileIO.writeAtomically(Array(text.utf8), to: path, tmpDir: staging + "/tmp")
                chmod(path, 0o755)
            }
            try? FileManager.default.removeItem(atPath: staging + "/catalog.sqlite-wal")
            try? FileManager.default.removeItem(atPath: staging + "/catalog.sqlite-shm")
            guard rename(staging, dvs) == 0 else { throw StorageError.posix("cannot create", path: dvs) }
            FileIO.syncDirectory(root)
        } catch {
            throw DVSError.wrap(error)
        }
        return try Repository(root: root, context: context)
    }

    /// Opens the repository whose working tree contains `directory`, searching upwards. When a
    /// killed checkout, merge, pull or clone left `.dvs/JOURNAL` and no other process holds the
    /// lock, the operation is finished (or rolled back) first and the context's `notice` says so
    /// (a failure there is a notice too; writers meet it again when they take the lock).
    /// - Parameters:
    ///   - directory: where to start; nil is `context.currentDirectory`, a relative path is taken from it.
    ///   - context: the process the repository is used from (kept as ``context``).
    /// - Throws: `DVSError.notARepository` when no parent has a `.dvs` folder.
    public static func discover(from directory: String? = nil, context: ProcessContext) throws -> Repository {
        let dir = try findRoot(from: directory, context: context)
        let repo: Repository
        do { repo = try Repository(root: dir, context: context) } catch { throw DVSError.wrap(error) }
        let format = (try? repo.catalog.config("core.format")) ?? nil
        guard format == nil || format == "1" else {
            throw DVSError(
                .badInput, "repository '\(dir)' has format \(format!), this dvs reads format 1",
                next: .useNewerDVS)
        }
        repo.recoverOnOpen()
        return repo
    }

    /// Opens the repository rooted at `root` as it is (no search, no recovery of an interrupted
    /// operation): `dvs reindex` uses it after replacing a damaged catalog.
    /// - Throws: what opening the catalog throws, as `DVSError`.
    static func opening(root: String, context: ProcessContext) throws -> Repository {
        do { return try Repository(root: root, context: context) } catch { throw DVSError.wrap(error) }
    }

    /// The working tree's root containing `directory`: the nearest folder upwards with a `.dvs`
    /// folder holding a catalog, or (the catalog lost) an `objects` folder.
    /// - Throws: `DVSError.notARepository` when no parent has one.
    static func findRoot(from directory: String?, context: ProcessContext) throws -> String {
        let start = context.absolute(directory ?? context.currentDirectory)
        if directory != nil { try requireFolder(start) }
        var dir = start
        while true {
            var st = stat()
            let dvs = dir + "/" + folderName
            if stat(dvs + "/catalog.sqlite", &st) == 0 || stat(dvs + "/objects", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                return dir
            }
            let parent = (dir as NSString).deletingLastPathComponent
            if parent == dir || parent.isEmpty { break }
            dir = parent
        }
        throw DVSError(
            .notARepository, "not a dvs repository (or any parent up to /): '\(start)'",
            next: .initRepository)
    }

    /// `path` made absolute against the context's current directory.
    func absolute(_ path: String) -> String { context.absolute(path) }

    /// Checks that `path`, a folder to run in, is one.
    /// - Throws: `DVSError.badInput` naming it when it does not exist or is not a folder.
    public static func requireFolder(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw DVSError(.badInput, "cannot run in '\(path)': \(String(cString: strerror(errno)))", hint: "give a folder that exists")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw DVSError(.badInput, "cannot run in '\(path)': it is not a folder", hint: "give a folder that exists")
        }
    }

    // MARK: Settings

    /// `.dvs/lock`, the writer lock's file.
    var lockPath: String { dvsDir + "/lock" }

    /// Seconds a writer waits for the lock: `DVS_LOCK_TIMEOUT`, else `core.lock-timeout`, else 30.
    public var lockTimeout: Double {
        if let e = context.environment["DVS_LOCK_TIMEOUT"], let v = Double(e) { return v }
        return (try? catalog.config("core.lock-timeout")).flatMap { $0.flatMap(Double.init) } ?? 30
    }
    /// Target pack size in bytes (`pack.target-size`, default 64 MiB).
    public var packTargetSize: UInt64 { Self.packTargetSize(catalog) }
    /// zstd level for blobs (`zstd.level`, default 1).
    public var zstdLevel: Int32 { Self.zstdLevel(catalog) }

    static func packTargetSize(_ catalog: Catalog) -> UInt64 {
        (try? catalog.config("pack.target-size")).flatMap { $0.flatMap(UInt64.init) } ?? 64 << 20
    }
    static func zstdLevel(_ catalog: Catalog) -> Int32 {
        (try? catalog.config("zstd.level")).flatMap { $0.flatMap(Int32.init) } ?? 1
    }

    /// How new audio blobs are coded (`pack.audio-codec`).
    public enum AudioCodecChoice: String, Sendable, CaseIterable {
        /// Codec 2 for 16-bit mono PCM at up to 16 kHz, codec 4 for every other format codec 4
        /// takes (stereo, higher rates, 24-bit, μ-law and A-law, which codec 2 stores as plain
        /// zstd): reading from the store costs ≈ 0.6× `lpc`'s CPU, for ≈ 16 % more bytes of 16 kHz
        /// mono than `lpc` and ≈ 5 % more than `flac -5` (0.678 of raw against 0.643 there). On
        /// the bench corpus: store ÷ raw 0.575 against codec 2's 0.617 and `lpc`'s 0.507
        /// (bench/README.md § Codecs). The default until storage at `flac -5`'s ratio on every
        /// format was chosen over decode speed.
        case auto
        /// Codec 2, `pcm16-predictive-planes+zstd` (16-bit PCM only; other audio as plain zstd):
        /// fast to decode (zstd and a running sum).
        case predictive
        /// The default. Codec 4, `audio-lpc-rice+zstd`, wherever its per-file trial pays: 16/24-bit
        /// PCM and G.711 μ-law/A-law coded as audio (FLAC's scheme), ≈ 18 % smaller on the bench
        /// corpus than codec 2 and at least `flac -5`'s ratio per format; ≈ 2× codec 2's CPU
        /// per MB to write and to read (decoding runs at ≈ 290 MB/s of 16 kHz mono per core, past
        /// libFLAC's own decoder on the same files).
        case lpc

        /// Whether a WAV file of `layout` is written with codec 4 (when it takes the format and
        /// the trial says it pays; otherwise codec 2 or plain zstd).
        public func writesLPC(_ layout: RIFFLayout) -> Bool {
            switch self {
            case .lpc: return true
            case .predictive: return false
            case .auto:
                return !(layout.isPCM16 && layout.channelCount == 1 && layout.sampleRate <= 16_000)
            }
        }
    }

    /// The audio codec new blobs are written with (`pack.audio-codec`, default `lpc`).
    public var audioCodec: AudioCodecChoice { Self.audioCodec(catalog) }

    static func audioCodec(_ catalog: Catalog) -> AudioCodecChoice {
        (try? catalog.config("pack.audio-codec")).flatMap { $0.flatMap(AudioCodecChoice.init(rawValue:)) } ?? .lpc
    }
    /// Worker threads (`core.workers`, default: the context's processor count).
    /// Read once, when the repository is opened.
    public var workers: Int { snapshots.workers }
    /// The committer identity for this repository's process (see ``defaultIdentity(in:)``).
    public var identity: String { defaultIdentity(in: context) }

    /// Takes the writer lock for `command`, then finishes an operation a killed process left in
    /// `.dvs/JOURNAL` (``recoverInterruptedOperation()``) before the caller changes anything, and
    /// deletes the temporary files killed writers left in `.dvs/tmp`
    /// (`FileIO.removeAbandonedTemps`).
    /// - Throws: `DVSError.locked` naming the holder; what recovery throws (the lock is released).
    ///   With `overwritingInterrupted` (`dvs checkout --force`), files changed since the
    ///   interrupted operation are overwritten to finish it (``recoverInterruptedOperation(overwriting:)``).
    ///   `timeout` (seconds) replaces ``lockTimeout`` (a background repack waits longer).
    func lock(_ command: String, overwritingInterrupted: Bool = false, timeout: Double? = nil) throws -> RepositoryLock {
        let lock: RepositoryLock
        let limit = timeout ?? lockTimeout
        // The setting that sets the limit, when one does.
        let source =
            timeout != nil
            ? "" : context.environment["DVS_LOCK_TIMEOUT"].flatMap(Double.init) != nil ? ": DVS_LOCK_TIMEOUT" : ": core.lock-timeout"
        let wait = context.lockWait.map { say in
            { (holder: String) in say("waiting for the repository lock, held by \(holder) (for up to \(Self.seconds(limit))\(source))") }
        }
        do { lock = try RepositoryLock(path: lockPath, timeout: limit, command: command, onWait: wait) } catch {
            throw DVSError.wrap(error)
        }
        if journalFile.exists {
            do { try recoverInterruptedOperation(overwriting: overwritingInterrupted) } catch {
                lock.release()
                throw DVSError.wrap(error)
            }
        }
        if FileIO.exists(purgeJournalPath) {
            do { _ = try finishInterruptedPurge() } catch {
                lock.release()
                throw DVSError.wrap(error)
            }
        }
        FileIO.removeAbandonedTemps(in: tmpDir, prefixes: Self.storeTempPrefixes, folderPrefixes: Self.tempFolderPrefixes)
        // A repository whose settings last changed before dvs kept their copy gets one.
        if !FileIO.exists(dvsDir + "/config") { try? catalog.writeSettingsCopy() }
        return lock
    }

    /// `30 s`, `1 h`: a lock timeout for a message.
    static func seconds(_ t: Double) -> String {
        t >= 3600 && t.truncatingRemainder(dividingBy: 3600) == 0
            ? "\(Int(t / 3600)) h" : "\(t.rounded() == t ? String(Int(t)) : String(t)) s"
    }

    /// The prefixes of the temporary files the stores write in `.dvs/tmp` (atomic writes, loose
    /// objects, packs being filled): a killed writer's are deleted by the next command that takes
    /// the lock (``lock(_:overwritingInterrupted:timeout:)``), once no descriptor holds them.
    static let storeTempPrefixes = ["tmp", "obj", "pack", pushBundlePrefix]
    /// A metadata bundle a push uploads (`FileIO.makeTemp`).
    static let pushBundlePrefix = "push"

    /// The prefixes of the temporary folders commands stage their work in, in `.dvs/tmp`
    /// (`FileIO.makeTempDirectory`): a partial clone's download (not `partial-ranges`, which a
    /// later download resumes from), a remote gc's rewritten pack, `dvs remote verify`'s
    /// downloads. Swept with the files. Each differs from what a dvs that took no lock on them
    /// named them (`partial-<pid>-…`, `gc-remote-<pack>`, `verify-<pid>`), so an older dvs's
    /// live folder is never taken for an abandoned one. `dvs run`'s `run-…` folders are not
    /// swept: the program it runs can outlive a killed dvs, and still read its snapshot there.
    static let tempFolderPrefixes = [partialStagePrefix, remoteGCStagePrefix, verifyStagePrefix]
    /// A partial clone's download, staged before its packs are renamed into `packs/`.
    static let partialStagePrefix = "partial-stage"
    /// A remote gc's pack written again without the frames it drops, before its upload.
    static let remoteGCStagePrefix = "gc-remote-stage"
    /// `dvs remote verify`'s downloads.
    static let verifyStagePrefix = "verify-stage"

    // MARK: Objects

    /// Reads and decodes a commit (``SnapshotStore/commit(_:)``).
    /// - Throws: `DVSError.corrupt` when missing or damaged.
    /// A commit a purge rewrote (and deleted) reads as the commit that replaced it, so model
    /// records and old ids keep resolving (``purgedReplacement(of:)``).
    public func commit(_ id: CommitID) throws -> Commit {
        do { return try snapshots.commit(id) } catch {
            guard !objects.contains(id.object), let r = purgedReplacement(of: id) else { throw error }
            return try snapshots.commit(r.commit)
        }
    }

    /// All entries of a manifest, sorted by path (``SnapshotStore/entries(ofManifest:)``).
    /// - Throws: `DVSError.corrupt` naming the damaged chunk.
    /// - Complexity: O(n) in entries; reads every chunk.
    public func entries(ofManifest root: ObjectID) throws -> [ManifestEntry] { try snapshots.entries(ofManifest: root) }

    /// The leaves of a manifest with their entries (``SnapshotStore/leafEntries(ofManifest:reusing:)``).
    func leafEntries(ofManifest root: ObjectID, reusing known: [ObjectID: [ManifestEntry]] = [:]) throws -> [(ObjectID, [ManifestEntry])] {
        try snapshots.leafEntries(ofManifest: root, reusing: known)
    }

    /// One manifest chunk (``SnapshotStore/chunk(_:)``).
    func chunk(_ id: ObjectID) throws -> ManifestChunk { try snapshots.chunk(id) }

    /// Leaf ids in path order (``SnapshotStore/collectLeaves(_:into:rootLeaf:)``).
    func collectLeaves(_ id: ObjectID, into out: inout [ObjectID], rootLeaf: inout [ManifestEntry]?) throws {
        try snapshots.collectLeaves(id, into: &out, rootLeaf: &rootLeaf)
    }

    /// Writes the chunks of a manifest that are not stored yet (``SnapshotStore/writeManifest(_:)``).
    /// - Returns: the root id, totals, and how many bytes of new chunks were written.
    func writeManifest(_ entries: [ManifestEntry]) throws -> (ObjectID, ManifestTotals, UInt64) {
        try snapshots.writeManifest(entries)
    }

    // MARK: Blobs

    /// The original bytes of blob `id`, verified against its SHA-256.
    /// - Parameter location: where it is, when the caller already looked it up.
    /// - Throws: `DVSError.corrupt` naming the object and pack when it is missing or damaged.
    public func blob(_ id: ObjectID, location: BlobLocation? = nil) throws -> [UInt8] {
        try blob(id, location: location, decompressor: nil)
    }

    func blob(_ id: ObjectID, location: BlobLocation?, decompressor: ZstdDecompressor?) throws -> [UInt8] {
        do { return try blobs.read(id, at: location, decompressor: decompressor) } catch {
            // A partial clone: not damage, a blob not downloaded yet.
            if let remote = partialRemote(), (try? blobs.contains(id)) == false {
                throw DVSError(
                    .badInput, "blob \(id.short) is not downloaded: this repository is a partial clone of '\(remote)'",
                    hint: "check out a revision that holds it first (a checkout downloads what its snapshot needs), or use a full clone")
            }
            throw DVSError.wrap(error)
        }
    }
}

/// The committer identity in `context`: `DVS_AUTHOR_NAME`/`DVS_AUTHOR_EMAIL`, else git's
/// `user.name` and `user.email` (read with libgit2 from the global and system git config found
/// through the context's `HOME` and `XDG_CONFIG_HOME`), else `$USER@host`.
public func defaultIdentity(in context: ProcessContext) -> String {
    let env = context.environment
    if let n = env["DVS_AUTHOR_NAME"], let e = env["DVS_AUTHOR_EMAIL"] { return "\(n) <\(e)>" }
    if let (n, e) = GitConfig.identity(environment: env) { return "\(n) <\(e)>" }
    let user = env["USER"] ?? "dvs"
    return "\(user) <\(user)@\(context.hostName)>"
}

/// libgit2's global state, set up once per process and never torn down.
///
/// Pairing `git_libgit2_init`/`git_libgit2_shutdown` around each use lets one thread's last
/// shutdown tear down global state (settings, TLS, the mmap window) while another thread is
/// about to use it; libgit2 has had races there (libgit2#3974, #4645). One init per process
/// avoids the question.
enum LibGit2 {
    /// Evaluated once (Swift's lazy global initialisation is thread-safe).
    static let ready: Void = { _ = git_libgit2_init() }()
}

/// Reads git configuration through libgit2.
enum GitConfig {
    /// `user.name` and `user.email` from git's default config files, or nil: the global file
    /// (`$HOME/.gitconfig`), the XDG file (`$XDG_CONFIG_HOME/git/config`, else
    /// `$HOME/.config/git/config`) and the system file (`/etc/gitconfig`), located through
    /// `environment` rather than the process's own (as `git_config_open_default` would).
    /// The corresponding C functions are `git_config_add_file_ondisk` and `git_config_get_string_buf`.
    static func identity(environment env: [String: String]) -> (String, String)? {
        LibGit2.ready
        var cfg: OpaquePointer?
        guard git_config_new(&cfg) == 0, let cfg else { return nil }
        defer { git_config_free(cfg) }
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        let xdg = env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home.map { $0 + "/.config" }
        let files: [(String?, git_config_level_t)] = [
            ("/etc/gitconfig", GIT_CONFIG_LEVEL_SYSTEM), (xdg.map { $0 + "/git/config" }, GIT_CONFIG_LEVEL_XDG),
            (home.map { $0 + "/.gitconfig" }, GIT_CONFIG_LEVEL_GLOBAL),
        ]
        for case (let path?, let level) in files where FileIO.exists(path) {
            _ = git_config_add_file_ondisk(cfg, path, level, nil, 0)
        }
        func get(_ key: String) -> String? {
            var buf = git_buf()
            defer { git_buf_dispose(&buf) }
            guard git_config_get_string_buf(&buf, cfg, key) == 0, let p = buf.ptr else { return nil }
            return String(cString: p)
        }
        guard let n = get("user.name"), let e = get("user.email") else { return nil }
        return (n, e)
    }
}

extension Repository {
    /// Sets (nil removes) a setting, under the repository lock. - Throws: `DVSError.locked`, `.io`.
    public func setConfig(_ key: String, _ value: String?) throws {
        let lock = try self.lock("dvs config")
        defer { lock.release() }
        do { try catalog.write { tx in try tx.setConfig(key, value) } } catch { throw DVSError.wrap(error) }
        if key == "pack.audio-codec" { codecChoice.reset() }
    }
}
