import DVSTestSupport
import Foundation
import Testing

@testable import DVSRemote

/// Issue 13 §3 "Damage spreads to the remote": push checks what it uploads, and
/// `dvs remote verify [--repair]` finds and repairs a damaged remote from a good copy.
@Suite(.serialized) struct RemoteVerifyCLITests {
    /// The packs in `.dvs/packs` (file names).
    static func packFiles(_ repo: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: repo + "/.dvs/packs").filter { $0.hasSuffix(".pack") })
    }

    /// A damaged local pack (truncated, a byte flipped inside a frame, emptied, deleted) that push
    /// would upload fails the push before anything is sent: the error names the pack file, no ref
    /// moves, the remote gets no pack; restoring the file (the hint) lets the push through.
    @Test func pushRefusesADamagedLocalPack() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.s3, dir: dir)
            let a = dir + "/a"
            try pushedDataset(a, remote)
            let oldRef = try #require(try remote.ref("main"))
            let before = try Self.packFiles(a)
            try T.speak("this clip is damaged before it is pushed", to: a + "/clips/late.wav")
            try T.sh("echo 'clips/late.wav,en,late' >> labels.csv", in: a)
            try dvsOK(["commit", "-m", "late"], in: a, remote)
            let pack = try #require(try Self.packFiles(a).subtracting(before).first)
            let remotePacks = try remote.packs()

            let g = Golden(replacing: [dir: "$TMP"])
            let damages = [
                ("truncated", "truncate -s $(( $(stat -c %s P) / 2 )) P"),
                ("flipped", "printf '\\x55' | dd of=P bs=1 seek=40 conv=notrunc status=none"),
                ("emptied", ": > P"),
                ("deleted", "rm P"),
            ]
            for (name, command) in damages {
                let copy = dir + "/" + name
                try T.sh("cp -a '\(a)' '\(copy)'")
                try T.sh(command.replacingOccurrences(of: "P", with: ".dvs/packs/\(pack)"), in: copy)
                let r = try T.dvs(["push"], in: copy, environment: remote.env)
                g.append(["push"], in: copy, r)
                #expect(r.status == 1, "\(name): \(r.stderr)")
                #expect(r.stderr.contains(".dvs/packs/\(pack)"), "\(name): the error names the pack file: \(r.stderr)")
                #expect(r.stderr.contains("nothing was uploaded and no ref moved"), "\(name): \(r.stderr)")
                #expect(try remote.ref("main") == oldRef, "\(name): the remote ref did not move")
                #expect(try remote.packs() == remotePacks, "\(name): no pack was uploaded")
            }
            // The hint works: with the file restored from another copy, the push goes through.
            let copy = dir + "/deleted"
            try T.sh("cp '\(a)/.dvs/packs/\(pack)' '\(copy)/.dvs/packs/'")
            try dvsOK(["push"], in: copy, remote, golden: g)
            #expect(try remote.ref("main") != oldRef)
            try dvsOK(["clone", remote.url, dir + "/c"] + remote.args, in: dir, remote)
            #expect(try T.dvs(["fsck"], in: dir + "/c").status == 0)
            try g.verify()
        }
    }

    /// A remote pack listed at another size than the local copy (truncated there) is uploaded
    /// again by the next push that moves a ref, with a note; a clone then works.
    @Test func pushReplacesARemotePackOfTheWrongSize() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            try pushedDataset(a, remote)
            let key = try #require(try remote.packs().first)
            try T.sh("truncate -s 100 '\(remote.url)/\(key)'")
            try T.speak("a clip after the remote lost half a pack", to: a + "/clips/late.wav")
            try T.sh("echo 'clips/late.wav,en,late' >> labels.csv", in: a)
            try dvsOK(["commit", "-m", "late"], in: a, remote)
            let r = try dvsOK(["push", "--json"], in: a, remote)
            let o = try jsonObject(r)
            #expect(o["packs_replaced"] as? Int == 1)
            #expect(o["packs_uploaded"] as? Int == 2, "the replaced pack and the new one")
            #expect(r.stderr.contains("1 pack on 'origin' had another size"), "\(r.stderr)")
            try dvsOK(["clone", remote.url, dir + "/c"], in: dir, remote)
            #expect(try T.dvs(["fsck"], in: dir + "/c").status == 0)
            let (same, diff) = try T.treesEqual(a, dir + "/c")
            #expect(same, "\(diff)")
        }
    }

    /// Verify in a repository whose own copy is the damaged one (a frame flipped, a pack
    /// truncated) does not blame the remote: its packs are judged by their own content (an ETag
    /// that differs from a damaged copy proves nothing), the local damage is a note, and
    /// `--repair` uploads nothing.
    @Test func verifyFromADamagedCopyDoesNotBlameTheRemote() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.s3, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            try T.speak("a second pack for the damaged copy", to: a + "/clips/late.wav")
            try T.sh("echo 'clips/late.wav,en,late' >> labels.csv", in: a)
            try dvsOK(["commit", "-m", "late"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let packs = try Self.packFiles(a).sorted()
            try #require(packs.count == 2)
            try T.sh("printf '\\x55' | dd of=.dvs/packs/\(packs[0]) bs=1 seek=40 conv=notrunc status=none", in: a)
            try T.sh("truncate -s 100 .dvs/packs/\(packs[1])", in: a)
            let before = try remote.store().list(prefix: "packs/").map { "\($0.key) \($0.etag ?? "")" }
            let r = try dvsOK(["remote", "verify", "origin", "--repair", "--json"], in: a, remote)
            let o = try jsonObject(r)
            #expect((o["damaged"] as? [Any])?.isEmpty == true, "\(r.stdout)")
            #expect(o["bytes_uploaded"] as? Int == 0)
            let notes = o["notes"] as? [String] ?? []
            #expect(notes.contains { $0.contains(".dvs/packs/\(packs[1])") }, "\(notes)")
            #expect(try remote.store().list(prefix: "packs/").map { "\($0.key) \($0.etag ?? "")" } == before, "nothing uploaded")
        }
    }

    /// Keys damaged on the remote (a pack deleted, one truncated, one with a byte flipped, an
    /// object deleted) make a clone fail naming the key and the repair; `remote verify` lists each,
    /// `--repair` from the good copy uploads verified copies, and a clone then works, fsck clean.
    @Test(arguments: RemoteKind.allCases) func verifyFindsAndRepairsDamagedKeys(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "base"], in: a, remote)
            var order: [String] = []
            var seen = Set<String>()
            func newPack() throws {
                let p = try #require(try Self.packFiles(a).subtracting(seen).first)
                order.append("packs/" + p)
                seen.insert(p)
            }
            try newPack()
            for i in 1...2 {
                try T.speak("late clip number \(i) for the remote check", to: a + "/clips/late\(i).wav")
                try T.sh("echo 'clips/late\(i).wav,en,late \(i)' >> labels.csv", in: a)
                try dvsOK(["commit", "-m", "late \(i)"], in: a, remote)
                try newPack()
            }
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)
            try dvsOK(["remote", "verify", "origin"], in: a, remote, golden: g)

            let store = try remote.store()
            try store.delete(order[0])
            let truncated = try #require(try store.get(order[1]))
            try store.put(order[1], truncated.prefix(truncated.count / 2))
            var flipped = try #require(try store.get(order[2]))
            flipped[40] ^= 0x55  // inside the first frame: the index still hashes to the id
            try store.put(order[2], flipped)
            let head = try #require(try remote.ref("main"))
            try store.delete("objects/" + head)
            try store.delete("bundles/\(head).bundle")  // else a reader takes the commit from there

            // A clone names what is wrong and says how to repair; it checks nothing out.
            let failed = try T.dvs(["clone", remote.url, dir + "/bad"] + remote.args, in: dir, environment: remote.env)
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("objects/\(head)"), "\(failed.stderr)")
            #expect(failed.stderr.contains("dvs remote verify origin --repair"), "\(failed.stderr)")
            g.append(["clone", remote.url, dir + "/bad"] + remote.args, in: dir, failed)

            let found = try T.dvs(["remote", "verify", "origin", "--json"], in: a, environment: remote.env)
            #expect(found.status == 1)
            let report = try jsonObject(found)
            let damaged = (report["damaged"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
            #expect(Set(damaged) == Set(order + ["objects/" + head]), "\(damaged)")
            try #require(try T.dvs(["remote", "verify", "origin"], in: a, environment: remote.env).status == 1)
            g.append(["remote", "verify", "origin"], in: a, try T.dvs(["remote", "verify", "origin"], in: a, environment: remote.env))
            #expect(try remote.ref("main") == head, "verify changes nothing")
            #expect(try store.get(order[0]) == nil, "verify without --repair uploads nothing")

            try dvsOK(["remote", "verify", "origin", "--repair"], in: a, remote, golden: g)
            try dvsOK(["remote", "verify", "origin"], in: a, remote, golden: g)
            try dvsOK(["clone", remote.url, dir + "/c"] + remote.args, in: dir, remote)
            #expect(try T.dvs(["fsck"], in: dir + "/c").status == 0)
            let (same, diff) = try T.treesEqual(a, dir + "/c")
            #expect(same, "\(diff)")
            try g.verify()
        }
    }
}
