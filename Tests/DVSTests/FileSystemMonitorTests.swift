import DVSCatalog
import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

#if canImport(Glibc)
    import Glibc
#endif

/// The file-system monitor's bookkeeping: what a token is answered with.
@Suite struct FSMonitorChangeLogTests {
    @Test func answersThePathsRecordedAfterAToken() {
        var log = FSMonitorChangeLog(instance: "00000000000000aa")
        log.record(RepoPath("a/x.wav"))
        let t = log.token
        #expect(log.answer(since: t) == .changes([], t))
        log.record(RepoPath("b/y.wav"))
        log.record(RepoPath("a/x.wav"))
        #expect(log.answer(since: t) == .changes([RepoPath("a/x.wav"), RepoPath("b/y.wav")], log.token))
        #expect(log.token.sequence == 3)
        #expect(FSMonitorToken(log.token.description) == log.token)
        #expect(FSMonitorToken("nothex:3") == nil)
    }

    @Test func overflowAndOtherInstancesAnswerRescan() {
        var log = FSMonitorChangeLog(instance: "00000000000000aa", limit: 3)
        log.record(RepoPath("a"))
        let before = log.token
        // Another daemon's token, none, one from the future: rescan.
        #expect(log.answer(since: FSMonitorToken(instance: "00000000000000bb", sequence: 1)) == .rescan(log.token))
        #expect(log.answer(since: nil) == .rescan(log.token))
        #expect(log.answer(since: FSMonitorToken(instance: log.instance, sequence: 99)) == .rescan(log.token))
        log.overflow()
        #expect(log.answer(since: before) == .rescan(log.token))
        let after = log.token
        log.record(RepoPath("b"))
        #expect(log.answer(since: after) == .changes([RepoPath("b")], log.token))
        // More distinct paths than the limit: the record is dropped, never cut short.
        for p in ["c", "d", "e", "f"] { log.record(RepoPath(p)) }
        #expect(log.answer(since: after) == .rescan(log.token))
        log.broken = "no watch"
        #expect(log.answer(since: log.token) == .rescan(log.token))
    }
}

/// The token's storage beside the stat cache (`schema/0007_fsmonitor_token.sql`).
@Suite struct FSMonitorTokenStorageTests {
    @Test func aRowDeletedWhileATokenIsHeldBecomesPending() throws {
        try TestSupport.withTemporaryRepository { repo in
            let row = StatCacheEntry(
                byteCount: 4, mtimeNanoseconds: 1, ctimeNanoseconds: 1, inode: 7, mode: 0o100644,
                blob: ObjectID.hashing(Array("aaaa".utf8)), audio: nil, recordedAtNanoseconds: 5_000_000_000)
            let (a, b) = (RepoPath("clips/a.wav"), RepoPath("clips/b.wav"))
            // No token: deleting a row records nothing.
            try repo.catalog.write { tx in try tx.updateStatCache([(a, row), (b, row)], removing: [], settled: true) }
            try repo.catalog.write { tx in try tx.updateStatCache([], removing: [b], settled: true) }
            #expect(try repo.catalog.fsmonitorToken() == nil)
            try repo.catalog.write { tx in try tx.setFSMonitorToken("00000000000000aa:3", pending: [RepoPath("gone.txt")]) }
            let held = try #require(try repo.catalog.fsmonitorToken())
            #expect(held.token == "00000000000000aa:3")
            #expect(held.pending == [RepoPath("gone.txt")])
            // With a token, a deleted row's path is looked at again by the next scan.
            try repo.catalog.write { tx in try tx.updateStatCache([], removing: [a], settled: true) }
            #expect(try repo.catalog.fsmonitorToken()?.pending.sorted() == [a, RepoPath("gone.txt")])
            try repo.catalog.write { tx in try tx.updateStatCache([(b, row)], removing: [], settled: false) }
            #expect(try repo.catalog.unsettledStatCachePaths() == [b])
            #expect(try repo.catalog.statCacheRowCount() == 1)
            try repo.catalog.write { tx in try tx.setFSMonitorToken(nil, pending: []) }
            #expect(try repo.catalog.fsmonitorToken() == nil)
        }
    }
}

