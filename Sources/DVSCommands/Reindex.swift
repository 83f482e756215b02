import ArgumentParser
import DVS

struct Reindex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Rebuild the catalog's pack, blob and commit index from .dvs/packs and .dvs/objects.",
        discussion: """
            Refs, the reflog, the stat cache and settings are kept. Use it after copying packs in, or when 'dvs fsck' reports \
            unreferenced packs. A catalog that is missing, damaged or not a dvs catalog is moved aside to \
            .dvs/catalog.sqlite.damaged and rebuilt: branches, tags, HEAD and the reflog from .dvs/reflog, the settings that \
            can still be read from the old file.
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
        if let aside = r.replacedCatalog {
            Output.out(
                aside.isEmpty
                    ? "the catalog was missing: made a new one"
                    : "the catalog could not be used and was moved aside to \(aside): made a new one, kept \(r.keptSettings) setting(s) from it"
            )
        }
        if r.restoredRefs > 0 || r.restoredReflogEntries > 0 || r.replacedCatalog != nil {
            Output.out("restored \(r.restoredRefs) ref(s) and \(r.restoredReflogEntries) reflog entries from .dvs/reflog")
        }
        for b in r.recoveredBranches { Output.out("made branch '\(b)' for a commit no ref named") }
        for h in r.unreferencedHeads.prefix(20) {
            Output.out(
                "note: commit \(h.prefix(12)) is not reachable from any ref or reflog entry; keep it with 'dvs branch NAME \(h.prefix(12))'"
            )
        }
        Output.out("indexed \(r.packCount) pack(s) (\(r.newPackCount) new), \(r.blobCount) blob(s), \(r.commitCount) commit(s)")
    }
}
