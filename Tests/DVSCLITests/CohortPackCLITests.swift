import DVSTestSupport
import Foundation
import Testing

/// `dvs cohort create --pack` and `dvs cohort pack` (issue 15's request count): a cohort's frames
/// copied into packs of their own are read from a remote in a few long reads instead of about
/// one per sample; refresh then pack adds only what came in; `dvs gc` removes the packs once
/// the branch is deleted. End to end through the built binary, against a folder remote and moto.
@Suite(.serialized) struct CohortPackCLITests {
    /// The `frames` object of a `clone --branch --json`.
    func frames(_ r: TestSupport.Result) throws -> [String: Int] {
        let clone = try jsonObject(r)
        return try #require(clone["frames"] as? [String: Int], "\(clone)")
    }

    @Test(arguments: RemoteKind.allCases) func aPackedCohortIsReadInAFewLongReads(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try committedWithLongClips(a, remote, long: 10, tag: "x")  // one long clip a pack
            try dvsOK(["config", "pack.target-size", "16777216"], in: a, remote)  // a cohort's packs: one
            // Four long clips with two others between each: no read can merge them.
            let pick = "path IN ('clips/long-x-0.wav', 'clips/long-x-3.wav', 'clips/long-x-6.wav', 'clips/long-x-9.wav', 'clips/r1.wav')"
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)
            // The noise in the long clips is random: sizes vary from run to run.
            g.replace(matching: #"\d+(\.\d+)? (B|KiB|MiB)\b"#, with: "\\$SIZE")
            // And so does how many 1 MiB packs they fill (a CI run once found 7 where 8 is usual).
            g.replace(matching: #"checked \d+ packs?\b"#, with: "checked \\$PACKS packs")
            try dvsOK(["cohort", "create", "spread", "--where", pick], in: a, remote, golden: g)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["push", "--all"], in: a, remote)
            let spread = try frames(
                dvsOK(["clone", remote.url, dir + "/s", "--branch", "cohort/spread", "--json"] + remote.args, in: dir, remote))

            // The same five samples, laid out by --pack.
            try dvsOK(["cohort", "create", "packed", "--where", pick, "--pack"], in: a, remote, golden: g)
            try dvsOK(["cohort", "pack", "packed"], in: a, remote, golden: g)  // nothing left to copy
            try dvsOK(["fsck"], in: a, remote, golden: g)  // the copies are checked too
            // A cohort of the same rows, packed too, makes the same pack byte for byte: listed for
            // both (it was listed for the first only, and gc took it when that one was deleted).
            try dvsOK(["cohort", "create", "twin", "--where", pick, "--pack"], in: a, remote)
            let twin = try jsonObject(dvsOK(["cohort", "pack", "twin", "--json"], in: a, remote))
            #expect(twin["blobs"] as? Int == 0, "the twin's frames are listed for it: \(twin)")
            try dvsOK(["push", "--all"], in: a, remote)
            let packed = try frames(
                dvsOK(["clone", remote.url, dir + "/p", "--branch", "cohort/packed", "--json"] + remote.args, in: dir, remote))
            #expect(spread["blobs"] == 6 && packed["blobs"] == 6, "five clips and the label table: \(spread) \(packed)")
            #expect(spread["requests"]! >= 4, "four long clips far apart in the source's packs: \(spread)")
            #expect(packed["requests"] == 1, "one pack holds the cohort: \(packed) (spread: \(spread))")
            let indexes = packed["pack_indexes"]!
            #expect(packed["bytes_downloaded"]! <= Int(Double(packed["frame_bytes"]!) * 1.15) + indexes * 16384, "\(packed)")
            try dvsOK(["checkout", "cohort/packed", "--to", dir + "/want"], in: a, remote)
            try T.sh("rm -rf '\(dir)/got' && mkdir '\(dir)/got' && cp -r '\(dir)/p/clips' '\(dir)/p/labels.csv' '\(dir)/got/'")
            #expect(try T.sh("diff -r '\(dir)/want' '\(dir)/got' && echo same").contains("same"), "byte-exact")
            #expect(try dvsOK(["fsck"], in: dir + "/p", remote).stdout.contains(": ok"))
            // A full clone takes the source's packs, not the cohort's copy of their frames.
            let cohortPack = try #require(
                try String(contentsOfFile: a + "/.dvs/cohort-packs", encoding: .utf8).split(separator: " ").first.map(String.init))
            try dvsOK(["clone", remote.url, dir + "/full"] + remote.args, in: dir, remote)
            let fullPacks = try FileManager.default.contentsOfDirectory(atPath: dir + "/full/.dvs/packs")
            let remotePacks = try remote.packs().count
            #expect(!fullPacks.contains(cohortPack + ".pack") && fullPacks.count == remotePacks - 1, "\(fullPacks)")

