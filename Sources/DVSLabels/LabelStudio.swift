import DVSCore
import Foundation

/// Label Studio JSON exports (a JSON array of tasks with `data` and `annotations`), following
/// HumanSignal/label-studio `docs/source/guide/export.md`.
struct LabelStudioExport {
    let ctx: TableContext
    let index: TreeIndex
    var findings: [LabelFinding] = []
    var samples = Set<RepoPath>()
    /// First task id per sample.
    private var taskOf: [RepoPath: Int64] = [:]

    init(ctx: TableContext, index: TreeIndex) {
        self.ctx = ctx
        self.index = index
    }

    /// Whether a parsed document is an export: an array of objects, the first with `data` and `annotations`.
    static func isExport(_ value: JSONValue) -> Bool {
        guard let tasks = value.array, let first = tasks.first?.object else { return false }
        return first["data"]?.object != nil && first["annotations"]?.array != nil
    }

    /// Joins every task to its sample and adds its labels.
    mutating func read(_ tasks: [JSONValue], bytes: [UInt8], into acc: inout Accumulator) {
        let lines = Self.taskLines(bytes)
        for (i, task) in tasks.enumerated() {
            guard let task = task.object else { continue }
            readTask(task, line: i < lines.count ? lines[i] : nil, into: &acc)
        }
    }

    private mutating func report(_ s: LabelFinding.Severity, _ code: String, _ line: Int?, _ message: String, hint: String? = nil) {
        findings.append(ctx.finding(s, code, line: line, message, hint: hint))
    }

    private mutating func readTask(_ task: [String: JSONValue], line: Int?, into acc: inout Accumulator) {
        let id = task["id"]?.int ?? -1
        let data = task["data"]?.object ?? [:]
        guard let url = data.keys.sorted().lazy.compactMap({ data[$0]?.string }).first(where: { hasAudioExtension(Self.lastComponent($0)) })
        else {
            report(.error, "missing-file", line, "task \(id) has no audio URL in data", hint: "export tasks with their audio")
            return
        }
        guard let sample = resolve(url, task: id, line: line) else { return }
        if let first = taskOf[sample.path] {
            report(
                .warning, "duplicate-sample", line,
                "task \(id) labels \(sample.path), which task \(first) already labels; kept task \(first)'s labels",
                hint: "delete one of the tasks in Label Studio")
            return
        }
        taskOf[sample.path] = id
        samples.insert(sample.path)
        let usable = (task["annotations"]?.array ?? []).compactMap(\.object).filter {
            $0["was_cancelled"] != .bool(true) && !($0["result"]?.array ?? []).isEmpty
        }
        guard let chosen = usable.max(by: { Self.order($0) < Self.order($1) }) else {
            report(
                .warning, "no-annotation", line, "task \(id) (\(sample.path)) has no annotation that is neither cancelled nor empty",
                hint: "annotate the task or drop it from the export")
            return
        }
        checkAgreement(usable, chosen: chosen, task: id, line: line)
        let (fields, segments) = labels(of: chosen, task: id)
        checkRegions(chosen, sample: sample, task: id, line: line)
        acc.add(fields, to: sample.path, from: ctx.file, line: line, findings: &findings)
        for s in segments { acc.add(s, to: sample.path) }
    }

    /// Sort key: newest `updated_at`, then highest `id`.
    static func order(_ a: [String: JSONValue]) -> (String, Int64) { (a["updated_at"]?.string ?? "", a["id"]?.int ?? 0) }

    /// The sample a task URL names.
    private mutating func resolve(_ url: String, task id: Int64, line: Int?) -> LabelTreeFile? {
        if let range = url.range(of: "?d=") {
            let rel = (url[range.upperBound...].removingPercentEncoding ?? String(url[range.upperBound...]))
                .precomposedStringWithCanonicalMapping
            return resolvePath(rel, task: id, line: line)
        }
        let isRemote = ["http://", "https://", "s3://", "gs://"].contains { url.lowercased().hasPrefix($0) }
        if url.hasPrefix("/data/upload/") || isRemote {
            var name = Self.lastComponent(url)
            if !isRemote, let dash = name.firstIndex(of: "-"), name.distance(from: name.startIndex, to: dash) == 8,
                name[..<dash].allSatisfy(\.isHexDigit)
            {
                name = String(name[name.index(after: dash)...])
            }
            return byName(name, url: url, task: id, line: line)
        }
        return resolvePath((url.removingPercentEncoding ?? url).precomposedStringWithCanonicalMapping, task: id, line: line)
    }

