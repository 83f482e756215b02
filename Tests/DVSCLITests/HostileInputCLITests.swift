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
