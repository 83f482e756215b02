import DVS
import DVSTestSupport
import Foundation
import Synchronization
import Testing

/// Hooks' output reaches the caller, not the process's own stdout or stderr: stdout through
/// `CommitOptions.hookOutput`, stderr in the refusal's details or the summary.
@Suite struct HookOutputTests {
    func install(_ hook: Hook, _ script: String, in repo: Repository) throws {
        try FileManager.default.createDirectory(atPath: repo.dvsDir + "/hooks", withIntermediateDirectories: true)
        try ("#!/bin/sh\n" + script).write(toFile: repo.hookPath(hook), atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: repo.hookPath(hook))
    }

    @Test func hookStdoutGoesToTheHandlerAndStderrBackToTheCaller() throws {
        try TestSupport.withTemporaryRepository { repo in
            try "x".write(toFile: repo.root + "/a.txt", atomically: true, encoding: .utf8)
            try install(.preCommit, "cat > /dev/null\necho checking\necho 'too short' >&2\nexit 1\n", in: repo)
            try install(.postCommit, "echo \"committed $1\"\necho 'post note' >&2\n", in: repo)
            let seen = Mutex(Data())
            var options = CommitOptions(message: "one")
            options.hookOutput = { chunk in seen.withLock { $0.append(chunk) } }
            let refused = #expect(throws: DVSError.self) { try repo.commit(options) }
            #expect(refused?.details == ["pre-commit: too short"])
            #expect(refused?.next == .fixOrSkipPreCommitHook)
            #expect(seen.withLock { String(decoding: $0, as: UTF8.self) } == "checking\n")

            seen.withLock { $0 = Data() }
            options.noVerify = true
            let s = try repo.commit(options)
            #expect(seen.withLock { String(decoding: $0, as: UTF8.self) } == "committed \(s.id.hex)\n")
            #expect(s.postCommitOutput == "post note\n")

            // Without a handler the hook's stdout is dropped (the commit still works).
            try "y".write(toFile: repo.root + "/a.txt", atomically: true, encoding: .utf8)
            var quiet = CommitOptions(message: "two")
            quiet.noVerify = true
            #expect(try repo.commit(quiet).postCommitOutput == "post note\n")
        }
    }
}
