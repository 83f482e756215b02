import DVSTestSupport
import Foundation
import Testing

/// Metadata bundles (`bundles/<commit>.bundle`, issue 15's time to first sample): a push puts
/// each new commit's metadata in one remote object, so a clone reads one GET per commit instead
/// of one per object; a damaged, truncated or missing bundle falls back to `objects/`, verified
/// object by object, and the clone is the same. End to end through the built binary, against a
/// folder remote and moto.
@Suite(.serialized) struct MetadataBundleCLITests {
    @Test(arguments: RemoteKind.allCases) func aCloneReadsEachCommitsMetadataInOneRequest(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try T.speak("a second commit", to: a + "/clips/second.wav")
            try dvsOK(["commit", "-m", "second"], in: a, remote)
            try dvsOK(["branch", "side"], in: a, remote)
            try dvsOK(["checkout", "side"], in: a, remote)
            try T.speak("a commit on the side branch", to: a + "/clips/side.wav")
            try dvsOK(["commit", "-m", "side"], in: a, remote)
            try dvsOK(["checkout", "main"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)

            let store = try remote.store()
            let bundles = try store.list(prefix: "bundles/").map(\.key)
            let objects = try store.list(prefix: "objects/").count
            #expect(bundles.count == 3, "one bundle per commit: \(bundles)")

            // Every object in a bundle: one request per commit, none under objects/.
            var stderr = ""
            func clone(_ name: String) throws -> [String: Any] {
                let r = try dvsOK(["clone", remote.url, dir + "/" + name, "--json"] + remote.args, in: dir, remote)
                stderr = r.stderr
                let c = try jsonObject(r)
                #expect(try dvsOK(["fsck"], in: dir + "/" + name, remote).status == 0, "\(name)")
                let (same, diff) = try T.treesEqual(a, dir + "/" + name)
                #expect(same, "\(name): \(diff)")
                return c
            }
            let whole = try clone("whole")
            #expect(whole["metadata_requests"] as? Int == 3, "\(whole)")
            #expect(whole["objects_downloaded"] as? Int == objects, "every metadata object, from the bundles: \(whole)")

            // A branch's clone reads its own history's bundles only.
            let mainOnly = try jsonObject(
                dvsOK(["clone", remote.url, dir + "/main-only", "--branch", "main", "--json"] + remote.args, in: dir, remote))
            #expect(mainOnly["metadata_requests"] as? Int == 2, "base and second: \(mainOnly)")

            // A flipped byte in one bundle's frame and another bundle cut short: those objects come
            // from objects/ instead, each checked; the clone is the same.
            let head = try #require(try remote.ref("main"))
            let sideHead = try #require(try remote.ref("side"))
            // A byte in the middle of every frame of the first (8 magic bytes; per object an id
            // of 32, a UInt32 LE length, the frame).
            var flipped = [UInt8](try #require(try store.get("bundles/\(head).bundle")))
            var at = 8
            var inFlipped = 0
            while at + 36 <= flipped.count {
                inFlipped += 1
                let n = (0..<4).reduce(0) { $0 | Int(flipped[at + 32 + $1]) << (8 * $1) }
                flipped[at + 36 + n / 2] ^= 0x55
                at += 36 + n
            }
            try store.put("bundles/\(head).bundle", Data(flipped))
            let cut = try #require(try store.get("bundles/\(sideHead).bundle"))
            try store.put("bundles/\(sideHead).bundle", cut.prefix(cut.count - 3))
            var inCut = 0  // objects in the side's bundle, all read loose once it is cut short
            at = 8
            while at + 36 <= cut.count {
                inCut += 1
                at += 36 + (0..<4).reduce(0) { $0 | Int(cut[at + 32 + $1]) << (8 * $1) }
            }
            let damaged = try clone("damaged")
            let n = try #require(damaged["metadata_requests"] as? Int)
            #expect(n == 3 + inFlipped + inCut, "the two bundles' objects read loose (\(inFlipped) + \(inCut)): \(damaged)")
            #expect(damaged["objects_downloaded"] as? Int == objects, "\(damaged)")
            // Named, not passed over in silence; `remote verify` finds both and --repair deletes them.
            for c in [head, sideHead] {
                #expect(stderr.contains("note: bundles/\(c).bundle on 'origin' was not used ("), "\(stderr)")
            }
            let read = inCut - 1 == 1 ? "1 whole object" : "\(inCut - 1) whole objects"
            #expect(
                stderr.contains("bundles/\(sideHead).bundle on 'origin' was not used (it is cut short after \(read))"), "\(stderr)")
            let found = try T.dvs(["remote", "verify", "origin", "--json"], in: a, environment: remote.env)
            #expect(found.status == 1)
            let report = try jsonObject(found)
            let bad = (report["damaged"] as? [[String: Any]] ?? []).map { "\($0["key"]!) \($0["kind"]!)" }.sorted()
            #expect(bad == ["bundles/\(head).bundle bundle", "bundles/\(sideHead).bundle bundle"].sorted(), "\(bad)")
            // --repair writes them again from this repository's objects: one request a commit again.
            let repaired = try dvsOK(["remote", "verify", "origin", "--repair"], in: a, remote)
            #expect(repaired.stdout.contains("repaired bundles/\(head).bundle (it was damaged: object '"), "\(repaired.stdout)")
            try dvsOK(["remote", "verify", "origin"], in: a, remote)
            let mended = try clone("mended")
            #expect(mended["metadata_requests"] as? Int == 3, "\(mended)")
            #expect(mended["damaged_bundles"] as? [String: String] == [:], "\(mended)")

            // A bundle that cannot be read at all (here a folder where the file should be; on S3 a
            // policy scoped to objects/, a timeout) is passed over with a note, not fatal.
            if kind == .path {
                let key = try #require(try store.list(prefix: "bundles/").first?.key)  // the intact one
                let saved = try #require(try store.get(key))
                try store.delete(key)
                try FileManager.default.createDirectory(atPath: remote.url + "/" + key, withIntermediateDirectories: true)
                _ = try clone("unreadable")
                #expect(stderr.contains("note: \(key) on 'origin' was not used (it cannot be read"), "\(stderr)")
                try FileManager.default.removeItem(atPath: remote.url + "/" + key)
                try store.put(key, saved)
            }

            // A remote pushed before bundles existed: one miss per commit, then every object loose.
            for k in bundles { try store.delete(k) }
            let old = try clone("old")
            #expect(old["metadata_requests"] as? Int == 3 + objects, "\(old)")
            #expect(old["objects_downloaded"] as? Int == objects, "\(old)")

            // A push of a new commit sends its bundle; the old commits' are not sent again.
            try T.speak("a third commit", to: a + "/clips/third.wav")
            try dvsOK(["commit", "-m", "third"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            #expect(try store.list(prefix: "bundles/").map(\.key) == ["bundles/\(try #require(try remote.ref("main"))).bundle"])
            let fetched = try jsonObject(dvsOK(["fetch", "--json"], in: dir + "/whole", remote))
            #expect(fetched["metadata_requests"] as? Int == 1 && (fetched["objects_downloaded"] as? Int ?? 0) > 1, "\(fetched)")
        }
    }
}
