import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// `dvs gc`: reclaim what nothing needs any more. Needed is everything a ref, tag, cohort, HEAD,
// reflog entry, model or eval record (or what purges put in place of its snapshot) or stopped
// merge reaches: commits, their
// manifest chunks, the words of their transcripts, the blobs their entries name, lineage records
// and model artifacts. Anything else that is older than the grace period goes: loose objects one
// by one, blobs by rewriting the packs that are mostly garbage (the rest wait until they are),
// whole packs no index knows. A pack is replaced by writing the new pack first, then swapping
// them in one catalog transaction, then deleting the old file: a reader that had the old pack
// open keeps reading it (the file lives while it is open), and a reader that looks a blob up
// afterwards finds it in the new pack. Young data is never touched, so a commit, fetch or push
// still writing (objects stored, ref not moved yet) keeps what it wrote.

/// What `dvs gc` did (or, with `dryRun`, would do).
public struct GCReport: Sendable, Codable, Equatable {
    /// Reflog entries dropped (with `dryRun`, that would be): older than the grace period and
    /// naming no commit a ref or record reaches (a deleted branch's).
    public var reflogEntriesExpired: Int = 0
    /// Loose objects deleted.
    public var objectsDeleted: Int
    /// Their bytes on disk.
    public var objectBytes: UInt64
    /// Blobs dropped from packs.
    public var blobsDropped: Int
    /// Packs rewritten (or deleted when nothing in them was needed).
    public var packsRewritten: Int
    /// Bytes of the packs rewritten, before.
    public var packBytesBefore: UInt64
    /// Bytes of the packs that replaced them.
    public var packBytesAfter: UInt64
    /// Garbage blobs left in packs that are mostly needed (reclaimed once they are mostly garbage).
    public var blobsLeft: Int
    /// Files evicted from `.dvs/cache/blobs` to keep it under `cache.max-size`.
    public var cacheFilesEvicted: Int
    /// Their bytes.
    public var cacheBytesEvicted: UInt64

    /// Bytes given back to the file system.
    public var bytesReclaimed: UInt64 {
        objectBytes + (packBytesBefore > packBytesAfter ? packBytesBefore - packBytesAfter : 0) + cacheBytesEvicted
    }
}

/// The settings of one `dvs gc`.
public struct GCOptions: Sendable {
    /// Only data older than this many seconds is removed (`--prune=2.weeks.ago`: 14 days;
    /// `--prune=now`: 0).
    public var grace: TimeInterval = 14 * 86_400
    /// A pack is rewritten when at least this fraction of its stored bytes is garbage.
    public var rewriteFraction: Double = 0.5
    /// The size `.dvs/cache/blobs` is kept under; nil reads `cache.max-size` (default 10 GiB).
    public var cacheLimit: UInt64?

    /// Default settings: 14 days of grace, packs at least half garbage rewritten.
    public init() {}

    /// Parses a `--prune` value: `now`, `N.unit.ago` (`2.weeks.ago`, `3.days.ago`, `12.hours.ago`,
    /// `30.minutes.ago`, `45.seconds.ago`), or a number of seconds; nil when it is none of these.
    public static func grace(parsing text: String) -> TimeInterval? {
        if text == "now" { return 0 }
        if let s = Double(text), s >= 0 { return s }
        let parts = text.split(separator: ".")
        guard parts.count == 3, parts[2] == "ago", let n = Double(parts[0]), n >= 0 else { return nil }
        let unit: Double
        switch parts[1].hasSuffix("s") ? String(parts[1].dropLast()) : String(parts[1]) {
        case "second": unit = 1
        case "minute": unit = 60
        case "hour": unit = 3_600
        case "day": unit = 86_400
        case "week": unit = 7 * 86_400
        case "month": unit = 30 * 86_400
        default: return nil
        }
        return n * unit
    }
}