#if os(Linux)
    /// The inotify watcher on a real folder: every change before a question is in its answer.
    @Suite(.serialized) struct FSMonitorWatcherTests {
        typealias T = TestSupport

        /// A tree with `.dvs/`, folders `a` and `b` with a file each, and an ignored folder.
        func makeTree(_ dir: String) throws {
            try T.sh(
                "mkdir -p .dvs a b skip && echo 1 > a/x.txt && echo 2 > b/y.txt && echo 3 > skip/z.txt && printf 'skip/\\n' > .dvsignore",
                in: dir)
        }

        func changes(_ w: FSMonitorWatcher, since t: FSMonitorToken) -> [String]? {
            guard case .changes(let paths, _) = w.answer(since: t) else { return nil }
            return paths.map(\.string)
        }

        @Test func renameAcrossFoldersAndDeletes() throws {
            try T.withTemporaryDirectory { dir in
                try makeTree(dir)
                let w = try FSMonitorWatcher(root: dir)
                #expect(w.watchedFolders == 3)  // root, a, b (skip is ignored, .dvs reserved)
                let t0 = w.answer(since: nil).token
                try T.sh("mv a/x.txt b/x2.txt && echo new > .dvs/catalog-noise && echo 4 > skip/w.txt", in: dir)
                #expect(changes(w, since: t0) == ["a/x.txt", "b/x2.txt"])
                let t1 = w.answer(since: t0).token
                // A folder deleted with its files, then a folder renamed: both names, each standing for all below.
                try T.sh("rm -r b && mkdir -p c/d && echo 5 > c/d/f.txt", in: dir)
                let t2 = w.answer(since: t1).token
                #expect(changes(w, since: t1) == ["b", "b/x2.txt", "b/y.txt", "c"])
                try T.sh("mv c e && echo 6 > e/d/g.txt && chmod +x e/d/f.txt", in: dir)
                // Changes inside the moved folder before its new watches are covered by its new name.
                #expect(changes(w, since: t2) == ["c", "e"])
                let t3 = w.answer(since: t2).token
                // The moved folder's files are watched under their new name.
                try T.sh("echo 7 >> e/d/f.txt", in: dir)
                #expect(changes(w, since: t3) == ["e/d/f.txt"])
            }
        }

        @Test func newFolderWithFilesMadeBeforeItsWatch() throws {
            try T.withTemporaryDirectory { dir in
                try makeTree(dir)
                let w = try FSMonitorWatcher(root: dir)
                let t0 = w.answer(since: nil).token
                // Made while the watcher reads nothing: the files exist before the new folders' watches.
                try T.sh("mkdir -p n/m/k && echo 1 > n/m/k/deep.txt && echo 2 > n/top.txt", in: dir)
                let answer = changes(w, since: t0)
                #expect(answer?.first == "n")
                #expect(w.watchedFolders == 6)
                let t1 = w.answer(since: t0).token
                try T.sh("echo 3 >> n/m/k/deep.txt", in: dir)
                #expect(changes(w, since: t1) == ["n/m/k/deep.txt"])
                // Un-ignoring a folder: its .dvsignore's folder is named (everything below) and it gets watched.
                try T.sh("rm .dvsignore", in: dir)
                let t2 = w.answer(since: t1).token
                #expect(changes(w, since: t1)?.contains("") == true)
                try T.sh("echo 9 > skip/q.txt", in: dir)
                #expect(changes(w, since: t2) == ["skip/q.txt"])
            }
        }

        /// A folder that vanished before its watch is fine; any other refusal (a folder not
        /// readable) makes every answer a rescan, for good.
        @Test func aRefusedWatchBreaksTheRecord() throws {
            try T.withTemporaryDirectory { dir in
                try makeTree(dir)
                let w = try FSMonitorWatcher(root: dir)
                let t0 = w.answer(since: nil).token
                w.noteFailure(ENOENT, at: RepoPath("a"))
                #expect(changes(w, since: t0) == [])
                w.noteFailure(EACCES, at: RepoPath("a"))
                #expect(w.log.broken == "cannot watch 'a': Permission denied")
                guard case .broken = w.answer(since: t0) else {
                    Issue.record("a refused watch must answer broken (a walk)")
                    return
                }
                // A folder's permissions changed: it is watched again, and the record stays broken.
                try T.sh("chmod 700 a", in: dir)
                guard case .broken = w.answer(since: w.answer(since: t0).token) else {
                    Issue.record("a broken record stays broken")
                    return
                }
            }
        }

        @Test func overflowAndInstanceChangeAnswerRescan() throws {
            try T.withTemporaryDirectory { dir in
                try makeTree(dir)
                let w = try FSMonitorWatcher(root: dir, limit: 5)
                let t0 = w.answer(since: nil).token
                try T.sh("for i in 1 2 3 4 5 6 7 8; do echo $i > a/f$i.txt; done", in: dir)
                guard case .rescan = w.answer(since: t0) else {
                    Issue.record("more changes than the record holds must answer rescan")
                    return
                }
                // A second watcher (a restarted daemon) does not know the first one's tokens.
                let t1 = w.answer(since: t0).token
                let other = try FSMonitorWatcher(root: dir)
                guard case .rescan = other.answer(since: t1) else {
                    Issue.record("another instance's token must answer rescan")
                    return
                }
                #expect(changes(w, since: t1) == [])
            }
        }
    }
#endif
