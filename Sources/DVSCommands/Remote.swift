import ArgumentParser
import DVS
import Foundation

struct RemoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote", abstract: "List, add, remove or verify remotes (S3 buckets or folders).",
        discussion: """
            URLs: s3://bucket/prefix, or a folder path (local disk, NFS). Credentials come only from the AWS \
            environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN) or ~/.aws/credentials \
            (AWS_PROFILE); they are never stored or printed.
            """,
        subcommands: [List.self, Add.self, Remove.self, Verify.self], defaultSubcommand: List.self)
}
