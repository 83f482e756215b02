import DVSCore
import Foundation
import GRDB
import GRDBSQLite

/// The catalog's schema, for tests and tools: the migrations in order, as (identifier, SQL).
public enum CatalogSchema {
    /// Identifier and SQL of every migration; each SQL equals `schema/<identifier>.sql`.
    public static var migrations: [(String, String)] { Migrations.all }
}

/// What HEAD points at.
public enum Head: Sendable, Equatable {
    /// On a branch (its short name: `main` for `refs/heads/main`), which may not have a commit yet (unborn).
    case branch(String, CommitID?)
    /// Detached at a commit.
    case detached(CommitID)

    /// The commit HEAD resolves to, if any.
    public var commit: CommitID? {
        switch self {
        case .branch(_, let c): return c
        case .detached(let c): return c
        }
    }
}

/// One move of a ref, as its reflog recorded it.
public struct ReflogEntry: Sendable, Equatable {
    /// The commit before; nil when the ref did not exist (or HEAD was unborn).
    public var old: CommitID?
    /// The commit after; nil when the ref was deleted (or HEAD moved to an unborn branch).
    public var new: CommitID?
    /// When, unix seconds.
    public var time: Int64
    /// Who moved it (`Name <email>`).
    public var who: String
    /// Why (`commit: subject`, `checkout: moving from main to dev`, …).
    public var message: String
    /// Creates an entry.
    public init(old: CommitID?, new: CommitID?, time: Int64, who: String, message: String) {
        self.old = old
        self.new = new
        self.time = time
        self.who = who
        self.message = message
    }
}

/// One `stat_cache` row.
public struct StatCacheEntry: Sendable, Equatable {
    /// Size in bytes.
    public var byteCount: Int64
    /// Modification time, ns since 1970.
    public var mtimeNanoseconds: Int64
    /// Status-change time, ns since 1970.
    public var ctimeNanoseconds: Int64
    /// Inode number.
    public var inode: Int64
    /// `st_mode`.
    public var mode: UInt32
    /// Content id.
    public var blob: ObjectID
    /// Audio facts, when the content is a sample.
    public var audio: AudioFacts?
    /// When this row was recorded, ns since 1970.
    public var recordedAtNanoseconds: Int64
    /// A problem noticed when the content was read (`kind<TAB>message`), kept so it is reported
    /// again without re-reading the file.
    public var warning: String?
    /// Creates a row.
    public init(
        byteCount: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: Int64, mode: UInt32,
        blob: ObjectID, audio: AudioFacts?, recordedAtNanoseconds: Int64, warning: String? = nil
    ) {
        self.warning = warning
        self.byteCount = byteCount
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.mode = mode
        self.blob = blob
        self.audio = audio
        self.recordedAtNanoseconds = recordedAtNanoseconds
    }
}

/// The stat fields of one stat cache row: what a walk of the tree is compared with.
public struct StatStamp: Sendable, Equatable {
    /// Size in bytes.
    public var byteCount: Int64
    /// Modification time, ns since 1970.
    public var mtimeNanoseconds: Int64
    /// Status-change time, ns since 1970.
    public var ctimeNanoseconds: Int64
    /// Inode number.
    public var inode: Int64
    /// `st_mode`.
    public var mode: UInt32
    /// When the row was recorded, ns since 1970.
    public var recordedAtNanoseconds: Int64
    /// Whether the row's blob may differ from the base snapshot's at its path (`schema/0005_stat_cache_base.sql`).
    public var unsettled: Bool
    /// Creates a stamp.
    public init(
        byteCount: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64, inode: Int64, mode: UInt32, recordedAtNanoseconds: Int64,
        unsettled: Bool
    ) {
        self.byteCount = byteCount
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.mode = mode
        self.recordedAtNanoseconds = recordedAtNanoseconds
        self.unsettled = unsettled
    }
}

/// A ref move to apply atomically: `name` goes from `expected` to `new` (nil deletes).
public struct RefUpdate: Sendable {
    /// The ref (a branch, tag or remote-tracking ref; HEAD moves through `setHead`).
    public var name: RefName
    /// The value the caller read; the move fails if the ref changed since (compare-and-swap).
    public var expected: CommitID?
    /// The new value; nil deletes the ref.
    public var new: CommitID?
    /// Reflog message.
    public var message: String
    /// Creates an update.
    public init(name: RefName, expected: CommitID?, new: CommitID?, message: String) {
        self.name = name
        self.expected = expected
        self.new = new
        self.message = message
    }
}

/// The SQLite catalog (`.dvs/catalog.sqlite`, WAL mode).
///
/// Writers are serialised by the repository lock and by SQLite; readers never block (WAL).
/// Schema: `schema/*.sql`, applied in order at open. Reads are methods here; writes happen inside
/// ``write(_:)`` through a ``CatalogTransaction``. Every SQLite failure is thrown as a
/// ``CatalogError`` with a code (busy, full, corrupt, schema, …) and the ``SQLiteFailure``.
///
/// Opening a catalog that is up to date opens one read-only connection only; the read-write
/// connection (synchronous = FULL) opens on the first ``write(_:)``. A read-only command therefore
/// writes nothing and syncs nothing: GRDB's set-up of a read-write pool writes a transaction
/// (to make sure a WAL file exists) and the last connection's close checkpoints it, two
/// `fdatasync`s and a third of `dvs status`'s time in a small repository. The read-only
/// connection is a queue (reads from several threads take turns) rather than a pool, which
/// would open a second connection besides its reader and read the schema on both.
public final class Catalog: Sendable {
    private let path: String
    private let connections: Connections

    /// The catalog's GRDB connections: the read-only one (nil when the read-write pool does the
    /// reads) and the read-write pool (nil until the first write).
    private final class Connections: @unchecked Sendable {
        let lock = NSLock()
        var readers: DatabaseQueue?
        var writer: DatabasePool?
        /// The `file:…?immutable=1` URI the readers were opened with on a read-only mount, and
        /// the file's identity then (inode, size, modification time): another machine or a
        /// writable view of the same folder may still change the file, and an immutable
        /// connection would never notice, so a read first compares and reopens.
        var immutable: (uri: String, stamp: [Int])?

        init(readers: DatabaseQueue?, writer: DatabasePool?, immutable: (uri: String, stamp: [Int])? = nil) {
            self.readers = readers
            self.writer = writer
            self.immutable = immutable
        }

