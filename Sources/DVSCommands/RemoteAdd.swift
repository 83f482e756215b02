import ArgumentParser
import DVS
import Foundation

extension RemoteCommand {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a remote.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name (origin).") var name: String
        @Argument(help: "s3://bucket/prefix or a folder path.") var url: String
        @Option(help: ArgumentHelp("S3 endpoint other than AWS (MinIO, moto, R2).", valueName: "url")) var endpoint: String?
        @Option(help: ArgumentHelp("S3 region (default: AWS_REGION, else us-east-1).", valueName: "region")) var region: String?
        @Flag(help: "Path-style S3 addressing (endpoint/bucket/key).") var pathStyle = false

        func run() throws {
            let r = try global.repository().addRemote(name: name, url: url, endpoint: endpoint, region: region, pathStyle: pathStyle)
            Output.out("Added remote '\(r.name)' at \(r.url)")
        }
    }
}
