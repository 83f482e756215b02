import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Purges on a remote (`schema/FORMAT.md` § Remotes, Documentation/ARCHITECTURE.md "Erasure").
//
// A purge record travels as `purges/<purge id>.json`. `dvs push` refuses while the remote holds a
// record this repository lacks (a stale clone would upload the erased data again), uploads this
// repository's records before anything else, moves every remote ref a purge rewrote to its
// replacement with the other refs, and then deletes from the remote what the purges erased:
// packs holding erased audio or old label tables (written again without them where this
// repository lacks their other blobs), the manifest chunks naming erased audio, their words
// objects, and the replaced commits, last. Each step is idempotent and the whole runs on every
// push while a replaced commit is still on the remote, so a push killed midway is finished by
// the next. `dvs fetch` downloads records it lacks and applies them (``applyPurgeRecord``).

/// What a push did to carry this repository's purges to a remote.
public struct RemotePurgeCleanup: Sendable, Equatable {
    /// Purge records uploaded to `purges/` now.
    public var recordsUploaded = 0
    /// Commits a purge replaced that were still on the remote when the push started (0 once
    /// the remote is clean).
    public var oldCommits = 0
    /// Packs deleted from the remote because they held erased audio or a label table version
    /// with erased rows.
    public var packsDeleted = 0
    /// Of those, packs whose other blobs this repository lacked: downloaded, verified, written
    /// again without the erased blobs and uploaded before the old pack was deleted.
    public var packsRewritten = 0
    /// Packs of this repository uploaded by the clean-up (its own rewritten packs).
    public var packsUploaded = 0
    /// Metadata objects deleted: words objects of erased samples, manifest chunks naming erased
    /// audio (and the chunks above them), the replaced commits.
    public var objectsDeleted = 0
    /// Model artifacts a purge deleted (they named erased samples), deleted from the remote now.
    public var artifactsDeleted = 0
    /// Model and eval records a purge wrote again, deleted from the remote now (their
    /// replacements were uploaded first).
    public var recordsReplaced = 0
    /// Remote branches and tags at commits this repository lacks. They may build on what a purge
    /// erased, so nothing is deleted from the remote until a fetch has brought them here (and
    /// rewritten them if they did); the next push then finishes.
    public var deferred: [RefName] = []

    /// Nothing done yet.
    public init() {}
}

extension Repository {
    /// The purge records under the remote's `purges/`: id → size in bytes.
    /// - Throws: `RemoteError` when the listing fails.
    func remotePurgeListing(store: any RemoteStore) throws -> [PurgeID: UInt64] {
        var out: [PurgeID: UInt64] = [:]
        for o in try store.list(prefix: "purges/") where o.key.hasSuffix(".json") {
            if let id = ObjectID(hex: o.key.dropFirst(7).dropLast(5)).map(PurgeID.init) { out[id] = o.size }
        }
        return out
    }

    /// The ids of the purge records under the remote's `purges/`.
    /// - Throws: `RemoteError` when the listing fails.
    func remotePurgeIDs(store: any RemoteStore) throws -> Set<PurgeID> { Set(try remotePurgeListing(store: store).keys) }

    /// Reads the record `id` from the remote. - Throws: `DVSError.corrupt` naming the key when
    /// it cannot be decoded or is another purge's; `RemoteError`. - Returns: nil when it is gone.
    func remotePurgeRecord(_ id: PurgeID, store: any RemoteStore, remote: String) throws -> PurgeRecord? {
        let key = "purges/\(id.hex).json"
        guard let data = try store.get(key) else { return nil }
        let record: PurgeRecord
        do { record = try JSONDecoder().decode(PurgeRecord.self, from: data) } catch {
            throw DVSError(
                .corrupt, "the purge record on remote '\(remote)' (key \(key)) cannot be read: \(error)",
                next: .repairRemote(remote: remote))
        }
        guard record.id == id else {
            throw DVSError(
                .corrupt, "the purge record on remote '\(remote)' (key \(key)) is that of purge \(record.id.hex)",
                next: .repairRemote(remote: remote))
        }
        return record
    }