        deinit {
            // Readers first: the read-write connection, closing last, checkpoints the WAL and removes it.
            readers = nil
            writer = nil
        }
    }
    /// The file as messages name it: its folder's name and its own (`.dvs/catalog.sqlite`).
    private let displayPath: String

    /// SQLite's `PRAGMA application_id` of a dvs catalog: `DVS1` (set by migration 0006).
    public static let applicationID: Int32 = 0x4456_5331

    /// Opens the existing catalog at `path` (migrating it if needed).
    ///
    /// A file that is not a dvs catalog is refused, never taken for a new empty repository:
    /// a missing or empty (0-byte) file, one SQLite cannot read, and another SQLite database
    /// (a foreign `application_id`, or id 0 without dvs's migrations). Catalogs made before
    /// migration 0006 have id 0 and dvs's tables: they are accepted and get the id when migrated.
    /// - Throws: `CatalogError` with `duringOpen` set: `.notACatalog` for a missing, empty or
    ///   foreign file; `.corrupt` for a file SQLite cannot read; `.io`, `.readOnly`, `.busy`,
    ///   `.schema` when a migration fails, …, with SQLite's message.
    public convenience init(path: String) throws {
        try self.init(path: path, creating: false)
    }

    /// Creates a new, empty catalog at `path` (`dvs init`, `dvs clone`, and `dvs reindex` when it
    /// replaces a damaged one): schema, application id, and an empty `.dvs/reflog` beside it.
    /// - Throws: `CatalogError` (`.io`, `.readOnly`, …); `.notACatalog` when a file is already there.
    public static func create(at path: String) throws -> Catalog {
        if access(path, F_OK) == 0 {
            var e = CatalogError(.notACatalog, "cannot create the catalog '\(path)': a file is already there")
            e.duringOpen = true
            throw e
        }
        return try Catalog(path: path, creating: true)
    }

    private init(path: String, creating: Bool) throws {
        self.path = path
        displayPath = Self.displayPath(path)
        if !creating { try Self.refuseUnlessCatalogFile(path, displayPath) }
        if let (readers, uri) = try Self.upToDateReaders(path) {
            connections = Connections(readers: readers, writer: nil, immutable: uri.map { ($0, Self.stamp(path)) })
        } else {
            connections = Connections(readers: nil, writer: try Self.openWriter(path, creating: creating, displayPath))
        }
    }

    /// `path` as messages name it: its folder's name and its own (`.dvs/catalog.sqlite`). An
    /// absolute path is split at its slashes (Foundation's `URL` took ≈0.1 ms of `dvs status`);
    /// a relative one or one without a folder goes through `URL`, which resolves it first.
    static func displayPath(_ path: String) -> String {
        let parts = path.split(separator: "/")
        if path.hasPrefix("/"), parts.count >= 2 { return parts[parts.count - 2] + "/" + parts[parts.count - 1] }
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
    }

    /// Throws when the file at `path` is missing or empty (neither can be a catalog), or cannot
    /// be reached (`.io`).
    private static func refuseUnlessCatalogFile(_ path: String, _ displayPath: String) throws {
        var st = stat()
        let problem: String?
        var missing = false
        if stat(path, &st) != 0 {
            guard errno == ENOENT else {
                // Not reachable (permissions, a file where a folder should be): not damage.
                var e = CatalogError(.io, "cannot open the catalog '\(displayPath)': \(String(cString: strerror(errno))) ('\(path)')")
                e.duringOpen = true
                throw e
            }
            missing = true
            problem = "is missing"
        } else if st.st_size == 0 {
            problem = "is empty (0 bytes), not a dvs catalog"
        } else if st.st_size < 100 {
            problem = "is \(st.st_size) bytes long, too short to be a dvs catalog"
        } else {
            problem = nil
        }
        if let problem {
            var e = CatalogError(.notACatalog, "the catalog '\(displayPath)' \(problem) ('\(path)')")
            e.duringOpen = true
            e.fileMissing = missing
            throw e
        }
    }

    /// Whether the open database is a dvs catalog: the dvs application id, or id 0 with dvs's
    /// first migration applied (a catalog made before migration 0006). An empty database passes
    /// only when `creating`.
    /// - Throws: `CatalogError.notACatalog` naming the file when it is not one.
    private static func checkIsCatalog(_ db: Database, creating: Bool, _ path: String, _ displayPath: String) throws {
        let id = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        if id == applicationID { return }
        let tables = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
        if id == 0 {
            if creating && tables == 0 { return }
            let hasMigrations =
                try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations'") == 1
            if hasMigrations,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations WHERE identifier = '0001_init'") == 1
            {
                return
            }
        }
        let what = id != 0 ? "another program's SQLite database (application id \(id))" : "a SQLite database without dvs's tables"
        var e = CatalogError(.notACatalog, "the catalog '\(displayPath)' is \(what), not a dvs catalog ('\(path)')")
        e.duringOpen = true
        throw e
    }

    /// A read-only connection to `path` when it is a WAL-mode dvs catalog with every migration of
    /// ``Migrations/all`` applied; nil otherwise (missing, not a database, older, not WAL, …), and
    /// then ``openWriter(_:creating:_:)`` creates, migrates or reports the failure.
    ///
    /// On a read-only file system SQLite cannot open a WAL database whose index (`-shm`) is
    /// gone, even read-only, as it must create the index. There, when neither `-shm` nor a `-wal`
    /// with transactions still to be copied in exists, the file is opened as immutable
    /// (`file://…?immutable=1`, <https://www.sqlite.org/uri.html>: no locks, no index), which is
    /// safe because nothing can write a read-only mount. Only there: a folder that is merely not
    /// writable by this user may be written by its owner at the same time.
    /// - Throws: `CatalogError.readOnly` when the mount is read-only and a `-wal` still holds
    ///   transactions (they cannot be applied, and reading without them would be wrong).
    /// - Returns: the queue, with the immutable URI when it was opened so.
    private static func upToDateReaders(_ path: String) throws -> (DatabaseQueue, String?)? {
        guard access(path, F_OK) == 0 else { return nil }
        if let queue = readers(path), isUpToDate(queue) { return (queue, nil) }
        var fs = statvfs()
        guard path.hasPrefix("/"), statvfs(path, &fs) == 0, fs.f_flag & UInt(ST_RDONLY) != 0 else { return nil }
        var st = stat()
        guard stat(path + "-shm", &st) != 0, errno == ENOENT else { return nil }
        if stat(path + "-wal", &st) == 0, st.st_size > 0 {
            var e = CatalogError(
                .readOnly,
                "cannot read the catalog '\(path)' on this read-only mount: its write-ahead log ('\(path)-wal', \(st.st_size) bytes) holds transactions that were never copied into it; open the repository once where it can be written (any command copies them in), or read a copy of it"
            )
            e.duringOpen = true
            throw e
        }
        // The path as a URI (RFC 8089 `file://` + absolute path), with what a URI would read
        // as syntax percent-encoded (RFC 3986).
        var uri = "file://"
        for c in path.unicodeScalars {
            switch c {
            case "%": uri += "%25"
            case "?": uri += "%3f"
            case "#": uri += "%23"
            default: uri.unicodeScalars.append(c)
            }
        }
        uri += "?immutable=1"
        guard let queue = readers(uri), isUpToDate(queue, wal: false) else { return nil }
        return (queue, uri)
    }

