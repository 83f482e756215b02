import DVS
import DVSCore
import Foundation

extension Site {
    /// Runs one statement over `commit`'s samples with the filter's time limit.
    func sql(_ statement: String, _ commit: CommitID) throws -> QueryResult {
        try repository.query(statement, at: Revision(commit.hex), timeLimit: sqlTimeLimit)
    }

    /// Quotes `name` as an SQL identifier.
    static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// `/snapshot?rev=R&where=EXPR&sort=COL&order=asc|desc&page=N`: the sample table, paged over
    /// the sample index, filtered by an SQL expression over `sample`, with charts.
    /// A filter that is not one expression, fails or runs past the time limit gets the page with
    /// its form and an error box, status 400.
    func snapshotPage(_ q: [String: String]) throws -> Reply {
        let (rev, id) = try resolve(q["rev"])
        let commit = try repository.commit(id)
        let filter = (q["where"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let subject = commit.message.split(separator: "\n").first.map(String.init) ?? ""
        var body = "<h1>Snapshot <span class=mono>\(HTML.escape(rev))</span></h1>"
        body +=
            "<p class=muted><span class=mono>\(id.short)</span> · \(HTML.escape(subject)) · \(commit.totals.sampleCount) samples, \(HTML.hours(commit.totals.audioHours))"
        if let p = commit.parents.first {
            body += " · <a href=\"\(HTML.escape(Query.url("/diff", [("a", p.hex), ("b", id.hex)])))\">diff with parent</a>"
        }
        body += "</p>"
        body += """
            <form class="sql" method="get" action="/snapshot"><input type="hidden" name="rev" value="\(HTML.escape(rev))">
            <input type="text" id="where" name="where" value="\(HTML.escape(filter))" placeholder="SQL filter over sample, e.g. duration_s > 2 AND confidence < 0.8, or path IN (SELECT path FROM word WHERE word = 'yes')">
            <button type="submit" id="filter">Filter</button></form>
            """
        let condition: String
        if filter.isEmpty {
            condition = "1"
        } else {
            guard Repository.isStandaloneExpression(filter) else {
                return .html(
                    HTML.page(
                        title: "snapshot", revision: rev,
                        body: body
                            + HTML.errorBox(
                                "the filter '\(filter)' is not one SQL expression",
                                hint:
                                    "write an expression over the sample table, such as speaker = 'spk042' AND duration_s > 2 (no ';', balanced parentheses)"
                            )), status: 400)
            }
            condition = "(" + filter + ")"
        }
        // Columns, totals and charts go over every matching sample: computed once per commit and
        // filter (a commit never changes), so a page turn or a sort runs only the page's query.
        // A statement that fails (the filter's SQL, its time limit) keeps the form on the page:
        // 400 for the filter's fault, 500 for the server's (a damaged index, a disk error).
        do {
            let summary: SnapshotSummary
            let key = id.hex + "\n" + filter
            if let cached = cachedSummary(key) {
                summary = cached
            } else {
                let columns = try sql("PRAGMA table_info(sample)", id).rows.compactMap { row -> String? in
                    if case .string(let s)? = row.dropFirst().first { return s }
                    return nil
                }
                let totals = try sql("SELECT count(*), coalesce(sum(duration_s), 0) FROM sample WHERE \(condition)", id)
                summary = SnapshotSummary(
                    columns: columns, count: totals.rows.first.map { Self.int($0[0]) } ?? 0,
                    hours: (totals.rows.first.map { Self.double($0[1]) } ?? 0) / 3600,
                    charts: try charts(labelColumns: columns.filter { !sampleTableColumns.contains($0) }, condition: condition, id))
                storeSummary(key, summary)
            }
            return .html(try snapshotTable(q, rev: rev, id: id, filter: filter, condition: condition, summary: summary, body: body))
        } catch let e as DVSError {
            return .html(
                HTML.page(title: "snapshot", revision: rev, body: body + HTML.errorBox(e.message, hint: Self.hint(e))),
                status: e.code == .badInput || e.code == .usage ? 400 : 500)
        }
    }

    /// The snapshot page's count, pager, table of samples and charts after `body` (heading and
    /// form), for the samples matching `condition`.
    /// - Throws: `DVSError` when the page's statement fails.
    private func snapshotTable(
        _ q: [String: String], rev: String, id: CommitID, filter: String, condition: String, summary: SnapshotSummary, body: String
    ) throws -> String {
        var body = body
        let page = max(1, Int(q["page"] ?? "") ?? 1)
        let columns = summary.columns
        let labelColumns = columns.filter { !sampleTableColumns.contains($0) }
        let sort = q["sort"].flatMap { columns.contains($0) ? $0 : nil } ?? "path"
        let descending = q["order"] == "desc"
        let count = summary.count
        let hours = summary.hours
        let pages = max(1, (count + pageSize - 1) / pageSize)
        let current = min(page, pages)
        let shown = ["path", "duration_s", "sample_rate", "channels"] + labelColumns + ["transcript", "confidence"]
        let list = try sql(
            "SELECT \(shown.map(Self.identifier).joined(separator: ", ")) FROM sample WHERE \(condition) ORDER BY \(Self.identifier(sort)) \(descending ? "DESC" : "ASC"), path LIMIT \(pageSize) OFFSET \((current - 1) * pageSize)",
            id)
        body +=
            "<p id=\"count\"><b>\(count)</b> sample\(count == 1 ? "" : "s") · \(HTML.hours(hours))\(filter.isEmpty ? "" : " match the filter")</p>"
        func link(page p: Int? = nil, sort s: String? = nil, order o: String? = nil) -> String {
            HTML.escape(
                Query.url(
                    "/snapshot",
                    [
                        ("rev", rev), ("where", filter.isEmpty ? nil : filter), ("sort", s ?? sort),
                        ("order", o ?? (descending ? "desc" : "asc")), ("page", String(p ?? current)),
                    ]))
        }
        let pager =
            "<div class=pager>"
            + (current > 1
                ? "<a href=\"\(link(page: 1))\">« first</a><a id=\"prev\" href=\"\(link(page: current - 1))\">‹ previous</a>" : "")
            + "<span>page \(current) of \(pages)</span>"
            + (current < pages
                ? "<a id=\"next\" href=\"\(link(page: current + 1))\">next ›</a><a href=\"\(link(page: pages))\">last »</a>" : "")
            + "</div>"
        body += pager
        var t = "<table id=\"samples\"><tr>"
        for c in shown {
            let next = c == sort && !descending ? "desc" : "asc"
            let arrow = c == sort ? (descending ? " ▼" : " ▲") : ""
            let numeric = ["duration_s", "sample_rate", "channels", "confidence"].contains(c)
            t += "<th\(numeric ? " class=num" : "")><a href=\"\(link(page: 1, sort: c, order: next))\">\(HTML.escape(c))\(arrow)</a></th>"
        }
        t += "</tr>"
        for row in list.rows {
            t += "<tr>"
            for (c, v) in zip(shown, row) {
                switch c {
                case "path":
                    t += "<td><a class=\"sample\" href=\"\(HTML.escape(sampleLink(id.hex, v.text)))\">\(HTML.escape(v.text))</a></td>"
                case "duration_s": t += "<td class=num>\(String(format: "%.2f", Self.double(v)))</td>"
                case "confidence": t += "<td class=num>\(v == .null ? "" : String(format: "%.3f", Self.double(v)))</td>"
                case "transcript":
                    let s = v == .null ? "" : v.text
                    t += "<td class=transcript>\(HTML.escape(s.count > 120 ? String(s.prefix(117)) + "…" : s))</td>"
                case "sample_rate", "channels": t += "<td class=num>\(HTML.escape(v.text))</td>"
                default: t += "<td>\(v == .null ? "" : "<span class=pill>\(HTML.escape(HTML.text(v)))</span>")</td>"
                }
            }
            t += "</tr>"
        }
        body += t + "</table>" + pager
        body += "<h2>Charts</h2><div class=charts>\(summary.charts)</div>"
        return HTML.page(title: "snapshot \(rev)", revision: rev, body: body)
    }

    /// Charts over the samples matching `condition`: hours per value of each label field with few
    /// values, and the distribution of durations (HTML cards).
    /// - Throws: `DVSError` when a statement fails.
    func charts(labelColumns: [String], condition: String, _ id: CommitID) throws -> String {
        var charts = ""
        for field in labelColumns.prefix(4) {
            let c = Self.identifier(field)
            let r = try sql(
                "SELECT \(c), sum(duration_s) / 3600.0, count(*) FROM sample WHERE \(condition) AND \(c) IS NOT NULL GROUP BY \(c) ORDER BY 2 DESC LIMIT 13",
                id)
            // A field whose values each name one sample (an id, a transcript) says nothing as bars.
            guard !r.rows.isEmpty, r.rows.count <= 12, r.rows.contains(where: { Self.int($0[2]) > 1 }) else { continue }
            charts += "<div class=card><b>Hours per \(HTML.escape(field))</b>"
            charts += Charts.bars(r.rows.map { (HTML.text($0[0]), Self.double($0[1])) }, title: "hours per \(field)") {
                HTML.hours($0, precise: true)
            }
            charts += "</div>"
        }
        let bins = 24
        let histogram = try sql(
            "WITH m AS (SELECT max(duration_s) AS top FROM sample WHERE \(condition)) SELECT min(\(bins - 1), CAST(duration_s / m.top * \(bins) AS INTEGER)), count(*), m.top FROM sample, m WHERE \(condition) AND m.top > 0 GROUP BY 1",
            id)
        var counts = [Int](repeating: 0, count: bins)
        var top = 0.0
        for r in histogram.rows {
            counts[max(0, min(bins - 1, Self.int(r[0])))] = Self.int(r[1])
            top = Self.double(r[2])
        }
        charts += "<div class=card><b>Duration distribution</b>" + Charts.histogram(counts: counts, top: top, title: "durations") + "</div>"
        return charts
    }

    static func double(_ v: LabelValue) -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s): return Double(s) ?? 0
        case .bool(let b): return b ? 1 : 0
        case .null: return 0
        }
    }

    static func int(_ v: LabelValue) -> Int { Int(double(v)) }
}
