import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `fetch` did.
public struct FetchSummary: Sendable {
    /// The remote's name.
    public var remote: String
    /// Remote-tracking refs (`refs/remotes/<remote>/<branch>`) and tags, with how they moved.
    public var refs: [RefMove]
    /// Metadata objects downloaded and verified.
    public var objectsDownloaded: Int
    /// GET requests made for metadata: commits' bundles (``MetadataBundle``; a miss counts) and
    /// loose objects under `objects/`.
    public var metadataRequests: Int = 0
    /// Metadata bundles found damaged (key → what is wrong); what they held was read
    /// from `objects/` instead. `remote verify --repair` writes them again.
    public var damagedBundles: [String: String] = [:]
    /// Packs downloaded and verified.
    public var packsDownloaded: Int
    /// Bytes downloaded (objects and packs; ranged index reads included).
    public var bytesDownloaded: UInt64
    /// Wall time in seconds.
    public var seconds: Double
    /// Lineage records (model and eval) fetched now.
    public var recordsDownloaded: Int = 0
    /// Purge records the remote held that this repository lacked, applied here now (oldest first).
    public var purgesApplied: [PurgeRecord] = []
    /// Purges of this repository applied again, because commits that arrived still held what
    /// they erased (someone built on history the purge rewrote before they had it).
    public var purgesReapplied: [PurgeID] = []
    /// Remote refs not fetched because they still point at a commit a purge replaced (the
    /// remote's clean-up is unfinished: a push from a repository that has the purge finishes it).
    public var skipped: [RefName] = []
}

extension Repository {
    /// Downloads what the remote's branches (and tags) need and moves the remote-tracking refs.
    ///
    /// Reads the remote refs; downloads the metadata objects this repository lacks (each one's
    /// SHA-256 checked before it is stored; stored leaves first, commits last, so a present object
    /// always has everything it references); works out the blobs the new snapshots need (entries'
    /// blobs plus the bases of `zstd-delta` blobs); reads the index of each remote pack it does not
    /// have with ranged GETs (the trailer says where the index is); downloads the packs holding
    /// needed blobs into `.dvs/tmp/` (a partial download is resumed from the bytes already there);
    /// decodes and hashes every blob of every downloaded pack; only then renames the packs into
    /// `.dvs/packs/`, records them, and moves `refs/remotes/<remote>/*` (and new tags) in one
    /// compare-and-swap transaction under the repository lock.
    /// - Parameters:
    ///   - remoteName: the remote.
    ///   - branch: fetch only this branch (no tags); its history's metadata and the packs its blobs are in.
    ///   - progress: transfer reports.
    /// - Throws: `DVSError.corrupt` naming the pack, object and key when something downloaded is
    ///   damaged (it is not used and no ref moves); `.badInput` for an unknown remote or a branch
    ///   the remote lacks; `.remote` for credential or connection failures.
    ///
    /// Purges travel too (`schema/FORMAT.md` § Remotes, `purges/<id>.json`): records the remote
    /// holds and this repository lacks are downloaded first; what they erased is never downloaded
    /// (a commit they replaced is a boundary, like one already stored; an erased blob is not
    /// needed), and once the data is in each is applied here as the purge that made it ran
    /// (``applyPurgeRecord(_:progress:)``). Commits that arrive holding what a purge erased, or
    /// built on a commit it replaced, are rewritten the same way before the fetch returns, so
    /// nothing erased stays. A remote ref still at a replaced commit is skipped.
    /// - Throws: also `DVSError.badInput` when the remote holds a purge this repository lacks
    ///   and a merge is in progress or tracked files have uncommitted changes (nothing is fetched).
    public func fetch(remote remoteName: String, branch: String? = nil, progress: ProgressHandler? = nil) throws -> FetchSummary {
        let config = try remote(remoteName)
        let store = try config.open(environment: context.environment)
        let incoming: [PurgeRecord]
        do { incoming = Self.causalOrder(try remotePurges(store: store, remote: remoteName).missing) } catch { throw DVSError.wrap(error) }
        if let first = incoming.first {
            try refuseUnlessPurgeable("fetch from '\(remoteName)', which holds purge \(first.id.short) (\(first.rule)) to apply here")
        }
        // A repository with no commit yet (a clone) holds nothing a purge could have to rewrite
        // but what arrives now, and the fetch knows whether that holds erased data.
        let empty = try catalog.refs(in: .all).isEmpty && headCommit() == nil
        var (summary, hit) = try fetchData(
            remoteName: remoteName, config: config, store: store, branch: branch, incoming: incoming, progress: progress)
        let started = Date()
        let pending = pendingPurges()
        for r in incoming {
            if empty && !hit && pending.isEmpty {
                let lock = try self.lock("dvs fetch \(remoteName)")
                defer { lock.release() }
                var kept = r
                kept.head = nil
                try writePurgeRecord(kept)
                summary.purgesApplied.append(kept)
                continue
            }
            summary.purgesApplied.append(try applyPurgeRecord(r, hints: Self.lineageMap(incoming), progress: progress))
        }
        // Purges that commits which arrived (now or in a fetch stopped before this point) still
        // hit run again, only those.
        let new = Set(incoming.map(\.id))
        for r in try purges() where pending.contains(r.id) && !new.contains(r.id) {
            try applyPurgeRecord(r, progress: progress)
            summary.purgesReapplied.append(r.id)
        }
        if !pending.isEmpty {
            unlink(pendingPurgesPath)
            FileIO.syncDirectory(dvsDir)
        }
        // A remote pack not yet rewritten by its purge can hold erased audio, or a label table
        // version with erased rows, beside what was needed (a delta base, a neighbour): those
        // frames go now that every rewrite that could read them is done. Looked up by id (a
        // few per purge), so a fetch killed before this point is made good by the next.
        var stale = Set<ObjectID>()
        for r in try purges() {
            for h in r.erased + (r.obsolete ?? []) { if let id = ObjectID(hex: h), try blobs.contains(id) { stale.insert(id) } }
        }
        if !stale.isEmpty {
            // What a commit here names again (someone restored the file; push refuses erased
            // audio, verify reports it) stays: dropping it would break that commit. This reads
            // every commit's entries, only when such a blob is here at all.
            for c in try purgeHistory(purgeRecords: false) where !stale.isEmpty {
                for e in try entries(ofManifest: snapshots.commit(c).manifest) { stale.remove(e.blob) }
            }
        }
        if !stale.isEmpty {
            let lock = try self.lock("dvs fetch \(remoteName)")
            defer { lock.release() }
            try repackWithout(stale)
        }
        if !summary.purgesApplied.isEmpty || !summary.purgesReapplied.isEmpty {
            // Refs that arrived at commits a purge then rewrote here are shown at their replacement.
            let records = try purges()
            for i in summary.refs.indices {
                guard let n = Self.rewriteChain(of: summary.refs[i].new, in: records).last?.to else { continue }
                summary.refs[i].new = n
                // A tag kept here against the remote's that the purge moved onto it: a move after
                // all, the purge's.
                if case .kept(let theirs) = summary.refs[i].status, theirs == n { summary.refs[i].status = .rewritten }
            }
        }
        summary.seconds += Date().timeIntervalSince(started)
        return summary
    }

