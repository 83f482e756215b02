import ArgumentParser
import DVS

struct Reindex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Rebuild the catalog's pack, blob and commit index from .dvs/packs and .dvs/objects.",
        discussion: """
            Refs, the reflog, the stat cache and settings are kept. Use it after copying packs in, or when 'dvs fsck' reports \
            unreferenced packs. A pack whose every blob another pack holds (left by a killed commit or repack) is deleted \
            once each of its blobs reads back, verified, from the other; cohort packs and a partial clone's downloads are \
            kept. A catalog that is damaged or not a dvs catalog is moved aside to .dvs/catalog.sqlite.damaged, and one \
            that is missing or so is made again: branches, tags, HEAD and the reflog from .dvs/reflog, the settings that \
            can still be read from the old file, and the others, remotes among them, from .dvs/config.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let r = try Repository.reindex(from: global.directory, context: CurrentProcess.context)
        if json {
            try Output.json(r)
            return
        }
        for d in r.damagedPacks { Output.err("warning: skipped damaged pack \(d)") }
        for b in r.rescuedBlobs {
            Output.err("warning: blob \(b), a copy that reads back (the first pack's frame is damaged: run 'dvs fsck')")
        }
        if let aside = r.replacedCatalog {
            let copied = r.restoredSettings > 0 ? ", restored \(Output.count(r.restoredSettings, "setting")) from .dvs/config" : ""
            Output.out(
                aside.isEmpty
                    ? "the catalog was missing: made a new one\(copied)"
                    : "the catalog could not be used and was moved aside to \(aside): made a new one, kept \(Output.count(r.keptSettings, "setting")) from it\(copied)"
            )
        }
        if r.restoredRefs > 0 || r.restoredReflogEntries > 0 || r.replacedCatalog != nil {
            Output.out(
                "restored \(Output.count(r.restoredRefs, "ref")) and \(Output.count(r.restoredReflogEntries, "reflog entry", plural: "reflog entries")) from .dvs/reflog"
            )
        }
        if r.replacedCatalog != nil, let repo = try? global.repository() {
            // What came back from .dvs/config unchecked (the file can be edited): name what
            // 'dvs config' would refuse, with the way to fix it.
            for (k, v) in (try? repo.catalog.allConfig()) ?? [] where k != "core.format" {
                if !Config.known.contains(k) && !k.hasPrefix("remote.") {
                    Output.err("warning: unknown setting '\(k)' came back with the catalog; remove it: dvs config \(k) --unset")
                } else if let problem = Config.problem(key: k, value: v) {
                    Output.err(
                        "warning: setting '\(k)' came back as '\(v)', which dvs config refuses (\(problem)); set it again or: dvs config \(k) --unset"
                    )
                }
            }
            // A remote whose tracking refs came back from .dvs/reflog but whose settings neither
            // the old catalog nor .dvs/config gave back (settings last changed by a dvs that did
            // not keep .dvs/config) must be added again.
            let known = Set(((try? repo.remotes()) ?? []).map(\.name))
            let tracked = Set(
                ((try? repo.catalog.refs(in: .remoteTracking)) ?? []).compactMap {
                    $0.name.remoteTrackingName?.split(separator: "/").first.map(String.init)
                })
            for name in tracked.subtracting(known).sorted() {
                Output.err(
                    "warning: remote '\(name)' has tracking refs but its settings (URL, endpoint) were in the lost catalog; add it again: dvs remote add \(name) URL"
                )
            }
        }
        for b in r.recoveredBranches { Output.out("made branch '\(b)' for a commit no ref named") }
        for h in r.unreferencedHeads.prefix(20) {
            Output.out(
                "note: commit \(h.prefix(12)) is not reachable from any ref or reflog entry; keep it with 'dvs branch NAME \(h.prefix(12))'"
            )
        }
        if r.repackLeftoversDeleted > 0 {
            Output.out(
                "deleted \(Output.count(r.repackLeftoversDeleted, "pack")) an interrupted repack or commit left (other packs hold all \(r.repackLeftoversDeleted == 1 ? "its" : "their") blobs)"
            )
        }
        Output.out(
            "indexed \(Output.count(r.packCount - r.repackLeftoversDeleted, "pack")) (\(r.newPackCount) new), \(Output.count(r.blobCount, "blob")), \(Output.count(r.commitCount, "commit"))"
        )
    }
}
