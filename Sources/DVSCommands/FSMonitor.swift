import ArgumentParser
import DVS
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct FSMonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsmonitor", abstract: "Start, stop or show the file-system monitor (Linux, inotify).",
        discussion: """
            With 'dvs config core.fsmonitor true', status and commit of the whole tree ask a daemon that \
            watches the working tree which paths changed since their last scan, and look only at those \
            (one lstat per changed file, not one per file). The daemon starts by itself on the first \
            status or commit (that run walks the tree as usual); it logs to .dvs/fsmonitor/daemon.log and \
            exits when .dvs is removed, on 'dvs fsmonitor stop', or after a day without a client.
            """,
        subcommands: [Start.self, Stop.self, StatusCommand.self, Run.self], defaultSubcommand: StatusCommand.self)

    /// Seconds a daemon waits for a client before it exits.
    static let defaultIdleSeconds = 86_400.0

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start", abstract: "Start the daemon for this working tree (in the background).")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            #if !os(Linux)
                throw DVSError(.badInput, "the file-system monitor needs Linux (inotify); core.fsmonitor has no effect here")
            #endif
            let repo = try global.repository()
            if let s = FileSystemMonitor.status(root: repo.root) {
                Output.out("fsmonitor already running for \(s.root) (pid \(s.pid))")
                return
            }
            CurrentProcess.startFileSystemMonitor(root: repo.root)
            for _ in 0..<600 {
                if let s = FileSystemMonitor.status(root: repo.root) {
                    Output.out("fsmonitor started for \(s.root) (pid \(s.pid), \(Output.count(s.watchedFolders, "folder")) watched)")
                    if !FSMonitorCommand.enabled(repo) {
                        Output.err("note: core.fsmonitor is off: 'dvs config core.fsmonitor true' makes status and commit use it")
                    }
                    return
                }
                usleep(50_000)
            }
            throw DVSError(
                .io, "the fsmonitor daemon did not answer within 30 s",
                hint: "see \(repo.dvsDir)/\(FileSystemMonitor.folderName)/\(FileSystemMonitor.logName)")
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop the daemon of this working tree.")
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let repo = try global.repository()
            Output.out(FileSystemMonitor.stop(root: repo.root) ? "fsmonitor stopped" : "fsmonitor was not running")
        }
    }

    struct StatusCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "Say whether the daemon runs, what it watches and its token.")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        // JSON output keys are snake_case.
        // swift-format-ignore: AlwaysUseLowerCamelCase
        struct JSONStatus: Encodable {
            var running: Bool
            var enabled: Bool
            var pid: Int32?
            var root: String?
            var watched_folders: Int?
            var token: String?
            var changed_paths: Int?
            var problem: String?
            var recorded_token: String?
        }

        func run() throws {
            let repo = try global.repository()
            let s = FileSystemMonitor.status(root: repo.root)
            let enabled = FSMonitorCommand.enabled(repo)
            let recorded = try repo.catalog.fsmonitorToken()?.token
            if json {
                try Output.json(
                    JSONStatus(
                        running: s != nil, enabled: enabled, pid: s?.pid, root: s?.root, watched_folders: s?.watchedFolders,
                        token: s?.token, changed_paths: s?.changedPaths, problem: s?.problem, recorded_token: recorded))
                return
            }
            if let s {
                Output.out("fsmonitor: running (pid \(s.pid))")
                Output.out("  watching: \(s.root) (\(Output.count(s.watchedFolders, "folder")))")
                Output.out("  token: \(s.token) (\(s.changedPaths) changed paths held)")
                if let p = s.problem { Output.out("  problem: \(p); every scan walks the whole tree") }
            } else {
                Output.out(
                    FileSystemMonitor.isRunning(root: repo.root) ? "fsmonitor: starting (watching the tree)" : "fsmonitor: not running")
            }
            Output.out("  recorded with the stat cache: \(recorded ?? "no token")")
            Output.out("  core.fsmonitor: \(enabled ? "true" : "false")")
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Run the daemon in the foreground (what 'start' runs in the background).",
            shouldDisplay: false)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Seconds without a client before the daemon exits.") var idleTimeout = FSMonitorCommand.defaultIdleSeconds

        func run() throws {
            // No `repository()`: that would finish an interrupted checkout or merge from a daemon.
            let root = try FileSystemMonitor.daemonRoot(from: global.directory, context: CurrentProcess.context)
            #if os(Linux)
                // Signals blocked by whoever started it would make it unkillable but by SIGKILL.
                var none = sigset_t()
                sigemptyset(&none)
                pthread_sigmask(SIG_SETMASK, &none, nil)
            #endif
            try FileSystemMonitor.run(root: root, idleSeconds: idleTimeout)
        }
    }

    /// Whether `core.fsmonitor` is on.
    static func enabled(_ repo: Repository) -> Bool { ((try? repo.catalog.config("core.fsmonitor")) ?? nil) == "true" }
}

extension CurrentProcess {
    /// Starts `dvs fsmonitor run` for the tree at `root` in the background: a new session, no
    /// terminal, standard error appended to `.dvs/fsmonitor/daemon.log`. Errors are ignored (the
    /// caller walks the tree as without a monitor).
    static func startFileSystemMonitor(root: String) {
        let dir = root + "/.dvs/" + FileSystemMonitor.folderName
        mkdir(dir, 0o755)
        _ = spawnDetached(["fsmonitor", "run", "-C", root], output: "/dev/null", errors: dir + "/" + FileSystemMonitor.logName)
    }

    /// Starts this executable (`/proc/self/exe`) with `arguments` as a background process of its
    /// own: a new session (no terminal, a Ctrl-C does not reach it), stdin /dev/null, stdout and
    /// stderr appended to the files `output` and `errors` (the same file when they are equal),
    /// no signal blocked or ignored (a parent may have spawned dvs so), no descriptor but 0–2
    /// inherited (a pipe of the caller's held open would keep it waiting for end of file).
    /// - Returns: the child's pid; nil when it could not be started (Linux only).
    static func spawnDetached(_ arguments: [String], output: String, errors: String) -> pid_t? {
        #if os(Linux)
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            if errors == output {
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
            } else {
                posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            }
            var attr = posix_spawnattr_t()
            posix_spawnattr_init(&attr)
            defer { posix_spawnattr_destroy(&attr) }
            // POSIX_SPAWN_SETSID is 0x80 in glibc, not imported by Swift (declared under _GNU_SOURCE).
            var none = sigset_t()
            sigemptyset(&none)
            var all = sigset_t()
            sigfillset(&all)
            posix_spawnattr_setsigmask(&attr, &none)
            posix_spawnattr_setsigdefault(&attr, &all)
            posix_spawnattr_setflags(&attr, Int16(0x80 | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            // Every open descriptor above 2, however high (/proc/self/fd; glibc's addclosefrom_np
            // is not imported), else the first 4096.
            let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
            for fd in open.isEmpty ? Array(3..<Int32(4096)) : open where fd > 2 && fcntl(fd, F_GETFD) >= 0 {
                posix_spawn_file_actions_addclose(&actions, fd)
            }
            let args = ["dvs"] + arguments
            var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
            defer { for p in argv { free(p) } }
            var pid: pid_t = 0
            guard posix_spawn(&pid, "/proc/self/exe", &actions, &attr, &argv, environ) == 0 else { return nil }
            return pid
        #else
            return nil
        #endif
    }
}
