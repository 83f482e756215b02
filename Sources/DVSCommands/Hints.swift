import DVS
import DVSCatalog
import DVSCore
import DVSLearn
import DVSRemote
import DVSStorage

/// The next step to suggest for a failure: the library reports what failed and on what (a code
/// and a subject); the command layer says what to do about it, naming dvs commands.
enum Hints {
    /// The hint to print for `e`: the one for its underlying lower-layer error when there is
    /// one for it, else its typed next step, else its free-text `hint`.
    static func hint(for e: DVSError) -> String? {
        if let u = e.underlying, let h = hint(forUnderlying: u) { return h }
        if let n = e.next { return text(n) }
        return e.hint
    }

    /// A typed next step as the text the CLI prints.
    static func text(_ step: DVSError.NextStep) -> String {
        switch step {
        case .runFsck: return "run 'dvs fsck'"
        case .listDamagedObjects: return "run 'dvs fsck' to list damaged objects"
        case .listDamagedObjectsAndPaths: return "run 'dvs fsck' to list damaged objects and the paths that use them"
        case .setAuthorIdentity: return "set DVS_AUTHOR_NAME and DVS_AUTHOR_EMAIL"
        case .renameOrDeleteRef(let ref):
            let kind = ref.kind == .tag ? "tag" : "branch"
            return "pick another name, or delete it first ('dvs \(kind) -d \(ref.shortName)')"
        case .mergeOrForceDelete(let branch):
            return "merge it first, or delete it anyway with 'dvs branch -D \(branch)' (its commits stay reachable through the reflog)"
        case .listBranches: return "'dvs branch' lists branches"
        case .listTags: return "'dvs tag' lists tags"
        case .finishOrAbortMerge(let afterStatus):
            return afterStatus
                ? "finish it with 'dvs merge --continue' (after fixing what 'dvs status' lists) or undo it with 'dvs merge --abort'"
                : "finish it with 'dvs merge --continue' or undo it with 'dvs merge --abort'"
        case .commitOrDiscard: return "commit them first ('dvs commit -m MSG'), or discard them ('dvs checkout HEAD --force')"
        case .removeRemote(let name): return "remove it first with 'dvs remote remove \(name)'"
        case .showOrRefreshCohort(let name):
            return "see it with 'dvs cohort show \(name)', bring it up to date with 'dvs cohort refresh \(name)'"
        case .listOrCreateCohort: return "'dvs cohort list' lists cohorts; 'dvs cohort create NAME --where SQL' makes one"
        case .commitMoveOrForce: return "commit them ('dvs commit -m MSG'), move them away, or use --force to discard them"
        case .checkOutInstead(let revision): return "check out '\(revision)' instead: dvs checkout \(revision)"
        case .startMerge: return "start one with 'dvs merge REV'"
        case .abortMerge: return "run 'dvs merge --abort'"
        case .forcePush(let remote): return "push a good value over it with 'dvs push --force \(remote)'"
        case .deleteCache(let path): return "it is only a cache: delete '\(path)' and run the command again (dvs rebuilds it)"
        case .useOrRemoveRepository(let dvsFolder):
            return "use it as it is ('dvs status'), or remove '\(dvsFolder)' to start over (this deletes its history)"
        case .useNewerDVS: return "use a newer dvs for this repository"
        case .initRepository: return "run 'dvs init' to create one here"
        case .writeAuthor: return "write it as --author \"Name <email@example.com>\""
        case .passMessage: return "pass one with -m \"what changed\""
        case .fixAudioOrDropStrict:
            return "fix or remove them, or commit without --strict to store them with a warning; nothing was committed"
        case .allowEmpty: return "use --allow-empty to record a commit anyway"
        case .fixOrSkipPreCommitHook: return "fix what it reports, or commit with --no-verify to skip the hook this once"
        case .commitFirst: return "run 'dvs commit -m MSG' first"
        case .commitBeforePushing: return "commit first: dvs commit -m MSG"
        case .seeHistory: return "run 'dvs log' to see the history"
        case .spellRevision: return "use a branch name, HEAD, HEAD~N or a commit id of at least 4 hex digits; 'dvs log' lists commits"
        case .spellRevisionPath: return "for example: dvs cat HEAD:labels.csv"
        case .listFolder(let revision, let path): return "list it with 'dvs ls \(revision) \(path)'"
        case .listFiles(let revision): return "run 'dvs ls \(revision)' to list its files"
        case .pathFromTreeRoot(let folder, let path): return "paths are from the tree root, not from '\(folder)/': write '\(path)'"
        case .damagedSnapshot: return "the snapshot is damaged or hand-made; run 'dvs fsck', and check out another revision"
        case .moveAwayOrForce: return "move it away, or use --force to replace it"
        case .finishInterruptedOperation(let command, let target):
            return
                "to keep those changes, copy the files elsewhere first; then either move them out of the way and run any dvs command, or run 'dvs checkout --force HEAD', which finishes '\(command)' (the tree and HEAD at \(target)) by overwriting them and names what it overwrote"
        case .resolveOrRestartMerge(let cohort, let theirs):
            let restart = cohort.map { "dvs cohort refresh \($0)" } ?? "dvs merge \(theirs)"
            return
                "edit the files listed above (or take one side: 'dvs merge --abort', then '\(restart) --strategy ours|theirs'), then run 'dvs merge --continue'"
        case .resolveDeletionOrRestartMerge(let cohort, let theirs):
            let restart = cohort.map { "dvs cohort refresh \($0)" } ?? "dvs merge \(theirs)"
            return
                "delete what you do not keep, then 'dvs merge --resolved PATH' for each path listed above (or take one side: 'dvs merge --abort', then '\(restart) --strategy ours|theirs'), then run 'dvs merge --continue'"
        case .resolveCohortConflicts(let cohort):
            return
                "check out the cohort and refresh there to resolve them ('dvs checkout cohort/\(cohort)', 'dvs cohort refresh \(cohort)'), or pass --strategy ours|theirs"
        case .readdRemoteWithEndpoint(let remote):
            return "use a URL such as http://127.0.0.1:9000: dvs remote remove \(remote), then dvs remote add \(remote) URL --endpoint E"
        case .addRemote(let remote, let configured):
            return configured.isEmpty
                ? "add one with 'dvs remote add \(remote) s3://bucket/prefix' (or a folder path)"
                : "configured remotes: \(configured.joined(separator: ", ")); add one with 'dvs remote add NAME URL'"
        case .namePullBranch(let remote): return "name one: dvs pull \(remote) BRANCH ('dvs fetch \(remote) --json' lists them)"
        case .namePushBranch(let remote): return "dvs push \(remote) BRANCH"
        case .checkOutBranchToPullInto: return "dvs checkout main"
        case .giveRemoteLocation: return "give the remote's folder (the one 'dvs push' writes to) or an s3://bucket/prefix URL"
        case .cloneElsewhereOrPull: return "clone into a new folder, or use 'dvs pull' in this one"
        case .cloneIntoEmptyFolder: return "name a new or empty folder: dvs clone URL DIR"
        case .pickCloneBranch(let url, let directory):
            return "pick one: dvs clone \(url) \(directory) --branch NAME (the repository is kept; run that to resume)"
        case .pullOrForcePush(let remote, let ref):
            let what = ref.kind == .tag ? "tag" : "branch"
            return
                "run 'dvs pull \(remote)' to bring its commits in, then push again; or 'dvs push --force' to replace the remote \(what) (its commits leave the \(what))"
        case .pullThenPushAgain(let remote):
            return "run 'dvs pull \(remote)', then push again; everything uploaded stays on the remote and is not sent twice"
        case .pushFromRepositoryThatHasIt(let remote):
            return "push again from a repository that has it ('dvs push \(remote)'); no ref was moved"
        case .fetchPurgeFirst(let remote):
            return
                "run 'dvs fetch \(remote)' first: it applies the remote's purges here (commit or discard your changes before), then push again"
        case .fetchBeforeRemoteGC(let remote):
            return
                "run 'dvs fetch \(remote)' first (it brings what the remote's branches, tags and records reach), then 'dvs gc --remote \(remote)' again"
        case .removeErasedAudio(let path):
            return "remove \(path) and commit, or run 'dvs purge \(path) --yes' to take it out of every commit, then push again"
        case .pushGoodCopy(let remote): return "push it again from a repository that has a good copy ('dvs push \(remote)')"
        case .repairRemote(let remote):
            return
                "in a repository that has good copies, run 'dvs remote verify \(remote) --repair' (it re-uploads damaged and missing keys)"
        case .restoreLocalPack(let path):
            return "'dvs fsck' lists the samples it holds; restore \(path) from a backup or another clone that has it, then push again"
        case .pushGoodCopyOrFsckRemote(let remote):
            return
                "push it again from a repository that has a good copy ('dvs push \(remote)'), or ask the remote's owner to run 'dvs fsck' there"
        case .commitFirstOrPassRevision: return "commit first, or pass --rev"
        case .checkQueryStatement: return "check the statement against the tables described in 'dvs query --help'"
        case .checkAuditExpression: return "check the expression against 'dvs query --help'"
        case .auditSamplesExample: return "for example: dvs audit --samples \"speaker = 'spk042'\""
        case .writeCohortCondition:
            return
                "write an SQL condition over the sample table, e.g. lang = 'es' AND sample_rate = 8000 (try it with: dvs query \"SELECT count(*) FROM sample WHERE …\")"
        case .checkCohortPredicate(let revision, let predicate):
            return "check it with: dvs query --rev \(revision) \"SELECT count(*) FROM sample WHERE \(predicate)\""
        case .audioNoLongerDecodes: return "run 'dvs fsck'; the file was stored as audio but no longer decodes"
        case .fsckOrPull: return "run 'dvs fsck'; 'dvs pull' fetches good copies"
        case .pullToFetch: return "run 'dvs pull' to fetch it"
        case .registerModel(let file): return "register it with 'dvs model add \(file) --rev REV'; 'dvs models' lists what is registered"
        case .longerModelID: return "use more hex digits; 'dvs models' lists ids"
        case .nameAModel:
            return "name a model, a record id or artifact SHA-256 (≥ 4 hex), or an artifact file; 'dvs models' lists them"
        case .longerRecordIDOrPath: return "pass a longer record id ('dvs models' lists them) or the model file's path"
        case .evaluateOnlyTrainedModels:
            return "dvs eval evaluates models written by 'dvs train'; evaluate other models with their own code under 'dvs run'"
        case .validShard: return "use --shard I/N with 0 ≤ I < N, e.g. --shard 0/4"
        case .classifyInstead(let label):
            return "regress on a numeric label, or classify this one: 'dvs train --label \(label) --task classify'"
        case .anotherOutputFolder: return "check that the folder exists and is writable, or pass another --out"
        case .evaluateOnLabeledRevision(let label, let revision):
            return
                "evaluate on a revision whose samples carry '\(label)'; 'dvs query --rev \(revision) \"SELECT * FROM sample LIMIT 5\"' shows the fields"
        }
    }