    /// The file's inode, size and modification time (seconds, nanoseconds); empty when it
    /// cannot be read.
    private static func stamp(_ path: String) -> [Int] {
        var st = stat()
        guard stat(path, &st) == 0 else { return [] }
        return [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
    }

    /// A read-only queue on `path` (a file name, or a `file:` URI: dvs's SQLite is built with
    /// URI file names on, as Debian's is), or nil when SQLite cannot open it.
    private static func readers(_ path: String) -> DatabaseQueue? {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        return try? DatabaseQueue(path: path, configuration: config)
    }

    /// Whether `queue` reads a dvs catalog with every migration applied, in WAL mode unless
    /// `wal` is false (an immutable open reports journal mode `delete`).
    private static func isUpToDate(_ queue: DatabaseQueue, wal: Bool = true) -> Bool {
        let upToDate = try? queue.read { db -> Bool in
            guard try Int32.fetchOne(db, sql: "PRAGMA application_id") == applicationID,
                try !wal || String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal",
                try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations'") == 1
            else { return false }
            let applied = try Set(String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
            return Migrations.all.allSatisfy { applied.contains($0.0) }
        }
        return upToDate == true
    }

    /// The read-write pool on `path`, the catalog created (only when `creating`) and migrated;
    /// synchronous = FULL (a reported commit survives power loss).
    /// - Throws: `CatalogError` with `duringOpen` set.
    private static func openWriter(_ path: String, creating: Bool, _ displayPath: String) throws -> DatabasePool {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")  // a reported commit survives power loss
        }
        do {
            if !creating {
                // Look before GRDB's WAL set-up writes anything to a file that may not be ours.
                var peek = Configuration()
                peek.readonly = true
                let queue = try DatabaseQueue(path: path, configuration: peek)
                try queue.read { db in try checkIsCatalog(db, creating: false, path, displayPath) }
                try queue.close()
            }
            let pool = try DatabasePool(path: path, configuration: config)
            // GRDB's WAL set-up, after prepareDatabase, sets synchronous = NORMAL on the writer.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.read { db in try checkIsCatalog(db, creating: creating, path, displayPath) }
            var migrator = DatabaseMigrator()
            for (name, sql) in Migrations.all {
                migrator.registerMigration(name) { db in try db.execute(sql: sql) }
            }
            try migrator.migrate(pool)
            return pool
        } catch {
            let mapped = CatalogError.mapping(error, "cannot open catalog '\(path)'")
            guard var e = mapped as? CatalogError else { throw mapped }
            e.duringOpen = true
            throw e
        }
    }

    /// The read-write pool, opened on first use.
    private func writer() throws -> DatabasePool {
        try connections.lock.withLock {
            if let w = connections.writer { return w }
            let w = try Self.openWriter(path, creating: false, displayPath)
            connections.writer = w
            return w
        }
    }

    /// The read-write pool, for maintenance in other files of this module (`compact`).
    func writerPool() throws -> DatabasePool { try writer() }

    /// The read-write connection's `PRAGMA synchronous` (2 is FULL), opening it if needed; for tests.
    func writerSynchronous() throws -> Int {
        try writer().writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// Runs `body` on a read connection (the immutable reader when open), naming `what` in the
    /// error a failure throws.
    func reading<T>(_ what: @autoclosure () -> String, _ body: (Database) throws -> T) throws -> T {
        if let readers = currentReaders() {
            do { return try namingFile { try CatalogError.guarding(what()) { try readers.read(body) } } } catch let e as CatalogError
                where e.code == .corrupt && connections.lock.withLock({ connections.immutable != nil })
            {
                // An immutable connection read the file while a writer elsewhere was changing
                // it: once more, on a fresh connection, after the change.
                usleep(100_000)
                guard let again = currentReaders(forceReopen: true) else { throw e }
                return try namingFile { try CatalogError.guarding(what()) { try again.read(body) } }
            }
        }
        let pool = try writer()
        return try namingFile { try CatalogError.guarding(what()) { try pool.read(body) } }
    }

    /// The read-only connection, nil when the read-write pool does the reads. An immutable one
    /// (a read-only mount) is opened again when the file changed since (or when `forceReopen`).
    private func currentReaders(forceReopen: Bool = false) -> DatabaseQueue? {
        connections.lock.withLock {
            guard let imm = connections.immutable else { return connections.readers }
            let now = Self.stamp(path)
            if forceReopen || now != imm.stamp, let fresh = Self.readers(imm.uri) {
                connections.readers = fresh
                connections.immutable = (imm.uri, now)
            }
            return connections.readers
        }
    }

    /// Runs `body`; a `.corrupt` catalog error leaving it names this file, so that the user knows
    /// which file is damaged.
    private func namingFile<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch var e as CatalogError where e.code == .corrupt && !e.message.contains(displayPath) {
            e.message += " (the catalog '\(displayPath)' is damaged)"
            throw e
        }
    }

    /// Checks the whole file with SQLite's `PRAGMA integrity_check` (b-trees, indexes, free pages).
    /// - Returns: SQLite's findings, at most `limit`; empty when the file is sound.
    /// - Throws: `CatalogError` when the check cannot run (a file too damaged to read).
    /// - Complexity: O(size of the file): every page is read.
    public func integrityProblems(limit: Int = 20) throws -> [String] {
        try reading("cannot check the catalog") { db in
            let lines = try String.fetchAll(db, sql: "PRAGMA integrity_check(\(max(1, limit)))")
            return lines == ["ok"] ? [] : lines
        }
    }

    /// The migrations applied, in order (for `dvs fsck` and tests).
    /// - Throws: `CatalogError`.
    public func appliedMigrations() throws -> [String] {
        try reading("cannot read the catalog's migrations") { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        }
    }

    /// Runs `body` in one write transaction (IMMEDIATE); everything in it lands or nothing does.
    /// - Throws: `CatalogError` for SQLite's failures (the transaction is rolled back); errors
    ///   `body` throws, unchanged (after the rollback).
    public func write<T>(_ body: (CatalogTransaction) throws -> T) throws -> T {
        let pool = try writer()
        let file = refLogFile
        var appendedFrom: Int64?
        var settings: [(String, String)]?
        do {
            let result = try namingFile {
                try CatalogError.guarding("cannot write the catalog") {
                    try pool.write { db in
                        let tx = CatalogTransaction(db)
                        let result = try body(tx)
                        // The ref moves reach .dvs/reflog (fsynced) before SQLite commits them.
                        if !tx.refLogLines.isEmpty || tx.refLogCheck { appendedFrom = try tx.flushRefLog(to: file) }
                        if tx.settingsChanged { settings = try Self.settings(db) }
                        return result
                    }
                }
            }
            // After the commit, so the copy never gets ahead of the catalog. A failure here (or
            // a kill just before) leaves it one change behind — a removed setting still in it —
            // which only a reindex of a lost catalog would bring back; the next change, or
            // `writeSettingsCopy`, writes it whole again.
            if let settings { try? SettingsFile(besideCatalog: path).replace(with: settings) }
            return result
        } catch {
            // The commit failed after the append: the moves did not happen, so neither do their lines.
            if let appendedFrom { try? file.truncate(to: appendedFrom) }
            throw error
        }
    }

    /// Writes `.dvs/config` (``SettingsFile``) again from the config table: for a repository
    /// whose settings last changed before dvs kept the copy, and by `dvs reindex`.
    /// - Throws: `CatalogError` when the table cannot be read or the file written.
    public func writeSettingsCopy() throws {
        let settings = try reading("cannot read the settings") { db in try Self.settings(db) }
        try SettingsFile(besideCatalog: path).replace(with: settings)
    }

    /// Whether `.dvs/config` (``SettingsFile``) holds other settings than the config table (a
    /// command killed between a change's commit and the copy's rename leaves it one change
    /// behind); nil when there is no such file. URLs are compared as the copy keeps them,
    /// without credentials.
    /// - Throws: `CatalogError` when the table cannot be read.
    public func settingsCopyDiffers() throws -> Bool? {
        let file = SettingsFile(besideCatalog: path)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let table = try reading("cannot read the settings") { db in try Self.settings(db) }
        let copy = file.read().sorted { $0.0 < $1.0 }
        let expected = table.map { ($0.0, SettingsFile.withoutCredentials($0.1)) }.sorted { $0.0 < $1.0 }
        return !copy.elementsEqual(expected) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// `.dvs/reflog`, beside the catalog.
    var refLogFile: RefLogFile { RefLogFile(path: (path as NSString).deletingLastPathComponent + "/reflog") }

    /// The path of the file that keeps every ref move beside the catalog (`.dvs/reflog`).
    public var refLogPath: String { refLogFile.path }

    /// What `.dvs/reflog` holds, or nil when there is no such file.
    /// - Parameter committedOnly: only the part the catalog's committed transactions cover
    ///   (without a tail a killed writer left).
    /// - Throws: `CatalogError` when the file cannot be read.
    public func refLogContents(committedOnly: Bool) throws -> RefLogContents? {
        let covered = committedOnly ? try refLogCoveredLength() : nil
        return try refLogFile.read(length: covered)
    }

    /// How many bytes of `.dvs/reflog` the catalog's committed ref moves cover; nil before the
    /// first ref move since migration 0006.
    /// - Throws: `CatalogError`.
    public func refLogCoveredLength() throws -> Int64? {
        try reading("cannot read the reflog state") { db in
            try Int64?.fetchOne(db, sql: "SELECT length FROM ref_log WHERE one = 1") ?? nil
        }
    }

    /// Reads `.dvs/reflog` at `path` without a catalog (`dvs reindex` of a lost catalog).
    /// - Throws: `CatalogError` when the file exists but cannot be read.
    public static func refLog(at path: String) throws -> RefLogContents? { try RefLogFile(path: path).read() }

    /// Every problem in the ref and reflog tables, as sentences: a target that is not a commit
    /// id, a symbolic HEAD that names no branch, a ref name that is not one, a reflog row with a
    /// malformed id. Empty when they are well formed.
    /// - Throws: `CatalogError` when the tables cannot be read.
    public func refProblems() throws -> [String] {
        try reading("cannot read the refs") { db in
            var out: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT name, target, symbolic FROM ref ORDER BY name") {
                let nameCell: DatabaseValue = row["name"]
                guard let name = String.fromDatabaseValue(nameCell), let ref = RefName(fullName: name) else {
                    out.append("the ref table holds a row named \(nameCell), which is not a ref name")
                    continue
                }
                let targetCell: DatabaseValue = row["target"]
                let symbolicCell: DatabaseValue = row["symbolic"]
                if let sym = String.fromDatabaseValue(symbolicCell) {
                    if ref != .head || RefName(fullName: sym)?.branchName == nil {
                        out.append("ref '\(name)' points at '\(sym.prefix(80))', which is not a branch")
                    }
                } else if let t = String.fromDatabaseValue(targetCell) {
                    if CommitID(hex: t)?.hex != t { out.append("ref '\(name)' holds '\(t.prefix(80))', which is not a commit id") }
                } else {
                    out.append("ref '\(name)' holds \(targetCell.isNull ? "no target" : "\(targetCell)"), which is not a commit id")
                }
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, ref, old, new, time, who, message FROM reflog ORDER BY id") {
                let id: DatabaseValue = row["id"]
                var bad: [String] = []
                if String.fromDatabaseValue(row["ref"]).flatMap({ RefName(fullName: $0) }) == nil { bad.append("ref") }
                for column in ["old", "new"] {
                    let v: DatabaseValue = row[column]
                    if !v.isNull, String.fromDatabaseValue(v).map({ CommitID(hex: $0)?.hex == $0 }) != true { bad.append(column) }
                }
                if Int64.fromDatabaseValue(row["time"]) == nil { bad.append("time") }
                if String.fromDatabaseValue(row["who"]) == nil { bad.append("who") }
                if String.fromDatabaseValue(row["message"]) == nil { bad.append("message") }
                if !bad.isEmpty { out.append("reflog entry \(id) has a malformed \(bad.joined(separator: ", "))") }
            }
            return out
        }
    }

    /// Every setting, as the config table holds it.
    static func settings(_ db: Database) throws -> [(String, String)] {
        try Row.fetchAll(db, sql: "SELECT key, value FROM config ORDER BY key").compactMap { row -> (String, String)? in
            guard let k = String.fromDatabaseValue(row[0]), let v = String.fromDatabaseValue(row[1]) else { return nil }
            return (k, v)
        }
    }

    /// The settings of the SQLite file at `path`, as far as they can be read (`dvs reindex` keeps
    /// them when it replaces a damaged catalog); empty when none can.
    public static func salvageConfig(from path: String) -> [(String, String)] {
        var config = Configuration()
        config.readonly = true
        guard let queue = try? DatabaseQueue(path: path, configuration: config) else { return [] }
        defer { try? queue.close() }
        return
            (try? queue.read { db in
                try Row.fetchAll(db, sql: "SELECT key, value FROM config").compactMap { row -> (String, String)? in
                    guard let k = String.fromDatabaseValue(row[0]), let v = String.fromDatabaseValue(row[1]) else { return nil }
                    return (k, v)
                }
            }) ?? []
    }

    // MARK: Refs

    /// What HEAD points at, or nil in a catalog with no HEAD row.
    /// - Throws: `CatalogError`.
    public func head() throws -> Head? {
        try reading("cannot read HEAD") { db in try CatalogTransaction.head(db) }
    }

    /// The commit ref `name` points at, or nil (also for a symbolic HEAD).
    /// - Throws: `CatalogError`.
    public func ref(_ name: RefName) throws -> CommitID? {
        try reading("cannot read ref '\(name)'") { db in try CatalogTransaction.target(of: name, db) }
    }

    /// All direct refs in `namespace`, sorted by full name.
    /// - Throws: `CatalogError`.
    public func refs(in namespace: RefNamespace) throws -> [(name: RefName, target: CommitID)] {
        try reading("cannot list refs") { db in
            try Row.fetchAll(
                db, sql: "SELECT name, target FROM ref WHERE name >= ? AND name < ? AND target IS NOT NULL ORDER BY name",
                arguments: [namespace.prefix, namespace.prefix + "\u{10FFFF}"]
            ).compactMap { row in
                guard let t = try row.decode(String?.self, forColumn: "target"),
                    let n = RefName(fullName: try row.decode(String.self, forColumn: "name"))
                else { return nil }
                return (n, try CatalogTransaction.commitID(t, of: n))
            }
        }
    }

    /// Reflog entries of `ref`, newest first, at most `limit`.
    /// - Throws: `CatalogError` (`.corrupt` for an entry whose id is not a commit id).
    public func reflog(_ ref: RefName, limit: Int = 1000) throws -> [ReflogEntry] {
        try reading("cannot read the reflog of '\(ref)'") { db in
            try Row.fetchAll(
                db, sql: "SELECT old, new, time, who, message FROM reflog WHERE ref = ? ORDER BY id DESC LIMIT ?",
                arguments: [ref.fullName, limit]
            )
            .map { row in
                // A malformed id is damage (fsck names the entry), never read as "none".
                func id(_ column: String) throws -> CommitID? {
                    try row.decode(String?.self, forColumn: column).map { try CatalogTransaction.commitID($0, of: ref) }
                }
                return ReflogEntry(
                    old: try id("old"), new: try id("new"),
                    time: try row.decode(forColumn: "time"), who: try row.decode(forColumn: "who"),
                    message: try row.decode(forColumn: "message"))
            }
        }
    }

    /// Every commit id ever written to any reflog (fsck treats them as reachable).
    /// - Throws: `CatalogError`.
    public func reflogCommits() throws -> [CommitID] {
        try reading("cannot read the reflog") { db in
            try String.fetchAll(db, sql: "SELECT old FROM reflog WHERE old IS NOT NULL UNION SELECT new FROM reflog WHERE new IS NOT NULL")
                .compactMap { CommitID(hex: $0) }
        }
    }

    // MARK: Packs and blobs

    /// Every blob id known to be stored.
    /// - Throws: `CatalogError`.
    public func blobIDs() throws -> Set<ObjectID> {
        try reading("cannot read the blob index") { db in
            var out = Set<ObjectID>()
            let cursor = try Data.fetchCursor(db, sql: "SELECT id FROM blob")
            while let d = try cursor.next() { out.insert(try Self.objectID(d)) }
            return out
        }
    }

    /// Where blob `id` is stored, or nil.
    /// - Throws: `CatalogError`.
    public func location(of id: ObjectID) throws -> BlobLocation? {
        try reading("cannot read the blob index") { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT pack_id, pack_offset, stored_length, raw_length, codec FROM blob WHERE id = ?",
                    arguments: [Data(id.bytes)])
            else { return nil }
            return BlobLocation(pack: try Self.packID(row, of: id), entry: try Self.packEntry(id, row))
        }
    }

