import DVS
import DVSAudio
import DVSCore
import DVSLearn
import Foundation

/// The pages and files of `dvs serve` over one repository, read-only.
///
/// Every route takes its parameters from the query string (`rev`, `path`, …), so a revision
/// (`feature/x`, `HEAD~2`) or a sample path never becomes a file-system path: samples are looked
/// up in the revision's manifest and their bytes read from the object store, which verifies
/// their hash. Safe to call from many threads at once (the repository reads are; the caches are
/// behind a lock).
public final class Site: @unchecked Sendable {
    /// The repository served.
    public let repository: Repository
    /// The revision pages show when a request names none (`--rev`, default HEAD).
    public let defaultRevision: String
    /// Longest a filter statement may run, seconds.
    public let sqlTimeLimit: Double
    /// Samples per page of the snapshot table.
    let pageSize = 50
    private let lock = NSLock()
    private var entryCache: [(CommitID, [RepoPath: ManifestEntry])] = []
    private var wavCache: [(ObjectID, [UInt8])] = []
    /// What the snapshot page computes over every matching sample (count, hours, charts), by
    /// commit and filter: a commit never changes, so a page turn runs only its page's query.
    private var summaryCache: [(key: String, value: SnapshotSummary)] = []

    /// The sample table's columns and the filtered samples' totals and charts (HTML).
    struct SnapshotSummary: Sendable {
        var columns: [String]
        var count: Int
        var hours: Double
        var charts: String
    }

    /// The cached summary of `key` (commit and filter), if any.
    func cachedSummary(_ key: String) -> SnapshotSummary? {
        lock.lock()
        defer { lock.unlock() }
        return summaryCache.first { $0.key == key }?.value
    }

    /// Keeps `summary` for `key` (the last 32).
    func storeSummary(_ key: String, _ summary: SnapshotSummary) {
        lock.lock()
        defer { lock.unlock() }
        summaryCache.removeAll { $0.key == key }
        summaryCache.insert((key, summary), at: 0)
        if summaryCache.count > 32 { summaryCache.removeLast() }
    }

    /// Serves `repository`.
    /// - Parameters:
    ///   - revision: the default revision (nil: HEAD).
    ///   - sqlTimeLimit: seconds a SQL filter may run before it is stopped.
    public init(repository: Repository, revision: String? = nil, sqlTimeLimit: Double = 5) {
        self.repository = repository
        self.defaultRevision = revision ?? "HEAD"
        self.sqlTimeLimit = sqlTimeLimit
    }

    /// The reply to `GET path?query` (`range`: the request's `Range` header). Never throws:
    /// failures become error pages with their status.
    func reply(path: String, query: [String: String], range: String?) -> Reply {
        do {
            switch path {
            case "/", "": return .html(try repositoryPage())
            case "/snapshot": return try snapshotPage(query)
            case "/sample": return .html(try samplePage(query))
            case "/audio": return try audio(query, range: range)
            case "/spectrogram": return try spectrogram(query)
            case "/diff": return .html(try diffPage(query))
            case "/models": return .html(try modelsPage())
            case "/static/app.css": return Reply(status: 200, contentType: "text/css; charset=utf-8", body: Array(Assets.css.utf8))
            case "/static/app.js": return Reply(status: 200, contentType: "text/javascript; charset=utf-8", body: Array(Assets.js.utf8))
            case "/favicon.svg", "/favicon.ico":
                // Browsers ask for /favicon.ico whatever the page says; both get the SVG icon.
                return Reply(
                    status: 200, contentType: "image/svg+xml", body: Array(Assets.favicon.utf8),
                    headers: [("Cache-Control", "public, max-age=86400")])
            default: return .error(404, "no page at '\(path)'", hint: "start from the repository page, /")
            }
        } catch let e as ServeError {
            return .error(e.status, e.message, hint: e.hint)
        } catch let e as DVSError {
            let status = e.code == .unknownRevision ? 404 : e.code == .badInput || e.code == .usage ? 400 : 500
            return .error(status, e.message, hint: Self.hint(e))
        } catch {
            return .error(500, "\(error)")
        }
    }

    /// A DVSError's hint, or the words for its next step that matter here.
    static func hint(_ e: DVSError) -> String? {
        if let h = e.hint { return h }
        switch e.next {
        case .checkQueryStatement?: return "check the statement against the tables described in 'dvs query --help'"
        case .spellRevision?: return "use a branch name, HEAD, HEAD~N or a commit id of at least 4 hex digits"
        case .commitFirstOrPassRevision?: return "commit first, or pass --rev"
        case .seeHistory?: return "the repository page, /, shows the history"
        case .runFsck?, .listDamagedObjects?, .listDamagedObjectsAndPaths?, .damagedSnapshot?:
            return "run 'dvs fsck' if the repository may be damaged"
        default: return nil
        }
    }

