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
                    == "error: cannot open catalog '\(catalog)': file is not a database\nhint: run 'dvs reindex': it moves the file aside and rebuilds the catalog, refs and reflog included, from .dvs/objects, .dvs/packs and .dvs/reflog\n",
                "\(r.stderr)")
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
                ["-m", "/bin/sh", "-c", "mount --bind '\(dir)' '\(dir)' && mount -o remount,bind,ro '\(dir)' && \(command)"])
        }
        _ = try T.sh("chmod -R a-w '\(dir)/.dvs'")
        defer { _ = try? T.sh("chmod -R u+w '\(dir)/.dvs'") }
        return try T.run("/bin/sh", ["-c", command])
    }

    /// Whether a folder can be made read-only here: always for a user other than root; for
    /// root, when a private mount namespace may bind a folder read-only (a container without
    /// CAP_SYS_ADMIN may not).
    static let canMakeReadOnly: Bool = {
        guard getuid() == 0 else { return true }
        let dir = NSTemporaryDirectory() + "dvs-ro-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try? T.run(
            "/usr/bin/unshare",
            [
                "-m", "/bin/sh", "-c",
                "mount --bind '\(dir)' '\(dir)' && mount -o remount,bind,ro '\(dir)' && ! touch '\(dir)/x' 2>/dev/null",
            ])
        return r?.status == 0
    }()

    @Test(.enabled(if: canMakeReadOnly, "no read-only bind mount for root here (needs CAP_SYS_ADMIN)"))
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

            // A cache folder others can read (a shared temporary folder) is refused, not used.
            chmod(cache + "/dvs", 0o755)
            let shared = try Self.readOnly(repo, query)
            #expect(shared.status == 1)
            #expect(shared.stderr.contains("is not private to this user") && shared.stderr.contains("XDG_CACHE_HOME"), "\(shared.stderr)")
        }
    }
}
