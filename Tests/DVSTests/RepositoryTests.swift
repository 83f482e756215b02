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

func write(_ s: String, _ path: String) throws { try TestSupport.write(Data(s.utf8), to: path) }

@Suite struct SchemaTests {
    @Test func embeddedMigrationsEqualSchemaFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: TestSupport.packageRoot + "/schema").filter { $0.hasSuffix(".sql") }
            .sorted()
        #expect(files.map { String($0.dropLast(4)) } == CatalogSchema.migrations.map(\.0))
        for (id, sql) in CatalogSchema.migrations {
            let file = try String(contentsOfFile: TestSupport.packageRoot + "/schema/\(id).sql", encoding: .utf8)
            #expect(sql == file, "Migrations.swift is stale for \(id): run scripts/gen-migrations.sh")
        }
    }
}

@Suite struct IgnoreTests {
    @Test func gitignoreSemantics() {
        var r = IgnoreRules()
        r.add(contents: Array("# comment\n*.tmp\n/build/\ncache/\n!keep.tmp\nlogs/**/*.log\ndocs/*.md\n".utf8), base: RepoPath(bytes: []))
        #expect(r.isIgnored(RepoPath("a/b/x.tmp"), isDirectory: false))
        #expect(!r.isIgnored(RepoPath("a/keep.tmp"), isDirectory: false))
        #expect(r.isIgnored(RepoPath("build"), isDirectory: true))
        #expect(!r.isIgnored(RepoPath("src/build"), isDirectory: true), "anchored to the root")
        #expect(!r.isIgnored(RepoPath("build"), isDirectory: false), "folder-only rule")
        #expect(r.isIgnored(RepoPath("x/cache"), isDirectory: true))
        #expect(r.isIgnored(RepoPath("logs/a/b/c.log"), isDirectory: false))
        #expect(r.isIgnored(RepoPath("logs/c.log"), isDirectory: false))
        #expect(r.isIgnored(RepoPath("docs/a.md"), isDirectory: false))
        #expect(!r.isIgnored(RepoPath("docs/x/a.md"), isDirectory: false))
        #expect(!r.isIgnored(RepoPath("clip.wav"), isDirectory: false))
        var nested = IgnoreRules()
        nested.add(contents: Array("*.wav\n".utf8), base: RepoPath("raw"))
        #expect(nested.isIgnored(RepoPath("raw/a/b.wav"), isDirectory: false))
        #expect(!nested.isIgnored(RepoPath("clean/b.wav"), isDirectory: false))
    }
}

@Suite struct RacyRuleTests {
    @Test func entriesRecordedWithinTheTimestampGranularityAreNotTrusted() {
        let t: Int64 = 1_700_000_000_123_456_789
        #expect(isRacy(mtimeNanoseconds: t, recordedAtNanoseconds: t + 10_000_000))
        #expect(!isRacy(mtimeNanoseconds: t, recordedAtNanoseconds: t + 60_000_000))
        let whole: Int64 = 1_700_000_000_000_000_000  // a 1 s granularity file system
        #expect(isRacy(mtimeNanoseconds: whole, recordedAtNanoseconds: whole + 1_500_000_000))
        #expect(!isRacy(mtimeNanoseconds: whole, recordedAtNanoseconds: whole + 2_500_000_000))
    }

    @Test func aQuickSameSizeEditWithAnUnchangedMtimeIsNeverMissed() throws {
        try TestSupport.withTemporaryRepository { repo in
            let path = repo.root + "/notes.txt"
            try write("path,lang\na.wav,en\n", path)
            _ = try repo.commit(CommitOptions(message: "one"))
            var st = stat()
            lstat(path, &st)
            // Same size, same mtime (as an edit within one clock tick would leave it).
            try write("path,lang\na.wav,es\n", path)
            var times = [st.st_atim, st.st_mtim]
            utimensat(AT_FDCWD, path, &times, 0)
            let s = try repo.status()
            #expect(s.changes.map(\.path) == [RepoPath("notes.txt")])
            #expect(s.changes.first?.kind == .modified)
        }
    }

    @Test func statusTrustsTheCacheAndRehashesOnlyChangedFiles() throws {
        try TestSupport.withTemporaryRepository { repo in
            for i in 0..<20 { try write("file \(i)\n", repo.root + "/f\(i).txt") }
            // Make the files older than the racy window.
            for i in 0..<20 { try TestSupport.sh("touch -d '2 minutes ago' f\(i).txt", in: repo.root) }
            _ = try repo.commit(CommitOptions(message: "one"))
            #expect(try repo.status().hashedFiles == 0)
            try write("changed\n", repo.root + "/f3.txt")
            let s = try repo.status()
            #expect(s.hashedFiles == 1)
            #expect(s.changes.map(\.path.string) == ["f3.txt"])
        }
    }
}

