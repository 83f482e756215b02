import DVS
import DVSCore
import DVSLearn
import Foundation

extension Site {
    /// `/diff?a=OLD&b=NEW` (default: HEAD~1 and HEAD): samples added, removed, modified (with
    /// players for both versions), renamed, relabeled (`field: old → new`), transcripts changed,
    /// label shifts.
    func diffPage(_ q: [String: String]) throws -> String {
        let (bRev, b) = try resolve(q["b"])
        let aRev: String
        let a: CommitID
        if let given = q["a"], !given.isEmpty {
            (aRev, a) = try resolve(given)
        } else {
            guard let p = try repository.commit(b).parents.first else {
                throw ServeError(400, "\(bRev) has no parent to compare with", hint: "name both revisions: /diff?a=OLD&b=NEW")
            }
            (aRev, a) = (p.hex, p)
        }
        let d = try repository.diff(a, b)
        var body = """
            <h1>Diff</h1><form class="sql" method="get" action="/diff">
            <input type="text" name="a" value="\(HTML.escape(aRev))" aria-label="old revision"> → <input type="text" name="b" value="\(HTML.escape(bRev))" aria-label="new revision">
            <button type="submit">Compare</button></form>
            <p class=muted><span class=mono>\(a.short)</span> → <span class=mono>\(b.short)</span></p>
            """
        let relabeled = d.relabeled.filter { !$0.fields.isEmpty }
        let transcripts = d.relabeled.filter { $0.transcript != nil }
        body +=
            "<p id=\"summary\"><span class=added>\(d.added.count) added (+\(HTML.hours(d.hoursAdded, precise: true)))</span> · <span class=removed>\(d.removed.count) removed (−\(HTML.hours(d.hoursRemoved, precise: true)))</span> · <span class=modified>\(d.modified.count) modified</span> · \(d.renamed.count) renamed · \(relabeled.count) relabeled · \(counted(transcripts.count, "transcript")) changed · \(counted(d.files.count, "other file"))</p>"
        if d.isEmpty { body += "<p>no changes</p>" }
        func sampleCell(_ rev: CommitID, _ e: ManifestEntry) -> String {
            "<a href=\"\(HTML.escape(sampleLink(rev.hex, e.path.string)))\">\(HTML.escape(e.path.string))</a>"
        }
        func player(_ rev: CommitID, _ e: ManifestEntry) -> String {
            guard let f = e.audio else { return "" }
            let url = Query.url("/audio", [("rev", rev.hex), ("path", e.path.string), ("as", AudioWeb.browserPlays(f) ? nil : "wav")])
            return "<audio controls preload=\"none\" src=\"\(HTML.escape(url))\"></audio>"
        }
        if !relabeled.isEmpty {
            body += "<h2>Relabeled</h2><table id=\"relabeled\"><tr><th>sample</th><th>field: old → new</th></tr>"
            for r in relabeled {
                let fields = r.fields.map {
                    "<div><b>\(HTML.escape($0.name))</b>: <span class=old>\(HTML.escape(HTML.text($0.old)))</span> → <span class=new>\(HTML.escape(HTML.text($0.new)))</span></div>"
                }
                body +=
                    "<tr><td><a href=\"\(HTML.escape(sampleLink(b.hex, r.path.string)))\">\(HTML.escape(r.path.string))</a></td><td>\(fields.joined())</td></tr>"
            }
            body += "</table>"
        }
        if !transcripts.isEmpty {
            body += "<h2>Transcripts changed</h2><table id=\"transcripts\"><tr><th>sample</th><th>old → new</th></tr>"
            for r in transcripts {
                body +=
                    "<tr><td>\(HTML.escape(r.path.string))</td><td><span class=old>\(HTML.escape(r.transcript?.old ?? "∅"))</span> → <span class=new>\(HTML.escape(r.transcript?.new ?? "∅"))</span></td></tr>"
            }
            body += "</table>"
        }
        if !d.modified.isEmpty {
            body += "<h2>Audio modified</h2><table id=\"modified\"><tr><th>sample</th><th>before</th><th>after</th></tr>"
            for m in d.modified.prefix(200) {
                body +=
                    "<tr><td>\(sampleCell(b, m.new))<div class=muted>\(HTML.seconds(m.old.audio?.duration ?? 0)) → \(HTML.seconds(m.new.audio?.duration ?? 0))</div></td>"
                body += "<td>\(player(a, m.old))</td><td>\(player(b, m.new))</td></tr>"
            }
            body += "</table>"
        }
        func list(_ title: String, _ id: String, _ rev: CommitID, _ entries: [ManifestEntry], _ cls: String) -> String {
            guard !entries.isEmpty else { return "" }
            var t = "<h2>\(title)</h2><table id=\"\(id)\"><tr><th>sample</th><th class=num>duration</th><th>listen</th></tr>"
            for e in entries.prefix(500) {
                t +=
                    "<tr><td class=\(cls)>\(sampleCell(rev, e))</td><td class=num>\(HTML.seconds(e.audio?.duration ?? 0))</td><td>\(player(rev, e))</td></tr>"
            }
            if entries.count > 500 { t += "<tr><td colspan=3 class=muted>… and \(entries.count - 500) more</td></tr>" }
            return t + "</table>"
        }
        body += list("Added", "added", b, d.added, "added")
        body += list("Removed", "removed", a, d.removed, "removed")
        if !d.renamed.isEmpty {
            body += "<h2>Renamed</h2><table id=\"renamed\"><tr><th>from</th><th>to</th></tr>"
            for r in d.renamed { body += "<tr><td>\(HTML.escape(r.old.path.string))</td><td>\(sampleCell(b, r.new))</td></tr>" }
            body += "</table>"
        }
        if !d.shifts.isEmpty {
            body +=
                "<h2>Label shifts</h2><table><tr><th>field=value</th><th class=num>before</th><th class=num>after</th><th class=num>hours</th></tr>"
            for s in d.shifts {
                body +=
                    "<tr><td>\(HTML.escape(s.field))=\(HTML.escape(s.value))</td><td class=num>\(s.before)</td><td class=num>\(s.after)</td>"
                body += "<td class=num>\(s.hoursDelta >= 0 ? "+" : "−")\(HTML.hours(abs(s.hoursDelta), precise: true))</td></tr>"
            }
            body += "</table>"
        }
        if !d.files.isEmpty {
            body +=
                "<h2>Other files</h2><ul>"
                + d.files.map { "<li class=mono>\(HTML.escape($0.kind.rawValue)) \(HTML.escape($0.path.string))</li>" }.joined() + "</ul>"
        }
        return HTML.page(title: "diff", revision: bRev, body: body)
    }

