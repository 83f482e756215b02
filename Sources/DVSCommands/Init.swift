import ArgumentParser
import DVS

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create an empty dvs repository (HEAD on branch 'main').")

    @Option(name: .customShort("C"), help: ArgumentHelp("Run as if dvs was started in <dir>.", valueName: "dir"))
    var base: String?

    @Argument(help: "Folder to create it in (default: the current folder; relative to -C's folder when given).")
    var directory: String = "."

    func run() throws {
        var target = directory
        if let base {
            // As git: `dvs -C DIR init [FOLDER]` creates it in DIR/FOLDER, DIR being a folder that exists.
            let dir = base.hasPrefix("/") ? base : CurrentProcess.context.currentDirectory + "/" + base
            try Repository.requireFolder(dir)
            if !directory.hasPrefix("/") { target = dir + "/" + directory }
        }
        let repo = try Repository.initialize(at: target, context: CurrentProcess.context)
        Output.out("Initialized empty dvs repository in \(repo.dvsDir)/")
    }
}
