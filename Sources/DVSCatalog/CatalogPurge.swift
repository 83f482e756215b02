import DVSCore
import Foundation
import GRDB

// The catalog's part of `dvs purge` (`Sources/DVS/Maintenance/Purge.swift`): history rewritten
// with an old → new commit map, stat cache rows of erased content forgotten, and the file
// compacted so that deleted rows leave no bytes behind in free pages or the write-ahead log.

extension CatalogTransaction {
    /// Replaces commit ids everywhere the catalog names them: ref targets (HEAD included), the
    /// `old` and `new` of every reflog row, the stat cache base, and the commit index and label
    /// sources rows of the old commits (the new commits are recorded by their own composition).
    /// `.dvs/reflog` is written again from the tables when the transaction commits, so the old
    /// ids leave the file too. Idempotent: ids not in `map` are untouched.
    /// - Parameter map: old commit → the commit that replaces it.
    /// - Throws: `CatalogError`.
    public func rewriteCommitIDs(_ map: [CommitID: CommitID]) throws {
        guard !map.isEmpty else { return }
        try CatalogError.guarding("cannot rewrite commit ids") {
            let refs = try db.cachedStatement(sql: "UPDATE ref SET target = ? WHERE target = ?")
            let old = try db.cachedStatement(sql: "UPDATE reflog SET old = ? WHERE old = ?")
            let new = try db.cachedStatement(sql: "UPDATE reflog SET new = ? WHERE new = ?")
            let meta = try db.cachedStatement(sql: "DELETE FROM commit_meta WHERE id = ?")
            let sources = try db.cachedStatement(sql: "DELETE FROM label_sources WHERE commit_id = ?")
            for (o, n) in map {
                let args: StatementArguments = [n.hex, o.hex]
                try refs.execute(arguments: args)
                try old.execute(arguments: args)
                try new.execute(arguments: args)
                try meta.execute(arguments: [o.hex])
                try sources.execute(arguments: [o.hex])
            }
            if let base = try String.fetchOne(db, sql: "SELECT head FROM stat_cache_base WHERE one = 1").flatMap(CommitID.init(hex:)),
                map[base] != nil
            {
                try db.execute(sql: "DELETE FROM stat_cache_base")
            }
            // Forget what the file covers: the flush at commit writes it again from the tables.
            try db.execute(sql: "DELETE FROM ref_log")
        }
        checkRefLog()
    }

    /// Deletes the stat cache rows whose content is one of `blobs` (the next scan hashes those
    /// paths again) and makes the remaining rows unsettled.
    /// - Throws: `CatalogError`.
    public func forgetStatCache(ofBlobs blobs: Set<ObjectID>) throws {
        guard !blobs.isEmpty else { return }
        try CatalogError.guarding("cannot update the stat cache") {
            let del = try db.cachedStatement(sql: "DELETE FROM stat_cache WHERE blob = ?")
            for b in blobs { try del.execute(arguments: [Data(b.bytes)]) }
            try db.execute(sql: "UPDATE stat_cache SET unsettled = 1")
        }
    }
}

extension CatalogTransaction {
    /// Drops reflog entries older than `cutoff` that name a commit outside `reachable` (git's
    /// `gc.reflogExpireUnreachable`), and the whole reflog of a ref that no longer exists once
    /// all of it is older than `cutoff` (a deleted branch's), so that no entry left names a
    /// commit nothing else reaches. A ref's value never changes: the file written again from the
    /// tables restates every ref, and a deleted ref keeps all of its entries or none.
    /// - Parameters:
    ///   - cutoff: unix seconds; entries made after it stay.
    ///   - reachable: commits reachable from refs and records.
    /// - Returns: the entries dropped.
    /// - Throws: `CatalogError`.
    public func expireReflog(olderThan cutoff: Int64, keeping reachable: Set<CommitID>) throws -> Int {
        let dropped = try CatalogError.guarding("cannot expire the reflog") { () -> Int in
            let ids = try ReflogExpiry(db, olderThan: cutoff, keeping: reachable).entries
            let del = try db.cachedStatement(sql: "DELETE FROM reflog WHERE id = ?")
            for id in ids { try del.execute(arguments: [id]) }
            if !ids.isEmpty { try db.execute(sql: "DELETE FROM ref_log") }
            return ids.count
        }
        if dropped > 0 { checkRefLog() }
        return dropped
    }
}

extension Catalog {
    /// Rebuilds the catalog file without free pages (`VACUUM`) and truncates its write-ahead log
    /// (`wal_checkpoint(TRUNCATE)`), so rows deleted earlier (erased blob ids, paths) leave no
    /// bytes in the file. The caller holds the repository lock.
    /// - Throws: `CatalogError` when SQLite refuses (a reader holding an old snapshot can keep the
    ///   log from being truncated; the rows are gone from the database either way).
    public func compact() throws {
        let pool = try writerPool()
        try CatalogError.guarding("cannot compact the catalog") {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA secure_delete = ON")
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        }
    }
}

/// What ``CatalogTransaction/expireReflog(olderThan:keeping:)`` would drop, worked out without
/// changing anything (`dvs gc --dry-run` counts with it).
public struct ReflogExpiry: Sendable {
    /// Row ids of the reflog entries that would be dropped.
    public var entries: [Int64]
    /// The commits the entries that stay name (old and new values), each once.
    public var keptCommits: [CommitID]

    /// Reads the reflog and the refs in `db`.
    /// - Parameters:
    ///   - cutoff: unix seconds; entries made after it stay.
    ///   - reachable: commits reachable from refs and records.
    init(_ db: Database, olderThan cutoff: Int64, keeping reachable: Set<CommitID>) throws {
        let live = Set(try String.fetchAll(db, sql: "SELECT name FROM ref"))
        var byRef: [String: [(id: Int64, time: Int64, names: [CommitID])]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT id, ref, old, new, time FROM reflog") {
            let names = [
                try row.decode(String?.self, forColumn: "old"), try row.decode(String?.self, forColumn: "new"),
            ].compactMap { $0.flatMap { CommitID(hex: $0) } }
            byRef[try row.decode(String.self, forColumn: "ref"), default: []].append(
                (try row.decode(Int64.self, forColumn: "id"), try row.decode(Int64.self, forColumn: "time"), names))
        }
        var ids: [Int64] = []
        var kept: [CommitID] = []
        var seen = Set<CommitID>()
        for (ref, rows) in byRef {
            let dropAll = !live.contains(ref) && rows.allSatisfy { $0.time <= cutoff }
            for r in rows {
                if dropAll || (live.contains(ref) && r.time <= cutoff && r.names.contains(where: { !reachable.contains($0) })) {
                    ids.append(r.id)
                } else {
                    for c in r.names where seen.insert(c).inserted { kept.append(c) }
                }
            }
        }
        entries = ids
        keptCommits = kept
    }
}

extension Catalog {
    /// What expiring the reflog now would drop and keep; changes nothing.
    /// - Parameters:
    ///   - cutoff: unix seconds; entries made after it stay.
    ///   - reachable: commits reachable from refs and records.
    /// - Throws: `CatalogError` when the catalog cannot be read.
    public func reflogExpiry(olderThan cutoff: Int64, keeping reachable: Set<CommitID>) throws -> ReflogExpiry {
        try reading("cannot read the reflog") { db in try ReflogExpiry(db, olderThan: cutoff, keeping: reachable) }
    }
}
