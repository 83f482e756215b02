import DVSCatalog
import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// The commit and status that cost what changed (`commitChanges`, `statusOfChanges`), checked
/// against the full path on the same tree: same manifest, same changes.
@Suite struct ChangeCommitTests {
    /// The manifest root a full scan and label join of the tree gives now.
    func fullManifest(_ repo: Repository) throws -> ObjectID {
        let scan = try repo.workingTree.scan(writer: nil, knownBlobs: [], progress: nil)
        let tree = try repo.annotateWorkingTree(scan.entries, previous: try repo.headEntries())
        return ManifestChunk.build(tree.entries).root
    }

    func tone(_ path: String, _ hz: Int, in root: String, seconds: String = "0.25") throws {
        try FileManager.default.createDirectory(
            atPath: ((root + "/" + path) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try TestSupport.sh("sox -n -R -r 16000 -b 16 -c 1 '\(root)/\(path)' synth \(seconds) sine \(hz)")
    }

    func write(_ text: String, _ path: String, in root: String) throws {
        try TestSupport.write(Data(text.utf8), to: root + "/" + path)
    }

    /// Commits and checks the result against the full path; returns why it took the full path.
    @discardableResult
    func commitAndCheck(_ repo: Repository, _ message: String, expectFast: Bool) throws -> CommitSummary {
        let s = try repo.commit(CommitOptions(message: message))
        #expect(s.commit.manifest == (try fullManifest(repo)), "\(message): manifest differs from a full build")
        #expect((s.fullCommitReason == nil) == expectFast, "\(message): \(s.fullCommitReason?.rawValue ?? "fast")")
        // Status of changes and the full status agree (nothing to report right after a commit).
        #expect(try repo.statusOfChanges()?.changes.isEmpty == true, "\(message): status after commit")
        return s
    }

    @Test func commitsOfChangesEqualFullCommits() throws {
        try TestSupport.withTemporaryRepository { repo in
            let root = repo.root
            for i in 0..<6 { try tone("spk\(i % 2)/clip\(i).wav", 200 + 50 * i, in: root) }
            try write("path,label\nspk0/clip0.wav,yes\nspk1/clip1.wav,no\nspk0/clip2.wav,yes\n", "labels.csv", in: root)
            try write("notes\n", "README", in: root)
            let first = try commitAndCheck(repo, "initial", expectFast: false)
            #expect(first.fullCommitReason == .unborn)

            // Audio re-recorded with the same length: labels carry over.
            try tone("spk0/clip0.wav", 999, in: root)
            let s = try commitAndCheck(repo, "re-record", expectFast: true)
            #expect(s.changes.map(\.path.string) == ["spk0/clip0.wav"])
            #expect(s.changes[0].new?.annotations?[label: "label"]?.text == "yes")
            #expect(s.labelTables.map(\.path) == ["labels.csv"])

            // A plain file edited and made executable.
            try write("more notes\n", "README", in: root)
            try TestSupport.sh("chmod +x '\(root)/README'")
            let plain = try commitAndCheck(repo, "plain file", expectFast: true)
            #expect(plain.changes.map(\.path.string) == ["README"])
            // A file appearing, vanishing or becoming a link can change where a label row points
            // (a row names the first candidate path that exists, audio or not), unless no row's
            // key ends in its name.
            try write("x\n", "docs/a.txt", in: root)
            try TestSupport.sh("ln -s README '\(root)/LINK'")
            let added = try commitAndCheck(repo, "files added", expectFast: true)
            #expect(added.changes.map(\.kind) == [.added, .added])
            try FileManager.default.removeItem(atPath: root + "/docs/a.txt")
            try FileManager.default.removeItem(atPath: root + "/LINK")
            let gone = try commitAndCheck(repo, "deletions", expectFast: true)
            #expect(gone.changes.map(\.kind) == [.deleted, .deleted])

            // Status first (it records the hashed file as unsettled), then the commit sees it.
            try tone("spk1/clip3.wav", 777, in: root)
            let st = try repo.status()
            #expect(st.changes.map(\.path.string) == ["spk1/clip3.wav"])
            try commitAndCheck(repo, "after status", expectFast: true)

            // A relabel of one row (and one re-recorded sample) is followed row by row.
            try write("path,label\nspk0/clip0.wav,no\nspk1/clip1.wav,no\nspk0/clip2.wav,yes\n", "labels.csv", in: root)
            try tone("spk0/clip2.wav", 321, in: root)
            let relabel = try commitAndCheck(repo, "relabel", expectFast: true)
            #expect(relabel.changes.map(\.path.string) == ["labels.csv", "spk0/clip2.wav"])
            let head = try repo.headEntries()
            #expect(head.first { $0.path.string == "spk0/clip0.wav" }?.annotations?[label: "label"]?.text == "no")
            #expect(head.first { $0.path.string == "spk0/clip2.wav" }?.annotations?[label: "label"]?.text == "yes")
            // An emptied value, a CRLF row: still the full build's result.
            try write("path,label\nspk0/clip0.wav,\nspk1/clip1.wav,no\r\nspk0/clip2.wav,yes\n", "labels.csv", in: root)
            try commitAndCheck(repo, "emptied value", expectFast: true)

            // What the row-by-row rules cannot follow takes the full path, with the same result.
            try write("path,label\nspk0/clip0.wav,no\nspk1/clip1.wav,no\nspk0/clip2.wav,yes\nspk1/clip3.wav,no\n", "labels.csv", in: root)
            #expect(try commitAndCheck(repo, "row added", expectFast: false).fullCommitReason == .labelSource)
            try write(
                "path,label\nspk0/clip0.wav,\"no, really\"\nspk1/clip1.wav,no\nspk0/clip2.wav,yes\nspk1/clip3.wav,no\n", "labels.csv",
                in: root)
            #expect(try commitAndCheck(repo, "quoted", expectFast: false).fullCommitReason == .labelSource)
            try write(
                "path,label\nspk0/clip0.wav,no\nspk1/clip1.wav,no\nspk0/clip2.wav,yes\nspk1/clip3.wav,no\nspk1/clip1.wav,no\n",
                "labels.csv", in: root)
            #expect(try commitAndCheck(repo, "duplicate row", expectFast: false).fullCommitReason == .labelSource)
            try write(
                "path,label\nspk0/clip0.wav,no\nspk1/clip1.wav,yes\nspk0/clip2.wav,yes\nspk1/clip3.wav,no\nspk1/clip1.wav,yes\n",
                "labels.csv", in: root)
            #expect(try commitAndCheck(repo, "relabel of a duplicated sample", expectFast: false).fullCommitReason == .labelSource)
            // A second table labelling the same sample: its annotations need every source.
            try write("path,speaker\nspk0/clip0.wav,ann\n", "speakers.csv", in: root)
            #expect(try commitAndCheck(repo, "second table", expectFast: false).fullCommitReason == .labelSource)
            try write("path,speaker\nspk0/clip0.wav,bob\n", "speakers.csv", in: root)
            #expect(try commitAndCheck(repo, "relabel in the second table", expectFast: false).fullCommitReason == .labelSource)
            // Samples no row names come, change length and go on the path of changes.
            try tone("spk1/clip9.wav", 444, in: root)
            let newSample = try commitAndCheck(repo, "new sample", expectFast: true)
            #expect(newSample.changes.map(\.kind) == [.added])
            #expect(newSample.changes[0].new?.annotations == nil)
            try tone("spk1/clip9.wav", 444, in: root, seconds: "0.5")
            try commitAndCheck(repo, "longer", expectFast: true)
            try FileManager.default.removeItem(atPath: root + "/spk1/clip9.wav")
            try commitAndCheck(repo, "unlabelled sample deleted", expectFast: true)
            // A labelled sample that goes or changes length, a name a row ends in, a non-ASCII
            // name: the full path.
            try tone("spk1/clip3.wav", 777, in: root, seconds: "0.5")
            #expect(try commitAndCheck(repo, "labelled sample longer", expectFast: false).fullCommitReason == .sampleSet)
            // (A labelled sample deleted leaves its row naming no file: the full path refuses it.)
            try FileManager.default.removeItem(atPath: root + "/spk1/clip3.wav")
            #expect(throws: DVSError.self) { try repo.commit(CommitOptions(message: "labelled sample deleted")) }
            try tone("spk1/clip3.wav", 777, in: root, seconds: "0.5")
            try tone("elsewhere/clip1.wav", 555, in: root)
            #expect(try commitAndCheck(repo, "a name a row ends in", expectFast: false).fullCommitReason == .sampleSet)
            try tone("spk1/cl\u{E9}p.wav", 556, in: root)
            #expect(try commitAndCheck(repo, "non-ASCII name", expectFast: false).fullCommitReason == .sampleSet)

            // Nothing changed: refused, as on the full path.
            #expect(throws: DVSError.self) { try repo.commit(CommitOptions(message: "nothing")) }
        }
    }

    @Test func withoutLabelSourcesFilesComeAndGoOnThePathOfChanges() throws {
        try TestSupport.withTemporaryRepository { repo in
            let root = repo.root
            try tone("a.wav", 300, in: root)
            try write("x\n", "notes.txt", in: root)
            try commitAndCheck(repo, "initial", expectFast: false)
            try write("y\n", "docs/b.txt", in: root)
            try TestSupport.sh("ln -s notes.txt '\(root)/LINK'")
            #expect(try commitAndCheck(repo, "added", expectFast: true).changes.map(\.kind) == [.added, .added])
            try FileManager.default.removeItem(atPath: root + "/notes.txt")
            #expect(try commitAndCheck(repo, "deleted", expectFast: true).changes.map(\.kind) == [.deleted])
            // A name that differs from a committed one only by Unicode normalisation is reported.
            try write("nfc\n", "caf\u{E9}.txt", in: root)
            try commitAndCheck(repo, "NFC name", expectFast: true)
            try TestSupport.write(Data("nfd\n".utf8), to: root + "/cafe\u{301}.txt")
            let twin = try commitAndCheck(repo, "NFD twin", expectFast: true)
            // Both spellings are named (as the full path does: the two names are equal Swift Strings).
            #expect(twin.warnings.map(\.kind) == [.unicodeNormalization, .unicodeNormalization])
            #expect(Set(twin.warnings.map { Array($0.path.utf8) }).count == 2)
        }
    }

    /// A Deepgram response is matched to a sample by the audio's SHA-256 first, so new audio
    /// content can gain or lose a transcript however long it is: the full path.
    @Test func audioChangesBesideDeepgramResponsesTakeTheFullPath() throws {
        try TestSupport.withTemporaryRepository { repo in
            let root = repo.root
            let ds = TestSupport.fixtures + "/dataset"
            try TestSupport.sh(
                "mkdir -p clips && cp '\(ds)/clips/call_0002_stereo.wav' '\(ds)/deepgram/call_0002_stereo.json' clips/", in: root)
            try tone("other.wav", 300, in: root)
            try commitAndCheck(repo, "initial", expectFast: false)
            try tone("other.wav", 600, in: root)
            #expect(try commitAndCheck(repo, "re-recorded", expectFast: false).fullCommitReason == .transcript)
        }
    }

    @Test func checkoutKeepsTheCacheMirroringHEAD() throws {
        try TestSupport.withTemporaryRepository { repo in
            let root = repo.root
            for i in 0..<4 { try tone("c\(i).wav", 300 + 40 * i, in: root) }
            try write("a\n", "notes.txt", in: root)
            try commitAndCheck(repo, "initial", expectFast: false)
            _ = try repo.createBranch("side")
            _ = try repo.checkout(Revision("side"))
            try tone("c1.wav", 901, in: root)
            try FileManager.default.removeItem(atPath: root + "/notes.txt")
            try commitAndCheck(repo, "on side", expectFast: true)
            // Back to main (one sample and one file differ): the cache follows the checkout.
            _ = try repo.checkout(Revision("main"))
            #expect(try repo.catalog.statCacheBase() == repo.headCommit())
            #expect(try repo.statusOfChanges()?.changes.isEmpty == true)
            #expect(FileManager.default.fileExists(atPath: root + "/notes.txt"))
            try write("b\n", "notes.txt", in: root)
            let s = try commitAndCheck(repo, "on main", expectFast: true)
            #expect(s.changes.map(\.path.string) == ["notes.txt"])
            // A status of a deleted file must not forget HEAD held it.
            try FileManager.default.removeItem(atPath: root + "/c0.wav")
            #expect(try repo.status().changes.map(\.kind) == [.deleted])
            #expect(try repo.status().changes.map(\.kind) == [.deleted])
        }
    }

    /// `dvs commit PATH…`: only the files there are committed; everything else keeps HEAD's
    /// entries (label files included) and stays a change in status.
    @Test func commitOfSomePathsLeavesTheRestAsHEADHasIt() throws {
        try TestSupport.withTemporaryRepository { repo in
            let root = repo.root
            try tone("a/1.wav", 300, in: root)
            try tone("a/2.wav", 310, in: root)
            try tone("b/3.wav", 320, in: root)
            try write("path,label\na/1.wav,yes\nb/3.wav,no\n", "labels.csv", in: root)
            try write("notes\n", "README", in: root)
            try commitAndCheck(repo, "initial", expectFast: false)
            func commit(_ message: String, _ paths: [String], strict: Bool = false) throws -> CommitSummary {
                var o = CommitOptions(message: message, strict: strict)
                o.paths = paths.map { RepoPath($0) }
                return try repo.commit(o)
            }
            func label(_ path: String) throws -> String? {
                try repo.headEntries().first { $0.path.string == path }?.annotations?[label: "label"]?.text
            }

            try tone("a/1.wav", 999, in: root)
            try tone("b/3.wav", 998, in: root)
            try write("more\n", "README", in: root)
            try write("path,label\na/1.wav,yes\nb/3.wav,maybe\n", "labels.csv", in: root)
            let onlyA = try commit("a only", ["a"])
            #expect(onlyA.fullCommitReason == nil)
            #expect(onlyA.changes.map(\.path.string) == ["a/1.wav"])
            #expect(try label("a/1.wav") == "yes")
            #expect(try repo.status().changes.map(\.path.string) == ["README", "b/3.wav", "labels.csv"])

            // The relabel alone: the audio of b/3.wav stays HEAD's.
            let relabel = try commit("relabel", ["labels.csv"])
            #expect(relabel.fullCommitReason == nil)
            #expect(relabel.changes.map(\.path.string) == ["labels.csv"])
            #expect(try label("b/3.wav") == "maybe")
            #expect(try repo.status().changes.map(\.path.string) == ["README", "b/3.wav"])

            // The full path (here --strict) keeps the same limit, and reads label files outside it
            // from HEAD, not from the working tree.
            try tone("a/2.wav", 777, in: root)
            try write("path,label\na/1.wav,no\nb/3.wav,maybe\n", "labels.csv", in: root)
            let strict = try commit("strict", ["a/2.wav"], strict: true)
            #expect(strict.fullCommitReason == .strict)
            #expect(strict.changes.map(\.path.string) == ["a/2.wav"])
            #expect(try label("a/1.wav") == "yes")
            #expect(try repo.status().changes.map(\.path.string) == ["README", "b/3.wav", "labels.csv"])

            // Nothing to commit there; a path that names nothing at all.
            #expect(throws: DVSError.self) { try commit("nothing", ["a"]) }
            let unknown = #expect(throws: DVSError.self) { try commit("typo", ["c"]) }
            #expect(unknown?.message.contains("path 'c' matches no file in the working tree or in HEAD") == true)

            // A file deleted below a given folder is committed as deleted.
            try FileManager.default.removeItem(atPath: root + "/a/2.wav")
            let deleted = try commit("deleted", ["a"])
            #expect(deleted.fullCommitReason == nil)
            #expect(deleted.changes.map(\.kind) == [.deleted])

            // A file of HEAD that is a folder now: a path below it would keep both; the folder's
            // own path commits it whole (the old file deleted).
            try FileManager.default.removeItem(atPath: root + "/README")
            try tone("README/take.wav", 340, in: root)
            let both = #expect(throws: DVSError.self) { try commit("below a file", ["README/take.wav"]) }
            #expect(both?.message.contains("'README/take.wav' lies below 'README', which HEAD holds as a file") == true)
            let folder = try commit("file to folder", ["README"])
            #expect(folder.changes.map(\.path.string) == ["README", "README/take.wav"])
            #expect(folder.changes.map(\.kind) == [.deleted, .added])

            // The rest, without paths: on the path of changes again, equal to a full build.
            let rest = try commitAndCheck(repo, "the rest", expectFast: true)
            #expect(rest.changes.map(\.path.string) == ["b/3.wav", "labels.csv"])
            #expect(try label("a/1.wav") == "no")
        }
    }
}