    /// The purge records under the remote's `purges/` this repository lacks (oldest first), each
    /// checked (its key names its id, it decodes). A record both hold is joined into this
    /// repository's copy when they differ (``joinPurgeRecords(_:_:)``: replacements another
    /// repository added when it applied the purge again).
    /// - Throws: `DVSError.corrupt` naming the key when a record cannot be read; `RemoteError`.
    func remotePurges(store: any RemoteStore, remote: String) throws -> (ids: Set<PurgeID>, missing: [PurgeRecord]) {
        let local = try purges()
        var missing: [PurgeRecord] = []
        let listing = try remotePurgeListing(store: store)
        for id in listing.keys.sorted(by: { $0.hex < $1.hex }) {
            if let mine = local.first(where: { $0.id == id }) {
                guard let theirs = try remotePurgeRecord(id, store: store, remote: remote) else { continue }
                let joined = Self.joinPurgeRecords(mine, theirs)
                if joined != mine {
                    let lock = try self.lock("dvs fetch \(remote)")
                    defer { lock.release() }
                    try writePurgeRecord(joined)
                }
                continue
            }
            if let r = try remotePurgeRecord(id, store: store, remote: remote) { missing.append(r) }
        }
        return (Set(listing.keys), missing.sorted { ($0.time, $0.id.hex) < ($1.time, $1.id.hex) })
    }

