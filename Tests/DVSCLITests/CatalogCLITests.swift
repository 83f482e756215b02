import DVSTestSupport
import Foundation
import Testing

/// How the CLI reports a catalog it cannot use.
@Suite(.serialized) struct CatalogCLITests {
    @Test func aCorruptCatalogIsAUserFacingErrorWithAHint() throws {
        try T.withTemporaryDirectory { dir in
            #expect(try dvs("init", in: dir).status == 0)
            let catalog = dir + "/.dvs/catalog.sqlite"
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalog + suffix) }
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: catalog))
            let r = try dvs("status", in: dir)
            #expect(r.status == 1, "\(r.stderr)")
            #expect(
                r.stderr
                    == "error: cannot open catalog '\(catalog)': file is not a database\nhint: run 'dvs reindex': it moves the file aside and rebuilds the catalog, refs, reflog and settings included, from .dvs/objects, .dvs/packs, .dvs/reflog and .dvs/config\n",
                "\(r.stderr)")
        }
    }
}

/// git's order, `dvs -C DIR SUBCOMMAND`, runs the subcommand in DIR.
@Suite struct DashCFirstCLITests {
    @Test func dashCBeforeTheSubcommandWorksAsAfterIt() throws {
        try T.withTemporaryDirectory { dir in
            #expect(try dvs("init", in: dir).status == 0)
            let first = try T.run(T.dvsBinary, ["-C", dir, "status"], in: "/")
            let after = try T.run(T.dvsBinary, ["status", "-C", dir], in: "/")
            #expect(first.status == 0 && first.stdout == after.stdout && first.stderr == after.stderr, "\(first.stderr)")
            #expect(first.stdout.hasPrefix("On branch main"), "\(first.stdout)")
        }
    }

    /// `init` takes `-C` as every command does (it was refused as an unknown option), with git's
    /// meaning: `dvs -C DIR init [FOLDER]` makes DIR/FOLDER a repository. A `-C` folder that does
    /// not exist, or is a file, is named as such (it was "not a dvs repository").
    @Test func initTakesDashCAndAMissingFolderIsNamed() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("mkdir -p d && touch file", in: dir)
            let initHere = try T.run(T.dvsBinary, ["-C", dir + "/d", "init"], in: "/")
            #expect(initHere.status == 0 && initHere.stdout == "Initialized empty dvs repository in \(dir)/d/.dvs/\n", "\(initHere.stderr)")
            let initSub = try T.run(T.dvsBinary, ["-C", "d", "init", "sub"], in: dir)
            #expect(
                initSub.status == 0 && initSub.stdout == "Initialized empty dvs repository in \(dir)/d/sub/.dvs/\n", "\(initSub.stderr)")
            for (args, reason) in [
                (["-C", dir + "/missing", "status"], "No such file or directory"),
                (["-C", dir + "/missing", "init"], "No such file or directory"),
                (["-C", dir + "/file", "log"], "it is not a folder"),
            ] {
                let r = try T.run(T.dvsBinary, args, in: "/")
                #expect(r.status == 1, "\(args): \(r.stderr)")
                #expect(
                    r.stdout == "" && r.stderr == "error: cannot run in '\(args[1])': \(reason)\nhint: give a folder that exists\n",
                    "\(args)")
            }
            // clone too: it made the missing folder, with the new repository inside.
            let clone = try T.run(T.dvsBinary, ["-C", dir + "/missing", "clone", dir + "/d", "x"], in: "/")
            #expect(
                clone.status == 1 && clone.stderr.hasPrefix("error: cannot run in '\(dir)/missing': No such file or directory"),
                "\(clone.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/missing"))
        }
    }
}