extension Repository {
    /// `cache.max-size` in bytes (default 10 GiB); `dvs gc` evicts the least recently used files of
    /// `.dvs/cache/blobs` above it.
    var cacheLimit: UInt64 {
        (try? catalog.config("cache.max-size")).flatMap { $0.flatMap { UInt64($0) } } ?? 10 << 30
    }

    /// Removes what nothing needs and is older than the grace period; see the file's header.
    /// Takes the repository lock.
    /// - Parameter dryRun: count only, change nothing.
    /// - Returns: what was (or would be) removed.
    /// - Throws: `DVSError` when history cannot be read (nothing is removed then) or storage fails;
    ///   `.locked`.
    public func gc(_ options: GCOptions = GCOptions(), dryRun: Bool = false, progress: ProgressHandler? = nil) throws -> GCReport {
        let lock = try self.lock("dvs gc")
        defer { lock.release() }
        let cutoff = Date().timeIntervalSince1970 - options.grace
        var report = GCReport(
            objectsDeleted: 0, objectBytes: 0, blobsDropped: 0, packsRewritten: 0, packBytesBefore: 0, packBytesAfter: 0, blobsLeft: 0,
            cacheFilesEvicted: 0, cacheBytesEvicted: 0)

        // Reflog entries older than the grace period that name nothing a ref or record reaches.
        // A dry run counts what the expiry would free too: the entries that stay are its roots.
        let reachable = Set(try purgeHistory(reflog: false, purgeRecords: false))
        var reflogRoots: [CommitID]?
        do {
            if dryRun {
                let expiry = try catalog.reflogExpiry(olderThan: Int64(cutoff), keeping: reachable)
                report.reflogEntriesExpired = expiry.entries.count
                reflogRoots = expiry.keptCommits
            } else {
                report.reflogEntriesExpired = try catalog.write { tx in
                    try tx.expireReflog(olderThan: Int64(cutoff), keeping: reachable)
                }
            }
        } catch { throw DVSError.wrap(error) }
        // What is needed.
        let (neededObjects, neededBlobs) = try gcNeeded(reflogRoots: reflogRoots, progress: progress)

        // Loose objects.
        for id in (try? objects.allIDs()) ?? [] where !neededObjects.contains(id) {
            let path = objects.path(of: id)
            guard let (size, mtime) = Self.sizeAndTime(path), mtime < cutoff else { continue }
            report.objectsDeleted += 1
            report.objectBytes += size
            if !dryRun { unlink(path) }
        }

        // Blobs in packs: rewrite the old packs that are mostly garbage.
        let locations: [ObjectID: BlobLocation]
        do { locations = try catalog.allLocations() } catch { throw DVSError.wrap(error) }
        var byPack: [PackID: (garbage: [ObjectID], garbageBytes: UInt64)] = [:]
        for (id, loc) in locations where !neededBlobs.contains(id) {
            byPack[loc.pack, default: ([], 0)].garbage.append(id)
            byPack[loc.pack, default: ([], 0)].garbageBytes += loc.entry.storedLength
        }
        var dropped = Set<ObjectID>()
        var packs = Set<PackID>()
        for (pack, g) in byPack {
            let path = packsDir + "/\(pack.hex).pack"
            guard let (size, mtime) = Self.sizeAndTime(path), mtime < cutoff else {
                report.blobsLeft += g.garbage.count
                continue
            }
            if Double(g.garbageBytes) >= options.rewriteFraction * Double(max(size, 1)) {
                dropped.formUnion(g.garbage)
                packs.insert(pack)
            } else {
                report.blobsLeft += g.garbage.count
            }
        }
        report.blobsDropped = dropped.count
        report.packsRewritten = packs.count
        if dryRun {
            for p in packs { report.packBytesBefore += Self.sizeAndTime(packsDir + "/\(p.hex).pack")?.size ?? 0 }
        } else if !packs.isEmpty {
            let r = try repackWithout(dropped, only: packs, progress: progress)
            report.packBytesBefore = r.before
            report.packBytesAfter = r.after
        }
        // Packs of a deleted cohort branch (CohortPacks.swift), once old, when every frame in them
        // is stored in another pack too or needed by nothing.
        try collectCohortPacks(locations: locations, needed: neededBlobs, cutoff: cutoff, dryRun: dryRun, into: &report)
        // Pack files no index knows (a writer killed before it recorded them), once old.
        let known: Set<PackID>
        do { known = Set(try catalog.packIDs()) } catch { throw DVSError.wrap(error) }
        for n in (try? FileManager.default.contentsOfDirectory(atPath: packsDir)) ?? [] where n.hasSuffix(".pack") {
            guard let id = PackID(hex: n.dropLast(5)), !known.contains(id) else { continue }
            let path = packsDir + "/" + n
            guard let (size, mtime) = Self.sizeAndTime(path), mtime < cutoff else { continue }
            report.packsRewritten += 1
            report.packBytesBefore += size
            if !dryRun { unlink(path) }
        }

        // The blob cache of `dvs run`, least recently used first, above its limit.
        let evicted = evictBlobCache(limit: options.cacheLimit ?? cacheLimit, dryRun: dryRun)
        report.cacheFilesEvicted = evicted.files
        report.cacheBytesEvicted = evicted.bytes
        return report
    }

