import ArgumentParser
import DVS
import Foundation

/// JSON form of a ref move.
func refJSON(_ m: RefMove) -> [String: Any] {
    ["ref": m.name.fullName, "old": m.old?.hex ?? NSNull(), "new": m.new.hex, "status": m.status]
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload branches (and tags) to a remote.",
        discussion: """
            Uploads the packs and objects the remote lacks, then moves each remote ref with a conditional \
            write. Refuses when the remote branch is not an ancestor of yours (run dvs pull), unless --force. \
            An interrupted push, run again, sends only what is still missing.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The remote (default origin).") var remote: String = "origin"
    @Argument(help: "Branches (default: the current one).") var branches: [String] = []
    @Flag(help: "Push every local branch.") var all = false
    @Flag(help: "Push every tag too.") var tags = false
    @Flag(help: "Replace remote refs that are not ancestors of yours.") var force = false
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let repo = try global.repository()
        let s = try repo.push(remote: remote, branches: branches, all: all, tags: tags, force: force, progress: Output.progress())
        if json {
            try Output.jsonObject([
                "remote": s.remote, "refs": s.refs.map(refJSON), "packs_uploaded": s.packsUploaded,
                "packs_present": s.packsPresent, "objects_uploaded": s.objectsUploaded, "records_uploaded": s.recordsUploaded,
                "bytes_uploaded": s.bytesUploaded, "seconds": (s.seconds * 1000).rounded() / 1000,
                "refs_moved": s.refs.filter { $0.status != "up-to-date" }.count,
            ])
            return
        }
        for m in s.refs {
            let short = m.name.branchName ?? m.name.fullName
            switch m.status {
            case "up-to-date": Output.out(" = \(short)\t\(m.new.short) (up to date)")
            case "created": Output.out(" * \(short)\t\(m.new.short) (new)")
            case "forced": Output.out(" + \(short)\t\(m.old?.short ?? "")...\(m.new.short) (forced)")
            default: Output.out("   \(short)\t\(m.old?.short ?? "")..\(m.new.short)")
            }
        }
        Output.out(
            "Pushed to '\(s.remote)': \(s.packsUploaded) pack(s), \(s.objectsUploaded) object(s)\(s.recordsUploaded > 0 ? ", \(s.recordsUploaded) lineage record(s)" : ""), \(Output.bytes(s.bytesUploaded)) in \(String(format: "%.1f", s.seconds)) s"
        )
    }
}

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a remote's branches and tags; move refs/remotes/<remote>/*.",
        discussion: "Every downloaded object is verified (SHA-256) before it is used; a damaged one is named and no ref moves.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The remote (default origin).") var remote: String = "origin"
    @Option(help: ArgumentHelp("Fetch only this branch.", valueName: "branch")) var branch: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let repo = try global.repository()
        let s = try repo.fetch(remote: remote, branch: branch, progress: Output.progress())
        if json {
            try Output.jsonObject(fetchJSON(s))
            return
        }
        printFetch(s)
    }
}

func fetchJSON(_ s: FetchSummary) -> [String: Any] {
    [
        "remote": s.remote, "refs": s.refs.map(refJSON), "objects_downloaded": s.objectsDownloaded, "packs_downloaded": s.packsDownloaded,
        "records_downloaded": s.recordsDownloaded,
        "bytes_downloaded": s.bytesDownloaded, "seconds": (s.seconds * 1000).rounded() / 1000,
        "refs_moved": s.refs.filter { $0.status != "up-to-date" && $0.old != $0.new }.count,
    ]
}

func printFetch(_ s: FetchSummary) {
    for m in s.refs where m.status != "up-to-date" {
        Output.out(
            "   \(m.name.remoteTrackingName ?? m.name.fullName)\t\(m.old.map { $0.short + ".." } ?? "(new) ")\(m.new.short)")
    }
    Output.out(
        "Fetched from '\(s.remote)': \(s.packsDownloaded) pack(s), \(s.objectsDownloaded) object(s)\(s.recordsDownloaded > 0 ? ", \(s.recordsDownloaded) lineage record(s)" : ""), \(Output.bytes(s.bytesDownloaded)) in \(String(format: "%.1f", s.seconds)) s"
    )
}

struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch, then fast-forward or merge the remote branch into the current branch and its working tree.",
        discussion:
            "Diverged histories are merged as 'dvs merge' does (by file, label row and field). Refuses when local changes would be overwritten."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The remote (default origin).") var remote: String = "origin"
    @Argument(help: "The remote branch (default: the current branch's name).") var branch: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let repo = try global.repository()
        let s = try repo.pull(remote: remote, branch: branch, progress: Output.progress())
        if json {
            var o = fetchJSON(s.fetch)
            o["branch"] = s.branch
            o["old"] = s.old?.hex ?? NSNull()
            o["new"] = s.new?.hex ?? NSNull()
            o["status"] = s.status
            o["files_written"] = s.written
            o["files_removed"] = s.removed
            try Output.jsonObject(o)
            return
        }
        printFetch(s.fetch)
        switch s.status {
        case "up-to-date": Output.out("Already up to date.")
        case "ahead": Output.out("Already up to date ('\(s.branch)' has commits the remote lacks: dvs push \(remote)).")
        case "merged":
            Output.out(
                "Merged \(remote)/\(branch ?? s.branch) into \(s.branch) as \(s.new?.short ?? ""): wrote \(s.written) file(s), removed \(s.removed)"
            )
        case "conflicts":
            Merge.printStopped(s.conflicts, what: "Merge of \(remote)/\(branch ?? s.branch)")
            throw ExitCode(1)
        default:
            Output.out(
                "Fast-forward \(s.branch) \(s.old?.short ?? "(none)")..\(s.new?.short ?? ""): wrote \(s.written) file(s), removed \(s.removed)"
            )
        }
    }
}

struct Clone: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a new repository from a remote and check out a branch.",
        discussion: "Run again on the same folder, an interrupted clone resumes and keeps what it downloaded.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "s3://bucket/prefix or a folder path.") var url: String
    @Argument(help: "The new folder (default: the URL's last component).") var directory: String?
    @Option(help: ArgumentHelp("Fetch and check out only this branch.", valueName: "branch")) var branch: String?
    @Option(help: ArgumentHelp("S3 endpoint other than AWS.", valueName: "url")) var endpoint: String?
    @Option(help: ArgumentHelp("S3 region.", valueName: "region")) var region: String?
    @Flag(help: "Path-style S3 addressing.") var pathStyle = false
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let base = global.directory ?? CurrentProcess.context.currentDirectory
        var name = directory ?? url.split(separator: "/").last.map(String.init) ?? "repository"
        if name.hasSuffix(".dvs") && directory == nil { name = String(name.dropLast(4)) }
        let target = name.hasPrefix("/") ? name : base + "/" + name
        let s = try Repository.clone(
            url: url, into: target, branch: branch, endpoint: endpoint, region: region, pathStyle: pathStyle,
            progress: Output.progress(), context: CurrentProcess.context)
        if json {
            var o = fetchJSON(s.fetch)
            o["directory"] = s.repository.root
            o["branch"] = s.branch ?? NSNull()
            o["commit"] = s.commit?.hex ?? NSNull()
            o["files_written"] = s.written
            o["resumed"] = s.resumed
            try Output.jsonObject(o)
            return
        }
        Output.out((s.resumed ? "Resumed clone into '" : "Cloned into '") + s.repository.root + "'")
        printFetch(s.fetch)
        if let b = s.branch, let c = s.commit {
            Output.out("Checked out '\(b)' at \(c.short): \(s.written) file(s)")
        } else {
            Output.out("warning: the remote has no branches; the repository is empty")
        }
    }
}
