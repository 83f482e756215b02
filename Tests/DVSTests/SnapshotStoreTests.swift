import DVSCore
import DVSStorage
import Foundation
import Synchronization
import Testing

@testable import DVS

/// `SnapshotStore` over an in-memory object store: manifests written and read back, and the
/// chunk-id comparison of two manifests checked against the full comparison.
@Suite struct SnapshotStoreTests {
    /// An in-memory store that counts reads, so tests can see how much a comparison touched.
    final class CountingStore: ObjectStore, @unchecked Sendable {
        let inner = InMemoryObjectStore()
        let reads = Mutex(0)
        func write(_ bytes: [UInt8]) throws -> ObjectID { try inner.write(bytes) }
        func write(_ bytes: [UInt8], id: ObjectID) throws { try inner.write(bytes, id: id) }
        func read(_ id: ObjectID) throws -> [UInt8] {
            reads.withLock { $0 += 1 }
            return try inner.read(id)
        }
        func contains(_ id: ObjectID) -> Bool { inner.contains(id) }
        func allIDs() throws -> [ObjectID] { try inner.allIDs() }
        func sync() throws {}
    }

    static func entry(_ i: Int, content: String = "") -> ManifestEntry {
        let bytes = Array("audio \(i) \(content)".utf8)
        return ManifestEntry(
            path: RepoPath(String(format: "clips/%07d.wav", i)), kind: .file, blob: ObjectID.hashing(bytes),
            byteCount: UInt64(bytes.count))
    }

    @Test func writesAndReadsBackEveryEntryInOrder() throws {
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        let entries = (0..<5000).map { Self.entry($0) }
        let (root, totals, written) = try store.writeManifest(entries)
        #expect(totals.fileCount == 5000)
        #expect(written > 0)
        #expect(try store.entries(ofManifest: root) == entries)
        // Writing the same manifest again stores nothing new.
        #expect(try store.writeManifest(entries).bytesWritten == 0)
    }

    @Test func comparisonByChunkIDEqualsFullComparison() throws {
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        let base = (0..<20_000).map { Self.entry($0) }
        var changed = base
        changed[17] = Self.entry(17, content: "relabelled")  // modified
        changed.remove(at: 9_001)  // deleted
        changed.append(
            ManifestEntry(path: RepoPath("clips/0012345b.wav"), kind: .file, blob: ObjectID.hashing([1]), byteCount: 1))  // added
        changed.sort { $0.path < $1.path }
        let a = try store.writeManifest(base).root
        let b = try store.writeManifest(changed).root
        let fast = try store.changes(from: a, to: b)
        let full = diffEntries(base, changed)
        #expect(fast == full)
        #expect(fast.map(\.kind) == [.modified, .deleted, .added])
        #expect(fast.map(\.path.description) == ["clips/0000017.wav", "clips/0009001.wav", "clips/0012345b.wav"])
        // And backwards.
        #expect(try store.changes(from: b, to: a) == diffEntries(changed, base))
        #expect(try store.changes(from: a, to: a).isEmpty)
    }

    @Test func comparisonReadsOnlyTheChunksThatDiffer() throws {
        let objects = CountingStore()
        let store = SnapshotStore(objects: objects, workers: 1)
        let base = (0..<100_000).map { Self.entry($0) }
        var changed = base
        changed[50_000] = Self.entry(50_000, content: "new take")
        let a = try store.writeManifest(base).root
        let b = try store.writeManifest(changed).root
        objects.reads.withLock { $0 = 0 }
        let (old, new) = try store.differingEntries(a, b)
        let reads = objects.reads.withLock { $0 }
        // One path from root to leaf on each side: a few chunks, not the ≈6,000 leaves.
        #expect(reads <= 12)
        #expect(old.contains(base[50_000]))
        #expect(new.contains(changed[50_000]))
        #expect(old.count < 200 && new.count < 200)
    }

    @Test func comparesTreesOfDifferentHeights() throws {
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        let small = (0..<3).map { Self.entry($0) }
        let large = (0..<10_000).map { Self.entry($0) }
        let a = try store.writeManifest(small).root
        let b = try store.writeManifest(large).root
        #expect(try store.changes(from: a, to: b) == diffEntries(small, large))
        #expect(try store.changes(from: b, to: a) == diffEntries(large, small))
        let empty = try store.writeManifest([]).root
        #expect(try store.changes(from: empty, to: b).count == 10_000)
    }

    @Test func damagedChunkIsReportedByID() throws {
        let objects = InMemoryObjectStore()
        let store = SnapshotStore(objects: objects, workers: 1)
        let (root, _, _) = try store.writeManifest((0..<10).map { Self.entry($0) })
        objects.corrupt(root, with: Array("not a chunk".utf8))
        #expect {
            _ = try store.entries(ofManifest: root)
        } throws: { error in
            (error as? DVSError)?.code == .corrupt && (error as? DVSError)?.message.contains(root.hex) == true
        }
    }
}
