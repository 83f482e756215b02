import ArgumentParser
import DVS
import Foundation

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch", abstract: "Download a remote's branches and tags; move refs/remotes/<remote>/*.",
        discussion: """
            Every downloaded object is verified (SHA-256) before it is used; a damaged one is named and no ref moves. \
            'dvs remote verify REMOTE --repair' in a repository with good copies restores damaged or missing keys.
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The remote.") var remote: String = "origin"
    @Option(help: ArgumentHelp("Fetch only this branch.", valueName: "branch")) var branch: String?
    @Flag(help: "Print a JSON summary.") var json = false

    func run() throws {
        let repo = try global.repository()
        let s = try repo.fetch(remote: remote, branch: branch, progress: Output.progress())
        if json {
            fetchNotes(s)
            try Output.jsonObject(fetchJSON(s))
            return
        }
        printFetch(s)
    }
}

func fetchJSON(_ s: FetchSummary) -> [String: Any] {
    [
        "remote": s.remote, "refs": s.refs.map(refJSON), "objects_downloaded": s.objectsDownloaded, "packs_downloaded": s.packsDownloaded,
        "metadata_requests": s.metadataRequests, "damaged_bundles": s.damagedBundles,
        "records_downloaded": s.recordsDownloaded,
        "bytes_downloaded": s.bytesDownloaded, "seconds": (s.seconds * 1000).rounded() / 1000,
        "refs_moved": s.refs.filter { $0.status != .upToDate && $0.old != $0.new }.count,
        "purges_applied": s.purgesApplied.map { ["id": $0.id.hex, "rule": $0.rule.description, "samples": $0.samples] as [String: Any] },
        "purges_reapplied": s.purgesReapplied.map(\.hex), "refs_skipped": s.skipped.map(\.fullName),
    ]
}

func printFetch(_ s: FetchSummary) {
    for m in s.refs where m.status != .upToDate {
        let name = m.name.remoteTrackingName ?? m.name.fullName
        // As git: a tag here is not moved by a fetch ("a..a" read as a move that did not happen).
        if case .kept(let theirs) = m.status {
            Output.out("   \(name)\t\(m.new.short) kept; the remote's tag is at \(theirs.short) (delete this one to take it)")
            continue
        }
        Output.out("   \(name)\t\(m.old.map { $0.short + ".." } ?? "(new) ")\(m.new.short)")
    }
    Output.out(
        "Fetched from '\(s.remote)': \(Output.count(s.packsDownloaded, "pack")), \(Output.count(s.objectsDownloaded, "object"))\(s.recordsDownloaded > 0 ? ", \(Output.count(s.recordsDownloaded, "lineage record"))" : ""), \(Output.bytes(s.bytesDownloaded)) in \(String(format: "%.1f", s.seconds)) s"
    )
    for r in s.purgesApplied {
        Output.out(
            "Applied purge \(r.id.short) from '\(s.remote)' (\(r.rule); it erased \(Output.count(r.samples, "sample")) where it ran): no commit here holds them now"
        )
    }
    for id in s.purgesReapplied {
        Output.out("Applied purge \(id.short) again: commits that arrived still held what it erased and were rewritten")
    }
    fetchNotes(s)
}

/// Notes on stderr (with or without `--json`): remote refs a fetch skipped.
func fetchNotes(_ s: FetchSummary) {
    // A bundle only speeds reading up: each one not used is named (a few; then a count).
    let unused = s.damagedBundles.sorted(by: { $0.key < $1.key })
    for (key, why) in unused.prefix(3) {
        Output.err(
            "note: \(key) on '\(s.remote)' was not used (\(why)); what it held was read from objects/ instead (if it is damaged, 'dvs remote verify \(s.remote) --repair' from a clone writes it again)"
        )
    }
    if unused.count > 3 {
        Output.err("note: and \(Output.count(unused.count - 3, "more bundle")) on '\(s.remote)' not used ('dvs fetch --json' lists them)")
    }
    for r in s.skipped {
        Output.err(
            "note: \(r.fullName) on '\(s.remote)' still points at a commit a purge replaced; it was not fetched (a push from a repository that has the purge finishes erasing it there)"
        )
    }
}
