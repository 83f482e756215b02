import DVSTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 13 §1–3: checkout, merge, cohort refresh, clone and pull interrupted by SIGKILL, SIGINT or SIGTERM at many points,
/// on real audio (espeak-ng speech varied with sox).
///
/// Each run copies a prepared repository, starts the built `dvs` and interrupts it — either the
/// binary signals itself after its Nth file write (`DVS_TEST_SIGNAL_AFTER_WRITES`, debug builds)
/// or the test signals it after a delay (a fraction of an uninterrupted run's time, so the same
/// campaign measures any binary, `DVS_BINARY` included). Right after the interruption no temp
/// file may be in the working tree. Then `dvs status` (the next command, which finishes or rolls
/// back what the journal records) must show the old state or the new one — tree, HEAD and merge
/// state all together — or a stopped merge whose `--abort` gives the old state; `fsck` is clean;
/// and the next commit stores no temp file. The counts are printed like issue 13's.
@Suite(.serialized) struct FaultInjectionCLITests {
    /// What a repository looks like: its files' digests (outside `.dvs`), HEAD, and whether a
    /// merge is in progress.
    struct State: Equatable, CustomStringConvertible {
        var tree: String
        var head: String
        var merging: Bool
        var description: String { "head \(head)\(merging ? " (merging)" : ""), tree \(tree.prefix(12))" }
    }

    /// One interrupted command: run from a copy of `pristine`, it goes from `old` to `new`.
    struct Scenario {
        var name: String
        var arguments: [String]
        var pristine: String
        var old: State
        var new: State
        /// Seconds an uninterrupted run took.
        var seconds: Double
    }

    /// What one run found.
    struct Outcome {
        var interrupted = false
        var mixed = false
        var tempInTree = 0
        var tempCommitted = 0
        var fsckFailed = false
        var note = ""
    }

    static func state(_ dir: String) throws -> State {
        let digest = try T.sh(
            "find . -path ./.dvs -prune -o \\( -type f -o -type l \\) -print0 | sort -z | xargs -0 -r sha256sum | sha256sum", in: dir)
        let log = try dvs("log", "-n", "1", "--json", in: dir)
        var head = "none"
        if let entries = try? json(log.stdout) as? [[String: Any]], let top = entries.first {
            let parents = top["parents"] as? [String] ?? []
            // A merge commit's id holds its time: name it by its first parent (its second parent
            // is made by the run itself in a cohort refresh, the cut of the newer source; the
            // tree digest covers what the merge wrote).
            head = parents.count == 2 ? "merge(\(parents[0]))" : top["id"] as? String ?? "?"
        }
        return State(
            tree: String(digest.prefix(64)), head: head, merging: FileManager.default.fileExists(atPath: dir + "/.dvs/MERGE_STATE"))
    }

    static func tempFiles(_ dir: String) throws -> [String] {
        try T.sh("find . -path ./.dvs -prune -o -name '.dvs-tmp-*' -print", in: dir).split(separator: "\n").map(String.init)
    }

