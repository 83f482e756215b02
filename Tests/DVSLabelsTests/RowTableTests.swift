import DVSCore
import Foundation
import Testing

@testable import DVSLabels

/// Row-level reading, filtering and three-way merging of label tables.
@Suite struct RowTableTests {
    func table(_ text: String, _ path: String = "labels.csv") throws -> RowTable {
        try #require(try RowTable.read(path: RepoPath(path), bytes: Array(text.utf8)))
    }
    func text(_ t: RowTable) -> String { String(decoding: t.encoded(), as: UTF8.self) }

    @Test func untouchedTableRoundTripsByteExact() throws {
        let csv =
            "\u{FEFF}path,lang,text\r\nclips/a.wav,en,\"hello, world\"\r\nclips/b.wav,es,\"say \"\"hi\"\"\"\r\nclips/b.wav,es,second segment"
        let t = try table(csv)
        #expect(t.rows.map(\.key) == ["clips/a.wav", "clips/b.wav", "clips/b.wav#2"])
        #expect(t.rows[0].fields["text"] == "hello, world")
        #expect(text(t) == csv, "BOM, CRLF, quoting and the missing final newline are kept")
        let jsonl =
            "{\"audio_filepath\": \"a.wav\", \"duration\": 1.5, \"text\": \"hi\"}\n{\"audio_filepath\": \"b.wav\", \"duration\": 2, \"text\": \"yo\"}\n"
        let j = try table(jsonl, "train.jsonl")
        #expect(j.rows[1].fields["duration"] == "2")
        #expect(text(j) == jsonl)
    }

    @Test func differentFieldsMergeAndUntouchedRowsKeepTheirBytes() throws {
        let base = try table("path,lang,quality,note\r\nclips/a.wav,en,ok,\"x, y\"\r\nclips/b.wav,en,ok,plain\r\n")
        let ours = try table("path,lang,quality,note\r\nclips/a.wav,en,ok,\"x, y\"\r\nclips/b.wav,fr,ok,plain\r\n")
        let theirs = try table(
            "path,lang,quality,note\r\nclips/a.wav,en,ok,\"x, y\"\r\nclips/b.wav,en,noisy,plain\r\nclips/c.wav,de,ok,\"new, row\"\r\n")
        let (merged, conflicts) = try RowTable.merge(base: base, ours: ours, theirs: theirs)
        #expect(conflicts.isEmpty)
        #expect(
            text(merged)
                == "path,lang,quality,note\r\nclips/a.wav,en,ok,\"x, y\"\r\nclips/b.wav,fr,noisy,plain\r\nclips/c.wav,de,ok,\"new, row\"\r\n"
        )
    }

    @Test func sameFieldTwoWaysIsAConflictShowingAllThreeValues() throws {
        let base = try table("path,lang\nclips/a.wav,en\n")
        let ours = try table("path,lang\nclips/a.wav,es\n")
        let theirs = try table("path,lang\nclips/a.wav,fr\n")
        let (merged, conflicts) = try RowTable.merge(base: base, ours: ours, theirs: theirs)
        #expect(conflicts == [RowConflict(kind: .field, key: "clips/a.wav", field: "lang", base: "en", ours: "es", theirs: "fr")])
        #expect(text(merged).contains("<<<<<<< ours: es ||||||| base: en ======= theirs: fr >>>>>>>"))
        let (o, none) = try RowTable.merge(base: base, ours: ours, theirs: theirs, prefer: .ours)
        #expect(none.isEmpty && text(o) == "path,lang\nclips/a.wav,es\n")
        let (t, _) = try RowTable.merge(base: base, ours: ours, theirs: theirs, prefer: .theirs)
        #expect(text(t) == "path,lang\nclips/a.wav,fr\n")
    }

    @Test func deletedVersusEditedRowIsAConflictKeepingTheEdit() throws {
        let base = try table("path,lang\nclips/a.wav,en\nclips/b.wav,en\n")
        let ours = try table("path,lang\nclips/a.wav,en\n")  // deleted b
        let theirs = try table("path,lang\nclips/a.wav,en\nclips/b.wav,de\n")  // edited b
        let (merged, conflicts) = try RowTable.merge(base: base, ours: ours, theirs: theirs)
        #expect(conflicts.map(\.kind) == [.deleteEdit] && conflicts[0].key == "clips/b.wav" && conflicts[0].ours == nil)
        #expect(text(merged) == "path,lang\nclips/a.wav,en\nclips/b.wav,de\n")
        // Deleted on one side and untouched on the other: the deletion wins, no conflict.
        let (clean, none) = try RowTable.merge(base: base, ours: ours, theirs: base)
        #expect(none.isEmpty && text(clean) == "path,lang\nclips/a.wav,en\n")
    }

    @Test func columnAddedOnOneSideRendersEveryRow() throws {
        let base = try table("path,lang\nclips/a.wav,en\nclips/b.wav,en\n")
        let ours = try table("path,lang\nclips/a.wav,es\nclips/b.wav,en\n")
        let theirs = try table("path,lang,speaker\nclips/a.wav,en,spk1\nclips/b.wav,en,spk2\n")
        let (merged, conflicts) = try RowTable.merge(base: base, ours: ours, theirs: theirs)
        #expect(conflicts.isEmpty)
        #expect(text(merged) == "path,lang,speaker\nclips/a.wav,es,spk1\nclips/b.wav,en,spk2\n")
    }

    @Test func jsonLinesMergeByMember() throws {
        let base = try table("{\"path\": \"a.wav\", \"lang\": \"en\", \"score\": 1}\n", "t.jsonl")
        let ours = try table("{\"path\": \"a.wav\", \"lang\": \"es\", \"score\": 1}\n", "t.jsonl")
        let theirs = try table(
            "{\"path\": \"a.wav\", \"lang\": \"en\", \"score\": 2.5}\n{\"path\": \"b.wav\", \"lang\": \"de\"}\n", "t.jsonl")
        let (merged, conflicts) = try RowTable.merge(base: base, ours: ours, theirs: theirs)
        #expect(conflicts.isEmpty)
        #expect(text(merged) == "{\"path\": \"a.wav\", \"lang\": \"es\", \"score\": 2.5}\n{\"path\": \"b.wav\", \"lang\": \"de\"}\n")
    }

    @Test func filterKeepsRowsBytes() throws {
        let t = try table("path,lang\r\nclips/a.wav,en\r\nclips/b.wav,\"es\"\r\n")
        #expect(text(t.filtered { $0.reference == "clips/b.wav" }) == "path,lang\r\nclips/b.wav,\"es\"\r\n")
    }

    @Test func brokenTablesAndOtherFilesAreRefusedOrSkipped() throws {
        #expect(throws: RowTable.Refusal.self) {
            try RowTable.read(path: RepoPath("labels.csv"), bytes: Array("path,lang\na.wav,\"en\n".utf8))
        }
        #expect(try RowTable.read(path: RepoPath("notes.csv"), bytes: Array("a,b\n1,2\n".utf8)) == nil, "no key column: not a label table")
        #expect(try RowTable.read(path: RepoPath("export.json"), bytes: Array("[]".utf8)) == nil)
    }
}