    /// Puts `record` under the remote's `purges/`, or joins it with the copy there
    /// (``joinPurgeRecords(_:_:)``) when that differs, by compare-and-swap so that two pushers
    /// joining at once both count.
    /// - Returns: whether the remote lacked the record.
    /// - Throws: `DVSError.corrupt` naming the key when the remote's copy cannot be read;
    ///   `.remote` when the key keeps changing under it; `RemoteError` on transfer failures.
    func uploadPurgeRecord(_ record: PurgeRecord, store: any RemoteStore, remote: String) throws -> Bool {
        let key = "purges/\(record.id.hex).json"
        for _ in 0..<5 {
            do {
                guard let current = try store.readRef(key) else {
                    try store.writeRef(key, try Self.encodePurgeRecord(record), expected: nil)
                    return true
                }
                let theirs: PurgeRecord
                do { theirs = try JSONDecoder().decode(PurgeRecord.self, from: current.data) } catch {
                    throw DVSError(
                        .corrupt, "the purge record on remote '\(remote)' (key \(key)) cannot be read: \(error)",
                        next: .repairRemote(remote: remote))
                }
                let joined = Self.joinPurgeRecords(theirs, record)
                if joined != theirs { try store.writeRef(key, try Self.encodePurgeRecord(joined), expected: current.version) }
                return false
            } catch let e as RemoteError where e.code == .preconditionFailed {
                continue  // another push wrote it meanwhile: read it again
            }
        }
        throw DVSError(
            .remote, "the purge record on remote '\(remote)' (key \(key)) kept changing while this push joined it", hint: "push again")
    }