    /// Every blob location (checkout and fsck load them once).
    /// - Throws: `CatalogError`.
    public func allLocations() throws -> [ObjectID: BlobLocation] {
        try reading("cannot read the blob index") { db in
            var out: [ObjectID: BlobLocation] = [:]
            var packs: [String: PackID] = [:]
            let cursor = try Row.fetchCursor(db, sql: "SELECT id, pack_id, pack_offset, stored_length, raw_length, codec FROM blob")
            while let row = try cursor.next() {
                let id = try Self.objectID(try row.decode(Data.self, forColumn: "id"))
                let ph = try row.decode(String.self, forColumn: "pack_id")
                let p = try packs[ph] ?? Self.packID(row, of: id)
                packs[ph] = p
                out[id] = BlobLocation(pack: p, entry: try Self.packEntry(id, row))
            }
            return out
        }
    }

    /// Whether the catalog locates a blob stored as it is (`BlobCodec.stored`) in `pack`; through
    /// the partial index `blob_stored`.
    /// - Throws: `CatalogError` when the index cannot be read.
    public func holdsStoredBlobs(pack: PackID) throws -> Bool {
        try reading("cannot read the blob index") { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM blob WHERE codec = 5 AND pack_id = ? LIMIT 1", arguments: [pack.hex]) ?? false
        }
    }

