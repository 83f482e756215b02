import ArgumentParser
import DVS
import DVSCatalog
import Foundation

/// The `dvs` command: version control for voice training data.
public struct DVSCommand: ParsableCommand {
    /// dvs's version.
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "dvs",
        abstract: "Version control for voice training data: audio-aware, label-aware, lineage built in.",
        version: version,
        subcommands: [
            Init.self, Status.self, CommitCommand.self, Diff.self, Query.self, Branch.self, Merge.self, Cohort.self, Tag.self, Reflog.self,
            Log.self, Show.self, Ls.self, Cat.self, Checkout.self, Fsck.self, Reindex.self, Purge.self, GC.self, Repack.self, Config.self,
            FSMonitorCommand.self,
            RemoteCommand.self, Push.self,
            Fetch.self, Pull.self, Clone.self,
            ModelCommand.self, Models.self, Audit.self, Run.self, Stream.self, Train.self, Eval.self, Batch.self,
            Serve.self,
        ])

    public init() {}

    /// Runs the command line and exits: 0 ok, 1 user or data error, 64 usage, 255 internal bug.
    public static func runMain() -> Never {
        // `dvs --version` alone: the text ArgumentParser prints for it, without building the command
        // tree first (reflection over every command's properties: two thirds of the command's start-up).
        if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "--version" {
            print(version)
            Foundation.exit(0)
        }
        do {
            let argv = gitOrder(CommandLine.arguments)
            var command = try parsedSubcommand(argv) ?? parseAsRoot(Array(argv.dropFirst()))
            try command.run()
            Foundation.exit(0)
        } catch let e as DVSError {
            report(e)
            Foundation.exit(e.code == .internal ? 255 : e.code == .usage ? 64 : 1)
        } catch let e as CatalogError {
            report(Hints.error(e))
            Foundation.exit(1)
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)
        } catch {
            if let e = CatalogError.fromDatabaseError(error) {
                report(Hints.error(e))
                Foundation.exit(1)
            }
            exit(withError: error)
        }
    }

    /// `dvs -C DIR SUBCOMMAND ARGS…`, the order git takes, as dvs's commands take it:
    /// `dvs SUBCOMMAND ARGS… -C DIR`, with `-C DIR` put before a `--` (whatever follows one is
    /// passed on, as by `dvs run`). Any other command line is returned as it is.
    static func gitOrder(_ argv: [String]) -> [String] {
        guard argv.count >= 4, argv[1] == "-C" else { return argv }
        var rest = Array(argv[3...])
        rest.insert(contentsOf: ["-C", argv[2]], at: rest.firstIndex(of: "--") ?? rest.endIndex)
        return [argv[0]] + rest
    }

    /// `dvs <leaf subcommand> ARGS…` parsed by the subcommand alone, when that succeeds; nil
    /// otherwise, and then the full parse answers (help, version, usage errors: the same text as
    /// ever). Parsing a leaf alone skips the tree of every subcommand and the root's built-in
    /// flags (≈0.5 ms of `dvs status`), and gives the same command: the root has no options of
    /// its own, and anything the leaf alone cannot parse falls back.
    static func parsedSubcommand(_ arguments: [String]) -> ParsableCommand? {
        guard arguments.count >= 2, let type = subcommand(named: arguments[1]), type.configuration.subcommands.isEmpty
        else { return nil }
        LeafRoot.leaf = type
        guard let command = try? LeafRoot.parseAsRoot(Array(arguments.dropFirst(1))), Swift.type(of: command) == type else {
            return nil
        }
        return command
    }

    /// The subcommand of `configuration.subcommands` whose `commandName` is `name`, or nil.
    ///
    /// A switch rather than a search of `configuration.subcommands`: building that list looks up
    /// the `ParsableCommand` conformance of all 30 subcommand types (≈0.15 ms of `dvs status`),
    /// where this touches only the one named. `DispatchTests` checks that both agree.
    static func subcommand(named name: String) -> ParsableCommand.Type? {
        switch name {
        case "init": Init.self
        case "status": Status.self
        case "commit": CommitCommand.self
        case "diff": Diff.self
        case "query": Query.self
        case "branch": Branch.self
        case "merge": Merge.self
        case "cohort": Cohort.self
        case "tag": Tag.self
        case "reflog": Reflog.self
        case "log": Log.self
        case "show": Show.self
        case "ls": Ls.self
        case "cat": Cat.self
        case "checkout": Checkout.self
        case "fsck": Fsck.self
        case "reindex": Reindex.self
        case "purge": Purge.self
        case "gc": GC.self
        case "repack": Repack.self
        case "config": Config.self
        case "fsmonitor": FSMonitorCommand.self
        case "remote": RemoteCommand.self
        case "push": Push.self
        case "fetch": Fetch.self
        case "pull": Pull.self
        case "clone": Clone.self
        case "serve": Serve.self
        case "model": ModelCommand.self
        case "models": Models.self
        case "audit": Audit.self
        case "run": Run.self
        case "stream": Stream.self
        case "train": Train.self
        case "eval": Eval.self
        case "batch": Batch.self
        default: nil
        }
    }

    /// Writes the error to stderr: `error:`, detail lines, `caused by:`, `hint:`. With
    /// `DVS_ERROR_KIND=1` in the environment (the Python package sets it for the commands it
    /// runs), a last line `kind: <code>` (`unknownRevision`, `badInput`, …, as the batch
    /// protocol names them) lets a caller raise the matching exception without reading prose.
    /// - Parameter withKind: false for an error reported on the way, before the one the command
    ///   exits with (one `kind:` line per run, the exit's).
    static func report(_ e: DVSError, withKind: Bool = true) {
        Output.err("error: \(e.message)")
        for d in e.details.prefix(50) { Output.err("  \(d)") }
        if e.details.count > 50 { Output.err("  … and \(e.details.count - 50) more") }
        if let c = e.cause { Output.err("caused by: \(c)") }
        if let h = Hints.hint(for: e) { Output.err("hint: \(h)") }
        if withKind, CurrentProcess.context.environment["DVS_ERROR_KIND"] == "1" { Output.err("kind: \(e.code)") }
    }
}

