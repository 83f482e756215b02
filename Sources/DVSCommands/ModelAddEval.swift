import ArgumentParser
import DVS
import DVSCore
import DVSStorage
import Foundation

struct ModelAddEval: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-eval",
        abstract: "Record metrics a model's own code computed on a revision, as an eval record ('dvs models --compare' shows them).",
        discussion: """
            The metrics file is one JSON object; only "metrics" is required:
              {"samples": 120,
               "metrics": {"accuracy": 0.91, "macro_f1": 0.88,
                           "real_time_factor": 0.05, "samples_per_second": 40},
               "slices": {"cohort=telephony": {"samples": 40, "accuracy": 0.85}}}
            Metric keys as 'dvs eval' records them: accuracy, macro_f1 (0…1), wer, cer, mae, rmse (≥ 0), real_time_factor (processing seconds per second of audio) and samples_per_second (> 0); other keys are kept as given. "samples" defaults to the revision's sample count; a slice is named FIELD=VALUE, as 'dvs eval --by FIELD' names them, and its "samples" give the accuracy its 95% Wilson interval in the comparison.

            Whether the evaluation set overlapped the training set is computed from the lineage, not taken from the file: the samples of --rev whose audio (SHA-256) is in the model's training snapshot.

            Examples:
              dvs model add-eval es-v3 --rev main --metrics runs/42/eval.json
              dvs models --compare --rev main --by cohort
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The model: name, record id or SHA-256 prefix, or artifact path.") var model: String
    @Option(help: "The revision the metrics were computed on.") var rev: String
    @Option(help: ArgumentHelp("The metrics file.", valueName: "FILE.json")) var metrics: String
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        let external = try Self.read(metrics)
        let hits = try repo.resolveModels(model)
        // Records of one artifact are one model (the newest record is taken); several artifacts are not.
        guard Set(hits.map(\.record.artifactSHA256)).count == 1, let hit = hits.last else {
            throw DVSError(
                .usage, "model '\(model)' is ambiguous: \(hits.count) records with different artifacts",
                details: hits.map { "\($0.id.short)  \($0.record.name)  \($0.record.artifactSHA256.prefix(12))" },
                next: .longerRecordIDOrPath)
        }
        let (id, record) = try repo.recordExternalEval(model: hit.id, revision: Revision(rev), metrics: external)
        if json { try Output.jsonObject(LineageOutput.object(record, id: id)) } else { Output.out(Self.recorded(id, record)) }
    }

    /// Reads and checks a metrics file.
    /// - Throws: `DVSError.badInput` naming the file when it cannot be read or is not valid.
    static func read(_ path: String) throws -> ExternalMetrics {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path) } catch {
            throw DVSError(
                .badInput, "cannot read the metrics file '\(path)': \((error as? StorageError)?.message ?? "\(error)")",
                hint: "check the path")
        }
        return try ExternalMetrics.parse(bytes, source: path)
    }

    /// `Recorded eval <id> of model <id> on main (<commit>): 120 samples, 3 slices; overlap with training: none`.
    static func recorded(_ id: EvalID, _ r: EvalRecord) -> String {
        let slices = r.slices.isEmpty ? "" : ", \(r.slices.count) slice\(r.slices.count == 1 ? "" : "s")"
        let overlap = r.leakedSamples == 0 ? "none" : "\(r.leakedSamples) sample\(r.leakedSamples == 1 ? "" : "s") (same audio SHA-256)"
        return
            "Recorded eval \(id.short) of model \(r.model.short) on \(r.revision) (\(r.snapshot.short)): \(Output.count(r.sampleCount, "sample"))\(slices); overlap with the training set: \(overlap)"
    }
}