    /// `/models`: every model record (snapshot, cohort, code, parameters, metrics of each eval per
    /// slice) and the comparison chart of accuracy against real-time factor.
    func modelsPage() throws -> String {
        let records = try repository.modelRecords()
        var body = "<h1>Models</h1>"
        if records.isEmpty {
            return HTML.page(
                title: "models", revision: nil,
                body: body + "<p class=muted>No models yet: 'dvs model add PATH --rev REV' or 'dvs train' registers one.</p>")
        }
        let comparison = try repository.compareModels([], on: nil, sliceBy: nil)
        let plot = comparison.plot(title: "accuracy against real-time factor")
        if !plot.points.isEmpty {
            body += "<div class=card id=\"comparison\">" + plot.svg() + "</div>"
        } else {
            body += "<p class=muted>No comparison chart: no eval record has both accuracy and a real-time factor yet.</p>"
        }
        for (id, r) in records.reversed() {
            body +=
                "<div class=card id=\"\(id.short)\"><h2 style=\"margin-top:0\">\(HTML.escape(r.name)) <span class=\"muted mono\">\(id.short)</span></h2><dl class=kv>"
            var facts: [(String, String)] = [
                ("snapshot", "\(r.revision) @ \(r.snapshot.short)"), ("samples", "\(r.sampleCount), \(HTML.hours(r.hours))"),
                ("artifact", "\(r.artifactName) (\(r.artifactBytes) bytes, sha256 \(r.artifactSHA256.prefix(12)))"),
                ("code", r.code.summary), ("registered by", r.registeredBy), ("dvs", r.dvsVersion),
            ]
            if let p = r.cohortPredicate { facts.append(("cohort", p)) }
            if let t = r.task { facts.append(("task", t)) }
            if let f = r.labelField { facts.append(("label field", f)) }
            if let n = r.parameterCount { facts.append(("parameters (count)", "\(n)")) }
            if !r.parameters.isEmpty {
                facts.append(
                    ("parameters", r.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))
            }
            if !r.message.isEmpty { facts.append(("message", r.message)) }
            for (k, v) in facts { body += "<dt>\(HTML.escape(k))</dt><dd>\(HTML.escape(v))</dd>" }
            body += "</dl><p><a href=\"\(HTML.escape(Query.url("/snapshot", [("rev", r.snapshot.hex)])))\">training snapshot</a></p>"
            let evals = try repository.catalog.evals(of: id)
            for e in evals.suffix(5) {
                let er = try repository.evalRecord(e)
                body +=
                    "<div><b>eval</b> <span class=mono>\(e.short)</span> on \(HTML.escape(er.revision))@\(er.snapshot.short), \(er.sampleCount) samples"
                if er.leakedSamples > 0 { body += " · <span class=removed>\(er.leakedSamples) also in training</span>" }
                body +=
                    "</div><table><tr><th>slice</th>" + er.metrics.keys.sorted().map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>"
                let rows = [("all", er.metrics)] + er.slices.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                let keys = er.metrics.keys.sorted()
                for (name, m) in rows {
                    body += "<tr><td>\(HTML.escape(name))</td>" + keys.map { "<td class=num>\(Self.show(m[$0]))</td>" }.joined() + "</tr>"
                }
                body += "</table>"
            }
            body += "</div>"
        }
        return HTML.page(title: "models", revision: nil, body: body)
    }

    /// A record value as short, escaped text: numbers to 4 significant digits; a list or an
    /// object of at most eight plain values written out (`[0.91, 0.87]`, `{de: 0.9, en: 0.8}`,
    /// keys sorted); a longer or nested one as its size (`12 values`, `3 fields`).
    static func show(_ v: RecordValue?) -> String {
        func plain(_ v: RecordValue) -> Bool {
            switch v {
            case .array, .object: false
            default: true
            }
        }
        switch v {
        case nil, .null?: return ""
        case .bool(let b)?: return b ? "true" : "false"
        case .number(let d)?: return String(format: "%.4g", d)
        case .string(let s)?: return HTML.escape(s)
        case .array(let a)?:
            guard a.count <= 8, a.allSatisfy(plain) else { return a.count == 1 ? "1 value" : "\(a.count) values" }
            return "[" + a.map { show($0) }.joined(separator: ", ") + "]"
        case .object(let o)?:
            guard o.count <= 8, o.values.allSatisfy(plain) else { return o.count == 1 ? "1 field" : "\(o.count) fields" }
            return "{" + o.keys.sorted().map { "\(HTML.escape($0)): \(show(o[$0]))" }.joined(separator: ", ") + "}"
        }
    }
}
