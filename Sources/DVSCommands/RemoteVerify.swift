import ArgumentParser
import DVS
import Foundation

extension RemoteCommand {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Check a remote against this repository; --repair re-uploads what is damaged or missing.",
            discussion: """
                Checks every pack and object the remote's refs need (as far as this repository has their commits), \
                those commits' metadata bundles, and every remote pack this repository also has: sizes from a listing, S3 ETags against this \
                repository's copies, else the content by ranged GETs, each frame hashed. With --repair, verified \
                local copies are uploaded over damaged and missing keys (a damaged bundle is written again from this repository's objects). Exit status 1 if anything is left damaged.
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The remote.") var remote: String = "origin"
        @Flag(help: "Upload this repository's verified copies over damaged and missing keys.") var repair = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let repo = try global.repository()
            let s = try repo.verifyRemote(remote: remote, repair: repair, progress: json ? nil : Output.progress())
            if json {
                try Output.jsonObject([
                    "remote": s.remote, "packs_checked": s.packsChecked, "objects_checked": s.objectsChecked,
                    "damaged": s.damaged.map { d -> [String: Any] in
                        ["key": d.key, "kind": d.kind.rawValue, "problem": d.problem.description, "repaired": d.repaired]
                    },
                    "notes": s.notes, "bytes_downloaded": s.bytesDownloaded, "bytes_uploaded": s.bytesUploaded,
                    "seconds": (s.seconds * 1000).rounded() / 1000, "clean": s.isClean,
                ])
            } else {
                for n in s.notes { Output.out("note: \(n)") }
                for d in s.damaged {
                    let missing = d.problem == .missing
                    if d.repaired {
                        Output.out("repaired \(d.key) (it was \(missing ? "missing" : "damaged: \(d.problem)"))")
                    } else {
                        Output.out(missing ? "missing \(d.key)" : "damaged \(d.key): \(d.problem)")
                    }
                }
                let summary =
                    "checked \(Output.count(s.packsChecked, "pack")) and \(Output.count(s.objectsChecked, "object")) on '\(s.remote)'"
                if s.damaged.isEmpty {
                    Output.out(summary + ": ok")
                } else if s.isClean {
                    Output.out(summary + ": repaired \(Output.count(s.damaged.count, "key")), \(Output.bytes(s.bytesUploaded)) uploaded")
                } else {
                    let left = s.damaged.filter { !$0.repaired }.count
                    Output.out(summary + ": \(Output.count(left, "key")) damaged or missing")
                    Output.err(
                        repair
                            ? "hint: this repository has no good copy of them; run the repair from a repository that has ('dvs fsck' there first)"
                            : "hint: run 'dvs remote verify \(s.remote) --repair' to upload this repository's verified copies over them")
                }
            }
            if !s.isClean { throw ExitCode(1) }
        }
    }
}
