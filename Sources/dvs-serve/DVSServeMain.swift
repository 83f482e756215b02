// dvs-serve: the web server behind `dvs serve` (Sources/DVSCommands/Serve.swift execs it). Its own
// executable so that SwiftNIO and Hummingbird never load with `dvs` (start-up, bench/README.md).
import ArgumentParser
import DVS
import DVSCore
import DVSServe
import Foundation

@main
struct DVSServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dvs serve",
        abstract: "Serve the repository read-only over HTTP: browse snapshots, listen to samples, read transcripts, compare models.")

    @Option(name: .customShort("C"), help: "Run as if started in this directory.") var directory: String?
    @Option(help: "The revision pages show by default.") var rev: String?
    @Option(help: "TCP port (0: any free port).") var port: Int = 8080
    @Option(help: "Address to bind; anything but loopback needs --token.") var host: String = "127.0.0.1"
    @Option(help: "A token every request must carry; 'generate' makes one.") var token: String?
    @Option(help: "Seconds a SQL filter may run.") var sqlTimeLimit: Double = 5

    func run() async throws {
        do {
            var context = ProcessContext.current(dvsVersion: ProcessInfo.processInfo.environment["DVS_VERSION"] ?? "serve")
            context.notice = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            let repository = try Repository.discover(from: directory, context: context)
            if let rev { _ = try repository.resolve(Revision(rev)) }
            // `dvs serve` hands the token over in DVS_SERVE_TOKEN so that it is not on this
            // process's command line.
            let given = self.token ?? ProcessInfo.processInfo.environment["DVS_SERVE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            let token =
                given == "generate" || (given == nil && !ServeConfiguration.isLoopback(host))
                ? ServeConfiguration.generateToken() : given
            let configuration = ServeConfiguration(host: host, port: port, token: token)
            let site = Site(repository: repository, revision: rev, sqlTimeLimit: sqlTimeLimit)
            let shownHost = host.contains(":") ? "[\(host)]" : host
            let app = try ServeRoutes.application(site: site, configuration: configuration) { port in
                let url = "http://\(shownHost):\(port)/" + (token.map { "?token=\($0)" } ?? "")
                print("dvs serve: \(repository.root) at \(url)")
                print("(read-only; Ctrl-C stops it)")
                fflush(nil)
            }
            try await app.runService()
        } catch let e as DVSError {
            FileHandle.standardError.write(Data("error: \(e.message)\n".utf8) + Data((e.hint.map { "hint: \($0)\n" } ?? "").utf8))
            throw ExitCode(1)
        } catch let e as ServeError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            throw ExitCode(1)
        } catch {
            // SwiftNIO's bind failure reads "bind(descriptor:ptr:bytes:): Address already in use
            // (errno: 98)"; say which address and what to do instead.
            let text = String(describing: error)
            let shownHost = host.contains(":") ? "[\(host)]" : host
            if text.contains("Address already in use") {
                FileHandle.standardError.write(
                    Data(
                        "error: cannot serve on \(shownHost):\(port): the port is already in use\nhint: stop what listens there, or pick another port with --port N (--port 0: any free port)\n"
                            .utf8))
            } else if text.contains("Cannot assign requested address") || text.contains("Permission denied") {
                FileHandle.standardError.write(
                    Data(
                        "error: cannot serve on \(shownHost):\(port): \(text)\nhint: --host takes an address of this machine (127.0.0.1, ::1, 0.0.0.0); ports below 1024 need privileges\n"
                            .utf8))
            } else {
                FileHandle.standardError.write(
                    Data(
                        "error: dvs serve on \(shownHost):\(port) stopped: \(text)\nhint: run it again; if it stops the same way, report this message\n"
                            .utf8))
            }
            throw ExitCode(1)
        }
    }
}