    /// The packs that hold blobs stored as they are (`BlobCodec.stored`: audio a large commit did
    /// not code), with those blobs' raw bytes; sorted by pack id. Through the partial index
    /// `blob_stored` (`schema/0008_blob_stored.sql`): O(such blobs).
    /// - Throws: `CatalogError` when the index cannot be read.
    public func packsHoldingStoredBlobs() throws -> [(pack: PackID, rawBytes: UInt64)] {
        try reading("cannot read the blob index") { db in
            try Row.fetchAll(
                db, sql: "SELECT pack_id, SUM(raw_length) AS n FROM blob WHERE codec = 5 GROUP BY pack_id ORDER BY pack_id"
            ).compactMap { row in
                guard let p = PackID(hex: row["pack_id"] as String) else { return nil }
                return (p, UInt64(max(0, row["n"] as Int64)))
            }
        }
    }

    /// The packs that hold blobs of any of `codecs` (``BlobCodec`` raw values), with those blobs'
    /// raw bytes; sorted by pack id. A scan of the blob table, O(blobs): for `dvs repack
    /// --recode`, which rewrites such packs whole.
    /// - Throws: `CatalogError` when the index cannot be read.
    public func packsHolding(codecs: Set<UInt8>) throws -> [(pack: PackID, rawBytes: UInt64)] {
        guard !codecs.isEmpty else { return [] }
        let list = codecs.sorted().map(String.init).joined(separator: ", ")
        return try reading("cannot read the blob index") { db in
            try Row.fetchAll(
                db, sql: "SELECT pack_id, SUM(raw_length) AS n FROM blob WHERE codec IN (\(list)) GROUP BY pack_id ORDER BY pack_id"
            ).compactMap { row in
                guard let p = PackID(hex: row["pack_id"] as String) else { return nil }
                return (p, UInt64(max(0, row["n"] as Int64)))
            }
        }
    }

