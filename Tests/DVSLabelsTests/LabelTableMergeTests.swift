import DVSCore
import Testing

@testable import DVSLabels

/// The three-way merge of one label table from bytes (`LabelTableMerge.merge`): no repository,
/// no disk.
@Suite struct LabelTableMergeTests {
    func merge(
        _ path: String = "labels.csv", base: String?, ours: String, theirs: String, ourRenames: [String: String] = [:],
        theirRenames: [String: String] = [:], prefer: MergePreference? = nil
    ) throws -> LabelTableMerge.Outcome {
        func renames(_ m: [String: String]) -> [RepoPath: RepoPath] {
            Dictionary(uniqueKeysWithValues: m.map { (RepoPath($0.key), RepoPath($0.value)) })
        }
        return try #require(
            try LabelTableMerge.merge(
                path: RepoPath(path), base: base.map { Array($0.utf8) }, ours: Array(ours.utf8), theirs: Array(theirs.utf8),
                ourRenames: renames(ourRenames), theirRenames: renames(theirRenames), prefer: prefer))
    }
    func text(_ o: LabelTableMerge.Outcome) -> String { String(decoding: o.bytes, as: UTF8.self) }

    @Test func differentFieldsOfARowMergeCleanly() throws {
        let o = try merge(
            base: "path,lang,speaker\nclips/a.wav,en,spk1\nclips/b.wav,en,spk2\n",
            ours: "path,lang,speaker\nclips/a.wav,es,spk1\nclips/b.wav,en,spk2\n",
            theirs: "path,lang,speaker\nclips/a.wav,en,spk9\nclips/b.wav,en,spk2\nclips/c.wav,de,spk3\n")
        #expect(o.conflicts.isEmpty && o.keptAgainstDeletion.isEmpty)
        #expect(text(o) == "path,lang,speaker\nclips/a.wav,es,spk9\nclips/b.wav,en,spk2\nclips/c.wav,de,spk3\n")
    }

    @Test func theSameFieldChangedTwoWaysHoldsConflictMarkersInItsCell() throws {
        let base = "path,lang\nclips/a.wav,en\n"
        let ours = "path,lang\nclips/a.wav,es\n"
        let theirs = "path,lang\nclips/a.wav,fr\n"
        let o = try merge(base: base, ours: ours, theirs: theirs)
        #expect(o.conflicts == [RowConflict(kind: .field, key: "clips/a.wav", field: "lang", base: "en", ours: "es", theirs: "fr")])
        #expect(text(o) == "path,lang\nclips/a.wav,<<<<<<< ours: es ||||||| base: en ======= theirs: fr >>>>>>>\n")
        #expect(text(try merge(base: base, ours: ours, theirs: theirs, prefer: .ours)) == ours)
        #expect(text(try merge(base: base, ours: ours, theirs: theirs, prefer: .theirs)) == theirs)
        // Both sides added the row, differently: the same markers, named add-add.
        let added = try merge(base: nil, ours: ours, theirs: theirs)
        #expect(added.conflicts.map(\.kind) == [.addAdd])
    }

    @Test func aRowDeletedOnOneSideAndEditedOnTheOtherKeepsTheEditAndItsSample() throws {
        let o = try merge(
            "data/labels.csv", base: "path,lang\na.wav,en\nb.wav,en\n", ours: "path,lang\na.wav,en\n",
            theirs: "path,lang\na.wav,en\nb.wav,de\n")
        #expect(o.conflicts.map(\.kind) == [.deleteEdit] && o.conflicts[0].key == "b.wav" && o.conflicts[0].ours == nil)
        #expect(text(o) == "path,lang\na.wav,en\nb.wav,de\n")
        #expect(o.keptAgainstDeletion.map(\.side) == [.theirs] && o.keptAgainstDeletion[0].key == "b.wav")
        #expect(o.keptAgainstDeletion[0].candidates.first == RepoPath("data/b.wav"), "references resolve from the table's folder")
        // Preferring the deleting side drops the row, with nothing kept.
        let deleted = try merge(
            "data/labels.csv", base: "path,lang\na.wav,en\nb.wav,en\n", ours: "path,lang\na.wav,en\n",
            theirs: "path,lang\na.wav,en\nb.wav,de\n", prefer: .ours)
        #expect(deleted.conflicts.isEmpty && deleted.keptAgainstDeletion.isEmpty && text(deleted) == "path,lang\na.wav,en\n")
    }

    @Test func quotingByteOrderMarkAndLineEndsAreKept() throws {
        let base = "\u{FEFF}path,lang,text\r\nclips/a.wav,en,\"hello, world\"\r\nclips/b.wav,en,\"say \"\"hi\"\"\"\r\n"
        let ours = "\u{FEFF}path,lang,text\r\nclips/a.wav,en,\"hello, world\"\r\nclips/b.wav,es,\"say \"\"hi\"\"\"\r\n"
        let theirs =
            "\u{FEFF}path,lang,text\r\nclips/a.wav,en,\"hello, world\"\r\nclips/b.wav,en,\"say \"\"hi\"\", again\"\r\n"
        let o = try merge(base: base, ours: ours, theirs: theirs)
        #expect(o.conflicts.isEmpty)
        #expect(
            text(o)
                == "\u{FEFF}path,lang,text\r\nclips/a.wav,en,\"hello, world\"\r\nclips/b.wav,es,\"say \"\"hi\"\", again\"\r\n",
            "the untouched row keeps its bytes; the merged row is quoted again, with the file's CRLF")
        let jsonl = try merge(
            "t.jsonl", base: "{\"path\": \"a.wav\", \"lang\": \"en\"}\n", ours: "{\"path\": \"a.wav\", \"lang\": \"en\"}\n",
            theirs: "{\"path\": \"a.wav\", \"lang\": \"en\"}\n{\"path\": \"b.wav\", \"lang\": \"de\"}\n")
        #expect(text(jsonl) == "{\"path\": \"a.wav\", \"lang\": \"en\"}\n{\"path\": \"b.wav\", \"lang\": \"de\"}\n")
    }

    @Test func aRelabelFollowsAFileTheOtherSideRenamed() throws {
        // They renamed clips/a.wav to clips/a2.wav (file and row); we relabeled clips/a.wav.
        let o = try merge(
            base: "path,lang\nclips/a.wav,en\nclips/b.wav,en\n", ours: "path,lang\nclips/a.wav,es\nclips/b.wav,en\n",
            theirs: "path,lang\nclips/a2.wav,en\nclips/b.wav,en\n", theirRenames: ["clips/a.wav": "clips/a2.wav"])
        #expect(o.conflicts.isEmpty)
        #expect(text(o) == "path,lang\nclips/a2.wav,es\nclips/b.wav,en\n")
        // The same the other way round: we renamed, they relabeled.
        let r = try merge(
            base: "path,lang\nclips/a.wav,en\n", ours: "path,lang\nclips/a2.wav,en\n", theirs: "path,lang\nclips/a.wav,fr\n",
            ourRenames: ["clips/a.wav": "clips/a2.wav"])
        #expect(r.conflicts.isEmpty && text(r) == "path,lang\nclips/a2.wav,fr\n")
        // Without the rename the relabel is an edit of a row they deleted.
        let plain = try merge(
            base: "path,lang\nclips/a.wav,en\n", ours: "path,lang\nclips/a.wav,es\n", theirs: "path,lang\nclips/a2.wav,en\n")
        #expect(plain.conflicts.map(\.kind) == [.deleteEdit])
    }

    @Test func otherFilesAreNotTablesAndBrokenTablesAreRefused() throws {
        #expect(
            try LabelTableMerge.merge(path: RepoPath("README.md"), base: nil, ours: Array("a\n".utf8), theirs: Array("b\n".utf8)) == nil)
        #expect(try LabelTableMerge.merge(path: RepoPath("meta.json"), base: nil, ours: Array("{}".utf8), theirs: Array("[]".utf8)) == nil)
        #expect(throws: RowTable.Refusal.self) {
            try LabelTableMerge.merge(
                path: RepoPath("labels.csv"), base: nil, ours: Array("path,lang\na.wav,\"en\n".utf8),
                theirs: Array("path,lang\na.wav,en\n".utf8))
        }
    }
}
