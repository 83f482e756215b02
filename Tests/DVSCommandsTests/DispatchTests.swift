import ArgumentParser
import Testing

@testable import DVSCommands

/// `DVSCommand.subcommand(named:)` (the start-up path's lookup) names exactly the subcommands that
/// `DVSCommand.configuration` lists, each under its own `commandName`.
@Suite struct DispatchTests {
    @Test func everySubcommandIsFoundByItsName() throws {
        for type in DVSCommand.configuration.subcommands {
            let name = try #require(type.configuration.commandName)
            let found = try #require(DVSCommand.subcommand(named: name), "\(name) is missing from subcommand(named:)")
            #expect(ObjectIdentifier(found) == ObjectIdentifier(type), "\(name) names \(found), not \(type)")
        }
    }

    @Test func unknownNamesAndOptionsAreNotSubcommands() {
        for name in ["", "--version", "-h", "help", "stat", "Status", "remote add"] {
            let found: Any.Type? = DVSCommand.subcommand(named: name)
            #expect(found == nil, "\(name)")
        }
    }

    @Test func dashCBeforeTheSubcommandIsMovedAfterIt() {
        #expect(DVSCommand.gitOrder(["dvs", "-C", "/data", "status"]) == ["dvs", "status", "-C", "/data"])
        #expect(
            DVSCommand.gitOrder(["dvs", "-C", "d", "model", "add", "m.pt", "--rev", "main"])
                == ["dvs", "model", "add", "m.pt", "--rev", "main", "-C", "d"])
        #expect(
            DVSCommand.gitOrder(["dvs", "-C", "d", "run", "--rev", "x", "--", "python", "-C", "t.py"])
                == ["dvs", "run", "--rev", "x", "-C", "d", "--", "python", "-C", "t.py"], "not into the command run")
        #expect(DVSCommand.gitOrder(["dvs", "status", "-C", "d"]) == ["dvs", "status", "-C", "d"])
        #expect(DVSCommand.gitOrder(["dvs", "-C", "d"]) == ["dvs", "-C", "d"], "nothing after: left to the parser's error")
    }
}
