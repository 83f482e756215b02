import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Branch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, create or delete branches.",
        discussion: """
            dvs branch             list branches: head, samples, hours (* marks HEAD's)
            dvs branch NAME [REV]  create NAME at REV (default HEAD); switch: dvs checkout
            dvs branch -d NAME     delete NAME if HEAD or another branch has its commits
            dvs branch -D NAME     delete it anyway
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(name: .customShort("d"), help: "Delete the branch (refused when it is not merged).") var delete = false
    @Flag(name: .customShort("D"), help: "Delete the branch even when it is not merged.") var forceDelete = false
    @Flag(help: "Print JSON.") var json = false
    @Argument(help: "Branch name.") var name: String?
    @Argument(help: "Where to create it (default HEAD).") var revision: String?

    func run() throws {
        let repo = try global.repository()
        if delete || forceDelete {
            guard let name else { throw DVSError(.usage, "which branch? 'dvs branch -d NAME'") }
            let old = try repo.deleteBranch(name, force: forceDelete)
            Output.out("Deleted branch \(name) (was \(old.short))")
            return
        }
        if let name {
            let id = try repo.createBranch(name, at: revision.map { Revision($0) })
            Output.out("Created branch \(name) at \(id.short)")
            return
        }
        let all = try repo.branches()
        if json {
            try Output.jsonObject(
                all.map {
                    [
                        "name": $0.name, "commit": $0.target.hex, "current": $0.isCurrent,
                        "samples": $0.totals.sampleCount, "hours": ($0.totals.audioHours * 1e6).rounded() / 1e6,
                    ] as [String: Any]
                })
            return
        }
        let width = all.map(\.name.count).max() ?? 0
        for b in all {
            Output.out(
                "\(b.isCurrent ? "*" : " ") \(b.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(b.target.short)  \(b.totals.sampleCount) samples, \(Output.hours(b.totals.audioHours))"
            )
        }
    }
}

struct Tag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, create or delete tags (names for commits that do not move).",
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
        for t in all { Output.out("\(t.name)  \(t.target.short)" + (t.message.map { "  \($0)" } ?? "")) }
    }
}

struct Reflog: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show where a ref (HEAD, a branch, a tag) has pointed, newest first.")

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
