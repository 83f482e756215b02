import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

extension Repository {
    /// The sample index: `.dvs/cache/samples.sqlite` (`SampleIndex`, in ``cacheDir``), derived from manifests.
    var sampleIndexPath: String { cacheDir + "/samples.sqlite" }

    /// Opens the sample index, creating `.dvs/cache` and the file when missing; the audit cache
    /// of earlier versions (`.dvs/cache/audit.sqlite`, which the index replaces) is deleted.
    /// - Throws: `DVSError.io` when it cannot be created or opened.
    /// A file that cannot be opened as an index (damaged, not SQLite) is deleted and made anew
    /// once: it holds nothing that is not in the snapshots.
    func openSampleIndex() throws -> SampleIndex {
        do {
            try prepareCacheDir()
            let legacy = cacheDir + "/audit.sqlite"
            if FileIO.exists(legacy) { for suffix in ["", "-wal", "-shm"] { unlink(legacy + suffix) } }
            do { return try SampleIndex(path: sampleIndexPath) } catch let e as CatalogError where e.code == .corrupt || e.code == .schema {
                for suffix in ["", "-wal", "-shm"] { unlink(sampleIndexPath + suffix) }
                return try SampleIndex(path: sampleIndexPath)
            }
        } catch { throw sampleIndexError(error) }
    }

    /// `error` from the sample index as a user error: a catalog-level failure there is about a
    /// cache the user may delete, not about the catalog (whose hints would send them to `fsck`).
    func sampleIndexError(_ error: any Error) -> DVSError {
        // Busy, full, read-only and I/O failures keep the catalog's advice (retry, free space).
        guard let e = error as? CatalogError, ![.busy, .refMoved, .full, .readOnly, .io].contains(e.code) else {
            return DVSError.wrap(error)
        }
        return DVSError(.corrupt, e.message, cause: e.underlying.map { "\($0)" }, next: .deleteCache(path: sampleIndexPath))
    }

    /// Adds `snapshot` to the sample index now (model registration does, so the first `dvs
    /// audit --samples` or `dvs query` on it is as fast as the next).
    /// - Throws: as ``index(_:snapshots:)``.
    func warmSampleIndex(_ snapshot: CommitID) throws {
        do { try index(openSampleIndex(), snapshots: [snapshot]) } catch { throw DVSError.wrap(error) }
    }

    /// Adds the snapshots the index lacks: their leaf lists (read from inner chunks only), and
    /// the rows of the leaves it does not hold yet (decoded on ``workers`` threads), so a commit
    /// whose parent is indexed costs only the leaves it changed.
    /// - Throws: `DVSError.corrupt` when a commit or chunk cannot be read; `.io` when the index
    ///   cannot be written.
    func index(_ index: SampleIndex, snapshots: [CommitID]) throws {
        do { try addToIndex(index, snapshots: snapshots) } catch let e as CatalogError { throw sampleIndexError(e) }
    }

    private func addToIndex(_ index: SampleIndex, snapshots: [CommitID]) throws {
        try index.add(snapshots: snapshots) { todo, indexed in
            var lists: [(CommitID, [ObjectID])] = []
            var newLeaves: [ObjectID] = []
            var rootLeaves: [ObjectID: [ManifestEntry]] = [:]
            var seen = Set<ObjectID>()
            for c in todo {
                let root = try commit(c).manifest
                var leaves: [ObjectID] = []
                var rootLeaf: [ManifestEntry]?
                try self.snapshots.collectLeaves(root, into: &leaves, rootLeaf: &rootLeaf)
                if let rootLeaf {
                    leaves = [root]
                    rootLeaves[root] = rootLeaf
                }
                lists.append((c, leaves))
                for l in leaves where !indexed.contains(l) && seen.insert(l).inserted { newLeaves.append(l) }
            }
            let toRead = newLeaves.filter { rootLeaves[$0] == nil }
            var read = [ObjectID: [ManifestEntry]](uniqueKeysWithValues: zip(toRead, try self.snapshots.readLeaves(toRead)))
            return SampleIndex.SnapshotLeaves(
                lists: lists,
                newLeaves: try newLeaves.map { id in
                    var entries = (rootLeaves[id] ?? read.removeValue(forKey: id) ?? []).filter { $0.audio != nil }
                    try recountSpeakers(&entries)
                    return (id, entries)
                })
        }
    }
}
