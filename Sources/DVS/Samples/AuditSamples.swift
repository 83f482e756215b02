import DVSCatalog
import DVSCore
import DVSLearn
import DVSStorage
import Foundation

extension Repository {
    /// Every model whose training snapshot included a sample matching `predicate`, with counts.
    ///
    /// `predicate` is an SQL expression over the `sample` table of `dvs query` (e.g.
    /// `speaker = 'spk042'`, `lang = 'de' AND duration_s > 2`; label columns as in `dvs query`,
    /// a label named like a fixed column gets a `label_` prefix).
    ///
    /// Snapshots of one branch share most manifest leaves (content-addressed chunks), so the
    /// sample rows are kept per distinct leaf in the sample index, `.dvs/cache/samples.sqlite`
    /// (`SampleIndex`, shared with `dvs query`). A leaf is decoded and loaded once, the first
    /// time a snapshot that holds it is indexed; leaves never change, so the index is never
    /// stale (delete the file to rebuild it). The predicate is then evaluated once, over the
    /// rows of every indexed leaf, and the counts are summed per model.
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
        // Models whose training snapshot is not here (a clone that never fetched the branch
        // they were trained on) cannot be looked into: ``modelsWithoutSnapshot()`` names them.
        // A snapshot a purge replaced is looked into as its replacement (what is left of it).
        let purgeRecords = try purges()
        let rows = try catalog.models().map { m in
            var m = m
            m.snapshot = Self.rewriteChain(of: m.snapshot, in: purgeRecords).last?.to ?? m.snapshot
            return m
        }.filter { objects.contains($0.snapshot.object) }
        if rows.isEmpty { return [] }
        let snapshots = Array(Set(rows.map(\.snapshot))).sorted()
        let leavesOf: [CommitID: [Int32]]
        let perLeaf: [Int32: (count: Int, seconds: Double)]
        do {
            let cache = try openSampleIndex()
            try index(cache, snapshots: snapshots)
            leavesOf = try cache.leafNumbers(of: snapshots)
            perLeaf = try cache.matchCounts(trimmed, leaves: Array(Set(leavesOf.values.joined())).sorted())
        } catch let e as CatalogError {
            throw sampleIndexError(e)
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

    /// Models whose training snapshot this repository does not hold (records travel with push
    /// and fetch; the branch they were trained on may not have): ``auditSamples(_:)`` skips them.
    /// - Returns: (record id, model name, snapshot), by name.
    /// - Throws: `CatalogError` when the model index cannot be read.
    public func modelsWithoutSnapshot() throws -> [(id: ModelID, name: String, snapshot: CommitID)] {
        let purgeRecords = try purges()
        return try catalog.models().filter { m in
            !objects.contains((Self.rewriteChain(of: m.snapshot, in: purgeRecords).last?.to ?? m.snapshot).object)
        }.map { ($0.id, $0.name, $0.snapshot) }.sorted { $0.name < $1.name }
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
            return try openSampleIndex().matchingBlobs(predicate, leaves: leaves).filter(training.contains).count
        } catch { throw DVSError.wrap(error) }
    }
}