            // A refresh brings in one more clip; packing again copies that clip only.
            try addLongClips(a, count: 1, tag: "z")
            try dvsOK(["commit", "-m", "one more"], in: a, remote)
            let wider = "path LIKE 'clips/long-z-%'"
            try dvsOK(["cohort", "create", "z", "--where", wider, "--pack"], in: a, remote)
            try addLongClips(a, count: 2, tag: "z")  // long-z-0 with new noise, and long-z-1
            try dvsOK(["commit", "-m", "two more"], in: a, remote)
            try dvsOK(["cohort", "refresh", "z"], in: a, remote)
            let again = try jsonObject(dvsOK(["cohort", "pack", "z", "--json"], in: a, remote))
            #expect(again["blobs"] as? Int == 2 && again["packs"] as? Int == 1, "the two new clips, in one pack: \(again)")

            // A reindex keeps the cohorts' copies (every frame in them is in a source pack too)
            // and indexes the source's packs for those frames, so that gc can still take them.
            let before = try FileManager.default.contentsOfDirectory(atPath: a + "/.dvs/packs").count
            let reindexed = try jsonObject(dvsOK(["reindex", "--json"], in: a, remote))
            #expect(reindexed["repack_leftovers_deleted"] as? Int == 0, "\(reindexed)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: a + "/.dvs/packs").count == before)

            // Deleting the branch lets gc remove its packs; main and the other cohort stay whole.
            try dvsOK(["branch", "-D", "cohort/packed"], in: a, remote, golden: g)
            try dvsOK(["gc", "--prune", "now"], in: a, remote)
            #expect(FileManager.default.fileExists(atPath: a + "/.dvs/packs/\(cohortPack).pack"), "the twin still lists it")
            try dvsOK(["branch", "-D", "cohort/twin"], in: a, remote)
            try dvsOK(["gc", "--prune", "now"], in: a, remote, golden: g)
            let after = try FileManager.default.contentsOfDirectory(atPath: a + "/.dvs/packs").count
            #expect(after < before && !FileManager.default.fileExists(atPath: a + "/.dvs/packs/\(cohortPack).pack"), "\(before) → \(after)")
            let listed = try String(contentsOfFile: a + "/.dvs/cohort-packs", encoding: .utf8)
            #expect(!listed.contains("cohort/packed") && listed.contains("refs/heads/cohort/z"), "\(listed)")
            #expect(try dvsOK(["fsck"], in: a, remote).stdout.contains(": ok"))
            try dvsOK(["checkout", "cohort/spread", "--to", dir + "/again"], in: a, remote)
            #expect(
                try T.sh("diff -r '\(dir)/want' '\(dir)/again' && echo same").contains("same"), "the cohort's samples are all still here")
            try dvsOK(["checkout", "main", "--to", dir + "/main"], in: a, remote)
            #expect(try T.sh("diff -r '\(a)/clips' '\(dir)/main/clips' && echo same").contains("same"), "and main's")

            // A damaged byte in a cohort pack's copy is found, though the catalog reads the source's.
            let zPack = try #require(
                try String(contentsOfFile: a + "/.dvs/cohort-packs", encoding: .utf8).split(separator: "\n").last?.split(separator: " ")
                    .first.map(String.init))
            try T.sh("printf 'X' | dd of='\(a)/.dvs/packs/\(zPack).pack' bs=1 seek=20000 conv=notrunc status=none")
            let damaged = try T.dvs(["fsck"], in: a, environment: remote.env)
            #expect(damaged.status == 1 && damaged.stdout.contains(zPack), "\(damaged.stdout)\(damaged.stderr)")
            try g.verify()
        }
    }
}