    // MARK: - Lookups

    func resolve(_ rev: String?) throws -> (String, CommitID) {
        let spelling = rev.flatMap { $0.isEmpty ? nil : $0 } ?? defaultRevision
        if spelling == "HEAD", try repository.headCommit() == nil {
            throw ServeError(404, "the repository has no commits yet", hint: "commit first, then reload")
        }
        return (spelling, try repository.resolve(Revision(spelling)))
    }

    /// The entries of `commit` by path, from a small cache (the last four commits asked for).
    func entries(_ commit: CommitID) throws -> [RepoPath: ManifestEntry] {
        lock.lock()
        if let hit = entryCache.first(where: { $0.0 == commit }) {
            lock.unlock()
            return hit.1
        }
        lock.unlock()
        let list = try repository.entries(ofManifest: repository.commit(commit).manifest)
        let map = Dictionary(list.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        lock.lock()
        entryCache.insert((commit, map), at: 0)
        if entryCache.count > 4 { entryCache.removeLast() }
        lock.unlock()
        return map
    }

    /// The sample `path` of `rev`: it must be an audio file of the manifest (never a symlink).
    func sample(_ query: [String: String]) throws -> (String, CommitID, ManifestEntry, AudioFacts) {
        let (rev, id) = try resolve(query["rev"])
        guard let p = query["path"], !p.isEmpty else { throw ServeError(400, "no sample named: add ?path=PATH") }
        guard let e = try repository.entries(at: [RepoPath(p)], of: id)[RepoPath(p)], e.kind == .file, let facts = e.audio else {
            throw ServeError(
                404, "no sample '\(p)' in \(rev) (\(id.short))", hint: "pick one from the sample table of /snapshot?rev=\(rev)")
        }
        return (rev, id, e, facts)
    }

    /// The cached WAV transcoding of `blob`, if any.
    func cachedWAV(_ blob: ObjectID) -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        return wavCache.first { $0.0 == blob }?.1
    }

    /// Keeps `wav` for `blob` (the last eight transcodings).
    func storeWAV(_ blob: ObjectID, _ wav: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        wavCache.insert((blob, wav), at: 0)
        if wavCache.count > 8 { wavCache.removeLast() }
    }

    func sampleLink(_ rev: String, _ path: String) -> String { Query.url("/sample", [("rev", rev), ("path", path)]) }

    // MARK: - Repository

    func repositoryPage() throws -> String {
        var body = "<h1>\(HTML.escape((repository.root as NSString).lastPathComponent))</h1>"
        let current = repository.currentBranch()
        body +=
            "<p class=\"muted mono\">\(HTML.escape(repository.root))" + (current.map { " · on branch <b>\(HTML.escape($0))</b>" } ?? "")
            + "</p>"
        func refTable(_ refs: [RefInfo], kind: String) -> String {
            guard !refs.isEmpty else { return "<p class=\"muted\">no \(kind)s</p>" }
            var t =
                "<table id=\"\(kind)s\"><tr><th>\(kind)</th><th>commit</th><th class=num>samples</th><th class=num>audio</th><th></th></tr>"
            for r in refs {
                t +=
                    "<tr><td>\(r.isCurrent ? "● " : "")<a href=\"\(HTML.escape(Query.url("/snapshot", [("rev", r.name)])))\">\(HTML.escape(r.name))</a></td>"
                t +=
                    "<td class=mono>\(r.target.short)</td><td class=num>\(r.totals.sampleCount)</td><td class=num>\(HTML.hours(r.totals.audioHours))</td>"
                t += "<td class=muted>\(HTML.escape(r.message ?? ""))</td></tr>"
            }
            return t + "</table>"
        }
        body += "<h2>Branches</h2>" + refTable(try repository.branches(), kind: "branch")
        body += "<h2>Tags</h2>" + refTable(try repository.tags(), kind: "tag")
        let cohorts = try repository.cohorts()
        body += "<h2>Cohorts</h2>"
        if cohorts.isEmpty {
            body += "<p class=\"muted\">no cohorts</p>"
        } else {
            body +=
                "<table id=\"cohorts\"><tr><th>cohort</th><th>predicate</th><th class=num>samples</th><th class=num>audio</th><th>cut from</th></tr>"
            for c in cohorts {
                body +=
                    "<tr><td><a href=\"\(HTML.escape(Query.url("/snapshot", [("rev", "cohort/" + c.name)])))\">\(HTML.escape(c.name))</a></td>"
                body +=
                    "<td><code>\(HTML.escape(c.predicate))</code></td><td class=num>\(c.totals.sampleCount)</td><td class=num>\(HTML.hours(c.totals.audioHours))</td>"
                body +=
                    "<td>\(HTML.escape(c.sourceRevision)) <span class=mono>\(c.cut.short)</span>\(c.sourceMovedOn.map { " · source moved on by \($0)" } ?? "")</td></tr>"
            }
            body += "</table>"
        }
        body += "<h2>Commits</h2>" + (try commitGraph())
        return HTML.page(title: "repository", revision: nil, body: body)
    }

