import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed in the dataset: samples added, removed, modified, renamed, relabeled; hours and label shifts.",
        discussion: """
            With no revision, compares HEAD with the working tree (labels as they
            would be committed now). With one, compares it with the working tree;
            with two, compares A with B. Relabels show 'field: old → new'. The
            summary shows hours added, removed and changed by modified samples,
            and, for label fields with at most 50 distinct values, how many
            samples carry each value before and after.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The older revision (default HEAD).") var old: String?
    @Argument(help: "The newer revision (default: the working tree).") var new: String?
    @Flag(help: "Print only the summary.") var stat = false
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        let d = try repo.diff(old.map { Revision($0) }, new.map { Revision($0) }, progress: json ? nil : Output.progress())
        if json {
            try Output.jsonObject(Self.jsonObject(d, stat: stat))
            return
        }
        Output.findings(d.findings)
        if !stat {
            for e in d.added { Output.out("added      \(e.path)  (\(Self.seconds(e)))") }
            for e in d.removed { Output.out("removed    \(e.path)  (\(Self.seconds(e)))") }
            for m in d.modified { Output.out("modified   \(m.new.path)  (audio changed, \(Self.seconds(m.old)) → \(Self.seconds(m.new)))") }
            for r in d.renamed { Output.out("renamed    \(r.old.path) → \(r.new.path)") }
            for r in d.relabeled {
                let fields = r.fields.map { "\($0.name): \(Self.show($0.old)) → \(Self.show($0.new))" }
                if !fields.isEmpty { Output.out("relabeled  \(r.path)  \(fields.joined(separator: "; "))") }
                if let t = r.transcript { Output.out("transcript \(r.path)  \(Self.quote(t.old)) → \(Self.quote(t.new))") }
            }
            for c in d.files { Output.out("file       \(c.label)\(c.path)") }
            for c in d.schemaChanges { Output.out("field      \(Self.describe(c))") }
        }
        if d.isEmpty {
            Output.out("no changes")
            return
        }
        let transcripts = d.relabeled.filter { $0.transcript != nil }.count
        let relabeled = d.relabeled.filter { !$0.fields.isEmpty }.count
        Output.out(
            "\(d.added.count) added (+\(Output.hours(d.hoursAdded))), \(d.removed.count) removed (−\(Output.hours(d.hoursRemoved))), \(d.modified.count) modified\(d.modified.isEmpty ? "" : " (\(d.hoursModified < 0 ? "−" : "+")\(Output.hours(abs(d.hoursModified))))"), \(d.renamed.count) renamed, \(relabeled) relabeled, \(Output.count(transcripts, "transcript")) changed, \(Output.count(d.files.count, "other file"))"
                + Self.schemaSummary(d.schemaChanges))
        for s in d.shifts {
            let sign = s.hoursDelta >= 0 ? "+" : "−"
            Output.out("  \(s.field)=\(s.value): \(s.before) → \(s.after) samples (\(sign)\(Output.hours(abs(s.hoursDelta))))")
        }
    }

    /// `+ notes (new field: 0 of 359 samples filled)` / `- notes (field dropped: it had 12 values in 359 samples)`.
    static func describe(_ c: FieldSchemaChange) -> String {
        switch c.kind {
        case .added: return "+ \(c.field)  (new field: \(c.filled) of \(Output.count(c.samples, "sample")) filled)"
        case .removed:
            return "- \(c.field)  (field dropped: it had \(Output.count(c.filled, "value")) in \(Output.count(c.samples, "sample")))"
        }
    }

    /// The summary line's tail for schema changes: empty without any.
    static func schemaSummary(_ changes: [FieldSchemaChange]) -> String {
        let added = changes.filter { $0.kind == .added }.count
        let removed = changes.count - added
        return (added > 0 ? ", \(Output.count(added, "field")) added" : "")
            + (removed > 0 ? ", \(Output.count(removed, "field")) dropped" : "")
    }

    /// A schema change as JSON.
    static func jsonObject(_ c: FieldSchemaChange) -> [String: Any] {
        ["field": c.field, "change": c.kind.rawValue, "samples": c.samples, "filled": c.filled]
    }

    static func seconds(_ e: ManifestEntry) -> String { String(format: "%.2f s", e.audio?.duration ?? 0) }
    static func show(_ v: LabelValue?) -> String {
        guard let v else { return "∅" }
        if case .string(let s) = v { return s.isEmpty ? "\"\"" : s }
        return v.text
    }
    static func quote(_ s: String?) -> String {
        guard let s else { return "∅" }
        let one = s.replacingOccurrences(of: "\n", with: "⏎")
        return "\"" + (one.count > 60 ? String(one.prefix(57)) + "…" : one) + "\""
    }

    static func jsonObject(_ d: DatasetDiff, stat: Bool) -> [String: Any] {
        func entry(_ e: ManifestEntry) -> [String: Any] {
            ["path": e.path.string, "sha256": e.blob.hex, "duration_s": e.audio?.duration ?? 0]
        }
        var o: [String: Any] = [
            "summary": [
                "added": d.added.count, "removed": d.removed.count, "modified": d.modified.count, "renamed": d.renamed.count,
                "relabeled": d.relabeled.filter { !$0.fields.isEmpty }.count,
                "transcripts_changed": d.relabeled.filter { $0.transcript != nil }.count,
                "other_files": d.files.count, "fields_added": d.schemaChanges.filter { $0.kind == .added }.count,
                "fields_dropped": d.schemaChanges.filter { $0.kind == .removed }.count,
                "hours_added": (d.hoursAdded * 1e6).rounded() / 1e6, "hours_removed": (d.hoursRemoved * 1e6).rounded() / 1e6,
                "hours_modified_net": (d.hoursModified * 1e6).rounded() / 1e6,
            ] as [String: Any],
            "label_shifts": d.shifts.map {
                [
                    "field": $0.field, "value": $0.value, "before": $0.before, "after": $0.after,
                    "hours_delta": ($0.hoursDelta * 1e6).rounded() / 1e6,
                ] as [String: Any]
            },
            "schema_changes": d.schemaChanges.map(jsonObject),
            "findings": d.findings.map {
                ["severity": $0.severity.rawValue, "code": $0.code, "file": $0.file, "line": $0.line ?? NSNull(), "message": $0.message]
                    as [String: Any]
            },
        ]
        if stat { return o }
        o["added"] = d.added.map(entry)
        o["removed"] = d.removed.map(entry)
        o["modified"] = d.modified.map { ["path": $0.new.path.string, "old_sha256": $0.old.blob.hex, "new_sha256": $0.new.blob.hex] }
        o["renamed"] = d.renamed.map { ["from": $0.old.path.string, "to": $0.new.path.string, "sha256": $0.new.blob.hex] }
        o["relabeled"] = d.relabeled.map { r -> [String: Any] in
            var x: [String: Any] = [
                "path": r.path.string,
                "fields": r.fields.map {
                    ["name": $0.name, "old": $0.old.map(jsonValue) ?? NSNull(), "new": $0.new.map(jsonValue) ?? NSNull()] as [String: Any]
                },
            ]
            if let t = r.transcript { x["transcript"] = ["old": t.old ?? NSNull(), "new": t.new ?? NSNull()] as [String: Any] }
            return x
        }
        o["files"] = d.files.map { ["path": $0.path.string, "change": $0.kind.rawValue] }
        return o
    }
}
