import DVSCore
import DVSStorage
import Foundation
import Testing

@testable import DVS

/// `ManifestEditor`: the lookup of a few paths and the edit of a few entries, checked against
/// building the whole edited manifest from scratch (the two must give the same chunks).
@Suite struct ManifestEditorTests {
    static func entry(_ name: String, content: String = "") -> ManifestEntry {
        let bytes = Array("audio \(name) \(content)".utf8)
        return ManifestEntry(path: RepoPath(name), kind: .file, blob: ObjectID.hashing(bytes), byteCount: UInt64(bytes.count))
    }

    static func name(_ i: Int) -> String { String(format: "spk%03d/clip_%07d.wav", i % 97, i) }

    /// A seeded generator (SplitMix64), so a failure can be replayed.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: [0, 1, 15, 300, 20_000])
    func editsGiveTheChunksOfAFullBuild(size: Int) throws {
        var rng = Seeded(state: UInt64(size) &+ 7)
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        let base = (0..<size).map { Self.entry(Self.name($0)) }.sorted { $0.path < $1.path }
        let root = try store.writeManifest(base).root
        for round in 0..<25 {
            // Up to 40 edits: modifications, deletions, insertions (some before the first and
            // after the last path), sometimes a whole run deleted.
            var edits: [RepoPath: ManifestEntry?] = [:]
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !base.isEmpty:
                    let e = base[Int.random(in: 0..<base.count, using: &rng)]
                    edits[e.path] = Self.entry(e.path.string, content: "round \(round)")
                case 1 where !base.isEmpty:
                    edits[base[Int.random(in: 0..<base.count, using: &rng)].path] = .some(nil)
                case 2 where base.count > 50:
                    let from = Int.random(in: 0..<(base.count - 50), using: &rng)
                    for e in base[from..<(from + Int.random(in: 1...50, using: &rng))] { edits[e.path] = .some(nil) }
                default:
                    let n = [
                        "aaa/first_\(round).wav", "zzz/last_\(round).wav", Self.name(Int.random(in: 0..<(size + 10), using: &rng)) + ".new",
                    ][
                        Int.random(in: 0..<3, using: &rng)]
                    edits[RepoPath(n)] = Self.entry(n)
                }
            }
            var editor = try ManifestEditor(store: store, root: root)
            let edited = try editor.applying(edits)
            var expected = base.filter { edits[$0.path] == nil }
            for case (_, let e?) in edits { expected.append(e) }
            expected.sort { $0.path < $1.path }
            let full = ManifestChunk.build(expected)
            #expect(edited.root == full.root, "size \(size) round \(round)")
            #expect(edited.totals == full.totals)
            // The chunks it returns are enough to read the edited manifest back.
            for c in edited.chunks where !store.objects.contains(c.id) { try store.objects.write(c.bytes, id: c.id) }
            #expect(try store.entries(ofManifest: edited.root) == expected)
        }
    }

    @Test func looksUpOnlyThePathsAsked() throws {
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        let base = (0..<5000).map { Self.entry(Self.name($0)) }.sorted { $0.path < $1.path }
        let root = try store.writeManifest(base).root
        var editor = try ManifestEditor(store: store, root: root)
        let asked = [base[0].path, base[2500].path, RepoPath("spk000/missing.wav"), base[4999].path]
        let found = try editor.entries(at: asked)
        #expect(found.count == 3)
        #expect(found[base[2500].path] == base[2500])
        #expect(found[RepoPath("spk000/missing.wav")] == nil)
    }
}
