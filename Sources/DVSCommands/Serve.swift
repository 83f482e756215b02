import ArgumentParser
import DVS
import DVSCore
import Foundation

/// `dvs serve`: execs `dvs-serve`, installed beside `dvs`, the way git runs its helper programs, so
/// that the web server's libraries (SwiftNIO, Hummingbird) never load with the other commands.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the repository read-only in a browser: snapshots, samples with audio and transcripts, diffs, models.",
        discussion: """
            Pages: / (branches, tags, cohorts, commit graph), /snapshot (sample table,
            SQL filter over the tables of 'dvs query', charts), /sample (player,
            waveform, spectrogram, labels, transcript words by confidence; clicking
            a word seeks), /diff (added, removed, modified, renamed, relabeled),
            /models (records and the accuracy/real-time factor chart).
            Binds 127.0.0.1 by default; any other host needs --token (one is made
            and printed when none is given; DVS_SERVE_TOKEN keeps it off the command
            line). Never writes to the repository.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "The revision pages show by default (default HEAD).") var rev: String?
    @Option(help: "TCP port (0: any free port).") var port: Int = 8080
    @Option(help: "Address to bind; anything but loopback needs a token.") var host: String = "127.0.0.1"
    @Option(help: "A token every request must carry ('generate' makes one; default: $DVS_SERVE_TOKEN).") var token: String?
    @Option(help: "Seconds a SQL filter may run before it is stopped.") var sqlTimeLimit: Double = 5

    func run() throws {
        let repository = try global.repository()
        if let rev { _ = try repository.resolve(Revision(rev)) }
        let helper = Self.helperPath()
        guard access(helper, X_OK) == 0 else {
            throw DVSError(
                .io, "cannot find the web server '\(helper)' that 'dvs serve' runs",
                hint: "install dvs-serve beside dvs (swift build puts both in the same folder)")
        }
        var arguments = [helper, "-C", repository.root, "--port", String(port), "--host", host, "--sql-time-limit", String(sqlTimeLimit)]
        if let rev { arguments += ["--rev", rev] }
        // The token goes to the helper in its environment, not its argv: after the exec, the
        // command line (readable by every local user in /proc/PID/cmdline) is dvs-serve's.
        if let token = token ?? ProcessInfo.processInfo.environment["DVS_SERVE_TOKEN"] {
            setenv("DVS_SERVE_TOKEN", token, 1)
        } else {
            unsetenv("DVS_SERVE_TOKEN")
        }
        setenv("DVS_VERSION", DVSCommand.version, 1)
        fflush(nil)
        let argv = arguments.map { strdup($0) } + [nil]
        execv(helper, argv)
        throw DVSError(.io, "cannot start '\(helper)': \(String(cString: strerror(errno)))", hint: "check that the file is executable")
    }

    /// `dvs-serve` in the folder of the running `dvs` (`/proc/self/exe`, else argv[0]).
    static func helperPath() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let me = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        return (me as NSString).deletingLastPathComponent + "/dvs-serve"
    }
}
