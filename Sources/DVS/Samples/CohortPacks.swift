import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

// Cohort packs: a cohort's frames laid out together.
//
// A cohort cut by a predicate is spread over every pack of its source: a 10 % cohort has about
// nine foreign frames between two of its own. A reader that has the packs locally does not care.
// A reader of a remote does: a partial clone or `stream --remote` then needs about one ranged GET
// per sample, because S3 serves one range per request and merging the gaps would read ten times
// the bytes. `cohort create --pack` (and `cohort pack NAME`, after a `cohort refresh`) therefore also copies the
// frames the cohort's snapshot names into packs of their own, in the snapshot's order, frames as
// stored (nothing is decoded or compressed again) and with any delta base they need. Those packs
// are pushed like any other; a remote reader picks, for each frame it needs, the pack holding the
// most of the frames it needs, so a cohort laid out this way is read in a few long ranges.
//
// The copies cost the cohort's stored size once more. `.dvs/cohort-packs` lists each such pack
// with the branch it serves ("<pack hex> <ref name>" per line, written under the repository lock
// before the catalog records the pack: a listed pack that never gets recorded is harmless).
// Once the branch is deleted, `dvs gc` deletes the pack after the grace period when every frame
// in it is stored in another pack too or needed by nothing.

/// What `cohort create --pack` or `cohort pack` laid out.
public struct CohortPacking: Sendable, Equatable {
    /// Packs written.
    public var packs: Int
    /// Frames copied into them (the snapshot's blobs, and the delta bases they need).
    public var blobs: Int
    /// Bytes of the packs written.
    public var bytes: UInt64
}

extension Repository {
    /// `.dvs/cohort-packs`: "<pack hex> <ref name>" per line.
    var cohortPacksPath: String { dvsDir + "/cohort-packs" }

    /// The packs listed in `.dvs/cohort-packs`, with the ref each serves.
    func cohortPacks() -> [(pack: PackID, ref: String)] {
        guard let text = try? String(contentsOfFile: cohortPacksPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let id = ObjectID(hex: parts[0]) else { return nil }
            return (PackID(id), String(parts[1]))
        }
    }

    /// Rewrites `.dvs/cohort-packs` as `list`. The caller holds the repository lock.
    func writeCohortPacks(_ list: [(pack: PackID, ref: String)]) throws {
        let text = list.map { "\($0.pack.hex) \($0.ref)\n" }.joined()
        do { try FileIO.writeAtomically(Array(text.utf8), to: cohortPacksPath, tmpDir: tmpDir) } catch { throw DVSError.wrap(error) }
    }

