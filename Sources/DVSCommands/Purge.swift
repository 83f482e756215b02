import ArgumentParser
import DVS
import DVSCore
import Foundation

struct Purge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge", abstract: "Erase samples (a person's voice, labels, transcripts, words) from all history and every cache.",
        discussion: """
            dvs purge --where "speaker = 'spk_0042'"   dry run: show what would be erased
            dvs purge --where "…" --yes                 erase it
            dvs purge calls/maria_lopez --yes           erase the samples at or under paths
            dvs purge --list                            the purges of this repository
            dvs purge --verify                          scan .dvs for every erased blob id
            dvs purge --verify --remote origin          scan every key of a remote for them

            The condition is SQL over the sample table, as in 'dvs query', checked in every \
            commit that any branch, tag, cohort, reflog entry or model record reaches. The \
            matching audio (the same bytes at any path), its label rows, transcripts and \
            words are removed from every commit: history is rewritten (authors, times and \
            messages kept; each rewritten commit that lost samples says so), packs are \
            rewritten without the audio, old objects, caches and stale catalog pages are \
            deleted, and tracked files in the working tree follow HEAD. A record (when, who, \
            the rule, counts, erased blob ids, old → new commit ids; no paths or labels) is \
            kept in .dvs/purges; old commit ids keep resolving through it, and 'dvs audit' \
            of a model says how many of its training samples were erased.

            Purges travel with the data: 'dvs push' uploads the record, moves every remote \
            branch and tag the purge rewrote, then deletes the erased audio, old label \
            tables, transcripts and commits from the remote (a push interrupted there is \
            finished by the next). A push is refused while the remote holds a purge this \
            repository lacks, and 'dvs fetch' (also pull and clone) applies such a purge here.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .customLong("where"), help: ArgumentHelp("SQL condition over the sample table.", valueName: "condition"))
    var predicate: String?
    @Argument(help: "Tree paths (files or folders) whose samples to erase.") var paths: [String] = []
    @Flag(help: "Erase; without it, only show what would be erased.") var yes = false
    @Flag(help: "List the purges recorded in this repository.") var list = false
    @Flag(help: "Scan every file of the local store for the blob ids purges erased; exit 1 if one is found.") var verify = false
    @Option(help: ArgumentHelp("With --verify: scan every key of this remote instead of .dvs.", valueName: "remote"))
    var remote: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        if remote != nil && !verify { throw DVSError(.usage, "--remote goes with --verify (dvs purge --verify --remote NAME)") }
        if verify {
            let v =
                try remote.map { try repo.verifyRemotePurges(remote: $0, progress: json ? nil : Output.progress()) }
                ?? repo.verifyPurges(progress: json ? nil : Output.progress())
            if json {
                try Output.json(v)
            } else {
                let (unit, place) = remote.map { ("key", "remote '\($0)'") } ?? ("file", ".dvs")
                Output.out(
                    "checked \(Output.count(v.files, unit)) (\(Output.bytes(v.bytes))) of \(place) for \(Output.count(v.ids, "erased blob id")) of \(Output.count(v.purges, "purge"))"
                )
                for f in v.found { Output.out("  found in \(f)") }
                for i in v.indexed { Output.out("  still indexed: \(i)") }
                Output.out(v.found.isEmpty && v.indexed.isEmpty ? "clean: no erased id is left" : "NOT CLEAN")
                if let remote, !v.found.isEmpty {
                    Output.err("hint: 'dvs push \(remote) --all --tags' from a repository that has the purges erases what is left there")
                }
            }
            if !v.found.isEmpty || !v.indexed.isEmpty { throw ExitCode(1) }
            return
        }
        if list {
            let records = try repo.purges()
            if json {
                try Output.json(records)
                return
            }
            if records.isEmpty { Output.out("no purges") }
            for r in records {
                let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(r.time)))
                Output.out(
                    "\(r.id.short) \(when) \(r.who): \(r.rule) — \(Output.count(r.samples, "sample")), \(Output.hours(r.hours)), \(Output.count(r.commits.count, "commit")) rewritten\(r.models.isEmpty ? "" : "; models to retrain: \(r.models.joined(separator: ", "))")"
                )
            }
            return
        }
        let rule = PurgeRule(predicate: predicate, paths: paths)
        guard predicate != nil || !paths.isEmpty else {
            throw DVSError(.usage, "what to purge? dvs purge --where \"CONDITION\" or dvs purge PATH… (or --list)")
        }
        let plan = try repo.planPurge(rule)
        if !yes || plan.samples == 0 {
            if json {
                try Output.jsonObject(
                    [
                        "status": "plan", "rule": rule.description, "samples": plan.samples, "hours": plan.hours, "bytes": plan.bytes,
                        "commits_holding": plan.commitsHolding, "commits_rewritten": plan.commitsRewritten,
                        "refs": plan.refs.map(\.fullName),
                        "models": plan.models.map { ["name": $0.name, "id": $0.id.hex, "erased": $0.erased] },
                    ] as [String: Any])
                return
            }
            describe(plan)
            if plan.samples > 0 {
                Output.out("Nothing was changed; run again with --yes to erase it.")
                let dirty = (try? repo.status().changes.filter { $0.kind != .added }.count) ?? 0
                if dirty > 0 {
                    Output.err(
                        "note: the working tree has \(Output.count(dirty, "uncommitted change")); --yes refuses until they are committed or discarded"
                    )
                }
            }
            return
        }
        if !json { describe(plan) }
        guard let r = try repo.purge(rule, progress: json ? nil : Output.progress()) else {
            Output.out("Nothing matches \(rule); nothing was changed.")
            return
        }
        if json {
            try Output.json(r)
            return
        }
        Output.out(
            "Purge \(r.id.short): erased \(Output.count(r.samples, "sample")) (\(Output.hours(r.hours))), rewrote \(Output.count(r.commits.count, "commit"))"
        )
        if let l = r.lineage, !l.isEmpty {
            Output.out(
                "Rewrote \(Output.count(l.count, "model/eval record")) without the label values only erased samples carried (their old ids still resolve)"
            )
        }
        if let a = r.artifacts, !a.isEmpty {
            Output.out(
                "Deleted the stored artifact of \(Output.count(a.count, "model")) trained on them whose file named erased samples (their records keep its SHA-256): retrain them"
            )
        }
        let remotes = (try? repo.remotes().map(\.name)) ?? []
        if !remotes.isEmpty {
            Output.err(
                "note: \(remotes.count == 1 ? "remote" : "remotes") \(remotes.map { "'\($0)'" }.joined(separator: ", ")) may still hold the erased samples: 'dvs push --all --tags' to \(remotes.count == 1 ? "it" : "each") erases them there too"
            )
        }
    }

    /// The dry run's summary.
    private func describe(_ plan: PurgePlan) {
        guard plan.samples > 0 else {
            Output.out("No sample matches \(plan.rule).")
            return
        }
        Output.out(
            "\(plan.rule): \(Output.count(plan.samples, "sample")), \(Output.hours(plan.hours)) of audio (\(Output.bytes(plan.bytes))), in \(Output.count(plan.commitsHolding, "commit")); \(Output.count(plan.commitsRewritten, "commit")) will be rewritten"
        )
        if !plan.refs.isEmpty { Output.out("refs rewritten: \(plan.refs.map(\.fullName).joined(separator: ", "))") }
        // The model's snapshot holds them; it may have held some out ('dvs audit --samples' says
        // which it fitted on), so "trained on N of them" overstated it.
        for m in plan.models {
            Output.out("model \(m.name) (\(m.id.short)) was trained on a snapshot holding \(m.erased) of them: retrain it")
        }
    }
}
