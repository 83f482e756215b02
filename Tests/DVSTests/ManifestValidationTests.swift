import DVSCore
import DVSStorage
import Foundation
import Testing

@testable import DVS

/// Structurally invalid manifests are rejected on read with an error naming the object id.
@Suite struct ManifestValidationTests {
    static func entry(_ path: String) -> ManifestEntry {
        ManifestEntry(path: RepoPath(path), kind: .file, blob: ObjectID.hashing(Array(path.utf8)), byteCount: 1)
    }

    /// An inner chunk whose two leaves overlap ("b" is in both): each chunk decodes, the
    /// manifest does not.
    @Test func overlappingLeavesAreRefusedNamingTheChunks() throws {
        let objects = InMemoryObjectStore()
        let store = SnapshotStore(objects: objects, workers: 2)
        let first = try objects.write(ManifestChunk.leaf([Self.entry("a"), Self.entry("c")]).encoded())
        let second = try objects.write(ManifestChunk.leaf([Self.entry("b"), Self.entry("d")]).encoded())
        let root = try objects.write(
            ManifestChunk.inner(
                level: 1,
                children: [
                    .init(id: first, firstPath: RepoPath("a"), totals: ManifestTotals()),
                    .init(id: second, firstPath: RepoPath("b"), totals: ManifestTotals()),
                ]
            ).encoded())
        let e = #expect(throws: DVSError.self) { try store.entries(ofManifest: root) }
        #expect(e?.code == .corrupt)
        #expect(e?.message.contains(root.hex) == true && e?.message.contains(second.hex) == true, "\(e?.message ?? "")")
    }

    @Test func aMalformedChunkIsNamedByItsID() throws {
        let objects = InMemoryObjectStore()
        let store = SnapshotStore(objects: objects, workers: 1)
        var w = ByteWriter()
        w.write(ManifestChunk.magic)
        w.write(byte: ManifestChunk.version)
        w.write(byte: 1)
        w.write(varint: 1)
        w.write(lengthPrefixed: Array("a".utf8))
        w.write(ObjectID.hashing([1]).bytes)
        for v: UInt64 in [1_000_000_000_000, 0, 0, 0] { w.write(varint: v) }
        let id = try objects.write(w.bytes)
        let e = #expect(throws: DVSError.self) { try store.chunk(id) }
        #expect(e?.message.contains(id.hex) == true && e?.message.contains("file count") == true, "\(e?.message ?? "")")
    }
}