/// The root ``DVSCommand/parsedSubcommand(_:)`` parses one leaf subcommand under: a
/// pseudo-command (`_superCommandName`), for which ArgumentParser skips its check for
/// `--generate-completion-script`. That check builds two more parsers, and their generic
/// metadata costs more than the rest of a small `dvs status` (each failed conformance lookup
/// scans every protocol conformance record of the static binary). A request for a completion
/// script fails this parse and falls back to the full one, which answers it as before.
struct LeafRoot: ParsableCommand {
    /// The leaf being parsed; set just before the parse, on the main thread, once per process.
    nonisolated(unsafe) static var leaf: ParsableCommand.Type = Status.self

    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "dvs", _superCommandName: "dvs", subcommands: [leaf])
    }
}

/// Options every command accepts.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: ArgumentHelp("Run as if dvs was started in <dir>.", valueName: "dir"))
    var directory: String?

    func repository() throws -> Repository {
        let repository = try Repository.discover(from: directory, context: CurrentProcess.context)
        StartupTrace.repositoryOpened()
        return repository
    }
}

/// `DVS_TRACE_STARTUP=<ns>` (bench/startup.py sets it): when a command has opened its repository,
/// dvs writes to stderr how long that took since it was started, the start-up of a local command
/// (bench/README.md, "Start-up"): wall time from `<ns>`, the `CLOCK_MONOTONIC` reading of the
/// parent just before it spawned dvs (0: no wall time), and this process's CPU time (user +
/// system, from `CLOCK_PROCESS_CPUTIME_ID`), in ms. Written once; nothing when unset.
enum StartupTrace {
    /// Writes the line `dvs-startup: wall <ms> ms, cpu <ms> ms` to stderr the first time, when
    /// `DVS_TRACE_STARTUP` is set.
    static func repositoryOpened() {
        guard !written, let value = getenv("DVS_TRACE_STARTUP") else { return }
        written = true
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        var cpu = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu)
        let spawned = Int64(String(cString: value)) ?? 0
        let nowNs = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        let wall = spawned > 0 ? Double(nowNs - spawned) / 1e6 : 0
        let cpuMs = Double(Int64(cpu.tv_sec) * 1_000_000_000 + Int64(cpu.tv_nsec)) / 1e6
        let line = "dvs-startup: wall \(format(wall)) ms, cpu \(format(cpuMs)) ms\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }

    /// Whether the line was written; set on the main thread.
    nonisolated(unsafe) private static var written = false

    /// `ms` with three decimals, without Foundation's formatter.
    private static func format(_ ms: Double) -> String {
        let micro = max(0, Int64((ms * 1000).rounded()))
        let frac = String(micro % 1000)
        return "\(micro / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }
}
