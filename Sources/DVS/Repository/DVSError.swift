import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

/// An error from a repository operation, ready to show a user: what failed (naming the path,
/// object or revision), the next step (a typed ``NextStep`` the command layer words, or free
/// text naming no command), and the underlying cause.
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
        case checkOutInstead(Revision)
        /// Start a merge (`dvs merge REV`).
        case startMerge
        /// Undo the merge in progress (`dvs merge --abort`).
        case abortMerge
        /// Overwrite a damaged remote ref with a good value (`dvs push --force`).
        case forcePush(remote: String)
        /// Delete a cache file (the sample index) that cannot be used; dvs rebuilds it from the
        /// snapshots.
        case deleteCache(path: String)

        // Repository

        /// Use the existing repository (`dvs status`) or remove its `.dvs` folder (an absolute path).
        case useOrRemoveRepository(dvsFolder: String)
        /// The repository's format is newer than this dvs reads.
        case useNewerDVS
        /// Create a repository here (`dvs init`).
        case initRepository

        // Commit

        /// Write `--author` as `Name <email>`.
        case writeAuthor
        /// Give a commit message (`-m`).
        case passMessage
        /// Fix or remove undecodable audio, or commit without `--strict`.
        case fixAudioOrDropStrict
        /// Record an empty commit (`--allow-empty`).
        case allowEmpty
        /// Fix what the pre-commit hook reports, or skip it (`--no-verify`).
        case fixOrSkipPreCommitHook
        /// Make the first commit (`dvs commit -m MSG`), after which the name resolves.
        case commitFirst
        /// A branch with no commit to push: commit first (`dvs commit -m MSG`).
        case commitBeforePushing

        // Revisions and paths

        /// See the history (`dvs log`).
        case seeHistory
        /// How to spell a revision (`dvs log` lists commits).
        case spellRevision
        /// How to spell `REV:PATH` (`dvs cat`).
        case spellRevisionPath
        /// List a folder of a revision (`dvs ls REV PATH`).
        case listFolder(Revision, RepoPath)
        /// List a revision's files (`dvs ls REV`).
        case listFiles(Revision)
        /// Paths are from the tree root: `path` seen from the current folder `folder` (tree-relative).
        case pathFromTreeRoot(folder: String, path: RepoPath)

        // Working tree

        /// The snapshot is damaged or hand-made: `dvs fsck`, and check out another revision.
        case damagedSnapshot
        /// Move the file in the way, or replace it with `--force`.
        case moveAwayOrForce
        /// An interrupted operation (`command`, the user's words) cannot be finished because files
        /// changed since: move them away and run any command again, or finish it by overwriting
        /// them (`dvs checkout --force HEAD`); `target` is the short id it was switching to.
        case finishInterruptedOperation(command: String, target: String)

        // Merge

        /// Edit the conflicted files, or restart the merge with a strategy (`dvs merge --abort`,
        /// then `dvs cohort refresh COHORT` or `dvs merge THEIRS` with `--strategy`), then
        /// `dvs merge --continue`; `cohort` is the cohort being refreshed, nil for a plain merge.
        case resolveOrRestartMerge(cohort: String?, theirs: String)
        /// As `resolveOrRestartMerge` when a deletion against a change is open: delete what is
        /// not kept, mark each listed path resolved (`dvs merge --resolved PATH`), or restart
        /// with a strategy, then `dvs merge --continue`.
        case resolveDeletionOrRestartMerge(cohort: String?, theirs: String)
        /// Resolve a cohort refresh's conflicts in the cohort (`dvs checkout cohort/NAME`,
        /// `dvs cohort refresh NAME`) or pass `--strategy`.
        case resolveCohortConflicts(cohort: String)

        // Remotes

        /// Fix the remote's endpoint: `dvs remote remove NAME`, then `dvs remote add NAME URL --endpoint E`.
        case readdRemoteWithEndpoint(remote: String)
        /// Add the missing remote (`dvs remote add`); `configured` lists the remotes there are.
        case addRemote(remote: String, configured: [String])
        /// Name the branch to pull (`dvs pull REMOTE BRANCH`; `dvs fetch REMOTE --json` lists them).
        case namePullBranch(remote: String)
        /// Name the branch to push (`dvs push REMOTE BRANCH`).
        case namePushBranch(remote: String)
        /// Check out a branch to pull into (`dvs checkout main`).
        case checkOutBranchToPullInto
        /// Give the remote's folder (what `dvs push` writes) or an S3 URL.
        case giveRemoteLocation
        /// Clone into another folder, or pull here (`dvs pull`).
        case cloneElsewhereOrPull
        /// Clone into a new or empty folder (`dvs clone URL DIR`).
        case cloneIntoEmptyFolder
        /// Pick the branch to clone (`dvs clone URL DIR --branch NAME`); the repository is kept.
        case pickCloneBranch(url: String, directory: String)
        /// The remote ref moved: pull (`dvs pull REMOTE`) or replace it (`dvs push --force`);
        /// `ref` says whether it is a branch or a tag.
        case pullOrForcePush(remote: String, ref: RefName)
        /// A ref moved while pushing: pull (`dvs pull REMOTE`), then push again.
        case pullThenPushAgain(remote: String)
        /// An object the remote lacks: push again from a repository that has it (`dvs push REMOTE`).
        case pushFromRepositoryThatHasIt(remote: String)
        /// The remote holds a purge this repository lacks: fetch from it first (`dvs fetch
        /// REMOTE` applies the purge here), then push again.
        case fetchPurgeFirst(remote: String)
        /// This repository lacks what the remote's refs or records reach: fetch from it
        /// (`dvs fetch REMOTE`), then collect its garbage again (`dvs gc --remote REMOTE`).
        case fetchBeforeRemoteGC(remote: String)
        /// A file holds audio a purge erased: remove it and commit, or purge it from history
        /// (`dvs purge PATH --yes`), then push again.
        case removeErasedAudio(path: String)
        /// A damaged object on the remote: push a good copy (`dvs push REMOTE`).
        case pushGoodCopy(remote: String)
        /// A damaged object on the remote: push a good copy (`dvs push REMOTE`) or have the
        /// remote's owner run `dvs fsck` there.
        case pushGoodCopyOrFsckRemote(remote: String)
        /// A damaged or missing key on the remote: from a repository that has good copies,
        /// check and repair the remote (`dvs remote verify REMOTE --repair`).
        case repairRemote(remote: String)
        /// A local pack that push must upload is damaged or missing: `dvs fsck` lists what it
        /// holds; restore the file from a backup or another clone, then push again.
        case restoreLocalPack(path: String)

        // Samples, cohorts, audits

        /// HEAD has no commit: commit first, or pass `--rev`.
        case commitFirstOrPassRevision
        /// Check an SQL statement against the tables `dvs query --help` describes.
        case checkQueryStatement
        /// Check an audit expression against `dvs query --help`.
        case checkAuditExpression
        /// An example of `dvs audit --samples`.
        case auditSamplesExample
        /// Write a cohort's SQL condition (tried with `dvs query`).
        case writeCohortCondition
        /// Check a cohort predicate that matches nothing (`dvs query --rev REV …`).
        case checkCohortPredicate(Revision, predicate: String)

        // Lineage and learning

        /// A stored sample no longer decodes as audio (`dvs fsck`).
        case audioNoLongerDecodes
        /// Check the repository, and fetch good copies (`dvs fsck`, `dvs pull`).
        case fsckOrPull
        /// Fetch the missing object (`dvs pull`).
        case pullToFetch
        /// Register a model file (`dvs model add FILE --rev REV`; `dvs models` lists them).
        case registerModel(file: String)
        /// An ambiguous model id: more hex digits (`dvs models` lists ids).
        case longerModelID
        /// What names a model (`dvs models` lists them).
        case nameAModel
        /// An ambiguous record id: a longer one (`dvs models`) or the model file's path.
        case longerRecordIDOrPath
        /// `dvs eval` reads only models written by `dvs train`; others run under `dvs run`.
        case evaluateOnlyTrainedModels
        /// A shard outside `0 ≤ I < N` (`--shard I/N`).
        case validShard
        /// Regress on a numeric label, or classify this one (`dvs train --label LABEL --task classify`).
        case classifyInstead(label: String)
        /// The model's folder cannot be written: fix it or pass another `--out`.
        case anotherOutputFolder
        /// Evaluate on a revision whose samples carry `label` (`dvs query --rev REV …` shows the fields).
        case evaluateOnLabeledRevision(label: String, revision: Revision)
    }
    /// Broad class.
    public var code: Code
    /// What failed, lower-case, subject quoted.
    public var message: String
    /// The next step as a value, when it is one of ``NextStep``; the command layer prefers it
    /// over ``hint``.
    public var next: NextStep?
    /// A next step as free text that names no dvs command or option (which column, which file,
    /// what to set); every step that names one is a ``next`` value, worded by the command layer.
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
                case .corrupt, .schema, .constraint, .notACatalog: .corrupt
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
            if let e = CatalogError.fromDatabaseError(error) { return wrap(e) }
            return DVSError(.internal, "\(error)", underlying: error)
        }
    }
}
