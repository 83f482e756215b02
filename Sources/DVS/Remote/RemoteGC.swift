import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// `dvs gc --remote NAME`: what a remote holds that none of its branches, tags or lineage records
// needs goes, once it is older than the grace period (the listing's LastModified, a folder
// remote's mtime): loose objects (and the metadata bundles of commits nothing needs) one by one; packs with nothing needed deleted whole; packs that
// are mostly garbage downloaded, verified, written again with the needed frames only, uploaded,
// and only then deleted. What is needed is worked out from this repository, so it must have
// every remote ref's commit, every lineage record and every purge the remote lists (a fetch
// brings them): otherwise nothing is deleted. Young data is never touched, so a push still
// uploading (packs up, ref not moved yet) keeps what it sent.
//
// Readers (a fetch, a partial clone's download, a job streaming an old snapshot) hold no lease
// on a remote, so with a grace period a deletion takes two runs (mark, then sweep): a run lists
// what it would delete — loose objects, packs with nothing needed, the old copy of a pack it
// rewrote — in `gc/pending.json` with the time, and deletes only what an earlier run listed more
// than the grace period ago and is still garbage. A reader that started before the first run has
// that long to finish. `--prune=now` deletes at once.

/// What `dvs gc --remote` did (or, with a dry run, would do).
public struct RemoteGCReport: Sendable, Codable, Equatable {
    /// Loose objects deleted (commits, manifest chunks, words objects no ref or record needs),
    /// with the metadata bundles of those commits (`bundles/<commit>.bundle`).
    public var objectsDeleted = 0
    /// Their bytes.
    public var objectBytes: UInt64 = 0
    /// Packs deleted because nothing in them was needed.
    public var packsDeleted = 0
    /// Packs written again without their garbage (the new pack uploaded before the old one went).
    public var packsRewritten = 0
    /// Bytes of the deleted and rewritten packs, before.
    public var packBytesBefore: UInt64 = 0
    /// Bytes of the packs that replaced the rewritten ones.
    public var packBytesAfter: UInt64 = 0
    /// Blobs not needed left in packs that are mostly needed (reclaimed once they are mostly
    /// garbage).
    public var blobsLeft = 0
    /// Garbage objects and packs kept because they are younger than the grace period.
    public var keptYoung = 0
    /// Keys listed in `gc/pending.json` for a later run to delete (with a grace period, a
    /// deletion waits one grace period after it is first found; see the file's header). The
    /// counts and bytes above are of what was deleted now.
    public var pending = 0
    /// A push changed the remote's refs or records during this run, so nothing was deleted (what
    /// was due stays marked; run gc again).
    public var refsMoved = false

    /// Bytes given back on the remote.
    public var bytesReclaimed: UInt64 { objectBytes + (packBytesBefore > packBytesAfter ? packBytesBefore - packBytesAfter : 0) }

    /// Nothing done yet.
    public init() {}
}

