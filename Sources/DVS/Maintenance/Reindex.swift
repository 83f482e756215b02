import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// What `Repository.reindex()` found.
public struct ReindexReport: Sendable, Codable {
    /// Packs read from `.dvs/packs`.
    public var packCount: Int
    /// Packs that were not in the catalog before (left by an interrupted commit, or copied in).
    public var newPackCount: Int
    /// Blobs indexed.
    public var blobCount: Int
    /// Commit objects indexed.
    public var commitCount: Int
    /// Packs skipped because their header, trailer or id is damaged.
    public var damagedPacks: [String]
}

extension Repository {
    /// Rebuilds the derived parts of the catalog — the pack and blob index, the commit list and the
    /// model and eval index —
    /// from `.dvs/packs` and `.dvs/objects` (Fossil's "rebuild"). Refs, the reflog, the stat cache
    /// and settings are kept: they are the catalog's own truth.
    ///
    /// Idempotent. Takes the repository lock.
    /// - Throws: `DVSError.locked`, `.io`.
    /// - Complexity: reads every pack index and every metadata object.
    public func reindex() throws -> ReindexReport {
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
            try catalog.write { tx in
                try tx.clearBlobIndex()
                for (id, size, rows) in packs { try tx.insertPack(id: id, byteCount: size, entries: rows) }
                try tx.insertCommits(commits)
                // Lineage records (migration 0003) are derived from their objects too.
                try tx.clearLineageIndex()
                for (id, bytes) in records { try? indexRecord(id, bytes, in: tx) }
            }
            return ReindexReport(
                packCount: packs.count, newPackCount: packs.filter { !known.contains($0.0) }.count,
                blobCount: packs.reduce(0) { $0 + $1.2.count }, commitCount: commits.count, damagedPacks: damaged)
        } catch { throw DVSError.wrap(error) }
    }
}
