import DVSCore
import Testing

@testable import DVSLabels

/// `TableRowEdit`: which edits of a label table it follows row by row, and that its joins give
/// what a full build gives for those rows.
@Suite struct TableRowEditTests {
    static let wav = AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 16000, channelCount: 1, frameCount: 16000)

    static func sample(_ path: String) -> LabelTreeFile {
        LabelTreeFile(path: RepoPath(path), blob: ObjectID.hashing(Array(path.utf8)), byteCount: 100, audio: wav)
    }

    static func edit(_ old: String, _ new: String, at path: String = "labels.csv") -> TableRowEdit? {
        TableRowEdit(path: RepoPath(path), old: Array(old.utf8), new: Array(new.utf8))
    }

    @Test func followsRowsRewrittenInPlace() throws {
        let old = "path,lang,label\na/1.wav,en,yes\na/2.wav,es,no\na/3.wav,en,yes\n"
        let new = "path,lang,label\na/1.wav,en,yes\na/2.wav,es,maybe\na/3.wav,fr,yes\n"
        let e = try #require(Self.edit(old, new))
        #expect(e.candidatePaths.map(\.string) == ["a/2.wav", "a/3.wav"])
        let joined = try #require(e.annotations(files: [Self.sample("a/2.wav"), Self.sample("a/3.wav")]))
        #expect(joined[RepoPath("a/2.wav")]?.before?[label: "label"] == .string("no"))
        #expect(joined[RepoPath("a/2.wav")]?.after?[label: "label"] == .string("maybe"))
        #expect(joined[RepoPath("a/3.wav")]?.after?[label: "lang"] == .string("fr"))
        #expect(joined[RepoPath("a/3.wav")]?.after?.sources == ["labels.csv"])
        // The same rows in a full build of the new table.
        let full = try LabelBuilder.build(
            files: [
                Self.sample("a/1.wav"), Self.sample("a/2.wav"), Self.sample("a/3.wav"),
                LabelTreeFile(path: RepoPath("labels.csv"), blob: ObjectID.hashing(Array(new.utf8)), byteCount: 0, audio: nil),
            ],
            read: { _ in Array(new.utf8) })
        #expect(full.samples[RepoPath("a/2.wav")] == joined[RepoPath("a/2.wav")]?.after)
        #expect(full.samples[RepoPath("a/3.wav")] == joined[RepoPath("a/3.wav")]?.after)
    }

    @Test func tsvAndRowsRelativeToTheTablesFolder() throws {
        let e = try #require(Self.edit("path\tlabel\n1.wav\tyes\n2.wav\tno", "path\tlabel\n1.wav\tyes\n2.wav\tyes", at: "d/t.tsv"))
        #expect(e.candidatePaths.map(\.string) == ["2.wav", "d/2.wav"])
        let joined = try #require(e.annotations(files: [Self.sample("d/2.wav")]))
        #expect(joined[RepoPath("d/2.wav")]?.after?[label: "label"] == .string("yes"))
    }

    /// Tables longer than the 4 KiB blocks the common prefix and suffix are compared in: the
    /// changed rows are found wherever they are (first row, middle, last row), and an empty side
    /// is refused, not read past its end.
    @Test func findsChangedRowsInALongTable() throws {
        let rows = (0..<3000).map { "spk\($0 % 40)/u\($0).wav,\(["yes", "no"][$0 % 2])\n" }
        let old = "path,label\n" + rows.joined()
        for changed in [0, 1500, 2999] {
            var edited = rows
            edited[changed] = "spk\(changed % 40)/u\(changed).wav,maybe\n"
            let e = try #require(Self.edit(old, "path,label\n" + edited.joined()))
            #expect(e.candidatePaths.map(\.string) == ["spk\(changed % 40)/u\(changed).wav"])
            #expect(e.rows.count == 1)
        }
        #expect(Self.edit("", "path,label\n") == nil)
        #expect(Self.edit("path,label\n", "") == nil)
    }

    @Test func refusesWhatAFullBuildMustSee() {
        let base = "path,label\na.wav,yes\nb.wav,no\n"
        #expect(Self.edit(base, "path,label,x\na.wav,yes,\nb.wav,no,\n") == nil)  // header changed
        #expect(Self.edit(base, base + "c.wav,no\n") == nil)  // row added
        #expect(Self.edit(base, "path,label\na.wav,yes\n") == nil)  // row removed
        #expect(Self.edit(base, "path,label\na.wav,yes\nc.wav,no\n") == nil)  // row names another sample
        #expect(Self.edit(base, "path,label\na.wav,yes\nb.wav,\"no\"\n") == nil)  // quoting
        #expect(Self.edit(base, "path,label\na.wav,yes\nb.wav,no,extra\n") == nil)  // field count
        #expect(Self.edit("path,label\nb.wav,no\nx/b.wav,no\n", "path,label\nb.wav,yes\nx/b.wav,no\n") == nil)  // same file name twice
        #expect(Self.edit(base, base, at: "metadata.csv") == nil)  // Hugging Face layout
        // Another spelling of the same file elsewhere in the table (`a.wav/.`, `x/../a.wav`).
        #expect(Self.edit("path,label\na.wav,x\nb.wav,z\na.wav/.,x\n", "path,label\na.wav,y\nb.wav,z\na.wav/.,x\n") == nil)
        #expect(Self.edit("path,label\na.wav,x\nx/../a.wav,x\n", "path,label\na.wav,y\nx/../a.wav,x\n") == nil)
        #expect(Self.edit("path,label\na.wav/,x\nb.wav,z\n", "path,label\na.wav/,y\nb.wav,z\n") == nil)
        #expect(Self.edit("file,label\na.wav,yes\n", "file,label\na.wav,no\n") == nil)  // not a plain table
        // A row that resolves to no sample is left to the full build (which reports it).
        let e = Self.edit(base, "path,label\na.wav,yes\nb.wav,maybe\n")
        #expect(e != nil)
        #expect(e?.annotations(files: []) == nil)
    }

    @Test func namesNoRowFindsEveryRowThatCanNameAFile() {
        func none(_ names: [String], _ table: String, at path: String = "labels.csv") -> Bool {
            TableRowEdit.namesNoRow(Set(names.map { Array($0.utf8) }), inTable: Array(table.utf8), path: RepoPath(path))
        }
        let table = "path,label\nspk0/a.wav,yes\nb.wav,no\r\n./x/../c.wav,no\n"
        #expect(none(["new.wav", "a.wa", "wav"], table))
        #expect(!none(["a.wav"], table))  // in another folder too: a row may name it by a later candidate
        #expect(!none(["b.wav"], table))  // CRLF line
        #expect(!none(["c.wav"], table))  // another spelling of a path
        #expect(!none(["new.wav", "b.wav"], table))
        // Many names (a commit adding a folder of recordings) are looked up by hash, not each
        // compared with every row: the same answers.
        let many = (0..<50).map { "n\($0).wav" }
        #expect(none(many, table))
        #expect(!none(many + ["b.wav"], table))
        #expect(!none(many + ["c.wav"], table))
        #expect(none(["x"], "path\tlabel\n1.wav\tyes\n", at: "d/t.tsv"))
        #expect(!none(["1.wav"], "path\tlabel\n1.wav\tyes\n", at: "d/t.tsv"))
        // What the check cannot read answers no.
        #expect(!none(["new.wav"], "path,label\na.wav,\"yes\"\n"))  // quoting
        #expect(!none(["new.wav"], "path,label\na.wav/.,yes\n"))  // a key that does not end in a file name
        #expect(!none(["new.wav"], "file,label\na.wav,yes\n"))  // not a plain table
        #expect(!none(["new.wav"], table, at: "metadata.csv"))  // Hugging Face layout
        #expect(!none(["caf\u{E9}.wav"], table))  // non-ASCII: a row may meet it by normalisation
        #expect(!none(["."], table))
    }
}
