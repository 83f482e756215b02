import ArgumentParser
import DVS
import DVSCore
import Foundation

struct CommitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit", abstract: "Record a snapshot of the whole working tree.",
        discussion:
            "Everything except .dvs/, .git/ and what .dvsignore excludes; with paths, only the files there (the rest keeps HEAD's entries). Exit status 1 when there is nothing to commit."
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "The commit message.") var message: String
    @Option(help: ArgumentHelp("Author, as \"Name <email>\".", valueName: "author")) var author: String?
    @Flag(help: "Record a commit even when nothing changed.") var allowEmpty = false
    @Flag(
        help:
            "Fail, committing nothing, when a file named like audio does not decode or is damaged (truncated, never finalised), or a label source of the parent no longer parses."
    )
    var strict = false
    @Flag(help: "Do not run the pre-commit hook.") var noVerify = false
    @Argument(
        help: ArgumentHelp(
            "Commit only these files and folders (from the top of the working tree, like every dvs path); the rest of the tree stays as HEAD has it.",
            valueName: "path"))
    var paths: [String] = []

    func run() throws {
        let repo = try global.repository()
        let limited = try paths.isEmpty ? nil : Self.treePaths(paths, root: repo.root)
        if repo.mergeInProgress() != nil {
            if limited != nil {
                throw DVSError(
                    .usage, "a merge in progress is concluded by a commit of the whole tree, not of some paths",
                    hint: "run 'dvs commit -m MESSAGE' without paths, or 'dvs merge --abort'")
            }
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
        options.paths = limited
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
            " \(Output.count(t.fileCount, "file")), \(Output.count(t.sampleCount, "sample")), \(Output.hours(t.audioHours)) of audio; \(counts.total) changed (\(counts.added) new, \(counts.modified) modified, \(counts.deleted) deleted\(counts.renamed > 0 ? ", \(counts.renamed) renamed" : ""))"
        )
        let ratio = s.newRawBytes > 0 ? String(format: ", %.0f%% of raw", 100 * Double(s.storedBytes) / Double(s.newRawBytes)) : ""
        // A dvs.toml alone (it may ignore every table) is no source: no line, not "from 0 sources: ".
        let sourceCount = s.labelTables.filter { $0.format != "config" }.count
        if sourceCount > 0 {
            Output.out(" labels from \(Output.count(sourceCount, "source")): " + Output.labelSources(s.labelTables))
        }
        Output.out(
            " stored \(Output.bytes(s.storedBytes)) for \(Output.bytes(s.newRawBytes)) of new content in \(Output.count(s.newBlobCount, "blob"))\(ratio); plus \(Output.bytes(s.metadataBytes)) of metadata"
        )
        if s.deferredAudioBytes > 0 {
            // Past pack.defer-audio-after, audio was stored as it is: code it now, in a process
            // of its own, as git's gc --auto does.
            let what = "\(Output.bytes(s.deferredAudioBytes)) of audio is stored as it is, to be coded"
            if repo.autoRepack, let pid = Repack.startInBackground(root: repo.root) {
                Output.out(" \(what) in the background (dvs repack, pid \(pid); log .dvs/repack.log)")
            } else {
                Output.out(" \(what): run 'dvs repack' (dvs push runs it first)")
            }
        }
    }

    /// The tree paths of command-line paths: each from the top of the working tree (as every
    /// dvs path is, wherever dvs runs), or absolute inside it. nil when one of them is the root
    /// itself (the whole tree).
    /// - Throws: `DVSError.badInput` for a path outside the tree or inside `.dvs`/`.git`.
    static func treePaths(_ arguments: [String], root: String) throws -> [RepoPath]? {
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        var out: [RepoPath] = []
        for a in arguments {
            let full = URL(fileURLWithPath: a, relativeTo: URL(fileURLWithPath: base, isDirectory: true)).standardizedFileURL.path
            if full == base { return nil }
            guard full.hasPrefix(base + "/") else {
                throw DVSError(
                    .badInput, "path '\(a)' is outside the working tree \(base)", hint: "give paths inside the repository's folder")
            }
            let p = RepoPath(String(full.dropFirst(base.count + 1)))
            if p.components.enumerated().contains(where: { RepoPath.isReserved($0.element, topLevel: $0.offset == 0) }) {
                throw DVSError(
                    .badInput, "path '\(a)' is inside .dvs or .git, which are never committed", hint: "give paths of the working tree")
            }
            out.append(p)
        }
        return out
    }
}