    /// Copies the frames of the blobs `commit`'s snapshot names, less those in `excluding`,
    /// into new pack files in the snapshot's order (frames as stored, plus the delta bases they
    /// need), and lists them in `.dvs/cohort-packs` for `ref`. The packs are not recorded in the
    /// catalog: the caller records them in the transaction that moves `ref`. The caller holds the
    /// repository lock. In a partial clone, frames not stored here are downloaded first.
    /// - Parameters:
    ///   - fresh: packs written for `commit` and not yet recorded (the cut's label tables).
    /// - Returns: the packs written (none when every blob is excluded) and what they hold.
    /// - Throws: `DVSError.corrupt` when a blob the snapshot names is stored nowhere or a frame
    ///   cannot be read; `.remote` as ``ensureBlobs(of:progress:)``; `.io`.
    /// - Complexity: one pass over the snapshot's entries, one blob-index lookup and one frame
    ///   read per blob copied.
    func writeCohortPacks(
        for commit: CommitID, excluding skip: Set<ObjectID>, fresh: [FinishedPack], ref: RefName, progress: ProgressHandler? = nil
    ) throws -> (packs: [FinishedPack], summary: CohortPacking) {
        var order: [ObjectID] = []
        var seen = skip  // a delta base the cohort's earlier packs hold is not copied again
        for e in try entries(ofManifest: snapshots.commit(commit).manifest) where e.kind != .symlink {
            if !skip.contains(e.blob), seen.insert(e.blob).inserted { order.append(e.blob) }
        }
        guard !order.isEmpty else { return ([], CohortPacking(packs: 0, blobs: 0, bytes: 0)) }
        var freshAt: [ObjectID: (pack: ObjectID, entry: PackEntry)] = [:]
        for p in fresh { for e in p.entries { freshAt[e.id] = (p.id, e) } }
        if partialRemote() != nil {
            let missing = Set(order.filter { freshAt[$0] == nil })
            if let name = partialRemote() { _ = try ensureBlobs(missing, remote: name, progress: progress) }
        }
        var readers: [ObjectID: PackReader] = [:]
        func frame(of id: ObjectID) throws -> (entry: PackEntry, bytes: [UInt8]) {
            let at: (pack: ObjectID, entry: PackEntry)
            if let f = freshAt[id] {
                at = f
            } else if let loc = try catalog.location(of: id) {
                at = (loc.pack.object, loc.entry)
            } else {
                throw DVSError(
                    .corrupt, "blob '\(id.hex)' of commit \(commit.short) is stored in no pack here, so the cohort cannot be packed",
                    next: .runFsck)
            }
            let reader: PackReader
            if let r = readers[at.pack] {
                reader = r
            } else {
                reader = try PackReader(path: "\(packsDir)/\(at.pack.hex).pack")
                readers[at.pack] = reader
            }
            return (at.entry, try reader.read(offset: at.entry.offset, length: at.entry.storedLength))
        }
        let writer = PackWriter(packsDir: packsDir, tmpDir: tmpDir, targetSize: Self.packTargetSize(catalog))
        var copied = 0
        do {
            var queue = order
            var i = 0
            while i < queue.count {
                let id = queue[i]
                i += 1
                if i % 256 == 0 { progress?(Progress(phase: .repacking, done: i, total: queue.count, bytes: writer.storedBytes)) }
                guard !writer.contains(id) else { continue }
                let (entry, bytes) = try frame(of: id)
                // A delta frame begins with its base's id: the base travels with it.
                if entry.codec == .zstdDelta, bytes.count >= 32 {
                    let base = ObjectID(bytes: bytes[0..<32])
                    if seen.insert(base).inserted { queue.append(base) }
                }
                if entry.codec == .stored {
                    // Audio a commit has not coded yet (`dvs repack`) is coded here, as it would
                    // be there: a cohort's packs are what training jobs download.
                    guard ObjectID.hashing(bytes) == id else {
                        throw DVSError(
                            .corrupt, "blob '\(id.hex)' of commit \(commit.short) does not match its id, so the cohort cannot be packed",
                            next: .runFsck)
                    }
                    let (codec, coded) = try bytes.withUnsafeBytes {
                        try packedBlobs.encode($0, id: id, hint: .file(bytes), coders: ZstdCoders(level: zstdLevel))
                    }
                    if try writer.append(id: id, codec: codec, rawLength: entry.rawLength, frame: coded) { copied += 1 }
                    continue
                }
                if try writer.append(id: id, codec: entry.codec, rawLength: entry.rawLength, frame: bytes) { copied += 1 }
            }
            let packs = try writer.finish()
            // A pack byte for byte like one recorded already (another cohort's with the same
            // rows, or the one a partial clone downloaded) is listed for this cohort too: it
            // serves it, and gc keeps a listed pack while any cohort listing it lives (a pack that
            // is its frames' only copy is never deleted for being listed).
            var list = cohortPacks()
            let listed = Set(list.map { "\($0.pack.hex) \($0.ref)" })
            list.append(
                contentsOf: packs.map { (PackID($0.id), ref.fullName) }.filter { !listed.contains("\($0.0.hex) \($0.1)") })
            try writeCohortPacks(list)
            return (
                packs, CohortPacking(packs: packs.count, blobs: copied, bytes: packs.reduce(0) { $0 + $1.byteCount })
            )
        } catch {
            writer.abort()
            throw DVSError.wrap(error)
        }
    }

    /// Lays out cohort `name` at its branch's head: copies into packs of their own the frames
    /// its snapshot names that no pack already listed for it holds (all of them the first time;
    /// after `cohort refresh`, what the refresh brought in). Takes the repository lock.
    /// Running it again when nothing is missing writes nothing.
    /// - Returns: what was packed (zero packs when nothing was missing).
    /// - Throws: `DVSError.unknownRevision` for an unknown cohort; as
    ///   ``createCohort(_:predicate:from:pack:progress:)``.
    public func packCohort(_ name: String, progress: ProgressHandler? = nil) throws -> CohortPacking {
        let name = cohortName(name)
        let lock = try self.lock("dvs cohort pack \(name)")
        defer { lock.release() }
        let info = try cohort(name)
        let ref = RefName.cohort(name)
        var have = Set<ObjectID>()
        let known: Set<PackID>
        do { known = Set(try catalog.packIDs()) } catch { throw DVSError.wrap(error) }
        for p in cohortPacks() where p.ref == ref.fullName && known.contains(p.pack) {
            guard let index = try? PackReader(path: "\(packsDir)/\(p.pack.hex).pack").readIndex() else { continue }
            for e in index { have.insert(e.id) }
        }
        let laid = try writeCohortPacks(for: info.head, excluding: have, fresh: [], ref: ref, progress: progress)
        do { try catalog.write { tx in try recordComposed(laid.packs, in: tx) } } catch { throw DVSError.wrap(error) }
        return laid.summary
    }
}
