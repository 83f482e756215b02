import ArgumentParser
import DVS
import DVSCatalog
import DVSCore
import Foundation

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "List new, modified and deleted files against HEAD, with the samples and hours of audio affected.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    // JSON output keys are snake_case, units in the names.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct JSONStatus: Encodable {
        var branch: String?
        var head: String?
        var clean: Bool
        var changes: [JSONChange]
        var samples_affected: Int
        var hours_affected: Double
        var files: Int
        var hashed_files: Int
        var warnings: [ScanWarning]
        var merging: String?
        var conflicts: [MergeConflict]?
        var unresolved: [String]?
        /// Audio a commit stored as it is, still to be coded by `dvs repack`; absent when none.
        var pending_repack: JSONPendingRepack?
    }

    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct JSONPendingRepack: Encodable {
        var packs: Int
        var raw_bytes: UInt64
        var running: Bool
        /// The running repack as it recorded itself (`pid 1234: dvs repack`); absent when none runs.
        var running_repack: String?
        /// The running repack's process id, when the lock file or the system gives it.
        var running_repack_pid: Int32?
    }

    /// The line saying that audio waits to be coded (`Repository.pendingRepack()`), or nil.
    static func pendingRepackLine(_ p: (packs: Int, rawBytes: UInt64), running: String?, lastLogLine: String? = nil) -> String? {
        guard p.packs > 0 else { return nil }
        let what = "\(Output.bytes(p.rawBytes)) of audio in \(Output.count(p.packs, "pack")) is stored uncoded"
        if let running { return "\(what); a repack is coding it (\(running))" }
        if let last = lastLogLine, !backgroundRepackFinished(lastLogLine: last) {
            return "\(what); the repack started in the background did not finish (.dvs/repack.log): 'dvs repack' codes it"
        }
        return "\(what); 'dvs repack' codes it (no repack is running)"
    }

    /// Whether the last line `dvs repack --background` wrote to its log is one a finished repack
    /// writes (`coded …`, `nothing to code …`); a start line or an error means it was killed or
    /// failed.
    static func backgroundRepackFinished(lastLogLine line: String) -> Bool {
        line.hasPrefix("coded ") || line.hasPrefix("nothing to code")
    }

    /// The last line of `.dvs/repack.log` (read from its last 4 KiB), or nil when there is none.
    static func lastRepackLogLine(root: String) -> String? {
        guard let h = FileHandle(forReadingAtPath: Repack.logPath(root: root)) else { return nil }
        defer { try? h.close() }
        let end = (try? h.seekToEnd()) ?? 0
        try? h.seek(toOffset: end > 4096 ? end - 4096 : 0)
        let text = String(decoding: (try? h.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(separator: "\n").last.map(String.init)
    }

    /// Trees of at least this many files get the hint of ``suggestMonitor(_:files:)``.
    static let monitorHintFiles = 100_000

    /// On Linux, when `core.fsmonitor` was never set and the tree has at least
    /// ``monitorHintFiles`` files (each one `lstat`ed by this status), says on stderr how to make
    /// status and commit look only at what changed — as git advises on slow untracked-file scans.
    /// Setting `core.fsmonitor` to `false` silences it.
    static func suggestMonitor(_ repo: Repository, files: Int) {
        #if os(Linux)
            guard files >= monitorHintFiles, ((try? repo.catalog.config("core.fsmonitor")) ?? nil) == nil else { return }
            Output.err(
                "hint: \(files) files were each looked at; 'dvs config core.fsmonitor true' makes status and commit look only at what changed (or set it to false to hide this hint)"
            )
        #endif
    }

    func run() throws {
        let repo = try global.repository()
        // The warning that an interrupted operation could not be finished (files named) came
        // on stderr as the repository opened; the way out follows it.
        if let stuck = repo.interruptedOperationFailure, let h = Hints.hint(for: stuck) { Output.err("hint: \(h)") }
        if let url = repo.unfinishedClone {
            Output.err(
                "note: the clone\(url.isEmpty ? "" : " of '\(url)'") into this folder did not finish: run the same 'dvs clone' again (with its --branch, if it had one) to resume it"
            )
        }
        let s = try repo.status(progress: json ? nil : Output.progress())
        var branch: String?
        if case .branch(let b, _) = s.head { branch = b }
        let merge = repo.mergeInProgress()
        let pending = try repo.pendingRepack()
        let repacking = pending.packs > 0 ? repo.runningRepack : nil
        if json {
            try Output.json(
                JSONStatus(
                    branch: branch, head: s.head.commit?.hex, clean: s.changes.isEmpty, changes: s.changes.map(JSONChange.init),
                    samples_affected: s.samplesAffected, hours_affected: (s.hoursAffected * 1e6).rounded() / 1e6,
                    files: s.fileCount, hashed_files: s.hashedFiles, warnings: s.warnings,
                    merging: merge?.theirs, conflicts: merge?.conflicts, unresolved: merge?.unresolved,
                    pending_repack: pending.packs > 0
                        ? JSONPendingRepack(
                            packs: pending.packs, raw_bytes: pending.rawBytes, running: repacking != nil,
                            running_repack: repacking?.description, running_repack_pid: repacking?.pid) : nil))
            return
        }
        Self.suggestMonitor(repo, files: s.fileCount)
        switch s.head {
        case .branch(let b, let c): Output.out(c == nil ? "On branch \(b) (no commits yet)" : "On branch \(b)")
        case .detached(let c): Output.out("HEAD detached at \(c.short)")
        }
        for w in s.warnings { Output.warn(w) }
        if let line = Self.pendingRepackLine(
            pending, running: repacking?.description,
            lastLogLine: pending.packs > 0 && repacking == nil ? Self.lastRepackLogLine(root: repo.root) : nil)
        {
            Output.out(line)
        }
        if let m = repo.mergeInProgress() {
            if m.conflicts.isEmpty {
                Output.out(
                    "You are merging \(m.theirs) (not committed yet): 'dvs merge --continue' commits it, 'dvs merge --abort' undoes it")
            } else {
                Output.out(
                    "You are merging \(m.theirs): \(Output.count(m.conflicts.count, "conflict")) recorded, \(m.unresolved.count) still unresolved in the tree"
                )
                for c in m.conflicts { Output.out("  CONFLICT (\(c.kind.rawValue)) \(c.message)") }
                for u in m.unresolved { Output.out("  unresolved: \(u)") }
                Output.out("  (fix them, then 'dvs merge --continue'; 'dvs merge --abort' undoes the merge)")
            }
        }
        if s.changes.isEmpty {
            Output.out("nothing to commit, working tree clean")
            return
        }
        // A deleted file whose content was added under a new path is a rename (`renamePairs`, as
        // in 'dvs diff'): one line, old → new, and not counted as a changed sample.
        let rows = changeRows(s.changes)
        var renamed = 0
        var renamedSamples = 0
        var renamedHours = 0.0
        for (i, to) in rows where to != nil {
            renamed += 1
            if let a = s.changes[i].old?.audio {
                renamedSamples += 2
                renamedHours += 2 * a.duration / 3600
            }
        }
        let samples = s.samplesAffected - renamedSamples
        let hours = max(0, s.hoursAffected - renamedHours)
        if samples == 0 {
            Output.out(
                "Changes against HEAD: \(Output.count(rows.count, "file")), no audio content\(renamed == 0 ? "" : " (\(renamed) renamed)")")
        } else {
            Output.out(
                "Changes against HEAD: \(Output.count(rows.count, "file")); \(Output.count(samples, "sample")), \(Output.hours(hours)) of audio\(renamed == 0 ? "" : "; \(renamed) renamed")"
            )
        }
        for (i, to) in rows {
            let c = s.changes[i]
            if let to { Output.out("  renamed:  \(c.path) → \(s.changes[to].path)") } else { Output.out("  \(c.label)\(c.path)") }
        }
    }
}
