import ArgumentParser
import DVS
import Foundation

struct Cat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cat", abstract: "Write the bytes of a file in a snapshot to stdout.",
        discussion: "Example: dvs cat HEAD~1:labels.csv. For a symlink, prints its target.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Argument(help: "REV:PATH") var spec: String

    func run() throws {
        let (repo, cache) = try source.repository(
            global, revision: spec.firstIndex(of: ":").map { String(spec[..<$0]) }.flatMap { $0.isEmpty ? nil : $0 })
        defer { cache?.close() }
        let (_, e) = try repo.resolveBlobSpec(spec)
        if e.kind != .symlink { try repo.downloadMissingBlobs([e.blob]) }  // a partial clone: fetched on demand
        let bytes = e.kind == .symlink ? e.linkTarget : try repo.blob(e.blob)
        FileHandle.standardOutput.write(Data(bytes))
    }
}
