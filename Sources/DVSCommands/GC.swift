import ArgumentParser
import DVS
import Foundation

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Reclaim space: remove objects and blobs nothing needs, after a grace period.",
        discussion: """
            Needed is everything a branch, tag, cohort, HEAD, reflog entry, model or eval \
            record (or its purged replacement) or stopped merge reaches. Anything else older than the \
            grace period is removed: loose objects, blobs in packs that are mostly garbage \
            (those packs are rewritten; others wait), and pack files no index knows. Data \
            younger than the grace period is never touched, so a commit, fetch or push in \
            progress keeps what it wrote, and a reader keeps the packs it has open. \
            .dvs/cache/blobs is kept under cache.max-size bytes (default 10 GiB), least \
            recently used files first.

            With --remote NAME the remote is collected instead: objects and packs that none of \
            its branches, tags or lineage records needs, older than the grace period (the \
            listing's last-modified time); packs with nothing needed are deleted, packs that \
            are mostly garbage are rewritten (the new pack is uploaded before the old one is \
            deleted). This repository must have every remote branch's commit and every record \
            the remote lists: fetch first.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Grace period: now, N.days.ago, N.weeks.ago, … (default 2.weeks.ago).", valueName: "when"))
    var prune = "2.weeks.ago"
    @Flag(help: "Show what would be removed; remove nothing.") var dryRun = false
    @Option(help: ArgumentHelp("Collect garbage on this remote instead of this repository.", valueName: "remote"))
    var remote: String?
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        guard let grace = GCOptions.grace(parsing: prune) else {
            throw DVSError(.usage, "--prune is 'now', 'N.days.ago', 'N.weeks.ago' (hours, minutes, months) or seconds, not '\(prune)'")
        }
        let repo = try global.repository()
        var options = GCOptions()
        options.grace = grace
        if let remote {
            let r = try repo.gcRemote(remote, options: options, dryRun: dryRun, progress: json ? nil : Output.progress())
            if json {
                try Output.json(r)
                return
            }
            let verb = dryRun ? "would remove" : "removed"
            let packs =
                dryRun
                ? "would rewrite \(Output.count(r.packsRewritten, "pack")) (\(Output.bytes(r.packBytesBefore)) of packs rewritten or deleted)"
                : "rewrote \(Output.count(r.packsRewritten, "pack")) (\(Output.bytes(r.packBytesBefore)) of packs rewritten or deleted → \(Output.bytes(r.packBytesAfter)))"
            Output.out(
                "\(verb) \(Output.count(r.objectsDeleted, "object")) (\(Output.bytes(r.objectBytes))) and \(Output.count(r.packsDeleted, "pack")) from '\(remote)'; \(packs)"
            )
            if r.blobsLeft > 0 { Output.out("\(Output.count(r.blobsLeft, "unneeded blob")) wait in packs that are mostly needed") }
            if r.keptYoung > 0 {
                Output.out(
                    "\(Output.count(r.keptYoung, "unneeded object or pack", plural: "unneeded objects or packs")) \(r.keptYoung == 1 ? "is" : "are") younger than the grace period and \(r.keptYoung == 1 ? "stays" : "stay")"
                )
            }
            if r.refsMoved {
                Output.err(
                    "note: a push changed '\(remote)''s refs or records while this ran, so nothing was deleted; what was due stays marked: run gc again"
                )
            }
            if r.pending > 0 {
                Output.out(
                    "\(Output.count(r.pending, "unneeded object or pack", plural: "unneeded objects or packs")) \(dryRun ? "would be" : r.pending == 1 ? "is" : "are") marked for deletion (gc/pending.json): a gc a grace period from now deletes them, so readers that started before have that long to finish (--prune=now deletes at once)"
                )
            }
            if !dryRun { Output.out("reclaimed \(Output.bytes(r.bytesReclaimed)) on '\(remote)'") }
            return
        }
        let r = try repo.gc(options, dryRun: dryRun, progress: json ? nil : Output.progress())
        if json {
            try Output.json(r)
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        Output.out(
            "\(verb) \(Output.count(r.objectsDeleted, "loose object")) (\(Output.bytes(r.objectBytes))), \(Output.count(r.blobsDropped, "blob")) from \(Output.count(r.packsRewritten, "pack")) (\(Output.bytes(r.packBytesBefore)) → \(Output.bytes(r.packBytesAfter))), \(Output.count(r.cacheFilesEvicted, "cached file")) (\(Output.bytes(r.cacheBytesEvicted)))"
        )
        if r.reflogEntriesExpired > 0 {
            Output.out(
                "\(dryRun ? "would expire" : "expired") \(Output.count(r.reflogEntriesExpired, "reflog entry", plural: "reflog entries")) older than the grace period that no branch or record reaches"
            )
        }
        if r.blobsLeft > 0 {
            Output.out(
                "\(Output.count(r.blobsLeft, "unneeded blob")) wait in packs that are mostly needed, or younger than the grace period")
        }
        Output.out("\(dryRun ? "would reclaim" : "reclaimed") \(Output.bytes(r.bytesReclaimed))")
    }
}