    private mutating func resolvePath(_ rel: String, task id: Int64, line: Int?) -> LabelTreeFile? {
        let candidates = [joinPath(nil, rel), joinPath(ctx.folder, rel)].compactMap { $0 }
        switch index.resolve(candidates) {
        case .sample(let f, _): return f
        case .notAudio(let p): report(.warning, "not-audio", line, "task \(id): \(p) exists but is not audio")
        case .normalization(let p):
            report(
                .error, "unicode-normalization", line,
                "task \(id): \(JSONValue.quote(rel)) names \(p), which differs only in Unicode normalization",
                hint: "rename the file to NFC")
        case .missing:
            report(.error, "missing-file", line, "task \(id): \(JSONValue.quote(rel)) not found", hint: "add the audio or delete the task")
        }
        return nil
    }

    /// Finds the unique sample with file name `name`.
    private mutating func byName(_ name: String, url: String, task id: Int64, line: Int?) -> LabelTreeFile? {
        let matches = index.samplesByName[nfcBytes(name)] ?? index.samplesByName[Array(name.utf8)] ?? []
        guard matches.count == 1, let file = index.files[matches[0]] else {
            let code = matches.isEmpty ? "missing-file" : "ambiguous-mapping"
            report(
                .error, code, line,
                "task \(id): \(JSONValue.quote(url)) matches \(matches.isEmpty ? "no sample" : "\(matches.count) samples") named \(JSONValue.quote(name))",
                hint: "serve the audio from local storage (/data/local-files/?d=…) so the export names its path")
            return nil
        }
        report(
            .warning, "ambiguous-mapping", line,
            "task \(id): \(JSONValue.quote(url)) mapped to \(file.path) by file name only after stripping Label Studio's upload prefix",
            hint: "serve the audio from local storage (/data/local-files/?d=…) so the export names its path")
        return file
    }

    /// Warns when usable annotations give different labels.
    private mutating func checkAgreement(_ usable: [[String: JSONValue]], chosen: [String: JSONValue], task id: Int64, line: Int?) {
        guard usable.count > 1 else { return }
        let kept = labels(of: chosen, task: id).fields.filter { !["annotator", "annotation_id"].contains($0.name) }
        var differing = Set<String>()
        for a in usable {
            let other = labels(of: a, task: id).fields.filter { !["annotator", "annotation_id"].contains($0.name) }
            differing.formUnion(differingFields(kept, other))
        }
        guard !differing.isEmpty else { return }
        let ids = usable.compactMap { $0["id"]?.int }.sorted().map(String.init).joined(separator: ", ")
        report(
            .warning, "annotators-disagree", line,
            "task \(id): annotations \(ids) disagree on \(differing.sorted().joined(separator: ", ")); kept annotation \(chosen["id"]?.int ?? 0) (newest)",
            hint: "review the task and keep one annotation")
    }

