import DVS
import DVSCatalog
import DVSCore
import DVSLearn
import DVSRemote
import DVSStorage
import Testing

@testable import DVSCommands

/// The command layer's choice of hint from lower-layer error codes and subjects.
@Suite struct HintsTests {
    let id = ObjectID.hashing([1, 2, 3])

    @Test func storageHintsFollowCodeAndSubject() {
        #expect(Hints.storage(StorageError(.notFound, "m", subject: .object(id))) == "run 'dvs fsck' to check the repository")
        #expect(Hints.storage(StorageError(.corrupt, "m", subject: .object(id))) == "run 'dvs fsck' to list damaged objects")
        #expect(Hints.storage(StorageError(.corrupt, "m", subject: .pack("/p.pack"))) == "run 'dvs fsck' to list damaged objects")
        #expect(
            Hints.storage(StorageError(.corrupt, "m", subject: .packedObject(id)))
                == "run 'dvs fsck' to list damaged objects and the paths that use them")
        #expect(
            Hints.storage(StorageError(.noSpace, "m")) == "free some disk space and run the command again; the repository is unchanged")
        #expect(Hints.storage(StorageError(.locked, "m", subject: .lock))?.contains("DVS_LOCK_TIMEOUT=SECONDS") == true)
        #expect(Hints.storage(StorageError(.io, "cannot open 'x': Permission denied")) == nil)
        #expect(Hints.storage(StorageError(.notFound, "cannot open 'x'")) == nil)
    }

    @Test func catalogHintsFollowCode() {
        #expect(Hints.catalog(.corrupt) == "run 'dvs fsck', then 'dvs reindex' to rebuild the catalog from objects")
        #expect(Hints.catalog(.refMoved) == "run the command again")
        #expect(Hints.catalog(.notFound) == nil)
        #expect(Hints.catalog(.busy) == "another dvs is using the catalog; retry in a moment")
        // A catalog that does not open (or is not a dvs catalog) is replaced by reindex, refs included.
        for code in [CatalogError.Code.corrupt, .notACatalog] {
            #expect(
                Hints.catalogAtOpen(code)
                    == "run 'dvs reindex': it moves the file aside and rebuilds the catalog, refs, reflog and settings included, from .dvs/objects, .dvs/packs, .dvs/reflog and .dvs/config"
            )
        }
        #expect(Hints.catalog(.notACatalog) == Hints.catalogAtOpen(.notACatalog))
        // No file: nothing is moved aside.
        var missing = CatalogError(.notACatalog, "the catalog '.dvs/catalog.sqlite' is missing")
        (missing.duringOpen, missing.fileMissing) = (true, true)
        #expect(
            Hints.hint(forUnderlying: missing)
                == "run 'dvs reindex': it makes a new catalog and rebuilds it, refs, reflog and settings included, from .dvs/objects, .dvs/packs, .dvs/reflog and .dvs/config"
        )
        #expect(Hints.catalogAtOpen(.full) == Hints.catalog(.full))
        let e = Hints.error(CatalogError(.schema, "bad tables"))
        #expect(e.code == .corrupt)
        #expect(Hints.hint(for: e)?.contains("use a dvs at least as new") == true)
    }

    @Test func remoteHintsPreferTheRemotesOwn() {
        #expect(Hints.remote(RemoteError(.timeout, "m", hint: "check the network")) == "check the network")
        #expect(Hints.remote(RemoteError(.connection, "m"))?.contains("'dvs remote -v'") == true)
        #expect(Hints.remote(RemoteError(.server, "m")) == nil)
        var folder = RemoteError(.io, "m")
        folder.underlying = StorageError(.noSpace, "m")
        #expect(Hints.remote(folder)?.hasPrefix("free some disk space") == true)
    }

    @Test func learnHintsFollowReason() {
        #expect(Hints.learn(LearnError(.badModelFile, "m", reason: .notAModelFile)) == "pass a .dvsm file written by 'dvs train'")
        #expect(
            Hints.learn(LearnError(.badModelFile, "m", reason: .damagedModelFile))?.hasPrefix("train it again with 'dvs train'") == true)
        #expect(
            Hints.learn(LearnError(.badInput, "m", reason: .noLabeledSamples, subject: "lang"))
                == "check the field name with 'dvs query \"SELECT * FROM sample LIMIT 5\"'")
        #expect(Hints.learn(LearnError(.badModelFile, "m", hint: "upgrade dvs")) == "upgrade dvs")
        #expect(
            Hints.learn(LearnError(.badInput, "m", reason: .categoricalLabel, subject: "snr"))
                == "use --task classify for categorical labels")
        #expect(Hints.learn(LearnError(.badInput, "m", reason: .holdoutLeavesNothingToTrain)) == "use a smaller --holdout")
        #expect(Hints.learn(LearnError(.badInput, "m", reason: .tooFewClasses)) == "check the labels, or use a smaller --holdout")
    }

    @Test func nextStepsRenderAsTheCLIsHints() {
        #expect(Hints.text(.runFsck) == "run 'dvs fsck'")
        #expect(Hints.text(.listDamagedObjects) == "run 'dvs fsck' to list damaged objects")
        #expect(Hints.text(.listDamagedObjectsAndPaths) == "run 'dvs fsck' to list damaged objects and the paths that use them")
        #expect(Hints.text(.setAuthorIdentity) == "set DVS_AUTHOR_NAME and DVS_AUTHOR_EMAIL")
        #expect(Hints.text(.renameOrDeleteRef(.branch("cohort/es"))) == "pick another name, or delete it first ('dvs branch -d cohort/es')")
        #expect(Hints.text(.renameOrDeleteRef(.tag("v1"))) == "pick another name, or delete it first ('dvs tag -d v1')")
        #expect(Hints.text(.mergeOrForceDelete(branch: "x")).contains("'dvs branch -D x'") == true)
        #expect(Hints.text(.listBranches) == "'dvs branch' lists branches")
        #expect(Hints.text(.listTags) == "'dvs tag' lists tags")
        #expect(
            Hints.text(.finishOrAbortMerge(afterStatus: false))
                == "finish it with 'dvs merge --continue' or undo it with 'dvs merge --abort'")
        #expect(Hints.text(.finishOrAbortMerge(afterStatus: true)).contains("(after fixing what 'dvs status' lists)"))
        #expect(Hints.text(.commitOrDiscard) == "commit them first ('dvs commit -m MSG'), or discard them ('dvs checkout HEAD --force')")
        #expect(Hints.text(.removeRemote("origin")) == "remove it first with 'dvs remote remove origin'")
        #expect(
            Hints.text(.showOrRefreshCohort("es")) == "see it with 'dvs cohort show es', bring it up to date with 'dvs cohort refresh es'")
        #expect(Hints.text(.listOrCreateCohort) == "'dvs cohort list' lists cohorts; 'dvs cohort create NAME --where SQL' makes one")
        #expect(Hints.text(.commitMoveOrForce) == "commit them ('dvs commit -m MSG'), move them away, or use --force to discard them")
        #expect(Hints.text(.checkOutInstead("dev")) == "check out 'dev' instead: dvs checkout dev")
        #expect(Hints.text(.startMerge) == "start one with 'dvs merge REV'")
        #expect(Hints.text(.abortMerge) == "run 'dvs merge --abort'")
        #expect(Hints.text(.forcePush(remote: "origin")) == "push a good value over it with 'dvs push --force origin'")
        #expect(
            Hints.text(.deleteCache(path: "/r/.dvs/cache/samples.sqlite"))
                == "it is only a cache: delete '/r/.dvs/cache/samples.sqlite' and run the command again (dvs rebuilds it)")
        #expect(Hints.hint(for: DVSError(.corrupt, "m", hint: "free text", next: .runFsck)) == "run 'dvs fsck'")
        #expect(Hints.hint(for: DVSError(.corrupt, "m", hint: "free text")) == "free text")
    }

    @Test func repositoryAndCommitStepsRenderAsTheCLIsHints() {
        #expect(
            Hints.text(.useOrRemoveRepository(dvsFolder: "/d/.dvs"))
                == "use it as it is ('dvs status'), or remove '/d/.dvs' to start over (this deletes its history)")
        #expect(Hints.text(.useNewerDVS) == "use a newer dvs for this repository")
        #expect(Hints.text(.initRepository) == "run 'dvs init' to create one here")
        #expect(Hints.text(.writeAuthor) == "write it as --author \"Name <email@example.com>\"")
        #expect(Hints.text(.passMessage) == "pass one with -m \"what changed\"")
        #expect(
            Hints.text(.fixAudioOrDropStrict)
                == "fix or remove them, or commit without --strict to store them with a warning; nothing was committed")
        #expect(Hints.text(.allowEmpty) == "use --allow-empty to record a commit anyway")
        #expect(Hints.text(.fixOrSkipPreCommitHook) == "fix what it reports, or commit with --no-verify to skip the hook this once")
        #expect(Hints.text(.commitFirst) == "run 'dvs commit -m MSG' first")
        #expect(Hints.text(.commitBeforePushing) == "commit first: dvs commit -m MSG")
        #expect(Hints.text(.seeHistory) == "run 'dvs log' to see the history")
        #expect(
            Hints.text(.spellRevision)
                == "use a branch name, HEAD, HEAD~N or a commit id of at least 4 hex digits; 'dvs log' lists commits")
        #expect(Hints.text(.spellRevisionPath) == "for example: dvs cat HEAD:labels.csv")
        #expect(Hints.text(.listFolder("HEAD~1", RepoPath("clips"))) == "list it with 'dvs ls HEAD~1 clips'")
        #expect(Hints.text(.listFiles(.head)) == "run 'dvs ls HEAD' to list its files")
        #expect(
            Hints.text(.pathFromTreeRoot(folder: "clips", path: RepoPath("clips/a.wav")))
                == "paths are from the tree root, not from 'clips/': write 'clips/a.wav'")
        #expect(
            Hints.text(.damagedSnapshot) == "the snapshot is damaged or hand-made; run 'dvs fsck', and check out another revision")
        #expect(Hints.text(.moveAwayOrForce) == "move it away, or use --force to replace it")
        #expect(
            Hints.text(.finishInterruptedOperation(command: "dvs checkout side", target: "0123456789ab"))
                == "to keep those changes, copy the files elsewhere first; then either move them out of the way and run any dvs command, or run 'dvs checkout --force HEAD', which finishes 'dvs checkout side' (the tree and HEAD at 0123456789ab) by overwriting them and names what it overwrote"
        )
    }

    @Test func mergeAndRemoteStepsRenderAsTheCLIsHints() {
        #expect(
            Hints.text(.resolveOrRestartMerge(cohort: nil, theirs: "dev"))
                == "edit the files listed above (or take one side: 'dvs merge --abort', then 'dvs merge dev --strategy ours|theirs'), then run 'dvs merge --continue'"
        )
        #expect(
            Hints.text(.resolveOrRestartMerge(cohort: "es", theirs: "main"))
                == "edit the files listed above (or take one side: 'dvs merge --abort', then 'dvs cohort refresh es --strategy ours|theirs'), then run 'dvs merge --continue'"
        )
        #expect(
            Hints.text(.resolveDeletionOrRestartMerge(cohort: nil, theirs: "dev"))
                == "delete what you do not keep, then 'dvs merge --resolved PATH' for each path listed above (or take one side: 'dvs merge --abort', then 'dvs merge dev --strategy ours|theirs'), then run 'dvs merge --continue'"
        )
        #expect(
            Hints.text(.resolveCohortConflicts(cohort: "es"))
                == "check out the cohort and refresh there to resolve them ('dvs checkout cohort/es', 'dvs cohort refresh es'), or pass --strategy ours|theirs"
        )
        #expect(
            Hints.text(.readdRemoteWithEndpoint(remote: "origin"))
                == "use a URL such as http://127.0.0.1:9000: dvs remote remove origin, then dvs remote add origin URL --endpoint E")
        #expect(
            Hints.text(.addRemote(remote: "origin", configured: []))
                == "add one with 'dvs remote add origin s3://bucket/prefix' (or a folder path)")
        #expect(
            Hints.text(.addRemote(remote: "origin", configured: ["a", "b"]))
                == "configured remotes: a, b; add one with 'dvs remote add NAME URL'")
        #expect(
            Hints.text(.namePullBranch(remote: "origin")) == "name one: dvs pull origin BRANCH ('dvs fetch origin --json' lists them)")
        #expect(Hints.text(.namePushBranch(remote: "origin")) == "dvs push origin BRANCH")
        #expect(Hints.text(.checkOutBranchToPullInto) == "dvs checkout main")
        #expect(
            Hints.text(.giveRemoteLocation) == "give the remote's folder (the one 'dvs push' writes to) or an s3://bucket/prefix URL")
        #expect(Hints.text(.cloneElsewhereOrPull) == "clone into a new folder, or use 'dvs pull' in this one")
        #expect(Hints.text(.cloneIntoEmptyFolder) == "name a new or empty folder: dvs clone URL DIR")
        #expect(
            Hints.text(.pickCloneBranch(url: "s3://b/p", directory: "d"))
                == "pick one: dvs clone s3://b/p d --branch NAME (the repository is kept; run that to resume)")
        #expect(
            Hints.text(.pullOrForcePush(remote: "origin", ref: .branch("main")))
                == "run 'dvs pull origin' to bring its commits in, then push again; or 'dvs push --force' to replace the remote branch (its commits leave the branch)"
        )
        #expect(
            Hints.text(.pullOrForcePush(remote: "origin", ref: .tag("v1")))
                == "run 'dvs pull origin' to bring its commits in, then push again; or 'dvs push --force' to replace the remote tag (its commits leave the tag)"
        )
        #expect(
            Hints.text(.pullThenPushAgain(remote: "origin"))
                == "run 'dvs pull origin', then push again; everything uploaded stays on the remote and is not sent twice")
        #expect(
            Hints.text(.pushFromRepositoryThatHasIt(remote: "origin"))
                == "push again from a repository that has it ('dvs push origin'); no ref was moved")
        #expect(
            Hints.text(.fetchPurgeFirst(remote: "origin"))
                == "run 'dvs fetch origin' first: it applies the remote's purges here (commit or discard your changes before), then push again"
        )
        #expect(
            Hints.text(.fetchBeforeRemoteGC(remote: "origin"))
                == "run 'dvs fetch origin' first (it brings what the remote's branches, tags and records reach), then 'dvs gc --remote origin' again"
        )
        #expect(
            Hints.text(.removeErasedAudio(path: "clips/a.wav"))
                == "remove clips/a.wav and commit, or run 'dvs purge clips/a.wav --yes' to take it out of every commit, then push again")
        #expect(Hints.text(.pushGoodCopy(remote: "origin")) == "push it again from a repository that has a good copy ('dvs push origin')")
        #expect(
            Hints.text(.repairRemote(remote: "origin"))
                == "in a repository that has good copies, run 'dvs remote verify origin --repair' (it re-uploads damaged and missing keys)")
        #expect(
            Hints.text(.restoreLocalPack(path: ".dvs/packs/ab.pack"))
                == "'dvs fsck' lists the samples it holds; restore .dvs/packs/ab.pack from a backup or another clone that has it, then push again"
        )
        #expect(
            Hints.text(.pushGoodCopyOrFsckRemote(remote: "origin"))
                == "push it again from a repository that has a good copy ('dvs push origin'), or ask the remote's owner to run 'dvs fsck' there"
        )
    }

    @Test func sampleAndLineageStepsRenderAsTheCLIsHints() {
        #expect(Hints.text(.commitFirstOrPassRevision) == "commit first, or pass --rev")
        #expect(Hints.text(.checkQueryStatement) == "check the statement against the tables described in 'dvs query --help'")
        #expect(Hints.text(.checkAuditExpression) == "check the expression against 'dvs query --help'")
        #expect(Hints.text(.auditSamplesExample) == "for example: dvs audit --samples \"speaker = 'spk042'\"")
        #expect(
            Hints.text(.writeCohortCondition)
                == "write an SQL condition over the sample table, e.g. lang = 'es' AND sample_rate = 8000 (try it with: dvs query \"SELECT count(*) FROM sample WHERE …\")"
        )
        #expect(
            Hints.text(.checkCohortPredicate("main", predicate: "lang = 'xx'"))
                == "check it with: dvs query --rev main \"SELECT count(*) FROM sample WHERE lang = 'xx'\"")
        #expect(Hints.text(.audioNoLongerDecodes) == "run 'dvs fsck'; the file was stored as audio but no longer decodes")
        #expect(Hints.text(.fsckOrPull) == "run 'dvs fsck'; 'dvs pull' fetches good copies")
        #expect(Hints.text(.pullToFetch) == "run 'dvs pull' to fetch it")
        #expect(
            Hints.text(.registerModel(file: "m.dvsm"))
                == "register it with 'dvs model add m.dvsm --rev REV'; 'dvs models' lists what is registered")
        #expect(Hints.text(.longerModelID) == "use more hex digits; 'dvs models' lists ids")
        #expect(
            Hints.text(.nameAModel)
                == "name a model, a record id or artifact SHA-256 (≥ 4 hex), or an artifact file; 'dvs models' lists them")
        #expect(Hints.text(.longerRecordIDOrPath) == "pass a longer record id ('dvs models' lists them) or the model file's path")
        #expect(
            Hints.text(.evaluateOnlyTrainedModels)
                == "dvs eval evaluates models written by 'dvs train'; evaluate other models with their own code under 'dvs run'")
        #expect(Hints.text(.validShard) == "use --shard I/N with 0 ≤ I < N, e.g. --shard 0/4")
        #expect(
            Hints.text(.classifyInstead(label: "snr"))
                == "regress on a numeric label, or classify this one: 'dvs train --label snr --task classify'")
        #expect(Hints.text(.anotherOutputFolder) == "check that the folder exists and is writable, or pass another --out")
        #expect(
            Hints.text(.evaluateOnLabeledRevision(label: "lang", revision: "main"))
                == "evaluate on a revision whose samples carry 'lang'; 'dvs query --rev main \"SELECT * FROM sample LIMIT 5\"' shows the fields"
        )
    }

    @Test func underlyingHintWinsOverTheWrappersFallback() {
        let wrapped = DVSError(
            .corrupt, "cannot read sample", hint: "run 'dvs fsck'", underlying: StorageError(.corrupt, "m", subject: .packedObject(id)))
        #expect(Hints.hint(for: wrapped) == "run 'dvs fsck' to list damaged objects and the paths that use them")
        let plain = DVSError(.io, "m", hint: "own", underlying: StorageError(.io, "m"))
        #expect(Hints.hint(for: plain) == "own")
        #expect(Hints.hint(for: DVSError(.badInput, "m")) == nil)
    }
}

