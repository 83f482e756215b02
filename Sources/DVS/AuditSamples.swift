import DVSCatalog
import DVSCore
import DVSLearn
import DVSStorage
import Foundation
import GRDB
import GRDBSQLite

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
                hint: "for example: dvs audit --samples \"speaker = 'spk042'\"")
        }
        let rows = try catalog.models()
        if rows.isEmpty { return [] }
        let snapshots = Array(Set(rows.map(\.snapshot))).sorted()
        var leavesOf: [CommitID: [Int32]] = [:]
        var perLeaf: [Int32: (count: Int, seconds: Double)] = [:]
        do {
            let db = try openAuditCache()
            try db.write { db in try prepareAuditCache(db, snapshots: snapshots) }
            try db.read { db in
                for c in snapshots {
                    if let b = try Data.fetchOne(db, sql: "SELECT leaves FROM snapshot WHERE id = ?", arguments: [c.hex]) {
                        leavesOf[c] = b.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                    }
                }
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                let sql = "SELECT _leaf, count(*), total(duration_s) FROM sample WHERE (\(trimmed)\n) GROUP BY _leaf"
                let statement: Statement
                do { statement = try db.makeStatement(sql: sql) } catch let e as DatabaseError {
                    throw DVSError(
                        .badInput, "SQL error in audit predicate: \(Self.predicateSQLMessage(e.message ?? "\(e)"))",
                        hint:
                            "columns of sample: \(sampleTableColumns.joined(separator: ", ")), and one per label field; for example: speaker = 'spk042'"
                    )
                }
                guard statement.isReadonly else { throw DVSError(.badInput, "refusing an audit predicate that writes") }
                let cursor = try Row.fetchCursor(statement)
                while let r = try cursor.next() { perLeaf[r[0] as Int32] = (r[1] as Int, r[2] as Double) }
            }
        } catch let e as DVSError { throw e } catch let e as DatabaseError {
            throw DVSError(
                .badInput, "SQL error in audit predicate: \(Self.predicateSQLMessage(e.message ?? "\(e)"))",
                hint: "check the expression against 'dvs query --help'")
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
            return try openAuditCache().read { db in
                try db.execute(sql: "PRAGMA query_only = ON")
                defer { try? db.execute(sql: "PRAGMA query_only = OFF") }
                let sql =
                    "SELECT sha256 FROM sample WHERE (\(predicate)\n) AND _leaf IN (\(leaves.map(String.init).joined(separator: ",")))"
                return try String.fetchAll(db, sql: sql).filter { ObjectID(hex: $0).map(training.contains) ?? false }.count
            }
        } catch { throw DVSError.wrap(error) }
    }

    func openAuditCache() throws -> DatabaseQueue {
        try FileIO.makeDirectories(dvsDir + "/cache")
        var config = Configuration()
        config.busyMode = .timeout(30)
        return try DatabaseQueue(path: auditCachePath, configuration: config)
    }

    /// Loads a snapshot's leaves into the audit cache now (model registration does, so the first
    /// `dvs audit --samples` is as fast as the next).
    /// - Throws: as ``auditSamples(_:)`` when a chunk cannot be read or the cache written.
    func warmAuditCache(_ snapshot: CommitID) throws {
        do { try openAuditCache().write { db in try prepareAuditCache(db, snapshots: [snapshot]) } } catch { throw DVSError.wrap(error) }
    }

    /// Adds the snapshots the audit cache lacks: their leaf lists, and the rows of leaves not
    /// loaded yet (decoded in parallel), adding label columns as new field names appear.
    private func prepareAuditCache(_ db: Database, snapshots: [CommitID]) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS leaf (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE);   -- a manifest leaf chunk (hex id)
                CREATE TABLE IF NOT EXISTS snapshot (id TEXT PRIMARY KEY, leaves BLOB NOT NULL);    -- commit hex -> leaf numbers, int32 native order
                """)
        let fixed = Set(sampleTableColumns)
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        if try !db.tableExists("sample") {
            try db.execute(sql: "CREATE TABLE sample (\(sampleTableColumns.map(q).joined(separator: ", ")), _leaf INTEGER NOT NULL)")
        }
        let have = Set(try String.fetchAll(db, sql: "SELECT id FROM snapshot"))
        let todo = snapshots.filter { !have.contains($0.hex) }
        if todo.isEmpty { return }
        var leafNumber: [ObjectID: Int32] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT n, id FROM leaf") { if let id = ObjectID(hex: r[1] as String) { leafNumber[id] = r[0] } }
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
            for l in leaves where leafNumber[l] == nil && seen.insert(l).inserted { newLeaves.append(l) }
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
                    throw DVSError(.corrupt, "manifest chunk '\(order[i].hex)' is not a leaf where a leaf belongs", hint: "run 'dvs fsck'")
                }
                decoded[i] = es.filter { $0.audio != nil }
            }
        }
        // Label columns: the table's, plus any new field names.
        var columns = try db.columns(in: "sample").map(\.name)
        var labelNames = Set<String>()
        for i in 0..<order.count { for e in decoded[i] ?? [] { for f in e.annotations?.labels ?? [] { labelNames.insert(f.name) } } }
        for name in labelNames.sorted() {
            let col = fixed.contains(name) || name == "_leaf" ? "label_" + name : name
            if !columns.contains(col) {
                try db.execute(sql: "ALTER TABLE sample ADD COLUMN \(q(col))")
                columns.append(col)
            }
        }
        let position = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, Int32($0 + 1)) })
        let leafColumn = position["_leaf"]!
        let insert = try db.makeStatement(
            sql:
                "INSERT INTO sample (\(columns.map(q).joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
        )
        let s = Binder(insert.sqliteStatement)
        var next = Int32(try Int.fetchOne(db, sql: "SELECT coalesce(max(n), -1) + 1 FROM leaf") ?? 0)
        for (i, id) in order.enumerated() {
            try db.execute(sql: "INSERT INTO leaf (n, id) VALUES (?, ?)", arguments: [next, id.hex])
            leafNumber[id] = next
            for e in decoded.take(i) ?? [] {
                s.sampleColumns(e, e.audio!)
                for f in e.annotations?.labels ?? [] {
                    let col = fixed.contains(f.name) || f.name == "_leaf" ? "label_" + f.name : f.name
                    s.value(position[col]!, f.value)
                }
                s.int(leafColumn, Int64(next))
                try s.step(db)
            }
            next += 1
        }
        for (c, leaves) in lists {
            let numbers = leaves.map { leafNumber[$0]! }
            try db.execute(
                sql: "INSERT OR REPLACE INTO snapshot (id, leaves) VALUES (?, ?)",
                arguments: [c.hex, numbers.withUnsafeBufferPointer { Data(buffer: $0) }])
        }
    }
}
