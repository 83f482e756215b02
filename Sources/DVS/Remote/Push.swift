import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How one ref moved (or did not) in a push or fetch.
public struct RefMove: Sendable, Equatable {
    /// The ref (`refs/heads/main` on the remote for a push; `refs/remotes/origin/main` locally for
    /// a fetch).
    public var name: RefName
    /// Its value before; nil when it did not exist.
    public var old: CommitID?
    /// Its value after.
    public var new: CommitID
    /// What happened to it.
    public var status: Status

    /// What a push or fetch did to one ref.
    public enum Status: Sendable, Equatable, CustomStringConvertible {
        /// The ref did not exist and now does.
        case created
        /// The ref moved to a descendant of its old commit.
        case fastForward
        /// The ref was replaced by a commit that does not descend from the old one (`--force`,
        /// or a remote branch rewritten).
        case forced
        /// The ref already pointed at the commit.
        case upToDate
        /// Fetch only: the local tag was kept because the remote's tag of that name points at
        /// `remoteTag`.
        case kept(remoteTag: CommitID)
        /// Push: the remote ref was at a commit a purge of this repository replaced, and now
        /// points at its replacement (or a descendant of it). Fetch: a tag here that the remote's
        /// differed from, moved onto the remote's by a purge the same fetch applied.
        case rewritten

        /// As in JSON output: `created`, `fast-forward`, `forced`, `up-to-date`,
        /// `kept (the remote tag differs: <short id>)`.
        public var description: String {
            switch self {
            case .created: "created"
            case .fastForward: "fast-forward"
            case .forced: "forced"
            case .upToDate: "up-to-date"
            case .kept(let id): "kept (the remote tag differs: \(id.short))"
            case .rewritten: "rewritten (purge)"
            }
        }
    }
}

/// What `push` did: counts and bytes moved, refs moved, wall time.
public struct PushSummary: Sendable {
    /// The remote's name.
    public var remote: String
    /// Every ref considered, with what happened to it.
    public var refs: [RefMove]
    /// Packs uploaded now.
    public var packsUploaded: Int
    /// Local packs the remote already had (not uploaded again).
    public var packsPresent: Int
    /// Packs the remote listed at another size than this repository's copy (damaged there),
    /// uploaded again; counted in ``packsUploaded`` too.
    public var packsReplaced: Int = 0
    /// Metadata objects (commits, manifest chunks, words objects) uploaded now.
    public var objectsUploaded: Int
    /// Bytes uploaded (packs and objects as stored; refs not counted).
    public var bytesUploaded: UInt64
    /// Wall time in seconds.
    public var seconds: Double
    /// Lineage records (model and eval) uploaded now.
    public var recordsUploaded: Int = 0
    /// What was done to apply this repository's purges to the remote (nil when it has none).
    public var purges: RemotePurgeCleanup? = nil
}