    /// Deletes the packs `.dvs/cohort-packs` lists for a branch that no longer exists, older than
    /// `cutoff` (unix seconds), whose every frame is stored in another pack too (by the catalog's
    /// `locations`) or not `needed`; drops the list's lines for packs that are gone. A pack still
    /// holding the only copy of a needed blob is kept. The caller holds the repository lock.
    func collectCohortPacks(
        locations: [ObjectID: BlobLocation], needed: Set<ObjectID>, cutoff: Double, dryRun: Bool, into report: inout GCReport
    ) throws {
        let listed = cohortPacks()
        guard !listed.isEmpty else { return }
        let known: Set<PackID>
        do { known = Set(try catalog.packIDs()) } catch { throw DVSError.wrap(error) }
        // A pack two cohorts share (the same frames in the same order) is in use while either is.
        var served = Set<PackID>()
        for p in listed where try RefName(fullName: p.ref).flatMap({ try catalog.ref($0) }) != nil { served.insert(p.pack) }
        var onDisk: [PackID: Bool] = [:]
        func exists(_ pack: PackID) -> Bool {
            if let e = onDisk[pack] { return e }
            let e = FileIO.exists(packsDir + "/\(pack.hex).pack")
            onDisk[pack] = e
            return e
        }
        var keep: [(pack: PackID, ref: String)] = []
        var delete: [(PackID, String, UInt64)] = []
        for p in listed where known.contains(p.pack) {
            let path = packsDir + "/\(p.pack.hex).pack"
            if delete.contains(where: { $0.0 == p.pack }) { continue }
            guard !served.contains(p.pack), let (size, mtime) = Self.sizeAndTime(path), mtime < cutoff,
                let index = try? PackReader(path: path).readIndex(),
                index.allSatisfy({ e in
                    !needed.contains(e.id) || (locations[e.id].map { $0.pack != p.pack && exists($0.pack) } ?? false)
                })
            else {
                keep.append(p)
                continue
            }
            delete.append((p.pack, path, size))
        }
        report.packsRewritten += delete.count
        report.packBytesBefore += delete.reduce(0) { $0 + $1.2 }
        guard !dryRun, keep.count != listed.count else { return }
        do { try catalog.write { tx in try tx.removePacks(delete.map(\.0)) } } catch { throw DVSError.wrap(error) }
        packedBlobs.forgetReaders()
        for d in delete { unlink(d.1) }
        FileIO.syncDirectory(packsDir)
        try writeCohortPacks(keep)
    }