    /// ``fetch(remote:branch:progress:)`` without applying purges.
    /// - Parameter incoming: purge records the remote holds and this repository lacks (what
    ///   they erased is not downloaded).
    /// - Returns: the summary, and whether commits that arrived hold what a purge (this
    ///   repository's or an incoming one) erased or replaced. Purges of this repository that they hit
    ///   (built on a commit one replaced, or naming audio one erased) are added to
    ///   `.dvs/PURGE-PENDING` before any object is stored.
    private func fetchData(
        remoteName: String, config: RemoteConfig, store: any RemoteStore, branch: String?, incoming: [PurgeRecord],
        progress: ProgressHandler?
    ) throws -> (FetchSummary, hit: Bool) {
        let started = Date()
        do {
            var purged = try purgedContent()
            for r in incoming {
                purged.commits.formUnion(r.commits.keys.compactMap { CommitID(hex: $0) })
                purged.blobs.formUnion(r.erased.compactMap { ObjectID(hex: $0) })
            }
            // Commits a purge replaced that are not stored here: never downloaded.
            let boundary = Set(purged.commits.filter { !objects.contains($0.object) })
            // 1. Remote refs.
            var remoteRefs: [(name: RefName, id: CommitID)] = []
            if let branch {
                let ref = RefName.branch(branch)
                let key = ref.fullName
                guard let r = try store.readRef(key) else {
                    let have = try store.list(prefix: RefNamespace.branches.prefix).compactMap {
                        RefName(fullName: $0.key).flatMap(RefNamespace.branches.relativeName(of:))
                    }
                    throw DVSError(
                        .badInput, "remote '\(remoteName)' has no branch '\(branch)'",
                        hint: have.isEmpty ? "the remote is empty: push to it first" : "its branches: \(have.joined(separator: ", "))")
                }
                remoteRefs.append((ref, try RemoteRef.decode(r.data, key: key, remote: remoteName)))
            } else {
                for o in try store.list(prefix: RefNamespace.all.prefix) {
                    guard let ref = RefName(fullName: o.key), ref.kind == .branch || ref.kind == .tag else { continue }
                    guard let r = try store.readRef(o.key) else { continue }  // deleted since the listing
                    remoteRefs.append((ref, try RemoteRef.decode(r.data, key: o.key, remote: remoteName)))
                }
            }
            // A remote ref still at a commit a purge replaced: the remote's clean-up is unfinished.
            let skipped = remoteRefs.filter { purged.commits.contains($0.id) }.map(\.name)
            remoteRefs.removeAll { purged.commits.contains($0.id) }
            let meter = TransferMeter(phase: .downloading, total: 0, progress: progress)

            // 2. Metadata: download what is missing, verify, keep in memory until complete.
            let purgeRecords = try purges() + incoming
            func beforeStoring(_ hits: Set<ObjectID>) throws {
                // Commits that arrive hold what a purge of this repository erased: this fetch
                // rewrites them, which it cannot do over uncommitted changes (refused before any
                // object is stored), and a fetch killed before it has is told by the marker.
                // Incoming records are named too: a clone stopped here and resumed must not take
                // the shortcut of writing the record only.
                let ids = Set(try (purges() + incoming).filter { Self.purgeHit($0, hits) }.map(\.id))
                guard !ids.isEmpty else { return }
                if incoming.isEmpty {
                    try refuseUnlessPurgeable(
                        "fetch from '\(remoteName)': commits there build on history a purge of this repository rewrote, and this fetch must rewrite them"
                    )
                }
                try writePendingPurges(ids.union(pendingPurges()))
            }
            let (downloaded, hits, replacements, metadataRequests, damagedBundles) = try downloadMetadata(
                remoteRefs.map(\.id), store: store, remote: remoteName, transfers: config.transfers, meter: meter,
                boundary: boundary, erased: purged.blobs, replacement: { Self.rewriteChain(of: $0, in: purgeRecords).last?.to },
                beforeStoring: beforeStoring)

            // 3. Blobs the new snapshots need (never an erased one); the replacements of replaced
            //    parents are tips too.
            //    A partial clone downloads none now: checkout fetches what a snapshot needs.
            //    A partial clone made full (`remote.<name>.partial false`) walks the whole history
            //    once, since what it fetched before came without blobs.
            let partialKey = "remote.\(remoteName).partial"
            let madeFull = try catalog.config(partialKey) == "false"
            let stops = madeFull ? boundary : Set(try catalog.refs(in: .all).map(\.target)).union(boundary)
            let partial = partialRemote() == remoteName
            //    (From every local ref too: branches, tags and HEAD the partial clone made.)
            let localTips = madeFull ? try catalog.refs(in: .all).map(\.target) + [try headCommit()].compactMap { $0 } : []
            let needed =
                partial
                ? []
                : try blobsNeeded(from: remoteRefs.map(\.id) + replacements + localTips, stoppingAt: stops).subtracting(purged.blobs)
            let have = partial ? [] : try blobs.ids()
            var missing = needed.subtracting(have)

            // 4. Packs: indexes by ranged reads, then whole packs, verified before use.
            var fetched: [(id: ObjectID, tmp: String, size: UInt64, entries: [PackEntry])] = []
            if !missing.isEmpty {
                let localPacks = Set(try catalog.packIDs())
                let remotePacks = try store.list(prefix: "packs/").compactMap { o -> (ObjectID, UInt64)? in
                    guard o.key.hasSuffix(".pack"), let id = ObjectID(hex: o.key.dropFirst(6).dropLast(5)), !localPacks.contains(PackID(id))
                    else {
                        return nil
                    }
                    return (id, o.size)
                }
                let indexes = Locked<[ObjectID: [PackEntry]]>([:])
                try parallelIO(remotePacks.count, workers: config.transfers) { i in
                    let (id, size) = remotePacks[i]
                    let entries: [PackEntry]
                    do { entries = try Self.remotePackIndex(store: store, pack: id, size: size, meter: meter) } catch let d as PackDamage {
                        throw DVSError(
                            .corrupt,
                            "pack '\(id.hex)' on remote '\(remoteName)' (key packs/\(id.hex).pack) is damaged: \(d.why); it was not used and no ref moved",
                            next: .repairRemote(remote: remoteName))
                    }
                    indexes.withLock { $0[id] = entries }
                }
                let index = indexes.withLock { $0 }
                // Blob -> the remote pack it is fetched with (not a cohort's copy when the source's
                // own pack holds it: `RemoteHolders`).
                let marked = try Self.markedPacks(store: store)
                let holders = RemoteHolders(
                    index: index, order: try Self.readingOrder(index.keys, store: store, marked: marked), marked: marked)
                var chosen = Set<ObjectID>()
                var verifiedIDs = have
                while !missing.isEmpty {
                    var round = Set<ObjectID>()
                    let holder = holders.pickWhole(missing).mapValues(\.pack)
                    for b in missing.sorted() {
                        guard let p = holder[b] else {
                            throw DVSError(
                                .corrupt,
                                "remote '\(remoteName)' lacks blob '\(b.hex)' that its commits need (no pack under packs/ holds it)",
                                next: .repairRemote(remote: remoteName))
                        }
                        if !chosen.contains(p) { round.insert(p) }
                    }
                    guard !round.isEmpty else {
                        throw DVSError(
                            .internal,
                            "fetch from '\(remoteName)' cannot place \(counted(missing.count, "blob")), e.g. '\(missing.first!.hex)'")
                    }
                    chosen.formUnion(round)
                    let batch = remotePacks.filter { round.contains($0.0) }
                    let got = try downloadPacks(
                        batch, index: index, store: store, remote: remoteName, transfers: config.transfers, meter: meter)
                    fetched += got
                    for f in got { for e in f.entries { verifiedIDs.insert(e.id) } }
                    // Verify every blob; delta bases outside these packs become the next round's needs.
                    let bases = try verifyPacks(fetched, remote: remoteName)
                    missing = bases.subtracting(verifiedIDs)
                    missing.formUnion(needed.subtracting(verifiedIDs))
                }
            }

            // 5. Store: packs into packs/, metadata (leaves first), then one transaction for the catalog and refs.
            let lock = try self.lock("dvs fetch \(remoteName)")
            defer { lock.release() }
            for f in fetched {
                guard rename(f.tmp, "\(packsDir)/\(f.id.hex).pack") == 0 else {
                    throw StorageError.posix("cannot rename pack into", path: "\(packsDir)/\(f.id.hex).pack")
                }
            }
            if !fetched.isEmpty { FileIO.syncDirectory(packsDir) }
            try objects.sync()
            var moves: [RefMove] = []
            var updates: [RefUpdate] = []
            // Messages only for the tags that take one: new here, or here without one (a fetch
            // of an unchanged remote reads none: its cost follows what changed).
            var wanted: [RefName] = []
            for r in remoteRefs where r.name.kind == .tag {
                let here = try catalog.ref(r.name)
                if here == nil {
                    wanted.append(r.name)
                } else if here == r.id, try tagMessage(r.name) == nil {
                    wanted.append(r.name)
                }
            }
            let messages = remoteTagMessages(wanted, store: store)
            for r in remoteRefs {
                let local = r.name.tracking(on: remoteName) ?? r.name
                let old = try catalog.ref(local)
                if r.name.kind == .tag, let old, old != r.id {
                    moves.append(RefMove(name: local, old: old, new: old, status: .kept(remoteTag: r.id)))
                    continue
                }
                let status =
                    old == nil ? RefMove.Status.created : old == r.id ? .upToDate : try isAncestor(old!, of: r.id) ? .fastForward : .forced
                // A new tag takes the message pushed with it, as `dvs tag -m` keeps one; a tag
                // already here without one takes it too (fetched before its message was pushed).
                let text = messages[r.name]
                if old != r.id {
                    updates.append(
                        RefUpdate(name: local, expected: old, new: r.id, message: text.map { "tag: " + $0 } ?? "fetch \(remoteName)"))
                } else if let text {
                    // Here, at the remote's commit, without a message (`wanted` above read that).
                    updates.append(RefUpdate(name: local, expected: old, new: r.id, message: "tag: " + text))
                }
                moves.append(RefMove(name: local, old: old, new: r.id, status: status))
            }
            try catalog.write { tx in
                for f in fetched {
                    try tx.insertPack(id: PackID(f.id), byteCount: f.size, entries: f.entries)
                }
                try tx.insertCommits(downloaded)
                try tx.moveRefs(updates, who: identity)
                if madeFull && branch == nil { try tx.setConfig(partialKey, nil) }  // every ref walked
            }
            packedBlobs.forgetReaders()
            // Lineage records, after the refs (a record names a snapshot it does not need present).
            let known = try purges() + incoming
            let replacedRecords = Set(known.flatMap { ($0.lineage ?? [:]).keys.compactMap { ObjectID(hex: $0) } })
            let records = try fetchRecords(
                store: store, remoteName: remoteName, transfers: config.transfers, meter: meter, replaced: replacedRecords,
                deletedArtifacts: Set(known.flatMap { ($0.artifacts ?? []).compactMap(ObjectID.init(hex:)) }))
            meter.finish()
            var summary = FetchSummary(
                remote: remoteName, refs: moves, objectsDownloaded: meter.objects, metadataRequests: metadataRequests,
                packsDownloaded: fetched.count, bytesDownloaded: meter.bytes, seconds: Date().timeIntervalSince(started),
                recordsDownloaded: records, skipped: skipped)
            summary.damagedBundles = damagedBundles
            return (summary, !hits.isEmpty)
        } catch { throw DVSError.wrap(error) }
    }

