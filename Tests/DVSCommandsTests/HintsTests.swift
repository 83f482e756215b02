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
        // A catalog that does not open cannot be repaired by commands that open it.
        #expect(
            Hints.catalogAtOpen(.corrupt)
                == "if it is damaged, move it aside, run 'dvs init' in a scratch folder, copy its catalog.sqlite here and run 'dvs reindex' (refs must then be recreated)"
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
        #expect(Hints.text(.checkOutInstead(revision: "dev")) == "check out 'dev' instead: dvs checkout dev")
        #expect(Hints.text(.startMerge) == "start one with 'dvs merge REV'")
        #expect(Hints.text(.abortMerge) == "run 'dvs merge --abort'")
        #expect(Hints.text(.forcePush(remote: "origin")) == "push a good value over it with 'dvs push --force origin'")
        #expect(Hints.hint(for: DVSError(.corrupt, "m", hint: "free text", next: .runFsck)) == "run 'dvs fsck'")
        #expect(Hints.hint(for: DVSError(.corrupt, "m", hint: "free text")) == "free text")
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
