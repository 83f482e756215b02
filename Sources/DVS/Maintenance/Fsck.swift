import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// One damaged or missing object found by `fsck`.
public struct DamagedObject: Sendable, Codable, Equatable {
    /// Object id (hex).
    public var id: String
    /// `blob`, `commit`, `manifest`, `object`, `pack`, `catalog` (then `id` is `.dvs/catalog.sqlite`),
    /// `ref` (then `id` is the ref's full name) or `reflog` (then `id` is `.dvs/reflog`).
    public var kind: String
    /// The pack that holds it, for blobs.
    public var pack: String?
    /// What is wrong.
    public var reason: String
    /// Where it is used: `commit-id:path` for blobs, commit ids for manifests.
    public var usedBy: [String]
}

/// The result of `Repository.fsck()`.
public struct FsckReport: Sendable, Codable {
    /// Damaged or missing objects; empty when the repository is intact.
    public var damaged: [DamagedObject]
    /// Notes that are not damage (unreferenced packs left by an interrupted commit or repack).
    public var notes: [String]
    /// Packs read.
    public var packCount: Int
    /// Blob frames decoded and hashed.
    public var blobCount: Int
    /// Metadata objects read and hashed.
    public var objectCount: Int
    /// Commits reachable from refs and reflogs.
    public var commitCount: Int
    /// Whether nothing is damaged.
    public var isClean: Bool { damaged.isEmpty }
}

extension Repository {
    /// Verifies every pack frame and metadata object against its SHA-256, and that every commit
    /// reachable from a ref or reflog has all its objects (in a partial clone, blobs not yet
    /// downloaded are a note, not damage).
    ///
    /// Reads everything: O(repository size). Takes no lock.
    /// - Returns: each damaged object with the paths and commits that use it.
    public func fsck(progress: ProgressHandler? = nil) throws -> FsckReport {
        do { return try runFsck(progress: progress) } catch { throw DVSError.wrap(error) }
    }