    /// Whether the catalog locates a blob of any of `codecs` (``BlobCodec`` raw values) in `pack`.
    /// - Throws: `CatalogError` when the index cannot be read.
    public func holdsBlobs(pack: PackID, codecs: Set<UInt8>) throws -> Bool {
        guard !codecs.isEmpty else { return false }
        let list = codecs.sorted().map(String.init).joined(separator: ", ")
        return try reading("cannot read the blob index") { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM blob WHERE codec IN (\(list)) AND pack_id = ? LIMIT 1", arguments: [pack.hex])
                ?? false
        }
    }

    /// Known pack ids.
    /// - Throws: `CatalogError`.
    public func packIDs() throws -> [PackID] {
        try reading("cannot read the pack index") { db in
            try String.fetchAll(db, sql: "SELECT id FROM pack ORDER BY id").compactMap { PackID(hex: $0) }
        }
    }

    /// The pack entry of blob `id` from its `blob` row.
    /// - Throws: `CatalogError` with code `.database` when the row names a codec this dvs does not
    ///   know; `.corrupt` when a cell does not hold what the schema says (a damaged catalog).
    private static func packEntry(_ id: ObjectID, _ row: Row) throws -> PackEntry {
        let code = try row.decode(Int64.self, forColumn: "codec")
        guard let byte = UInt8(exactly: code), let codec = BlobCodec(rawValue: byte) else {
            throw CatalogError(.database, "object '\(id.hex)' has unknown codec \(code)")
        }
        let offset = try row.decode(Int64.self, forColumn: "pack_offset")
        let stored = try row.decode(Int64.self, forColumn: "stored_length")
        let raw = try row.decode(Int64.self, forColumn: "raw_length")
        guard let o = UInt64(exactly: offset), let s = UInt64(exactly: stored), let r = UInt64(exactly: raw) else {
            throw CatalogError(.corrupt, "the blob index row of '\(id.hex)' holds a negative offset or length")
        }
        return PackEntry(id: id, offset: o, storedLength: s, rawLength: r, codec: codec)
    }

    /// The pack named by a `blob` row.
    /// - Throws: `CatalogError.corrupt` when the cell is not a pack id (a damaged catalog).
    private static func packID(_ row: Row, of id: ObjectID) throws -> PackID {
        let text = try row.decode(String.self, forColumn: "pack_id")
        guard let p = PackID(hex: text) else {
            throw CatalogError(.corrupt, "the blob index row of '\(id.hex)' names pack '\(text)', which is not a pack id")
        }
        return p
    }

    /// A blob id from an `id` cell.
    /// - Throws: `CatalogError.corrupt` when the cell is not 32 bytes (a damaged catalog).
    private static func objectID(_ d: Data) throws -> ObjectID {
        guard d.count == 32 else { throw CatalogError(.corrupt, "the blob index holds an id of \(d.count) bytes, not 32") }
        return ObjectID(data: d)
    }

    // MARK: Commits

    /// Commit ids starting with `prefix` (lower-case hex), at most `limit`.
    /// - Throws: `CatalogError`.
    public func commits(withPrefix prefix: String, limit: Int = 2) throws -> [CommitID] {
        try reading("cannot read the commit index") { db in
            try String.fetchAll(
                db, sql: "SELECT id FROM commit_meta WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                arguments: [prefix, prefix + "g", limit]
            ).compactMap { CommitID(hex: $0) }
        }
    }

    /// When this repository recorded `id` among its commits (larger is later; migration 0004),
    /// or nil when the commit is unknown or was recorded before the catalog kept the order.
    /// - Throws: `CatalogError`.
    public func recordingOrder(of id: CommitID) throws -> Int64? {
        try reading("cannot read the commit index") { db in
            try Int64?.fetchOne(db, sql: "SELECT recorded FROM commit_meta WHERE id = ?", arguments: [id.hex]) ?? nil
        }
    }

    // MARK: Stat cache

    /// The whole stat cache, in one query.
    /// - Throws: `CatalogError`.
    /// - Complexity: O(n) rows.
    public func statCache() throws -> [RepoPath: StatCacheEntry] {
        try reading("cannot read the stat cache") { db in
            var out: [RepoPath: StatCacheEntry] = [:]
            out.reserveCapacity(try Int.fetchOne(db, sql: "SELECT count(*) FROM stat_cache") ?? 0)
            try Self.readStatCache(db, where: nil, bindings: [[]], into: &out)
            return out
        }
    }