    /// Downloads the commits, manifest chunks and words objects reachable from `tips` that are not
    /// stored here, verifying each; stores them leaves first and commits parents first.
    /// - Returns: the new commits (for the catalog's commit table).
    /// - Parameters:
    ///   - boundary: commits a purge replaced that are not stored here: never downloaded (a
    ///     commit that names one as its parent is rewritten by the purge afterwards).
    ///   - erased: blobs purges erased.
    ///   - replacement: the commit purges put in place of a replaced one (through every purge),
    ///     nil when none did. A boundary parent's replacement not stored here is downloaded
    ///     with its history (the rewrite needs it as the new parent).
    ///   - beforeStoring: called with what the new objects hit (boundary commits they build on,
    ///     erased blobs their leaves name; empty when none) before the first is stored; it may
    ///     throw to store nothing.
    /// - Returns: the new commits, what they hit, the replacements downloaded (tips for the
    ///   blobs to fetch), the GET requests made, and the bundles found damaged (`key: why`).
    private func downloadMetadata(
        _ tips: [CommitID], store: any RemoteStore, remote: String, transfers: Int,
        meter: TransferMeter, boundary: Set<CommitID>, erased: Set<ObjectID>, replacement: (CommitID) -> CommitID?,
        beforeStoring: (Set<ObjectID>) throws -> Void
    ) throws -> ([(CommitID, Commit)], hits: Set<ObjectID>, replacements: [CommitID], requests: Int, damagedBundles: [String: String]) {
        let objects = self.objects
        let got = Locked<[ObjectID: (frame: [UInt8], bytes: [UInt8])]>([:])
        let requests = Locked(0)
        // Frames from commits' metadata bundles, not yet checked, with the bundle's commit; each
        // is taken once.
        let bundled = Locked<[ObjectID: (frame: [UInt8], commit: CommitID)]>([:])
        let damagedBundles = Locked<[CommitID: String]>([:])
        /// Downloads the bundles of `commits` that the remote has (a missing or malformed one is
        /// passed over: its objects come from `objects/`).
        func downloadBundles(_ commits: [CommitID]) throws {
            try parallelIO(commits.count, workers: transfers) { i in
                requests.withLock { $0 += 1 }
                let c = commits[i]
                let data: Data
                do {
                    guard let d = try store.get(MetadataBundle.key(c)) else { return }
                    data = d
                } catch {
                    // A bundle only speeds reading up: one that cannot be read (a policy that
                    // allows objects/ only, a timeout) is passed over, and said so.
                    damagedBundles.withLock { $0[c] = "it cannot be read: \(DVSError.wrap(error).message)" }
                    return
                }
                meter.partial(bytes: UInt64(data.count))
                guard let frames = data.withUnsafeBytes({ MetadataBundle.parse($0) }) else {
                    let why = data.withUnsafeBytes { MetadataBundle.problem($0) } ?? "it is not a whole bundle"
                    damagedBundles.withLock { $0[c] = why }
                    return
                }
                bundled.withLock { b in for (id, f) in frames where b[id] == nil { b[id] = (f, c) } }
            }
        }
        /// The object from a bundle, when one held it intact.
        @Sendable func fromBundle(_ id: ObjectID) -> (frame: [UInt8], bytes: [UInt8])? {
            guard let (frame, c) = bundled.withLock({ $0.removeValue(forKey: id) }) else { return nil }
            guard let bytes = try? Zstd.decompress(frame, limit: 1 << 30), ObjectID.hashing(bytes) == id else {
                damagedBundles.withLock { $0[c] = "object '\(id.hex)' in it does not verify" }
                return nil
            }
            return (frame, bytes)
        }
        func download(_ ids: [ObjectID]) throws {
            try parallelIO(ids.count, workers: transfers) { i in
                let id = ids[i]
                if let o = fromBundle(id) {
                    got.withLock { $0[id] = o }
                    meter.object(bytes: 0)
                    return
                }
                let key = "objects/\(id.hex)"
                requests.withLock { $0 += 1 }
                guard let data = try store.get(key) else {
                    throw DVSError(
                        .corrupt, "remote '\(remote)' lacks object '\(id.hex)' (key \(key)) that its refs reference",
                        next: .repairRemote(remote: remote))
                }
                let frame = [UInt8](data)
                let bytes: [UInt8]
                do {
                    bytes = try Zstd.decompress(frame, limit: 1 << 30)
                    guard ObjectID.hashing(bytes) == id else { throw StorageError(.corrupt, "checksum mismatch") }
                } catch {
                    throw DVSError(
                        .corrupt,
                        "object '\(id.hex)' on remote '\(remote)' (key \(key)) is damaged: \(DVSError.wrap(error).message); it was not used and no ref moved",
                        next: .repairRemote(remote: remote))
                }
                got.withLock { $0[id] = (frame, bytes) }
                meter.object(bytes: UInt64(frame.count))
            }
        }
        var hits = Set<ObjectID>()
        var replacements: [CommitID] = []
        // Commits: breadth-first by generation.
        var commits: [CommitID: Commit] = [:]
        var frontier = Array(Set(tips.filter { !objects.contains($0.object) }))
        var roots: [ObjectID] = []
        while !frontier.isEmpty {
            try downloadBundles(frontier)
            try download(frontier.map(\.object))
            var next = Set<CommitID>()
            for c in frontier {
                let bytes = got.withLock { $0[c.object]!.bytes }
                let decoded: Commit
                do { decoded = try Commit.decode(bytes) } catch {
                    throw DVSError(
                        .corrupt, "object '\(c.hex)' on remote '\(remote)' (key objects/\(c.hex)) is not a commit: \(error)",
                        next: .repairRemote(remote: remote))
                }
                commits[c] = decoded
                if !objects.contains(decoded.manifest) { roots.append(decoded.manifest) }
                for p in decoded.parents where commits[p] == nil && !objects.contains(p.object) {
                    guard boundary.contains(p) else {
                        next.insert(p)
                        continue
                    }
                    hits.insert(p.object)
                    if let r = replacement(p), commits[r] == nil, !objects.contains(r.object), !replacements.contains(r) {
                        replacements.append(r)
                        next.insert(r)
                    }
                }
            }
            // A parent fetched in this same round (a sibling tip) is not fetched again.
            frontier = Array(next.filter { commits[$0] == nil })
        }
        // Manifest chunks and words objects, level by level from the roots.
        var levels: [[ObjectID]] = []
        var seen = Set<ObjectID>()
        var chunkFrontier = Array(Set(roots))
        while !chunkFrontier.isEmpty {
            try download(chunkFrontier)
            levels.append(chunkFrontier)
            var next = Set<ObjectID>()
            for id in chunkFrontier {
                seen.insert(id)
                let bytes = got.withLock { $0[id]!.bytes }
                if bytes.starts(with: ManifestChunk.magic) {
                    let chunk: ManifestChunk
                    do { chunk = try ManifestChunk.decode(bytes) } catch {
                        throw DVSError(
                            .corrupt, "the manifest chunk '\(id.hex)' on remote '\(remote)' (key objects/\(id.hex)) is malformed: \(error)",
                            next: .repairRemote(remote: remote))
                    }
                    switch chunk {
                    case .leaf(let entries):
                        for e in entries where e.audio != nil && erased.contains(e.blob) { hits.insert(e.blob) }
                        for e in entries {
                            if let w = e.annotations?.transcript?.words, !seen.contains(w), !objects.contains(w) { next.insert(w) }
                        }
                    case .inner(_, let children):
                        for ch in children where !seen.contains(ch.id) && !objects.contains(ch.id) { next.insert(ch.id) }
                    }
                }
            }
            chunkFrontier = Array(next.subtracting(seen))
        }
        try beforeStoring(hits)
        // Store deepest first (words and leaves), then commits parents first.
        let all = got.withLock { $0 }
        for level in levels.reversed() {
            for id in level { try objects.writeVerified(frame: all[id]!.frame, id: id) }
        }
        var order: [CommitID] = []
        var done = Set<CommitID>()
        func visit(_ c: CommitID) {
            guard let commit = commits[c], done.insert(c).inserted else { return }
            for p in commit.parents { visit(p) }
            order.append(c)
        }
        for c in commits.keys.sorted() { visit(c) }
        try objects.sync()
        for c in order { try objects.writeVerified(frame: all[c.object]!.frame, id: c.object) }
        try objects.sync()
        let damaged = Dictionary(uniqueKeysWithValues: damagedBundles.withLock { $0 }.map { (MetadataBundle.key($0.key), $0.value) })
        return (order.map { ($0, commits[$0]!) }, hits, replacements, requests.withLock { $0 }, damaged)
    }

