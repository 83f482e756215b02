import ArgumentParser
import DVS
import DVSCore
import Foundation

struct ModelAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a trained artifact as a model record linked to the snapshot it was trained on.",
        discussion: """
            The artifact's bytes are stored in the repository (so 'dvs audit PATH' finds the record by \
            SHA-256 and the file travels with push/clone); the record keeps the snapshot commit, the \
            cohort predicate when REV is a cohort branch, samples, hours, the label distribution \
            (with --label), the code commit of the git repository around the current directory \
            (HEAD, branch, dirty), the command line, times and host.
              dvs model add runs/42/model.pt --rev cohort/es --name es-v3 \\
                -m "lr 3e-4" --label lang

            With --metrics, the metrics the model's own code computed on --eval-rev are kept as an eval record too (the file's format: 'dvs model add-eval --help'), so 'dvs models --compare' shows the model beside the built-in ones; --parameter-count records its size in parameters.
              dvs model add runs/42/model.pt --rev cohort/es --label lang \\
                --parameter-count 1200000 --metrics runs/42/eval.json --eval-rev main
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The artifact file.") var path: String
    @Option(help: "The revision it was trained on (branch, tag, commit).") var rev: String
    @Option(help: "A display name (default: the file name).") var name: String?
    @Option(name: .shortAndLong, help: "A note kept with the record.") var message: String?
    @Option(help: "The label field the model predicts (counts its values).") var label: String?
    @Option(help: "The task: classify, regress, …") var task: String?
    @Option(name: .customLong("param"), help: ArgumentHelp("A training parameter (repeatable).", valueName: "KEY=VALUE")) var params:
        [String] = []
    @Option(help: "The model's learned parameters, as its trainer counts them.") var parameterCount: Int?
    @Option(help: ArgumentHelp("Metrics computed on --eval-rev by the model's own code, kept as an eval record.", valueName: "FILE.json"))
    var metrics: String?
    @Option(help: "The revision the --metrics were computed on.") var evalRev: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        if (metrics == nil) != (evalRev == nil) { throw ValidationError("--metrics and --eval-rev go together") }
        if let n = parameterCount, n < 0 { throw ValidationError("--parameter-count must be ≥ 0") }
    }

    func run() throws {
        let repo = try global.repository()
        // Read and check the metrics before anything is written.
        let external = try metrics.map { try ModelAddEval.read($0) }
        var reg = ModelRegistration(artifactPath: path, revision: Revision(rev), name: name)
        reg.message = message ?? ""
        reg.labelField = label
        reg.task = task
        reg.parameters = try ModelAdd.parameters(params)
        reg.parameterCount = parameterCount
        // Bad input changes nothing: the evaluation side is checked before the model is registered.
        if let r = evalRev, let external { _ = try repo.checkExternalEval(revision: Revision(r), metrics: external) }
        let (id, record) = try repo.registerModel(reg)
        let eval = try external.map { try repo.recordExternalEval(model: id, revision: Revision(evalRev!), metrics: $0) }
        if json {
            var o = LineageOutput.object(record, id: id)
            if let eval { o["eval"] = LineageOutput.object(eval.record, id: eval.id) }
            try Output.jsonObject(o)
        } else {
            Output.out(LineageOutput.registered(id, record))
            if let eval { Output.out(ModelAddEval.recorded(eval.id, eval.record)) }
        }
    }

    /// `KEY=VALUE` pairs. - Throws: `DVSError.usage` naming a pair without `=`.
    static func parameters(_ list: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for p in list {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                throw DVSError(.usage, "parameter '\(p)' is not KEY=VALUE", hint: "for example: --param lr=3e-4")
            }
            out[String(p[..<eq])] = String(p[p.index(after: eq)...])
        }
        return out
    }
}
