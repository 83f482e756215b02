import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// What `Repository.reindex()` found.
public struct ReindexReport: Sendable, Codable {
    /// Packs read from `.dvs/packs` (indexed, or deleted as a repack's leftovers).
    public var packCount: Int
    /// Packs indexed that were not in the catalog before (left by an interrupted commit, or
    /// copied in).
    public var newPackCount: Int
    /// Packs deleted as duplicates a killed writer left — the pack a repack killed between its
    /// swap and its delete had replaced, or the first pack of a commit killed after renaming it
    /// in and run again: every blob in them reads back, verified, from a pack that was indexed
    /// (``Repository/dropDuplicatePacks(_:)``). Cohort packs and a partial clone's downloads,
    /// copies by design, are kept; so are damaged packs.
    public var repackLeftoversDeleted: Int = 0
    /// Blobs indexed.
    public var blobCount: Int
    /// Commit objects indexed.
    public var commitCount: Int
    /// Packs skipped because their header, trailer or id is damaged.
    public var damagedPacks: [String]
    /// Blobs whose frame in the pack indexed for them did not read back while a duplicate
    /// pack's did: `<blob hex> in pack <hex>: indexed from pack <hex>` (the duplicate is kept).
    public var rescuedBlobs: [String] = []
    /// Where the catalog that could not be used was moved (`.dvs/catalog.sqlite.damaged`), when
    /// reindex replaced it with a new one; nil when the catalog was kept.
    public var replacedCatalog: String? = nil
    /// Refs (branches, tags, remote-tracking refs; HEAD not counted) restored from `.dvs/reflog`;
    /// 0 when the catalog's own were kept.
    public var restoredRefs: Int = 0
    /// Reflog entries restored from `.dvs/reflog`.
    public var restoredReflogEntries: Int = 0
    /// Branches made for commits no ref or reflog reached, when nothing else named any history
    /// (a lost catalog and no `.dvs/reflog`): `recovered-<short id>`.
    public var recoveredBranches: [String] = []
    /// Commits with no child that no ref or reflog entry reaches (hex), newest first.
    public var unreferencedHeads: [String] = []
    /// Settings kept from the replaced catalog.
    public var keptSettings: Int = 0
    /// Settings restored from `.dvs/config` that the replaced catalog could not give (all of
    /// them when it was missing or unreadable).
    public var restoredSettings: Int = 0
}

/// What replacing an unusable catalog did, before the indexes are rebuilt.
private struct CatalogReplacement {
    var movedTo: String
    var restoredRefs: Int
    var restoredReflogEntries: Int
    var keptSettings: Int
    var restoredSettings: Int
}

extension Repository {
    /// `dvs reindex` from `directory`: opens the repository, and when its catalog cannot be used
    /// (missing, empty, not a dvs catalog, unreadable, or — with `.dvs/reflog` to restore the refs
    /// from — failing SQLite's integrity check) moves it aside to
    /// `.dvs/catalog.sqlite.damaged` and makes a new one: settings that can still be read are
    /// kept, and the others `.dvs/config` holds restored; refs, HEAD and the reflog are restored
    /// from `.dvs/reflog`; then ``reindex()``.
    /// - Throws: `DVSError.notARepository`, `.locked`, `.io`; what ``reindex()`` throws.
    public static func reindex(from directory: String?, context: ProcessContext) throws -> ReindexReport {
        let root = try findRoot(from: directory, context: context)
        let dvs = root + "/" + folderName
        let refLogPath = dvs + "/reflog"
        let hasRefLog = FileIO.exists(refLogPath)
        var usable: Repository?
        do {
            let repo = try Repository.opening(root: root, context: context)
            // Malformed refs in a sound file are restored in place (``reindex()``).
            let sound = (try? repo.catalog.integrityProblems().isEmpty) == true
            if sound || !hasRefLog { usable = repo }
        } catch let e as DVSError {
            // Only a file that is damaged or not a catalog is replaced: a busy, unreadable
            // (permissions) or newer catalog is left alone and the error stands.
            guard let c = e.underlying as? CatalogError, c.code == .corrupt || c.code == .notACatalog else { throw e }
        }
        if let usable {
            return try usable.reindex(replacement: nil)
        }
        let replacement = try replaceCatalog(in: dvs, refLogPath: refLogPath, context: context)
        return try Repository.opening(root: root, context: context).reindex(replacement: replacement)
    }

