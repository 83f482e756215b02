import ArgumentParser
import DVS
import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run an external trainer against a snapshot and register what it produced.",
        discussion: """
            The snapshot REV is laid out read-only (hard links from a blob cache
            under .dvs/cache where the file system allows) and the command runs
            with, in its environment:
              DVS_SNAPSHOT_DIR   the snapshot's files
              DVS_COMMIT         the snapshot's commit id
              DVS_MANIFEST       JSON Lines: one sample per line (path, sha256,
                                 audio facts, labels)
            Its exit status is dvs's. After exit 0, each --artifact is registered
            as a model record (snapshot, cohort predicate, code commit of the git
            repository around the current directory read before the command
            started, command line, times); a failing command registers nothing.
              dvs run --rev cohort/es --artifact out/model.pt -- python train.py
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Option(help: "The snapshot to train on.") var rev: String
    @Option(help: "A file the command produces, registered after exit 0 (repeatable).") var artifact: [String] = []
    @Option(help: "Display name for the artifact (with one --artifact).") var name: String?
    @Option(name: .shortAndLong, help: "A note kept with each record.") var message: String?
    @Option(help: "The label field the model predicts (counts its values).") var label: String?
    @Option(help: "The task: classify, regress, …") var task: String?
    @Option(name: .customLong("param"), help: ArgumentHelp("A training parameter (repeatable).", valueName: "KEY=VALUE")) var params:
        [String] = []
    @Flag(help: "Print the records as JSON after the command.") var json = false
    @Argument(parsing: .captureForPassthrough, help: "-- CMD [ARGS…]") var command: [String] = []

    func run() throws {
        var cmd = command
        if cmd.first == "--" { cmd.removeFirst() }
        guard !cmd.isEmpty else { throw DVSError(.usage, "no command to run", hint: "dvs run --rev REV -- CMD [ARGS…]") }
        if name != nil && artifact.count > 1 { throw DVSError(.usage, "--name names one artifact; give one --artifact or none") }
        let parameters = try ModelAdd.parameters(params)
        let (repo, cache) = try source.repository(global, revision: rev)
        defer { cache?.close() }
        let cwd = CurrentProcess.context.currentDirectory
        let code = GitCode.version(at: cwd)  // the code as it is when the run starts
        let started = Date()
        let snap = try repo.materialize(Revision(rev), progress: Output.progress())
        defer { snap.remove() }
        Output.err("dvs run: \(rev) (\(snap.commit.short)) at \(snap.snapshotDirectory): \(snap.linked) linked, \(snap.copied) copied")

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = cmd
        var env = CurrentProcess.context.environment
        env["DVS_SNAPSHOT_DIR"] = snap.snapshotDirectory
        env["DVS_COMMIT"] = snap.commit.hex
        env["DVS_MANIFEST"] = snap.manifestPath
        p.environment = env
        do { try p.run() } catch {
            throw DVSError(.badInput, "cannot start '\(cmd[0])': \(error.localizedDescription)", hint: "check the command and PATH")
        }
        // Ctrl-C reaches the child through the terminal's process group; dvs waits for it.
        signal(SIGINT, SIG_IGN)
        p.waitUntilExit()
        signal(SIGINT, SIG_DFL)
        let status: Int32 = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        guard status == 0 else {
            Output.err("dvs run: '\(cmd.joined(separator: " "))' exited with status \(status); no model registered")
            snap.remove()
            throw ExitCode(status)
        }
        let ended = Date()
        for a in artifact where !FileManager.default.fileExists(atPath: a) {
            throw DVSError(
                .badInput, "the command succeeded but artifact '\(a)' does not exist; nothing was registered",
                hint:
                    "check the --artifact path (relative to \(cwd)), or register it later with 'dvs model add PATH --rev \(snap.commit.short)'"
            )
        }
        var records: [[String: Any]] = []
        for a in artifact {
            var reg = ModelRegistration(artifactPath: a, revision: Revision(rev), name: name)
            reg.snapshot = snap.commit  // what the command read, even if the branch moved meanwhile
            reg.message = message ?? ""
            reg.labelField = label
            reg.task = task
            reg.parameters = parameters
            reg.commandLine = cmd
            reg.startTime = started
            reg.endTime = ended
            reg.code = code
            let (id, record) = try repo.registerModel(reg)
            if json { records.append(LineageOutput.object(record, id: id)) } else { Output.err(LineageOutput.registered(id, record)) }
        }
        try source.sendBack(cache)
        if json { try Output.jsonObject(records) }
    }
}
