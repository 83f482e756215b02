import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// `dvs repack`: code the audio a large commit stored as it is. A commit codes audio files while
// they fit in `pack.defer-audio-after` bytes and appends the others as `stored` frames (the bytes
// themselves), so that importing a corpus costs about what copying it does;
// this codes those frames as the commit would have (`pack.audio-codec`), pack by pack, the way
// git's loose objects wait for `git gc`. Pack by pack: read every blob it holds (verified
// against its id) and code the stored ones (each decoded again and compared before it is kept)
// into a new pack under `.dvs/tmp`, without the lock; then, under the lock, finish the new pack,
// swap the two in one catalog transaction and delete the old file (or drop the new one when the
// old one was replaced meanwhile). The lock is held for an fsync and a transaction, and before it
// the repack lets a writer that waits for the lock go first (`RepositoryLock.othersAreWaiting`).
// A reader that had the old pack open keeps reading it, and one that had only looked a blob up
// looks it up again (`PackedBlobStore.read`). A repack killed between moving the new pack into
// `packs/` and the swap leaves the new pack, and one killed after the swap the old pack: a file
// the catalog does not know whose every blob is indexed in a pack that is there, which the next
// repack deletes first. One repack runs at a time (`.dvs/repack.lock`). `--recode` goes the same
// way through the packs holding blobs of the audio codecs the setting does not write, coding
// again those whose format it now gives another codec.

/// What `dvs repack` did.
public struct RepackReport: Sendable, Equatable, Codable {
    /// Packs rewritten.
    public var packs: Int = 0
    /// Blobs coded: stored as they were, or (with `recode`) coded with another audio codec.
    public var blobs: Int = 0
    /// Their bytes as they are (uncoded).
    public var rawBytes: UInt64 = 0
    /// Bytes of the packs rewritten, before.
    public var bytesBefore: UInt64 = 0
    /// Bytes of the packs that replaced them.
    public var bytesAfter: UInt64 = 0
    /// Pack files deleted that an interrupted repack had left (the catalog did not know them and
    /// every blob in them was indexed elsewhere).
    public var leftoversDeleted: Int = 0
    /// Creates an empty report.
    public init() {}
}

extension Repository {
    /// Bytes of audio a commit codes as it writes them; an audio file that does not fit in what
    /// is left is stored as it is, for `dvs repack` (`pack.defer-audio-after`, default 64 MiB);
    /// nil when the setting is `never` (a commit codes everything).
    public var deferAudioAfter: UInt64? { Self.deferAudioAfter(catalog) }

    static func deferAudioAfter(_ catalog: Catalog) -> UInt64? {
        guard let text = (try? catalog.config("pack.defer-audio-after")).flatMap({ $0 }) else { return 64 << 20 }
        if text == "never" { return nil }
        return UInt64(text) ?? (64 << 20)
    }

    /// Whether a commit that deferred audio starts `dvs repack` in the background
    /// (`pack.auto-repack`, default true).
    public var autoRepack: Bool { (try? catalog.config("pack.auto-repack")).flatMap { $0 } != "false" }

    /// Packs holding blobs stored as they are, and those blobs' bytes: what ``repack(recode:progress:lockTimeout:)``
    /// would code. O(such blobs), through a partial index.
    /// - Throws: `DVSError` when the catalog cannot be read.
    public func pendingRepack() throws -> (packs: Int, rawBytes: UInt64) {
        let p: [(pack: PackID, rawBytes: UInt64)]
        do { p = try catalog.packsHoldingStoredBlobs() } catch { throw DVSError.wrap(error) }
        return (p.count, p.reduce(0) { $0 + $1.rawBytes })
    }

    /// The repack running on this repository right now (in the background, a push's, or one run
    /// by hand), as it recorded itself (`pid 1234: dvs repack`) and its pid, or nil when none
    /// runs: someone holds `.dvs/repack.lock`. A non-blocking probe; nil when it cannot tell.
    public var runningRepack: LockHolder? { RepositoryLock.holder(path: dvsDir + "/repack.lock") }