@Suite struct CommitCheckoutTests {
    @Test func fileKindsNamesAndEmptyFilesRoundTripByteExact() throws {
        try TestSupport.withTemporaryRepository { repo in
            try write("", repo.root + "/empty.wav")
            try write("#!/bin/sh\necho hi\n", repo.root + "/tools/run.sh")
            chmod(repo.root + "/tools/run.sh", 0o755)
            try write("nfc", repo.root + "/Zo\u{00EB}.txt")
            try write("nfd", repo.root + "/Zoe\u{0308}.txt")
            symlink("tools/run.sh", repo.root + "/link")
            symlink("/etc/passwd", repo.root + "/abs-link")
            try write("ignored", repo.root + "/scratch/tmp.bin")
            try write("scratch/\n", repo.root + "/.dvsignore")
            let s = try repo.commit(CommitOptions(message: "kinds"))
            let paths = try repo.entries(ofManifest: s.commit.manifest).map(\.path)
            #expect(paths.count == 7, "\(paths)")
            #expect(!paths.contains(RepoPath("scratch/tmp.bin")))
            #expect(s.warnings.contains { $0.kind == .unicodeNormalization })
            #expect(s.warnings.contains { $0.kind == .undecodableAudio && $0.path == "empty.wav" })
            try FileManager.default.removeItem(atPath: repo.root + "/scratch")
            try TestSupport.withTemporaryDirectory { out in
                _ = try repo.export("HEAD", to: out + "/x")
                let (same, diff) = try TestSupport.treesEqual(repo.root, out + "/x")
                #expect(same, "\(diff)")
                var st = stat()
                lstat(out + "/x/tools/run.sh", &st)
                #expect(st.st_mode & 0o111 != 0, "executable bit kept")
                lstat(out + "/x/link", &st)
                #expect(st.st_mode & S_IFMT == S_IFLNK, "symlink kept as a link")
                #expect(try String(contentsOfFile: out + "/x/Zoe\u{0308}.txt", encoding: .utf8) == "nfd")
            }
        }
    }

    @Test func nothingToCommitAndAllowEmpty() throws {
        try TestSupport.withTemporaryRepository { repo in
            try write("a", repo.root + "/a.txt")
            let first = try repo.commit(CommitOptions(message: "one"))
            let e = #expect(throws: DVSError.self) { try repo.commit(CommitOptions(message: "two")) }
            #expect(e?.code == .nothingToCommit)
            let empty = try repo.commit(CommitOptions(message: "two", allowEmpty: true))
            #expect(empty.commit.parents == [first.id])
            #expect(empty.commit.manifest == first.commit.manifest)
        }
    }

    @Test func strictRefusesUndecodableAudioAndCommitsNothing() throws {
        try TestSupport.withTemporaryRepository { repo in
            try write("a", repo.root + "/a.txt")
            let first = try repo.commit(CommitOptions(message: "one"))
            let html = try TestSupport.read(TestSupport.fixtures + "/audio_edge/html_error_page_named_wav.wav")
            try TestSupport.write(html, to: repo.root + "/bad.wav")
            let blobsBefore = try repo.catalog.blobIDs()
            let e = #expect(throws: DVSError.self) { try repo.commit(CommitOptions(message: "two", strict: true)) }
            #expect(e?.code == .badInput)
            #expect(e?.details.first?.contains("bad.wav") == true)
            #expect(try repo.headCommit() == first.id)
            #expect(try repo.catalog.blobIDs() == blobsBefore)
            // Without --strict it is stored byte-exact as a plain file, with a warning.
            let s = try repo.commit(CommitOptions(message: "two"))
            #expect(s.warnings.map(\.path) == ["bad.wav"])
            let entry = try repo.entries(ofManifest: s.commit.manifest).first { $0.path == RepoPath("bad.wav") }
            #expect(entry?.audio == nil)
            #expect(try Data(repo.blob(entry!.blob)) == html)
        }
    }

