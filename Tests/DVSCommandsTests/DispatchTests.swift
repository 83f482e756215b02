import ArgumentParser
import Testing

@testable import DVSCommands

/// `DVSCommand.subcommand(named:)` (the start-up path's lookup) names exactly the subcommands that
/// `DVSCommand.configuration` lists, each under its own `commandName`.
@Suite struct DispatchTests {
    @Test func everySubcommandIsFoundByItsName() throws {
        let listed = DVSCommand.configuration.subcommands
        for type in listed {
            let name = try #require(type.configuration.commandName)
            let found = try #require(DVSCommand.subcommand(named: name), "\(name) is missing from subcommand(named:)")
            #expect(found == type, "\(name) names \(found), not \(type)")
        }
    }

    @Test func unknownNamesAndOptionsAreNotSubcommands() {
        for name in ["", "--version", "-h", "help", "stat", "Status", "remote add"] {
            #expect(DVSCommand.subcommand(named: name) == nil, "\(name)")
        }
    }
}
