import ArgumentParser
import DVS
import Foundation

struct RemoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote", abstract: "List, add or remove remotes (S3 buckets or folders).",
        discussion: """
            URLs: s3://bucket/prefix, or a folder path (local disk, NFS). Credentials come only from the AWS \
            environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN) or ~/.aws/credentials \
            (AWS_PROFILE); they are never stored or printed.
            """,
        subcommands: [List.self, Add.self, Remove.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List remotes; -v adds URLs and S3 settings.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Show URLs, endpoints and regions.") var verbose = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let remotes = try global.repository().remotes()
            if json {
                try Output.jsonObject(
                    remotes.map { r -> [String: Any] in
                        var o: [String: Any] = [
                            "name": r.name, "url": r.url.description, "path_style": r.pathStyle, "transfers": r.transfers,
                        ]
                        if let e = r.endpoint { o["endpoint"] = e }
                        if let g = r.region { o["region"] = g }
                        return o
                    })
                return
            }
            for r in remotes {
                guard verbose else {
                    Output.out(r.name)
                    continue
                }
                var extra: [String] = []
                if let e = r.endpoint { extra.append("endpoint \(e)") }
                if let g = r.region { extra.append("region \(g)") }
                if r.pathStyle { extra.append("path-style") }
                Output.out("\(r.name)\t\(r.url)" + (extra.isEmpty ? "" : " (\(extra.joined(separator: ", ")))"))
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a remote.")
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

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Forget a remote and its remote-tracking refs (the remote's data stays).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Its name.") var name: String

        func run() throws {
            try global.repository().removeRemote(name: name)
            Output.out("Removed remote '\(name)'")
        }
    }
}
