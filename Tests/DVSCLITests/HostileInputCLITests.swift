import DVSTestSupport
import Foundation
import Testing

/// Hostile and damaged input (issue 13): every case ends in exit 1 with an error naming the file
/// (and line) and a next step, never a signal or exit 255, and changes nothing.
@Suite(.serialized) struct HostileInputCLITests {
    /// A repository with one spoken sample committed.
    func repository(_ dir: String, _ g: Golden? = nil) throws {
        #expect(try dvs("init", in: dir).status == 0)
        try T.speak("hello there", to: dir + "/a.wav")
        let r = try dvs("commit", "-m", "first", in: dir)
        try #require(r.status == 0, "\(r.stderr)")
    }

    /// Was exit 132 ("Duplicate values for key"): now a label error at line 1, nothing committed.
    @Test func aDuplicatedColumnNameIsALabelError() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            try T.write(Data("path,label,label\na.wav,x,y\n".utf8), to: dir + "/labels.csv")
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("commit", "-m", "labels", in: dir).status == 1)
            #expect(try dvs("log", "--oneline", in: dir).stdout.split(separator: "\n").count == 1)
            try g.verify()
        }
    }

    /// Was exit 134 (an assertion in TOMLKit's C++ parser) for `[,abels]`; a NUL byte silently
    /// ended the file. Both are config errors with their line now.
    @Test func aMalformedOrNulBearingConfigIsAnErrorWithItsLine() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            let g = Golden(replacing: [dir: "$TMP"])
            try T.write(Data("[labels]\nduration_tolerance = 0.1\n[,abels]\n".utf8), to: dir + "/dvs.toml")
            #expect(try g.dvs("commit", "-m", "config", in: dir).status == 1)
            try T.write(
                Data("[labels]\nduration_tolerance = 0.1\0\n[labels.schema.fields.x]\nrequired = true\n".utf8), to: dir + "/dvs.toml")
            #expect(try g.dvs("commit", "-m", "config", in: dir).status == 1)
            #expect(try dvs("log", "--oneline", in: dir).stdout.split(separator: "\n").count == 1)
            try g.verify()
        }
    }

    /// Was SIGILL (a force unwrap of the pack id read from the catalog) in fsck and checkout.
    @Test func aDamagedCatalogCellNamesTheCatalogAndReindexRepairsIt() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            try T.sh("sqlite3 .dvs/catalog.sqlite \"UPDATE blob SET pack_id = 'zz'\"", in: dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("fsck", in: dir).status == 1)
            try FileManager.default.removeItem(atPath: dir + "/a.wav")  // so that checkout must read the blob
            #expect(try g.dvs("checkout", "HEAD", "--force", in: dir).status == 1)
            // The hint's way out works.
            #expect(try g.dvs("reindex", in: dir).status == 0)
            #expect(try g.dvs("checkout", "HEAD", "--force", in: dir).status == 0)
            try T.sh("sqlite3 .dvs/catalog.sqlite \"UPDATE blob SET codec = 'x'\"", in: dir)
            #expect(try g.dvs("fsck", in: dir).status == 1)
            #expect(try g.dvs("reindex", in: dir).status == 0)
            #expect(try g.dvs("fsck", in: dir).status == 0)
            try g.verify()
        }
    }

    /// fsck runs SQLite's integrity_check: damage inside an index page that single-row reads
    /// do not touch is reported, with how to restore the catalog.
    @Test func fsckReportsCatalogDamageThatReadsMiss() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            let catalog = dir + "/.dvs/catalog.sqlite"
            let page = Int(
                try T.sh("sqlite3 .dvs/catalog.sqlite \"SELECT rootpage FROM sqlite_schema WHERE name = 'commit_meta'\"", in: dir)
                    .trimmingCharacters(in: .whitespacesAndNewlines))!
            let before = try T.read(catalog)
            var bytes = before
            bytes.replaceSubrange((page - 1) * 4096..<(page - 1) * 4096 + 64, with: Data(repeating: 0xFF, count: 64))
            try bytes.write(to: URL(fileURLWithPath: catalog))
            let r = try dvs("fsck", in: dir)
            #expect(r.status == 1)
            #expect(r.stdout.contains("damaged catalog .dvs/catalog.sqlite: "), "\(r.stdout)")
            #expect(r.stderr.contains("hint: the catalog (.dvs/catalog.sqlite) holds the refs"), "\(r.stderr)")
            #expect(!r.stderr.contains("internal"))
        }
    }

    /// The refs of a repository as the commands show them: branches, tags, HEAD, the reflogs.
    func refs(_ dir: String) throws -> String {
        var out = ""
        for args in [["branch"], ["tag"], ["status"], ["reflog", "-n", "100"], ["reflog", "side"], ["log", "--oneline", "side"]] {
            let r = try T.dvs(args, in: dir)
            out += "$ dvs \(args.joined(separator: " ")) (exit \(r.status))\n\(r.stdout)"
        }
        return out
    }

    /// A repository with history on two branches and a tag, HEAD on `side`.
    func history(_ dir: String) throws {
        try repository(dir)
        try T.speak("a second take", to: dir + "/b.wav")
        #expect(try dvs("commit", "-m", "second", in: dir).status == 0)
        #expect(try dvs("tag", "v1", "HEAD~1", in: dir).status == 0)
        #expect(try dvs("branch", "side", in: dir).status == 0)
        #expect(try dvs("checkout", "side", in: dir).status == 0)
        try T.speak("on the side branch", to: dir + "/c.wav")
        #expect(try dvs("commit", "-m", "third", in: dir).status == 0)
    }

    /// Was (issue 13, point 4): a 0-byte catalog opened as a new empty repository, every branch
    /// gone, and reindex could not bring them back. Now a deleted, zero-filled or truncated
    /// catalog is refused naming the file, and reindex restores every branch, tag, HEAD and
    /// reflog entry from `.dvs/reflog`; the next commit's parent is the branch's tip.
    @Test func losingTheCatalogNeverLosesHistory() throws {
        try T.withTemporaryDirectory { dir in
            try history(dir)
            let before = try refs(dir)
            #expect(before.contains("* side") && before.contains("v1") && before.contains("third"), "\(before)")
            let sideTip = try T.sh("\(T.dvsBinary) log -n 1 --json side", in: dir)
            let catalog = dir + "/.dvs/catalog.sqlite"
            let g = Golden(replacing: [dir: "$TMP"])
            // Settings, a remote's among them, come back with the catalog (.dvs/config).
            #expect(try g.dvs("config", "pack.auto-repack", "false", in: dir).status == 0)
            #expect(try g.dvs("remote", "add", "origin", "s3://dvs-data/voice", "--endpoint", "http://127.0.0.1:9", in: dir).status == 0)
            let settings = try g.dvs("config", in: dir)
            #expect(settings.stdout.contains("pack.auto-repack=false") && settings.stdout.contains("remote.origin.url=s3://dvs-data/voice"))
            for damage in ["deleted", "zero-filled", "truncated"] {
                let size = try T.read(catalog).count
                switch damage {
                case "deleted":
                    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalog + suffix) }
                case "zero-filled": try Data(count: size).write(to: URL(fileURLWithPath: catalog))
                default: try T.read(catalog).prefix(size / 2).write(to: URL(fileURLWithPath: catalog))
                }
                if damage != "truncated" {
                    // Refused, naming the file and the way out; nothing is created in its place.
                    let status = try g.dvs("status", in: dir)
                    #expect(status.status == 1)
                    #expect(status.stderr.contains(".dvs/catalog.sqlite") && status.stderr.contains("'dvs reindex'"), "\(status.stderr)")
                    #expect(try dvs("log", in: dir).status == 1)
                    #expect(try dvs("fsck", in: dir).status == 1)
                    #expect(damage != "deleted" || !FileManager.default.fileExists(atPath: catalog), "a read created a catalog")
                }
                let r = try g.dvs("reindex", in: dir)
                #expect(r.status == 0, "\(damage): \(r.stderr)")
                #expect(try refs(dir) == before, "\(damage)")
                #expect(try dvs("fsck", in: dir).status == 0, "\(damage)")
                #expect(try dvs("config", in: dir).stdout == settings.stdout, "\(damage)")
            }
            try T.speak("after the repair", to: dir + "/d.wav")
            #expect(try dvs("commit", "-m", "fourth", in: dir).status == 0)
            let top = try #require(try json(try dvs("log", "-n", "1", "--json", in: dir).stdout) as? [[String: Any]])
            let tip = try #require(try json(sideTip) as? [[String: Any]])
            #expect(top.first?["parents"] as? [String] == [tip.first?["id"] as? String ?? "?"])
            // An edited copy: what dvs config would refuse comes back named, and can be removed.
            let copy = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/.dvs/config"))
            try copy.seekToEnd()
            try copy.write(contentsOf: Data("zstd.level=99\npack.zstd=bogus\n".utf8))
            try copy.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalog + suffix) }
            let edited = try g.dvs("reindex", in: dir)
            #expect(edited.status == 0 && edited.stderr.contains("warning: unknown setting 'pack.zstd'"), "\(edited.stderr)")
            #expect(edited.stderr.contains("warning: setting 'zstd.level' came back as '99'"), "\(edited.stderr)")
            #expect(try g.dvs("config", "pack.zstd", "--unset", in: dir).status == 0)
            #expect(try g.dvs("config", "zstd.level", "3", "--unset", in: dir).status == 64)
            #expect(try g.dvs("config", "--unset", in: dir).status == 64, "--unset without a key is a usage error, not a listing")
            #expect(try g.dvs("config", "zstd.level", "3", in: dir).status == 0)
            #expect(try g.dvs("config", in: dir).status == 0)
            try g.verify()
        }
    }

    /// Another program's SQLite database (or one without dvs's tables) where the catalog should
    /// be is refused, not opened and filled as a new repository; reindex replaces it.
    @Test func aCatalogThatIsNotADVSCatalogIsRefused() throws {
        try T.withTemporaryDirectory { dir in
            try history(dir)
            let before = try refs(dir)
            let catalog = dir + "/.dvs/catalog.sqlite"
            let g = Golden(replacing: [dir: "$TMP"])
            for (name, sql) in [("foreign", "PRAGMA application_id = 42; CREATE TABLE t(x);"), ("plain", "CREATE TABLE t(x);")] {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalog + suffix) }
                _ = try T.sh("sqlite3 .dvs/catalog.sqlite '\(sql)'", in: dir)
                let bytes = try T.read(catalog)
                let r = try g.dvs("status", in: dir)
                #expect(r.status == 1, "\(name)")
                #expect(r.stderr.contains("not a dvs catalog") && r.stderr.contains("'dvs reindex'"), "\(r.stderr)")
                #expect(try T.read(catalog) == bytes, "\(name): the refused file was not written")
                #expect(try g.dvs("reindex", in: dir).status == 0)
                #expect(try refs(dir) == before, "\(name)")
            }
            try g.verify()
        }
    }

    /// Was: a non-hex ref target read as an unborn branch while fsck said ok. Now it is damage
    /// that fsck reports and every reader refuses, and reindex restores the ref from .dvs/reflog.
    @Test func aMalformedRefTargetIsDamageThatReindexRepairs() throws {
        try T.withTemporaryDirectory { dir in
            try history(dir)
            let before = try refs(dir)
            try T.sh("sqlite3 .dvs/catalog.sqlite \"UPDATE ref SET target = 'zz' WHERE name = 'refs/heads/side'\"", in: dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("fsck", in: dir).status == 1)
            let status = try g.dvs("status", in: dir)
            #expect(status.status == 1 && !status.stdout.contains("no commits yet"), "\(status.stdout)")
            #expect(try g.dvs("reindex", in: dir).status == 0)
            #expect(try refs(dir) == before)
            #expect(try g.dvs("fsck", in: dir).status == 0)
            // A ref naming a commit that does not exist, and a reflog file that disagrees.
            try T.sh(
                "sqlite3 .dvs/catalog.sqlite \"UPDATE ref SET target = '\(String(repeating: "ab", count: 32))' WHERE name = 'refs/tags/v1'\"",
                in: dir)
            let r = try g.dvs("fsck", in: dir)
            #expect(r.status == 1)
            #expect(r.stdout.contains("damaged ref refs/tags/v1") && r.stdout.contains("damaged reflog .dvs/reflog"), "\(r.stdout)")
            try g.verify()
        }
    }

    /// `.dvs/reflog` lost or cut short is written again from the catalog by the next ref move,
    /// and a tail of moves a killed writer never committed is cut off.
    @Test func theReflogFileIsRepairedFromTheCatalog() throws {
        try T.withTemporaryDirectory { dir in
            try history(dir)
            let file = dir + "/.dvs/reflog"
            let whole = try T.read(file)
            try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: file))
            let fsck = try dvs("fsck", in: dir)
            #expect(fsck.status == 1 && fsck.stdout.contains("damaged reflog .dvs/reflog"), "\(fsck.stdout)")
            #expect(try dvs("reindex", in: dir).status == 0)
            #expect(try dvs("fsck", in: dir).status == 0)
            // A tail no committed transaction covers (a writer killed before SQLite committed).
            let good = try T.read(file)
            try (good + Data("move refs/heads/ghost - - \(String(repeating: "cd", count: 32)) 1\tX <x@y>\tghost\n".utf8)).write(
                to: URL(fileURLWithPath: file))
            let noted = try dvs("fsck", in: dir)
            #expect(noted.status == 0 && noted.stdout.contains("never committed"), "\(noted.stdout)")
            #expect(try dvs("branch", "other", in: dir).status == 0)
            #expect(!(try String(contentsOfFile: file, encoding: .utf8)).contains("ghost"))
            try FileManager.default.removeItem(atPath: dir + "/.dvs/catalog.sqlite")
            #expect(try dvs("reindex", in: dir).status == 0)
            #expect(try dvs("branch", in: dir).stdout.contains("other"))
            #expect(!(try dvs("branch", in: dir).stdout.contains("ghost")))
        }
    }

    /// A catalog lost in a repository without `.dvs/reflog` (made by an older dvs, or the file lost
    /// too): reindex finds the heads among the commit objects and names each `recovered-<id>`,
    /// with HEAD on the newest, so that no history is left unnamed.
    @Test func withoutTheReflogFileReindexNamesTheHeadsItFinds() throws {
        try T.withTemporaryDirectory { dir in
            try history(dir)
            let tip = try #require(try json(try dvs("log", "-n", "1", "--json", "side", in: dir).stdout) as? [[String: Any]])
            let id = try #require(tip.first?["id"] as? String)
            for name in ["reflog", "catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"] {
                try? FileManager.default.removeItem(atPath: dir + "/.dvs/" + name)
            }
            let r = try dvs("reindex", in: dir)
            #expect(r.status == 0, "\(r.stderr)")
            let branch = "recovered-\(id.prefix(12))"
            #expect(r.stdout.contains("made branch '\(branch)'"), "\(r.stdout)")
            #expect(try dvs("status", in: dir).stdout.hasPrefix("On branch \(branch)\n"))
            #expect(try dvs("log", "--oneline", in: dir).stdout.split(separator: "\n").count == 3)
            #expect(try dvs("fsck", in: dir).status == 0)
        }
    }

    /// `dvs query` printed a label up to its first NUL.
    @Test func queryKeepsALabelWithAnEmbeddedNul() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            try T.write(Data("path,label\na.wav,x\0y\n".utf8), to: dir + "/labels.csv")
            #expect(try dvs("commit", "-m", "labels", in: dir).status == 0)
            let r = try dvs("query", "--json", "SELECT label FROM sample", in: dir)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            #expect(rows.first?["label"] as? String == "x\0y")
            #expect(try dvs("query", "SELECT label FROM sample", in: dir).stdout.contains("x\0y"))
        }
    }

    /// A region is signed into every S3 request: one with a space, a CR or a newline would make
    /// each fail later with a signature error, so `remote add` refuses it now (it stored it). An
    /// '@' in an endpoint's query is no password (it was refused as one).
    @Test func aRegionThatIsNoRegionNameIsRefused() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("remote", "add", "origin", "s3://dvs-data/p", "--region", "us east-1", in: dir).status == 1)
            #expect(try g.dvs("remote", "add", "origin", "s3://dvs-data/p", "--region", "", in: dir).status == 1)
            let cr = try dvs("remote", "add", "origin", "s3://dvs-data/p", "--region", "us-east-1\r", in: dir)
            #expect(cr.status == 1 && cr.stderr.contains("invalid region 'us-east-1\\r'"), "\(cr.stderr)")
            #expect(try g.dvs("config", in: dir).status == 0)
            #expect(
                try g.dvs(
                    "remote", "add", "origin", "s3://dvs-data/p", "--region", "garage.eu_1", "--endpoint",
                    "http://127.0.0.1:9/?owner=ml@example.com", in: dir
                ).status == 0)
            #expect(try g.dvs("remote", "-v", in: dir).status == 0)
            // What was accepted is used as typed (it was loaded redacted, then refused as
            // credentials): the fetch gets as far as connecting. Error text still blanks any x@.
            let fetch = try dvs("fetch", "origin", in: dir, env: ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"])
            #expect(fetch.status != 0 && fetch.stderr.hasPrefix("error: cannot connect to S3 endpoint"), "\(fetch.stderr)")
            try g.verify()
        }
    }

    /// A URL with `user:secret@` is refused by `remote add`, and one stored by an older dvs is
    /// shown without it and refused when used; the secret never reaches any output.
    @Test func credentialsInRemoteURLsAreRefusedAndNeverShown() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCY"
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(
                try g.dvs("remote", "add", "origin", "s3://dvs-data/p", "--endpoint", "http://AKIA:\(secret)@127.0.0.1:9000", in: dir)
                    .status == 1)
            #expect(try g.dvs("remote", "add", "origin", "s3://AKIA:\(secret)@dvs-data", in: dir).status == 1)
            #expect(try g.dvs("config", in: dir).status == 0)
            try T.sh(
                "sqlite3 .dvs/catalog.sqlite \"INSERT INTO config VALUES ('remote.old.url', 's3://dvs-data'), ('remote.old.endpoint', 'http://AKIA:\(secret)@127.0.0.1:9000')\"",
                in: dir)
            #expect(try g.dvs("remote", "-v", in: dir).status == 0)
            #expect(try g.dvs("config", in: dir).status == 0)
            #expect(
                try g.dvs("push", "old", "main", in: dir, env: ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": secret]).status == 1)
            try g.verify()
            // A clone of such a URL is refused before anything is made: no folder keeps the
            // secret in its clone marker (a later status printed it).
            let clone = try dvs("clone", "s3://dvs-data/p?password=\(secret)", dir + "/cloned", in: dir)
            #expect(clone.status == 1 && !clone.stderr.contains(secret), "\(clone.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/cloned"))
            // Only the command lines the test typed hold the secret.
            let text = try String(contentsOfFile: g.path, encoding: .utf8)
            #expect(!text.split(separator: "\n").contains { !$0.hasPrefix("$ ") && $0.contains(secret) })
        }
    }

    /// The holder of the lock used to be "(unknown)" when it wrote nothing into the lock file.
    @Test func aLockHolderThatRecordedNothingIsNamedFromTheSystem() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            holder.arguments = [".dvs/lock", "sleep", "5"]
            holder.currentDirectoryURL = URL(fileURLWithPath: dir)
            try holder.run()
            defer {
                kill(holder.processIdentifier, SIGKILL)
                holder.waitUntilExit()
            }
            usleep(300_000)
            let g = Golden(replacing: [dir: "$TMP"])
            g.replace(matching: "process [0-9]+ ", with: "process \\$PID ")
            let r = try g.dvs("commit", "-m", "blocked", "--allow-empty", in: dir, env: ["DVS_LOCK_TIMEOUT": "0.3"])
            #expect(r.status == 1)
            #expect(r.stderr.contains("flock .dvs/lock sleep 5)") && !r.stderr.contains("unknown"), "\(r.stderr)")
            try g.verify()
        }
    }

    /// After a local pack is lost, push said "run the push again", which cannot help.
    @Test func pushWithALostLocalPackSaysHowToRepair() throws {
        try T.withTemporaryDirectory { dir in
            let repo = dir + "/repo"
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            try repository(repo)
            #expect(try dvs("remote", "add", "origin", dir + "/remote", in: repo).status == 0)
            try T.sh("rm .dvs/packs/*.pack", in: repo)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("push", "origin", "main", in: repo).status == 1)
            try g.verify()
        }
    }

    /// A refused connection printed Foundation's raw `NSURLErrorDomain` text.
    @Test func aRefusedConnectionNamesTheEndpoint() throws {
        try T.withTemporaryDirectory { dir in
            try repository(dir)
            let port = try MotoServer.freePort()
            #expect(
                try dvs("remote", "add", "s3", "s3://dvs-data", "--endpoint", "http://127.0.0.1:\(port)", "--path-style", in: dir).status
                    == 0)
            let g = Golden(replacing: [dir: "$TMP", ":\(port)": ":$PORT"])
            let r = try g.dvs("push", "s3", "main", in: dir, env: ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"])
            #expect(r.status == 1)
            #expect(!r.stderr.contains("NSURLErrorDomain"), "\(r.stderr)")
            try g.verify()
        }
    }
}
