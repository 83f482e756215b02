import DVSCore
import DVSLabels
import Foundation
import Testing

@testable import DVS

/// The three-way tree merge (`TreeMerge`) on entries and bytes held in memory: no repository,
/// no disk.
@Suite struct TreeMergeTests {
    /// Blob bytes by id, standing in for a repository's store.
    final class Store {
        var blobs: [ObjectID: [UInt8]] = [:]
        var reads = 0
        /// An entry for `path` holding `text`, its bytes stored.
        func file(_ path: String, _ text: String, kind: FileKind = .file) -> ManifestEntry {
            let bytes = Array(text.utf8)
            let id = ObjectID.hashing(bytes)
            blobs[id] = bytes
            return ManifestEntry(path: RepoPath(path), kind: kind, blob: id, byteCount: UInt64(bytes.count))
        }
        /// A sample: an entry with audio facts, `seed` standing for its content.
        func sample(_ path: String, _ seed: String) -> ManifestEntry {
            var e = file(path, "RIFF" + seed)
            e.audio = AudioFacts(container: "wav", encoding: "pcm16", sampleRate: 16000, channelCount: 1, frameCount: 16000)
            return e
        }
        func content(_ id: ObjectID) throws -> [UInt8] {
            reads += 1
            guard let b = blobs[id] else { throw DVSError(.corrupt, "no blob \(id.short)") }
            return b
        }
        func merge(
            base: [ManifestEntry], ours: [ManifestEntry], theirs: [ManifestEntry], prefer: MergePreference? = nil
        ) throws -> TreeMergeResult {
            func sorted(_ e: [ManifestEntry]) -> [ManifestEntry] { e.sorted { $0.path < $1.path } }
            return try TreeMerge(content: { try self.content($0) }, prefer: prefer)
                .merge(base: sorted(base), ours: sorted(ours), theirs: sorted(theirs))
        }
        /// The merged file's text, from the merge's new blobs or the store.
        func text(_ r: TreeMergeResult, _ path: String) -> String? {
            guard let e = r.entries.first(where: { $0.path.string == path }) else { return nil }
            return (r.newContent[e.blob] ?? blobs[e.blob]).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    func paths(_ r: TreeMergeResult) -> [String] { r.entries.map(\.path.string) }

    @Test func changesOnDifferentPathsMergeWithoutReadingContent() throws {
        let s = Store()
        let a = s.sample("clips/a.wav", "a")
        let b = s.sample("clips/b.wav", "b")
        let readme = s.file("README.md", "notes\n")
        let r = try s.merge(
            base: [a, b, readme], ours: [a, b, readme, s.sample("clips/c.wav", "c")],
            theirs: [a, s.file("README.md", "notes, more\n")])
        #expect(r.conflicts.isEmpty && r.sideFiles.isEmpty && r.newContent.isEmpty)
        #expect(paths(r) == ["README.md", "clips/a.wav", "clips/c.wav"], "their deletion of b and our addition of c both apply")
        #expect(s.text(r, "README.md") == "notes, more\n")
        #expect(s.reads == 0, "a path changed on one side only is taken whole")
    }

    @Test func bothSidesAddingTheSameFileIsNoConflict() throws {
        let s = Store()
        let base = [s.file("a.txt", "a\n")]
        let r = try s.merge(base: base, ours: base + [s.sample("clips/new.wav", "x")], theirs: base + [s.sample("clips/new.wav", "x")])
        #expect(r.conflicts.isEmpty && paths(r) == ["a.txt", "clips/new.wav"])
        // Added differently: ours stays, theirs beside it.
        let d = try s.merge(base: base, ours: base + [s.sample("clips/new.wav", "x")], theirs: base + [s.sample("clips/new.wav", "y")])
        #expect(d.conflicts.map(\.kind) == [.addAdd] && d.sideFiles.map(\.path.string) == ["clips/new.wav~theirs"])
        #expect(d.entries.first { $0.path.string == "clips/new.wav" }?.blob == s.sample("x", "x").blob)
    }

    @Test func aRenameOnOneSideTakesAnEditFromTheOther() throws {
        let s = Store()
        let base = [s.sample("clips/a.wav", "a"), s.sample("clips/b.wav", "b")]
        let edited = s.sample("clips/a.wav", "a, trimmed")
        let r = try s.merge(base: base, ours: [s.sample("clips/renamed.wav", "a"), base[1]], theirs: [edited, base[1]])
        #expect(r.conflicts.isEmpty)
        #expect(paths(r) == ["clips/b.wav", "clips/renamed.wav"])
        #expect(r.entries[1].blob == edited.blob, "the edit lands at the new path")
        // The same content added under two paths is a copy, not a rename: their edit meets our deletion.
        let copies = try s.merge(
            base: base, ours: [s.sample("clips/one.wav", "a"), s.sample("clips/two.wav", "a"), base[1]], theirs: [edited, base[1]])
        #expect(copies.conflicts.map(\.kind) == [.deleteModify])
    }

    @Test func renameDetectionFollowsTheDiffRule() {
        let s = Store()
        let a = s.sample("a.wav", "a")
        var moved = a
        moved.path = RepoPath("z/a.wav")
        let link = s.file("l", "a.wav", kind: .symlink)
        let rows = [
            MergePathRow(path: a.path, base: a, ours: nil, theirs: a),
            MergePathRow(path: link.path, base: nil, ours: link, theirs: nil),
            MergePathRow(path: moved.path, base: nil, ours: moved, theirs: nil),
        ]
        #expect(MergeRenames.detect(rows, side: \.ours) == [a.path: moved.path])
        #expect(MergeRenames.detect(rows, side: \.theirs).isEmpty)
    }

    @Test func deleteAgainstEditKeepsTheEditAndSaysSo() throws {
        let s = Store()
        let base = [s.file("notes.txt", "n\n"), s.sample("clips/a.wav", "a")]
        let edited = s.sample("clips/a.wav", "a2")
        let r = try s.merge(base: base, ours: [base[0]], theirs: [base[0], edited])
        #expect(r.conflicts.map(\.kind) == [.deleteModify] && r.conflicts[0].path == "clips/a.wav")
        #expect(r.entries.contains(edited) && r.sideFiles.isEmpty)
        let mirrored = try s.merge(base: base, ours: [base[0], edited], theirs: [base[0]])
        #expect(mirrored.conflicts.map(\.kind) == [.modifyDelete] && mirrored.entries.contains(edited))
        let preferred = try s.merge(base: base, ours: [base[0]], theirs: [base[0], edited], prefer: .ours)
        #expect(preferred.conflicts.isEmpty && paths(preferred) == ["notes.txt"], "ours deleted it")
    }

    @Test func binaryAndJSONFilesChangedBothWaysConflictWhole() throws {
        let s = Store()
        let base = [s.file("meta.json", "{\"a\": 1}\n"), s.file("stats.bin", "\u{0}base\n")]
        let ours = [s.file("meta.json", "{\"a\": 2}\n"), s.file("stats.bin", "\u{0}ours\n")]
        let theirs = [s.file("meta.json", "{\"a\": 3}\n"), s.file("stats.bin", "\u{0}theirs\n")]
        let r = try s.merge(base: base, ours: ours, theirs: theirs)
        #expect(r.conflicts.map { "\($0.kind) \($0.path)" } == ["modify-modify meta.json", "modify-modify stats.bin"])
        #expect(r.sideFiles.map(\.path.string) == ["meta.json~theirs", "stats.bin~theirs"])
        #expect(r.sideFiles.map(\.blob) == theirs.map(\.blob) && s.text(r, "stats.bin") == "\u{0}ours\n")
        let t = try s.merge(base: base, ours: ours, theirs: theirs, prefer: .theirs)
        #expect(t.conflicts.isEmpty && t.sideFiles.isEmpty && t.entries.map(\.blob) == theirs.map(\.blob))
    }

    @Test func textFilesMergeByLines() throws {
        let s = Store()
        let base = [s.file("README.md", "one\ntwo\nthree\n")]
        let r = try s.merge(
            base: base, ours: [s.file("README.md", "ONE\ntwo\nthree\n")], theirs: [s.file("README.md", "one\ntwo\nTHREE\n")])
        #expect(r.conflicts.isEmpty && s.text(r, "README.md") == "ONE\ntwo\nTHREE\n")
        let c = try s.merge(
            base: base, ours: [s.file("README.md", "uno\ntwo\nthree\n")], theirs: [s.file("README.md", "eins\ntwo\nthree\n")])
        #expect(c.conflicts.map(\.kind) == [.text])
        #expect(s.text(c, "README.md")?.contains("<<<<<<< ours\nuno\n||||||| base\none\n=======\neins\n>>>>>>> theirs\n") == true)
        // The line merge is a parameter: one that refuses makes the file a whole-file conflict.
        var refusing = TreeMerge(content: { try s.content($0) })
        refusing.mergeText = { _, _, _, _ in nil }
        let whole = try refusing.merge(
            base: base, ours: [s.file("README.md", "ONE\ntwo\nthree\n")], theirs: [s.file("README.md", "one\ntwo\nTHREE\n")])
        #expect(whole.conflicts.map(\.kind) == [.modifyModify])
    }

    @Test func labelTablesMergeByRowsAndKeepTheSampleOfAKeptRow() throws {
        let s = Store()
        let a = s.sample("clips/a.wav", "a")
        let b = s.sample("clips/b.wav", "b")
        let base = [a, b, s.file("labels.csv", "path,lang,speaker\nclips/a.wav,en,s1\nclips/b.wav,en,s2\n")]
        let r = try s.merge(
            base: base, ours: [a, b, s.file("labels.csv", "path,lang,speaker\nclips/a.wav,es,s1\nclips/b.wav,en,s2\n")],
            theirs: [a, b, s.file("labels.csv", "path,lang,speaker\nclips/a.wav,en,s9\nclips/b.wav,it,s2\n")])
        #expect(r.conflicts.isEmpty && s.text(r, "labels.csv") == "path,lang,speaker\nclips/a.wav,es,s9\nclips/b.wav,it,s2\n")
        #expect(r.newContent.count == 1)
        // Same field two ways: a field conflict; we delete b with its row, they relabel it.
        let c = try s.merge(
            base: base, ours: [a, s.file("labels.csv", "path,lang,speaker\nclips/a.wav,es,s1\n")],
            theirs: [a, b, s.file("labels.csv", "path,lang,speaker\nclips/a.wav,fr,s1\nclips/b.wav,it,s2\n")])
        #expect(c.conflicts.map(\.kind) == [.field, .deleteEdit])
        #expect(c.conflicts[0].key == "clips/a.wav" && c.conflicts[0].field == "lang" && c.conflicts[0].ours == "es")
        #expect(paths(c) == ["clips/a.wav", "clips/b.wav", "labels.csv"], "the kept row's sample stays")
        #expect(c.conflicts[1].message.hasSuffix("its audio 'clips/b.wav' was kept too (delete both to take the deletion)"))
    }

    @Test func aCohortBaseCutKeepsSamplesTheCohortNeverHad() throws {
        let s = Store()
        let en = s.sample("clips/en.wav", "en")
        let es = s.sample("clips/es.wav", "es")
        let base = [en, es]
        var cuts: [String] = []
        let cutBase = CohortMergeRules.cutBase(base, predicates: [nil, "lang = 'es'", "lang = 'es'"]) { entries, predicate in
            cuts.append(predicate)
            return entries.filter { $0.path != en.path }
        }
        #expect(cuts == ["lang = 'es'"] && cutBase == [es], "each distinct predicate cuts once")
        // Main (ours) keeps en; the cohort (theirs) never had it and added a sample.
        let ours = base
        let theirs = [es, s.sample("clips/es2.wav", "es2")]
        #expect(
            paths(try s.merge(base: base, ours: ours, theirs: theirs)) == ["clips/es.wav", "clips/es2.wav"], "uncut, en reads as deleted")
        #expect(paths(try s.merge(base: cutBase, ours: ours, theirs: theirs)) == ["clips/en.wav", "clips/es.wav", "clips/es2.wav"])
        #expect(CohortMergeRules.allowsFastForward(theirCut: nil, ourCut: nil))
        #expect(CohortMergeRules.allowsFastForward(theirCut: "lang = 'es'", ourCut: "lang = 'es'"))
        #expect(!CohortMergeRules.allowsFastForward(theirCut: "lang = 'es'", ourCut: nil))
    }