    /// The hint for a lower-layer error, by its type; nil when there is nothing to add.
    static func hint(forUnderlying error: any Error) -> String? {
        switch error {
        case let e as CatalogError where e.fileMissing:
            return
                "run 'dvs reindex': it makes a new catalog and rebuilds it, refs, reflog and settings included, from .dvs/objects, .dvs/packs, .dvs/reflog and .dvs/config"
        case let e as CatalogError: return e.duringOpen ? catalogAtOpen(e.code) : catalog(e.code)
        case let e as StorageError: return storage(e)
        case let e as RemoteError: return remote(e)
        case let e as LearnError: return learn(e)
        default: return nil
        }
    }

    /// The hint for a catalog that could not be opened: `fsck` and `reindex` open it too, so the
    /// way out for a damaged file is a fresh catalog rebuilt from the objects.
    static func catalogAtOpen(_ code: CatalogError.Code) -> String? {
        switch code {
        case .corrupt, .schema, .database, .notACatalog:
            return
                "run 'dvs reindex': it moves the file aside and rebuilds the catalog, refs, reflog and settings included, from .dvs/objects, .dvs/packs, .dvs/reflog and .dvs/config"
        default: return catalog(code)
        }
    }

    /// The hint for a catalog failure with `code`, or nil when there is nothing better to say
    /// than the message.
    static func catalog(_ code: CatalogError.Code) -> String? {
        switch code {
        case .busy: return "another dvs is using the catalog; retry in a moment"
        case .full: return "free disk space and retry"
        case .corrupt: return "run 'dvs fsck', then 'dvs reindex' to rebuild the catalog from objects"
        case .schema:
            return "the catalog's tables are not what this dvs expects (made by a newer dvs?): use a dvs at least as new, or run 'dvs fsck'"
        case .readOnly: return "make the .dvs folder and its catalog.sqlite writable (permissions, a read-only mount), then retry"
        case .io: return "check the disk and the permissions of the .dvs folder, then retry"
        case .constraint: return "the catalog contradicts itself: run 'dvs fsck', then 'dvs reindex'"
        case .refMoved: return "run the command again"
        case .database: return "check the file's permissions and free disk space; 'dvs fsck' checks the repository"
        case .notFound: return nil
        case .notACatalog: return catalogAtOpen(code)
        }
    }

