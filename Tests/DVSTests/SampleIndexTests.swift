import DVSCatalog
import DVSCore
import DVSStorage
import Foundation
import Testing

@testable import DVS

/// The sample index (`SampleIndex`) against the in-memory query it replaces for revisions: the
/// same tables, columns and rows, and a second snapshot that changes one sample loads one leaf.
@Suite struct SampleIndexTests {
    static func sample(_ i: Int, lang: String, speaker: String? = nil) -> ManifestEntry {
        let bytes = Array("RIFF \(i)".utf8)
        var labels = [LabelField("lang", .string(lang)), LabelField("score", .double(Double(i) / 4))]
        if let speaker { labels.append(LabelField("speaker", .string(speaker))) }
        // A label named like a fixed column is exposed as label_<name>.
        if i % 7 == 0 { labels.append(LabelField("duration_s", .int(Int64(i)))) }
        labels.sort { $0.name < $1.name }
        let segments =
            i % 5 == 0 ? [LabelSegment(start: 0.5, end: 1.25, channel: 0, source: "s.csv", labels: [LabelField("who", .string("a"))])] : []
        return ManifestEntry(
            path: RepoPath(String(format: "clips/%05d.wav", i)), kind: .file, blob: ObjectID.hashing(bytes),
            byteCount: UInt64(bytes.count),
            audio: AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 1, frameCount: 1600 + i),
            annotations: SampleAnnotations(labels: labels, segments: segments))
    }

    /// A snapshot: its manifest written to `store`, indexed as commit `id`.
    static func index(_ entries: [ManifestEntry], as id: CommitID, store: SnapshotStore, into index: SampleIndex) throws -> Int {
        let root = try store.writeManifest(entries).root
        var leaves: [ObjectID] = []
        var rootLeaf: [ManifestEntry]?
        try store.collectLeaves(root, into: &leaves, rootLeaf: &rootLeaf)
        if rootLeaf != nil { leaves = [root] }  // a manifest of one chunk: the root is the leaf
        var loaded = 0
        try index.add(snapshots: [id]) { _, indexed in
            let new = leaves.filter { !indexed.contains($0) }
            loaded = new.count
            return SampleIndex.SnapshotLeaves(lists: [(id, leaves)], newLeaves: Array(zip(new, try store.readLeaves(new))))
        }
        return loaded
    }

    static let statements = [
        "SELECT * FROM sample",
        "SELECT lang, count(*) AS n, total(duration_s) FROM sample GROUP BY lang ORDER BY lang",
        "SELECT path, label_duration_s FROM sample WHERE score > 10 LIMIT 5",
        "PRAGMA table_info(sample)",
        "SELECT * FROM segment",
        "SELECT count(*) FROM word",
        // Rows in path order though a label index could answer them (format 4's indexes).
        "SELECT path, lang FROM sample",
        "SELECT lang FROM sample",
        "SELECT path FROM sample WHERE lang = 'de' LIMIT 7",
        "SELECT lang, count(*), total(duration_s) FROM sample GROUP BY lang",
    ]

    @Test func answersAsTheInMemoryQueryDoes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-sample-index-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 2)
        let index = try SampleIndex(path: dir + "/samples.sqlite")
        let a = (0..<3000).map { Self.sample($0, lang: ["en", "de", "es"][$0 % 3]) }
        var b = a
        b[1234] = Self.sample(1234, lang: "fr", speaker: "spk9")  // relabelled; a new label field
        let idA = CommitID(ObjectID.hashing(Array("a".utf8)))
        let idB = CommitID(ObjectID.hashing(Array("b".utf8)))
        let loadedA = try Self.index(a, as: idA, store: store, into: index)
        let loadedB = try Self.index(b, as: idB, store: store, into: index)
        #expect(loadedA > 100)
        #expect(loadedB == 1)  // only the leaf holding the relabelled sample
        let all: (Bool) -> Bool = { _ in true }
        for (id, entries) in [(idA, a), (idB, b)] {
            for sql in Self.statements {
                let expected = try SampleQuery.run(sql, entries: entries, includeWords: true, words: { _ in [] }, allows: all)
                let got = try index.run(sql, snapshot: id, includeWords: true, words: { _ in [] }, allows: all)
                #expect(got.columns == expected.columns, "\(sql)")
                if sql.hasPrefix("PRAGMA") {
                    // Same columns in the same order; a view has no primary key, so `pk` and `notnull` read 0.
                    #expect(got.rows.map { $0[1] } == expected.rows.map { $0[1] })
                } else {
                    #expect(got.rows == expected.rows, "\(sql)")
                }
            }
        }
        // The relabelled field and the new column exist only where the snapshot has them.
        let speakerA = try index.run("SELECT * FROM sample", snapshot: idA, includeWords: false, words: { _ in [] }, allows: all)
        #expect(!speakerA.columns.contains("speaker"))
        let fr = try index.run(
            "SELECT path, speaker FROM sample WHERE lang = 'fr'", snapshot: idB, includeWords: false, words: { _ in [] }, allows: all)
        #expect(fr.rows == [[.string("clips/01234.wav"), .string("spk9")]])
        // Statements that write are refused, the index unchanged.
        #expect(throws: SampleQueryError.writes) {
            _ = try index.run("DELETE FROM sample", snapshot: idA, includeWords: false, words: { _ in [] }, allows: { $0 })
        }
        #expect(try index.missing([idA, idB]).isEmpty)
        // Audit counts per leaf add up to the snapshot's matches, over the leaves asked about only.
        let leavesA = try #require(try index.leafNumbers(of: [idA])[idA])
        let leavesB = try #require(try index.leafNumbers(of: [idB])[idB])
        #expect(try index.matchCounts("lang = 'fr'", leaves: leavesB).values.map(\.count).reduce(0, +) == 1)
        #expect(try index.matchCounts("lang = 'fr'", leaves: leavesA).isEmpty)
        #expect(try index.matchingBlobs("lang = 'fr'", leaves: leavesB) == [b[1234].blob])
        // An audit predicate compiles over any set of leaves, even ones without its label
        // (second review: the matching leaves alone lacked `speaker`).
        #expect(try index.matchingBlobs("speaker = 'spk9' OR speaker IS NULL AND lang = 'fr'", leaves: leavesA).isEmpty)
        #expect(try index.matchingBlobs("speaker = 'spk9'", leaves: leavesB) == [b[1234].blob])
    }

    /// `GROUP BY` a text label reads that label's index in order (no sort of every row); a plain
    /// `SELECT` of the same columns scans the rows in path order.
    @Test func groupingByACategoryReadsItsIndex() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-sample-index-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 1)
        let index = try SampleIndex(path: dir + "/samples.sqlite")
        let id = CommitID(ObjectID.hashing([9]))
        _ = try Self.index((0..<500).map { Self.sample($0, lang: ["en", "de"][$0 % 2]) }, as: id, store: store, into: index)
        func plan(_ sql: String) throws -> String {
            try index.run("EXPLAIN QUERY PLAN " + sql, snapshot: id, includeWords: false, words: { _ in [] }, allows: { _ in true }).rows
                .map { "\($0.last ?? .null)" }.joined(separator: "; ")
        }
        #expect(try plan("SELECT lang, count(*), total(duration_s) FROM sample GROUP BY lang").contains("COVERING INDEX sample_row_l"))
        #expect(try !plan("SELECT path, lang FROM sample").contains("INDEX"))
        #expect(try !plan("SELECT lang, duration_s FROM sample").contains("INDEX"))
    }

    /// A label named `_Leaf` must not take the audit view's `_leaf` column (SQLite compares
    /// column names ignoring case): the leaf numbers stay numbers.
    @Test func anAuditLabelNamedLikeTheLeafColumnKeepsItsOwnColumn() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-sample-index-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 1)
        let index = try SampleIndex(path: dir + "/samples.sqlite")
        let entries = (0..<30).map { i -> ManifestEntry in
            var e = Self.sample(i, lang: "en")
            e.annotations = SampleAnnotations(labels: [LabelField("_Leaf", .string("x\(i % 2)"))])
            return e
        }
        let id = CommitID(ObjectID.hashing([42]))
        _ = try Self.index(entries, as: id, store: store, into: index)
        let leaves = try #require(try index.leafNumbers(of: [id])[id])
        let counts = try index.matchCounts("\"label__Leaf\" = 'x1'", leaves: leaves)
        #expect(counts.values.map(\.count).reduce(0, +) == 15)
        #expect(Set(counts.keys).isSubset(of: Set(leaves)))
    }

    /// Label names that SQLite would confuse with its own or with each other (found in review):
    /// `rowid` once hid the row numbers and emptied every query; `Speaker` beside an earlier
    /// `speaker` failed to add a column.
    @Test func labelNamesCannotClashWithTheIndexOrEachOther() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-sample-index-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 1)
        let index = try SampleIndex(path: dir + "/samples.sqlite")
        func relabel(_ e: ManifestEntry, _ name: String, _ value: LabelValue) -> ManifestEntry {
            var e = e
            e.annotations = SampleAnnotations(labels: [LabelField(name, value)])
            return e
        }
        let base = (0..<40).map { Self.sample($0, lang: "en") }
        let snapshots: [(String, LabelValue)] = [("rowid", .int(7)), ("speaker", .string("a")), ("Speaker", .string("B")), ("_n", .int(1))]
        for (i, (name, value)) in snapshots.enumerated() {
            let entries = base.map { relabel($0, name, value) }
            let id = CommitID(ObjectID.hashing([UInt8(i)]))
            _ = try Self.index(entries, as: id, store: store, into: index)
            let all: (Bool) -> Bool = { _ in true }
            let r = try index.run(
                "SELECT count(*), min(\"\(name)\") FROM sample", snapshot: id, includeWords: false, words: { _ in [] },
                allows: all)
            #expect(r.rows == [[.int(40), value]], "label \(name)")
            let expected = try SampleQuery.run(
                "SELECT * FROM sample", entries: entries, includeWords: false, words: { _ in [] }, allows: all)
            #expect(
                try index.run("SELECT * FROM sample", snapshot: id, includeWords: false, words: { _ in [] }, allows: all).rows
                    == expected.rows)
        }
    }

    @Test func aFileOfAnotherFormatIsRebuilt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-sample-index-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/samples.sqlite"
        // The audit cache's layout before the index: a `sample` table, no format number.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [path, "CREATE TABLE sample (path, _leaf); CREATE TABLE snapshot (id TEXT PRIMARY KEY, leaves BLOB);"]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let index = try SampleIndex(path: path)
        let id = CommitID(ObjectID.hashing([7]))
        #expect(try index.missing([id]) == [id])
        let store = SnapshotStore(objects: InMemoryObjectStore(), workers: 1)
        #expect(try Self.index([Self.sample(1, lang: "en")], as: id, store: store, into: index) == 1)
        let r = try index.run("SELECT path, lang FROM sample", snapshot: id, includeWords: false, words: { _ in [] }, allows: { _ in true })
        #expect(r.rows == [[.string("clips/00001.wav"), .string("en")]])
    }
}