extension Repository {
    /// Pushes branches (and tags) to a remote.
    ///
    /// Order (DESIGN.md § Storage 6, `schema/FORMAT.md` § Remotes): LIST `packs/` and `objects/` to
    /// learn what the remote has; check every local pack it lacks (or lists at another size than
    /// this repository's copy: damaged there) frame by frame against its ids, and fail before
    /// the first upload if one is damaged or missing; upload those packs; upload the metadata objects
    /// reachable from the pushed commits that it lacks (words objects and manifest leaves before
    /// the chunks that reference them, parents before children), each checked against its id
    /// first; confirm by listing that the remote holds every upload at its size (S3 also checks
    /// each body's `Content-MD5`); only then move each remote ref
    /// with a conditional write against the version read at the start (S3 `If-Match` /
    /// `If-None-Match: *`). Transfers run on `remote.<name>.transfers` threads (default 8). A
    /// push killed at any point leaves every remote ref at a commit whose data is complete; run
    /// again, it uploads only what is still missing. The remote-tracking refs
    /// `refs/remotes/<remote>/<branch>` move afterwards, under the repository lock.
    /// - Parameters:
    ///   - remoteName: the remote (`origin`).
    ///   - branches: branch names; empty means the current branch (unless `all`).
    ///   - all: every local branch.
    ///   - tags: also every tag.
    ///   - force: move remote refs that are not ancestors of what is pushed (their commits leave the branch).
    ///   - progress: transfer reports (phase, items, bytes, total bytes); `.repacking` first
    ///     when audio stored as it is is coded before the upload (``repack(progress:)``).
    /// - Throws: `DVSError.remote` with "remote branch moved; run dvs pull" when a remote branch is
    ///   not an ancestor of the local one (without `force`) or moved during the push (the lost
    ///   compare-and-swap); nothing that was pushed is lost and no other ref is affected.
    ///   `DVSError.badInput` for an unknown remote or branch; `.remote` for credentials or connection failures.
    ///   `.corrupt` naming the file when a local pack or object to upload is damaged or missing
    ///   (nothing is uploaded, no ref moves).
    public func push(
        remote remoteName: String, branches: [String] = [], all: Bool = false, tags: Bool = false, force: Bool = false,
        progress: ProgressHandler? = nil
    ) throws -> PushSummary {
        let started = Date()
        let config = try remote(remoteName)
        let store = try config.open(environment: context.environment)
        do {
            // Audio a large commit stored as it is is coded before anything else: a remote never
            // receives it uncoded (its packs are what the team pays to store), and what to push
            // is decided after the coding, which can wait for a background repack. One listing
            // first, so that a wrong address or credentials fail at once, not after minutes of
            // coding. Nothing to do costs one lookup in a partial index.
            if try pendingRepack().packs > 0 {
                _ = try remotePurgeListing(store: store)
                _ = try repack(progress: progress)
            }
            // What to push: (remote/local ref name, local commit).
            var names: [RefName] = []
            if all { names = try catalog.refs(in: .branches).map(\.name) }
            for b in branches { names.append(RefName(fullName: b).flatMap { $0.kind == .head ? nil : $0 } ?? .branch(b)) }
            if names.isEmpty && !tags {
                guard let b = currentBranch() else {
                    throw DVSError(.usage, "HEAD is detached: name the branch to push", next: .namePushBranch(remote: remoteName))
                }
                names = [.branch(b)]
            }
            if tags { names += try catalog.refs(in: .tags).map(\.name) }
            var pushed: [(name: RefName, local: CommitID)] = []
            for n in Set(names).sorted() {
                guard let c = try catalog.ref(n) else {
                    let short = n.branchName ?? n.fullName
                    let current = currentBranch() == short
                    throw DVSError(
                        .badInput, "branch '\(short)' has no commit to push",
                        hint: current
                            ? nil : "local branches: \(try catalog.refs(in: .branches).map(\.name.shortName).joined(separator: ", "))",
                        next: current ? .commitBeforePushing : nil)
                }
                pushed.append((n, c))
            }
            guard !pushed.isEmpty else {
                throw DVSError(.usage, "nothing to push: no branches or tags", next: .commitBeforePushing)
            }

            // Purges: the remote must not hold one this repository lacks (its data would go
            // back up); this repository's go up first, so a stale clone is refused from now on.
            let purgeRecords = try purges()
            let localPurgeIDs = Set(purgeRecords.map(\.id))
            var cleanup: RemotePurgeCleanup? = nil
            do {
                let remoteListing = try remotePurgeListing(store: store)
                let remoteIDs = Set(remoteListing.keys)
                if let foreign = remoteIDs.subtracting(localPurgeIDs).sorted(by: { $0.hex < $1.hex }).first {
                    throw DVSError(
                        .remote,
                        "cannot push to '\(remoteName)': it holds purge \(foreign.short), which this repository has not applied; nothing was uploaded and no ref moved",
                        next: .fetchPurgeFirst(remote: remoteName))
                }
                if !purgeRecords.isEmpty {
                    var c = RemotePurgeCleanup()
                    for r in purgeRecords where try uploadPurgeRecord(r, store: store, remote: remoteName) { c.recordsUploaded += 1 }
                    if c.recordsUploaded > 0 { context.afterPurgeStep?("remote-records") }
                    cleanup = c
                }
            }
            // The commit a purge put in place of `c` (through every later purge), if one did.
            func purgedTarget(_ c: CommitID) -> CommitID? { Self.rewriteChain(of: c, in: purgeRecords).last?.to }

            // What the remote has: two listings, not a request per object.
            var remotePacks: [PackID: UInt64] = [:]
            for o in try store.list(prefix: "packs/") {
                guard o.key.hasSuffix(".pack"), let id = PackID(hex: o.key.dropFirst(6).dropLast(5)) else { continue }
                remotePacks[id] = o.size
            }
            let remoteObjects = Set(try store.list(prefix: "objects/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
            // A partial clone pushing to another remote: the blobs of the commits that remote
            // lacks, not downloaded here yet, come from the remote it was cloned from first.
            if let partial = partialRemote(), partial != remoteName {
                let needed = try blobsNeeded(from: pushed.map(\.local), stoppingAt: Set(remoteObjects.map(CommitID.init)))
                try downloadMissingBlobs(needed, progress: progress)
            }

            // Remote refs as they are now; refuse non-fast-forwards before uploading anything.
            var plans: [(name: RefName, local: CommitID, old: CommitID?, version: String?, status: RefMove.Status)] = []
            for p in pushed {
                let current = try store.readRef(p.name.fullName)
                let old = try current.map { try RemoteRef.decode($0.data, key: p.name.fullName, remote: remoteName) }
                var status = RefMove.Status.created
                if let old {
                    if old == p.local {
                        status = .upToDate
                    } else if let n = purgedTarget(old), try isAncestor(n, of: p.local) {
                        status = .rewritten
                    } else if try isAncestor(old, of: p.local) {
                        status = .fastForward
                    } else if force {
                        status = .forced
                    } else {
                        let what = p.name.kind == .tag ? "tag" : "branch"
                        throw DVSError(
                            .remote,
                            "cannot push '\(p.name)' to '\(remoteName)': remote \(what) moved; run dvs pull (the remote is at \(old.short), which is not an ancestor of \(p.local.short))",
                            next: .pullOrForcePush(remote: remoteName, ref: p.name))
                    }
                }
                plans.append((p.name, p.local, old, current?.version, status))
            }
            // Every other remote branch and tag at a commit a purge replaced moves to its
            // replacement in the same push; one at a commit this repository lacks holds the
            // remote's clean-up back (it might build on what was erased: fetch brings it here).
            let replacedOnRemote = purgeRecords.contains { r in
                r.commits.keys.contains { CommitID(hex: $0).map { remoteObjects.contains($0.object) } ?? false }
            }
            if cleanup != nil && replacedOnRemote {
                let named = Set(plans.map(\.name))
                for o in try store.list(prefix: RefNamespace.all.prefix) {
                    guard let ref = RefName(fullName: o.key), ref.kind == .branch || ref.kind == .tag, !named.contains(ref),
                        let current = try store.readRef(o.key)
                    else { continue }
                    let old = try RemoteRef.decode(current.data, key: o.key, remote: remoteName)
                    if let n = purgedTarget(old) {
                        // The replacement can be gone here (its branch deleted and collected):
                        // that ref stays, and so does the erasure of the old data, until a
                        // repository that has it pushes.
                        guard objects.contains(n.object) else {
                            cleanup?.deferred.append(ref)
                            continue
                        }
                        plans.append((ref, n, old, current.version, .rewritten))
                    } else if !objects.contains(old.object) {
                        cleanup?.deferred.append(ref)
                    }
                }
            }
            let toMove = plans.filter { $0.status != .upToDate }

            // Packs to upload: those the remote lacks, and those it lists at another size than
            // this repository's intact copy (a pack's size follows from its id: the remote's copy
            // is damaged). Where the local copy is the damaged one, the remote's is left alone.
            let dir = packsDir
            func localSize(_ id: PackID) -> UInt64? {
                var st = stat()
                return stat("\(dir)/\(id.hex).pack", &st) == 0 ? UInt64(st.st_size) : nil
            }
            let localPacks = try catalog.packIDs()
            let replaced =
                toMove.isEmpty
                ? []
                : localPacks.filter { id in
                    remotePacks[id].map { $0 != localSize(id) } ?? false
                }.filter { localPackProblem($0) == nil }
            // Packs a partial fetch made from this remote hold its own frames: not sent back.
            let fromHere = partialPacks(from: remoteName)
            let missingPacks = toMove.isEmpty ? [] : localPacks.filter { remotePacks[$0] == nil && !fromHere.contains($0) } + replaced
            let closure = try metadataClosure(from: toMove.map(\.local)) { remoteObjects.contains($0) }
            let objectCount = closure.levels.reduce(0) { $0 + $1.count } + closure.commits.count

            // Audio a purge erased never goes back up, even when the same bytes were added again.
            let erasedAudio = Set(purgeRecords.flatMap(\.erased).compactMap { ObjectID(hex: $0) })
            if !erasedAudio.isEmpty {
                for id in closure.levels.first ?? [] {
                    guard case .leaf(let es)? = try? snapshots.chunk(id),
                        let e = es.first(where: { $0.audio != nil && erasedAudio.contains($0.blob) }),
                        let p = purgeRecords.first(where: { $0.erased.contains(e.blob.hex) })
                    else { continue }
                    throw DVSError(
                        .badInput,
                        "cannot push to '\(remoteName)': \(e.path) holds audio that purge \(p.id.short) (\(p.rule)) erased (blob \(e.blob.short)); no ref moved",
                        next: .removeErasedAudio(path: e.path.string))
                }
            }

            // Nothing damaged leaves this repository: every pack to upload is checked frame by
            // frame against its ids before the first byte is sent (the replaced ones just were).
            for id in missingPacks where remotePacks[id] == nil {
                if let why = localPackProblem(id) {
                    let file = ".dvs/packs/\(id.hex).pack"
                    throw DVSError(
                        .corrupt, "cannot push to '\(remoteName)': the local pack \(file) \(why); nothing was uploaded and no ref moved",
                        next: .restoreLocalPack(path: file))
                }
            }

            // Audio a commit stored as it is was coded above; a commit that ran since (before
            // this push took the lock) may have stored more.
            for id in missingPacks {
                let stored: Bool
                do { stored = try catalog.holdsStoredBlobs(pack: id) } catch { throw DVSError.wrap(error) }
                if stored {
                    throw DVSError(
                        .badInput,
                        "cannot push to '\(remoteName)': the local pack .dvs/packs/\(id.hex).pack holds audio not coded yet (a commit stored it while this push started); nothing was uploaded and no ref moved",
                        hint: "run the push again: it codes that audio first")
                }
            }

            let meter = TransferMeter(phase: .uploading, total: missingPacks.count + objectCount, progress: progress)
            var uploadedSizes: [String: UInt64] = [:]
            for p in missingPacks {
                if let n = localSize(p) {
                    meter.addTotalBytes(n)
                    uploadedSizes["packs/\(p.hex).pack"] = n
                }
            }
            let beforeTransfer = context.beforeTransfer
            try parallelIO(missingPacks.count, workers: config.transfers) { i in
                let id = missingPacks[i]
                let path = "\(dir)/\(id.hex).pack"
                beforeTransfer?()
                do { try store.putFile("packs/\(id.hex).pack", localPath: path) } catch {
                    let e = DVSError.wrap(error)
                    if access(path, F_OK) != 0 {
                        // Removed since it was checked: pushing again cannot help.
                        throw DVSError(
                            .corrupt,
                            "cannot push to '\(remoteName)': the local pack .dvs/packs/\(id.hex).pack is missing; no ref moved",
                            cause: e.message, underlying: e.underlying, next: .restoreLocalPack(path: ".dvs/packs/\(id.hex).pack"))
                    }
                    throw DVSError(
                        e.code, "cannot upload pack '\(id.hex)' to '\(remoteName)' (key packs/\(id.hex).pack): \(e.message)",
                        hint: e.hint ?? "run the push again; packs already uploaded are not sent twice", cause: e.cause,
                        underlying: e.underlying, next: e.next)
                }
                var st = stat()
                meter.step(bytes: stat(path, &st) == 0 ? UInt64(st.st_size) : 0)
            }
            let objects = self.objects
            let objectSizes = Locked<[String: UInt64]>([:])
            @Sendable func upload(_ id: ObjectID) throws {
                let frame: [UInt8]
                do { frame = try Self.verifiedFrame(objects, id) } catch {
                    let e = DVSError.wrap(error)
                    throw DVSError(
                        .corrupt,
                        "cannot push to '\(remoteName)': the local object .dvs/objects/\(id.hex.prefix(2))/\(id.hex.dropFirst(2)) is damaged or missing (\(e.message)); no ref moved",
                        underlying: e, next: .listDamagedObjects)
                }
                do { try store.put("objects/\(id.hex)", Data(frame)) } catch {
                    let e = DVSError.wrap(error)
                    throw DVSError(
                        e.code, "cannot upload object '\(id.hex)' to '\(remoteName)': \(e.message)", hint: e.hint ?? "run the push again",
                        cause: e.cause, underlying: e.underlying, next: e.next)
                }
                objectSizes.withLock { $0["objects/\(id.hex)"] = UInt64(frame.count) }
                meter.step(bytes: UInt64(frame.count))
            }
            // Each new commit's metadata in one more object, for readers (`MetadataBundle`), before
            // the loose objects: a push killed among these, run again, finds the same commits
            // missing and sends their bundles again (after them, a commit already listed would not be).
            let bundleSizes = try uploadBundles(
                closure, store: store, remote: remoteName, transfers: config.transfers, meter: meter)
            for level in closure.levels {
                try parallelIO(level.count, workers: config.transfers) { try upload(level[$0]) }
            }
            for c in closure.commits { try upload(c.object) }
            // The remote lists every upload at its size before any ref moves.
            try confirmUploaded(
                uploadedSizes.merging(objectSizes.withLock { $0 }) { a, _ in a }.merging(bundleSizes) { a, _ in a }, store: store,
                remote: remoteName)

            // A purge that reached the remote during this push: what this push uploaded may hold
            // what it erased, so it is deleted again and no ref moves.
            let foreignNow = try remotePurgeIDs(store: store).subtracting(localPurgeIDs)
            if let foreign = foreignNow.sorted(by: { $0.hex < $1.hex }).first {
                // Only what names audio that purge erased is deleted again (keys are content
                // addresses: another push may have sent the same others and moved a ref onto them).
                var erased = Set<ObjectID>()
                for id in foreignNow {
                    if let r = try remotePurgeRecord(id, store: store, remote: remoteName) {
                        erased.formUnion(r.erased.compactMap { ObjectID(hex: $0) })
                    }
                }
                var doomed: [String] = []
                for id in missingPacks where remotePacks[id] == nil {
                    let entries = (try? PackReader(path: "\(dir)/\(id.hex).pack").readIndex()) ?? []
                    if entries.contains(where: { erased.contains($0.id) }) { doomed.append("packs/\(id.hex).pack") }
                }
                for key in objectSizes.withLock({ Array($0.keys) }).sorted() {
                    guard let id = ObjectID(hex: key.dropFirst(8)), case .leaf(let es)? = try? snapshots.chunk(id),
                        es.contains(where: { $0.audio != nil && erased.contains($0.blob) })
                    else { continue }
                    doomed.append(key)
                }
                // Bundles only repeat objects: every one this push sent goes.
                for key in bundleSizes.keys.sorted() { try? store.delete(key) }
                for key in doomed { try? store.delete(key) }
                throw DVSError(
                    .remote,
                    "cannot push to '\(remoteName)': purge \(foreign.short) reached it during this push; no ref moved, and the \(counted(doomed.count, "pack")) and manifest leaves this push uploaded that hold audio it erased were deleted again",
                    next: .fetchPurgeFirst(remote: remoteName))
            }

            // A pack this push found on the remote and so did not send may have been collected
            // since (`dvs gc --remote` elsewhere): sent now, before any ref relies on it.
            if !toMove.isEmpty {
                let listedNow = Set(try store.list(prefix: "packs/").compactMap { PackID(hex: $0.key.dropFirst(6).dropLast(5)) })
                for id in localPacks where !listedNow.contains(id) && !fromHere.contains(id) {
                    try store.putFile("packs/\(id.hex).pack", localPath: "\(dir)/\(id.hex).pack")
                }
                // The same for metadata objects it found there and did not send, children first:
                // the walk goes through what this push sent, down to what it skipped.
                let objectsNow = Set(try store.list(prefix: "objects/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
                let sent = Set(closure.levels.joined()).union(closure.commits.map(\.object))
                let gone = try metadataClosure(from: toMove.map(\.local)) { objectsNow.contains($0) && !sent.contains($0) }
                for level in gone.levels {
                    let missing = level.filter { !objectsNow.contains($0) }
                    try parallelIO(missing.count, workers: config.transfers) { try upload(missing[$0]) }
                }
                for c in gone.commits where !objectsNow.contains(c.object) { try upload(c.object) }
            }

            // Everything the new refs reference is on the remote: move them by compare-and-swap.
            var moves: [RefMove] = []
            for p in plans {
                if p.status != .upToDate {
                    do { try store.writeRef(p.name.fullName, RemoteRef.encode(p.local), expected: p.version) } catch let e as RemoteError
                        where e.code == .preconditionFailed
                    {
                        throw DVSError(
                            .remote,
                            "cannot push '\(p.name)' to '\(remoteName)': remote branch moved; run dvs pull (someone pushed to it during this push)",
                            details: moves.map { "pushed \($0.name): \($0.old?.short ?? "(new)") -> \($0.new.short)" },
                            next: .pullThenPushAgain(remote: remoteName))
                    }
                }
                moves.append(RefMove(name: p.name, old: p.old, new: p.local, status: p.status))
            }
            // Lineage records after the refs their snapshots are on (records/ markers last).
            let records = try pushRecords(
                store: store, remoteName: remoteName, remoteObjects: remoteObjects, transfers: config.transfers, meter: meter)
            try updateTracking(remote: remoteName, moves.map { ($0.name, $0.new) }, message: "push")
            pushTagMessages(moves, store: store, remote: remoteName, force: force)
            // Then what the purges erased leaves the remote (idempotent: a push killed in there
            // is finished by the next one).
            if var c = cleanup {
                if moves.contains(where: { $0.status == .rewritten }) { context.afterPurgeStep?("remote-refs") }
                try cleanUpRemotePurges(
                    purgeRecords, store: store, remote: remoteName, remoteObjects: remoteObjects, transfers: config.transfers,
                    meter: meter, into: &c)
                cleanup = c
            }
            meter.finish()
            return PushSummary(
                remote: remoteName, refs: moves, packsUploaded: missingPacks.count,
                packsPresent: toMove.isEmpty ? 0 : localPacks.count - missingPacks.count, packsReplaced: replaced.count,
                objectsUploaded: objectCount, bytesUploaded: meter.bytes, seconds: Date().timeIntervalSince(started),
                recordsUploaded: records, purges: cleanup)
        } catch { throw DVSError.wrap(error) }
    }

    /// Points `refs/remotes/<remote>/<branch>` (branches) at the given commits, in one
    /// transaction under the repository lock. Tags are not tracked.
    func updateTracking(remote: String, _ refs: [(name: RefName, target: CommitID)], message: String) throws {
        let updates = refs.compactMap { r in r.name.tracking(on: remote).map { (name: $0, target: r.target) } }
        guard !updates.isEmpty else { return }
        let lock = try self.lock("dvs \(message) \(remote)")
        defer { lock.release() }
        var rows: [RefUpdate] = []
        for u in updates {
            let name = u.name
            let current = try catalog.ref(name)
            if current != u.target { rows.append(RefUpdate(name: name, expected: current, new: u.target, message: message)) }
        }
        try catalog.write { tx in try tx.moveRefs(rows, who: identity) }
    }
}

/// Counts items and bytes of a transfer across threads and reports them as `Progress`.
final class TransferMeter: @unchecked Sendable {
    private let lock = NSLock()
    private let phase: Progress.Phase
    private let total: Int
    private let progress: ProgressHandler?
    private var done = 0
    private var totalBytes: UInt64 = 0
    private(set) var bytes: UInt64 = 0
    private(set) var objects = 0

    init(phase: Progress.Phase, total: Int, progress: ProgressHandler?) {
        self.phase = phase
        self.total = total
        self.progress = progress
    }

    func addTotalBytes(_ n: UInt64) { lock.withLock { totalBytes += n } }

    /// One more item, of `bytes` bytes.
    func step(bytes n: UInt64) {
        let p = lock.withLock { () -> Progress in
            done += 1
            bytes += n
            return Progress(phase: phase, done: done, total: total, bytes: bytes, totalBytes: totalBytes)
        }
        progress?(p)
    }

    /// One metadata object downloaded, of `bytes` bytes (counted apart from items).
    func object(bytes n: UInt64) {
        lock.withLock { objects += 1 }
        partial(bytes: n)
    }

    /// Bytes moved without finishing an item (a part of a large download).
    func partial(bytes n: UInt64) {
        let p = lock.withLock { () -> Progress in
            bytes += n
            return Progress(phase: phase, done: done, total: total, bytes: bytes, totalBytes: totalBytes)
        }
        progress?(p)
    }

    func finish() {
        guard total > 0 else { return }
        let p = lock.withLock { Progress(phase: phase, done: total, total: total, bytes: bytes, totalBytes: totalBytes) }
        progress?(p)
    }
}

extension Repository {
    /// Uploads a ``MetadataBundle`` for each commit of `closure` (the commit object and the
    /// chunks and words objects it owns there), each written to `.dvs/tmp/` first and checked
    /// object by object against its id.
    /// - Parameter failure: how an error begins (default "cannot push to '<remote>'").
    /// - Returns: the bundles' keys and sizes in bytes, for the listing check.
    /// - Throws: `DVSError.corrupt` when a local object is damaged or missing; `.remote` on
    ///   transfer failures (no ref has moved yet; a push run again uploads them again).
    func uploadBundles(
        _ closure: (levels: [[ObjectID]], commits: [CommitID], owner: [ObjectID: CommitID]), store: any RemoteStore,
        remote: String, transfers: Int, meter: TransferMeter, failure: String? = nil
    ) throws -> [String: UInt64] {
        let failure = failure ?? "cannot push to '\(remote)'"
        let after = failure.hasPrefix("cannot push") ? "; no ref moved" : ""
        guard !closure.commits.isEmpty else { return [:] }
        var owned: [CommitID: [ObjectID]] = [:]
        for level in closure.levels { for id in level { if let c = closure.owner[id] { owned[c, default: []].append(id) } } }
        let members = owned
        let commits = closure.commits
        let objects = self.objects
        let tmp = tmpDir
        let sizes = Locked<[String: UInt64]>([:])
        try parallelIO(commits.count, workers: transfers) { i in
            let c = commits[i]
            let key = MetadataBundle.key(c)
            // A name of its own (another push of the same commit may run at once), locked while
            // this process lives: the next command's sweep deletes it after a kill.
            let (fd, path) = try FileIO.makeTemp(in: tmp, prefix: Self.pushBundlePrefix)
            defer {
                unlink(path)
                close(fd)
            }
            let size: UInt64
            do { size = try MetadataBundle.write((members[c] ?? []) + [c.object], from: objects, fd: fd, path: path) } catch {
                let e = DVSError.wrap(error)
                throw DVSError(
                    .corrupt, "\(failure): commit \(c.short)'s metadata cannot be read here (\(e.message))\(after)",
                    underlying: e, next: .listDamagedObjects)
            }
            do { try store.putFile(key, localPath: path) } catch {
                let e = DVSError.wrap(error)
                throw DVSError(
                    e.code, "\(failure): cannot upload \(key): \(e.message)", hint: e.hint ?? "run the push again", cause: e.cause,
                    underlying: e.underlying, next: e.next)
            }
            sizes.withLock { $0[key] = size }
            meter.addTotalBytes(size)
            meter.partial(bytes: size)
        }
        return sizes.withLock { $0 }
    }
}

extension Repository {
    /// Writes the message of each pushed tag beside its ref (`messages/tags/<tag>`), after the
    /// refs, records and tracking refs. A tag that moved gets its message, or loses the old one
    /// when it has none. A tag already there gets its message when the remote has none (pushed by
    /// an older dvs, or by a push stopped before its messages), so a later push mends it; with
    /// `force`, also when the remote's differs (the tag made again here with another message);
    /// a message here never deletes or replaces another's otherwise. One listing; a message is
    /// compared by the listed checksum where the backend has one (S3's ETag), else read.
    /// Best effort: a message is extra, and a failure (a policy that allows only the data keys)
    /// is a note on stderr, never a failed push whose refs have moved.
    func pushTagMessages(_ moves: [RefMove], store: any RemoteStore, remote: String, force: Bool) {
        let tags = moves.filter { $0.name.kind == .tag }
        guard !tags.isEmpty else { return }
        do {
            let listed = Dictionary(try store.list(prefix: "messages/tags/").map { ($0.key, $0) }) { a, _ in a }
            for m in tags {
                guard let key = RemoteRef.messageKey(m.name) else { continue }
                let moved = m.status != .upToDate && m.status != .rewritten
                guard let message = try tagMessage(m.name) else {
                    if moved, listed[key] != nil { try store.delete(key) }
                    continue
                }
                let data = Data(message.utf8)
                if let there = listed[key] {
                    if try sameMessage(there, data, key, store) { continue }
                    guard moved || force else {
                        context.notice?(
                            "note: tag '\(m.name.shortName)' here has another message than on '\(remote)', which keeps its own; a forced push replaces it"
                        )
                        continue
                    }
                }
                try store.put(key, data)
            }
        } catch {
            context.notice?(
                "note: the tags' messages were not all written to '\(remote)' (\(Redaction.redact("\(error)"))); the refs are pushed, and the next push writes the messages"
            )
        }
    }

    /// Whether the remote's message (`there`, as listed under `key`) is `data`: by size, then by
    /// the listed checksum where the backend has one (S3's ETag), else by reading it.
    private func sameMessage(_ there: RemoteObject, _ data: Data, _ key: String, _ store: any RemoteStore) throws -> Bool {
        guard there.size == UInt64(data.count) else { return false }
        if let sum = store.listedChecksum(of: data), let etag = there.etag { return sum == etag }
        return try store.get(key) == data
    }
}
