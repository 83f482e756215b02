import DVSTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `core.fsmonitor`: the same steps in a repository with the monitor and one without give the same
/// output of `dvs status` and `dvs commit`, whatever happens to the daemon.
@Suite(.serialized) struct FSMonitorCLITests {
    /// What may differ between the two repositories: commit ids (commit times) and nothing else.
    static func normalized(_ s: String) -> String {
        var out = s.replacingOccurrences(of: #""head" : "[0-9a-f]{64}""#, with: #""head" : "<id>""#, options: .regularExpression)
        out = out.replacingOccurrences(of: #"\[(\S+) [0-9a-f]{12}\]"#, with: "[$1 <id>]", options: .regularExpression)
        return out.replacingOccurrences(of: #"at [0-9a-f]{12}"#, with: "at <id>", options: .regularExpression)
    }

    /// A status that looked at 100,000 files, with `core.fsmonitor` never set, says how to turn
    /// the monitor on (stderr only); once the setting is given (either way) it says nothing more.
    @Test func aLargeTreeGetsTheMonitorHintUntilTheSettingIsGiven() throws {
        try T.withTemporaryDirectory { dir in
            // 100,000 empty files in 100 folders (no audio: the hint is about the walk).
            _ = try T.sh(
                "python3 -c \"import os\nfor d in range(100):\n os.mkdir('f%d' % d)\n for i in range(1000): open('f%d/%d.txt' % (d, i), 'w').close()\"",
                in: dir)
            #expect(try T.dvs(["init"], in: dir).status == 0)
            let hint =
                "hint: 100000 files were each looked at; 'dvs config core.fsmonitor true' makes status and commit look only at what changed (or set it to false to hide this hint)"
            let first = try T.dvs(["status"], in: dir)
            #expect(first.status == 0)
            #expect(first.stderr.split(separator: "\n").map(String.init) == [hint])
            #expect(!first.stdout.contains("hint"))
            #expect(try T.dvs(["status", "--json"], in: dir).stderr.isEmpty, "JSON output stays clean")
            #expect(try T.dvs(["config", "core.fsmonitor", "false"], in: dir).status == 0)
            #expect(try T.dvs(["status"], in: dir).stderr.isEmpty)
        }
    }

    /// Two trees: `mon` (core.fsmonitor on) and `plain`, each with the same committed content.
    final class Pair {
        let mon: String
        let plain: String
        let env = ["DVS_TRACE_FSMONITOR": "1"]
        /// The trace lines of the monitored runs.
        var trace: [String] = []

        init(_ dir: String) throws {
            mon = dir + "/mon"
            plain = dir + "/plain"
            let recordings = T.debianRecordings(limit: 4)
            try #require(recordings.count >= 4, "install alsa-utils (see README)")
            for r in [mon, plain] {
                try T.sh(
                    "mkdir -p \(r)/clips \(r)/other && sox -R '\(recordings[0])' -r 16000 -c 1 -b 16 \(r)/clips/a.wav"
                        + " && sox -R '\(recordings[1])' -r 16000 -c 1 -b 16 \(r)/clips/b.wav"
                        + " && sox -R '\(recordings[2])' -r 16000 -c 1 -b 16 \(r)/other/c.wav"
                        + " && printf 'path,speaker\\nclips/a.wav,s1\\nclips/b.wav,s2\\n' > \(r)/labels.csv"
                        + " && printf 'scratch\\n' > \(r)/notes.txt")
                #expect(try T.dvs(["init"], in: r).status == 0)
                #expect(try T.dvs(["commit", "-m", "one"], in: r).status == 0)
            }
            #expect(try T.dvs(["config", "core.fsmonitor", "true"], in: mon).status == 0)
        }

        /// The same shell command in both trees; then a pause past the stat cache's racy window
        /// (50 ms), so both trees' rows are trusted alike.
        func change(_ command: String) throws {
            try T.sh(command, in: mon)
            try T.sh(command, in: plain)
            usleep(120_000)
        }

        /// Runs dvs with `args` in both trees and expects the same exit status and output.
        @discardableResult
        func both(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            let a = try T.dvs(args, in: mon, environment: env)
            let b = try T.dvs(args, in: plain)
            trace += a.stderr.split(separator: "\n").filter { $0.hasPrefix("fsmonitor:") }.map(String.init)
            #expect(a.status == b.status, "\(args)", sourceLocation: sourceLocation)
            #expect(
                FSMonitorCLITests.normalized(a.stdout) == FSMonitorCLITests.normalized(b.stdout), "\(args)",
                sourceLocation: sourceLocation)
            let errA = a.stderr.split(separator: "\n").filter { !$0.hasPrefix("fsmonitor:") }
            #expect(errA == b.stderr.split(separator: "\n"), "\(args)", sourceLocation: sourceLocation)
            usleep(120_000)
            return a.stdout
        }

        /// Waits until the monitored tree's daemon answers; its pid.
        func daemonPid() throws -> Int32 {
            for _ in 0..<200 {
                let r = try T.dvs(["fsmonitor", "status", "--json"], in: mon)
                if let m = r.stdout.firstMatch(of: /"pid" : (\d+)/), let pid = Int32(m.1) { return pid }
                usleep(50_000)
            }
            Issue.record("the fsmonitor daemon did not start")
            return -1
        }

        /// How many scans of the monitored tree used the monitor's answer since the last call.
        func monitoredScans() -> Int {
            defer { trace = [] }
            return trace.filter { $0.contains("looked at the paths") }.count
        }
    }

    @Test func statusAndCommitMatchTheWalk() throws {
        try T.withTemporaryDirectory { dir in
            let p = try Pair(dir)
            defer { _ = try? T.dvs(["fsmonitor", "stop"], in: p.mon) }
            // The first status starts the daemon and walks; the next one records its first token.
            try p.both("status")
            _ = try p.daemonPid()
            try p.both("status", "--json")
            #expect(p.monitoredScans() == 0)
            try p.both("status", "--json")
            #expect(p.monitoredScans() == 1)

            // Edit, append to a table, delete, rename, add a folder with a file, a symlink.
            let recordings = T.debianRecordings(limit: 4)
            try p.change("sox -R '\(recordings[3])' -r 16000 -c 1 -b 16 clips/a.wav")
            try p.both("status", "--json")
            try p.change("printf 'other/c.wav,s3\\n' >> labels.csv && echo more >> notes.txt")
            try p.both("status")
            try p.change(
                "rm other/c.wav && mv clips/b.wav other/b.wav && mkdir -p new/deep && cp other/b.wav new/deep/d.wav && ln -s ../notes.txt new/link"
            )
            try p.both("status")
            try p.both("status", "--json")
            #expect(p.monitoredScans() == 4)
            try p.both("commit", "-m", "two")
            try p.both("status", "--json")
            #expect(p.monitoredScans() == 2)

            // A relabelled row and one changed file, committed; then nothing to commit.
            try p.change("sed -i 's/s1/s9/' labels.csv && echo again >> notes.txt")
            try p.both("commit", "-m", "three")
            try p.both("commit", "-m", "nothing")
            try p.both("status")
            #expect(p.monitoredScans() == 3)

            // The daemon killed between commands: the next run walks (and starts another), then the
            // new daemon's tokens serve.
            kill(try p.daemonPid(), SIGKILL)
            try p.change("echo killed >> notes.txt && rm new/link")
            try p.both("status", "--json")
            _ = try p.daemonPid()
            try p.both("status")
            try p.change("touch clips/a.wav && chmod +x new/deep/d.wav")
            try p.both("status", "--json")
            try p.both("commit", "-m", "four")
            try p.both("status", "--json")
            #expect(p.monitoredScans() >= 2)

            // Another branch checked out and back: the checkout's writes are events like any.
            try p.both("branch", "side")
            try p.both("checkout", "side")
            try p.change("rm clips/a.wav && echo side > side.txt")
            try p.both("commit", "-m", "side")
            try p.both("checkout", "main")
            try p.both("status", "--json")
            try p.change("echo after > side.txt")
            try p.both("status", "--json")
            #expect(p.monitoredScans() >= 2)

            // Two clients at once get the same answer as the walk.
            try p.change("echo both >> notes.txt")
            let expected = try T.dvs(["status", "--json"], in: p.plain).stdout
            let r = try T.sh(
                "\(T.dvsBinary) status --json > ../o1 & \(T.dvsBinary) status --json > ../o2; wait; cat ../o1; echo ===; cat ../o2",
                in: p.mon)
            let outs = r.components(separatedBy: "===\n")
            #expect(outs.count == 2)
            // Which of the two hashes the edited file depends on timing, as between two walks: one
            // may find the row the other just wrote. Everything else is the walk's.
            func sansHashed(_ s: String) -> String {
                Self.normalized(s).replacingOccurrences(of: #""hashed_files" : \d+"#, with: "", options: .regularExpression)
            }
            for o in outs { #expect(sansHashed(o) == sansHashed(expected)) }
        }
    }

    @Test func monitorCommands() throws {
        try T.withTemporaryDirectory { dir in
            let g = Golden(replacing: [dir: "$TMP"])
            try T.sh("printf 'x\\n' > a.txt", in: dir)
            #expect(try g.dvs("init", in: dir).status == 0)
            #expect(try g.dvs("fsmonitor", "status", in: dir).status == 0)
            #expect(try g.dvs("fsmonitor", "stop", in: dir).status == 0)
            #expect(try g.dvs("config", "core.fsmonitor", "yes", in: dir).status == 1)
            #expect(try g.dvs("config", "core.fsmonitor", "true", in: dir).status == 0)
            // Running: the pid, folder count and token vary, the shape does not.
            let started = try T.dvs(["fsmonitor", "start"], in: dir)
            #expect(started.status == 0)
            #expect(started.stdout.hasPrefix("fsmonitor started for \(dir) (pid "))
            #expect(try T.dvs(["fsmonitor", "start"], in: dir).stdout.hasPrefix("fsmonitor already running for \(dir)"))
            let status = try T.dvs(["fsmonitor", "status"], in: dir).stdout
            #expect(status.contains("fsmonitor: running (pid "))
            #expect(status.contains("  watching: \(dir) (1 folder)"))
            #expect(status.contains("  core.fsmonitor: true"))
            #expect(try g.dvs("fsmonitor", "stop", in: dir).status == 0)
            #expect(try g.dvs("fsmonitor", "status", in: dir).status == 0)
            try g.verify()
        }
    }

    /// The pids of `dvs fsmonitor run` processes for the tree at `root`.
    static func daemons(of root: String) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap { name -> Int32? in
            guard let pid = Int32(name), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            let zombie = (try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8))?.contains(") Z ") ?? true
            return !zombie && args.count >= 5 && args[1] == "fsmonitor" && args[2] == "run" && args.last == root ? pid : nil
        }
    }

    /// Four statuses at once in a monitored tree with no daemon start exactly one, and all four
    /// give the walk's answer.
    @Test func concurrentStatusesStartOneDaemon() throws {
        try T.withTemporaryDirectory { top in
            let dir = top + "/t"
            try T.sh("mkdir -p t/a/b t/c && printf 'x\\n' > t/a/b/x.txt && printf 'y\\n' > t/c/y.txt", in: top)
            #expect(try T.dvs(["init"], in: dir).status == 0)
            #expect(try T.dvs(["commit", "-m", "one"], in: dir).status == 0)
            try T.sh("printf 'z\\n' > c/z.txt", in: dir)
            #expect(try T.dvs(["config", "core.fsmonitor", "true"], in: dir).status == 0)
            defer { _ = try? T.dvs(["fsmonitor", "stop"], in: dir) }
            func sansHashed(_ s: String) -> String {
                s.replacingOccurrences(of: #""hashed_files" : \d+"#, with: "", options: .regularExpression)
            }
            let expected = sansHashed(try T.dvs(["status", "--json"], in: dir).stdout)
            // The daemon that status started, once it answers, stopped.
            for _ in 0..<200 where !(try T.dvs(["fsmonitor", "status", "--json"], in: dir).stdout.contains("\"pid\"")) { usleep(50_000) }
            _ = try T.dvs(["fsmonitor", "stop"], in: dir)
            for _ in 0..<100 where !Self.daemons(of: dir).isEmpty { usleep(50_000) }
            #expect(Self.daemons(of: dir).isEmpty)
            let runs = (1...4).map { i -> Process in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: T.dvsBinary)
                p.arguments = ["status", "--json"]
                p.currentDirectoryURL = URL(fileURLWithPath: dir)
                FileManager.default.createFile(atPath: top + "/o\(i)", contents: nil)
                p.standardOutput = FileHandle(forWritingAtPath: top + "/o\(i)")
                p.standardError = FileHandle.nullDevice
                return p
            }
            for p in runs { try p.run() }
            for p in runs { p.waitUntilExit() }
            for i in 1...4 {
                #expect(runs[i - 1].terminationStatus == 0)
                #expect(sansHashed((try? String(contentsOfFile: top + "/o\(i)", encoding: .utf8)) ?? "") == expected)
            }
            // A daemon that lost the race gives up within a second.
            usleep(1_500_000)
            let daemons = Self.daemons(of: dir)
            #expect(daemons.count == 1)
            // The daemon keeps no caller's folder busy.
            for pid in daemons { #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")) == "/") }
        }
    }

    @Test func daemonExitsWhenTheRepositoryGoes() throws {
        try T.withTemporaryDirectory { dir in
            try T.sh("printf 'x\\n' > a.txt", in: dir)
            #expect(try T.dvs(["init"], in: dir).status == 0)
            #expect(try T.dvs(["fsmonitor", "start"], in: dir).status == 0)
            let json = try T.dvs(["fsmonitor", "status", "--json"], in: dir).stdout
            let pid = try #require(json.firstMatch(of: /"pid" : (\d+)/).flatMap { Int32($0.1) })
            try T.sh("rm -rf .dvs", in: dir)
            var alive = true
            for _ in 0..<100 where alive {
                usleep(50_000)
                alive =
                    kill(pid, 0) == 0 && !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
            }
            #expect(!alive)
        }
    }
}