    /// The loose objects and blobs something needs: see the file's header.
    /// - Parameter reflogRoots: the commits the reflog names, when not the catalog's (a dry run's
    ///   reflog after expiry).
    func gcNeeded(reflogRoots: [CommitID]? = nil, progress: ProgressHandler?) throws -> (objects: Set<ObjectID>, blobs: Set<ObjectID>) {
        var objectsNeeded = Set<ObjectID>()
        var history = try purgeHistory(reflogRoots: reflogRoots, purgeRecords: false)
        if let s = mergeState() {
            for c in [s.ours, s.theirs] where objects.contains(c.object) { history.append(c) }
        }
        // `purgeHistory` has the model and eval snapshots (a purged one's replacement); a purge
        // record's other new commits are needed only while a ref, reflog entry or record reaches them.
        do {
            objectsNeeded.formUnion(try catalog.lineageRecordIDs())
            for m in try catalog.models() { objectsNeeded.insert(m.artifact) }
        } catch { throw DVSError.wrap(error) }
        let (o, b) = try historyClosure(history, progress: progress)
        return (objectsNeeded.union(o), b)
    }

    /// The commits reachable from `roots`, their manifest chunks and words objects, and the
    /// blobs their entries name (symlinks excluded), read from this repository.
    /// - Throws: `DVSError` when an object cannot be read.
    func historyClosure(_ roots: [CommitID], progress: ProgressHandler?) throws -> (objects: Set<ObjectID>, blobs: Set<ObjectID>) {
        var objectsNeeded = Set<ObjectID>()
        var blobsNeeded = Set<ObjectID>()
        var seenCommits = Set<CommitID>()
        var stack = roots
        while let c = stack.popLast() {
            guard !seenCommits.contains(c) else { continue }
            seenCommits.insert(c)
            if seenCommits.count % 64 == 0 { progress?(Progress(phase: .marking, done: seenCommits.count, total: 0, bytes: 0)) }
            objectsNeeded.insert(c.object)
            let commit = try snapshots.commit(c)
            stack += commit.parents
            var chunks = [commit.manifest]
            while let id = chunks.popLast() {
                guard !objectsNeeded.contains(id) else { continue }
                objectsNeeded.insert(id)
                switch try snapshots.chunk(id) {
                case .leaf(let es):
                    for e in es where e.kind != .symlink {
                        blobsNeeded.insert(e.blob)
                        if let w = e.annotations?.transcript?.words { objectsNeeded.insert(w) }
                    }
                case .inner(_, let children): chunks += children.map(\.id)
                }
            }
        }
        return (objectsNeeded, blobsNeeded)
    }

    /// Evicts the least recently used files of `.dvs/cache/blobs` until it holds at most `limit`
    /// bytes; files used in the last ten minutes stay (a `dvs run` may be reading them) unless
    /// `keepingRecent` is false (a remote's cache, when no other process reads it).
    /// - Returns: files and bytes evicted (or, with `dryRun`, that would be).
    func evictBlobCache(limit: UInt64, dryRun: Bool, keepingRecent: Bool = true) -> (files: Int, bytes: UInt64) {
        var files: [(path: String, size: UInt64, used: Double)] = []
        var total: UInt64 = 0
        let root = blobCacheDir
        for sub in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            for n in (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + sub)) ?? [] {
                let path = root + "/" + sub + "/" + n
                var st = stat()
                guard lstat(path, &st) == 0 else { continue }
                let used = max(Double(st.st_atim.tv_sec), Double(st.st_mtim.tv_sec))
                files.append((path, UInt64(st.st_size), used))
                total += UInt64(st.st_size)
            }
        }
        guard total > limit else { return (0, 0) }
        let recent = keepingRecent ? Date().timeIntervalSince1970 - 600 : .infinity
        var evicted = (files: 0, bytes: UInt64(0))
        for f in files.sorted(by: { $0.used < $1.used }) where total > limit && f.used < recent {
            if !dryRun { unlink(f.path) }
            total -= f.size
            evicted.files += 1
            evicted.bytes += f.size
        }
        return evicted
    }

    /// A file's size in bytes and modification time (unix seconds); nil when it is not there.
    static func sizeAndTime(_ path: String) -> (size: UInt64, mtime: Double)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_size), Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }
}
