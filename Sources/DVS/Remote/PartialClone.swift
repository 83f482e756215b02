import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// Partial clones (issue 15, item 1).
//
// `dvs clone URL DIR --branch B` marks its remote `remote.origin.partial = true`. A fetch from
// a partial remote downloads metadata only (refs, commits, manifests, lineage and purge
// records); the blobs a snapshot needs are downloaded when something is about to use them —
// the checkout that ends the clone, a later checkout, pull or stream — by
// ``ensureBlobs(of:progress:)``. Blobs are read from the remote's packs frame by frame: the
// pack indexes (a ranged GET of each pack's last 1/1024, 16–256 KiB, a second when the index is longer; kept
// in `.dvs/cache/pack-index` by pack id), then the wanted frames in ranged GETs, where
// neighbouring frames of one pack are merged into one request while the bytes between them
// stay within a budget (10 % of the wanted bytes, smallest gaps first; ``coalesce(_:slack:maxRequest:)``).
// A delta frame's base is fetched in the next round. The frames are written into a new local
// pack in `.dvs/tmp/`, every blob decoded and hashed against its id, then the pack is renamed
// into `packs/` and indexed, and listed in `.dvs/partial-packs` as `<remote> <pack id>`: its
// frames are that remote's, so a push to it does not upload them again.

/// Which remote pack each blob is read from, when several hold it (a cohort's own packs,
/// `CohortPacks.swift`; the old and new copy of a pack a remote gc rewrote).
///
/// Ranged reads (``pick(_:)``): for each wanted blob, among the packs holding it, the one ranked
/// highest by: not marked for deletion by a remote gc; the larger share of its entries wanted (a
/// cohort's own packs for a reader of the cohort, so its frames lie together); the larger share
/// of its entries held by no other pack (the source's packs for a reader of everything, rather
/// than a copy); more entries wanted; first in reading order. Whole packs
/// (``pickWhole(_:)``): the packs holding a wanted blob no other pack holds, then for the rest
/// the pack with the larger share of its entries still wanted (not a minimal cover: a choice per
/// blob, by a fixed score).
struct RemoteHolders {
    /// Every copy of every blob, in reading order.
    private var holders: [ObjectID: [RemoteFrame]] = [:]
    private var rank: [ObjectID: Int] = [:]
    private var entries: [ObjectID: Int] = [:]
    private var unique: [ObjectID: Int] = [:]
    private let marked: Set<ObjectID>

    /// - Parameters:
    ///   - index: each remote pack's index rows.
    ///   - order: the packs in reading order (`readingOrder`).
    ///   - marked: packs a remote gc marked for deletion.
    /// - Complexity: O(rows of every index).
    init(index: [ObjectID: [PackEntry]], order: [ObjectID], marked: Set<ObjectID>) {
        self.marked = marked
        for (i, id) in order.enumerated() {
            rank[id] = i
            entries[id] = index[id]?.count ?? 0
            for e in index[id] ?? [] { holders[e.id, default: []].append(RemoteFrame(pack: id, entry: e)) }
        }
        for (_, copies) in holders where copies.count == 1 { unique[copies[0].pack, default: 0] += 1 }
    }

    /// The frame to read for each of `wanted` that some pack holds.
    /// - Complexity: O(copies of the wanted blobs).
    func pick(_ wanted: Set<ObjectID>) -> [ObjectID: RemoteFrame] {
        var wantedIn: [ObjectID: Int] = [:]
        for b in wanted { for f in holders[b] ?? [] { wantedIn[f.pack, default: 0] += 1 } }
        func key(_ f: RemoteFrame) -> (Int, Double, Double, Int, Int) {
            let n = Double(max(entries[f.pack] ?? 1, 1))
            return (
                marked.contains(f.pack) ? 0 : 1, Double(wantedIn[f.pack] ?? 0) / n, Double(unique[f.pack] ?? 0) / n,
                wantedIn[f.pack] ?? 0, -(rank[f.pack] ?? 0)
            )
        }
        var out: [ObjectID: RemoteFrame] = [:]
        for b in wanted {
            if let f = holders[b]?.max(by: { key($0) < key($1) }) { out[b] = f }
        }
        return out
    }