    /// The hint for an object-store, pack or lock failure, by its code and subject.
    static func storage(_ e: StorageError) -> String? {
        switch (e.code, e.subject) {
        case (.noSpace, _): return "free some disk space and run the command again; the repository is unchanged"
        case (.locked, .lock?):
            return
                "wait for it to finish, or raise the wait with DVS_LOCK_TIMEOUT=SECONDS (for this repository: 'dvs config core.lock-timeout SECONDS', once the lock is free); the lock is released automatically when that process exits"
        case (.notFound, .object?): return "run 'dvs fsck' to check the repository"
        case (.corrupt, .object?), (.corrupt, .pack?): return "run 'dvs fsck' to list damaged objects"
        case (.corrupt, .packedObject?): return "run 'dvs fsck' to list damaged objects and the paths that use them"
        default: return nil
        }
    }

    /// The hint for a remote failure: the remote's own advice when it has some (it names no
    /// commands), else one by code, else the hint for the error it was made from.
    static func remote(_ e: RemoteError) -> String? {
        if let h = e.hint { return h }
        if e.code == .connection {
            return
                "check that the server is running and reachable at that address, and the endpoint: a remote's is shown by 'dvs remote -v' (to change it, 'dvs remote remove NAME', then 'dvs remote add NAME URL --endpoint URL'); 'dvs clone' and --remote reads take --endpoint URL (a clone run again with it resumes)"
        }
        return e.underlying.flatMap(hint(forUnderlying:))
    }

    /// The hint for a learning failure, by its reason.
    static func learn(_ e: LearnError) -> String? {
        switch e.reason {
        case .notAModelFile?: return "pass a .dvsm file written by 'dvs train'"
        case .damagedModelFile?: return "train it again with 'dvs train', or restore the file from where it was published"
        case .noLabeledSamples?: return "check the field name with 'dvs query \"SELECT * FROM sample LIMIT 5\"'"
        case .categoricalLabel?: return "use --task classify for categorical labels"
        case .holdoutLeavesNothingToTrain?: return "use a smaller --holdout"
        case .tooFewClasses?: return "check the labels, or use a smaller --holdout"
        case nil: return e.hint
        }
    }

    /// A catalog error that reached the command layer unwrapped, as the `DVSError` the CLI reports
    /// (exit 1, the hint for its code).
    static func error(_ e: CatalogError) -> DVSError {
        DVSError(
            e.code == .corrupt || e.code == .schema || e.code == .constraint || e.code == .notACatalog ? .corrupt : .io, e.message,
            underlying: e)
    }
}
