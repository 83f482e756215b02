import ArgumentParser
import DVS
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct Repack: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repack", abstract: "Code the audio a large commit stored as it is.",
        discussion: """
            A commit codes its first pack.defer-audio-after bytes of audio (default 64 MiB) as it \
            writes them and stores the rest as it is, so that importing a corpus costs about what \
            copying it does. This codes those blobs as the commit would have (pack.audio-codec), \
            one pack at a time, each blob verified before and after. Other commands wait for the \
            lock at most one pack's step. After such a commit dvs starts it in the background \
            (pack.auto-repack, default true; its output goes to .dvs/repack.log), and dvs push runs \
            it first, so that a remote never receives uncoded audio. Running it again does nothing \
            more.
            """)

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print JSON.") var json = false

    func run() throws {
        let repo = try global.repository()
        let r = try repo.repack(progress: json ? nil : Output.progress())
        if json {
            try Output.json(r)
            return
        }
        if r.leftoversDeleted > 0 {
            Output.out("deleted \(r.leftoversDeleted) pack file(s) an interrupted repack left")
        }
        if r.packs == 0 {
            Output.out("nothing to code: every blob is coded")
            return
        }
        let ratio = r.bytesBefore > 0 ? String(format: " (%.0f%%)", 100 * Double(r.bytesAfter) / Double(r.bytesBefore)) : ""
        Output.out(
            "coded \(r.blobs) blob(s) (\(Output.bytes(r.rawBytes))) in \(r.packs) pack(s): \(Output.bytes(r.bytesBefore)) → \(Output.bytes(r.bytesAfter))\(ratio)"
        )
    }

    /// Starts `dvs repack` for the repository at `root` as a process of its own session, so that
    /// it outlives this one and a Ctrl-C at the terminal does not reach it; its stdout and stderr
    /// are appended to `.dvs/repack.log`, stdin is /dev/null. The executable is this process's
    /// own (`/proc/self/exe`).
    /// - Returns: the child's pid, or nil when it could not be started (the caller says to run
    ///   `dvs repack`).
    static func startInBackground(root: String) -> pid_t? {
        var exe = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &exe, exe.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: exe[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        let log = root + "/.dvs/repack.log"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // POSIX_SPAWN_SETSID (glibc ≥ 2.26, <spawn.h>), which Swift does not import: it is
        // declared under _GNU_SOURCE.
        let setsid: Int16 = 0x80
        posix_spawnattr_setflags(&attributes, setsid)
        let args = [path, "-C", root, "repack"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, path, &actions, &attributes, &argv, environ) == 0 else { return nil }
        return pid
    }
}
