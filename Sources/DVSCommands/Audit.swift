import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The lineage of a model, or every model that saw matching samples.",
        discussion: """
            dvs audit MODEL|PATH|SHA
              model → snapshot commit → branch or cohort predicate, code commit, samples,
              hours, label distribution, evals, and what changed in that data since
              (relabeled, removed, modified)
            dvs audit --samples "SQL"
              every model whose training snapshot included a sample matching the
              expression (the 'sample' table of dvs query), with counts:
              dvs audit --samples "speaker = 'spk042'"
            """)

    /// `arg` as a POSIX shell word: unchanged when it is plain, else in single quotes.
    static func shellQuoted(_ arg: String) -> String {
        if !arg.isEmpty,
            arg.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "-_./=:,@%+".unicodeScalars.contains($0) })
        {
            return arg
        }
        return "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "A model name, record id, artifact SHA-256 (prefix ≥ 4 hex) or artifact file.") var model: String?
    @Option(help: "An SQL expression over the sample table.") var samples: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        if let samples {
            guard model == nil else { throw DVSError(.usage, "give a model or --samples, not both") }
            let hits = try repo.auditSamples(samples)
            for m in try repo.modelsWithoutSnapshot() {
                Output.err(
                    "warning: model '\(m.name)' (\(m.id.short)) was not checked: its training snapshot \(m.snapshot.short) is not in this repository; fetch the branch it was trained on"
                )
            }
            if json {
                try Output.jsonObject(
                    hits.map { h -> [String: Any] in
                        var o: [String: Any] = [
                            "id": h.id.hex, "name": h.record.name, "snapshot": h.record.snapshot.hex, "revision": h.record.revision,
                            "matched_samples": h.matched, "matched_hours": (h.hours * 1e6).rounded() / 1e6,
                            "training_samples": h.record.sampleCount,
                        ]
                        if let t = h.trained {
                            o["matched_trained"] = t
                            o["matched_held_out"] = h.matched - t
                        }
                        return o
                    })
                return
            }
            if hits.isEmpty {
                Output.out("No model was trained on a snapshot with a sample where \(samples)")
                return
            }
            for h in hits {
                // Matches are counted over the training snapshot; the model may have used a subset (holdout).
                let snapshotSamples = try? repo.commit(h.record.snapshot).totals.sampleCount
                let of = snapshotSamples.map { " of its snapshot's \($0)" } ?? ""
                let split = h.trained.map { ": \($0) fitted on, \(h.matched - $0) held out" } ?? ""
                Output.out(
                    "\(h.id.short)  \(h.record.name)  \(Output.count(h.matched, "matching sample"))\(of) (\(Output.hours(h.hours)))\(split); trained on \(h.record.sampleCount)  \(h.record.revision)@\(h.record.snapshot.short)"
                )
            }
            return
        }
        guard let model else { throw DVSError(.usage, "audit what? name a model, or --samples \"SQL\"", hint: "dvs models lists models") }
        let audits = try repo.resolveModels(model).map { try repo.audit(model: $0.id) }
        if json {
            let list = audits.map { a -> [String: Any] in
                var o = LineageOutput.object(a.record, id: a.id)
                o["evals"] = a.evals.map { LineageOutput.object($0.record, id: $0.id) }
                var since: [String: Any] = [
                    "relabeled": a.relabeled.map { r -> [String: Any] in
                        [
                            "path": r.path.string,
                            "fields": r.fields.map {
                                ["name": $0.name, "old": $0.old.map(jsonValue) ?? NSNull(), "new": $0.new.map(jsonValue) ?? NSNull()]
                                    as [String: Any]
                            },
                        ]
                    }, "removed": a.removed.map(\.string), "modified": a.modified.map(\.string), "added": a.added,
                ]
                since["schema_changes"] = a.schemaChanges.map(Diff.jsonObject)
                since["branch"] = a.branch ?? NSNull()
                since["branch_head"] = a.branchHead?.hex ?? NSNull()
                if a.erasedSamples > 0 {
                    since["erased_samples"] = a.erasedSamples
                    since["erased_by"] = a.erasedBy.map(\.hex)
                }
                o["since"] = since
                return o
            }
            try Output.jsonObject(list.count == 1 ? list[0] : list)
            return
        }
        for (k, a) in audits.enumerated() {
            if k > 0 { Output.out("") }
            let r = a.record
            Output.out("model     \(r.name)  \(a.id.hex)")
            Output.out(
                "artifact  \(r.artifactName)  sha256 \(r.artifactSHA256)  \(Output.bytes(r.artifactBytes))\(a.artifactDeletedBy.map { "  (deleted by purge \($0.short): it named erased samples)" } ?? "")"
            )
            Output.out("snapshot  \(r.snapshot)  (\(r.revision))")
            if let p = r.cohortPredicate { Output.out("cohort    \(p)\(r.cohortSource.map { "  (cut from \($0.short))" } ?? "")") }
            Output.out("data      \(Output.count(r.sampleCount, "sample")), \(Output.hours(r.hours))")
            if a.erasedSamples > 0 {
                Output.out(
                    "erased    \(Output.count(a.erasedSamples, "sample")) of its training snapshot \(a.erasedSamples == 1 ? "was" : "were") erased by purge \(a.erasedBy.map(\.short).joined(separator: ", ")): retrain it"
                )
            }
            if let f = r.labelField {
                Output.out(
                    "labels    \(f): \(r.labelDistribution.isEmpty && a.erasedSamples > 0 ? "(none left: a purge erased every value)" : LineageOutput.distribution(r.labelDistribution))"
                )
            }
            if let t = r.task { Output.out("task      \(t)") }
            if !r.parameters.isEmpty {
                Output.out("params    " + r.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            }
            Output.out("code      \(r.code.summary)\(r.code.repository.map { "  in \($0)" } ?? "")")
            Output.out("command   \(r.commandLine.map(Self.shellQuoted).joined(separator: " "))")
            Output.out("when      \(LineageOutput.time(r.startTime)) → \(LineageOutput.time(r.endTime))  on \(r.host), dvs \(r.dvsVersion)")
            if !r.message.isEmpty { Output.out("message   \(r.message)") }
            if a.evals.isEmpty { Output.out("evals     none") }
            for (id, e) in a.evals {
                let metrics = e.metrics.sorted { $0.key < $1.key }.compactMap { kv -> String? in
                    if case .number(let d) = kv.value { return "\(kv.key) \(String(format: "%.4g", d))" }
                    return nil
                }.joined(separator: ", ")
                Output.out(
                    "eval      \(id.short)  on \(e.revision)@\(e.snapshot.short)  \(Output.count(e.sampleCount, "sample"))  \(metrics)\(e.leakedSamples > 0 ? "  (\(e.leakedSamples) leaked)" : "")"
                )
            }
            if let b = a.branch, let head = a.branchHead {
                if head == r.snapshot {
                    Output.out("since     branch \(b) is still at the training snapshot")
                } else {
                    Output.out(
                        "since     branch \(b) is now at \(head.short): \(a.relabeled.count) relabeled, \(a.removed.count) removed, \(a.modified.count) audio changed, \(a.added) added"
                            + Diff.schemaSummary(a.schemaChanges))
                    for c in a.schemaChanges { Output.out("  field     \(Diff.describe(c))") }
                    for rl in a.relabeled.prefix(20) {
                        Output.out(
                            "  relabeled \(rl.path): "
                                + rl.fields.map { "\($0.name): \($0.old?.text ?? "∅") → \($0.new?.text ?? "∅")" }.joined(separator: ", "))
                    }
                    if a.relabeled.count > 20 { Output.out("  … and \(a.relabeled.count - 20) more relabeled") }
                    for p in a.removed.prefix(20) { Output.out("  removed   \(p)") }
                    if a.removed.count > 20 { Output.out("  … and \(a.removed.count - 20) more removed") }
                    for p in a.modified.prefix(20) { Output.out("  modified  \(p)") }
                }
            } else {
                Output.out("since     '\(r.revision)' is not a branch; nothing to compare")
            }
        }
    }
}