    /// Moves the catalog at `dvs/catalog.sqlite` aside and creates a new one holding the settings
    /// still readable from the old one and the refs and reflog of `.dvs/reflog`, under the lock.
    private static func replaceCatalog(in dvs: String, refLogPath: String, context: ProcessContext) throws -> CatalogReplacement {
        let timeout = context.environment["DVS_LOCK_TIMEOUT"].flatMap(Double.init) ?? 30
        let lock: RepositoryLock
        do { lock = try RepositoryLock(path: dvs + "/lock", timeout: timeout, command: "dvs reindex") } catch {
            throw DVSError.wrap(error)
        }
        defer { lock.release() }
        do {
            let path = dvs + "/catalog.sqlite"
            var aside = path + ".damaged"
            var n = 1
            while FileIO.exists(aside) {
                n += 1
                aside = path + ".damaged-\(n)"
            }
            if FileIO.exists(path) {
                guard rename(path, aside) == 0 else { throw StorageError.posix("cannot move aside", path: path) }
            } else {
                aside = ""
            }
            for suffix in ["-wal", "-shm"] where FileIO.exists(path + suffix) {
                if aside.isEmpty { unlink(path + suffix) } else { rename(path + suffix, aside + suffix) }
            }
            // What the old file still gives, then what `.dvs/config` adds: a lost catalog's
            // settings (codec, remotes, auto-repack) come back instead of their defaults.
            let salvaged = aside.isEmpty ? [] : Catalog.salvageConfig(from: aside)
            let have = Set(salvaged.map(\.0))
            // core.format is set either way: not counted as restored.
            let copied = SettingsFile(besideCatalog: path).read().filter { !have.contains($0.0) && $0.0 != "core.format" }
            let settings = salvaged + copied
            let contents = try Catalog.refLog(at: refLogPath)
            let length = Self.wholeLinesLength(refLogPath)
            let catalog = try Catalog.create(at: path)
            try catalog.write { tx in
                for (k, v) in settings { try tx.setConfig(k, v) }
                if !settings.contains(where: { $0.0 == "core.format" }) { try tx.setConfig("core.format", "1") }
                if let contents { try tx.restoreRefs(from: contents, coveringLength: length) }
            }
            FileIO.syncDirectory(dvs)
            return CatalogReplacement(
                movedTo: aside.isEmpty ? "" : ".dvs/" + (aside as NSString).lastPathComponent,
                restoredRefs: contents?.refs.count ?? 0, restoredReflogEntries: contents?.lines.filter(\.isMove).count ?? 0,
                keptSettings: salvaged.count, restoredSettings: copied.count)
        } catch { throw DVSError.wrap(error) }
    }

    /// Rebuilds the derived parts of the catalog — the pack and blob index, the commit list and the
    /// model and eval index —
    /// from `.dvs/packs` and `.dvs/objects` (Fossil's "rebuild"). Refs, the reflog, the stat cache
    /// and settings are kept: they are the catalog's own truth (and `.dvs/reflog` holds a copy of
    /// the refs and reflog, made to agree with the catalog here). Refs the catalog holds
    /// malformed are restored from `.dvs/reflog`.
    ///
    /// Idempotent. Takes the repository lock.
    /// - Throws: `DVSError.locked`, `.io`.
    /// - Complexity: reads every pack index and every metadata object.
    public func reindex() throws -> ReindexReport { try reindex(replacement: nil) }

