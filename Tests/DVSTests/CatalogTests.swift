import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVSCatalog

/// The catalog's error mapping and its one ref-moving door.
@Suite struct CatalogTests {
    @Test func everySQLiteFailureMapsToACode() {
        let cases: [(Int32, String, CatalogError.Code)] = [
            (5, "database is locked", .busy),  // SQLITE_BUSY
            (517, "database is locked", .busy),  // SQLITE_BUSY_SNAPSHOT
            (6, "database table is locked", .busy),  // SQLITE_LOCKED
            (13, "database or disk is full", .full),
            (11, "database disk image is malformed", .corrupt),
            (26, "file is not a database", .corrupt),  // SQLITE_NOTADB
            (17, "database schema has changed", .schema),
            (1, "no such table: ref", .schema),
            (1, "no such column: levels", .schema),
            (1, "near \"x\": syntax error", .database),
            (8, "attempt to write a readonly database", .readOnly),
            (10, "disk I/O error", .io),
            (778, "disk I/O error", .io),  // SQLITE_IOERR_WRITE
            (14, "unable to open database file", .io),  // SQLITE_CANTOPEN
            (3, "access permission denied", .io),  // SQLITE_PERM
            (19, "UNIQUE constraint failed: ref.name", .constraint),
            (2067, "UNIQUE constraint failed: ref.name", .constraint),  // SQLITE_CONSTRAINT_UNIQUE
            (20, "datatype mismatch", .constraint),
            (7, "out of memory", .database),
        ]
        for (rc, message, code) in cases {
            #expect(CatalogError.code(forSQLiteResult: rc, message: message) == code, "\(rc) \(message)")
        }
    }

