import ArgumentParser
import DVS

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create an empty dvs repository (HEAD on branch 'main').")

    @Argument(help: "Folder to create it in (default: the current folder).")
    var directory: String = "."

    func run() throws {
        let repo = try Repository.initialize(at: directory, context: CurrentProcess.context)
        Output.out("Initialized empty dvs repository in \(repo.dvsDir)/")
    }
}
