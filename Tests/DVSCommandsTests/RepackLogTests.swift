import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVSCommands

/// `.dvs/repack.log`, which every background repack appends to, is cut back to its tail.
@Suite struct RepackLogTests {
    @Test func aLogPastItsLimitKeepsItsLastWholeLines() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let log = dir + "/repack.log"
            let lines = (0..<40000).map { "repack \($0): coded 12 blobs, 3.1 MiB → 1.6 MiB\n" }
            try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: log))
            let lock = dir + "/repack.lock"

            // A repack running: its output goes to the file it opened, so the file stays.
            let held = try RepositoryLock(path: lock, timeout: 1, command: "dvs repack --background")
            Repack.trimLog(log, unlessHeld: lock)
            #expect(try Data(contentsOf: URL(fileURLWithPath: log)).count == lines.joined().utf8.count)
            held.release()

            Repack.trimLog(log, unlessHeld: lock)
            let kept = try String(contentsOfFile: log, encoding: .utf8)
            #expect(kept.utf8.count <= 64 << 10 && kept.utf8.count > 60 << 10)
            #expect(kept.hasPrefix("repack ") && kept.hasSuffix(lines.last!))
            let count = kept.split(separator: "\n").count
            #expect(kept == lines.suffix(count).joined(), "the last \(count) lines, whole")
            #expect(!FileManager.default.fileExists(atPath: log + ".tmp-\(getpid())"))

            // Under the limit: left as it is.
            let before = try Data(contentsOf: URL(fileURLWithPath: log))
            Repack.trimLog(log, unlessHeld: lock)
            #expect(try Data(contentsOf: URL(fileURLWithPath: log)) == before)
        }
    }

    /// The trimmed log keeps its mode (it was reset to 0644), and a log whose tail has no line
    /// feed (one huge line) is trimmed too (it was left to grow).
    @Test func aTrimmedLogKeepsItsModeAndALogOfOneLineIsTrimmedToo() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let log = dir + "/repack.log"
            try Data(repeating: 0x41, count: 2 << 20).write(to: URL(fileURLWithPath: log))
            #expect(chmod(log, 0o600) == 0)
            Repack.trimLog(log, unlessHeld: dir + "/repack.lock")
            let kept = try Data(contentsOf: URL(fileURLWithPath: log))
            #expect(kept.count == 64 << 10 && kept.allSatisfy { $0 == 0x41 })
            let mode = try FileManager.default.attributesOfItem(atPath: log)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }
}
