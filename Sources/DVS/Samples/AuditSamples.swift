import DVSCatalog
import DVSCore
import DVSLearn
import DVSStorage
import Foundation

extension Repository {
    /// The audit cache: `.dvs/cache/audit.sqlite`.
    var auditCachePath: String { dvsDir + "/cache/audit.sqlite" }

    /// Every model whose training snapshot included a sample matching `predicate`, with counts.
    ///
    /// `predicate` is an SQL expression over the `sample` table of `dvs query` (e.g.
    /// `speaker = 'spk042'`, `lang = 'de' AND duration_s > 2`; label columns as in `dvs query`,
    /// a label named like a fixed column gets a `label_` prefix).
    ///
    /// Snapshots of one branch share most manifest leaves (content-addressed chunks), so the
    /// sample rows are kept per distinct leaf in a cache, `.dvs/cache/audit.sqlite`: table
    /// `sample` (the fixed columns, one column per label field, and `_leaf`), `leaf` (chunk id →
    /// number) and `snapshot` (commit → its leaf numbers). A leaf is decoded and loaded once,
    /// the first time a snapshot that holds it is audited; leaves never change, so the cache is
    /// never stale (delete the file to rebuild it). The predicate is then evaluated once, over
    /// the rows of every cached leaf, and the counts are summed per model.
    /// For a model whose artifact is a `.dvsm` from `dvs train`, the matches are also split into
    /// the samples it was fitted on and those it held out (`SampleAuditHit.trained`), by the
    /// training content hashes the model file lists.
    /// - Returns: models with at least one match, most matches first (ties: newest first).
    /// - Throws: `DVSError.badInput` for an expression that does not parse or that writes;
    ///   `.corrupt` when a record or manifest chunk cannot be read; `.io` when the cache cannot be written.
    /// - Complexity: first time, O(entries of the distinct leaves); then one scan of the cached rows.
    public func auditSamples(_ predicate: String) throws -> [SampleAuditHit] {
        let trimmed = predicate.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, Self.isStandaloneExpression(trimmed) else {
            throw DVSError(
                .badInput, "audit predicate '\(predicate)' is not one SQL expression",
                next: .auditSamplesExample)
        }
        let rows = try catalog.models()
        if rows.isEmpty { return [] }
        let snapshots = Array(Set(rows.map(\.snapshot))).sorted()
        let leavesOf: [CommitID: [Int32]]
        let perLeaf: [Int32: (count: Int, seconds: Double)]
        do {
            let cache = try openAuditCache()
            try prepareAuditCache(cache, snapshots: snapshots)
            leavesOf = try cache.leafNumbers(of: snapshots)
            perLeaf = try cache.matchCounts(trimmed)
        } catch SampleQueryError.invalidStatement(let message) {
            throw DVSError(
                .badInput, "SQL error in audit predicate: \(Self.predicateSQLMessage(message))",
                hint:
                    "columns of sample: \(sampleTableColumns.joined(separator: ", ")), and one per label field; for example: speaker = 'spk042'"
            )
        } catch SampleQueryError.writes {
            throw DVSError(.badInput, "refusing an audit predicate that writes")
        } catch SampleQueryError.failed(let message) {
            throw DVSError(
                .badInput, "SQL error in audit predicate: \(Self.predicateSQLMessage(message))",
                next: .checkAuditExpression)
        } catch { throw DVSError.wrap(error) }
        var hits: [SampleAuditHit] = []
        for row in rows {
            var n = 0
            var s = 0.0
            for l in leavesOf[row.snapshot] ?? [] {
                if let p = perLeaf[l] {
                    n += p.count
                    s += p.seconds
                }
            }
            if n > 0 {
                let record = try modelRecord(row.id)
                let trained = try trainedMatches(
                    record, leaves: (leavesOf[row.snapshot] ?? []).filter { perLeaf[$0] != nil }, predicate: trimmed)
                hits.append(SampleAuditHit(id: row.id, record: record, matched: n, hours: s / 3600, trained: trained))
            }
        }
        return hits.sorted { ($0.matched, $0.record.endTime) > ($1.matched, $1.record.endTime) }
    }

    /// How many samples matching `predicate` in `leaves` a `dvs train` model was fitted on; nil
    /// when the artifact is not a `.dvsm` (or is not stored here), so the split is unknown.
    private func trainedMatches(_ record: ModelRecord, leaves: [Int32], predicate: String) throws -> Int? {
        guard record.artifactBytes >= 4, let id = ObjectID(hex: record.artifactSHA256), objects.contains(id),
            let bytes = try? objects.read(id), bytes.starts(with: Array("DVSM".utf8)),
            let model = try? ModelFile.decode(bytes, source: record.name)
        else { return nil }
        let training = Set(model.trainingBlobIDs)
        guard !leaves.isEmpty else { return 0 }
        do {
            return try openAuditCache().matchingBlobs(predicate, leaves: leaves).filter(training.contains).count
        } catch { throw DVSError.wrap(error) }
    }

    func openAuditCache() throws -> SampleAuditCache {
        try FileIO.makeDirectories(dvsDir + "/cache")
        return try SampleAuditCache(path: auditCachePath)
    }

    /// Loads a snapshot's leaves into the audit cache now (model registration does, so the first
    /// `dvs audit --samples` is as fast as the next).
    /// - Throws: as ``auditSamples(_:)`` when a chunk cannot be read or the cache written.
    func warmAuditCache(_ snapshot: CommitID) throws {
        do { try prepareAuditCache(openAuditCache(), snapshots: [snapshot]) } catch { throw DVSError.wrap(error) }
    }

    /// Adds the snapshots the audit cache lacks: their leaf lists, and the rows of leaves not
    /// loaded yet (decoded in parallel), adding label columns as new field names appear.
    private func prepareAuditCache(_ cache: SampleAuditCache, snapshots: [CommitID]) throws {
        try cache.add(snapshots: snapshots) { todo, cached in
            // Leaves of each new snapshot (inner chunks only), and which leaves are new.
            var lists: [(CommitID, [ObjectID])] = []
            var newLeaves: [ObjectID] = []
            var rootLeaves: [ObjectID: [ManifestEntry]] = [:]
            var seen = Set<ObjectID>()
            for c in todo {
                let root = try commit(c).manifest
                var leaves: [ObjectID] = []
                var rootLeaf: [ManifestEntry]?
                try collectLeaves(root, into: &leaves, rootLeaf: &rootLeaf)
                if let rootLeaf {
                    leaves = [root]
                    rootLeaves[root] = rootLeaf
                }
                lists.append((c, leaves))
                for l in leaves where !cached.contains(l) && seen.insert(l).inserted { newLeaves.append(l) }
            }
            let decoded = SlotBuffer<[ManifestEntry]>(count: newLeaves.count)
            let order = newLeaves
            let known = rootLeaves
            try parallelBatches(order.count, workers: workers, batch: 8) { _, range in
                for i in range {
                    if let es = known[order[i]] {
                        decoded[i] = es.filter { $0.audio != nil }
                        continue
                    }
                    guard case .leaf(let es) = try self.chunk(order[i]) else {
                        throw DVSError(
                            .corrupt, "manifest chunk '\(order[i].hex)' is not a leaf where a leaf belongs", next: .runFsck)
                    }
                    decoded[i] = es.filter { $0.audio != nil }
                }
            }
            return SampleAuditCache.SnapshotLeaves(
                lists: lists, newLeaves: order.enumerated().map { i, id in (id, decoded.take(i) ?? []) })
        }
    }
}
