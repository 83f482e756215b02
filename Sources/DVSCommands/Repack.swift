import ArgumentParser
import DVS
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct Repack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repack", abstract: "Code the audio a large commit stored as it is.",
        discussion: """
            A commit codes each audio file that fits in what is left of pack.defer-audio-after \
            bytes (default 64 MiB) and stores the others as they are, so that importing a corpus costs about \
            what copying it does. This codes those blobs as the commit would have \
            (pack.audio-codec), one pack at a time, each blob verified before and after. The \
            coding runs without the repository lock; each pack's swap takes it for an fsync and \
            a catalog transaction, after letting a waiting command go first; one repack runs at a \
            time, a second waits for the first. After such a commit \
            dvs starts it in the background \
            (pack.auto-repack, default true; its output goes to .dvs/repack.log), and dvs push runs \
            it first, so that a remote never receives uncoded audio. Running it again does nothing \
            more.

            With --recode it also codes again the audio stored with another codec than \
            pack.audio-codec now chooses for its format, after that setting changed (or written \
            by an older dvs):
              dvs config pack.audio-codec lpc && dvs repack --recode
            It reads every pack holding audio of a codec the setting may change (under auto, \
            every pack holding audio; under lpc or auto, also plain zstd blobs, to find WAV files \
            among them) and rewrites those where a blob's codec changes; running it again reads \
            them again but rewrites nothing. A rewritten pack is \
            a new pack: the next dvs push that moves a ref uploads it beside the remote's old \
            one, and dvs gc --remote NAME then removes the old copies.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Also code again the audio stored with another codec than pack.audio-codec chooses.") var recode = false
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: .hidden) var background = false

    func run() throws {
        let repo = try global.repository()
        // Started by a commit: it waits up to an hour for the lock at each step, as a long
        // command (a commit of a corpus, a push) may hold it, and dates what it writes to its log.
        if background { Output.out("\(ISO8601DateFormatter().string(from: Date())) dvs repack (started by a commit)") }
        let r = try repo.repack(
            recode: recode, progress: json || background ? nil : Output.progress(), lockTimeout: background ? 3600 : nil)
        if json {
            try Output.json(r)
            return
        }
        if r.leftoversDeleted > 0 {
            Output.out("deleted \(Output.count(r.leftoversDeleted, "pack file")) an interrupted repack left")
        }
        if r.packs == 0 {
            Output.out(
                recode ? "nothing to code: every audio blob is coded as pack.audio-codec says" : "nothing to code: every blob is coded")
            return
        }
        let ratio = r.bytesBefore > 0 ? String(format: " (%.0f%%)", 100 * Double(r.bytesAfter) / Double(r.bytesBefore)) : ""
        Output.out(
            "coded \(Output.count(r.blobs, "blob")) (\(Output.bytes(r.rawBytes))) in \(Output.count(r.packs, "pack")), which went from \(Output.bytes(r.bytesBefore)) to \(Output.bytes(r.bytesAfter))\(ratio)"
        )
    }

    /// `.dvs/repack.log` of the repository at `root`: what a background repack writes.
    static func logPath(root: String) -> String { root + "/.dvs/repack.log" }

    /// Starts `dvs repack --background` for the repository at `root` as a process of its own
    /// session (``CurrentProcess/spawnDetached(_:output:errors:)``), its output appended to
    /// `.dvs/repack.log`.
    /// - Returns: the child's pid, or nil when it could not be started (the caller says to run
    ///   `dvs repack`).
    static func startInBackground(root: String) -> pid_t? {
        let log = logPath(root: root)
        trimLog(log, unlessHeld: root + "/.dvs/repack.lock")
        return CurrentProcess.spawnDetached(["-C", root, "repack", "--background"], output: log, errors: log)
    }

    /// Keeps the log at `path` from growing without end: past `limit` bytes, it is replaced by
    /// its last `keep` bytes from a line's start (temp file and rename, the file's mode kept), unless a repack holds
    /// `lock` (its output still goes to the file it opened). Best effort: a failure leaves the
    /// log as it was.
    static func trimLog(_ path: String, unlessHeld lock: String, limit: Int = 1 << 20, keep: Int = 64 << 10) {
        var st = stat()
        guard stat(path, &st) == 0, Int(st.st_size) > limit, !RepositoryLock.isHeld(path: lock),
            let h = FileHandle(forReadingAtPath: path)
        else { return }
        defer { try? h.close() }
        guard (try? h.seek(toOffset: UInt64(Int(st.st_size) - keep))) != nil, let tail = try? h.readToEnd() else { return }
        // From the first whole line; a tail without a line feed (one huge line) is kept whole.
        let kept = tail.firstIndex(of: 0x0A).map { tail[($0 + 1)...] } ?? tail[...]
        let tmp = path + ".tmp-\(getpid())"
        let mode = NSNumber(value: st.st_mode & 0o7777)
        guard FileManager.default.createFile(atPath: tmp, contents: kept, attributes: [.posixPermissions: mode]) else { return }
        if rename(tmp, path) != 0 { unlink(tmp) }
    }
}