    /// Calls `body` with every stat cache row's path bytes and stat fields, in path byte order
    /// (the order `RepoPath` sorts in), without building the rows' audio facts: the walk of a
    /// tree is compared with this stream (`dvs status`, `dvs commit`).
    /// - Parameter body: receives the path bytes (valid only during the call) and the stamp.
    /// - Throws: `CatalogError`; what `body` throws.
    /// - Complexity: O(n) rows stepped with SQLite's C API, O(1) memory.
    public func forEachStatStamp(_ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void) throws {
        try forEachStatStamp(where: nil, arguments: [], body)
    }

    /// ``forEachStatStamp(_:)`` for the rows of `prefix` and of everything below it only (a
    /// range of the primary key: `prefix`, then paths from `prefix/` up to `prefix0`, as `/`
    /// and `0` are neighbouring bytes).
    /// - Throws: `CatalogError`; what `body` throws.
    /// - Complexity: O(log n + k) for k rows.
    public func forEachStatStamp(within prefix: RepoPath, _ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void) throws {
        guard !prefix.bytes.isEmpty else { return try forEachStatStamp(body) }
        try forEachStatStamp(
            where: "path = ?1 OR (path > ?2 AND path < ?3)",
            arguments: [Data(prefix.bytes), Data(prefix.bytes + [0x2F]), Data(prefix.bytes + [0x30])], body)
    }