    /// `.dvs/PURGE-PENDING`: ids (hex, one a line) of this repository's purges that commits a
    /// fetch stored still hit; the fetch applies them again, and a fetch killed first leaves the
    /// file for the next one.
    var pendingPurgesPath: String { dvsDir + "/PURGE-PENDING" }

    /// The purges `.dvs/PURGE-PENDING` names (empty when there is none).
    func pendingPurges() -> Set<PurgeID> {
        guard let data = FileManager.default.contents(atPath: pendingPurgesPath) else { return [] }
        return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { ObjectID(hex: $0).map(PurgeID.init) })
    }

    /// Writes `.dvs/PURGE-PENDING` durably.
    func writePendingPurges(_ ids: Set<PurgeID>) throws {
        do {
            try FileIO.writeAtomically(
                Array(ids.map(\.hex).sorted().joined(separator: "\n").utf8) + [10], to: pendingPurgesPath, tmpDir: tmpDir)
            FileIO.syncDirectory(dvsDir)
        } catch { throw DVSError.wrap(error) }
    }

    /// Whether `record` replaced one of `hits` (commit ids) or erased one of them (blob ids).
    static func purgeHit(_ record: PurgeRecord, _ hits: Set<ObjectID>) -> Bool {
        record.commits.keys.contains { ObjectID(hex: $0).map(hits.contains) ?? false }
            || record.erased.contains { ObjectID(hex: $0).map(hits.contains) ?? false }
    }

    /// Blob ids (symlinks excluded) of the snapshots reachable from `tips`, not walking past
    /// commits in `stops` (targets of local refs, whose data is complete).
    /// - Complexity: O(unique manifest chunks of the walked commits) object reads.
    func blobsNeeded(from tips: [CommitID], stoppingAt stops: Set<CommitID>) throws -> Set<ObjectID> {
        var out = Set<ObjectID>()
        var seenCommits = Set<CommitID>()
        var stack = tips
        var roots: [ObjectID] = []
        while let c = stack.popLast() {
            guard seenCommits.insert(c).inserted, !stops.contains(c) else { continue }
            let decoded = try commit(c)
            roots.append(decoded.manifest)
            stack.append(contentsOf: decoded.parents)
        }
        var seen = Set<ObjectID>()
        var chunks = roots
        while let id = chunks.popLast() {
            guard seen.insert(id).inserted else { continue }
            let chunk: ManifestChunk
            do { chunk = try ManifestChunk.decode(objects.read(id)) } catch {
                let e = DVSError.wrap(error)
                throw DVSError(.corrupt, "cannot read manifest chunk '\(id.hex)': \(e.message)", underlying: e, next: .listDamagedObjects)
            }
            switch chunk {
            case .leaf(let entries): for e in entries where e.kind != .symlink { out.insert(e.blob) }
            case .inner(_, let children): chunks.append(contentsOf: children.map(\.id))
            }
        }
        return out
    }

    /// The order in which a reader picks the remote pack that holds a blob: packs `dvs gc --remote`
    /// has marked for deletion (`gc/pending.json`: the old copy of a pack it rewrote) last, so a
    /// reader that starts after the mark reads the copy that stays; then by id.
    /// - Throws: `RemoteError` when `gc/pending.json` cannot be read.
    static func readingOrder(_ packs: some Collection<ObjectID>, store: any RemoteStore, marked known: Set<ObjectID>? = nil) throws
        -> [ObjectID]
    {
        let marked = try known ?? markedPacks(store: store)
        return packs.sorted { a, b in
            let (ma, mb) = (marked.contains(a), marked.contains(b))
            return ma != mb ? !ma : a < b
        }
    }

    /// The packs a `gc --remote` run marked for deletion (`gc/pending.json`).
    /// - Throws: `RemoteError` when the read fails.
    static func markedPacks(store: any RemoteStore) throws -> Set<ObjectID> {
        guard let data = try store.get("gc/pending.json"), let keys = try? JSONDecoder().decode([String: Double].self, from: data)
        else { return [] }
        return Set(
            keys.keys.compactMap { k in k.hasPrefix("packs/") && k.hasSuffix(".pack") ? ObjectID(hex: k.dropFirst(6).dropLast(5)) : nil })
    }

    /// A remote pack's index, read with ranged GETs: the last 64 KiB (trailer and, usually, the
    /// whole index), then the rest of the index if it is longer.
    /// - Throws: `PackDamage` saying what is wrong when the trailer or index is malformed or does
    ///   not hash to the pack id; `RemoteError` when the reads fail.
    /// - Parameters:
    ///   - tail: bytes read from the end in the first request (the index of a pack of up to
    ///     about `tail / 57` blobs comes with it; a longer one takes a second read).
    ///   - cache: a folder of indexes read before, by pack id (`.dvs/cache/pack-index`): one found
    ///     there and hashing to its pack id is used without a request; one read is kept there.
    static func remotePackIndex(
        store: any RemoteStore, pack: ObjectID, size: UInt64, meter: TransferMeter, tail: UInt64 = 65536, cache: String? = nil
    ) throws -> [PackEntry] {
        let key = "packs/\(pack.hex).pack"
        func bad(_ why: String) -> PackDamage { PackDamage(why: why) }
        let trailerLength = UInt64(PackFormat.trailerLength)
        let header = UInt64(PackFormat.headerLength)
        // The index rows, index offset and count, as the pack id covers them.
        func parse(_ indexBytes: [UInt8], count: UInt64, indexOffset: UInt64) throws -> [PackEntry] {
            var h = StreamingHasher()
            h.update(PackFormat.magic)
            h.update([1, 0, 0, 0, 0, 0, 0, 0])
            h.update(indexBytes)
            guard h.finalize() == pack else { throw bad("its index does not hash to its id") }
            var ir = ByteReader(Array(indexBytes.prefix(Int(count) * PackFormat.indexRowLength)))
            var out: [PackEntry] = []
            for _ in 0..<count {
                let id = try ir.readID()
                let off = try ir.readU64()
                let st = try ir.readU64()
                let raw = try ir.readU64()
                guard let codec = BlobCodec(rawValue: try ir.readByte()), off >= header, st > 0, off + st <= indexOffset else {
                    throw bad("its index row for '\(id.hex)' is malformed")
                }
                out.append(PackEntry(id: id, offset: off, storedLength: st, rawLength: raw, codec: codec))
            }
            return out
        }
        let cached = cache.map { "\($0)/\(pack.hex)" }
        if let cached, let data = FileManager.default.contents(atPath: cached), data.count >= 12 {
            let bytes = [UInt8](data)
            var r = ByteReader(Array(bytes.suffix(12)))
            if let indexOffset = try? r.readU64(), let count = try? r.readU32(),
                UInt64(bytes.count) == UInt64(count) * UInt64(PackFormat.indexRowLength) + 12,
                indexOffset + UInt64(bytes.count) - 12 + trailerLength == size,
                let entries = try? parse(bytes, count: UInt64(count), indexOffset: indexOffset)
            {
                return entries
            }
        }
        guard size >= header + trailerLength else { throw bad("it is only \(size) bytes") }
        let tailStart = size > tail ? size - tail : 0
        var tailBytes = [UInt8](try store.getRange(key, tailStart...(size - 1)))
        meter.partial(bytes: UInt64(tailBytes.count))
        guard UInt64(tailBytes.count) == size - tailStart else { throw bad("it is shorter than its listing says") }
        let t = Array(tailBytes[(tailBytes.count - Int(trailerLength))...])
        var r = ByteReader(t)
        let indexOffset = try r.readU64()
        let count = UInt64(try r.readU32())
        let stored = ObjectID(bytes: try r.read(count: 32))
        guard Array(try r.read(count: 8)) == PackFormat.endMagic, stored == pack,
            indexOffset >= header, indexOffset + count * UInt64(PackFormat.indexRowLength) + trailerLength == size
        else {
            throw bad("its trailer is malformed")
        }
        if indexOffset < tailStart {
            let more = [UInt8](try store.getRange(key, indexOffset...(tailStart - 1)))
            meter.partial(bytes: UInt64(more.count))
            tailBytes = more + tailBytes
        }
        let base = min(indexOffset, tailStart)
        // The pack id covers header ‖ index ‖ index offset ‖ count; the header's bytes are fixed.
        let indexBytes = Array(tailBytes[Int(indexOffset - base)..<Int(size - base - trailerLength + 12)])
        let out = try parse(indexBytes, count: count, indexOffset: indexOffset)
        if let cached, let dir = cache {
            try? FileIO.makeDirectories(dir)
            try? Data(indexBytes).write(to: URL(fileURLWithPath: cached), options: .atomic)
        }
        return out
    }

    /// Downloads whole packs into `.dvs/tmp/fetch-<id>.pack`, in 16 MiB ranged reads appended to
    /// what is already there (a partial file from an interrupted fetch is resumed, not restarted).
    func downloadPacks(
        _ packs: [(ObjectID, UInt64)], index: [ObjectID: [PackEntry]], store: any RemoteStore, remote: String,
        transfers: Int, meter: TransferMeter
    ) throws -> [(id: ObjectID, tmp: String, size: UInt64, entries: [PackEntry])] {
        let tmp = tmpDir
        for (_, size) in packs { meter.addTotalBytes(size) }
        let beforeTransfer = context.beforeTransfer
        try parallelIO(packs.count, workers: transfers) { i in
            let (id, size) = packs[i]
            beforeTransfer?()
            let path = "\(tmp)/fetch-\(id.hex).pack"
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw StorageError.posix("cannot create", path: path) }
            defer { close(fd) }
            var st = stat()
            fstat(fd, &st)
            var have = UInt64(max(0, st.st_size))
            if have > size {
                ftruncate(fd, 0)
                have = 0
            }
            if have > 0 { meter.partial(bytes: 0) }
            while have < size {
                let end = min(size, have + (16 << 20)) - 1
                let data = try store.getRange("packs/\(id.hex).pack", have...end)
                guard !data.isEmpty else {
                    throw DVSError(
                        .remote, "pack '\(id.hex)' on remote '\(remote)' ended at byte \(have) of \(size)",
                        hint: "run the command again to resume")
                }
                try data.withUnsafeBytes { b in
                    var done = 0
                    while done < b.count {
                        let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(have) + off_t(done))
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw StorageError.posix("cannot write", path: path)
                        }
                        done += n
                    }
                }
                have += UInt64(data.count)
                meter.partial(bytes: UInt64(data.count))
            }
            guard fsync(fd) == 0 else { throw StorageError.posix("cannot fsync", path: path) }
            meter.step(bytes: 0)
        }
        return packs.map { ($0.0, "\(tmp)/fetch-\($0.0.hex).pack", $0.1, index[$0.0] ?? []) }
    }

    /// Decodes and hashes every blob of the downloaded packs (on all cores). Delta bases are
    /// looked up in these packs, then in this repository.
    /// - Returns: delta bases found in neither (the caller fetches the packs that hold them).
    /// - Throws: `DVSError.corrupt` naming pack, object and key; the damaged temp pack is deleted
    ///   so that the next attempt downloads it again.
    func verifyPacks(_ packs: [(id: ObjectID, tmp: String, size: UInt64, entries: [PackEntry])], remote: String) throws -> Set<
        ObjectID
    > {
        var readers: [(id: ObjectID, reader: PackReader, entries: [PackEntry])] = []
        for p in packs {
            let reader = try PackReader(path: p.tmp)
            if let why = try reader.verifyChecksum(expected: p.id) {
                unlink(p.tmp)
                throw DVSError(
                    .corrupt,
                    "pack '\(p.id.hex)' on remote '\(remote)' (key packs/\(p.id.hex).pack) is damaged: \(why); it was not used and no ref moved",
                    next: .repairRemote(remote: remote))
            }
            readers.append((p.id, reader, p.entries))
        }
        do { return try checkFrames(readers) } catch let d as FrameDamage {
            unlink("\(tmpDir)/fetch-\(d.pack.hex).pack")
            throw DVSError(
                .corrupt,
                "pack '\(d.pack.hex)' on remote '\(remote)' (key packs/\(d.pack.hex).pack) is damaged: object '\(d.object.hex)': \(d.why); it was not used and no ref moved",
                next: .repairRemote(remote: remote))
        }
    }

    /// Decodes every blob of `packs` and compares it with its id (size and SHA-256), on all
    /// cores, through the same decoding as reads (`PackReader.payload`, the store's transforms,
    /// zstd deltas against their verified bases). Delta bases are looked up in these packs, then
    /// in this repository's verified store.
    /// - Returns: delta bases found in neither.
    /// - Throws: `FrameDamage` naming the first damaged frame's pack and object.
    func checkFrames(_ packs: [(id: ObjectID, reader: PackReader, entries: [PackEntry])]) throws -> Set<ObjectID> {
        var readers: [ObjectID: (PackReader, PackEntry, ObjectID)] = [:]
        for p in packs {
            for e in p.entries where readers[e.id] == nil { readers[e.id] = (p.reader, e, p.id) }
        }
        let lookup = readers
        let missingBases = Locked<Set<ObjectID>>([])
        let all = packs.flatMap { p in p.entries.map { (p.id, $0) } }
        try parallelBatches(all.count, workers: workers, batch: 16) { _, range in
            let d = ZstdDecompressor()
            for i in range {
                let (packID, entry) = all[i]
                do {
                    _ = try self.decodeFetched(entry.id, lookup: lookup, decompressor: d, depth: 0)
                } catch let m as MissingBase {
                    missingBases.withLock { _ = $0.insert(m.id) }
                } catch {
                    throw FrameDamage(pack: packID, object: entry.id, why: DVSError.wrap(error).message)
                }
            }
        }
        return missingBases.withLock { $0 }
    }

    struct MissingBase: Error { var id: ObjectID }

    /// A damaged frame found by ``checkFrames(_:)``.
    struct FrameDamage: Error {
        var pack: ObjectID
        var object: ObjectID
        var why: String
    }

    /// A remote pack whose trailer or index is damaged (``remotePackIndex(store:pack:size:meter:tail:cache:)``).
    struct PackDamage: Error { var why: String }

    /// The verified original bytes of a blob from a downloaded pack (or, for a delta base, from
    /// this repository). - Throws: `MissingBase` when a delta base is nowhere; else the failure.
    func decodeFetched(
        _ id: ObjectID, lookup: [ObjectID: (PackReader, PackEntry, ObjectID)], decompressor: ZstdDecompressor, depth: Int
    ) throws -> [UInt8] {
        guard let (reader, entry, _) = lookup[id] else {
            if try blobs.contains(id) { return try blob(id) }
            throw MissingBase(id: id)
        }
        guard depth <= BlobCodec.maxDeltaDepth + 1 else { throw StorageError(.corrupt, "delta chain of '\(id.hex)' is too deep") }
        let bytes: [UInt8]
        if entry.codec == .zstdDelta {
            let stored = try reader.read(offset: entry.offset, length: entry.storedLength)
            guard stored.count > 33 else { throw StorageError(.corrupt, "delta object is truncated") }
            let base = try decodeFetched(ObjectID(bytes: stored[0..<32]), lookup: lookup, decompressor: decompressor, depth: depth + 1)
            let limit = Int(clamping: entry.rawLength) + (1 << 20)
            bytes = try stored[33...].withUnsafeBytes { f in
                try base.withUnsafeBytes { try decompressor.decompress(f, prefix: $0, limit: limit) }
            }
        } else {
            bytes = try packedBlobs.inverse(reader.payload(of: entry, decompressor: decompressor), codec: entry.codec)
        }
        guard bytes.count == Int(entry.rawLength), ObjectID.hashing(bytes) == id else { throw StorageError(.corrupt, "checksum mismatch") }
        return bytes
    }
}