    @Test func checkoutRefusesToLoseWorkThenForceDiscardsIt() throws {
        try TestSupport.withTemporaryRepository { repo in
            try write("v1", repo.root + "/a.txt")
            try write("keep", repo.root + "/b.txt")
            _ = try repo.commit(CommitOptions(message: "one"))
            try write("v2", repo.root + "/a.txt")
            try write("new", repo.root + "/c.txt")
            _ = try repo.commit(CommitOptions(message: "two"))
            try write("local edit", repo.root + "/a.txt")
            let e = #expect(throws: DVSError.self) { try repo.checkout("HEAD~1") }
            #expect(e?.code == .wouldOverwrite)
            #expect(e?.details == ["a.txt (uncommitted changes would be overwritten)"])
            #expect(try String(contentsOfFile: repo.root + "/a.txt", encoding: .utf8) == "local edit", "nothing was changed")
            #expect(FileManager.default.fileExists(atPath: repo.root + "/c.txt"))
            let s = try repo.checkout("HEAD~1", force: true)
            #expect(s.written == 1 && s.removed == 1)
            #expect(try String(contentsOfFile: repo.root + "/a.txt", encoding: .utf8) == "v1")
            #expect(!FileManager.default.fileExists(atPath: repo.root + "/c.txt"))
            #expect(try repo.status().changes.isEmpty)
            // An untracked file in the way of a tracked one.
            try write("mine", repo.root + "/c.txt")
            let e2 = #expect(throws: DVSError.self) { try repo.checkout("main") }
            #expect(e2?.details == ["c.txt (untracked file would be overwritten)"])
            _ = try repo.checkout("main", force: true)
            #expect(repo.currentBranch() == "main")
        }
    }

    @Test func unsafeSnapshotPathsAreRejectedBeforeAnythingIsWritten() throws {
        try TestSupport.withTemporaryRepository { repo in
            try write("x", repo.root + "/ok.txt")
            let good = try repo.commit(CommitOptions(message: "one"))
            let blob = try repo.entries(ofManifest: good.commit.manifest)[0].blob
            for bad in ["../escape.txt", "/tmp/abs.txt", ".dvs/catalog.sqlite", "a/../../x", ".git/hooks/post-checkout"] {
                let entries = [
                    ManifestEntry(path: RepoPath(bad), kind: .file, blob: blob, byteCount: 1),
                    ManifestEntry(path: RepoPath("z-ok.txt"), kind: .file, blob: blob, byteCount: 1),
                ].sorted { $0.path < $1.path }
                let (root, totals, _) = try repo.writeManifest(entries)
                let sig = Signature(name: "Mallory", email: "m@example.com", time: 0)
                let c = Commit(manifest: root, parents: [good.id], author: sig, committer: sig, totals: totals, message: "evil")
                let id = CommitID(try repo.objects.write(c.encoded()))
                try repo.catalog.write { tx in try tx.insertCommit(id, c) }
                let e = #expect(throws: DVSError.self) { try repo.checkout(Revision(id), force: true) }
                #expect(e?.code == .unsafePath, "\(bad)")
                #expect(!FileManager.default.fileExists(atPath: repo.root + "/z-ok.txt"), "nothing written for \(bad)")
                #expect(throws: DVSError.self) { try repo.export(Revision(id), to: repo.root + "/../export-\(UUID().uuidString)") }
            }
            #expect(!FileManager.default.fileExists(atPath: (repo.root as NSString).deletingLastPathComponent + "/escape.txt"))
        }
    }

    @Test func checkoutNeverWritesThroughASymlinkedFolder() throws {
        try TestSupport.withTemporaryDirectory { outside in
            try TestSupport.withTemporaryRepository { repo in
                try write("x", repo.root + "/data/a.txt")
                let one = try repo.commit(CommitOptions(message: "one"))
                try FileManager.default.removeItem(atPath: repo.root + "/data")
                _ = try repo.commit(CommitOptions(message: "two"))
                symlink(outside, repo.root + "/data")  // untracked symlink where the snapshot has a folder
                let e = #expect(throws: DVSError.self) { try repo.checkout(Revision(one.id)) }
                #expect(e != nil)
                #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "nothing written outside the tree")
            }
        }
    }

    /// A checkout that deletes `data/a.txt` must not delete a file of that name behind a symlink
    /// that replaced the folder `data`: the walk never follows it, nor may the comparison of the
    /// differing paths (found in review: `lstat` of `root/data/a.txt` follows `data`).
    @Test func checkoutNeverDeletesThroughASymlinkedFolder() throws {
        try TestSupport.withTemporaryDirectory { outside in
            try TestSupport.withTemporaryRepository { repo in
                try write("x", repo.root + "/data/a.txt")
                try write("keep", repo.root + "/b.txt")
                _ = try repo.commit(CommitOptions(message: "one"))
                try repo.createBranch("without-data", at: "HEAD")
                _ = try repo.checkout("without-data")
                try FileManager.default.removeItem(atPath: repo.root + "/data")
                _ = try repo.commit(CommitOptions(message: "drop data"))
                _ = try repo.checkout("main")
                try FileManager.default.removeItem(atPath: repo.root + "/data")
                try write("x", outside + "/a.txt")
                #expect(symlink(outside, repo.root + "/data") == 0)
                let s = try repo.checkout("without-data")
                #expect(s.removed == 0)
                #expect(FileManager.default.fileExists(atPath: outside + "/a.txt"), "nothing deleted outside the tree")
            }
        }
    }