    /// Deletes from the remote the model artifacts purges deleted (``PurgeRecord/artifacts``), and
    /// the model and eval records they wrote again
    /// (``PurgeRecord/lineage``): for each whose replacement (through every purge) the remote
    /// lists, the `records/` marker first, so no lister sees a record without its bytes, then
    /// the object. Idempotent; independent of the refs (the replacement says the same but the
    /// erased label values).
    /// - Throws: `RemoteError` when a listing or deletion fails (the next push finishes).
    func deleteReplacedLineageRecords(
        _ records: [PurgeRecord], store: any RemoteStore, remoteObjects: Set<ObjectID>, transfers: Int,
        into c: inout RemotePurgeCleanup
    ) throws {
        // The artifacts purges deleted (their records stay: the replacements name them too).
        let artifacts = Set(records.flatMap { ($0.artifacts ?? []).compactMap(ObjectID.init(hex:)) }).intersection(remoteObjects).sorted()
        if !artifacts.isEmpty {
            try parallelIO(artifacts.count, workers: transfers) { i in try store.delete("objects/\(artifacts[i].hex)") }
            c.artifactsDeleted += artifacts.count
        }
        let replaced = records.flatMap { ($0.lineage ?? [:]).keys.compactMap { ObjectID(hex: $0) } }
        guard !replaced.isEmpty else { return }
        let listed = Set(try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
        let map = Self.lineageMap(records)
        let doomed = replaced.filter { old in
            (listed.contains(old) || remoteObjects.contains(old)) && Self.lineageEnd(old, map: map, where: listed.contains) != nil
        }.sorted()
        guard !doomed.isEmpty else { return }
        try parallelIO(doomed.count, workers: transfers) { i in try store.delete("records/\(doomed[i].hex)") }
        try parallelIO(doomed.count, workers: transfers) { i in try store.delete("objects/\(doomed[i].hex)") }
        c.recordsReplaced += doomed.count
    }

    /// One purge's record as two repositories know it, joined: `a`'s fields, with the commits
    /// either rewrote (a repository that applied the purge again to commits that arrived later
    /// adds their replacements), their per-commit counts, refs, obsolete blobs and lineage
    /// records written again.
    static func joinPurgeRecords(_ a: PurgeRecord, _ b: PurgeRecord) -> PurgeRecord {
        var out = a
        out.commits.merge(b.commits) { x, _ in x }
        out.erasedPerCommit.merge(b.erasedPerCommit) { x, _ in x }
        out.refs = Array(Set(a.refs).union(b.refs)).sorted()
        if a.obsolete != nil || b.obsolete != nil { out.obsolete = Array(Set(a.obsolete ?? []).union(b.obsolete ?? [])).sorted() }
        if a.lineage != nil || b.lineage != nil { out.lineage = (a.lineage ?? [:]).merging(b.lineage ?? [:]) { x, _ in x } }
        if a.artifacts != nil || b.artifacts != nil { out.artifacts = Array(Set(a.artifacts ?? []).union(b.artifacts ?? [])).sorted() }
        return out
    }

    /// Deletes from the remote what `records` erased (see the file's header). The caller has
    /// moved every remote ref a purge rewrote; refs at commits this repository lacks are in
    /// `c.deferred`, and then nothing is deleted.
    /// - Parameters:
    ///   - remoteObjects: the ids under the remote's `objects/` when the push started.
    ///   - c: the summary to fill in.
    /// - Throws: `DVSError.corrupt` naming the key when a remote object or pack read for the
    ///   clean-up is damaged (nothing of it is deleted then); `.remote` on transfer failures
    ///   (run the push again: it resumes).
    func cleanUpRemotePurges(
        _ records: [PurgeRecord], store: any RemoteStore, remote: String, remoteObjects: Set<ObjectID>, transfers: Int,
        meter: TransferMeter, into c: inout RemotePurgeCleanup
    ) throws {
        var map: [CommitID: CommitID] = [:]
        var erased = Set<ObjectID>()
        var obsolete = Set<ObjectID>()
        for r in records {
            for (k, v) in r.commits { if let o = CommitID(hex: k), let n = CommitID(hex: v) { map[o] = n } }
            erased.formUnion(r.erased.compactMap { ObjectID(hex: $0) })
            obsolete.formUnion((r.obsolete ?? []).compactMap { ObjectID(hex: $0) })
        }
        try deleteReplacedLineageRecords(records, store: store, remoteObjects: remoteObjects, transfers: transfers, into: &c)
        let old = map.keys.filter { remoteObjects.contains($0.object) }.sorted { $0.hex < $1.hex }
        c.oldCommits = old.count
        if !old.isEmpty || c.recordsUploaded > 0 {
            // A push killed after its bundles went up and before its commits did leaves a
            // bundle whose commit is not under `objects/`: the rest of the clean-up, which works
            // from that listing, would never see it. Deleted by key (a bundle only repeats
            // objects/, so this is safe whatever the refs say).
            let orphans = map.keys.filter { !remoteObjects.contains($0.object) }.sorted { $0.hex < $1.hex }
            try parallelIO(orphans.count, workers: transfers) { i in try store.delete(MetadataBundle.key(orphans[i])) }
        }
        guard !old.isEmpty, c.deferred.isEmpty else { return }
        // The refs again, now: a push that moved one since this push planned (onto a commit this
        // repository lacks, or still onto a replaced one) holds the deletion back.
        for o in try store.list(prefix: RefNamespace.all.prefix) {
            guard let ref = RefName(fullName: o.key), ref.kind == .branch || ref.kind == .tag, let r = try store.readRef(o.key) else {
                continue
            }
            let id = try RemoteRef.decode(r.data, key: o.key, remote: remote)
            if map[id] != nil || !objects.contains(id.object) { c.deferred.append(ref) }
        }
        guard c.deferred.isEmpty else { return }

        // What this repository's history still uses: never deleted from the remote.
        var keepChunks = Set<ObjectID>()
        var keepWords = Set<ObjectID>()
        var keepBlobs = Set<ObjectID>()
        for commit in try purgeHistory() where map[commit] == nil {
            var stack = [try snapshots.commit(commit).manifest]
            while let id = stack.popLast() {
                guard keepChunks.insert(id).inserted else { continue }
                switch try snapshots.chunk(id) {
                case .leaf(let es):
                    for e in es where e.kind != .symlink { keepBlobs.insert(e.blob) }
                    for e in es { if let w = e.annotations?.transcript?.words { keepWords.insert(w) } }
                case .inner(_, let children): stack += children.map(\.id)
                }
            }
        }

        // The replaced commits' manifests, read from the remote (this repository deleted its
        // copies), each verified against its id.
        @Sendable func getVerified(_ ids: [ObjectID]) throws -> [ObjectID: [UInt8]] {
            let got = Locked<[ObjectID: [UInt8]]>([:])
            try parallelIO(ids.count, workers: transfers) { i in
                let key = "objects/\(ids[i].hex)"
                guard let data = try store.get(key) else { return }  // deleted by an earlier clean-up
                meter.object(bytes: UInt64(data.count))
                do {
                    let bytes = try Zstd.decompress([UInt8](data), limit: 1 << 30)
                    guard ObjectID.hashing(bytes) == ids[i] else { throw StorageError(.corrupt, "checksum mismatch") }
                    got.withLock { $0[ids[i]] = bytes }
                } catch {
                    throw DVSError(
                        .corrupt,
                        "cannot erase purged data on remote '\(remote)': object '\(ids[i].hex)' (key \(key)) is damaged: \(DVSError.wrap(error).message); nothing was deleted",
                        next: .repairRemote(remote: remote))
                }
            }
            return got.withLock { $0 }
        }
        var roots: [ObjectID] = []
        for (id, bytes) in try getVerified(old.map(\.object)) {
            do { roots.append(try Commit.decode(bytes).manifest) } catch {
                throw DVSError(
                    .corrupt, "cannot erase purged data on remote '\(remote)': object '\(id.hex)' is not a commit: \(error)",
                    next: .repairRemote(remote: remote))
            }
        }
        var chunks: [ObjectID: ManifestChunk] = [:]
        var frontier = Array(Set(roots).subtracting(keepChunks))
        while !frontier.isEmpty {
            var next = Set<ObjectID>()
            for (id, bytes) in try getVerified(frontier) {
                let chunk: ManifestChunk
                do { chunk = try ManifestChunk.decode(bytes) } catch {
                    throw DVSError(
                        .corrupt, "cannot erase purged data on remote '\(remote)': manifest chunk '\(id.hex)' is malformed: \(error)",
                        next: .repairRemote(remote: remote))
                }
                chunks[id] = chunk
                if case .inner(_, let children) = chunk {
                    for ch in children where chunks[ch.id] == nil && !keepChunks.contains(ch.id) { next.insert(ch.id) }
                }
            }
            frontier = Array(next)
        }
        // Dropped: the erased audio, the obsolete label table versions, and every blob only the
        // replaced commits named. Doomed: a leaf naming a dropped blob (its bytes leave the
        // packs, and only replaced commits reach it) and every chunk above one, children first,
        // with the words objects of its entries that nothing kept names.
        // (An obsolete version a kept commit names again stays: that commit needs it.)
        var dropped = erased.union(obsolete.subtracting(keepBlobs))
        for case .leaf(let es) in chunks.values {
            for e in es where e.kind != .symlink && !keepBlobs.contains(e.blob) { dropped.insert(e.blob) }
        }
        var doomed: [ObjectID] = []
        var words = Set<ObjectID>()
        var state: [ObjectID: Bool] = [:]
        func visit(_ id: ObjectID) -> Bool {
            if let s = state[id] { return s }
            guard let chunk = chunks[id] else { return false }  // kept, or already deleted
            var d = false
            switch chunk {
            case .leaf(let es):
                d = es.contains { $0.kind != .symlink && dropped.contains($0.blob) }
                if d {
                    for e in es { if let w = e.annotations?.transcript?.words, !keepWords.contains(w) { words.insert(w) } }
                }
            case .inner(_, let children):
                for ch in children where visit(ch.id) { d = true }
            }
            state[id] = d
            if d { doomed.append(id) }
            return d
        }
        for r in Set(roots).sorted() { _ = visit(r) }

        // Packs: every remote pack this repository lacks whose index names a dropped blob, or a
        // delta frame on one, goes; where this repository lacks its other blobs it is first
        // downloaded, verified and written again without them.
        let localPacks = Set(try catalog.packIDs())
        let foreign = try store.list(prefix: "packs/").compactMap { o -> (ObjectID, UInt64)? in
            guard o.key.hasSuffix(".pack"), let id = ObjectID(hex: o.key.dropFirst(6).dropLast(5)), !localPacks.contains(PackID(id))
            else { return nil }
            return (id, o.size)
        }
        let found = Locked<[(id: ObjectID, size: UInt64, entries: [PackEntry], rewrite: Bool)]>([])
        let droppedIDs = dropped
        let blobStore = blobs
        try parallelIO(foreign.count, workers: transfers) { i in
            let (id, size) = foreign[i]
            let key = "packs/\(id.hex).pack"
            let entries: [PackEntry]
            do { entries = try Self.remotePackIndex(store: store, pack: id, size: size, meter: meter) } catch let d as PackDamage {
                throw DVSError(
                    .corrupt,
                    "cannot erase purged data on remote '\(remote)': pack '\(id.hex)' (key \(key)) is damaged: \(d.why); nothing was deleted",
                    next: .repairRemote(remote: remote))
            }
            var touched = entries.contains { droppedIDs.contains($0.id) }
            if !touched {
                for e in entries where e.codec == .zstdDelta && e.storedLength >= 32 {
                    let head = try store.getRange(key, e.offset...(e.offset + 31))
                    if head.count == 32, droppedIDs.contains(ObjectID(bytes: [UInt8](head))) {
                        touched = true
                        break
                    }
                }
            }
            guard touched else { return }
            var rewrite = false
            for e in entries where !droppedIDs.contains(e.id) {
                if try !blobStore.contains(e.id) {
                    rewrite = true
                    break
                }
            }
            found.withLock { $0.append((id, size, entries, rewrite)) }
        }
        let touched = found.withLock { $0 }.sorted { $0.id.hex < $1.id.hex }
        // Where one pack must be written again, every touched pack is brought in with it: a
        // kept delta frame's erased base may sit in another of them.
        let toRewrite = touched.contains(where: \.rewrite) ? touched : []
        if !toRewrite.isEmpty {
            let got = try downloadPacks(
                toRewrite.map { ($0.id, $0.size) }, index: Dictionary(uniqueKeysWithValues: toRewrite.map { ($0.id, $0.entries) }),
                store: store, remote: remote, transfers: transfers, meter: meter)
            let bases = try verifyPacks(got, remote: remote)
            if let b = bases.first(where: { !droppedIDs.contains($0) }) {
                throw DVSError(
                    .corrupt,
                    "cannot erase purged data on remote '\(remote)': a delta frame in its packs needs blob '\(b.hex)', which neither they nor this repository hold; nothing was deleted",
                    next: .repairRemote(remote: remote))
            }
            let lock = try self.lock("dvs push \(remote) (purge)")
            defer { lock.release() }
            for f in got {
                guard rename(f.tmp, "\(packsDir)/\(f.id.hex).pack") == 0 else {
                    throw StorageError.posix("cannot rename pack into", path: "\(packsDir)/\(f.id.hex).pack")
                }
            }
            FileIO.syncDirectory(packsDir)
            do {
                try catalog.write { tx in
                    for f in got { try tx.insertPack(id: PackID(f.id), byteCount: f.size, entries: f.entries) }
                }
            } catch { throw DVSError.wrap(error) }
            packedBlobs.forgetReaders()
            try repackWithout(dropped, only: Set(got.map { PackID($0.id) }))
            c.packsRewritten = toRewrite.filter(\.rewrite).count
        }
        // Every pack of this repository is on the remote before any remote pack goes.
        let listed = Set(try store.list(prefix: "packs/").compactMap { o in PackID(hex: o.key.dropFirst(6).dropLast(5)) })
        let up = try catalog.packIDs().filter { !listed.contains($0) }
        var sizes: [String: UInt64] = [:]
        for id in up {
            let path = "\(packsDir)/\(id.hex).pack"
            if let why = localPackProblem(id) {
                throw DVSError(
                    .corrupt, "cannot erase purged data on remote '\(remote)': the local pack .dvs/packs/\(id.hex).pack \(why)",
                    next: .restoreLocalPack(path: ".dvs/packs/\(id.hex).pack"))
            }
            try store.putFile("packs/\(id.hex).pack", localPath: path)
            var st = stat()
            sizes["packs/\(id.hex).pack"] = stat(path, &st) == 0 ? UInt64(st.st_size) : 0
        }
        try confirmUploaded(sizes, store: store, remote: remote)
        c.packsUploaded = up.count
        for p in touched {
            try store.delete("packs/\(p.id.hex).pack")
            c.packsDeleted += 1
        }
        context.afterPurgeStep?("remote-packs")
        // The replacements' bundles hold only what their push sent: what they share with the
        // replaced commits sat in those commits' bundles, which go now. Written again first with
        // all a replacement reaches that no kept ancestor does (a push killed after this runs
        // it again), so a reader still makes one request per commit.
        let replacements = old.compactMap { Self.rewriteChain(of: $0, in: records).last?.to }.filter { map[$0] == nil }
        try rebundle(Set(replacements), store: store, remote: remote, transfers: transfers, meter: meter)
        // Then the replaced commits' bundles: they repeat what goes below, and once a replaced
        // commit has left `objects/` nothing would find its bundle again.
        try parallelIO(old.count, workers: transfers) { i in try store.delete(MetadataBundle.key(old[i])) }
        // Metadata: words objects, then chunks children first, then the commits, so a push
        // killed here still reaches everything left from a replaced commit still stored.
        let wordList = words.sorted()
        try parallelIO(wordList.count, workers: transfers) { i in try store.delete("objects/\(wordList[i].hex)") }
        for (n, id) in (doomed + old.map(\.object)).enumerated() {
            try store.delete("objects/\(id.hex)")
            context.afterPurgeStep?("remote-objects-\(n + 1)")
        }
        c.objectsDeleted = wordList.count + doomed.count + old.count
    }

    /// Uploads the metadata bundle of each of `replacements` (the last commits of purges'
    /// rewrite chains, stored here) again, holding the commit and every chunk and words object its manifest reaches
    /// that no kept ancestor's manifest does (the ancestors' bundles hold those), each owned by
    /// the first replacement in parents-first order (``metadataClosure(from:present:)``).
    /// - Complexity: reads the kept ancestors' manifests whole (a purge is rare).
    /// - Throws: `DVSError.corrupt` when a local object is damaged; `.remote` on transfer failures.
    /// Also the repair of a damaged bundle (``Repository/verifyRemote(remote:repair:progress:)``).
    /// - Parameter failure: how an error begins.
    /// - Returns: the keys written and their sizes in bytes.
    @discardableResult
    func rebundle(
        _ replacements: Set<CommitID>, store: any RemoteStore, remote: String, transfers: Int, meter: TransferMeter,
        failure: String? = nil
    ) throws -> [String: UInt64] {
        let mine = replacements.filter { objects.contains($0.object) }
        guard !mine.isEmpty else { return [:] }
        let rewritten = Set(mine.map(\.object))
        var kept = Set<ObjectID>()  // the kept ancestors, and all their manifests reach
        for c in mine {
            for p in try commit(c).parents where !rewritten.contains(p.object) && kept.insert(p.object).inserted {
                var stack = [try snapshots.commit(p).manifest]
                while let id = stack.popLast() {
                    guard kept.insert(id).inserted else { continue }
                    switch try snapshots.chunk(id) {
                    case .leaf(let es): for e in es { if let w = e.annotations?.transcript?.words { kept.insert(w) } }
                    case .inner(_, let children): stack += children.map(\.id)
                    }
                }
            }
        }
        let closure = try metadataClosure(from: mine.sorted()) { kept.contains($0) }
        return try uploadBundles(
            closure, store: store, remote: remote, transfers: transfers, meter: meter,
            failure: failure ?? "cannot erase purged data on remote '\(remote)' (writing the replacement commits' metadata bundles)")
    }

    /// Scans every key of a remote for the 32 raw bytes of every blob id this repository's
    /// purges erased: each object as stored and, under `objects/`, decompressed; each pack
    /// whole (its index names its blobs by id; a delta frame names its base). Reads everything
    /// (a cost of the remote's size); changes nothing.
    /// - Returns: keys found (`found`: `<key>: <id hex>`); `files` counts keys read.
    /// - Throws: `DVSError.badInput` for an unknown remote; `.remote` on transfer failures.
    public func verifyRemotePurges(remote remoteName: String, progress: ProgressHandler? = nil) throws -> PurgeVerification {
        let records = try purges()
        let store = try remote(remoteName).open(environment: context.environment)
        var scanner = ErasedIDScanner(records)
        var v = PurgeVerification(purges: records.count, ids: scanner.count, files: 0, bytes: 0, found: [], indexed: [])
        guard scanner.count > 0 else { return v }
        let replaced = Self.replacedLineageRecords(records)
        do {
            let decompressor = ZstdDecompressor()
            for o in try store.list(prefix: "") {
                if let id = ObjectID(hex: o.key.split(separator: "/").last ?? ""), let p = replaced[id],
                    o.key.hasPrefix("records/") || o.key.hasPrefix("objects/")
                {
                    v.found.append("\(o.key): lineage record \(id.hex), which purge \(p.short) wrote again without erased label values")
                }
                guard let data = try store.get(o.key) else { continue }
                let bytes = [UInt8](data)
                v.files += 1
                v.bytes += UInt64(bytes.count)
                progress?(Progress(phase: .verifyingBlobs, done: v.files, total: 0, bytes: v.bytes))
                scanner.scan(bytes, o.key)
                if o.key.hasPrefix("objects/"), let plain = try? bytes.withUnsafeBytes({ try decompressor.decompress($0) }) {
                    scanner.scan(plain, o.key + " (decompressed)")
                }
                if MetadataBundle.commit(ofKey: o.key) != nil {
                    let (frames, whole) = bytes.withUnsafeBytes { MetadataBundle.entries($0) }
                    for (id, frame) in frames {
                        if let plain = try? frame.withUnsafeBytes({ try decompressor.decompress($0) }) {
                            scanner.scan(plain, o.key + " (object \(id.hex), decompressed)")
                        } else {
                            v.found.append("\(o.key): object \(id.hex) in it does not decompress, so it could not be looked into")
                        }
                    }
                    if !whole {
                        // What is cut off cannot be decompressed and looked into: not called clean.
                        v.found.append(
                            "\(o.key): not a whole metadata bundle, so what follows its \(counted(frames.count, "whole object")) could not be looked into"
                        )
                    }
                }
            }
        } catch { throw DVSError.wrap(error) }
        v.found += scanner.found
        return v
    }

    /// Every model and eval record a purge wrote again (``PurgeRecord/lineage``) → that purge.
    static func replacedLineageRecords(_ records: [PurgeRecord]) -> [ObjectID: PurgeID] {
        var out: [ObjectID: PurgeID] = [:]
        for r in records { for k in (r.lineage ?? [:]).keys { if let id = ObjectID(hex: k) { out[id] = r.id } } }
        return out
    }
}

/// Finds the 32 raw bytes of erased blob ids in byte strings (``Repository/verifyPurges(progress:)``
/// and ``Repository/verifyRemotePurges(remote:progress:)``).
struct ErasedIDScanner {
    private let needles: [([UInt8], String)]
    private var first = [Bool](repeating: false, count: 256)
    /// What was found: `<where>: <id hex>`.
    private(set) var found: [String] = []

    /// The erased ids of `records`: the audio and the obsolete label table versions.
    init(_ records: [PurgeRecord]) {
        var ids: [ObjectID: String] = [:]
        for r in records { for h in r.erased + (r.obsolete ?? []) { if let id = ObjectID(hex: h) { ids[id] = h } } }
        needles = ids.sorted { $0.key < $1.key }.map { (Array($0.key.bytes), $0.value) }
        for n in needles { first[Int(n.0[0])] = true }
    }

    /// How many ids are looked for.
    var count: Int { needles.count }

    /// The erased ids in the order looked for.
    var ids: [(id: [UInt8], hex: String)] { needles.map { ($0.0, $0.1) } }

    /// Records every erased id in `bytes`, as found in `what`.
    mutating func scan(_ bytes: [UInt8], _ what: String) {
        guard bytes.count >= 32 else { return }
        var hits: [String] = []
        bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i <= b.count - 32 {
                if first[Int(b[i])] {
                    for (n, hex) in needles where b[i + 31] == n[31] && memcmp(b.baseAddress! + i, n, 32) == 0 {
                        hits.append("\(what): \(hex)")
                    }
                }
                i += 1
            }
        }
        found += hits
    }
}