    @Test func aFileThatIsNotADatabaseIsCorruptWithTheSQLiteFailureUnderneath() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/catalog.sqlite"
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
            let e = #expect(throws: CatalogError.self) { _ = try Catalog(path: path) }
            #expect(e?.code == .corrupt)
            #expect(e?.message == "cannot open catalog '\(path)': file is not a database")
            let failure = e?.underlying as? SQLiteFailure
            #expect(failure?.resultCode == 26)
        }
    }

    @Test func movingTheCurrentBranchWritesHEADsReflogAndRefusesAMovedRef() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let catalog = try Catalog.create(at: dir + "/catalog.sqlite")
            let a = CommitID(ObjectID.hashing(Array("a".utf8)))
            let b = CommitID(ObjectID.hashing(Array("b".utf8)))
            try catalog.write { tx in
                try tx.setHead(.branch("main", nil), who: "T <t@e>", message: "init")
                try tx.moveRefs(
                    [
                        RefUpdate(name: .branch("main"), expected: nil, new: a, message: "commit (initial): one"),
                        RefUpdate(name: .branch("side"), expected: nil, new: b, message: "branch: created"),
                    ], who: "T <t@e>")
            }
            #expect(try catalog.head() == .branch("main", a))
            #expect(try catalog.reflog(.head).map(\.message) == ["commit (initial): one", "init"])
            #expect(try catalog.reflog(.branch("side")).map(\.message) == ["branch: created"])
            #expect(try catalog.refs(in: .branches).map(\.name) == [.branch("main"), .branch("side")])
            let e = #expect(throws: CatalogError.self) {
                try catalog.write { tx in
                    try tx.moveRefs([RefUpdate(name: .branch("side"), expected: b, new: a, message: "ok")], who: "T <t@e>")
                    try tx.moveRefs([RefUpdate(name: .branch("main"), expected: b, new: a, message: "stale")], who: "T <t@e>")
                }
            }
            #expect(e?.code == .refMoved)
            #expect(try catalog.ref(.branch("side")) == b, "the whole transaction rolled back")
        }
    }

    @Test func anUpToDateCatalogIsReadWithoutWritingAndWritesStayFullySynchronous() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/catalog.sqlite"
            do {
                let catalog = try Catalog.create(at: path)
                try catalog.write { tx in try tx.setHead(.branch("main", nil), who: "T <t@e>", message: "init") }
                #expect(try catalog.writerSynchronous() == 2, "synchronous = FULL: a reported commit survives power loss")
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            do {
                let catalog = try Catalog(path: path)
                #expect(try catalog.head() == .branch("main", nil))
                #expect(try catalog.appliedMigrations() == CatalogSchema.migrations.map(\.0))
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "a read leaves the catalog's bytes as they were")
            let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            #expect(wal == 0, "and writes nothing to its WAL")
            do {
                let catalog = try Catalog(path: path)
                try catalog.write { tx in try tx.setConfig("core.workers", "2") }
                #expect(try catalog.config("core.workers") == "2")
                #expect(try catalog.writerSynchronous() == 2)
            }
            #expect(try Catalog(path: path).config("core.workers") == "2")
        }
    }

    @Test func aCatalogMissingAMigrationGetsItAtOpen() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/catalog.sqlite"
            let all = CatalogSchema.migrations
            var script = "PRAGMA journal_mode = WAL;\nCREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);\n"
            for (name, sql) in all.dropLast() { script += sql + ";\nINSERT INTO grdb_migrations VALUES ('\(name)');\n" }
            try script.write(toFile: dir + "/older.sql", atomically: true, encoding: .utf8)
            let made = try TestSupport.run(
                "python3",
                [
                    "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.close()", path,
                    dir + "/older.sql",
                ])
            #expect(made.status == 0, "\(made.stderr)")
            let catalog = try Catalog(path: path)
            #expect(try catalog.appliedMigrations() == all.map(\.0))
        }
    }

    /// Refs and reflog are copied line by line into `.dvs/reflog` as they move.
    @Test func everyRefMoveIsAppendedToTheReflogFileAndReadBack() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let catalog = try Catalog.create(at: dir + "/catalog.sqlite")
            let a = CommitID(ObjectID.hashing(Array("a".utf8)))
            let b = CommitID(ObjectID.hashing(Array("b".utf8)))
            try catalog.write { tx in
                try tx.setHead(.branch("main", nil), who: "T <t@e>", message: "init")
                try tx.moveRefs(
                    [RefUpdate(name: .branch("main"), expected: nil, new: a, message: "one\ttab\nline \\ back")], who: "T\t<t@e>")
            }
            try catalog.write { tx in
                try tx.moveRefs([RefUpdate(name: .tag("v1"), expected: nil, new: a, message: "tag")], who: "T <t@e>")
                try tx.setHead(.detached(b), who: "T <t@e>", message: "detach")
            }
            // A failed transaction appends nothing.
            _ = try? catalog.write { tx in
                try tx.moveRefs([RefUpdate(name: .branch("main"), expected: b, new: a, message: "stale")], who: "T <t@e>")
            }
            let contents = try #require(try catalog.refLogContents(committedOnly: true))
            #expect(contents.malformed.isEmpty)
            #expect(contents.lines.map(\.message) == ["init", "one\ttab\nline \\ back", "one\ttab\nline \\ back", "tag", "detach"])
            #expect(contents.lines[1].who == "T\t<t@e>")
            #expect(contents.refs == [.branch("main"): a, .tag("v1"): a])
            #expect(contents.head == .detached(b))
            #expect(try catalog.refLogCoveredLength() == Int64(try Data(contentsOf: URL(fileURLWithPath: dir + "/reflog")).count))
            // A line cut short by a crash is ignored; a damaged one is reported with its number.
            var bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/reflog"))
            bytes += Data("move refs/heads/x - - zz 1\tT\tbad\nmove refs/heads/y - -".utf8)
            try bytes.write(to: URL(fileURLWithPath: dir + "/reflog"))
            let read = try #require(try Catalog.refLog(at: dir + "/reflog"))
            #expect(read.lines.count == 5)
            #expect(read.malformed.map(\.line) == [6])
        }
    }

    /// A tail no committed transaction covers is cut off by the next move; a missing file is
    /// written again from the tables.
    @Test func theReflogFileIsMadeToAgreeWithTheCatalogBeforeAnAppend() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let catalog = try Catalog.create(at: dir + "/catalog.sqlite")
            let a = CommitID(ObjectID.hashing(Array("a".utf8)))
            let file = URL(fileURLWithPath: dir + "/reflog")
            try catalog.write { tx in
                try tx.setHead(.branch("main", nil), who: "T <t@e>", message: "init")
                try tx.moveRefs([RefUpdate(name: .branch("main"), expected: nil, new: a, message: "one")], who: "T <t@e>")
            }
            let good = try Data(contentsOf: file)
            try (good + Data("move refs/heads/ghost - - \(a.hex) 1\tT\tghost\n".utf8)).write(to: file)
            try catalog.write { tx in try tx.moveRefs([RefUpdate(name: .tag("t"), expected: nil, new: a, message: "tag")], who: "T") }
            let after = try #require(try catalog.refLogContents(committedOnly: false))
            #expect(!after.lines.contains { $0.message == "ghost" })
            #expect(after.lines.map(\.message) == ["init", "one", "one", "tag"])
            try FileManager.default.removeItem(at: file)
            try catalog.write { tx in try tx.moveRefs([RefUpdate(name: .tag("u"), expected: nil, new: a, message: "tag u")], who: "T") }
            let rewritten = try #require(try catalog.refLogContents(committedOnly: true))
            #expect(rewritten.refs == [.branch("main"): a, .tag("t"): a, .tag("u"): a])
            #expect(rewritten.head == .branch("main", a))
            #expect(rewritten.lines.filter(\.isMove).map(\.message) == ["init", "one", "one", "tag", "tag u"])
        }
    }

    /// Files that are not dvs catalogs are refused, not created or filled as new ones; a catalog
    /// made before migration 0006 (application id 0) opens and gets the id.
    @Test func onlyADVSCatalogOpens() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/catalog.sqlite"
            var e = #expect(throws: CatalogError.self) { _ = try Catalog(path: path) }
            #expect(e?.code == .notACatalog && e?.duringOpen == true)
            #expect(!FileManager.default.fileExists(atPath: path), "opening created nothing")
            FileManager.default.createFile(atPath: path, contents: Data())
            e = #expect(throws: CatalogError.self) { _ = try Catalog(path: path) }
            #expect(e?.message.contains("/catalog.sqlite' is empty (0 bytes)") == true, "\(e?.message ?? "")")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).isEmpty)
            try FileManager.default.removeItem(atPath: path)
            for sql in ["PRAGMA application_id = 7; CREATE TABLE t(x);", "CREATE TABLE t(x);"] {
                try? FileManager.default.removeItem(atPath: path)
                let made = try TestSupport.run(
                    "python3",
                    ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.close()", path, sql])
                #expect(made.status == 0, "\(made.stderr)")
                let before = try Data(contentsOf: URL(fileURLWithPath: path))
                e = #expect(throws: CatalogError.self) { _ = try Catalog(path: path) }
                #expect(e?.code == .notACatalog && e?.message.contains("not a dvs catalog") == true, "\(e?.message ?? "")")
                #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the refused file is unchanged")
            }
            #expect(throws: CatalogError.self) { _ = try Catalog.create(at: path) }
            // An older dvs catalog: dvs's migrations up to 0005, application id 0.
            try FileManager.default.removeItem(atPath: path)
            var script = "PRAGMA journal_mode = WAL;\nCREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);\n"
            for (name, sql) in CatalogSchema.migrations.dropLast() {
                script += sql + ";\nINSERT INTO grdb_migrations VALUES ('\(name)');\n"
            }
            script += "INSERT INTO ref VALUES ('HEAD', NULL, 'refs/heads/main');\n"
            try script.write(toFile: dir + "/older.sql", atomically: true, encoding: .utf8)
            let made = try TestSupport.run(
                "python3",
                [
                    "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(open(sys.argv[2]).read()); c.close()", path,
                    dir + "/older.sql",
                ])
            #expect(made.status == 0, "\(made.stderr)")
            let older = try Catalog(path: path)
            #expect(try older.head() == .branch("main", nil))
            #expect(try older.appliedMigrations() == CatalogSchema.migrations.map(\.0))
            let id = try TestSupport.run(
                "python3",
                ["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA application_id').fetchone()[0])", path])
            #expect(id.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(Catalog.applicationID))
        }
    }

    /// A ref target that is not a commit id is damage, never an unborn branch.
    @Test func aMalformedRefTargetIsCorrupt() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/catalog.sqlite"
            let catalog = try Catalog.create(at: path)
            let a = CommitID(ObjectID.hashing(Array("a".utf8)))
            try catalog.write { tx in
                try tx.setHead(.branch("main", nil), who: "T", message: "init")
                try tx.moveRefs([RefUpdate(name: .branch("main"), expected: nil, new: a, message: "one")], who: "T")
            }
            #expect(try catalog.refProblems().isEmpty)
            let r = try TestSupport.run(
                "python3",
                [
                    "-c",
                    "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE ref SET target='zz' WHERE name='refs/heads/main'\"); c.execute(\"UPDATE reflog SET new='q' WHERE id=2\"); c.commit()",
                    path,
                ])
            #expect(r.status == 0, "\(r.stderr)")
            let e = #expect(throws: CatalogError.self) { _ = try catalog.head() }
            #expect(e?.code == .corrupt && e?.message.contains("'zz'") == true, "\(e?.message ?? "")")
            #expect(throws: CatalogError.self) { _ = try catalog.refs(in: .branches) }
            #expect(throws: CatalogError.self) { _ = try catalog.reflog(.branch("main")) }
            #expect(
                try catalog.refProblems() == [
                    "ref 'refs/heads/main' holds 'zz', which is not a commit id", "reflog entry 2 has a malformed new",
                ])
        }
    }

    /// A CRLF in a reflog message is one Swift `Character`: it used to be written raw, splitting
    /// the line for any reader that reads bytes.
    @Test func aReflogLineEscapesCRLFAndRoundTrips() throws {
        let line = RefLogLine(
            isMove: true, ref: .branch("main"), symbolic: nil, old: nil, new: CommitID(ObjectID.hashing([1])), time: 1_764_000_000,
            who: "A <a@b>", message: "commit: first\r\nsecond\tthird \\ end")
        let text = line.encoded
        #expect(text.utf8.filter { $0 == 0x0A || $0 == 0x0D }.count == 1)  // only the final LF
        #expect(text.hasSuffix("commit: first\\r\\nsecond\\tthird \\\\ end\n"))
        #expect(RefLogLine.decode(text.dropLast()) == line)
    }
}