    /// The codecs of the blobs a repack codes again (``BlobCodec`` raw values): those stored as
    /// they are and, with `recode`, those `choice` may write otherwise: codec 1 (no longer
    /// written); under `lpc`, codec 2 and plain zstd (how `predictive` stores μ-law, A-law and
    /// 24-bit PCM, and any coder a file whose trial found codec 4 does not pay);
    /// under `predictive`, codec 4; all of them under `auto`, whose choice depends on the format,
    /// which only the blob's bytes tell.
    static func recodedCodecs(recode: Bool, choice: AudioCodecChoice) -> Set<UInt8> {
        var out: Set<BlobCodec> = [.stored]
        if recode {
            out.insert(.pcm16DeltaPlanes)
            if choice != .predictive { out.formUnion([.pcm16Predictive, .zstd]) }
            if choice != .lpc { out.insert(.audioLPC) }
        }
        return Set(out.map(\.rawValue))
    }

    /// Codes every blob stored as it is (`BlobCodec.stored`), pack by pack, each pack coded
    /// without the repository lock and swapped in under it; see the file's header. One repack
    /// runs at a time (`.dvs/repack.lock`): a second one (a push's, after a commit's background
    /// one) waits for the first, then finds what is left. Running it again does no harm.
    ///
    /// With `recode`, also codes again, as `pack.audio-codec` now says, the audio blobs written
    /// with a codec it does not write (``recodedCodecs(recode:choice:)``): after the setting
    /// changed, or to bring codec 1 up to date. Each such blob is read (verified) and its format
    /// compared with what the setting chooses (``AudioCodecChoice/intendedCodec(_:)``); those
    /// it would code otherwise are coded as a commit would code them now, and one that gets its
    /// old codec back all the same (a trial found the other does not pay) keeps its frame. A
    /// pack where no blob changes is not rewritten. O(the bytes of the packs holding candidate
    /// blobs — under `auto`, every pack holding audio): running it again reads them again.
    /// - Parameters:
    ///   - recode: code again the audio of other codecs too (above); default false.
    ///   - progress: reports `.repacking` per pack, with the raw bytes coded so far.
    ///   - lockTimeout: seconds each step waits for the lock (default ``lockTimeout``; the
    ///     background repack a commit starts waits an hour, as a long command may hold it).
    /// - Returns: what was done.
    /// - Throws: `DVSError` when a blob cannot be read (`.corrupt`, naming it and its pack; that
    ///   pack is left as it was), storage fails, or the lock is held past the timeout; the packs
    ///   done by then stay done.
    public func repack(recode: Bool = false, progress: ProgressHandler? = nil, lockTimeout: Double? = nil) throws -> RepackReport {
        var report = RepackReport()
        // One reading of the setting for the whole repack, shared with the encoder (a
        // `dvs config` meanwhile applies from the next repack).
        codecChoice.reset()
        let choice = codecChoice.value
        let codecs = Self.recodedCodecs(recode: recode, choice: choice)
        // Two repacks would both code every pending pack (the coding takes no lock) and one
        // would throw its work away: the second waits here for the first.
        let running: RepositoryLock
        let wait = context.lockWait.map { say in
            { (holder: String) in say("waiting for the repack already running (\(holder)) to finish (for up to 1 h)") }
        }
        do {
            running = try RepositoryLock(path: dvsDir + "/repack.lock", timeout: 3600, command: "dvs repack", onWait: wait)
        } catch {
            throw DVSError.wrap(error)
        }
        defer { running.release() }
        let pending: [(pack: PackID, rawBytes: UInt64)]
        do { pending = try recode ? catalog.packsHolding(codecs: codecs) : catalog.packsHoldingStoredBlobs() } catch {
            throw DVSError.wrap(error)
        }
        let totalBytes = pending.reduce(0) { $0 + $1.rawBytes }
        do {
            let lock = try self.lock("dvs repack", timeout: lockTimeout)
            defer { lock.release() }
            report.leftoversDeleted = try deleteRepackLeftovers()
        }
        for (i, p) in pending.enumerated() {
            progress?(Progress(phase: .repacking, done: i, total: pending.count, bytes: report.rawBytes, totalBytes: totalBytes))
            // Another repack may have rewritten it by now.
            guard try stillPending(p.pack, codecs) else { continue }
            try rewrite(pack: p.pack, codecs: codecs, choice: choice, into: &report, lockTimeout: lockTimeout)
        }
        if !pending.isEmpty {
            progress?(
                Progress(phase: .repacking, done: pending.count, total: pending.count, bytes: report.rawBytes, totalBytes: totalBytes))
        }
        return report
    }

