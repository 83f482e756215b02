import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Tag: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "List, create or delete tags (names for commits that do not move).",
        discussion: """
            dvs tag                       list tags
            dvs tag NAME [REV] [-m MSG]   tag REV (default HEAD): what a model shipped from
            dvs tag -d NAME               delete a tag
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "A message kept with the tag.") var message: String?
    @Flag(name: .customShort("d"), help: "Delete the tag.") var delete = false
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "Tag name.") var name: String?
    @Argument(help: "What to tag (default HEAD).") var revision: String?

    func run() throws {
        let repo = try global.repository()
        if delete {
            guard let name else { throw DVSError(.usage, "which tag? 'dvs tag -d NAME'") }
            let old = try repo.deleteTag(name)
            Output.out("Deleted tag \(name) (was \(old.short))")
            return
        }
        if name == nil && message != nil {
            throw DVSError(.usage, "a message needs a tag to keep it: 'dvs tag NAME -m MSG'")
        }
        if let name {
            let id = try repo.createTag(name, at: revision.map { Revision($0) }, message: message)
            Output.out("Tagged \(id.short) as \(name)")
            return
        }
        let all = try repo.tags()
        if json {
            try Output.jsonObject(
                all.map {
                    [
                        "name": $0.name, "commit": $0.target.hex, "message": $0.message ?? NSNull(),
                        "samples": $0.totals.sampleCount, "hours": ($0.totals.audioHours * 1e6).rounded() / 1e6,
                    ] as [String: Any]
                })
            return
        }
        // A message's first line, as `git tag -n` (the whole of it is in --json).
        for t in all {
            let first = t.message?.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init)
            Output.out("\(t.name)  \(t.target.short)" + (first.map { "  \($0)" } ?? ""))
        }
    }
}
