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
}
