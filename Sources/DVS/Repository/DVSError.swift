import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

/// An error from a repository operation, ready to show a user: what failed (naming the path,
/// object or revision), a hint with the next command, and the underlying cause.
public struct DVSError: Error, Sendable, CustomStringConvertible {
    /// Broad classes; the CLI maps them to exit codes (1 for data/user errors, 255 for bugs).
    public enum Code: Sendable {
        /// No `.dvs` folder found.
        case notARepository
        /// `dvs init` where one exists.
        case alreadyExists
        /// A revision that names nothing.
        case unknownRevision
        /// Nothing changed (`commit` without `--allow-empty`).
        case nothingToCommit
        /// Bad input data (undecodable audio under `--strict`, a file changing while read, …).
        case badInput
        /// Checkout would overwrite or delete uncommitted work.
        case wouldOverwrite
        /// A snapshot holds a path that must not be written.
        case unsafePath
        /// A damaged object or pack.
        case corrupt
        /// Another writer holds the lock.
        case locked
        /// An I/O failure (disk full, permission denied, …).
        case io
        /// The command line is wrong (a missing part of an argument, an empty message).
        case usage
        /// A remote refused or failed: credentials, connection, a ref that moved, a missing key.
        case remote
        /// An invariant broke: a bug in dvs.
        case `internal`
    }
    /// The next step to suggest, as a value the command layer renders (naming dvs commands);
    /// the library writes no command names for these.
    public enum NextStep: Sendable, Equatable {
        /// Check the repository (`dvs fsck`).
        case runFsck
        /// List the damaged objects (`dvs fsck`).
        case listDamagedObjects
        /// List the damaged objects and the paths that use them (`dvs fsck`).
        case listDamagedObjectsAndPaths
        /// Set the committer identity through `DVS_AUTHOR_NAME` and `DVS_AUTHOR_EMAIL`.
        case setAuthorIdentity
        /// Pick another name for the branch or tag, or delete the existing one (`dvs branch|tag -d`).
        case renameOrDeleteRef(RefName)
        /// Merge the branch first, or force its deletion (`dvs branch -D`).
        case mergeOrForceDelete(branch: String)
        /// List the branches (`dvs branch`).
        case listBranches
        /// List the tags (`dvs tag`).
        case listTags
        /// Finish the merge in progress (`dvs merge --continue`) or undo it (`--abort`);
        /// `afterStatus` adds fixing what `dvs status` lists first.
        case finishOrAbortMerge(afterStatus: Bool)
        /// Commit the working tree's changes (`dvs commit`) or discard them (`dvs checkout HEAD --force`).
        case commitOrDiscard
        /// Remove the remote before adding it again (`dvs remote remove`).
        case removeRemote(String)
        /// Look at the existing cohort (`dvs cohort show`) or bring it up to date (`dvs cohort refresh`).
        case showOrRefreshCohort(String)
        /// List the cohorts (`dvs cohort list`) or make one (`dvs cohort create`).
        case listOrCreateCohort
        /// Commit the files that would be lost, move them away, or check out with `--force`.
        case commitMoveOrForce
        /// Check out the revision instead of merging it (`dvs checkout`).
        case checkOutInstead(revision: String)
        /// Start a merge (`dvs merge REV`).
        case startMerge
        /// Undo the merge in progress (`dvs merge --abort`).
        case abortMerge
        /// Overwrite a damaged remote ref with a good value (`dvs push --force`).
        case forcePush(remote: String)
    }
    /// Broad class.
    public var code: Code
    /// What failed, lower-case, subject quoted.
    public var message: String
    /// The next step as a value, when it is one of ``NextStep``; the command layer prefers it
    /// over ``hint``.
    public var next: NextStep?
    /// The exact next step as free text, if any (being replaced by ``next``).
    public var hint: String?
    /// The underlying cause (C function and message, errno text).
    public var cause: String?
    /// Further lines (one per file, for example).
    public var details: [String]
    /// The lower-layer error this one was made from, when there was one (a `CatalogError`, whose
    /// code the command layer turns into a hint).
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    /// - Parameter next: the next step as a value (rendered by the command layer).
    /// - Parameter underlying: the lower-layer error this one is made from; the command layer
    ///   chooses the hint from it when it has one for it.
    public init(
        _ code: Code, _ message: String, hint: String? = nil, cause: String? = nil, details: [String] = [],
        underlying: (any Error & Sendable)? = nil, next: NextStep? = nil
    ) {
        self.code = code
        self.message = message
        self.next = next
        self.hint = hint
        self.cause = cause
        self.details = details
        self.underlying = underlying
    }

    public var description: String { message }

    /// Wraps lower-layer errors so every error leaving `DVS` is a `DVSError`, keeping the
    /// wrapped error as ``underlying`` (its `cause` text stays for display).
    static func wrap(_ error: Error) -> DVSError {
        switch error {
        case let e as DVSError: return e
        case let e as StorageError:
            let code: Code =
                switch e.code {
                case .corrupt, .compression: .corrupt
                case .locked: .locked
                case .notFound: .corrupt
                case .io, .noSpace: .io
                }
            return DVSError(code, e.message, cause: e.cause, underlying: e)
        case let e as BlobReadError:
            return DVSError(.corrupt, e.message, cause: e.cause, underlying: e, next: .listDamagedObjectsAndPaths)
        case let e as BlobWriteError:
            return DVSError(.internal, e.message, cause: e.cause, underlying: e)
        case let e as CatalogError:
            let code: Code =
                switch e.code {
                case .refMoved, .busy: .locked
                case .corrupt, .schema, .constraint: .corrupt
                case .full, .readOnly, .io, .database, .notFound: .io
                }
            var wrapped = DVSError(code, e.message)
            wrapped.underlying = e
            return wrapped
        case let e as RemoteError:
            let code: Code =
                switch e.code {
                case .invalidInput: .badInput
                case .io: .io
                default: .remote
                }
            return DVSError(code, e.message, hint: e.hint, cause: e.cause, underlying: e)
        case let e as FormatError:
            return DVSError(.corrupt, "malformed object: \(e)", underlying: e, next: .runFsck)
        default:
            return DVSError(.internal, "\(error)", underlying: error)
        }
    }
}