    /// Whole-file fields and segments of one annotation.
    func labels(of annotation: [String: JSONValue], task id: Int64) -> (fields: [LabelField], segments: [LabelSegment]) {
        let results = (annotation["result"]?.array ?? []).compactMap(\.object)
        var fields: [String: LabelValue] = ["ls_task": .int(id)]
        if let a = annotation["completed_by"] { fields["annotator"] = a == .null ? .null : .string(a.string ?? a.jsonText) }
        if let a = annotation["id"]?.int { fields["annotation_id"] = .int(a) }
        var regions: [(id: String, segment: LabelSegment)] = []
        var texts: [String: [(from: String, text: String)]] = [:]
        var regionValues: [String: Set<String>] = [:]
        for r in results {
            let from = r["from_name"]?.string ?? "label"
            let value = r["value"]?.object ?? [:]
            switch r["type"]?.string {
            case "choices":
                let c = (value["choices"]?.array ?? []).compactMap(\.string)
                fields[from] = c.count == 1 ? .string(c[0]) : .string(JSONValue.array(c.map(JSONValue.string)).jsonText)
            case "labels":
                let l = (value["labels"]?.array ?? []).compactMap(\.string)
                let text = l.count == 1 ? l[0] : JSONValue.array(l.map(JSONValue.string)).jsonText
                regionValues[from, default: []].insert(text)
                regions.append(
                    (
                        r["id"]?.string ?? "",
                        LabelSegment(
                            start: value["start"]?.number ?? 0, end: value["end"]?.number ?? 0,
                            channel: value["channel"]?.int.flatMap { (0...65_535).contains($0) ? Int($0) : nil }, source: ctx.file,
                            labels: [LabelField(from, .string(text))])
                    ))
            case "textarea":
                let t = (value["text"]?.array ?? []).compactMap(\.string)
                texts[r["id"]?.string ?? "", default: []].append((from, t.joined(separator: "\n")))
            default: continue
            }
        }
        var allTexts: [String: [String]] = [:]
        for i in regions.indices {
            for (from, text) in texts[regions[i].id] ?? [] {
                regions[i].segment.labels.append(LabelField(from, .string(text)))
                allTexts[from, default: []].append(text)
            }
            regions[i].segment.labels.sort { $0.name < $1.name }
        }
        for (from, values) in regionValues where values.count == 1 { fields[from] = .string(values.first!) }
        for (from, t) in allTexts { fields[from] = .string(t.joined(separator: " ")) }
        return (fields.map { LabelField($0.key, $0.value) }.sorted { $0.name < $1.name }, regions.map(\.segment))
    }

    /// Warns about regions that end after the audio (`original_length`, or the decoded duration + tolerance).
    private mutating func checkRegions(_ annotation: [String: JSONValue], sample: LabelTreeFile, task id: Int64, line: Int?) {
        let duration = sample.audio?.duration ?? .infinity
        for r in (annotation["result"]?.array ?? []).compactMap(\.object) where r["type"]?.string == "labels" {
            guard let end = r["value"]?.object?["end"]?.number else { continue }
            let original = r["original_length"]?.number
            if end > duration + ctx.config.durationTolerance || original.map({ end > $0 + 1e-9 }) == true {
                report(
                    .warning, "region-beyond-audio", line,
                    "task \(id): region \(r["id"]?.string ?? "?") of \(sample.path) ends at \(end) s, after the audio (\(String(format: "%.3f", min(duration, original ?? duration))) s)",
                    hint: "move the region's end inside the audio in Label Studio")
            }
        }
    }

    /// The last path component of a URL, query removed, percent-decoded and NFC.
    static func lastComponent(_ url: String) -> String {
        var s = Substring(url)
        if let d = s.range(of: "?d=") { s = s[d.upperBound...] } else if let q = s.firstIndex(of: "?") { s = s[..<q] }
        let last = s.split(separator: "/").last.map(String.init) ?? ""
        return (last.removingPercentEncoding ?? last).precomposedStringWithCanonicalMapping
    }

    /// The 1-based line of each task's own `"id"` key (depth 2 of the top-level array), in task order.
    static func taskLines(_ bytes: [UInt8]) -> [Int] {
        var lines: [Int] = []
        var depth = 0
        var line = 1
        var i = 0
        var taskHasID = false
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case 0x0A: line += 1
            case 0x7B, 0x5B:
                depth += 1
                if depth == 2 && b == 0x7B { taskHasID = false }
            case 0x7D, 0x5D:
                if depth == 2 && b == 0x7D && !taskHasID { lines.append(line) }
                depth -= 1
            case 0x22:
                let start = i + 1
                i += 1
                while i < bytes.count && bytes[i] != 0x22 {
                    if bytes[i] == 0x5C { i += 1 }
                    if i < bytes.count && bytes[i] == 0x0A { line += 1 }
                    i += 1
                }
                if depth == 2 && !taskHasID && bytes[start..<min(i, bytes.count)].elementsEqual("id".utf8) && nextIsColon(bytes, i + 1) {
                    lines.append(line)
                    taskHasID = true
                }
            default: break
            }
            i += 1
        }
        return lines
    }

    static func nextIsColon(_ bytes: [UInt8], _ from: Int) -> Bool {
        var j = from
        while j < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[j]) { j += 1 }
        return j < bytes.count && bytes[j] == 0x3A
    }
}
