import DVSCatalog
import DVSCore
import Foundation
import GRDB

extension Repository {
    /// Every model whose training snapshot included a sample matching `predicate`, with counts.
    ///
    /// `predicate` is an SQL expression over the `sample` table of `dvs query` (e.g.
    /// `speaker = 'spk042'`, `lang = 'de' AND duration_s > 2`). It is evaluated once over the
    /// union of the snapshots' manifest leaves: snapshots of one branch share most leaves
    /// (content-addressed chunks), so each distinct leaf is decoded once, and each distinct entry
    /// (a leaf rewritten by a relabel keeps most of its entries) is loaded and matched once,
    /// however many models were trained on snapshots that hold it.
    /// - Returns: models with at least one match, most matches first (ties: newest first).
    /// - Throws: `DVSError.badInput` for an expression that does not parse or that writes;
    ///   `.corrupt` when a record or manifest chunk cannot be read.
    /// - Complexity: O(distinct entries across the models' snapshots) SQL rows, plus O(entries of distinct leaves) lookups.
    public func auditSamples(_ predicate: String) throws -> [SampleAuditHit] {
        let trimmed = predicate.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, !trimmed.contains(";") else {
            throw DVSError(.badInput, "audit predicate '\(predicate)' is not one SQL expression", hint: "for example: dvs audit --samples \"speaker = 'spk042'\"")
        }
        let rows = try catalog.models()
        if rows.isEmpty { return [] }
        // Leaves of each distinct snapshot.
        var leavesOf: [CommitID: [ObjectID]] = [:]
        var leafIndex: [ObjectID: Int32] = [:]
        var leafOrder: [ObjectID] = []
        var rootLeaves: [ObjectID: [ManifestEntry]] = [:]
        for snap in Set(rows.map(\.snapshot)) {
            let root = try commit(snap).manifest
            var leaves: [ObjectID] = []
            var rootLeaf: [ManifestEntry]?
            try collectLeaves(root, into: &leaves, rootLeaf: &rootLeaf)
            if let rootLeaf { leaves = [root]; rootLeaves[root] = rootLeaf }
            leavesOf[snap] = leaves
            for l in leaves where leafIndex[l] == nil {
                leafIndex[l] = Int32(leafOrder.count)
                leafOrder.append(l)
            }
        }
        // Decode each distinct leaf once, in parallel.
        let decoded = SlotBuffer<[ManifestEntry]>(count: leafOrder.count)
        let order = leafOrder
        let known = rootLeaves
        try parallelBatches(order.count, workers: workers, batch: 8) { _, range in
            for i in range {
                if let es = known[order[i]] { decoded[i] = es; continue }
                guard case .leaf(let es) = try self.chunk(order[i]) else {
                    throw DVSError(.corrupt, "manifest chunk '\(order[i].hex)' is not a leaf where a leaf belongs", hint: "run 'dvs fsck'")
                }
                decoded[i] = es
            }
        }
        // Rows that are the same in several leaves (a relabel rewrites a leaf, most of its rows
        // stay) are matched once: distinct entries, and for each leaf the distinct rows it holds.
        var distinct: [ManifestEntry] = []
        var rowOf: [ManifestEntry: Int32] = [:]
        var rowsOfLeaf: [[Int32]] = []
        rowsOfLeaf.reserveCapacity(order.count)
        for i in 0..<order.count {
            var rows: [Int32] = []
            for e in decoded.take(i) ?? [] where e.audio != nil {
                if let r = rowOf[e] { rows.append(r); continue }
                let r = Int32(distinct.count)
                rowOf[e] = r
                distinct.append(e)
                rows.append(r)
            }
            rowsOfLeaf.append(rows)
        }
        rowOf = [:]
        // Match once over every distinct row.
        var matched = [Bool](repeating: false, count: distinct.count)
        do {
            let db = try DatabaseQueue()
            try db.write { db in try populate(db, distinct, words: false, rowKeys: (0..<Int32(distinct.count)).map { $0 }) }
            try db.read { db in
                try db.execute(sql: "PRAGMA query_only = ON")
                let sql = "SELECT _row FROM sample WHERE (\(trimmed)\n)"
                let statement: Statement
                do { statement = try db.makeStatement(sql: sql) } catch let e as DatabaseError {
                    throw DVSError(.badInput, "SQL error in audit predicate: \(e.message ?? "\(e)")",
                                   hint: "columns of sample: \(sampleTableColumns.joined(separator: ", ")), and one per label field; for example: speaker = 'spk042'")
                }
                guard statement.isReadonly else { throw DVSError(.badInput, "refusing an audit predicate that writes") }
                let cursor = try Int.fetchCursor(statement)
                while let r = try cursor.next() { matched[r] = true }
            }
        } catch let e as DVSError { throw e } catch let e as DatabaseError {
            throw DVSError(.badInput, "SQL error in audit predicate: \(e.message ?? "\(e)")", hint: "check the expression against 'dvs query --help'")
        } catch { throw DVSError.wrap(error) }
        var perLeaf: [Int32: (count: Int, seconds: Double)] = [:]
        for (leaf, rows) in rowsOfLeaf.enumerated() {
            var n = 0, s = 0.0
            for r in rows where matched[Int(r)] { n += 1; s += distinct[Int(r)].audio!.duration }
            if n > 0 { perLeaf[Int32(leaf)] = (n, s) }
        }
        var hits: [SampleAuditHit] = []
        for row in rows {
            var n = 0, s = 0.0
            for l in leavesOf[row.snapshot] ?? [] { if let p = perLeaf[leafIndex[l]!] { n += p.count; s += p.seconds } }
            if n > 0 { hits.append(SampleAuditHit(id: row.id, record: try modelRecord(row.id), matched: n, hours: s / 3600)) }
        }
        return hits.sorted { ($0.matched, $0.record.endTime) > ($1.matched, $1.record.endTime) }
    }
}
