import Foundation
import GRDB
import GRDBSQLite

/// An error from the catalog (or another SQLite database dvs keeps), with a code the command layer
/// turns into a hint and the SQLite failure it came from.
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable, Equatable, CaseIterable {
        /// Another connection holds the database (`SQLITE_BUSY`, `SQLITE_LOCKED`) past the busy timeout.
        case busy
        /// The disk (or the database's size limit) is full (`SQLITE_FULL`).
        case full
        /// The file is damaged or not a database (`SQLITE_CORRUPT`, `SQLITE_NOTADB`).
        case corrupt
        /// The schema is not what this dvs expects: a missing table or column, or one that changed
        /// under a statement (`SQLITE_SCHEMA`), or a migration that failed.
        case schema
        /// The file or folder cannot be written (`SQLITE_READONLY`).
        case readOnly
        /// An operating-system I/O failure or a file that cannot be opened (`SQLITE_IOERR`,
        /// `SQLITE_CANTOPEN`, `SQLITE_PERM`, `SQLITE_NOLFS`).
        case io
        /// A row broke a constraint (`SQLITE_CONSTRAINT`, `SQLITE_MISMATCH`): the catalog
        /// disagrees with itself.
        case constraint
        /// Any other SQLite failure.
        case database
        /// A ref moved between reading it and moving it (compare-and-swap failed).
        case refMoved
        /// A row that must exist does not.
        case notFound
        /// The file is not a dvs catalog: missing, empty, or another program's SQLite database.
        case notACatalog
    }

    /// What kind of failure.
    public var code: Code
    /// What failed, lower-case, subject quoted.
    public var message: String
    /// The error this one was made from (a ``SQLiteFailure`` for SQLite's errors).
    public var underlying: (any Error & Sendable)?
    /// True when the catalog could not be opened at all (then no command that opens the
    /// repository, `fsck` and `reindex` included, can run until the file is replaced).
    public var duringOpen = false
    /// True when there is no catalog file at all (a `.notACatalog` at open): nothing to move aside.
    public var fileMissing = false

    /// Creates an error.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message.
    public var description: String { message }

    /// The catalog error for SQLite's result code `resultCode` (primary or extended) and its
    /// message: the mapping every SQLite failure in DVSCatalog goes through.
    public static func code(forSQLiteResult resultCode: Int32, message: String?) -> Code {
        switch resultCode & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy
        case SQLITE_FULL: return .full
        case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt
        case SQLITE_SCHEMA: return .schema
        case SQLITE_READONLY: return .readOnly
        case SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_NOLFS: return .io
        case SQLITE_CONSTRAINT, SQLITE_MISMATCH: return .constraint
        case SQLITE_ERROR:
            let m = message ?? ""
            return m.hasPrefix("no such table") || m.hasPrefix("no such column") || m.contains("has no column named") ? .schema : .database
        default: return .database
        }
    }

    /// `error` as seen from DVSCatalog's callers: a GRDB/SQLite error becomes a `CatalogError`
    /// whose message is `what` followed by SQLite's message (a cell GRDB cannot decode becomes
    /// `.corrupt`); a `CatalogError` and any other error
    /// (thrown by a caller's closure inside a transaction) pass through unchanged.
    static func mapping(_ error: any Error, _ what: String) -> any Error {
        if error is RowDecodingError {
            // A cell whose type or value is not what the schema holds there: the file was damaged.
            return CatalogError(.corrupt, "\(what): a damaged value (a cell does not hold what its column should)")
        }
        guard let e = error as? DatabaseError else { return error }
        let failure = SQLiteFailure(e)
        return CatalogError(
            code(forSQLiteResult: failure.extendedResultCode, message: failure.message), "\(what): \(failure.message)",
            underlying: failure)
    }

    /// `error` as a catalog error when it is one of SQLite's or GRDB's (one that escaped the
    /// mapping at its source), else nil: such an error is damage or an I/O failure of a database
    /// file, never a bug to report with exit status 255.
    public static func fromDatabaseError(_ error: any Error) -> CatalogError? {
        guard error is DatabaseError || error is RowDecodingError else { return nil }
        return mapping(error, "cannot use a dvs database (the catalog '.dvs/catalog.sqlite' or a cache beside it)") as? CatalogError
    }

    /// Runs `body`, mapping SQLite's errors as ``mapping(_:_:)`` does.
    static func guarding<T>(_ what: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw mapping(error, what()) }
    }
}

/// One failure reported by SQLite: result codes, message and the statement, as plain values.
public struct SQLiteFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The primary result code (`SQLITE_BUSY` = 5, `SQLITE_CORRUPT` = 11, …).
    public var resultCode: Int32
    /// The extended result code (`SQLITE_IOERR_WRITE`, …), or the primary code when there is none.
    public var extendedResultCode: Int32
    /// SQLite's message (`database disk image is malformed`).
    public var message: String
    /// The statement that failed, when there was one.
    public var sql: String?

    /// Creates a failure.
    public init(resultCode: Int32, extendedResultCode: Int32? = nil, message: String, sql: String? = nil) {
        self.resultCode = resultCode
        self.extendedResultCode = extendedResultCode ?? resultCode
        self.message = message
        self.sql = sql
    }

    init(_ e: DatabaseError) {
        self.init(
            resultCode: e.resultCode.primaryResultCode.rawValue, extendedResultCode: e.extendedResultCode.rawValue,
            message: e.message ?? "SQLite error \(e.resultCode.rawValue)", sql: e.sql)
    }

    /// `SQLite error <code>: <message>`.
    public var description: String { "SQLite error \(extendedResultCode): \(message)" }
}
