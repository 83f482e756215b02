import ArgumentParser
import DVS
import DVSCore

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show commits reachable from a revision, newest first.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Where to start (default HEAD); A..B shows commits in B not in A.") var revision: String = "HEAD"
    @Option(name: .customShort("n"), help: "Show at most this many commits.") var maxCount: Int?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        var start = revision, excluding: [CommitID] = []
        if let r = revision.range(of: "..") {
            let a = String(revision[..<r.lowerBound]), b = String(revision[r.upperBound...])
            excluding = [try repo.resolve(a.isEmpty ? "HEAD" : a)]
            start = b.isEmpty ? "HEAD" : b
        }
        if revision == "HEAD", try repo.headCommit() == nil {
            if json { try Output.json([JSONCommit]()); return }
            throw DVSError(.unknownRevision, "your current branch '\(repo.currentBranch() ?? "main")' does not have any commits yet",
                           hint: "run 'dvs commit -m MSG' to make the first one")
        }
        let commits = try repo.log(from: repo.resolve(start), limit: maxCount ?? .max, excluding: excluding)
        if json { try Output.json(commits.map { JSONCommit($0.0, $0.1) }); return }
        let decorations = try Self.decorations(repo)
        for (i, (id, c)) in commits.enumerated() {
            if i > 0 { Output.out("") }
            Output.out("commit \(id.hex)\(decorations[id].map { " (\($0))" } ?? "")")
            if c.parents.count > 1 { Output.out("Merge: \(c.parents.map(\.short).joined(separator: " "))") }
            Output.out("Author: \(c.author.identity)")
            Output.out("Date:   \(Output.date(c.author.time, tzMinutes: c.author.timeZoneOffsetMinutes))")
            Output.out("Files:  \(c.totals.fileCount), samples: \(c.totals.sampleCount), audio: \(Output.hours(c.totals.audioHours)), \(Output.bytes(c.totals.byteCount))")
            Output.out("")
            for line in c.message.split(separator: "\n", omittingEmptySubsequences: false) { Output.out("    \(line)") }
        }
    }

    /// `HEAD -> main, tag: v1` labels per commit.
    static func decorations(_ repo: Repository) throws -> [CommitID: String] {
        var out: [CommitID: [String]] = [:]
        let head = try repo.catalog.head()
        for (name, target) in try repo.catalog.refs(prefix: "refs/") {
            var label = name.hasPrefix("refs/heads/") ? String(name.dropFirst(11))
                : name.hasPrefix("refs/tags/") ? "tag: " + name.dropFirst(10)
                : name.hasPrefix("refs/remotes/") ? String(name.dropFirst(13)) : name
            if case .branch(let b, _)? = head, "refs/heads/" + b == name { label = "HEAD -> " + label }
            out[target, default: []].append(label)
        }
        if case .detached(let c)? = head { out[c, default: []].insert("HEAD", at: 0) }
        return out.mapValues { $0.joined(separator: ", ") }
    }
}
