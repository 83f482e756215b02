import DVSTestSupport
import Foundation
import Testing

/// `dvs commit -m MESSAGE PATH…`: a commit of some files and folders, the rest left as HEAD has it.
@Suite(.serialized) struct CommitPathsCLITests {
    @Test func commitOfSomePaths() throws {
        try T.withTemporaryDirectory { dir in
            let recordings = T.debianRecordings(limit: 3)
            try #require(recordings.count >= 3, "install alsa-utils (see README)")
            try T.sh(
                "mkdir -p clips other && sox -R '\(recordings[0])' -r 16000 -c 1 -b 16 clips/a.wav"
                    + " && sox -R '\(recordings[1])' -r 16000 -c 1 -b 16 other/b.wav && printf 'path,speaker\\nclips/a.wav,s1\\n' > labels.csv",
                in: dir)
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.dvs("init", in: dir).status == 0)
            #expect(try g.dvs("commit", "-m", "one", in: dir).status == 0)

            // Three changes; only the folder named is committed, the rest stays a change.
            try T.sh(
                "sox -R '\(recordings[2])' -r 16000 -c 1 -b 16 clips/c.wav && sox -R '\(recordings[2])' -r 8000 -c 1 -b 16 other/b.wav"
                    + " && printf 'path,speaker\\nclips/a.wav,s2\\n' > labels.csv",
                in: dir)
            #expect(try g.dvs("commit", "-m", "new clip", "clips", in: dir).status == 0)
            #expect(try g.dvs("status", in: dir).status == 0)
            // Paths are from the top of the working tree, wherever dvs runs (as for ls and cat).
            #expect(try g.dvs("commit", "-m", "relabel", "labels.csv", in: dir + "/clips").status == 0)
            #expect(try g.dvs("ls", "clips/a.wav", "--json", in: dir).stdout.contains("\"speaker\" : \"s2\""))
            // With -C too.
            try T.sh("sox -R '\(recordings[1])' -r 16000 -c 1 -b 16 clips/d.wav", in: dir)
            #expect(try g.dvs("commit", "-C", dir + "/clips", "-m", "from -C", "clips/d.wav", in: dir + "/other").status == 0)
            // Errors: nothing there to commit, a path naming nothing, one outside the tree.
            #expect(try g.dvs("commit", "-m", "again", "clips", in: dir).status == 1)
            #expect(try g.dvs("commit", "-m", "typo", "clip", in: dir).status == 1)
            #expect(try g.dvs("commit", "-m", "outside", "/etc/hostname", in: dir).status == 1)
            #expect(try g.dvs("status", in: dir).status == 0)
            try g.verify()
        }
    }
}