extension Repository {
    /// Removes what the remote holds that none of its refs or lineage records needs and that is
    /// older than the grace period; see the file's header.
    /// - Parameters:
    ///   - remoteName: the remote.
    ///   - options: the grace period and the fraction of garbage at which a pack is rewritten.
    ///   - dryRun: count only, change nothing.
    /// - Returns: what was (or would be) removed.
    /// - Throws: `DVSError.badInput` when this repository lacks a remote ref's commit, a lineage
    ///   record or a purge the remote lists, or a record's snapshot the remote holds (nothing is
    ///   deleted; fetch first); `.corrupt` naming the key when a pack to rewrite is damaged;
    ///   `.remote` on transfer failures (run it again).
    public func gcRemote(_ remoteName: String, options: GCOptions = GCOptions(), dryRun: Bool = false, progress: ProgressHandler? = nil)
        throws -> RemoteGCReport
    {
        let config = try remote(remoteName)
        let store = try config.open(environment: context.environment)
        var report = RemoteGCReport()
        do {
            // The refs and records as this run found them: a push that changes them before the
            // deletions (they come after the rewrites, which can take long) may re-use garbage.
            func remoteState() throws -> [String: Data] {
                var out: [String: Data] = [:]
                for o in try store.list(prefix: RefNamespace.all.prefix) { out[o.key] = try store.readRef(o.key)?.data ?? Data() }
                for o in try store.list(prefix: "records/") { out[o.key] = Data() }
                return out
            }
            let stateAtStart = try remoteState()
            // 1. What the remote's refs and records need, from this repository.
            func fetchFirst(_ what: String) -> DVSError {
                DVSError(
                    .badInput, "cannot collect garbage on '\(remoteName)': \(what); nothing was deleted",
                    next: .fetchBeforeRemoteGC(remote: remoteName))
            }
            if let p = try remotePurgeIDs(store: store).subtracting(Set(try purges().map(\.id))).first {
                throw fetchFirst("it holds purge \(p.short), which this repository has not applied")
            }
            var roots: [CommitID] = []
            for o in try store.list(prefix: RefNamespace.all.prefix) {
                guard let ref = RefName(fullName: o.key), ref.kind == .branch || ref.kind == .tag, let r = try store.readRef(o.key) else {
                    continue
                }
                let id = try RemoteRef.decode(r.data, key: o.key, remote: remoteName)
                if let p = Self.rewriteChain(of: id, in: try purges()).first?.purge {
                    throw DVSError(
                        .badInput,
                        "cannot collect garbage on '\(remoteName)': its \(ref) is at \(id.short), which purge \(p.id.short) replaced; nothing was deleted",
                        hint: "a push from this repository moves it to the replacement and erases the old data; collect again after that")
                }
                guard objects.contains(id.object) else {
                    throw fetchFirst("its \(ref) is at \(id.short), which this repository lacks")
                }
                roots.append(id)
            }
            let listedRecords = Set(try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
            let localRecords = try catalog.lineageRecordIDs()
            if let missing = listedRecords.subtracting(localRecords).sorted().first {
                throw fetchFirst("it lists lineage record \(missing.short), which this repository lacks")
            }
            var needed = Set<ObjectID>(listedRecords)
            let remoteObjects = try store.list(prefix: "objects/")
            let onRemote = Set(remoteObjects.compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
            let records = try purges()
            var snapshots: [CommitID] = []
            for m in try catalog.models() where listedRecords.contains(m.id.object) {
                needed.insert(m.artifact)
                snapshots.append(m.snapshot)
                for e in try catalog.evals(of: m.id) where listedRecords.contains(e.object) {
                    if let r = try? evalRecord(e) { snapshots.append(r.snapshot) }
                }
            }
            for s in snapshots {
                let current = Self.rewriteChain(of: s, in: records).last?.to ?? s
                if objects.contains(current.object) {
                    roots.append(current)
                } else if onRemote.contains(current.object) {
                    throw DVSError(
                        .badInput,
                        "cannot collect garbage on '\(remoteName)': a lineage record's snapshot \(current.short) is on it and not in this repository, so what it needs cannot be told; nothing was deleted",
                        hint:
                            "a fetch brings only what branches and tags reach: from a repository that has that commit, push a branch or tag at it, fetch, then collect again"
                    )
                }
            }
            let closure = try historyClosure(roots, progress: progress)
            needed.formUnion(closure.objects)
            let cutoff = Date().addingTimeInterval(-options.grace)
            func old(_ o: RemoteObject) -> Bool { o.modified.map { $0 < cutoff } ?? (options.grace == 0) }

            // 2. Loose objects.
            var doomed: [RemoteObject] = []
            for o in remoteObjects {
                guard let id = ObjectID(hex: o.key.dropFirst(8)), !needed.contains(id) else { continue }
                if old(o) { doomed.append(o) } else { report.keptYoung += 1 }
            }
            // Metadata bundles of commits nothing needs (a bundle holds only what its commit reaches).
            for o in try store.list(prefix: "bundles/") {
                guard let c = MetadataBundle.commit(ofKey: o.key), !needed.contains(c.object) else { continue }
                if old(o) { doomed.append(o) } else { report.keptYoung += 1 }
            }

            // 3. Packs: indexes by ranged reads; the bases of needed delta frames are needed too.
            let meter = TransferMeter(phase: .downloading, total: 0, progress: progress)
            let listed = try store.list(prefix: "packs/").compactMap { o -> (ObjectID, RemoteObject)? in
                guard o.key.hasSuffix(".pack"), let id = ObjectID(hex: o.key.dropFirst(6).dropLast(5)) else { return nil }
                return (id, o)
            }
            let indexes = Locked<[ObjectID: [PackEntry]]>([:])
            try parallelIO(listed.count, workers: config.transfers) { i in
                let (id, o) = listed[i]
                do {
                    let entries = try Self.remotePackIndex(store: store, pack: id, size: o.size, meter: meter)
                    indexes.withLock { $0[id] = entries }
                } catch let d as PackDamage {
                    throw DVSError(
                        .corrupt, "pack '\(id.hex)' on remote '\(remoteName)' (key \(o.key)) is damaged: \(d.why); nothing was deleted",
                        next: .repairRemote(remote: remoteName))
                }
            }
            let index = indexes.withLock { $0 }
            var neededBlobs = closure.blobs
            var headsRead = Set<ObjectID>()
            while true {
                var bases = Set<ObjectID>()
                for (pack, entries) in index {
                    for e in entries where e.codec == .zstdDelta && neededBlobs.contains(e.id) && !headsRead.contains(e.id) {
                        headsRead.insert(e.id)
                        let head = try store.getRange("packs/\(pack.hex).pack", e.offset...(e.offset + 31))
                        if head.count == 32 { bases.insert(ObjectID(bytes: [UInt8](head))) }
                    }
                }
                let new = bases.subtracting(neededBlobs)
                if new.isEmpty { break }
                neededBlobs.formUnion(new)
            }
            // A needed blob in more than one pack (`dvs repack --recode` here pushed it again in a
            // new pack, under another codec) is kept in one: the pack this repository reads it
            // from when that one is listed, else the first by id; its other copies are garbage
            // like any unneeded frame. Catalog lookups for such blobs only.
            var copies: [ObjectID: [ObjectID]] = [:]
            for (pack, entries) in index {
                for e in entries where neededBlobs.contains(e.id) { copies[e.id, default: []].append(pack) }
            }
            var keeper: [ObjectID: ObjectID] = [:]
            for (blob, packs) in copies where packs.count > 1 {
                let here = (try catalog.location(of: blob)).map(\.pack.object)
                keeper[blob] = here.flatMap { packs.contains($0) ? $0 : nil } ?? packs.min { $0.hex < $1.hex }
            }
            var deletions: [(id: ObjectID, size: UInt64)] = []
            var rewrites: [(id: ObjectID, size: UInt64, keep: [PackEntry])] = []
            for (id, o) in listed {
                let entries = index[id] ?? []
                let keep = entries.filter { neededBlobs.contains($0.id) && (keeper[$0.id] ?? id) == id }
                guard keep.count < entries.count else { continue }
                guard old(o) else {
                    report.keptYoung += 1
                    continue
                }
                let total = entries.reduce(UInt64(0)) { $0 + $1.storedLength }
                let garbage = total - keep.reduce(UInt64(0)) { $0 + $1.storedLength }
                if keep.isEmpty {
                    deletions.append((id, o.size))
                } else if Double(garbage) >= options.rewriteFraction * Double(max(total, 1)) {
                    rewrites.append((id, o.size, keep))
                } else {
                    report.blobsLeft += entries.count - keep.count
                }
            }
            // Mark, then sweep (with a grace period): what an earlier run listed long enough ago
            // goes now; the rest waits. A pack an earlier run rewrote is not rewritten again.
            let pendingKey = "gc/pending.json"
            var earlier: [String: Double] = [:]
            if options.grace > 0, let data = try store.get(pendingKey) {
                earlier = (try? JSONDecoder().decode([String: Double].self, from: data)) ?? [:]
            }
            let now = Date().timeIntervalSince1970
            var marks: [String: Double] = [:]
            func due(_ key: String) -> Bool {
                guard options.grace > 0 else { return true }
                let since = earlier[key] ?? now
                if since < now - options.grace { return true }
                marks[key] = since
                return false
            }
            // A pack an earlier run rewrote (its mark) goes once due, but only while every blob it
            // must keep is in another pack that stays (the replacement); one re-used since, or not
            // covered, is rewritten now instead.
            var holders: [ObjectID: [ObjectID]] = [:]
            let listedIDs = Set(listed.map(\.0))
            for id in index.keys where listedIDs.contains(id) { for e in index[id]! { holders[e.id, default: []].append(id) } }
            var leaving = Set(deletions.map(\.id))
            var retire: [(id: ObjectID, size: UInt64)] = []
            rewrites.removeAll { r in
                let key = "packs/\(r.id.hex).pack"
                guard earlier[key] != nil else { return false }
                let covered = r.keep.allSatisfy { e in (holders[e.id] ?? []).contains { $0 != r.id && !leaving.contains($0) } }
                guard covered else { return false }
                if due(key) {
                    retire.append((r.id, r.size))
                    leaving.insert(r.id)
                }
                return true
            }
            doomed = doomed.filter { due($0.key) }
            deletions = deletions.filter { due("packs/\($0.id.hex).pack") }
            report.objectsDeleted = doomed.count
            report.objectBytes = doomed.reduce(0) { $0 + $1.size }
            report.packsDeleted = deletions.count + retire.count
            report.packsRewritten = rewrites.count
            // Bytes deleted now: a rewritten pack's old copy only without a grace period.
            report.packBytesBefore = (deletions.map(\.size) + retire.map(\.size) + (options.grace > 0 ? [] : rewrites.map(\.size))).reduce(
                0, +)
            report.pending = marks.count + (options.grace > 0 ? rewrites.count : 0)
            if dryRun { return report }
            // What waits is written whatever happens below (a rewrite that fails keeps the marks).
            let grace = options.grace
            defer {
                if grace > 0 {
                    let enc = JSONEncoder()
                    enc.outputFormatting = [.sortedKeys]
                    if marks.isEmpty {
                        try? store.delete(pendingKey)
                    } else if let d = try? enc.encode(marks) {
                        try? store.put(pendingKey, d)
                    }
                }
            }
            if grace == 0 { try? store.delete(pendingKey) }  // --prune=now: nothing waits

            // 4. Rewrites: the needed frames, verified, into new packs uploaded before the old go.
            for r in rewrites {
                let got = try downloadPacks(
                    [(r.id, r.size)], index: [r.id: index[r.id] ?? []], store: store, remote: remoteName, transfers: 1, meter: meter)
                defer { for g in got { unlink(g.tmp) } }
                _ = try verifyPacks(got, remote: remoteName)
                try FileIO.makeDirectories(tmpDir)
                let (dirFD, dir) = try FileIO.makeTempDirectory(in: tmpDir, prefix: Self.remoteGCStagePrefix)  // swept after a kill
                defer {
                    try? FileManager.default.removeItem(atPath: dir)
                    close(dirFD)
                }
                let writer = PackWriter(packsDir: dir, tmpDir: dir, targetSize: Self.packTargetSize(catalog))
                let reader = try PackReader(path: got[0].tmp)
                do {
                    for e in r.keep.sorted(by: { $0.offset < $1.offset }) {
                        try writer.append(
                            id: e.id, codec: e.codec, rawLength: e.rawLength,
                            frame: try reader.read(offset: e.offset, length: e.storedLength))
                    }
                } catch {
                    writer.abort()
                    throw error
                }
                var sizes: [String: UInt64] = [:]
                for p in try writer.finish() {
                    try store.putFile("packs/\(p.id.hex).pack", localPath: "\(dir)/\(p.id.hex).pack")
                    sizes["packs/\(p.id.hex).pack"] = p.byteCount
                    report.packBytesAfter += p.byteCount
                }
                try confirmUploaded(sizes, store: store, remote: remoteName)
                // The old copy: at once with --prune=now, else after a grace period (readers).
                if options.grace > 0 { marks["packs/\(r.id.hex).pack"] = now } else { try store.delete("packs/\(r.id.hex).pack") }
            }
            // 5. Whole packs, then loose objects, unless a push changed a ref or record meanwhile:
            //    then nothing is deleted now (what was due stays marked for the next run).
            if try remoteState() != stateAtStart {
                for k in doomed.map(\.key) + (deletions.map(\.id) + retire.map(\.id)).map({ "packs/\($0.hex).pack" }) {
                    marks[k] = earlier[k] ?? now
                }
                report.objectsDeleted = 0
                report.objectBytes = 0
                report.packsDeleted = 0
                report.packBytesBefore = grace > 0 ? 0 : rewrites.map(\.size).reduce(0, +)
                report.pending = marks.count
                report.refsMoved = true
                meter.finish()
                return report
            }
            for r in retire { try store.delete("packs/\(r.id.hex).pack") }
            for d in deletions { try store.delete("packs/\(d.id.hex).pack") }
            // Bundles before loose objects: a run killed between leaves no bundle whose commit
            // has gone (a purge's clean-up finds a replaced commit's bundle by its object).
            let bundleKeys = doomed.map(\.key).filter { MetadataBundle.commit(ofKey: $0) != nil }
            try parallelIO(bundleKeys.count, workers: config.transfers) { try store.delete(bundleKeys[$0]) }
            let keys = doomed.map(\.key).filter { MetadataBundle.commit(ofKey: $0) == nil }
            try parallelIO(keys.count, workers: config.transfers) { try store.delete(keys[$0]) }
            meter.finish()
            return report
        } catch { throw DVSError.wrap(error) }
    }
}