    private func runFsck(progress: ProgressHandler?) throws -> FsckReport {
        var damaged: [String: DamagedObject] = [:]
        var notes: [String] = []
        // The catalog first: SQLite's own check of the file (b-trees, indexes), which a read of
        // single rows does not notice.
        let catalogFile = ".dvs/catalog.sqlite"
        do {
            let problems = try catalog.integrityProblems()
            if !problems.isEmpty {
                damaged[catalogFile] = DamagedObject(
                    id: catalogFile, kind: "catalog", pack: nil,
                    reason: "SQLite's integrity check failed: " + problems.prefix(5).joined(separator: "; "), usedBy: [])
            }
        } catch {
            damaged[catalogFile] = DamagedObject(
                id: catalogFile, kind: "catalog", pack: nil, reason: DVSError.wrap(error).message, usedBy: [])
        }
        let known = try blobs.locations()
        let catalogPacks = Set(try catalog.packIDs())
        let files = (try? FileManager.default.contentsOfDirectory(atPath: packsDir)) ?? []
        let diskPacks = Set(files.compactMap { $0.hasSuffix(".pack") ? PackID(hex: $0.dropLast(5)) : nil })
        for p in diskPacks.subtracting(catalogPacks).sorted() {
            notes.append(
                "pack \(p.hex) is not in the catalog (left by an interrupted commit or repack); harmless: 'dvs repack' or 'dvs reindex' deletes it when other packs hold all its blobs, else 'dvs reindex' indexes it"
            )
        }
        // Blob frames, grouped by pack.
        var byPack: [PackID: [BlobLocation]] = [:]
        for (_, loc) in known { byPack[loc.pack, default: []].append(loc) }
        // A second copy of a blob (a cohort's packs, two downloads that raced) is not the
        // catalog's location: the pack's own index names it.
        for p in catalogPacks.intersection(diskPacks) {
            let index: [PackEntry]
            do { index = try packedBlobs.packReader(p).readIndex() } catch {
                damaged[p.hex] = DamagedObject(
                    id: p.hex, kind: "pack", pack: p.hex, reason: "its index cannot be read: \(DVSError.wrap(error).message)", usedBy: [])
                continue
            }
            for e in index where known[e.id]?.pack != p { byPack[p, default: []].append(BlobLocation(pack: p, entry: e)) }
        }
        let bad = Locked<[String: DamagedObject]>([:])
        let done = Locked<Int>(0)
        let total = byPack.values.reduce(0) { $0 + $1.count }
        for (pack, locs) in byPack.sorted(by: { $0.key < $1.key }) {
            guard diskPacks.contains(pack) else {
                for l in locs {
                    damaged[l.entry.id.hex] = DamagedObject(
                        id: l.entry.id.hex, kind: "blob", pack: pack.hex, reason: "pack file is missing", usedBy: [])
                }
                continue
            }
            if let reader = try? packedBlobs.packReader(pack), let problem = try? reader.verifyChecksum(expected: pack.object) {
                damaged[pack.hex] = DamagedObject(id: pack.hex, kind: "pack", pack: pack.hex, reason: problem, usedBy: [])
            }
            try parallelFor(locs.count, workers: workers) { _, i in
                let l = locs[i]
                do { _ = try self.blob(l.entry.id, location: l) } catch let e as DVSError {
                    bad.withLock {
                        $0[l.entry.id.hex] = DamagedObject(id: l.entry.id.hex, kind: "blob", pack: pack.hex, reason: e.message, usedBy: [])
                    }
                }
                let n = done.withLock {
                    $0 += 1
                    return $0
                }
                if n % 256 == 0 || n == total { progress?(Progress(phase: .verifyingBlobs, done: n, total: total, bytes: 0)) }
            }
        }
        damaged.merge(bad.withLock { $0 }) { a, _ in a }
        // Metadata objects.
        let ids = try objects.allIDs()
        let looseIDs = Set(ids)
        for id in ids {
            do { _ = try objects.read(id) } catch {
                damaged[id.hex] = DamagedObject(id: id.hex, kind: "object", pack: nil, reason: DVSError.wrap(error).message, usedBy: [])
            }
        }
        // Refs and the reflog: well formed, naming commits that exist, and as .dvs/reflog says.
        var starts = Set<CommitID>()
        for (key, d) in checkRefs(catalogFile: catalogFile, notes: &notes, starts: &starts) { damaged[key] = d }
        var seen = Set<CommitID>()
        var stack = Array(starts)
        var seenChunks = Set<ObjectID>()
        // A partial clone lacks the blobs of snapshots it has not checked out: not damage. Those
        // the remote's pack indexes cached by the last download do not list are noted apart.
        let partial = partialRemote()
        let onRemote = partial == nil ? nil : cachedRemoteBlobIDs()
        var notDownloaded = Set<ObjectID>()
        var unlisted = Set<ObjectID>()
        while let c = stack.popLast() {
            guard seen.insert(c).inserted else { continue }
            let commit: Commit
            do { commit = try Commit.decode(objects.read(c.object)) } catch {
                damaged[c.hex] = DamagedObject(id: c.hex, kind: "commit", pack: nil, reason: DVSError.wrap(error).message, usedBy: [])
                continue
            }
            stack.append(contentsOf: commit.parents)
            var chunkStack = [ChunkPlace(id: commit.manifest)]
            while let place = chunkStack.popLast() {
                let m = place.id
                let fresh = seenChunks.insert(m).inserted
                let chunk: ManifestChunk
                do {
                    chunk = try ManifestChunk.decode(objects.read(m))
                    if let problem = place.problem(with: chunk) { throw DVSError(.corrupt, problem) }
                } catch {
                    damaged[
                        m.hex,
                        default: DamagedObject(id: m.hex, kind: "manifest", pack: nil, reason: DVSError.wrap(error).message, usedBy: [])
                    ].usedBy.append(c.hex)
                    continue
                }
                switch chunk {
                case .inner(let level, let children):
                    for (k, child) in children.enumerated() {
                        chunkStack.append(
                            ChunkPlace(
                                id: child.id, level: level - 1, first: child.firstPath,
                                next: k + 1 < children.count ? children[k + 1].firstPath : place.next))
                    }
                case .leaf(let entries):
                    for e in entries {
                        guard let w = e.annotations?.transcript?.words, !looseIDs.contains(w) else { continue }
                        damaged[
                            w.hex,
                            default: DamagedObject(id: w.hex, kind: "object", pack: nil, reason: "words object is missing", usedBy: [])
                        ]
                        .usedBy.append("\(c.hex):\(e.path)")
                    }
                    for e in entries where e.kind != .symlink {
                        if known[e.blob] == nil, partial != nil {
                            if onRemote?.contains(e.blob) ?? true { notDownloaded.insert(e.blob) } else { unlisted.insert(e.blob) }
                        } else if known[e.blob] == nil {
                            damaged[
                                e.blob.hex,
                                default: DamagedObject(
                                    id: e.blob.hex, kind: "blob", pack: nil, reason: "blob is not in any pack", usedBy: [])
                            ]
                            .usedBy.append("\(c.hex):\(e.path)")
                        } else if damaged[e.blob.hex] != nil {
                            damaged[e.blob.hex]!.usedBy.append("\(c.hex):\(e.path)")
                        }
                    }
                }
                _ = fresh
            }
        }
        if (try? catalog.settingsCopyDiffers()) == true {
            notes.append(
                ".dvs/config, the copy of the settings kept for a lost catalog, differs from the catalog's (a command was killed while it changed one): the next settings change or reindex writes it again"
            )
        }
        if let partial, !notDownloaded.isEmpty {
            notes.append(
                "\(counted(notDownloaded.count, "blob")) of other revisions \(notDownloaded.count == 1 ? "is" : "are") not downloaded (a partial clone of '\(partial)'; checkout downloads them)"
            )
        }
        if let partial, !unlisted.isEmpty {
            notes.append(
                "\(counted(unlisted.count, "blob")) \(unlisted.count == 1 ? "is" : "are") not downloaded and not in the pack indexes of '\(partial)' cached here (fetched since, or lost): a checkout that needs them downloads them, or says the remote lacks them"
            )
        }
        return FsckReport(
            damaged: damaged.values.sorted { $0.id < $1.id }, notes: notes, packCount: byPack.count,
            blobCount: known.count, objectCount: ids.count, commitCount: seen.count)
    }
}