    /// The newest 200 commits of every branch and tag, children before parents, with their graph
    /// drawn as SVG lanes beside the rows.
    func commitGraph() throws -> String {
        var heads: [CommitID] = []
        if let h = try repository.headCommit() { heads.append(h) }
        let refs = try repository.branches() + repository.tags()
        heads += refs.map(\.target)
        var seen = Set<CommitID>()
        var all: [(CommitID, Commit)] = []
        for h in heads where !seen.contains(h) {
            for (id, c) in try repository.log(from: h, limit: 200) where seen.insert(id).inserted { all.append((id, c)) }
        }
        all.sort { $0.1.committer.time > $1.1.committer.time }
        let commits = Array(Repository.topological(all).prefix(200))
        guard !commits.isEmpty else { return "<p class=\"muted\">no commits</p>" }
        var labels: [CommitID: [String]] = [:]
        for r in refs { labels[r.target, default: []].append(r.name) }
        // Lanes: each commit takes the lane that expects it (else a new one); its first parent
        // inherits the lane, further parents get lanes of their own.
        var lanes: [CommitID?] = []
        var column: [CommitID: Int] = [:]
        var row: [CommitID: Int] = [:]
        for (i, (id, c)) in commits.enumerated() {
            let col =
                lanes.firstIndex(where: { $0 == id }) ?? lanes.firstIndex(where: { $0 == nil })
                ?? {
                    lanes.append(nil)
                    return lanes.count - 1
                }()
            for k in lanes.indices where lanes[k] == id { lanes[k] = nil }
            column[id] = col
            row[id] = i
            lanes[col] = c.parents.first
            for p in c.parents.dropFirst() where !lanes.contains(where: { $0 == p }) {
                if let free = lanes.firstIndex(where: { $0 == nil }) { lanes[free] = p } else { lanes.append(p) }
            }
        }
        let rowHeight = 32
        let width = 16 * ((column.values.max() ?? 0) + 1) + 8
        var svg = "<svg width=\"\(width)\" height=\"\(commits.count * rowHeight)\" style=\"display:block\">"
        func x(_ c: Int) -> Int { 10 + 16 * c }
        func y(_ r: Int) -> Int { r * rowHeight + rowHeight / 2 }
        for (i, (id, c)) in commits.enumerated() {
            for p in c.parents {
                let (pc, pr) = (column[p] ?? column[id]!, row[p] ?? commits.count)
                let mid = pc == column[id]! ? "" : " L\(x(pc)) \(y(i) + rowHeight / 2)"
                svg +=
                    "<path d=\"M\(x(column[id]!)) \(y(i))\(mid) L\(x(pc)) \(min(y(pr), commits.count * rowHeight))\" stroke=\"#8aa\" fill=\"none\" stroke-width=\"2\"/>"
            }
        }
        for (i, (id, _)) in commits.enumerated() {
            svg += "<circle cx=\"\(x(column[id]!))\" cy=\"\(y(i))\" r=\"5\" fill=\"#1f6feb\"/>"
        }
        svg += "</svg>"
        var t =
            "<table class=\"graph\" id=\"commits\"><tr><th></th><th>commit</th><th>message</th><th class=num>samples</th><th class=num>audio</th><th>author</th><th>date</th></tr>"
        for (i, (id, c)) in commits.enumerated() {
            t += "<tr style=\"height:\(rowHeight)px\">"
            if i == 0 { t += "<td class=\"lane\" rowspan=\"\(commits.count)\" style=\"padding:0\">\(svg)</td>" }
            let subject = c.message.split(separator: "\n").first.map(String.init) ?? ""
            let refs = (labels[id] ?? []).map { "<span class=pill>\(HTML.escape($0))</span>" }.joined()
            t += "<td class=mono><a href=\"\(HTML.escape(Query.url("/snapshot", [("rev", id.hex)])))\">\(id.short)</a></td>"
            t += "<td>\(refs) \(HTML.escape(subject))"
            if let p = c.parents.first {
                t += " <a class=muted href=\"\(HTML.escape(Query.url("/diff", [("a", p.hex), ("b", id.hex)])))\">diff</a>"
            }
            t += "</td><td class=num>\(c.totals.sampleCount)</td><td class=num>\(HTML.hours(c.totals.audioHours))</td>"
            let date = Date(timeIntervalSince1970: TimeInterval(c.author.time))
            t += "<td>\(HTML.escape(c.author.name))</td><td class=muted>\(Self.dateFormat(date))</td></tr>"
        }
        return t + "</table>"
    }

    static func dateFormat(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(secondsFromGMT: 0)
        f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return f.string(from: d)
    }
}