/// A repository whose `.dvs` cannot be written (a read-only mount): reading commands keep
/// their caches outside it.
@Suite struct ReadOnlyRepositoryCLITests {
    /// Runs `command` with `dir` read-only: as root (whom permissions do not stop) in a private
    /// mount namespace with `dir` bound read-only; otherwise with `.dvs` made unwritable.
    static func readOnly(_ dir: String, _ command: String) throws -> TestSupport.Result {
        if getuid() == 0 {
            return try T.run(
                "/usr/bin/unshare",
                ["-m", "/bin/sh", "-c", T.readOnlyMount(dir) + " && " + command])
        }
        _ = try T.sh("chmod -R a-w '\(dir)/.dvs'")
        defer { _ = try? T.sh("chmod -R u+w '\(dir)/.dvs'") }
        return try T.run("/bin/sh", ["-c", command])
    }

    @Test(.enabled(if: T.canMakeReadOnly, "no read-only bind mount for root here (needs CAP_SYS_ADMIN)"))
    func queryWorksOnAReadOnlyRepositoryWithItsCacheOutside() throws {
        try T.withTemporaryDirectory { dir in
            let repo = dir + "/repo ?#%"  // characters a SQLite URI would read as syntax
            let cache = dir + "/xdg"
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            _ = try T.sh("sox -n -r 16000 -c 1 -b 16 '\(repo)/a.wav' synth 0.5 sine 440")
            _ = try T.sh("sox -n -r 16000 -c 1 -b 16 '\(repo)/maria_lopez.wav' synth 0.7 sine 330")
            #expect(try dvs("init", in: repo).status == 0)
            #expect(try dvs("commit", "-m", "two clips", in: repo).status == 0)
            try? FileManager.default.removeItem(atPath: repo + "/.dvs/cache")
            let query = "XDG_CACHE_HOME='\(cache)' '\(T.dvsBinary)' query -C '\(repo)' 'SELECT path FROM sample ORDER BY path' --format csv"
            let r = try Self.readOnly(repo, query)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout == "path\na.wav\nmaria_lopez.wav\n", "\(r.stdout)")
            #expect(!FileManager.default.fileExists(atPath: repo + "/.dvs/cache"), "nothing written into the read-only .dvs")
            let kept = (try? FileManager.default.contentsOfDirectory(atPath: cache + "/dvs")) ?? []
            #expect(kept.count == 1 && FileManager.default.fileExists(atPath: cache + "/dvs/\(kept[0])/samples.sqlite"), "\(kept)")
            var st = stat()
            #expect(stat(cache + "/dvs", &st) == 0 && st.st_mode & 0o777 == 0o700, "the outside cache is private")

            // Purged where the repository is writable (another user, another path): the reader's
            // outside cache, which holds the erased sample's row, is emptied at its next use.
            #expect(try dvs("purge", "maria_lopez.wav", "--yes", in: repo).status == 0)
            let after = try Self.readOnly(repo, query)
            #expect(after.status == 0, "\(after.stderr)")
            #expect(after.stdout == "path\na.wav\n", "\(after.stdout)")
            let index = try Data(contentsOf: URL(fileURLWithPath: cache + "/dvs/\(kept.first ?? "")/samples.sqlite"))
            #expect(index.range(of: Data("maria_lopez".utf8)) == nil, "no row of the erased sample is left in the reader's cache")

            // This user's cache folder made readable by others is narrowed back to 0700; one
            // that is a symbolic link (to a folder someone else controls) is refused, nothing
            // made inside it.
            chmod(cache + "/dvs", 0o755)
            #expect(try Self.readOnly(repo, query).status == 0)
            #expect(stat(cache + "/dvs", &st) == 0 && st.st_mode & 0o777 == 0o700)
            try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
            try FileManager.default.removeItem(atPath: cache + "/dvs")
            try FileManager.default.createSymbolicLink(atPath: cache + "/dvs", withDestinationPath: dir + "/elsewhere")
            let linked = try Self.readOnly(repo, query)
            #expect(linked.status == 1)
            #expect(linked.stderr.contains("is not this user's own") && linked.stderr.contains("XDG_CACHE_HOME"), "\(linked.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/elsewhere") == [], "nothing made through the link")
        }
    }
}