extension Repository {
    /// The ref and reflog checks of fsck: SQLite rows well formed (a malformed target is damage,
    /// never an unborn branch), every ref and HEAD naming a commit object that exists and
    /// decodes, `.dvs/reflog` well formed and leaving the refs the catalog holds.
    /// - Parameters:
    ///   - notes: gets what is not damage (no `.dvs/reflog` yet, a tail a killed writer left).
    ///   - starts: gets every commit named by a ref, HEAD or a reflog entry (catalog and file).
    /// - Returns: the damage found, keyed for the report.
    fileprivate func checkRefs(catalogFile: String, notes: inout [String], starts: inout Set<CommitID>) -> [String: DamagedObject] {
        var damaged: [String: DamagedObject] = [:]
        let problems: [String]
        do { problems = try catalog.refProblems() } catch { problems = [DVSError.wrap(error).message] }
        for (i, p) in problems.enumerated() {
            damaged["\(catalogFile)#ref\(i)"] = DamagedObject(id: catalogFile, kind: "catalog", pack: nil, reason: p, usedBy: [])
        }
        let refs = (try? catalog.refs(in: .all)) ?? []
        let head = (try? catalog.head()) ?? nil
        var named: [(String, CommitID)] = refs.map { ($0.name.fullName, $0.target) }
        if case .detached(let c)? = head { named.append(("HEAD", c)) }
        for (name, target) in named {
            starts.insert(target)
            do { _ = try Commit.decode(objects.read(target.object)) } catch {
                damaged["ref:" + name] = DamagedObject(
                    id: name, kind: "ref", pack: nil,
                    reason: "points at \(target.hex), which is not a readable commit: \(DVSError.wrap(error).message)", usedBy: [])
            }
        }
        starts.formUnion((try? catalog.reflogCommits()) ?? [])
        // The file copy.
        let file = ".dvs/reflog"
        let covered: Int64?
        let contents: RefLogContents?
        do {
            covered = try catalog.refLogCoveredLength()
            contents = try catalog.refLogContents(committedOnly: true)
        } catch {
            damaged[file] = DamagedObject(id: file, kind: "reflog", pack: nil, reason: DVSError.wrap(error).message, usedBy: [])
            return damaged
        }
        guard let covered else {
            notes.append("\(file) is not written yet (a repository made by an older dvs): the next move of a ref writes it")
            return damaged
        }
        guard let contents else {
            damaged[file] = DamagedObject(
                id: file, kind: "reflog", pack: nil, reason: "the file is missing (the catalog covers \(covered) bytes of it)", usedBy: [])
            return damaged
        }
        if let size = (try? FileManager.default.attributesOfItem(atPath: catalog.refLogPath)[.size] as? NSNumber)?.int64Value {
            if size < covered {
                damaged[file] = DamagedObject(
                    id: file, kind: "reflog", pack: nil,
                    reason: "the file is \(size) bytes long, shorter than the \(covered) the catalog covers",
                    usedBy: [])
            } else if size > covered {
                notes.append(
                    "\(file) ends in \(size - covered) bytes of ref moves an interrupted command never committed; the next ref move cuts them off"
                )
            }
        }
        for m in contents.malformed.prefix(5) {
            damaged["\(file)#\(m.line)"] = DamagedObject(
                id: file, kind: "reflog", pack: nil, reason: "line \(m.line) is malformed: '\(m.text)'", usedBy: [])
        }
        for l in contents.lines { for c in [l.old, l.new].compactMap({ $0 }) { starts.insert(c) } }
        guard problems.isEmpty, damaged[file] == nil else { return damaged }
        var disagreements: [String] = []
        let fileRefs = contents.refs
        let catalogRefs = Dictionary(refs.map { ($0.name, $0.target) }, uniquingKeysWith: { a, _ in a })
        for name in Set(fileRefs.keys).union(catalogRefs.keys).sorted() where fileRefs[name] != catalogRefs[name] {
            disagreements.append(
                "\(name): the catalog says \(catalogRefs[name]?.short ?? "none"), the file \(fileRefs[name]?.short ?? "none")")
        }
        if let head, let fileHead = contents.head, head != fileHead {
            disagreements.append("HEAD: the catalog and the file disagree")
        }
        if !disagreements.isEmpty {
            damaged[file + "#refs"] = DamagedObject(
                id: file, kind: "reflog", pack: nil,
                reason: "the refs it leaves differ from the catalog's: " + disagreements.prefix(5).joined(separator: "; "), usedBy: [])
        }
        return damaged
    }
}

