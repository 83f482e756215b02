import ArgumentParser
import DVS
import Foundation

extension RemoteCommand {
    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove", abstract: "Forget a remote and its remote-tracking refs (the remote's data stays).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name.") var name: String

        func run() throws {
            try global.repository().removeRemote(name: name)
            Output.out("Removed remote '\(name)'")
        }
    }
}