    private func reindex(replacement: CatalogReplacement?) throws -> ReindexReport {
        let lock = try self.lock("dvs reindex")
        defer { lock.release() }
        do {
            let known = Set(try catalog.packIDs())
            let files = (try? FileManager.default.contentsOfDirectory(atPath: packsDir)) ?? []
            var packs: [(PackID, UInt64, [PackEntry])] = []
            var damaged: [String] = []
            for name in files.sorted() where name.hasSuffix(".pack") {
                guard let id = PackID(hex: name.dropLast(5)) else { continue }
                do {
                    let reader = try PackReader(path: "\(packsDir)/\(name)")
                    if let problem = try reader.verifyChecksum(expected: id.object) {
                        damaged.append("\(id.hex): \(problem)")
                        continue
                    }
                    let entries = try reader.readIndex()
                    let size =
                        (try FileManager.default.attributesOfItem(atPath: "\(packsDir)/\(name)")[.size] as? NSNumber)?.uint64Value ?? 0
                    packs.append((id, size, entries))
                } catch {
                    damaged.append("\(id.hex): \(DVSError.wrap(error).message)")
                }
            }
            var commits: [(CommitID, Commit)] = []
            var records: [(ObjectID, [UInt8])] = []
            for id in try objects.allIDs() {
                guard let bytes = try? objects.read(id) else { continue }
                if LineageEncoding.kind(of: bytes) != nil {
                    records.append((id, bytes))
                    continue
                }
                guard bytes.starts(with: Array("dvs-commit ".utf8)), let c = try? Commit.decode(bytes) else { continue }
                commits.append((CommitID(id), c))
            }
            // Refs the catalog holds malformed, with a file to restore them from.
            var restored = (replacement?.restoredRefs ?? 0, replacement?.restoredReflogEntries ?? 0)
            if replacement == nil, try !catalog.refProblems().isEmpty {
                let covered = try catalog.refLogCoveredLength()
                if let contents = try catalog.refLogContents(committedOnly: covered != nil) {
                    let length = covered ?? Self.wholeLinesLength(catalog.refLogPath)
                    try catalog.write { tx in try tx.restoreRefs(from: contents, coveringLength: length) }
                    restored = (contents.refs.count, contents.lines.filter(\.isMove).count)
                }
            }
            // Heads: commits no other commit names as a parent.
            let parents = Set(commits.flatMap(\.1.parents))
            var reached = Set<CommitID>()
            var stack = try catalog.refs(in: .all).map(\.target) + catalog.reflogCommits() + [try catalog.head()?.commit].compactMap { $0 }
            let byID = Dictionary(commits, uniquingKeysWith: { a, _ in a })
            while let c = stack.popLast() {
                guard reached.insert(c).inserted, let commit = byID[c] else { continue }
                stack.append(contentsOf: commit.parents)
            }
            let lost = commits.filter { !parents.contains($0.0) && !reached.contains($0.0) }
                .sorted { ($0.1.committer.time, $0.0.hex) > ($1.1.committer.time, $1.0.hex) }
            var recovered: [String] = []
            let nothingNamed = try catalog.refs(in: .all).isEmpty && catalog.head()?.commit == nil
            // A pack whose every blob an earlier pack holds is a duplicate some writer left: a
            // repack killed after its swap leaves the pack it replaced (codec `stored`) beside the
            // coded one; a commit killed after its pack was renamed in, run again, leaves two packs
            // of the same blobs. Coded packs come first (a blob's coded copy is the one indexed),
            // then packs the catalog knew, and a pack every blob of which is indexed already is
            // left out: deleted below once each of its blobs reads back, verified, from the pack
            // indexed for it (a pack's checksum covers its index, not its frames). Packs that are
            // copies by design stay and come last: a cohort's (`.dvs/cohort-packs`) and a partial
            // clone's downloads (`.dvs/partial-packs`).
            let byDesign = Set(cohortPacks().map(\.pack)).union(partialPackIDs())
            let ordered = packs.map { p in (p, stored: p.2.contains { $0.codec == .stored }, copy: byDesign.contains(p.0)) }
                .sorted {
                    ($0.copy ? 1 : 0, $0.stored ? 1 : 0, known.contains($0.0.0) ? 0 : 1, $0.0.0.hex)
                        < ($1.copy ? 1 : 0, $1.stored ? 1 : 0, known.contains($1.0.0) ? 0 : 1, $1.0.0.hex)
                }
            var indexedBlobs = Set<ObjectID>()
            var indexed: [(PackID, UInt64, [PackEntry])] = []
            var duplicates: [(PackID, UInt64, [PackEntry])] = []
            for (p, _, copy) in ordered {
                if !copy, !p.2.isEmpty, p.2.allSatisfy({ indexedBlobs.contains($0.id) }) {
                    duplicates.append(p)
                    continue
                }
                indexedBlobs.formUnion(p.2.map(\.id))
                indexed.append(p)
            }
            try catalog.write { tx in
                try tx.clearBlobIndex()
                for (id, size, rows) in indexed { try tx.insertPack(id: id, byteCount: size, entries: rows) }
                try tx.insertCommits(commits)
                // Lineage records (migration 0003) are derived from their objects too.
                try tx.clearLineageIndex()
                for (id, bytes) in records { try? indexRecord(id, bytes, in: tx) }
                // Nothing names any history (a lost catalog, no .dvs/reflog): a branch for each head.
                if nothingNamed {
                    for (id, _) in lost {
                        let name = "recovered-\(id.short)"
                        try tx.moveRefs(
                            [RefUpdate(name: .branch(name), expected: nil, new: id, message: "reindex: recovered head")], who: identity)
                        recovered.append(name)
                    }
                    if let first = recovered.first, try tx.head() == nil || tx.head()?.commit == nil {
                        try tx.setHead(.branch(first, lost[0].0), who: identity, message: "reindex: recovered head")
                    }
                }
                tx.checkRefLog()
            }
            var report = ReindexReport(
                packCount: packs.count, newPackCount: indexed.filter { !known.contains($0.0) }.count,
                blobCount: indexed.reduce(0) { $0 + $1.2.count }, commitCount: commits.count, damagedPacks: damaged)
            report.replacedCatalog = replacement?.movedTo
            (report.repackLeftoversDeleted, report.rescuedBlobs) = try dropDuplicatePacks(duplicates)
            (report.restoredRefs, report.restoredReflogEntries) = restored
            report.keptSettings = replacement?.keptSettings ?? 0
            report.restoredSettings = replacement?.restoredSettings ?? 0
            report.recoveredBranches = recovered
            try? catalog.writeSettingsCopy()  // .dvs/config made whole again from the catalog
            report.unreferencedHeads = nothingNamed ? [] : lost.map(\.0.hex)
            return report
        } catch { throw DVSError.wrap(error) }
    }
}

