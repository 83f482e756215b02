import ArgumentParser
import DVS

struct Reindex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex", abstract: "Rebuild the catalog's pack, blob and commit index from .dvs/packs and .dvs/objects.",
        discussion:
            "Refs, the reflog, the stat cache and settings are kept. Use it after copying packs in, or when 'dvs fsck' reports unreferenced packs."
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let r = try global.repository().reindex()
        if json {
            try Output.json(r)
            return
        }
        for d in r.damagedPacks { Output.err("warning: skipped damaged pack \(d)") }
        Output.out("indexed \(r.packCount) pack(s) (\(r.newPackCount) new), \(r.blobCount) blob(s), \(r.commitCount) commit(s)")
    }
}
