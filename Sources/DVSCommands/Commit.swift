import ArgumentParser
import DVS
import Foundation

struct CommitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", abstract: "Record a snapshot of the whole working tree.",
        discussion: "Everything except .dvs/, .git/ and what .dvsignore excludes. Exit status 1 when there is nothing to commit.")

    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "The commit message.") var message: String
    @Option(help: ArgumentHelp("Author, as \"Name <email>\".", valueName: "author")) var author: String?
    @Flag(help: "Record a commit even when nothing changed.") var allowEmpty = false
    @Flag(help: "Fail, committing nothing, when a file named like audio does not decode.") var strict = false
    @Flag(help: "Do not run the pre-commit hook.") var noVerify = false

    func run() throws {
        let repo = try global.repository()
        if repo.mergeInProgress() != nil {
            // As in git, a commit during a stopped merge concludes it.
            let s = try repo.mergeContinue(message: message, progress: Output.progress())
            Output.findings(s.labelFindings)
            Output.out(
                "[\(s.branch ?? "detached HEAD") \(s.id.short)] \(s.commit.message.split(separator: "\n").first ?? "") (merge of \(s.commit.parents.map(\.short).joined(separator: " ")))"
            )
            return
        }
        var options = CommitOptions(message: message, author: author, allowEmpty: allowEmpty, strict: strict)
        options.noVerify = noVerify
        options.hookOutput = { FileHandle.standardError.write($0) }
        let s = try repo.commit(options, progress: Output.progress())
        for w in s.warnings { Output.warn(w) }
        Output.findings(s.labelFindings)
        if let post = s.postCommitOutput, !post.isEmpty { FileHandle.standardError.write(Data(post.utf8)) }
        let counts = s.changeCounts
        let subject = s.commit.message.split(separator: "\n").first.map(String.init) ?? ""
        Output.out("[\(s.branch ?? "detached HEAD") \(s.id.short)] \(subject)")
        let t = s.commit.totals
        Output.out(
            " \(t.fileCount) files, \(t.sampleCount) samples, \(Output.hours(t.audioHours)) of audio; \(counts.total) changed (\(counts.added) new, \(counts.modified) modified, \(counts.deleted) deleted)"
        )
        let ratio = s.newRawBytes > 0 ? String(format: ", %.0f%% of raw", 100 * Double(s.storedBytes) / Double(s.newRawBytes)) : ""
        if !s.labelTables.isEmpty {
            let count = s.labelTables.filter { $0.format != "config" }.count
            Output.out(" labels from \(count) source(s): " + Output.labelSources(s.labelTables))
        }
        Output.out(
            " stored \(Output.bytes(s.storedBytes)) for \(Output.bytes(s.newRawBytes)) of new content in \(s.newBlobCount) blob(s)\(ratio); plus \(Output.bytes(s.metadataBytes)) of metadata"
        )
    }
}