    /// The pack to download whole for each of `wanted` that some pack holds: first every pack
    /// holding a wanted blob no other pack holds (it is downloaded anyway, and brings whatever
    /// else is wanted in it); then, for the rest, the pack with the larger share of its entries
    /// still wanted, not marked for deletion first, then first in reading order. A cohort's copy
    /// is so not downloaded beside the packs it was copied from, unless the two tie on share (then
    /// reading order decides).
    /// - Complexity: O(copies of the wanted blobs).
    func pickWhole(_ wanted: Set<ObjectID>) -> [ObjectID: RemoteFrame] {
        var chosen = Set<ObjectID>()
        for b in wanted { if let c = holders[b], c.count == 1 { chosen.insert(c[0].pack) } }
        var out: [ObjectID: RemoteFrame] = [:]
        var rest: [ObjectID] = []
        for b in wanted {
            if let f = holders[b]?.first(where: { chosen.contains($0.pack) }) { out[b] = f } else { rest.append(b) }
        }
        var wantedIn: [ObjectID: Int] = [:]
        for b in rest { for f in holders[b] ?? [] { wantedIn[f.pack, default: 0] += 1 } }
        func key(_ f: RemoteFrame) -> (Int, Double, Int) {
            (marked.contains(f.pack) ? 0 : 1, Double(wantedIn[f.pack] ?? 0) / Double(max(entries[f.pack] ?? 1, 1)), -(rank[f.pack] ?? 0))
        }
        for b in rest {
            if let f = holders[b]?.max(by: { key($0) < key($1) }) { out[b] = f }
        }
        return out
    }
}

/// One frame to download: where it is on the remote.
struct RemoteFrame: Sendable, Equatable {
    /// The remote pack holding it.
    var pack: ObjectID
    /// Its index row there (offset and stored length in bytes).
    var entry: PackEntry
}

/// One ranged read of a remote pack: bytes `start...end` (inclusive), covering `frames`.
struct FrameRange: Sendable, Equatable {
    /// The remote pack.
    var pack: ObjectID
    /// First byte.
    var start: UInt64
    /// Last byte (inclusive).
    var end: UInt64
    /// The frames it covers, by offset.
    var frames: [PackEntry]
    /// Bytes it reads.
    var length: UInt64 { end - start + 1 }
}

/// What ``Repository/ensureBlobs(of:progress:)`` downloaded.
public struct FrameFetch: Sendable, Equatable {
    /// The partial remote read.
    public var remote: String
    /// Blobs downloaded (delta bases included).
    public var blobs: Int
    /// Bytes of the frames themselves.
    public var frameBytes: UInt64
    /// Bytes read from the remote: pack indexes and the ranges (frames and the gaps merged
    /// between them).
    public var bytesDownloaded: UInt64
    /// Ranged GET requests for frames (pack index reads, and reads an interrupted download had
    /// already made, not counted).
    public var requests: Int
    /// Pack indexes read from the remote (those cached in `.dvs/cache/pack-index` from an
    /// earlier download are not read again).
    public var indexes: Int
}

extension Repository {
    /// `.dvs/partial-packs`: lines `<remote> <pack id hex>`, the packs a partial fetch made.
    var partialPacksPath: String { dvsDir + "/partial-packs" }

    /// `.dvs/tmp/partial-ranges`: the ranged reads of a download not yet installed, one file
    /// each (`<pack hex>-<first byte>-<last byte>`), so a download run again after an interruption
    /// reads only what is left.
    var savedRangesDir: String { tmpDir + "/partial-ranges" }

