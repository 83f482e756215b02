import ArgumentParser
import DVS
import DVSCore
import Foundation

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Register models trained elsewhere, and their metrics.",
        subcommands: [ModelAdd.self, ModelAddEval.self])
}