extension Repository {
    /// Deletes each of `duplicates` (packs reindex left out: every blob in them is indexed in
    /// another pack) once every blob in it reads back, verified, from the pack indexed for it. A
    /// blob that does not, but reads back from the duplicate, is indexed there instead, and the
    /// duplicate stays (a rotted frame in the kept pack must not take the good copy with it). The
    /// caller holds the lock and has written the index.
    /// - Returns: packs deleted; the blobs indexed from a duplicate, as
    ///   ``ReindexReport/rescuedBlobs`` words them.
    /// - Throws: `DVSError` when the catalog cannot be written.
    /// - Complexity: reads every blob of the duplicates once (twice for one that fails).
    func dropDuplicatePacks(_ duplicates: [(PackID, UInt64, [PackEntry])]) throws -> (deleted: Int, rescued: [String]) {
        packedBlobs.forgetReaders()
        var deleted = 0
        var rescuedLines: [String] = []
        for (pack, size, entries) in duplicates {
            let failing = entries.filter { (try? packedBlobs.read($0.id, at: nil, decompressor: nil)) == nil }
            if failing.isEmpty {
                unlink(packsDir + "/\(pack.hex).pack")
                deleted += 1
                continue
            }
            let rescued = failing.filter {
                (try? packedBlobs.read($0.id, at: BlobLocation(pack: pack, entry: $0), decompressor: nil)) != nil
            }
            for e in rescued {
                let from = (try? catalog.location(of: e.id))??.pack.hex ?? "?"
                rescuedLines.append("\(e.id.hex) in pack \(from): indexed from pack \(pack.hex)")
            }
            do {
                try catalog.write { tx in
                    try tx.insertPack(id: pack, byteCount: size, entries: entries)
                    try tx.relocateBlobs(rescued, to: pack)
                }
            } catch { throw DVSError.wrap(error) }
            packedBlobs.forgetReaders()
        }
        if deleted > 0 { FileIO.syncDirectory(packsDir) }
        return (deleted, rescuedLines)
    }

    /// The length of the reflog file up to the end of its last whole line: a line a killed
    /// writer left without its line feed is not covered, so the next append cuts it off rather
    /// than gluing a new line onto it. 0 when the file cannot be read.
    static func wholeLinesLength(_ path: String) -> Int64 {
        guard let bytes = try? FileIO.read(path), let last = bytes.lastIndex(of: 0x0A) else { return 0 }
        return Int64(last + 1)
    }
}