    /// Lets a writer waiting for the lock take it first: waits (up to 10 s, in steps of 20 ms)
    /// while one is waiting. It then holds the lock, and this process waits for it as any other.
    private func yieldToWaitingWriters() {
        for _ in 0..<500 where RepositoryLock.othersAreWaiting(path: lockPath) { usleep(20_000) }
    }

    /// Whether the catalog still locates blobs of `codecs` in `pack`.
    private func stillPending(_ pack: PackID, _ codecs: Set<UInt8>) throws -> Bool {
        do {
            return try codecs == [BlobCodec.stored.rawValue]
                ? catalog.holdsStoredBlobs(pack: pack) : catalog.holdsBlobs(pack: pack, codecs: codecs)
        } catch { throw DVSError.wrap(error) }
    }

    /// Rewrites pack `pack` with its stored blobs coded and, when `codecs` holds more than the
    /// stored codec (`--recode`), its blobs of those codecs whose layout the setting now gives
    /// another codec; a pack with none of either is left as it is. The coding runs without the
    /// lock (a pack never changes; it is read as any reader reads it) into a pack file under
    /// `.dvs/tmp`; only the swap takes the lock: the new pack is finished (fsynced, moved into
    /// `packs/`) and swapped in when the old one still holds blobs of `codecs`, else dropped (another
    /// repack, gc, purge or fetch replaced it meanwhile). So the lock is held for an fsync and a catalog
    /// transaction, however long the coding takes.
    private func rewrite(
        pack: PackID, codecs: Set<UInt8>, choice: AudioCodecChoice, into report: inout RepackReport, lockTimeout: Double?
    ) throws {
        let path = packsDir + "/" + pack.hex + ".pack"
        let reader: PackReader
        let index: [PackEntry]
        do {
            reader = try PackReader(path: path)
            index = try reader.readIndex().sorted { $0.offset < $1.offset }
        } catch {
            if try !stillPending(pack, codecs) { return }
            throw DVSError(
                .corrupt, "cannot read pack '\(pack.hex)' to code its audio: \(DVSError.wrap(error).message); it was left as it is",
                next: .runFsck)
        }
        let store = packedBlobs
        let level = zstdLevel
        let coders = (0..<max(1, workers)).map { _ in ZstdCoders(level: level) }
        // With --recode, first the blobs whose codec the setting would change: each coded blob
        // is read (verified) and its layout compared with the setting (`intendedCodec`), so that
        // a pack where none would change — labels beside audio already coded so — is read but
        // never written again.
        var toRecode = Set<ObjectID>()
        if codecs != [BlobCodec.stored.rawValue] {
            let found = Locked(Set<ObjectID>())
            do {
                try parallelFor(index.count, workers: workers) { worker, i in
                    let e = index[i]
                    guard e.codec != .stored, codecs.contains(e.codec.rawValue) else { return }
                    let bytes = try self.readForRepack(e, pack: pack, codecs: codecs, decompressor: coders[worker].decompressor)
                    if choice.intendedCodec(.file(bytes)) != e.codec { found.withLock { _ = $0.insert(e.id) } }
                }
            } catch is PackReplaced { return }
            toRecode = found.withLock { $0 }
            if toRecode.isEmpty && !index.contains(where: { $0.codec == .stored }) { return }
        }
        let recoded = toRecode
        // One new pack per old one, whatever its size: a pack finished early would enter
        // `packs/` without the lock.
        let writer = PackWriter(packsDir: packsDir, tmpDir: tmpDir, targetSize: UInt64.max)
        let coded = Locked((blobs: 0, rawBytes: UInt64(0)))
        let made: [FinishedPack]
        do {
            try parallelFor(index.count, workers: workers) { worker, i in
                let e = index[i]
                guard e.codec == .stored || recoded.contains(e.id) else {
                    let frame = try reader.read(offset: e.offset, length: e.storedLength)
                    try writer.append(id: e.id, codec: e.codec, rawLength: e.rawLength, frame: frame)
                    return
                }
                let bytes = try self.readForRepack(e, pack: pack, codecs: codecs, decompressor: coders[worker].decompressor)
                let (codec, frame) = try bytes.withUnsafeBytes {
                    try store.encode($0, id: e.id, hint: .file(bytes), coders: coders[worker])
                }
                if codec == e.codec {
                    // Recoded to what it was (not audio, or codec 4's trial did not pay): its
                    // frame stays as it was.
                    let old = try reader.read(offset: e.offset, length: e.storedLength)
                    try writer.append(id: e.id, codec: e.codec, rawLength: e.rawLength, frame: old)
                    return
                }
                try writer.append(id: e.id, codec: codec, rawLength: e.rawLength, frame: frame)
                coded.withLock {
                    $0.blobs += 1
                    $0.rawBytes += e.rawLength
                }
            }
            // Nothing changed (every blob recoded to its own codec): the same pack again, under
            // the same id, which the swap would delete. Left as it is.
            if coded.withLock({ $0.blobs }) == 0 {
                writer.abort()
                return
            }
            yieldToWaitingWriters()
            let lock = try self.lock("dvs repack", timeout: lockTimeout)
            defer { lock.release() }
            guard try stillPending(pack, codecs) else {
                writer.abort()
                return
            }
            do {
                made = try writer.finish()
                try catalog.write { tx in
                    try tx.removePacks([pack])
                    for p in made { try tx.insertPack(id: PackID(p.id), byteCount: p.byteCount, entries: p.entries) }
                }
            } catch {
                // Still under the lock: the finished new pack goes before anyone could index it.
                writer.abort()
                throw error
            }
            packedBlobs.forgetReaders()
            report.bytesBefore += UInt64((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            unlink(path)
            FileIO.syncDirectory(packsDir)
        } catch is PackReplaced {
            writer.abort()
            return
        } catch {
            writer.abort()
            throw DVSError.wrap(error)
        }
        report.packs += 1
        report.bytesAfter += made.reduce(0) { $0 + $1.byteCount }
        let c = coded.withLock { $0 }
        report.blobs += c.blobs
        report.rawBytes += c.rawBytes
    }

    /// Blob `e` of `pack`, read and verified for coding again.
    /// - Throws: ``PackReplaced`` when a purge or gc rewrote the pack meanwhile (nothing left to
    ///   do there); `DVSError.corrupt` naming the blob and pack when it cannot be read.
    private func readForRepack(_ e: PackEntry, pack: PackID, codecs: Set<UInt8>, decompressor: ZstdDecompressor) throws -> [UInt8] {
        do {
            return try packedBlobs.read(e.id, at: BlobLocation(pack: pack, entry: e), decompressor: decompressor)
        } catch {
            if !((try? self.stillPending(pack, codecs)) ?? true) { throw PackReplaced() }
            throw DVSError(
                .corrupt,
                "cannot code blob '\(e.id.hex)' of pack '\(pack.hex)': \(DVSError.wrap(error).message); the pack was left as it is",
                next: .runFsck)
        }
    }

    /// Deletes the pack files an interrupted repack left: unknown to the catalog, every blob in
    /// them indexed in a pack the catalog knows, whose file is there and from which the blob
    /// reads back verified. A pack a commit left (its blobs indexed nowhere) is kept, for
    /// `dvs reindex`. The caller holds the lock.
    /// - Returns: files deleted.
    func deleteRepackLeftovers() throws -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: packsDir)) ?? []
        let known: Set<PackID>
        do { known = Set(try catalog.packIDs()) } catch { throw DVSError.wrap(error) }
        var deleted = 0
        for n in names where n.hasSuffix(".pack") {
            guard let pid = PackID(hex: n.dropLast(5)), !known.contains(pid) else { continue }
            let path = packsDir + "/" + n
            guard let entries = try? PackReader(path: path).readIndex() else { continue }
            var present: [PackID: Bool] = [:]
            let covered = entries.allSatisfy { e in
                guard let loc = try? catalog.location(of: e.id), loc.pack != pid, known.contains(loc.pack) else { return false }
                let p = present[loc.pack] ?? FileIO.exists(packsDir + "/" + loc.pack.hex + ".pack")
                present[loc.pack] = p
                // The indexed copy must read back, verified: a pack's checksum covers its index,
                // not its frames, and a rotted frame must not take the good copy with it.
                return p && (try? packedBlobs.read(e.id, at: loc, decompressor: nil)) != nil
            }
            if covered && !entries.isEmpty {
                unlink(path)
                deleted += 1
            }
        }
        if deleted > 0 { FileIO.syncDirectory(packsDir) }
        return deleted
    }
}

/// Thrown inside a repack's coding when the pack it codes was rewritten meanwhile (a purge or
/// gc): the pack is skipped.
private struct PackReplaced: Error {}