    /// The remote this repository is a partial clone of (`remote.<name>.partial = true`), if any
    /// (a clone has one: `origin`; should several be marked, the first by name, and fetches from
    /// the others download blobs as from a full remote).
    public func partialRemote() -> String? {
        guard let all = try? catalog.allConfig() else { return nil }
        return all.first { $0.0.hasPrefix("remote.") && $0.0.hasSuffix(".partial") && $0.1 == "true" }.map {
            String($0.0.dropFirst("remote.".count).dropLast(".partial".count))
        }
    }

    /// The blob ids the remote pack indexes cached in `.dvs/cache/pack-index` list (what a
    /// partial clone's remote held at its last download); nil when none is cached (nothing can
    /// be told then).
    func cachedRemoteBlobIDs() -> Set<ObjectID>? {
        let dir = dvsDir + "/cache/pack-index"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir), !names.isEmpty else { return nil }
        var out = Set<ObjectID>()
        for n in names {
            guard let data = FileManager.default.contents(atPath: dir + "/" + n), data.count >= 12 else { continue }
            let bytes = [UInt8](data)
            let rows = (bytes.count - 12) / PackFormat.indexRowLength
            for r in 0..<rows { out.insert(ObjectID(bytes: bytes[(r * PackFormat.indexRowLength)..<(r * PackFormat.indexRowLength + 32)])) }
        }
        return out
    }

    /// The packs made by partial fetches from `remote` (their frames are the remote's).
    func partialPacks(from remote: String) -> Set<PackID> { partialPackIDs(from: remote) }

    /// The packs `.dvs/partial-packs` lists: made by partial fetches from `remote`, or from any
    /// remote when nil.
    func partialPackIDs(from remote: String? = nil) -> Set<PackID> {
        guard let text = try? String(contentsOfFile: partialPacksPath, encoding: .utf8) else { return [] }
        var out = Set<PackID>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, remote.map({ parts[0] == $0 }) ?? true, let id = ObjectID(hex: parts[1]) { out.insert(PackID(id)) }
        }
        return out
    }

    /// Downloads, in a partial clone, the blobs the snapshot of `commit` needs that are not
    /// stored here (see the file's header); a no-op in a full repository or when nothing is
    /// missing. The caller holds the repository lock.
    /// - Returns: what was downloaded; nil when nothing had to be.
    /// - Throws: `DVSError.remote` on transfer failures (nothing is kept; run the command
    ///   again); `.corrupt` naming the object, remote pack and key when a frame or pack index is
    ///   damaged, or the remote lacks a blob; `.io`.
    /// - Complexity: one pass over the snapshot's entries and one blob-index lookup per blob;
    ///   then reads of every remote pack index (cached after the first) and of the missing frames.
    @discardableResult
    public func ensureBlobs(of commit: CommitID, progress: ProgressHandler? = nil) throws -> FrameFetch? {
        guard let remoteName = partialRemote() else { return nil }
        var wanted = Set<ObjectID>()
        for e in try entries(ofManifest: snapshots.commit(commit).manifest) where e.kind != .symlink { wanted.insert(e.blob) }
        return try ensureBlobs(wanted, remote: remoteName, progress: progress)
    }

    /// In a partial clone, downloads those of `wanted` not stored here (for readers: export,
    /// stream, the snapshot reader, cat); a no-op in a full repository. The download and its
    /// verification run without the repository lock, so several readers (stream shards,
    /// DataLoader workers) download at once; the lock is taken only to add the verified pack.
    /// - Returns: what was downloaded; nil when nothing had to be.
    /// - Throws: `DVSError.locked` when another command holds the lock past `core.lock-timeout`
    ///   at the end; as ``ensureBlobs(of:progress:)``.
    @discardableResult
    public func downloadMissingBlobs(_ wanted: Set<ObjectID>, progress: ProgressHandler? = nil) throws -> FrameFetch? {
        guard let remoteName = partialRemote() else { return nil }
        return try ensureBlobs(wanted, remote: remoteName, locked: false, progress: progress)
    }

    /// Downloads those of `wanted` not stored here from the partial remote `remoteName`.
    /// - Parameter locked: whether the caller holds the repository lock; when not, it is taken
    ///   only to add the verified pack.
    /// - Throws: as ``ensureBlobs(of:progress:)``.
    func ensureBlobs(_ wanted: Set<ObjectID>, remote remoteName: String, locked: Bool = true, progress: ProgressHandler?) throws
        -> FrameFetch?
    {
        let blobs = self.blobs
        func here(_ id: ObjectID) -> Bool { (try? blobs.contains(id)) == true }
        let missing = Set(wanted.filter { !here($0) })
        // A remote's cache evicts its least recently used packs: these are used now.
        if isRemoteCache { touchPacks(holding: wanted.subtracting(missing)) }
        guard !missing.isEmpty else { return nil }
        let config = try remote(remoteName)
        let store = try config.open(environment: context.environment)
        context.notice?(
            isRemoteCache
                ? "note: downloading \(counted(missing.count, "blob")) from the remote into its cache at \(root)"
                : "note: downloading \(counted(missing.count, "blob")) from '\(remoteName)' (this is a partial clone of it)")
        let meter = TransferMeter(phase: .downloading, total: 0, progress: progress)
        var fetch = FrameFetch(remote: remoteName, blobs: 0, frameBytes: 0, bytesDownloaded: 0, requests: 0, indexes: 0)
        // Locked while this process lives, so that a sweep deletes it only after a kill.
        let (stageFD, stage): (Int32, String)
        do {
            try FileIO.makeDirectories(tmpDir)
            (stageFD, stage) = try FileIO.makeTempDirectory(in: tmpDir, prefix: Self.partialStagePrefix)
        } catch { throw DVSError.wrap(error) }
        defer {
            try? FileManager.default.removeItem(atPath: stage)
            close(stageFD)
        }
        let writer = PackWriter(packsDir: stage, tmpDir: tmpDir, targetSize: Self.packTargetSize(catalog))
        let packs: [FinishedPack]
        do {
            try downloadFrames(
                missing, here: here, store: store, remote: remoteName, transfers: config.transfers, meter: meter, into: writer,
                fetch: &fetch)
            packs = try writer.finish()
        } catch {
            writer.abort()
            throw DVSError.wrap(error)
        }
        // Every blob decoded and hashed before the pack is used.
        var readers: [(id: ObjectID, reader: PackReader, entries: [PackEntry])] = []
        for p in packs { readers.append((p.id, try PackReader(path: "\(stage)/\(p.id.hex).pack"), p.entries)) }
        do {
            let bases = try checkFrames(readers)
            if let b = bases.first {
                throw DVSError(.internal, "a partial fetch from '\(remoteName)' left the delta base '\(b.hex)' out")
            }
        } catch let d as FrameDamage {
            try? FileManager.default.removeItem(atPath: savedRangesDir)  // not used again
            throw DVSError(
                .corrupt,
                "object '\(d.object.hex)' read from remote '\(remoteName)' is damaged: \(d.why); it was not used",
                next: .repairRemote(remote: remoteName))
        }
        // Listed first (a listed pack that never arrives is harmless), then renamed and indexed,
        // under the lock (a reader takes it only now; a blob another process added meanwhile is
        // then in two packs, which reads and gc handle).
        let lock = locked ? nil : try self.lock("dvs (adding blobs downloaded from '\(remoteName)')")
        defer { lock?.release() }
        // A purge that ran here during the download: what it erased must not come back.
        let erased = try purgedContent().blobs
        if packs.contains(where: { $0.entries.contains { erased.contains($0.id) } }) {
            throw DVSError(
                .remote, "a purge ran here while blobs were downloaded from '\(remoteName)'; nothing of the download was kept",
                hint: "run the command again")
        }
        do {
            let lines = packs.map { "\(remoteName) \($0.id.hex)\n" }.joined()
            let old = (try? String(contentsOfFile: partialPacksPath, encoding: .utf8)) ?? ""
            try FileIO.writeAtomically(Array((old + lines).utf8), to: partialPacksPath, tmpDir: tmpDir)
            for p in packs {
                guard rename("\(stage)/\(p.id.hex).pack", "\(packsDir)/\(p.id.hex).pack") == 0 else {
                    throw StorageError.posix("cannot rename pack into", path: "\(packsDir)/\(p.id.hex).pack")
                }
            }
            FileIO.syncDirectory(packsDir)
            try catalog.write { tx in
                for p in packs { try tx.insertPack(id: PackID(p.id), byteCount: p.byteCount, entries: p.entries) }
            }
        } catch { throw DVSError.wrap(error) }
        packedBlobs.forgetReaders()
        try? FileManager.default.removeItem(atPath: savedRangesDir)
        meter.finish()
        fetch.bytesDownloaded = meter.bytes
        return fetch
    }

    /// Downloads the frames of `missing` (and, round after round, the delta bases they need
    /// that are neither `here` nor downloaded) from the remote's packs into `writer`.
    private func downloadFrames(
        _ missing: Set<ObjectID>, here: (ObjectID) -> Bool, store: any RemoteStore, remote: String, transfers: Int, meter: TransferMeter,
        into writer: PackWriter, fetch: inout FrameFetch
    ) throws {
        let remotePacks = try store.list(prefix: "packs/").compactMap { o -> (ObjectID, UInt64)? in
            guard o.key.hasSuffix(".pack"), let id = ObjectID(hex: o.key.dropFirst(6).dropLast(5)) else { return nil }
            return (id, o.size)
        }
        let indexes = Locked<[ObjectID: [PackEntry]]>([:])
        // Pack indexes are named by their pack's id: kept in the cache, read once.
        let cache = dvsDir + "/cache/pack-index"
        let read = Locked(0)
        try parallelIO(remotePacks.count, workers: transfers) { i in
            let (id, size) = remotePacks[i]
            let entries: [PackEntry]
            if !FileIO.exists("\(cache)/\(id.hex)") { read.withLock { $0 += 1 } }
            do {
                // The tail read scales with the pack (1/1024 of it, 16–256 KiB): a 64 MiB pack of
                // audio (≈ 350 rows of 57 bytes, 20 KB) is one GET, not two, for at most 0.1 % of
                // the remote's bytes more.
                let tail = min(max(size / 1024, 16384), 262_144)
                entries = try Self.remotePackIndex(store: store, pack: id, size: size, meter: meter, tail: tail, cache: cache)
            } catch let d as PackDamage {
                throw DVSError(
                    .corrupt, "pack '\(id.hex)' on remote '\(remote)' (key packs/\(id.hex).pack) is damaged: \(d.why); it was not used",
                    next: .repairRemote(remote: remote))
            }
            indexes.withLock { $0[id] = entries }
        }
        fetch.indexes = read.withLock { $0 }
        let index = indexes.withLock { $0 }
        let marked = try Self.markedPacks(store: store)
        let holders = RemoteHolders(index: index, order: try Self.readingOrder(index.keys, store: store, marked: marked), marked: marked)
        var want = missing
        var got = Set<ObjectID>()
        while !want.isEmpty {
            var frames: [RemoteFrame] = []
            let chosen = holders.pick(want)
            for b in want.sorted() {
                guard let f = chosen[b] else {
                    throw DVSError(
                        .corrupt, "remote '\(remote)' lacks blob '\(b.hex)' that this snapshot needs (no pack under packs/ holds it)",
                        next: .repairRemote(remote: remote))
                }
                frames.append(f)
            }
            let ranges = Self.coalesce(frames)
            let bases = Locked<Set<ObjectID>>([])
            let fetched = Locked(0)
            let beforeTransfer = context.beforeTransfer
            let saved = savedRangesDir
            let tmp = tmpDir
            try? FileIO.makeDirectories(saved)
            try parallelIO(ranges.count, workers: transfers) { i in
                let r = ranges[i]
                let key = "packs/\(r.pack.hex).pack"
                // A read an interrupted download finished is kept, and used again (the frames
                // are checked against their ids before use either way).
                let file = "\(saved)/\(r.pack.hex)-\(r.start)-\(r.end)"
                var data: [UInt8]
                if let d = FileManager.default.contents(atPath: file), UInt64(d.count) == r.length {
                    data = [UInt8](d)
                } else {
                    beforeTransfer?()
                    data = [UInt8](try store.getRange(key, r.start...r.end))
                    meter.partial(bytes: UInt64(data.count))
                    guard UInt64(data.count) == r.length else {
                        throw DVSError(
                            .remote, "remote '\(remote)' returned \(data.count) of \(r.length) bytes of \(key) at \(r.start)",
                            hint: "run the command again")
                    }
                    try? FileIO.writeAtomically(data, to: file, tmpDir: tmp)
                    fetched.withLock { $0 += 1 }
                }
                for e in r.frames {
                    let from = Int(e.offset - r.start)
                    let frame = Array(data[from..<(from + Int(e.storedLength))])
                    if e.codec == .zstdDelta, frame.count >= 32 {
                        let base = ObjectID(bytes: frame[0..<32])
                        bases.withLock { _ = $0.insert(base) }
                    }
                    try writer.append(id: e.id, codec: e.codec, rawLength: e.rawLength, frame: frame)
                }
            }
            fetch.requests += fetched.withLock { $0 }
            fetch.blobs += frames.count
            fetch.frameBytes += frames.reduce(0) { $0 + $1.entry.storedLength }
            got.formUnion(want)
            want = Set(bases.withLock { $0 }.subtracting(got).filter { !here($0) })
        }
    }

    /// The ranged reads that fetch `frames`: per remote pack, by offset, neighbouring frames in
    /// one read when the bytes between them fit a budget of `slack` × the frames' bytes, spent
    /// on the smallest gaps first (adjacent frames always share a read); no read longer than
    /// `maxRequest` bytes unless one frame is.
    /// - Complexity: O(n log n) in the frames.
    static func coalesce(_ frames: [RemoteFrame], slack: Double = 0.10, maxRequest: UInt64 = 32 << 20) -> [FrameRange] {
        let byPack = Dictionary(grouping: frames, by: \.pack).mapValues { $0.map(\.entry).sorted { $0.offset < $1.offset } }
        let packs = byPack.keys.sorted()
        let total = frames.reduce(UInt64(0)) { $0 + $1.entry.storedLength }
        // Every gap between consecutive frames of a pack, smallest first.
        var gaps: [(size: UInt64, pack: ObjectID, after: Int)] = []
        for p in packs {
            let es = byPack[p]!
            for i in 0..<max(0, es.count - 1) {
                let end = es[i].offset + es[i].storedLength
                gaps.append((es[i + 1].offset > end ? es[i + 1].offset - end : 0, p, i))
            }
        }
        gaps.sort { ($0.size, $0.pack, $0.after) < ($1.size, $1.pack, $1.after) }
        var budget = UInt64(Double(total) * slack)
        var merged = Set<String>()
        for g in gaps {
            if g.size > 0 {
                guard g.size <= budget else { break }
                budget -= g.size
            }
            merged.insert("\(g.pack.hex):\(g.after)")
        }
        var out: [FrameRange] = []
        for p in packs {
            let es = byPack[p]!
            var current = FrameRange(pack: p, start: es[0].offset, end: es[0].offset + es[0].storedLength - 1, frames: [es[0]])
            for i in 1..<max(1, es.count) {
                let e = es[i]
                let end = max(current.end, e.offset + e.storedLength - 1)
                if merged.contains("\(p.hex):\(i - 1)") && end - current.start + 1 <= maxRequest {
                    current.end = end
                    current.frames.append(e)
                } else {
                    out.append(current)
                    current = FrameRange(pack: p, start: e.offset, end: e.offset + e.storedLength - 1, frames: [e])
                }
            }
            out.append(current)
        }
        return out
    }
}
