import ArgumentParser
import DVS
import DVSCore
import Foundation

struct ModelAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a trained artifact as a model record linked to the snapshot it was trained on.",
        discussion: """
            The artifact's bytes are stored in the repository (so 'dvs audit PATH' finds the record by
            SHA-256 and the file travels with push/clone); the record keeps the snapshot commit, the
            cohort predicate when REV is a cohort branch, samples, hours, the label distribution
            (with --label), the code commit of the git repository around the current directory
            (HEAD, branch, dirty), the command line, times and host.
              dvs model add runs/42/model.pt --rev cohort/es --name es-v3 -m "lr 3e-4" --label lang
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
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        var reg = ModelRegistration(artifactPath: path, revision: Revision(rev), name: name)
        reg.message = message ?? ""
        reg.labelField = label
        reg.task = task
        reg.parameters = try ModelAdd.parameters(params)
        let (id, record) = try repo.registerModel(reg)
        if json { try Output.jsonObject(LineageOutput.object(record, id: id)) } else { Output.out(LineageOutput.registered(id, record)) }
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