/// Where a manifest chunk sits in its tree, as its parent says: what fsck checks it against.
private struct ChunkPlace {
    /// The chunk.
    var id: ObjectID
    /// The level the parent expects (its own minus one); nil for a root.
    var level: Int?
    /// The first path the parent names for it; nil for a root.
    var first: RepoPath?
    /// The first path of the next subtree: every path of this chunk sorts before it.
    var next: RepoPath?

    /// What is wrong with `chunk` in this place, or nil.
    func problem(with chunk: ManifestChunk) -> String? {
        let level: Int
        let firstPath: RepoPath?
        let lastPath: RepoPath?
        switch chunk {
        case .leaf(let entries): (level, firstPath, lastPath) = (0, entries.first?.path, entries.last?.path)
        case .inner(let l, let children): (level, firstPath, lastPath) = (l, children.first?.firstPath, children.last?.firstPath)
        }
        if let expected = self.level, expected != level {
            return "a level-\(level) chunk where its parent expects level \(expected)"
        }
        if let first, let firstPath, first != firstPath {
            return "starts at '\(firstPath)' where its parent says '\(first)'"
        }
        if let next, let lastPath, !(lastPath < next) {
            return "holds '\(lastPath)', which belongs to the next chunk (from '\(next)'): the chunks overlap"
        }
        return nil
    }
}
