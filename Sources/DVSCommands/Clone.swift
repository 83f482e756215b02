import ArgumentParser
import DVS
import Foundation

struct Clone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone", abstract: "Make a new repository from a remote and check out a branch.",
        discussion: """
            Run again on the same folder, an interrupted clone resumes and keeps what it downloaded \
            (a partial one run again without --branch, or with --full, becomes full). Every \
            object and pack is verified before use; a damaged or missing remote key is named, and \
            'dvs remote verify origin --repair' in a repository with good copies restores it.

            With --branch the clone is partial: it downloads the metadata of that branch's history \
            (commits, manifests, lineage and purge records) and only the blobs of its snapshot, read \
            frame by frame from the remote's packs in merged ranged reads. Checking out another \
            revision later downloads the blobs it lacks the same way; --full downloads every blob \
            of the branch's history instead, and 'dvs config remote.origin.partial false' turns \
            a partial clone into a full one (the next fetch downloads the rest).
              dvs clone s3://bucket/voice train --branch cohort/es
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "s3://bucket/prefix or a folder path.") var url: String
    @Argument(help: "The new folder (default: the URL's last component).") var directory: String?
    @Option(help: ArgumentHelp("Fetch and check out only this branch (a partial clone).", valueName: "branch")) var branch: String?
    @Flag(help: "Download every blob of the history fetched, not only the checked-out snapshot's (with --branch).") var full = false
    @Option(help: ArgumentHelp("S3 endpoint other than AWS.", valueName: "url")) var endpoint: String?
    @Option(help: ArgumentHelp("S3 region.", valueName: "region")) var region: String?
    @Flag(help: "Path-style S3 addressing.") var pathStyle = false
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let base = global.directory ?? CurrentProcess.context.currentDirectory
        // As init: a -C folder must exist (the clone made it, with the new repository inside).
        if global.directory != nil { try Repository.requireFolder(base) }
        var name = directory ?? url.split(separator: "/").last.map(String.init) ?? "repository"
        if name.hasSuffix(".dvs") && directory == nil { name = String(name.dropLast(4)) }
        let target = name.hasPrefix("/") ? name : base + "/" + name
        let s: CloneSummary
        do {
            s = try Repository.clone(
                url: url, into: target, branch: branch, partial: full ? false : nil, endpoint: endpoint, region: region,
                pathStyle: pathStyle, progress: Output.progress(), context: CurrentProcess.context)
        } catch let e as DVSError where e.code != .alreadyExists && Repository.hasUnfinishedClone(at: target) {
            // The folder stays, with what was downloaded: say so, and how to go on. (Not for the
            // refusal of a folder another clone started: running this one again cannot help.)
            DVSCommand.report(e, withKind: false)
            throw DVSError(
                e.code, "the clone into '\(target)' did not finish; the folder keeps what it made and downloaded",
                hint: "run the same 'dvs clone' again to resume it (with other options if the error above asks), or delete the folder")
        }
        if json {
            fetchNotes(s.fetch)
            var o = fetchJSON(s.fetch)
            o["directory"] = s.repository.root
            o["branch"] = s.branch ?? NSNull()
            o["commit"] = s.commit?.hex ?? NSNull()
            o["files_written"] = s.written
            o["resumed"] = s.resumed
            o["partial"] = s.repository.partialRemote() != nil
            if let f = s.frames {
                // The whole clone's bytes: the fetch's metadata and the snapshot's frames.
                o["bytes_downloaded"] = s.fetch.bytesDownloaded + f.bytesDownloaded
                o["frames"] = [
                    "blobs": f.blobs, "frame_bytes": f.frameBytes, "bytes_downloaded": f.bytesDownloaded, "requests": f.requests,
                    "pack_indexes": f.indexes,
                ]
            }
            try Output.jsonObject(o)
            return
        }
        Output.out((s.resumed ? "Resumed clone into '" : "Cloned into '") + s.repository.root + "'")
        printFetch(s.fetch)
        if let f = s.frames {
            Output.out(
                "Partial clone: downloaded \(Output.count(f.blobs, "blob")) of this snapshot (\(Output.bytes(f.bytesDownloaded)) in \(Output.count(f.requests, "ranged read")) and \(Output.count(f.indexes, "pack index", plural: "pack indexes"))); other revisions' blobs are downloaded when checked out"
            )
        }
        if let b = s.branch, let c = s.commit {
            Output.out("Checked out '\(b)' at \(c.short): \(Output.count(s.written, "file"))")
        } else {
            Output.out("warning: the remote has no branches; the repository is empty")
        }
    }
}
