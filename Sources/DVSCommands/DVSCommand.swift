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
            Log.self, Show.self, Ls.self, Cat.self, Checkout.self, Fsck.self, Reindex.self, Config.self, FSMonitorCommand.self,
            RemoteCommand.self, Push.self,
            Fetch.self, Pull.self, Clone.self,
            ModelCommand.self, Models.self, Audit.self, Run.self, Stream.self, Train.self, Eval.self,
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
            var command = try parsedSubcommand() ?? parseAsRoot()
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

    /// `dvs <leaf subcommand> ARGS…` parsed by the subcommand alone, when that succeeds; nil
    /// otherwise, and then the full parse answers (help, version, usage errors: the same text as
    /// ever). Parsing a leaf alone skips the tree of every subcommand and the root's built-in
    /// flags (≈0.5 ms of `dvs status`), and gives the same command: the root has no options of
    /// its own, and anything the leaf alone cannot parse falls back.
    static func parsedSubcommand() -> ParsableCommand? {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2,
            let type = configuration.subcommands.first(where: { $0.configuration.commandName == arguments[1] }),
            type.configuration.subcommands.isEmpty
        else { return nil }
        LeafRoot.leaf = type
        guard let command = try? LeafRoot.parseAsRoot(Array(arguments.dropFirst(1))), Swift.type(of: command) == type else {
            return nil
        }
        return command
    }

    static func report(_ e: DVSError) {
        Output.err("error: \(e.message)")
        for d in e.details.prefix(50) { Output.err("  \(d)") }
        if e.details.count > 50 { Output.err("  … and \(e.details.count - 50) more") }
        if let c = e.cause { Output.err("caused by: \(c)") }
        if let h = Hints.hint(for: e) { Output.err("hint: \(h)") }
    }
}

/// The root ``DVSCommand/parsedSubcommand()`` parses one leaf subcommand under: a
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
        try Repository.discover(from: directory, context: CurrentProcess.context)
    }
}