    @Test func revisionsResolve() throws {
        try TestSupport.withTemporaryRepository { repo in
            var ids: [CommitID] = []
            for i in 0..<4 {
                try write("\(i)", repo.root + "/a.txt")
                ids.append(try repo.commit(CommitOptions(message: "c\(i)")).id)
            }
            #expect(try repo.resolve("HEAD") == ids[3])
            #expect(try repo.resolve("main") == ids[3])
            #expect(try repo.resolve("HEAD~2") == ids[1])
            #expect(try repo.resolve("HEAD^^") == ids[1])
            #expect(try repo.resolve("HEAD~1^") == ids[1])
            #expect(try repo.resolve(Revision(String(ids[0].hex.prefix(8)))) == ids[0])
            #expect(try repo.resolve(Revision(ids[2].hex.uppercased())) == ids[2])
            for bad in ["nope", "HEAD~9", "abc", "HEAD^2"] {
                let e = #expect(throws: DVSError.self) { try repo.resolve(Revision(bad)) }
                #expect(e?.code == .unknownRevision, "\(bad)")
                #expect(e?.hint != nil || e?.next != nil)
            }
            #expect(try repo.log(from: ids[3]).map(\.0) == ids.reversed())
            #expect(try repo.log(from: ids[3], limit: 2).count == 2)
            #expect(try repo.log(from: ids[3], excluding: [ids[1]]).map(\.0) == [ids[3], ids[2]])
        }
    }

    @Test func aOneFileChangeWritesLittleMetadata() throws {
        try TestSupport.withTemporaryRepository { repo in
            for i in 0..<3000 { try write("clip \(i)", repo.root + String(format: "/spk%02d/c%05d.txt", i % 30, i)) }
            _ = try repo.commit(CommitOptions(message: "one"))
            let before = try repo.objects.allIDs().count
            try write("relabelled", repo.root + "/spk07/c00007.txt")
            let s = try repo.commit(CommitOptions(message: "two"))
            let after = try repo.objects.allIDs().count
            #expect(after - before <= 4, "commit + one leaf + ancestors, got \(after - before)")
            #expect(s.metadataBytes < 16 * 1024)
        }
    }
}

@Suite struct FsckTests {
    @Test func aDamagedFrameIsNamedWithItsPackAndPaths() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.speak("one two three", to: repo.root + "/clips/a.wav")
            try write("label", repo.root + "/labels.csv")
            let c = try repo.commit(CommitOptions(message: "one"))
            #expect(try repo.fsck().isClean)
            let entry = try repo.entries(ofManifest: c.commit.manifest).first { $0.path == RepoPath("clips/a.wav") }!
            let loc = try repo.catalog.location(of: entry.blob)!
            let pack = "\(repo.root)/.dvs/packs/\(loc.pack.hex).pack"
            var bytes = try [UInt8](TestSupport.read(pack))
            bytes[Int(loc.entry.offset) + Int(loc.entry.storedLength) / 2] ^= 0x5A
            try Data(bytes).write(to: URL(fileURLWithPath: pack))
            let r = try repo.fsck()
            #expect(r.damaged.count == 1)
            #expect(r.damaged.first?.id == entry.blob.hex)
            #expect(r.damaged.first?.pack == loc.pack.hex)
            #expect(r.damaged.first?.usedBy == ["\(c.id.hex):clips/a.wav"])
            // Checkout of a damaged blob names the object and the path.
            try FileManager.default.removeItem(atPath: repo.root + "/clips/a.wav")
            let e = #expect(throws: DVSError.self) { try repo.checkout("HEAD", force: true) }
            #expect(e?.message.contains("clips/a.wav") == true)
            #expect(e?.message.contains(entry.blob.hex) == true)
            // The command layer renders it as "run 'dvs fsck' to list damaged objects …" (HintsTests).
            #expect(e?.next == .listDamagedObjectsAndPaths)
        }
    }
}

@Suite struct ReindexTests {
    @Test func reindexRebuildsTheBlobIndexAndCommitsFromTheStore() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.speak("reindex me", to: repo.root + "/a.wav")
            try write("x", repo.root + "/b.txt")
            let c = try repo.commit(CommitOptions(message: "one"))
            let before = try repo.catalog.allLocations()
            // Lose the derived tables, as a damaged or foreign catalog would.
            try repo.catalog.write { tx in
                try tx.clearBlobIndex()
                try tx.clearCommitIndex()
            }
            #expect(try repo.catalog.allLocations().isEmpty)
            let r = try repo.reindex()
            #expect(r.blobCount == 2 && r.commitCount == 1 && r.newPackCount == 1 && r.damagedPacks.isEmpty)
            #expect(try repo.catalog.allLocations() == before)
            #expect(try repo.resolve(Revision(String(c.id.hex.prefix(6)))) == c.id)
            #expect(try repo.fsck().isClean)
        }
    }
}