/// The line `dvs status` prints for audio still to be coded.
@Suite struct PendingRepackLineTests {
    @Test func saysHowMuchWaitsAndWhetherARepackRuns() {
        #expect(Status.pendingRepackLine((0, 0), running: nil) == nil)
        #expect(
            Status.pendingRepackLine((2, 3 << 30), running: "pid 42: dvs repack")
                == "3.0 GiB of audio in 2 packs is stored uncoded; a repack is coding it (pid 42: dvs repack)")
        #expect(
            Status.pendingRepackLine((1, 1536), running: nil)
                == "1.5 KiB of audio in 1 pack is stored uncoded; 'dvs repack' codes it (no repack is running)")
        // The background repack's log ends with its start line (killed) or an error (failed).
        for last in ["2026-12-05T15:00:00Z dvs repack (started by a commit)", "error: cannot read pack"] {
            #expect(
                Status.pendingRepackLine((1, 1536), running: nil, lastLogLine: last)
                    == "1.5 KiB of audio in 1 pack is stored uncoded; the repack started in the background did not finish (.dvs/repack.log): 'dvs repack' codes it"
            )
        }
        // One that finished, before a later commit stored more.
        #expect(
            Status.pendingRepackLine(
                (1, 1536), running: nil, lastLogLine: "coded 3 blobs (1.0 MiB) in 1 pack: 1.0 MiB → 0.5 MiB (50%)")
                == "1.5 KiB of audio in 1 pack is stored uncoded; 'dvs repack' codes it (no repack is running)")
    }
}
