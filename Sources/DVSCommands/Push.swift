import ArgumentParser
import DVS
import Foundation

/// JSON form of a ref move.
func refJSON(_ m: RefMove) -> [String: Any] {
    ["ref": m.name.fullName, "old": m.old?.hex ?? NSNull(), "new": m.new.hex, "status": m.status.description]
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Upload branches (and tags) to a remote.",
        discussion: """
            Uploads the packs and objects the remote lacks, then moves each remote ref with a conditional \
            write. Refuses when the remote branch is not an ancestor of yours (run dvs pull), unless --force. \
            An interrupted push, run again, sends only what is still missing. Every pack and object is \
            checked against its id before it is sent (a damaged local copy fails the push before anything \
            moves), and the remote's listing must show each upload at its size before a ref moves. \
            'dvs remote verify' checks (and --repair restores) what the remote already holds.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The remote.") var remote: String = "origin"
    @Argument(help: "Branches (default: the current one).") var branches: [String] = []
    @Flag(help: "Push every local branch.") var all = false
    @Flag(help: "Push every tag (and the branches named, if any: alone it pushes tags only, as git's).") var tags = false
    @Flag(help: "Replace remote refs that are not ancestors of yours.") var force = false
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let repo = try global.repository()
        let s = try repo.push(remote: remote, branches: branches, all: all, tags: tags, force: force, progress: Output.progress())
        if s.packsReplaced > 0 {
            Output.err(
                "note: \(Output.count(s.packsReplaced, "pack")) on '\(s.remote)' had another size than this repository's copy (damaged there): uploaded again"
            )
        }
        if json {
            try Output.jsonObject([
                "remote": s.remote, "refs": s.refs.map(refJSON), "packs_uploaded": s.packsUploaded,
                "packs_present": s.packsPresent, "packs_replaced": s.packsReplaced, "objects_uploaded": s.objectsUploaded,
                "records_uploaded": s.recordsUploaded,
                "bytes_uploaded": s.bytesUploaded, "seconds": (s.seconds * 1000).rounded() / 1000,
                "refs_moved": s.refs.filter { $0.status != .upToDate }.count,
                "purges": s.purges.map { p in
                    [
                        "records_uploaded": p.recordsUploaded, "old_commits": p.oldCommits, "packs_deleted": p.packsDeleted,
                        "packs_rewritten": p.packsRewritten, "packs_uploaded": p.packsUploaded, "objects_deleted": p.objectsDeleted,
                        "records_replaced": p.recordsReplaced, "artifacts_deleted": p.artifactsDeleted,
                        "deferred": p.deferred.map(\.fullName),
                    ] as [String: Any]
                } ?? NSNull(),
            ])
            return
        }
        for m in s.refs {
            let short = m.name.branchName ?? m.name.fullName
            switch m.status {
            case .upToDate: Output.out(" = \(short)\t\(m.new.short) (up to date)")
            case .created: Output.out(" * \(short)\t\(m.new.short) (new)")
            case .forced: Output.out(" + \(short)\t\(m.old?.short ?? "")...\(m.new.short) (forced)")
            case .rewritten: Output.out(" + \(short)\t\(m.old?.short ?? "")...\(m.new.short) (rewritten by purge)")
            case .fastForward, .kept: Output.out("   \(short)\t\(m.old?.short ?? "")..\(m.new.short)")
            }
        }
        if let p = s.purges {
            if p.recordsUploaded > 0 { Output.out("Uploaded \(Output.count(p.recordsUploaded, "purge record")) to '\(s.remote)'") }
            if !p.deferred.isEmpty {
                Output.err(
                    "note: purged data stays on '\(s.remote)' for now: \(p.deferred.map(\.fullName).joined(separator: ", ")) \(p.deferred.count == 1 ? "points" : "point") at commits this repository lacks; run 'dvs fetch \(s.remote)' (it rewrites them here if they hold erased data), then push again"
                )
            } else if p.oldCommits > 0 {
                Output.out(
                    "Erased purged data on '\(s.remote)': \(Output.count(p.oldCommits, "replaced commit")), \(Output.count(p.objectsDeleted, "object")) and \(Output.count(p.packsDeleted, "pack")) deleted\(p.packsRewritten > 0 ? " (\(p.packsRewritten) written again without it)" : "")"
                )
            }
            if p.recordsReplaced > 0 || p.artifactsDeleted > 0 {
                Output.out(
                    "Deleted from '\(s.remote)' \(Output.count(p.recordsReplaced, "lineage record")) that named erased label values (their rewritten copies are there) and \(Output.count(p.artifactsDeleted, "model artifact")) that named erased samples"
                )
            }
        }
        Output.out(
            "Pushed to '\(s.remote)': \(Output.count(s.packsUploaded, "pack")), \(Output.count(s.objectsUploaded, "object"))\(s.recordsUploaded > 0 ? ", \(Output.count(s.recordsUploaded, "lineage record"))" : ""), \(Output.bytes(s.bytesUploaded)) in \(String(format: "%.1f", s.seconds)) s"
        )
    }
}
