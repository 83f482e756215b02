import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Reflog: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reflog", abstract: "Show where a ref (HEAD, a branch, a tag) has pointed, newest first.")

    @OptionGroup var global: GlobalOptions
    @Option(
        name: [.customShort("n", allowingJoined: true), .customLong("max-count")], help: "Show at most this many entries (-n 5 or -n5).")
    var n: Int = 50
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "HEAD (default), a branch or a tag.") var ref: String = "HEAD"

    func run() throws {
        let repo = try global.repository()
        let entries = try repo.reflog(ref, limit: n)
        if json {
            try Output.jsonObject(
                entries.map {
                    [
                        "old": $0.old?.hex ?? NSNull(), "new": $0.new?.hex ?? NSNull(), "time": $0.time,
                        "who": $0.who, "message": $0.message,
                    ] as [String: Any]
                })
            return
        }
        for (i, e) in entries.enumerated() {
            Output.out("\(e.new?.short ?? "(deleted)   ") \(ref)@{\(i)}: \(e.message)")
        }
    }
}
