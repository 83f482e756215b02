import DVSCatalog
import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

#if canImport(Glibc)
    import Glibc
#endif

/// A stat cache held in memory, fed with what scans and checkouts would store in the catalog.
private final class MemoryStatCache: StatCacheSource, @unchecked Sendable {
    private let lock = NSLock()
    private var rows: [RepoPath: StatCacheEntry] = [:]

    func statCache() throws -> [RepoPath: StatCacheEntry] { lock.withLock { rows } }

    /// Stores a scan's updates and removals, as `dvs status` does.
    func apply(_ scan: ScanResult) { apply(scan.cacheUpdates, removing: scan.removedFromCache) }

    func apply(_ updates: [(RepoPath, StatCacheEntry)], removing removed: [RepoPath] = []) {
        lock.withLock {
            for p in removed { rows[p] = nil }
            for (p, e) in updates { rows[p] = e }
        }
    }
}

/// Writes `text` to `root/path` in place (same inode when it exists), creating folders.
private func put(_ text: String, _ path: String, in root: String) throws {
    let full = root + "/" + path
    try FileManager.default.createDirectory(
        atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw TestError("cannot open \(full)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else { throw TestError("cannot write \(full)") }
}

/// Sets the mtime (and atime) of `root/path` to `ns` since 1970.
private func setMtime(_ path: String, in root: String, _ ns: Int64) throws {
    let t = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var times = [t, t]
    guard utimensat(AT_FDCWD, root + "/" + path, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw TestError("utimensat \(path)") }
}

private func file(_ path: String, _ text: String) -> ManifestEntry {
    ManifestEntry(path: RepoPath(path), kind: .file, blob: ObjectID.hashing(Array(text.utf8)), byteCount: UInt64(text.utf8.count))
}

/// A moment well in the past with a sub-second part: stat cache rows recorded now are not racy.
private let past: Int64 = 1_700_000_000_250_000_000

/// `WorkingTree` built alone on a temp folder: a stat cache in memory (or a catalog), blobs in memory.
@Suite struct WorkingTreeTests {
    private func tree(_ root: String, _ cache: any StatCacheSource, blobs: InMemoryBlobStore = InMemoryBlobStore()) -> WorkingTree {
        WorkingTree(root: root, statCacheSource: cache, blobs: blobs, workers: 2)
    }

    /// The walk lists the tree in path byte order (each folder's children by name, with `/` after
    /// a folder's name): `a.txt` < `a/x` < `a0`, `ab!` < `ab/y` < `abc`, upper case first.
    @Test func theWalkListsTheTreeInPathByteOrder() throws {
        try TestSupport.withTemporaryDirectory { root in
            for p in ["a.txt", "a/x", "a0", "ab!", "ab/y", "abc", "B"] { try TestSupport.write(Data("x".utf8), to: root + "/" + p) }
            let walked = try TreeWalker.walk(root: root, workers: 2).files.map(\.path.string)
            #expect(walked == ["B", "a.txt", "a/x", "a0", "ab!", "ab/y", "abc"])
        }
    }

    @Test func scanHashesNewAndChangedFilesAndTrustsUnchangedOnes() throws {
        try TestSupport.withTemporaryDirectory { root in
            let cache = MemoryStatCache()
            let t = tree(root, cache)
            try put("alpha", "a.txt", in: root)
            try put("charlie", "b/c.txt", in: root)
            for p in ["a.txt", "b/c.txt"] { try setMtime(p, in: root, past) }

            // New files: every one read and hashed, a cache row for each.
            let first = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(first.entries == [file("a.txt", "alpha"), file("b/c.txt", "charlie")])
            #expect(first.hashedFiles == 2)
            #expect(first.cacheUpdates.map(\.0) == [RepoPath("a.txt"), RepoPath("b/c.txt")])
            #expect(first.cacheUpdates.map(\.1.blob) == [ObjectID.hashing(Array("alpha".utf8)), ObjectID.hashing(Array("charlie".utf8))])
            #expect(first.cacheUpdates.map(\.1.mtimeNanoseconds) == [past, past])
            #expect(first.cacheUpdates.map(\.1.byteCount) == [5, 7])
            #expect(first.removedFromCache.isEmpty)
            #expect(first.warnings.isEmpty)
            cache.apply(first)

            // Unchanged: nothing read, nothing to store.
            let second = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(second.entries == first.entries)
            #expect(second.hashedFiles == 0)
            #expect(second.cacheUpdates.isEmpty)
            #expect(second.removedFromCache.isEmpty)

            // One file changed (another size), one new, one deleted.
            try put("charlie!", "b/c.txt", in: root)
            try put("delta", "d.txt", in: root)
            for p in ["b/c.txt", "d.txt"] { try setMtime(p, in: root, past) }
            unlink(root + "/a.txt")
            let third = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(third.entries == [file("b/c.txt", "charlie!"), file("d.txt", "delta")])
            #expect(third.hashedFiles == 2)
            #expect(third.cacheUpdates.map(\.0) == [RepoPath("b/c.txt"), RepoPath("d.txt")])
            #expect(third.removedFromCache == [RepoPath("a.txt")])
            #expect(
                diffEntries(first.entries, third.entries).map { "\($0.kind.rawValue) \($0.path)" } == [
                    "deleted a.txt", "modified b/c.txt", "added d.txt",
                ])
        }
    }

    /// A rename pairs a deleted entry with an added one of the same content, in path order (the
    /// second copy of a content added twice stays an add); listed, it is one row, at the deleted
    /// side's place.
    @Test func renamesPairAndListAsOneRow() throws {
        func entry(_ path: String, _ text: String) -> ManifestEntry {
            ManifestEntry(path: RepoPath(path), kind: .file, blob: ObjectID.hashing(Array(text.utf8)), byteCount: UInt64(text.utf8.count))
        }
        let before = [entry("a.txt", "A"), entry("b.txt", "B"), entry("c.txt", "C")]
        let after = [entry("b.txt", "B2"), entry("c.txt", "C"), entry("x.txt", "A"), entry("y.txt", "A")]
        let changes = diffEntries(before, after)
        #expect(changes.map { "\($0.kind.rawValue) \($0.path)" } == ["deleted a.txt", "modified b.txt", "added x.txt", "added y.txt"])
        #expect(renamePairs(changes).map { "\($0.deleted)->\($0.added)" } == ["0->2"])
        let rows = changeRows(changes).map { r in "\(changes[r.change].path)" + (r.renamedTo.map { " -> \(changes[$0].path)" } ?? "") }
        #expect(rows == ["a.txt -> x.txt", "b.txt", "y.txt"])
        #expect(changeRows([]).isEmpty)
    }

    @Test func scanWithAWriterStoresOnlyBlobsTheStoreLacks() throws {
        try TestSupport.withTemporaryDirectory { root in
            let blobs = InMemoryBlobStore()
            let known = try blobs.write([(bytes: Array("old".utf8), hint: BlobHint())])
            let t = tree(root, MemoryStatCache(), blobs: blobs)
            try put("old", "kept.txt", in: root)
            try put("new bytes", "new.txt", in: root)
            let session = try blobs.beginWrite()
            let scan = try t.scan(writer: session, knownBlobs: Set(known), progress: nil)
            _ = try session.finish()
            #expect(scan.entries == [file("kept.txt", "old"), file("new.txt", "new bytes")])
            #expect(scan.newBlobCount == 1)
            #expect(scan.newRawBytes == 9)
            #expect(try blobs.ids() == [ObjectID.hashing(Array("old".utf8)), ObjectID.hashing(Array("new bytes".utf8))])
        }
    }

    @Test func racilyCleanCacheRowsAreNotTrusted() throws {
        try TestSupport.withTemporaryDirectory { root in
            let cache = MemoryStatCache()
            let t = tree(root, cache)
            // A row recorded with the old content, then the file rewritten in place to the same
            // size with the same mtime: only the racy rule can tell the row is stale.
            let mtime: Int64 = 1_700_000_000_123_456_789
            try put("aaaa", "f.txt", in: root)
            try put("bbbb", "f.txt", in: root)
            try setMtime("f.txt", in: root, mtime)
            let st = try #require(t.file(at: RepoPath("f.txt")))
            #expect(st.mtimeNanoseconds == mtime)
            #expect(st.size == 4)
            func row(recordedAt: Int64) -> StatCacheEntry {
                StatCacheEntry(
                    byteCount: st.size, mtimeNanoseconds: st.mtimeNanoseconds, ctimeNanoseconds: st.ctimeNanoseconds, inode: st.inode,
                    mode: st.mode, blob: ObjectID.hashing(Array("aaaa".utf8)), audio: nil, recordedAtNanoseconds: recordedAt)
            }

            // Recorded 10 ms after the mtime (< 50 ms): racy, so the file is read again.
            cache.apply([(RepoPath("f.txt"), row(recordedAt: mtime + 10_000_000))])
            let racy = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(racy.hashedFiles == 1)
            #expect(racy.entries == [file("f.txt", "bbbb")])
            #expect(racy.cacheUpdates.map(\.1.blob) == [ObjectID.hashing(Array("bbbb".utf8))])

            // Recorded 60 ms after: trusted as it stands (the stat fields all match).
            cache.apply([(RepoPath("f.txt"), row(recordedAt: mtime + 60_000_000))])
            let trusted = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(trusted.hashedFiles == 0)
            #expect(trusted.entries == [file("f.txt", "aaaa")])

            // A whole-second mtime (coarse file systems) needs 2 s.
            let whole: Int64 = 1_700_000_000_000_000_000
            try setMtime("f.txt", in: root, whole)
            let st2 = try #require(t.file(at: RepoPath("f.txt")))
            var coarse = row(recordedAt: whole + 1_500_000_000)
            coarse.mtimeNanoseconds = whole
            coarse.ctimeNanoseconds = st2.ctimeNanoseconds
            cache.apply([(RepoPath("f.txt"), coarse)])
            #expect(try t.scan(writer: nil, knownBlobs: [], progress: nil).hashedFiles == 1)
            coarse.recordedAtNanoseconds = whole + 2_500_000_000
            cache.apply([(RepoPath("f.txt"), coarse)])
            #expect(try t.scan(writer: nil, knownBlobs: [], progress: nil).hashedFiles == 0)
        }
    }

    @Test func writtenEntriesRescanClean() throws {
        try TestSupport.withTemporaryDirectory { root in
            let blobs = InMemoryBlobStore()
            let cache = MemoryStatCache()
            let t = tree(root, cache, blobs: blobs)
            let contents = ["one\n", "#!/bin/sh\necho hi\n"]
            let ids = try blobs.write(contents.map { (bytes: Array($0.utf8), hint: BlobHint()) })
            let target = Array("x/y/one.txt".utf8)
            let entries = [
                ManifestEntry(path: RepoPath("link"), kind: .symlink, blob: ObjectID.hashing(target), byteCount: 11, linkTarget: target),
                ManifestEntry(path: RepoPath("run.sh"), kind: .executable, blob: ids[1], byteCount: 18),
                ManifestEntry(path: RepoPath("x/y/one.txt"), kind: .file, blob: ids[0], byteCount: 4),
            ]
            let written = try t.writeEntries(entries, into: root, force: false, progress: nil)
            #expect(written == 4 + 18 + 11)
            #expect(try String(contentsOfFile: root + "/x/y/one.txt", encoding: .utf8) == "one\n")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: root + "/link") == "x/y/one.txt")
            #expect(t.file(at: RepoPath("run.sh"))?.kind == .executable)
            #expect(t.file(at: RepoPath("x/y/one.txt"))?.kind == .file)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/x/y") == ["one.txt"])  // no temp file left

            // The rows a checkout stores, with their blobs: a symlink's too (its blob is its
            // target's hash), so a scan of changes can trust it while its stat holds.
            let rows = t.statCacheRows(for: entries, recordedAt: nowNanoseconds() + 10_000_000_000) { _ in true }
            #expect(rows.map(\.0) == [RepoPath("link"), RepoPath("run.sh"), RepoPath("x/y/one.txt")])
            #expect(rows.map(\.1.blob) == [ObjectID.hashing(target), ids[1], ids[0]])
            #expect(rows.map(\.1.byteCount) == [11, 18, 4])
            #expect(
                t.statCacheRows(for: entries) { $0.path != RepoPath("run.sh") }.map(\.0) == [RepoPath("link"), RepoPath("x/y/one.txt")])
            cache.apply(rows)

            let rescan = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(rescan.entries == entries)
            #expect(rescan.hashedFiles == 0)
            #expect(rescan.cacheUpdates.isEmpty)
            #expect(diffEntries(entries, rescan.entries).isEmpty)

            // Removing them leaves no empty folders behind.
            t.remove(entries.map(\.path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: root) == [])
        }
    }

    @Test func ignoreRulesAndReservedFoldersAreApplied() throws {
        try TestSupport.withTemporaryDirectory { root in
            let t = tree(root, MemoryStatCache())
            try put("*.tmp\nbuild/\n!keep.tmp\n", ".dvsignore", in: root)
            try put("local.txt\n", "sub/.dvsignore", in: root)
            for p in [
                "a.txt", "x.tmp", "keep.tmp", "build/out.txt", "sub/local.txt", "sub/kept.txt", ".dvs/catalog.sqlite", ".git/config",
                "sub/.GIT/x", ".dvs-tmp-4242-17", "sub/.dvs-tmp-9901-712462809",
            ] {
                try put("content of \(p)", p, in: root)
            }
            #expect(mkfifo(root + "/pipe", 0o644) == 0)
            let scan = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(scan.entries.map(\.path.string) == [".dvsignore", "a.txt", "keep.tmp", "sub/.dvsignore", "sub/kept.txt"])
            #expect(
                scan.warnings == [
                    ScanWarning(kind: .unsupportedFileType, path: "pipe", message: "not a regular file or symlink; not versioned")
                ])

            #expect(t.wouldTrack(root + "/new.txt"))
            #expect(t.wouldTrack(root + "/sub/new/keep.tmp"))
            #expect(t.wouldTrack(root + "/keep.tmp"))
            #expect(!t.wouldTrack(root + "/x2.tmp"))
            #expect(!t.wouldTrack(root + "/build/new.txt"))
            #expect(!t.wouldTrack(root + "/sub/local.txt"))
            #expect(!t.wouldTrack(root + "/.dvs/tmp/x"))
            #expect(!t.wouldTrack("/elsewhere/a.txt"))
        }
    }

    @Test func aCatalogServesAsTheStatCache() throws {
        try TestSupport.withTemporaryDirectory { root in
            try FileManager.default.createDirectory(atPath: root + "/.dvs", withIntermediateDirectories: true)
            let catalog = try Catalog.create(at: root + "/.dvs/catalog.sqlite")
            let t = tree(root, catalog)
            try put("alpha", "a.txt", in: root)
            try setMtime("a.txt", in: root, past)
            let first = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(first.hashedFiles == 1)
            try catalog.write { tx in try tx.updateStatCache(first.cacheUpdates, removing: first.removedFromCache, settled: false) }
            let second = try t.scan(writer: nil, knownBlobs: [], progress: nil)
            #expect(second.hashedFiles == 0)
            #expect(second.entries == [file("a.txt", "alpha")])
        }
    }
}
