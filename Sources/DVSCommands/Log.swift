import ArgumentParser
import DVS
import DVSCore

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Show commits reachable from a revision, newest first.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Where to start (default HEAD); A..B shows commits in B not in A.") var revision: String = "HEAD"
    @Option(name: .customShort("n", allowingJoined: true), help: "Show at most this many commits (-n 5 or -n5).") var maxCount: Int?
    @Flag(help: "Draw the commit graph (one line per commit; merges show both parents).") var graph = false
    @Flag(help: "One line per commit.") var oneline = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        let range = RevisionRange(revision)
        let excluding = try range.excluded.map { [try repo.resolve($0)] } ?? []
        if range.excluded == nil, range.included.isHead, try repo.headCommit() == nil {
            if json {
                try Output.json([JSONCommit]())
                return
            }
            throw DVSError(
                .unknownRevision, "your current branch '\(repo.currentBranch() ?? "main")' does not have any commits yet",
                hint: "run 'dvs commit -m MSG' to make the first one")
        }
        let commits = Repository.topological(
            try repo.log(from: repo.resolve(range.included), limit: maxCount ?? .max, excluding: excluding))
        if json {
            try Output.json(commits.map { JSONCommit($0.0, $0.1) })
            return
        }
        let decorations = try Self.decorations(repo)
        if graph || oneline {
            for line in Self.graphLines(commits, drawGraph: graph, decorations: decorations) { Output.out(line) }
            return
        }
        for (i, (id, c)) in commits.enumerated() {
            if i > 0 { Output.out("") }
            Output.out("commit \(id.hex)\(decorations[id].map { " (\($0))" } ?? "")")
            if c.parents.count > 1 { Output.out("Merge: \(c.parents.map(\.short).joined(separator: " "))") }
            Output.out("Author: \(c.author.identity)")
            Output.out("Date:   \(Output.date(c.author.time, tzMinutes: c.author.timeZoneOffsetMinutes))")
            Output.out(
                "Files:  \(c.totals.fileCount), samples: \(c.totals.sampleCount), audio: \(Output.hours(c.totals.audioHours)), \(Output.bytes(c.totals.byteCount))"
            )
            for line in Self.erasedLines(c) { Output.out(line) }
            Output.out("")
            for line in c.message.split(separator: "\n", omittingEmptySubsequences: false) { Output.out("    \(line)") }
        }
    }

    /// `Erased: N sample(s) by purge <id>` for each purge that rewrote `c` (its `purge-erased`
    /// header: `<purge id> <samples>` per line); none for a commit no purge touched.
    static func erasedLines(_ c: Commit) -> [String] {
        (c.extra[Repository.purgeHeader] ?? "").split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            return parts.count == 2
                ? "Erased: \(Int(parts[1]).map { Output.count($0, "sample") } ?? "\(parts[1]) samples") by purge \(parts[0].prefix(12))"
                : nil
        }
    }

    /// One line per commit (`abc1234 (HEAD -> main) subject  [N samples]`), with lanes drawn as
    /// git's `log --graph` does: `*` the commit, `|` a line of descent (lanes two columns apart),
    /// `\\` a merge's second parent branching off and `/` lanes joining, both drawn between lanes
    /// and moving one lane per line, so an edge that passes other lanes reaches the right one.
    /// Commits must come children before parents.
    static func graphLines(_ commits: [(CommitID, Commit)], drawGraph: Bool, decorations: [CommitID: String]) -> [String] {
        var out: [String] = []
        var lanes: [CommitID] = []
        /// Lines of edges sliding from lane `from` to lane `to` (one lane per line), every other
        /// lane but `hidden` drawn as `|`.
        func slide(_ edges: [(from: Int, to: Int)], hidden: Set<Int>, width: Int) -> [String] {
            let steps = edges.map { abs($0.from - $0.to) }.max() ?? 0
            return (0..<steps).map { s in
                var row = [Character](repeating: " ", count: 2 * width)
                for k in 0..<width where !hidden.contains(k) { row[2 * k] = "|" }
                for e in edges where s < abs(e.from - e.to) {
                    if e.to < e.from { row[2 * (e.from - s) - 1] = "/" } else { row[2 * (e.from + s) + 1] = "\\" }
                }
                return String(row).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            }
        }
        for (id, c) in Repository.topological(commits) {
            let subject = c.message.split(separator: "\n").first.map(String.init) ?? ""
            let text =
                "\(id.short)\(decorations[id].map { " (\($0))" } ?? "") \(subject)  [\(Output.count(c.totals.sampleCount, "sample"))]"
            guard drawGraph else {
                out.append(text)
                continue
            }
            var col =
                lanes.firstIndex(of: id)
                ?? {
                    lanes.append(id)
                    return lanes.count - 1
                }()
            let joining = lanes.indices.filter { $0 != col && lanes[$0] == id }
            if !joining.isEmpty {
                out += slide(joining.map { ($0, col) }, hidden: Set(joining), width: lanes.count)
                for j in joining.reversed() { lanes.remove(at: j) }
                col = lanes.firstIndex(of: id)!
            }
            out.append(lanes.indices.map { $0 == col ? "*" : "|" }.joined(separator: " ") + "  " + text)
            guard let first = c.parents.first else {
                lanes.remove(at: col)
                continue
            }
            lanes[col] = first
            var edges: [(from: Int, to: Int)] = []
            var added = 0
            for p in c.parents.dropFirst() {
                if let k = lanes.indices.first(where: { lanes[$0] == p && $0 != col }) {
                    edges.append((col, k))  // the parent already has a lane: the edge goes there
                } else {
                    lanes.insert(p, at: col + 1 + added)
                    added += 1
                    edges.append((col, col + added))
                }
            }
            // Lanes opened for new parents are not drawn before their edge reaches them.
            let opened = Set((0..<added).map { col + 1 + $0 })
            out += slide(edges, hidden: opened, width: lanes.count).enumerated().map { i, line in
                var row = Array(line)
                if i == 0, added == 1 {
                    // Lanes right of the opened one moved one lane right: drawn '\\' as they shift.
                    for k in (col + 2)..<lanes.count where 2 * k < row.count && row[2 * k] == "|" {
                        row[2 * k] = " "
                        row[2 * k - 1] = "\\"
                    }
                    while row.last == " " { row.removeLast() }
                    return String(row)
                }
                // From the second line on, lanes the edges already reached show as '|'.
                guard i > 0 else { return line }
                for k in opened where k - col <= i && 2 * k < row.count + 1 {
                    while row.count <= 2 * k { row.append(" ") }
                    row[2 * k] = "|"
                }
                return String(row)
            }
        }
        return out
    }

    /// `HEAD -> main, tag: v1` labels per commit.
    static func decorations(_ repo: Repository) throws -> [CommitID: String] {
        var out: [CommitID: [String]] = [:]
        let head = try repo.catalog.head()
        for (name, target) in try repo.catalog.refs(in: .all) {
            var label = name.kind == .tag ? "tag: " + name.shortName : name.shortName
            if case .branch(let b, _)? = head, RefName.branch(b) == name { label = "HEAD -> " + label }
            out[target, default: []].append(label)
        }
        if case .detached(let c)? = head { out[c, default: []].insert("HEAD", at: 0) }
        return out.mapValues { $0.joined(separator: ", ") }
    }
}
