import ArgumentParser
import DVS

struct Fsck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck", abstract: "Verify every pack frame and object against its hash.",
        discussion:
            "Reports each damaged object by id and pack, with the commits and paths that use it. Exit status 1 if anything is damaged.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        let r = try repo.fsck(progress: json ? nil : Output.progress())
        if json {
            try Output.json(r)
        } else {
            for n in r.notes { Output.out("note: \(n)") }
            for d in r.damaged {
                Output.out("damaged \(d.kind) \(d.id)\(d.pack.map { " in pack \($0)" } ?? ""): \(d.reason)")
                for u in d.usedBy.prefix(20) { Output.out("  used by \(u)") }
                if d.usedBy.count > 20 { Output.out("  … and \(d.usedBy.count - 20) more") }
            }
            Output.out(
                "checked \(Output.count(r.packCount, "pack")), \(Output.count(r.blobCount, "blob")), \(Output.count(r.objectCount, "object")), \(Output.count(r.commitCount, "commit")): "
                    + (r.isClean ? "ok" : "\(r.damaged.count) damaged"))
        }
        if !r.isClean {
            let refKinds: Set<String> = ["catalog", "ref", "reflog"]
            if !json, r.damaged.contains(where: { refKinds.contains($0.kind) }) {
                Output.err(
                    "hint: the catalog (.dvs/catalog.sqlite) holds the refs and the indexes, and .dvs/reflog a copy of every ref move: 'dvs reindex' rebuilds the catalog from the objects and .dvs/reflog (a damaged catalog is moved aside), and the file from the catalog"
                )
            }
            if !json, r.damaged.contains(where: { !refKinds.contains($0.kind) }) {
                Output.err(
                    "hint: restore the damaged objects from another copy of the repository (remotes come with 'dvs pull'), or check out a commit that does not use them"
                )
            }
            throw ExitCode(1)
        }
    }
}