    /// A repository on branch main with 48 clips and a label table, and branches that a
    /// checkout and the merges take: `side` (16 clips re-encoded, 16 added, 8 deleted, rows to
    /// match), `ahead` (main plus 12 re-encoded clips: a fast-forward), `conf` (12 clips
    /// re-encoded and a label cell main changed too: conflicts).
    static func prepare(_ dir: String) throws -> String {
        let data = dir + "/pristine"
        try T.speak("a clip of the fault campaign", to: dir + "/base.wav")
        try FileManager.default.createDirectory(atPath: data + "/clips", withIntermediateDirectories: true)
        try T.sh(
            """
            for i in $(seq -w 0 47); do sox -R base.wav pristine/clips/c$i.wav gain -$(( 1$i % 7 )) pad 0 0.$(( 1$i % 9 )); done
            ( echo path,text; for i in $(seq -w 0 47); do echo clips/c$i.wav,utterance $i; done ) > pristine/labels.csv
            """, in: dir)
        func ok(_ args: String...) throws {
            let r = try T.dvs(args, in: data)
            guard r.status == 0 else { throw TestError("dvs \(args.joined(separator: " ")) failed: \(r.stderr)") }
        }
        try ok("init")
        try ok("commit", "-m", "base")
        try ok("branch", "side")
        try ok("branch", "conf")
        // main: a label cell changed (conf changes it too) and a clip re-encoded.
        try T.sh("sed -i 's/utterance 20$/main text/' labels.csv && sox -R ../base.wav clips/c47.wav gain -8", in: data)
        try ok("commit", "-m", "main edits")
        try ok("branch", "ahead")
        try ok("checkout", "side")
        try T.sh(
            """
            for i in $(seq -w 0 15); do sox -R ../base.wav clips/c$i.wav speed 1.1 gain -2; done
            for i in $(seq -w 0 15); do sox -R ../base.wav clips/n$i.wav pitch 1$i; done
            rm clips/c4[0-6].wav clips/c39.wav
            sed -i -e '/^clips\\/c4[0-6]/d' -e '/^clips\\/c39/d' labels.csv
            for i in $(seq -w 0 15); do echo clips/n$i.wav,new utterance $i >> labels.csv; done
            """, in: data)
        try ok("commit", "-m", "side edits")
        try ok("checkout", "conf")
        try T.sh(
            "for i in $(seq 20 31); do sox -R ../base.wav clips/c$i.wav reverse; done && sed -i 's/utterance 20$/conf text/' labels.csv",
            in: data)
        try ok("commit", "-m", "conf edits")
        try ok("checkout", "ahead")
        try T.sh("for i in $(seq 24 35); do sox -R ../base.wav clips/c$i.wav tempo 0.9; done", in: data)
        try ok("commit", "-m", "ahead edits")
        try ok("checkout", "main")
        return data
    }

    /// Runs `arguments` in a fresh copy of `pristine` (at `dir`), uninterrupted: the new state.
    static func reference(_ name: String, _ arguments: [String], pristine: String, dir: String) throws -> Scenario {
        try T.sh("cp -a '\(pristine)' '\(dir)'")
        let old = try state(dir)
        let start = Date()
        _ = try T.dvs(arguments, in: dir)
        let seconds = Date().timeIntervalSince(start)
        return Scenario(name: name, arguments: arguments, pristine: pristine, old: old, new: try state(dir), seconds: seconds)
    }