    private func forEachStatStamp(
        where condition: String?, arguments: [Data], _ body: (UnsafeRawBufferPointer, StatStamp) throws -> Void
    ) throws {
        try reading("cannot read the stat cache") { db in
            let statement = try db.makeStatement(
                sql: "SELECT path, byte_count, mtime_ns, ctime_ns, inode, mode, recorded_at_ns, unsettled FROM stat_cache"
                    + (condition.map { " WHERE " + $0 } ?? "") + " ORDER BY path")
            try statement.setArguments(StatementArguments(arguments))
            let s = statement.sqliteStatement
            defer { sqlite3_reset(s) }
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else {
                    let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(s)))
                    throw CatalogError(
                        CatalogError.code(forSQLiteResult: rc, message: message), "cannot read the stat cache: \(message)",
                        underlying: SQLiteFailure(resultCode: rc & 0xFF, extendedResultCode: rc, message: message))
                }
                let n = Int(sqlite3_column_bytes(s, 0))
                let path = UnsafeRawBufferPointer(start: n > 0 ? sqlite3_column_blob(s, 0) : nil, count: n)
                try body(
                    path,
                    StatStamp(
                        byteCount: sqlite3_column_int64(s, 1), mtimeNanoseconds: sqlite3_column_int64(s, 2),
                        ctimeNanoseconds: sqlite3_column_int64(s, 3), inode: sqlite3_column_int64(s, 4),
                        mode: UInt32(truncatingIfNeeded: sqlite3_column_int64(s, 5)), recordedAtNanoseconds: sqlite3_column_int64(s, 6),
                        unsettled: sqlite3_column_int64(s, 7) != 0))
            }
        }
    }

    /// The commit whose snapshot the settled stat cache rows mirror (`schema/0005_stat_cache_base.sql`),
    /// or nil when no command vouched for one since the last change it could not follow.
    /// - Throws: `CatalogError`.
    public func statCacheBase() throws -> CommitID? {
        try reading("cannot read the stat cache") { db in
            try String.fetchOne(db, sql: "SELECT head FROM stat_cache_base WHERE one = 1").flatMap(CommitID.init(hex:))
        }
    }

    /// The file-system monitor's token recorded with the stat cache and the paths its scan left
    /// as candidates (`schema/0007_fsmonitor_token.sql`), or nil when none is recorded.
    /// - Throws: `CatalogError`.
    /// - Complexity: O(k log k) for k pending paths.
    public func fsmonitorToken() throws -> (token: String, pending: [RepoPath])? {
        try reading("cannot read the stat cache") { db in
            guard let token = try String.fetchOne(db, sql: "SELECT token FROM fsmonitor_token WHERE one = 1") else { return nil }
            let pending = try Data.fetchAll(db, sql: "SELECT path FROM fsmonitor_pending").map { RepoPath(bytes: Array($0)) }
            return (token, pending)
        }
    }

    /// The paths of the unsettled stat cache rows (the partial index `stat_cache_unsettled`).
    /// - Throws: `CatalogError`.
    /// - Complexity: O(u log n) for u unsettled rows.
    public func unsettledStatCachePaths() throws -> [RepoPath] {
        try reading("cannot read the stat cache") { db in
            try Data.fetchAll(db, sql: "SELECT path FROM stat_cache INDEXED BY stat_cache_unsettled WHERE unsettled = 1").map {
                RepoPath(bytes: Array($0))
            }
        }
    }

    /// How many rows the stat cache holds.
    /// - Throws: `CatalogError`.
    /// - Complexity: O(n) pages of the smallest index (≈ ms per 100k rows).
    public func statCacheRowCount() throws -> Int {
        try reading("cannot read the stat cache") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM stat_cache") ?? 0 }
    }

    /// The label sources recorded for commit `id` (JSON, as `CatalogTransaction.setLabelSources`
    /// stored it), or nil when none were.
    /// - Throws: `CatalogError`.
    public func labelSources(of id: CommitID) throws -> Data? {
        try reading("cannot read the label sources of commit \(id.hex)") { db in
            try Data.fetchOne(db, sql: "SELECT tables FROM label_sources WHERE commit_id = ?", arguments: [id.hex])
        }
    }

    /// The stat cache rows of `paths` (those that have one), one primary-key lookup each.
    /// - Throws: `CatalogError`.
    /// - Complexity: O(k log n) for k paths.
    public func statCache(for paths: [RepoPath]) throws -> [RepoPath: StatCacheEntry] {
        try reading("cannot read the stat cache") { db in
            var out: [RepoPath: StatCacheEntry] = [:]
            try Self.readStatCache(db, where: "path = ?", bindings: paths.map { [$0.bytes] }, into: &out)
            return out
        }
    }

    /// Steps `SELECT … FROM stat_cache [WHERE condition]` once per binding (each a list of
    /// blob parameters), adding the rows to `out`.
    /// The hot path of `dvs status`: stepped with SQLite's C API (GRDB's `Row` costs ~1 µs a row).
    private static func readStatCache(
        _ db: Database, where condition: String?, bindings: [[[UInt8]]], into out: inout [RepoPath: StatCacheEntry]
    ) throws {
        let statement = try db.makeStatement(
            sql:
                "SELECT path, byte_count, mtime_ns, ctime_ns, inode, mode, blob, container, encoding, sample_rate, channels, frames, recorded_at_ns, warning, levels FROM stat_cache"
                + (condition.map { " WHERE " + $0 } ?? "")
        )
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        func bytes(_ i: Int32) -> UnsafeRawBufferPointer {
            let n = Int(sqlite3_column_bytes(s, i))
            guard n > 0, let p = sqlite3_column_blob(s, i) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(start: p, count: n)
        }
        func text(_ i: Int32) -> String? {
            guard sqlite3_column_type(s, i) != SQLITE_NULL, let p = sqlite3_column_text(s, i) else { return nil }
            return String(cString: p)
        }
        for parameters in bindings {
            sqlite3_reset(s)
            for (i, p) in parameters.enumerated() {
                _ = p.withUnsafeBytes { sqlite3_bind_blob(s, Int32(i + 1), $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT_CATALOG) }
            }
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else {
                    let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(s)))
                    let failure = SQLiteFailure(resultCode: rc & 0xFF, extendedResultCode: rc, message: message)
                    throw CatalogError(
                        CatalogError.code(forSQLiteResult: rc, message: message), "cannot read the stat cache: \(message)",
                        underlying: failure)
                }
                let blob = bytes(6)
                guard blob.count == 32 else { continue }
                var audio: AudioFacts?
                if let c = text(7) {
                    var a = AudioFacts(
                        container: c, encoding: text(8) ?? "", sampleRate: Int(sqlite3_column_int64(s, 9)),
                        channelCount: Int(sqlite3_column_int64(s, 10)), frameCount: Int(sqlite3_column_int64(s, 11)))
                    (a.peak, a.rms) = Self.decodeLevels(bytes(14))
                    audio = a
                }
                out[RepoPath(bytes: Array(bytes(0)))] = StatCacheEntry(
                    byteCount: sqlite3_column_int64(s, 1), mtimeNanoseconds: sqlite3_column_int64(s, 2),
                    ctimeNanoseconds: sqlite3_column_int64(s, 3),
                    inode: sqlite3_column_int64(s, 4), mode: UInt32(truncatingIfNeeded: sqlite3_column_int64(s, 5)),
                    blob: ObjectID(raw: blob),
                    audio: audio, recordedAtNanoseconds: sqlite3_column_int64(s, 12), warning: text(13))
            }
        }
    }

    /// Per channel: peak then RMS, float32 little-endian each (`schema/0002_levels.sql`).
    static func encodeLevels(_ a: AudioFacts) -> Data {
        var d = Data()
        for (p, r) in zip(a.peak, a.rms) {
            withUnsafeBytes(of: p.bitPattern.littleEndian) { d.append(contentsOf: $0) }
            withUnsafeBytes(of: r.bitPattern.littleEndian) { d.append(contentsOf: $0) }
        }
        return d
    }

    static func decodeLevels(_ b: UnsafeRawBufferPointer) -> (ChannelLevels, ChannelLevels) {
        var peak = ChannelLevels()
        var rms = ChannelLevels()
        var i = 0
        while i + 8 <= b.count {
            peak.append(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i, as: UInt32.self))))
            rms.append(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))))
            i += 8
        }
        return (peak, rms)
    }

    // MARK: Config

    /// A setting's value, or nil.
    /// - Throws: `CatalogError`.
    public func config(_ key: String) throws -> String? {
        try reading("cannot read setting '\(key)'") { db in
            try String.fetchOne(db, sql: "SELECT value FROM config WHERE key = ?", arguments: [key])
        }
    }

    /// All settings, sorted by key.
    /// - Throws: `CatalogError`.
    public func allConfig() throws -> [(String, String)] {
        try reading("cannot read the settings") { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM config ORDER BY key").map {
                (try $0.decode(String.self, atIndex: 0), try $0.decode(String.self, atIndex: 1))
            }
        }
    }

    // MARK: Lineage (migration 0003)

    /// Every indexed model, oldest first.
    /// - Throws: `CatalogError`.
    public func models() throws -> [ModelRow] {
        try reading("cannot read the model index") { db in
            try Row.fetchAll(db, sql: "SELECT id, name, artifact, snapshot, revision, created_at FROM model ORDER BY created_at, id")
                .compactMap { r in
                    guard let id = ModelID(hex: try r.decode(String.self, forColumn: "id")),
                        let a = ObjectID(hex: try r.decode(String.self, forColumn: "artifact")),
                        let s = CommitID(hex: try r.decode(String.self, forColumn: "snapshot"))
                    else { return nil }
                    return ModelRow(
                        id: id, name: try r.decode(forColumn: "name"), artifact: a, snapshot: s,
                        revision: try r.decode(forColumn: "revision"),
                        createdAt: try r.decode(forColumn: "created_at"))
                }
        }
    }

    /// Eval record ids of `model`, oldest first.
    /// - Throws: `CatalogError`.
    public func evals(of model: ModelID) throws -> [EvalID] {
        try reading("cannot read the eval index") { db in
            try String.fetchAll(db, sql: "SELECT id FROM eval WHERE model = ? ORDER BY created_at, id", arguments: [model.hex]).compactMap {
                EvalID(hex: $0)
            }
        }
    }

    /// Every indexed record id (models and evals).
    /// - Throws: `CatalogError`.
    public func lineageRecordIDs() throws -> Set<ObjectID> {
        try reading("cannot read the lineage index") { db in
            Set(try String.fetchAll(db, sql: "SELECT id FROM model UNION ALL SELECT id FROM eval").compactMap { ObjectID(hex: $0) })
        }
    }
}

/// One row of the `model` table (migration 0003).
public struct ModelRow: Sendable, Equatable {
    /// Model record id.
    public var id: ModelID
    /// Display name.
    public var name: String
    /// SHA-256 of the artifact.
    public var artifact: ObjectID
    /// Training snapshot commit.
    public var snapshot: CommitID
    /// The revision as given.
    public var revision: String
    /// Training end time, unix seconds.
    public var createdAt: Double
    /// Creates a row.
    public init(id: ModelID, name: String, artifact: ObjectID, snapshot: CommitID, revision: String, createdAt: Double) {
        self.id = id
        self.name = name
        self.artifact = artifact
        self.snapshot = snapshot
        self.revision = revision
        self.createdAt = createdAt
    }
}

/// SQLite's SQLITE_TRANSIENT destructor (copy the bytes now), which Swift cannot import as a macro.
// named after the C macro it stands for.
// swift-format-ignore: AlwaysUseLowerCamelCase
private let SQLITE_TRANSIENT_CATALOG = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