extension Repository {
    /// The messages the remote keeps for `tags` (`messages/tags/<tag>`): one
    /// listing, then one GET for each tag that has one (up to 64 KiB; a larger one is no tag
    /// message), control characters other than line feeds and tabs removed. Best effort: a
    /// message that cannot be read is left out (a note on stderr), and the tags come without it;
    /// the fetch goes on.
    func remoteTagMessages(_ tags: [RefName], store: any RemoteStore) -> [RefName: String] {
        guard !tags.isEmpty else { return [:] }
        var out: [RefName: String] = [:]
        do {
            let listed = Dictionary(try store.list(prefix: "messages/tags/").map { ($0.key, $0.size) }) { a, _ in a }
            for ref in tags {
                guard let key = RemoteRef.messageKey(ref), let size = listed[key], size > 0, size <= 1 << 16,
                    let data = try store.get(key), let raw = String(data: data, encoding: .utf8)
                else { continue }
                // Another's text, printed by `dvs tag`: no control characters (terminal escapes)
                // but line feeds and tabs.
                let text = String(
                    String.UnicodeScalarView(
                        raw.unicodeScalars.filter { $0 == "\n" || $0 == "\t" || !($0.properties.generalCategory == .control) }))
                if !text.isEmpty { out[ref] = text }
            }
        } catch {
            context.notice?(
                "note: the remote's tag messages could not be read (\(Redaction.redact("\(error)"))); its tags are fetched without them")
        }
        return out
    }
}
