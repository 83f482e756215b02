import ArgumentParser
import DVS
import DVSCore

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a commit and the files it changed against its first parent.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The commit (default HEAD).") var revision: String = "HEAD"
    @Flag(help: "Print JSON.") var json = false

    struct JSONShow: Encodable {
        var commit: JSONCommit
        var changes: [JSONChange]
    }

    func run() throws {
        let repo = try global.repository()
        let id = try repo.resolve(Revision(revision))
        let c = try repo.commit(id)
        let mine = try repo.entries(ofManifest: c.manifest)
        let base = try c.parents.first.map { try repo.entries(ofManifest: repo.commit($0).manifest) } ?? []
        let changes = diffEntries(base, mine)
        if json {
            try Output.json(JSONShow(commit: JSONCommit(id, c), changes: changes.map(JSONChange.init)))
            return
        }
        Output.out("commit \(id.hex)")
        for p in c.parents { Output.out("parent \(p.hex)") }
        Output.out("Author: \(c.author.identity)")
        Output.out("Date:   \(Output.date(c.author.time, tzMinutes: c.author.timeZoneOffsetMinutes))")
        Output.out(
            "Files:  \(c.totals.fileCount), samples: \(c.totals.sampleCount), audio: \(Output.hours(c.totals.audioHours)), \(Output.bytes(c.totals.byteCount))"
        )
        for (k, v) in c.extra.sorted(by: { $0.key < $1.key }) where k != Repository.purgeHeader { Output.out("\(k): \(v)") }
        for line in Log.erasedLines(c) { Output.out(line) }
        Output.out("")
        for line in c.message.split(separator: "\n", omittingEmptySubsequences: false) { Output.out("    \(line)") }
        Output.out("")
        // A deleted file whose content was added under a new path is one rename, `R  old → new`,
        // as 'dvs status', 'dvs diff' and the commit's summary count it (`renamePairs`).
        let rows = changeRows(changes)
        let samples = rows.filter { changes[$0.change].old?.audio != nil || changes[$0.change].new?.audio != nil }.count
        Output.out("\(Output.count(rows.count, "file")) changed, \(Output.count(samples, "sample"))")
        for (i, renamedTo) in rows {
            let ch = changes[i]
            let a = (ch.new ?? ch.old)?.audio
            let what = renamedTo.map { "R  \(ch.path) → \(changes[$0].path)" } ?? "\(ch.letter)  \(ch.path)"
            Output.out(
                what
                    + (a.map { String(format: "  (%@ %d Hz %d ch %.2f s)", $0.encoding, $0.sampleRate, $0.channelCount, $0.duration) } ?? "")
            )
        }
    }
}
