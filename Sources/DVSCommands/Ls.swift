import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Ls: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the files and samples of a snapshot with their audio facts.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Option(
        help:
            "The snapshot (default HEAD), as `stream` and `query` take it; without it, a first argument that names a revision is taken as one."
    )
    var rev: String?
    @Argument(help: "Revision (default HEAD), then paths or folders to restrict to.") var arguments: [String] = []
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let (repo, cache) = try source.repository(global, revision: rev)
        defer { cache?.close() }
        var args = arguments
        var revision = rev ?? "HEAD"
        if rev == nil, let first = args.first, (try? repo.resolve(Revision(first))) != nil {
            revision = first
            args.removeFirst()
        }
        let id = try repo.resolve(Revision(revision))
        let all = try repo.entries(ofManifest: repo.commit(id).manifest)
        let filters = args.map { RepoPath($0.trimmingCharacters(in: CharacterSet(charactersIn: "/"))) }
        let entries = filters.isEmpty ? all : all.filter { e in filters.contains { e.path.isWithin($0) } }
        if !filters.isEmpty {
            for f in filters where !all.contains(where: { $0.path.isWithin(f) }) {
                throw DVSError(
                    .unknownRevision, "path '\(f)' does not exist in \(revision) (\(id.short))",
                    next: repo.missingPathStep(f, in: all, revision: Revision(revision)))
            }
        }
        if json {
            try Output.json(entries.map(JSONEntry.init))
            return
        }
        for e in entries {
            let kind =
                switch e.kind {
                case .file: "file"
                case .executable: "exec"
                case .symlink: "link"
                }
            var line = "\(kind) \(e.blob.short) \(String(format: "%10llu", e.byteCount))"
            if let a = e.audio {
                line += String(
                    format: "  %-5@ %-14@ %6d Hz %d ch %9d frames %8.3f s", a.container, a.encoding, a.sampleRate, a.channelCount,
                    a.frameCount, a.duration)
            } else {
                line += "  " + String(repeating: " ", count: 65)
            }
            line += "  \(e.path)"
            if e.kind == .symlink { line += " -> \(String(decoding: e.linkTarget, as: UTF8.self))" }
            Output.out(line)
        }
    }
}