    /// One interrupted run of `s` in `dir`: after `afterWrites` file writes (binary hook), else
    /// after `delay` seconds (sent by the test).
    static func run(_ s: Scenario, dir: String, signal sig: Int32, afterWrites: Int?, delay: Double) throws -> Outcome {
        try T.sh("cp -a '\(s.pristine)' '\(dir)'")
        var o = Outcome()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: T.dvsBinary)
        p.arguments = s.arguments
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        env["DVS_AUTHOR_NAME"] = "Test Author"
        env["DVS_AUTHOR_EMAIL"] = "test@example.com"
        if let afterWrites {
            env["DVS_TEST_SIGNAL_AFTER_WRITES"] = String(afterWrites)
            env["DVS_TEST_SIGNAL"] = [SIGKILL: "KILL", SIGINT: "INT", SIGTERM: "TERM"][sig]
        }
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        if afterWrites == nil {
            usleep(useconds_t(delay * 1_000_000))
            kill(p.processIdentifier, sig)
        }
        // A run that neither finishes nor dies within 30 s is a hang: kill it and say so.
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw TestError("\(s.name) hung after signal \(sig)")
        }
        p.waitUntilExit()
        o.interrupted = p.terminationReason == .uncaughtSignal
        o.tempInTree = try tempFiles(dir).count
        let status = try dvs("status", in: dir)
        o.note = status.stderr.split(separator: "\n").first { $0.hasPrefix("note:") }.map(String.init) ?? ""
        var now = try state(dir)
        if now != s.old && now != s.new && now.merging {
            // A stopped merge (recorded in MERGE_STATE): --abort must give the old state.
            _ = try dvs("merge", "--abort", in: dir)
            now = try state(dir)
        }
        o.mixed = now != s.old && now != s.new
        o.fsckFailed = try dvs("fsck", in: dir).status != 0
        // The next commit: only a temp file in the tree could be stored as one (skipped without).
        if try !tempFiles(dir).isEmpty {
            if now.merging { _ = try dvs("merge", "--abort", in: dir) }
            _ = try dvs("commit", "-m", "after the interruption", in: dir)
            o.tempCommitted = try dvs("ls", "HEAD", in: dir).stdout.split(separator: "\n").filter { $0.contains(".dvs-tmp-") }.count
        }
        return o
    }

    /// The campaign: 6 commands × (4 write counts, signals alternating, + 1 delay) = 30 runs, 4 at a time
    /// (about 40 s on an idle 2-core machine; the time limit leaves room for a busy one).
    @Test(.timeLimit(.minutes(5))) func interruptedCheckoutsAndMergesLeaveOldOrNewState() throws {
        try T.withTemporaryDirectory { dir in
            let start = Date()
            let pristine = try Self.prepare(dir)
            // A merge stopped on conflicts, for `--abort` to be interrupted.
            let stopped = dir + "/stopped"
            try T.sh("cp -a '\(pristine)' '\(stopped)'")
            _ = try dvs("merge", "conf", in: stopped)
            // A cohort checked out while its source moves on: refresh merges the new samples in
            // and writes them into the tree.
            let cohort = dir + "/cohort"
            try T.sh("cp -a '\(pristine)' '\(cohort)'")
            for args in [["cohort", "create", "low", "--where", "text LIKE 'utterance 0%'"]] {
                let r = try T.dvs(args, in: cohort)
                try #require(r.status == 0, "\(r.stderr)")
            }
            try T.sh("sed -i 's/utterance 1\\([0-9]\\)$/utterance 0x\\1/' labels.csv", in: cohort)
            for args in [["commit", "-m", "more low"], ["checkout", "cohort/low"]] {
                let r = try T.dvs(args, in: cohort)
                try #require(r.status == 0, "\(r.stderr)")
            }
            let scenarios = [
                try Self.reference("checkout side", ["checkout", "side"], pristine: pristine, dir: dir + "/ref0"),
                try Self.reference("merge side", ["merge", "side"], pristine: pristine, dir: dir + "/ref1"),
                try Self.reference("merge conf (conflicts)", ["merge", "conf"], pristine: pristine, dir: dir + "/ref2"),
                try Self.reference("merge ahead (fast-forward)", ["merge", "ahead"], pristine: pristine, dir: dir + "/ref3"),
                try Self.reference("merge --abort", ["merge", "--abort"], pristine: stopped, dir: dir + "/ref4"),
                try Self.reference("cohort refresh", ["cohort", "refresh", "low"], pristine: cohort, dir: dir + "/ref5"),
            ]
            for s in scenarios { #expect(s.old != s.new, "\(s.name) changes nothing: \(s.old)") }
            // `DVS_FAULT_DELAYS=N` runs N delayed kills per command instead of 1 (to measure a binary
            // without the write hook, such as an older dvs through `DVS_BINARY`).
            let delayCount = ProcessInfo.processInfo.environment["DVS_FAULT_DELAYS"].flatMap(Int.init) ?? 1
            let delays = (1...max(1, delayCount)).map { Double($0) / Double(max(1, delayCount) + 1) * 1.6 }
            var plan: [(Int, Int32, Int?, Double)] = []
            for i in scenarios.indices {
                for (sig, n) in [(SIGKILL, 1), (SIGINT, 4), (SIGTERM, 9), (SIGKILL, 17)] { plan.append((i, sig, n, 0)) }
                for f in delays { plan.append((i, [SIGKILL, SIGINT, SIGTERM][plan.count % 3], nil, scenarios[i].seconds * f)) }
            }
            let runs = plan
            let results = FaultLocked<[(Int, Outcome)]>([])
            let errors = FaultLocked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                // Dispatch's threads block signals and a spawned dvs inherits the mask: unblock
                // them here so that SIGINT and SIGTERM reach it as they would from a shell.
                var all = sigset_t()
                var saved = sigset_t()
                sigfillset(&all)
                pthread_sigmask(SIG_UNBLOCK, &all, &saved)
                defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
                for k in stride(from: worker, to: runs.count, by: 4) {
                    let (i, sig, n, delay) = runs[k]
                    do {
                        let o = try Self.run(scenarios[i], dir: dir + "/run\(k)", signal: sig, afterWrites: n, delay: delay)
                        results.withLock { $0.append((k, o)) }
                        try? FileManager.default.removeItem(atPath: dir + "/run\(k)")
                    } catch { errors.withLock { $0.append("run \(k): \(error)") } }
                }
            }
            #expect(errors.withLock { $0 }.isEmpty, "\(errors.withLock { $0 })")
            let all = results.withLock { $0 }.sorted { $0.0 < $1.0 }
            for (k, o) in all {
                let (i, sig, n, delay) = plan[k]
                let what =
                    "\(scenarios[i].name), signal \(sig), "
                    + (n.map { "after \($0) file write(s)" } ?? String(format: "after %.0f ms", delay * 1000))
                #expect(!o.mixed, "mixed tree: \(what) \(o.note)")
                #expect(o.tempInTree == 0, "\(o.tempInTree) temp file(s) in the tree: \(what)")
                #expect(o.tempCommitted == 0, "\(o.tempCommitted) temp file(s) committed: \(what)")
                #expect(!o.fsckFailed, "fsck failed: \(what)")
            }
            let interrupted = all.filter(\.1.interrupted)
            let summary =
                "fault campaign: \(all.count) runs, \(interrupted.count) interrupted, \(all.filter(\.1.mixed).count) mixed trees, "
                + "\(all.filter { $0.1.tempInTree > 0 }.count) runs left temp files in the tree "
                + "(\(all.map(\.1.tempInTree).reduce(0, +)) files), \(all.map(\.1.tempCommitted).reduce(0, +)) temp files committed, "
                + "\(all.filter(\.1.fsckFailed).count) fsck failures, "
                + "\(all.filter { !$0.1.note.isEmpty }.count) finished or rolled back by the next command; "
                + String(format: "%.0f s", Date().timeIntervalSince(start))
            print(summary)
            // Most runs must really have been interrupted mid-write for the campaign to mean anything.
            #expect(interrupted.count * 2 > all.count, "\(summary)")
        }
    }

    /// Was: a checkout killed mid-write whose files were then edited left every writer refusing,
    /// with a warning that named no file and a hint to delete `.dvs/JOURNAL` by hand. Now the
    /// warning names the files, and `dvs checkout --force HEAD` finishes the interrupted checkout
    /// by overwriting them, saying which.
    @Test func aStuckInterruptedCheckoutNamesTheFilesAndForceFinishesIt() throws {
        try T.withTemporaryDirectory { dir in
            let repo = dir + "/repo"
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            try T.speak("the stuck checkout", to: dir + "/base.wav")
            try T.sh("for i in 1 2 3 4 5 6; do sox -R base.wav repo/s$i.wav gain -$i; done", in: dir)
            #expect(try dvs("init", in: repo).status == 0)
            #expect(try dvs("commit", "-m", "base", in: repo).status == 0)
            #expect(try dvs("branch", "side", in: repo).status == 0)
            #expect(try dvs("checkout", "side", in: repo).status == 0)
            try T.sh("for i in 1 2 3 4 5 6; do sox -R ../base.wav s$i.wav speed 1.1 gain -$i; done", in: repo)
            #expect(try dvs("commit", "-m", "side edits", in: repo).status == 0)
            #expect(try dvs("checkout", "main", in: repo).status == 0)
            let killed = try T.dvs(
                ["checkout", "side"], in: repo, environment: ["DVS_TEST_SIGNAL_AFTER_WRITES": "1", "DVS_TEST_SIGNAL": "KILL"])
            #expect(killed.status != 0)
            #expect(FileManager.default.fileExists(atPath: repo + "/.dvs/JOURNAL"))
            // The user edits every file the checkout writes: none equals main's or side's any more.
            try T.sh("for i in 1 2 3 4 5 6; do sox -R ../base.wav s$i.wav reverse gain -$i; done", in: repo)
            let edited = try T.sh("cat s*.wav | sha256sum", in: repo)
            let g = Golden(replacing: [dir: "$TMP"])
            let status = try g.dvs("status", in: repo)
            #expect(status.stderr.contains("cannot finish the interrupted 'dvs checkout side'"), "\(status.stderr)")
            #expect(status.stderr.contains("s1.wav") && status.stderr.contains("'dvs checkout --force HEAD'"), "\(status.stderr)")
            let commit = try g.dvs("commit", "-m", "edits", in: repo)
            #expect(commit.status == 1 && commit.stderr.contains("s6.wav"), "\(commit.stderr)")
            #expect(try T.sh("cat s*.wav | sha256sum", in: repo) == edited, "refusing changed nothing")
            // The way out the hint gives.
            let forced = try g.dvs("checkout", "--force", "HEAD", in: repo)
            #expect(forced.status == 0, "\(forced.stderr)")
            #expect(forced.stderr.contains("overwritten") && forced.stderr.contains("s1.wav"), "\(forced.stderr)")
            #expect(!FileManager.default.fileExists(atPath: repo + "/.dvs/JOURNAL"))
            let after = try g.dvs("status", in: repo)
            #expect(after.stdout.contains("On branch side") && after.stdout.contains("nothing to commit"), "\(after.stdout)")
            #expect(try dvs("fsck", in: repo).status == 0)
            try g.verify()
        }
    }

    /// Issue 13's tests for clone and pull: each killed (SIGKILL) at a point of its checkout (after
    /// the 1st and 5th file written) and once while it downloads, against a moto S3 server, on
    /// real recordings. After each kill: no temp file in the tree; once the next command has run
    /// (`status`, which finishes or rolls back a journaled checkout) the tree is the old or the new
    /// one; fsck is clean; and running the same command again completes with the new tree.
    /// 6 runs, a few seconds each.
    @Test(.timeLimit(.minutes(5))) func interruptedClonesAndPullsLeaveOldOrNewState() throws {
        try T.withTemporaryDirectory { dir in
            let start = Date()
            let remote = try TestRemote(.s3, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 8)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push"], in: a, remote)
            // The repository a pull starts from: a clone at the base commit.
            let pristine = dir + "/pristine"
            try dvsOK(["clone", remote.url, pristine] + remote.args, in: dir, remote)
            let old = try Self.state(pristine)
            // The remote moves on: 6 recordings re-encoded, 4 added.
            try T.sh(
                """
                for i in 0 1 2 3 4 5; do sox -R clips/r$i.wav clips/t.wav speed 1.1 && mv clips/t.wav clips/r$i.wav; done
                for i in 0 1 2 3; do sox -R clips/r$i.wav clips/n$i.wav reverse; echo clips/n$i.wav,en,new $i >> labels.csv; done
                """, in: a)
            try dvsOK(["commit", "-m", "more"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let new = try Self.state(a)
            #expect(old != new)
            let emptyTree = String(try T.sh("printf '' | sha256sum").prefix(64))  // a tree with no file yet (as Self.state digests it)

            struct Run {
                var command: String
                var afterWrites: Int?
                var interrupted = false
                var mixed = false
                var tempInTree = 0
                var fsckFailed = false
                var rerunFailed = false
            }
            var runs: [Run] = []
            for command in ["clone", "pull"] {
                for n in [1, 5, nil] as [Int?] { runs.append(Run(command: command, afterWrites: n)) }
            }
            for k in runs.indices {
                let base = dir + "/run\(k)"
                let target = base + "/c"
                let args: [String]
                if runs[k].command == "clone" {
                    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
                    args = ["clone", remote.url, target] + remote.args
                } else {
                    try T.sh("mkdir -p '\(base)' && cp -a '\(pristine)' '\(target)'")
                    args = ["pull"]
                }
                var env = remote.env
                if let n = runs[k].afterWrites {
                    env["DVS_TEST_SIGNAL_AFTER_WRITES"] = String(n)
                } else {
                    env["DVS_TEST_TRANSFER_DELAY_MS"] = "1500"  // the kill below lands while packs download
                }
                let (p, _, _) = try startDVS(args, in: runs[k].command == "clone" ? base : target, env: env)
                if runs[k].afterWrites == nil {
                    usleep(700_000)
                    kill(p.processIdentifier, SIGKILL)
                }
                let deadline = Date().addingTimeInterval(60)
                while p.isRunning && Date() < deadline { usleep(10_000) }
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                p.waitUntilExit()
                runs[k].interrupted = p.terminationReason == .uncaughtSignal
                if FileManager.default.fileExists(atPath: target) {
                    runs[k].tempInTree = try Self.tempFiles(target).count
                }
                if FileManager.default.fileExists(atPath: target + "/.dvs") {
                    _ = try dvs("status", in: target)  // the next command: finishes or rolls back the checkout
                    let now = try Self.state(target)
                    // A clone's old state is no tree at all; a pull's is the old commit, tree and HEAD together.
                    runs[k].mixed =
                        runs[k].command == "clone"
                        ? now.tree != new.tree && now.tree != emptyTree || (now.tree == new.tree && now.head != new.head)
                        : now != old && now != new
                    runs[k].fsckFailed = try dvs("fsck", in: target).status != 0
                }
                let again = try T.dvs(args, in: runs[k].command == "clone" ? base : target, environment: remote.env)
                let final = try Self.state(target)
                let fsckAfter = try dvs("fsck", in: target).status
                let tempAfter = try Self.tempFiles(target).count
                runs[k].rerunFailed =
                    again.status != 0 || final.tree != new.tree || final.head != new.head || fsckAfter != 0 || tempAfter != 0
                let what = "\(runs[k].command) killed " + (runs[k].afterWrites.map { "after \($0) file write(s)" } ?? "while downloading")
                #expect(!runs[k].mixed, "mixed tree: \(what)")
                #expect(runs[k].tempInTree == 0, "\(runs[k].tempInTree) temp file(s) in the tree: \(what)")
                #expect(!runs[k].fsckFailed, "fsck failed: \(what)")
                #expect(!runs[k].rerunFailed, "the rerun did not complete: \(what): \(again.stderr)")
                try? FileManager.default.removeItem(atPath: base)
            }
            let interrupted = runs.filter(\.interrupted).count
            let summary =
                "clone/pull fault campaign: \(runs.count) runs, \(interrupted) interrupted, \(runs.filter(\.mixed).count) mixed trees, "
                + "\(runs.filter { $0.tempInTree > 0 }.count) runs left temp files in the tree, "
                + "\(runs.filter(\.fsckFailed).count) fsck failures, \(runs.filter(\.rerunFailed).count) reruns failed; "
                + String(format: "%.0f s", Date().timeIntervalSince(start))
            print(summary)
            #expect(interrupted == runs.count, "\(summary)")
        }
    }
}

/// A value behind a lock, for results gathered from several threads.
final class FaultLocked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    /// Runs `body` with the value, under the lock.
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