    @Test func conflictKindsEncodeAsTheirNames() throws {
        let c = MergeConflict(
            kind: .addAddRow, path: "labels.csv", key: "a.wav", field: "lang", base: nil, ours: "es", theirs: "fr", message: "m")
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        #expect(
            String(decoding: try enc.encode(c), as: UTF8.self)
                == #"{"field":"lang","key":"a.wav","kind":"add-add-row","message":"m","ours":"es","path":"labels.csv","theirs":"fr"}"#)
        #expect(try JSONDecoder().decode(MergeConflict.self, from: enc.encode(c)) == c)
        #expect(
            [
                MergeConflict.Kind.modifyModify, .addAdd, .modifyDelete, .deleteModify, .table, .text, .field, .addAddRow, .deleteEdit,
                .labels,
            ]
            .map(\.rawValue) == [
                "modify-modify", "add-add", "modify-delete", "delete-modify", "table", "text", "field", "add-add-row", "delete-edit",
                "labels",
            ])
    }
}

/// `.dvs/MERGE_STATE` on its own: write, read, clear.
@Suite struct MergeStateFileTests {
    @Test func writesReadsAndClears() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-merge-state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = MergeStateFile(path: dir + "/MERGE_STATE", tmpDir: dir)
        #expect(file.read() == nil)
        let state = MergeState(
            ours: CommitID(hex: String(repeating: "a", count: 64))!, theirs: CommitID(hex: String(repeating: "b", count: 64))!,
            theirsName: "side", base: nil,
            message: "Merge side into main",
            conflicts: [
                MergeConflict(kind: .text, path: "README.md", key: nil, field: nil, base: nil, ours: nil, theirs: nil, message: "m")
            ],
            added: [RepoPath("new.txt")], sideFiles: [RepoPath("x.bin~theirs")], extra: ["cohort": "es"])
        try file.write(state)
        #expect(file.read() == state)
        #expect(state.describedTheirs == "side (refreshing cohort es)" && state.refreshedCohort == "es")
        #expect(state.markedPaths == [RepoPath("README.md")])
        let text = try String(contentsOfFile: file.path, encoding: .utf8)
        #expect(text.contains("\"kind\" : \"text\""), "pretty-printed JSON, kinds by name")
        file.clear()
        #expect(file.read() == nil)
        file.clear()
    }
}
