import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVSRemote

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The two kinds of remote every end-to-end remote test runs against (one shared contract).
enum RemoteKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case path, s3
    var testDescription: String { rawValue }
}

/// A remote for one test: a folder under the test's temp dir, or a bucket on a fresh moto server
/// (killed afterwards) under the prefix `team/data`.
final class TestRemote {
    let kind: RemoteKind
    let moto: MotoServer?
    /// The URL `dvs remote add` / `dvs clone` take.
    let url: String
    /// Environment for dvs (AWS keys for moto).
    let env: [String: String]
    /// Extra arguments for `remote add` / `clone` (`--endpoint … --path-style`).
    let args: [String]
    let credentials: AWSCredentials

    static let testing = AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing")

    init(
        _ kind: RemoteKind, dir: String, serialized: Bool = false, motoEnvironment: [String: String] = [:],
        credentials: AWSCredentials = TestRemote.testing, beforeBucket: ((MotoServer) throws -> AWSCredentials)? = nil
    ) throws {
        self.kind = kind
        switch kind {
        case .path:
            moto = nil
            url = dir + "/remote.dvs"
            env = [:]
            args = []
            self.credentials = credentials
        case .s3:
            let m = try MotoServer(environment: motoEnvironment, serialized: serialized)
            moto = m
            let creds = try beforeBucket?(m) ?? credentials
            self.credentials = creds
            try S3Client(bucket: "dvs-cli", region: "us-east-1", endpoint: m.endpoint, addressing: .path, credentials: creds).createBucket()
            url = "s3://dvs-cli/team/data"
            env = [
                "AWS_ACCESS_KEY_ID": creds.accessKeyID, "AWS_SECRET_ACCESS_KEY": creds.secretAccessKey, "AWS_REGION": "us-east-1",
                "AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
            ]
            args = ["--endpoint", m.endpoint.absoluteString, "--path-style"]
        }
    }

    deinit { moto?.stop() }

    /// Direct access to the remote's keys (to inspect or damage them).
    func store() throws -> any RemoteStore {
        switch kind {
        case .path: return try PathRemoteStore(root: url)
        case .s3:
            return S3RemoteStore(
                client: S3Client(
                    bucket: "dvs-cli", region: "us-east-1", endpoint: moto!.endpoint, addressing: .path,
                    credentials: credentials), prefix: "team/data")
        }
    }

    /// The commit a remote branch points at, or nil.
    func ref(_ branch: String) throws -> String? {
        try store().readRef("refs/heads/" + branch).map {
            String(decoding: $0.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Pack keys on the remote.
    func packs() throws -> [String] { try store().list(prefix: "packs/").map(\.key) }
}

/// Runs dvs with the remote's environment and checks it succeeded.
/// With `golden`, the command and its output go into that transcript (`record` says which part).
@discardableResult
func dvsOK(
    _ args: [String], in dir: String, _ remote: TestRemote, env extra: [String: String] = [:], golden: Golden? = nil,
    record: Golden.Part = .all
) throws -> TestSupport.Result {
    let r = try T.dvs(args, in: dir, environment: remote.env.merging(extra) { _, b in b })
    golden?.append(args, in: dir, r, record)
    #expect(r.status == 0, "dvs \(args.joined(separator: " ")) failed (\(r.status)): \(r.stderr)")
    if r.status != 0 { throw TestError("dvs \(args.joined(separator: " ")) failed: \(r.stderr)") }
    return r
}

func jsonObject(_ r: TestSupport.Result) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: r.stdoutData) as? [String: Any])
}

/// `makeDataset(a, recordings: 4)`, then `init`, a commit "base", the remote added as `origin`
/// and a push: the repository most remote tests start from.
func pushedDataset(_ a: String, _ remote: TestRemote) throws {
    try makeDataset(a, recordings: 4)
    try dvsOK(["init"], in: a, remote)
    try dvsOK(["commit", "-m", "base"], in: a, remote)
    try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
    try dvsOK(["push"], in: a, remote)
}

/// A dataset of real recordings (Debian's voices as 16 kHz WAV) with a label table.
func makeDataset(_ dir: String, recordings: Int = 8) throws {
    var labels = "path,lang,text\n"
    try FileManager.default.createDirectory(atPath: dir + "/clips", withIntermediateDirectories: true)
    let sources = T.debianRecordings(limit: recordings)
    #expect(sources.count >= 4, "install alsa-utils and ktuberling-data (see README)")
    for (i, src) in sources.enumerated() {
        try T.sh("sox -R '\(src)' -r 16000 -c 1 -b 16 -e signed-integer '\(dir)/clips/r\(i).wav'")
        labels += "clips/r\(i).wav,en,recording \(i)\n"
    }
    try T.write(Data(labels.utf8), to: dir + "/labels.csv")
}

/// Adds `count` long clips (a recording mixed with pink noise, ~1.3 MB each) so a commit spans several 1 MiB packs.
func addLongClips(_ dir: String, count: Int, tag: String) throws {
    let src = T.debianRecordings(limit: 1)[0]
    for i in 0..<count {
        try T.sh(
            """
            sox -n -r 16000 -c 1 -b 16 '\(dir)/n.wav' synth 40 pinknoise vol 0.2 && \
            sox -R '\(src)' -r 16000 -c 1 -b 16 '\(dir)/v.wav' && \
            sox -R -m '\(dir)/n.wav' '\(dir)/v.wav' '\(dir)/clips/long-\(tag)-\(i).wav' && rm '\(dir)/n.wav' '\(dir)/v.wav'
            """)
    }
}

/// A repository at `dir` of `recordings` Debian recordings, labels.csv and `long` long clips
/// (`addLongClips`, named `long-<tag>-<i>.wav`), committed as "base" with 1 MiB packs, so each
/// long clip lies in a pack of its own among many.
func committedWithLongClips(_ dir: String, _ remote: TestRemote, recordings: Int = 4, long: Int, tag: String) throws {
    try makeDataset(dir, recordings: recordings)
    try addLongClips(dir, count: long, tag: tag)
    try dvsOK(["init"], in: dir, remote)
    try dvsOK(["config", "pack.target-size", "1048576"], in: dir, remote)
    try dvsOK(["commit", "-m", "base"], in: dir, remote)
}

/// Flips one byte in the middle of every frame longer than 100 kB in the remote's packs (the
/// long clips' audio; pack indexes stay intact), so a read of such a clip finds it damaged.
/// `scratch` is a folder for a copy of each pack while its index is read.
func damageLongFrames(_ remote: TestRemote, scratch: String) throws {
    let store = try remote.store()
    for key in try remote.packs() {
        var bytes = [UInt8](try #require(try store.get(key)))
        let copy = scratch + "/copy.pack"
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        for e in try PackReader(path: copy).readIndex() where e.storedLength > 100_000 {
            bytes[Int(e.offset + e.storedLength / 2)] ^= 0xFF
        }
        try store.put(key, Data(bytes))
    }
}

/// Starts dvs without waiting (for kill and race tests).
func startDVS(_ args: [String], in dir: String, env: [String: String]) throws -> (Process, Pipe, Pipe) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: T.dvsBinary)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    var e = ProcessInfo.processInfo.environment
    e["DVS_AUTHOR_NAME"] = "Test Author"
    e["DVS_AUTHOR_EMAIL"] = "test@example.com"
    for (k, v) in env { e[k] = v }
    p.environment = e
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return (p, out, err)
}

@Suite(.serialized) struct RemoteCLITests {
    /// A folder remote given relative to where `dvs clone` runs is found there (and stored
    /// absolute); a folder that does not exist is refused and nothing is created.
    @Test func cloneTakesARelativeFolderFromTheCurrentDirectoryAndRefusesAMissingOne() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            try makeDataset(dir + "/a")
            try dvsOK(["init"], in: dir + "/a", remote)
            try dvsOK(["commit", "-m", "import"], in: dir + "/a", remote)
            try dvsOK(["remote", "add", "origin", remote.url], in: dir + "/a", remote)
            try dvsOK(["push"], in: dir + "/a", remote)
            // Golden: the clone says nothing about an empty remote; `remote -v` shows
            // "origin\t$TMP/remote.dvs" (stored absolute); the typo's error is "cannot clone
            // 'remote.dsv': no folder at '$TMP/remote.dsv'".
            let g = Golden(replacing: [dir: "$TMP"])
            try dvsOK(["clone", "remote.dvs", "rel"], in: dir, remote, golden: g)
            #expect(try T.treesEqual(dir + "/a", dir + "/rel").0)
            #expect(try dvsOK(["remote", "-v"], in: dir + "/rel", remote, golden: g).stdout.hasPrefix("origin\t\(dir)/remote.dvs"))
            let typo = try g.run(["clone", "remote.dsv", "typo"], in: dir)
            #expect(typo.status == 1, "\(typo.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/typo"))
            // A working tree is not a remote (it gave an empty clone): clone, remote add and a
            // read without a clone refuse it and make nothing.
            let tree = try g.run(["clone", "a", "fromtree"], in: dir)
            #expect(tree.status == 1, "\(tree.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/fromtree"))
            let before = try FileManager.default.contentsOfDirectory(atPath: dir + "/a").sorted()
            let add = try g.run(["remote", "add", "tree", dir + "/a"], in: dir + "/rel")
            #expect(add.status == 1, "\(add.stderr)")
            let read = try g.run(["ls", "--remote", "a", "--cache-dir", dir + "/cache"], in: dir)
            #expect(read.status == 1 && !FileManager.default.fileExists(atPath: dir + "/cache/remotes"), "\(read.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/a").sorted() == before)
            // Nor is a folder of recordings (a clone of one was empty, and a push from that clone
            // wrote bundles/, objects/, packs/ and refs/ among them): clone, remote add, push and
            // a read refuse it and write nothing into it. Names starting with '.' do not count.
            try T.sh(
                "mkdir -p recordings && find a -name '*.wav' | sort | head -2 | xargs -I{} cp {} recordings/ && touch recordings/.DS_Store",
                in: dir)
            let recordings = try FileManager.default.contentsOfDirectory(atPath: dir + "/recordings").sorted()
            let fromRecordings = try g.run(["clone", "recordings", "fromrecordings"], in: dir)
            #expect(fromRecordings.status == 1, "\(fromRecordings.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/fromrecordings"))
            #expect(try g.run(["remote", "add", "rec", dir + "/recordings"], in: dir + "/rel").status == 1)
            // Added while it was still empty, then given files: push refuses it.
            try T.sh("mkdir -p later", in: dir)
            try dvsOK(["remote", "add", "later", dir + "/later"], in: dir + "/rel", remote)
            try T.sh("find a -name '*.wav' | sort | head -1 | xargs -I{} cp {} later/", in: dir)
            let laterBefore = try FileManager.default.contentsOfDirectory(atPath: dir + "/later").sorted()
            let push = try g.run(["push", "later"], in: dir + "/rel")
            #expect(push.status == 1, "\(push.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/later").sorted() == laterBefore)
            let readRecordings = try g.run(["ls", "--remote", "recordings", "--cache-dir", dir + "/cache"], in: dir)
            #expect(readRecordings.status == 1, "\(readRecordings.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/recordings").sorted() == recordings)
            // A file is no remote either (remote add took one, and push failed on it later).
            #expect(try g.run(["remote", "add", "file", dir + "/recordings/" + recordings.last!], in: dir + "/rel").status == 1)
            // A remote in use stays usable with a file put beside its layout (a README).
            try T.sh("echo notes > remote.dvs/README.md", in: dir)
            try dvsOK(["push"], in: dir + "/a", remote)
            try dvsOK(["fetch"], in: dir + "/rel", remote)
            try g.verify()
        }
    }

    /// A tag's message travels with it: push writes `messages/tags/<tag>` after the ref, clone
    /// and fetch give a new tag its message (it arrived as null); a tag without one has none.
    @Test(arguments: RemoteKind.allCases) func tagMessagesArePushedAndFetched(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            try makeDataset(dir + "/a", recordings: 4)
            try dvsOK(["init"], in: dir + "/a", remote)
            try dvsOK(["commit", "-m", "import"], in: dir + "/a", remote)
            try dvsOK(["tag", "v1", "-m", "shipped: asr-2026-12 trained here"], in: dir + "/a", remote)
            try dvsOK(["tag", "plain"], in: dir + "/a", remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: dir + "/a", remote)
            try dvsOK(["push", "--tags"], in: dir + "/a", remote)
            try dvsOK(["clone", remote.url, dir + "/b"] + remote.args, in: dir, remote)
            let text = try dvsOK(["tag"], in: dir + "/b", remote).stdout.split(separator: "\n")
            #expect(text.count == 2 && text[1].hasSuffix("  shipped: asr-2026-12 trained here") && text[0].hasPrefix("plain  "), "\(text)")
            let listed = try #require(try json(dvsOK(["tag", "--json"], in: dir + "/b", remote).stdout) as? [[String: Any]])
            #expect(listed.map { $0["name"] as? String } == ["plain", "v1"])
            #expect(listed[0]["message"] is NSNull && listed[1]["message"] as? String == "shipped: asr-2026-12 trained here", "\(listed)")
            // A tag made later arrives with its message by fetch.
            try dvsOK(["tag", "v2", "-m", "second\nline"], in: dir + "/a", remote)
            try dvsOK(["push", "--tags"], in: dir + "/a", remote)
            try dvsOK(["fetch"], in: dir + "/b", remote)
            let later = try #require(try json(dvsOK(["tag", "--json"], in: dir + "/b", remote).stdout) as? [[String: Any]])
            #expect(later.last?["name"] as? String == "v2" && later.last?["message"] as? String == "second\nline", "\(later)")
            // A tag deleted and made again has its new message, here and on the remote (the
            // oldest reflog entry was read: the old message came back, and was pushed).
            try dvsOK(["tag", "-d", "v1"], in: dir + "/a", remote)
            try dvsOK(["tag", "v1", "-m", "shipped again"], in: dir + "/a", remote)
            #expect(try dvsOK(["tag"], in: dir + "/a", remote).stdout.contains("  shipped again\n"))
            let store = try remote.store()
            try dvsOK(["push", "--tags", "--force"], in: dir + "/a", remote)
            // A message the remote lacks (pushed by an older dvs, or a push that stopped after the
            // ref) is written by the next push, though the ref is up to date.
            try store.delete("messages/tags/v2")
            try dvsOK(["push", "--tags"], in: dir + "/a", remote)
            #expect(try store.get("messages/tags/v2") == Data("second\nline".utf8))
            // The message of a tag that lost it travels too: a fetch gives it to a tag already here
            // without one; control characters (terminal escapes) are dropped on the way in.
            try store.put("messages/tags/plain", Data("no escape\u{1B}[31m red\u{07}".utf8))
            try dvsOK(["fetch"], in: dir + "/b", remote)
            let mended = try #require(try json(dvsOK(["tag", "--json"], in: dir + "/b", remote).stdout) as? [[String: Any]])
            #expect(mended.first?["name"] as? String == "plain" && mended.first?["message"] as? String == "no escape[31m red", "\(mended)")
            try dvsOK(["clone", remote.url, dir + "/c"] + remote.args, in: dir, remote)
            let fresh = try #require(try json(dvsOK(["tag", "--json"], in: dir + "/c", remote).stdout) as? [[String: Any]])
            #expect(fresh.first { $0["name"] as? String == "v1" }?["message"] as? String == "shipped again", "\(fresh)")
            // The list shows a message's first line, as `git tag -n` (it printed the second as a row).
            #expect(
                try dvsOK(["tag"], in: dir + "/c", remote).stdout.split(separator: "\n").contains {
                    $0.hasPrefix("v2  ") && $0.hasSuffix("  second")
                })
            // Another message at the same commit is not pushed over the remote's without --force, and
            // the push says so (it said "up to date" only).
            try dvsOK(["tag", "-d", "v1"], in: dir + "/a", remote)
            try dvsOK(["tag", "v1", "-m", "third"], in: dir + "/a", remote)
            let kept = try dvsOK(["push", "--tags"], in: dir + "/a", remote)
            #expect(
                kept.stderr.contains(
                    "note: tag 'v1' here has another message than on 'origin', which keeps its own; a forced push replaces it"),
                "\(kept.stderr)")
            #expect(try store.get("messages/tags/v1") == Data("shipped again".utf8))
            // A tag moved on the remote is kept here by fetch, as git does, and the fetch says so
            // (it printed "a..a", a move that did not happen).
            try dvsOK(["commit", "--allow-empty", "-m", "second"], in: dir + "/a", remote)
            try dvsOK(["tag", "-d", "v2"], in: dir + "/a", remote)
            try dvsOK(["tag", "v2", "-m", "moved"], in: dir + "/a", remote)
            try dvsOK(["push", "--tags", "--force"], in: dir + "/a", remote)
            let moved = try dvsOK(["fetch"], in: dir + "/b", remote)
            #expect(moved.stdout.contains("refs/tags/v2\t") && moved.stdout.contains(" kept; the remote's tag is at "), "\(moved.stdout)")
            // A message with no tag to keep it is a usage error (it listed the tags and dropped it).
            #expect(try T.dvs(["tag", "-m", "no name"], in: dir + "/a", environment: remote.env).status == 64)
        }
    }

    /// The shared contract: push, clone elsewhere (byte-identical tree), commit in the clone,
    /// push, pull in the first repository; a push with nothing new uploads 0 bytes.
    @Test(arguments: RemoteKind.allCases) func pushCloneCommitPushPull(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            let b = dir + "/b"
            try makeDataset(a)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["commit", "-m", "import"], in: a, remote)
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote, golden: g)
            let listed = try dvsOK(["remote", "-v"], in: a, remote, golden: g).stdout
            #expect(listed.hasPrefix("origin\t\(remote.url)"))
            // A security property, checked whatever the golden file says.
            #expect(!listed.contains("testing"), "credentials are never printed")
            let p1 = try jsonObject(dvsOK(["push", "--json"], in: a, remote))
            #expect((p1["packs_uploaded"] as? Int ?? 0) >= 1)
            #expect((p1["bytes_uploaded"] as? Int ?? 0) > 0)
            #expect(p1["refs_moved"] as? Int == 1)
            let head = try dvsOK(["log", "--json"], in: a, remote).stdout
            #expect(try remote.ref("main").map { head.contains($0) } == true)
            // The remote-tracking ref is shown as git shows it (golden: "(HEAD -> main, origin/main)").
            try dvsOK(["log", "-n", "1"], in: a, remote, golden: g)

            let c = try jsonObject(dvsOK(["clone", remote.url, b, "--json"] + remote.args, in: dir, remote))
            #expect(c["branch"] as? String == "main")
            var (same, diff) = try T.treesEqual(a, b)
            #expect(same, "clone differs: \(diff)")
            try dvsOK(["status"], in: b, remote, golden: g)  // golden: "nothing to commit"
            #expect(try dvsOK(["fsck"], in: b, remote).status == 0)

            // Work in the clone: a new espeak clip and a relabel; push it back.
            try T.speak("the second batch of recordings", to: b + "/clips/new.wav")
            try T.sh("sed -i 's/recording 1$/recording one/' labels.csv && echo 'clips/new.wav,en,second batch' >> labels.csv", in: b)
            try dvsOK(["commit", "-m", "second batch"], in: b, remote)
            let p2 = try jsonObject(dvsOK(["push", "--json"], in: b, remote))
            #expect((p2["refs"] as? [[String: Any]])?.first?["status"] as? String == "fast-forward")

            // Back in the first repository.
            let pull = try jsonObject(dvsOK(["pull", "--json"], in: a, remote))
            #expect(pull["status"] as? String == "fast-forward")
            (same, diff) = try T.treesEqual(a, b)
            #expect(same, "after pull: \(diff)")
            try dvsOK(["status"], in: a, remote, golden: g)  // golden: "nothing to commit"

            // Nothing new: nothing uploaded, nothing downloaded.
            let p3 = try jsonObject(dvsOK(["push", "--json"], in: a, remote))
            #expect(p3["bytes_uploaded"] as? Int == 0)
            #expect(p3["refs_moved"] as? Int == 0)
            let f = try jsonObject(dvsOK(["fetch", "--json"], in: b, remote))
            #expect(f["bytes_downloaded"] as? Int == 0)
            #expect(f["refs_moved"] as? Int == 0)
            try dvsOK(["pull"], in: a, remote, golden: g)  // golden: "Already up to date"

            // Bad input changes nothing (golden: "unsupported remote URL scheme 'gs'").
            let bad = try T.dvs(["remote", "add", "origin", "gs://x/y"], in: a, environment: remote.env)
            g.append(["remote", "add", "origin", "gs://x/y"], in: a, bad)
            #expect(bad.status == 1)
            #expect(try dvsOK(["remote"], in: a, remote, golden: g).stdout == "origin\n")
            try g.verify()
        }
    }

    /// SIGKILL a push after some packs are up: the remote ref still points at the old commit,
    /// whose data is complete (a clone of it verifies); the push, run again, completes and
    /// uploads fewer packs than the new commit has.
    @Test(arguments: RemoteKind.allCases) func killedPushResumes(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            try makeDataset(a, recordings: 4)
            try dvsOK(["init"], in: a, remote)
            try dvsOK(["config", "pack.target-size", "1048576"], in: a, remote)
            try dvsOK(["commit", "-m", "small"], in: a, remote)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: a, remote)
            try dvsOK(["config", "remote.origin.transfers", "1"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let oldRef = try #require(try remote.ref("main"))
            let packsBefore = try remote.packs().count

            try addLongClips(a, count: 8, tag: "k")
            try dvsOK(["commit", "-m", "long clips"], in: a, remote)
            let localPacks = try FileManager.default.contentsOfDirectory(atPath: a + "/.dvs/packs").count
            let newPacks = localPacks - packsBefore
            #expect(newPacks >= 3, "the long clips span several 1 MiB packs (got \(newPacks))")

            let (p, _, _) = try startDVS(
                ["push", "--json"], in: a, env: remote.env.merging(["DVS_TEST_TRANSFER_DELAY_MS": "400"]) { _, b in b })
            let deadline = Date().addingTimeInterval(60)
            while try remote.packs().count < packsBefore + 2, Date() < deadline, p.isRunning { usleep(50_000) }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let uploadedBeforeKill = try remote.packs().count - packsBefore
            #expect(
                uploadedBeforeKill >= 2 && uploadedBeforeKill < newPacks, "killed part-way (\(uploadedBeforeKill) of \(newPacks) packs)")
            #expect(try remote.ref("main") == oldRef, "the remote ref did not move")

            // Everything the old ref references is there: a clone verifies every object.
            let c = try jsonObject(dvsOK(["clone", remote.url, dir + "/c", "--json"] + remote.args, in: dir, remote))
            #expect(c["commit"] as? String == oldRef)

            let again = try jsonObject(dvsOK(["push", "--json"], in: a, remote))
            let resent = again["packs_uploaded"] as? Int ?? -1
            #expect(resent == newPacks - uploadedBeforeKill, "only the missing packs are uploaded")
            #expect(resent < newPacks)
            #expect((again["packs_present"] as? Int ?? 0) >= packsBefore + uploadedBeforeKill)
            #expect(try remote.ref("main") != oldRef)
            try dvsOK(["pull"], in: dir + "/c", remote)
            let (same, diff) = try T.treesEqual(a, dir + "/c")
            #expect(same, "\(diff)")
        }
    }

    /// Two clones push different commits to one branch at once: exactly one wins, the other is
    /// told "remote branch moved; run dvs pull"; no commit is lost (the winner's is on the
    /// remote, the loser's stays in its repository and pull refuses to drop it).
    @Test(arguments: RemoteKind.allCases) func concurrentPushesOneWins(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir, serialized: true)
            let a = dir + "/a"
            try pushedDataset(a, remote)
            let base = try #require(try remote.ref("main"))
            for name in ["x", "y"] {
                try dvsOK(["clone", remote.url, "\(dir)/\(name)"] + remote.args, in: dir, remote)
                try T.speak("clip made in clone \(name)", to: "\(dir)/\(name)/clips/\(name).wav")
                try T.sh("echo 'clips/\(name).wav,en,from \(name)' >> labels.csv", in: "\(dir)/\(name)")
                try dvsOK(["commit", "-m", "from \(name)"], in: "\(dir)/\(name)", remote)
            }
            let procs = try ["x", "y"].map { try startDVS(["push"], in: "\(dir)/\($0)", env: remote.env) }
            var results: [(Int32, String)] = []
            for (p, _, err) in procs {
                let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                results.append((p.terminationStatus, e))
            }
            #expect(results.filter { $0.0 == 0 }.count == 1, "exactly one push wins: \(results)")
            let loser = try #require(results.firstIndex { $0.0 != 0 })
            // Fragments, not golden files: which clone wins the race changes from run to run, and
            // with it every output below.
            #expect(results[loser].1.contains("remote branch moved; run dvs pull"), "\(results[loser].1)")
            let winner = 1 - loser
            let names = ["x", "y"]
            let winnerHead = try dvsOK(["log", "--json"], in: "\(dir)/\(names[winner])", remote).stdout
            let now = try #require(try remote.ref("main"))
            #expect(now != base && winnerHead.contains(now), "the winner's commit is on the remote")
            // The loser pulls: the histories diverged, so pull merges (each side appended its own
            // row to labels.csv: a clean row-level merge), and the merge then pushes.
            let loserDir = "\(dir)/\(names[loser])"
            let pull = try T.dvs(["pull"], in: loserDir, environment: remote.env)
            #expect(pull.status == 0, "\(pull.stderr)")
            let labels = try String(contentsOfFile: loserDir + "/labels.csv", encoding: .utf8)
            #expect(labels.contains("clips/x.wav,en,from x") && labels.contains("clips/y.wav,en,from y"), "\(labels)")
            #expect(FileManager.default.fileExists(atPath: "\(loserDir)/clips/\(names[winner]).wav"))
            let log = try dvsOK(["log", "--json", "-n", "1"], in: loserDir, remote).stdout
            #expect(log.contains(now) && log.contains("Merge origin/main"), "the merge commit has the remote's commit as a parent: \(log)")
            try dvsOK(["push"], in: loserDir, remote)
            #expect(try dvsOK(["log"], in: loserDir, remote).stdout.contains("from \(names[loser])"))
            #expect(FileManager.default.fileExists(atPath: "\(loserDir)/clips/\(names[loser]).wav"))
        }
    }

    /// A damaged pack on the remote is detected on fetch and on clone, named with its key, and
    /// no ref moves.
    @Test(arguments: RemoteKind.allCases) func damagedPackIsNamedAndNoRefMoves(_ kind: RemoteKind) throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let a = dir + "/a"
            let b = dir + "/b"
            try pushedDataset(a, remote)
            try dvsOK(["clone", remote.url, b] + remote.args, in: dir, remote)
            let before = try remote.packs()
            try T.speak("this clip will be damaged on the remote", to: a + "/clips/late.wav")
            try T.sh("echo 'clips/late.wav,en,late' >> labels.csv", in: a)
            try dvsOK(["commit", "-m", "late"], in: a, remote)
            try dvsOK(["push"], in: a, remote)
            let key = try #require(try remote.packs().first { !before.contains($0) })
            let store = try remote.store()
            var bytes = try #require(try store.get(key))
            bytes[40] ^= 0x55  // inside the first frame
            try store.put(key, bytes)
            let packID = String(key.dropFirst(6).dropLast(5))

            let trackingBefore = try T.dvs(["log", "-n", "1", "origin/main"], in: b).stdout
            let f = try T.dvs(["fetch"], in: b, environment: remote.env)
            #expect(f.status == 1)
            // Ids are placeholders in golden files: that the error names this pack and key is checked here.
            #expect(f.stderr.contains("pack '\(packID)'") && f.stderr.contains(key), "\(f.stderr)")
            // Golden: "damaged", "no ref moved".
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)
            g.append(["fetch"], in: b, f)
            #expect(try T.dvs(["log", "-n", "1", "origin/main"], in: b).stdout == trackingBefore, "origin/main did not move")
            #expect(try T.dvs(["fsck"], in: b).status == 0, "nothing damaged was stored")

            let c = try T.dvs(["clone", remote.url, dir + "/c"] + remote.args, in: dir, environment: remote.env)
            g.append(["clone", remote.url, dir + "/c"] + remote.args, in: dir, c)
            #expect(c.status == 1)
            #expect(c.stderr.contains(packID), "\(c.stderr)")
            try g.verify()
            #expect(
                try T.dvs(["log"], in: dir + "/c").status != 0 || !FileManager.default.fileExists(atPath: dir + "/c/clips"),
                "the failed clone checked nothing out")
        }
    }

    /// A clone killed while downloading packs, run again, resumes and keeps what it has.
    @Test func interruptedCloneResumes() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.path, dir: dir)
            let a = dir + "/a"
            let c = dir + "/c"
            try committedWithLongClips(a, remote, long: 4, tag: "c")
            try dvsOK(["remote", "add", "origin", remote.url], in: a, remote)
            try dvsOK(["push"], in: a, remote)

            let (p, _, _) = try startDVS(["clone", remote.url, c], in: dir, env: ["DVS_TEST_TRANSFER_DELAY_MS": "300"])
            let deadline = Date().addingTimeInterval(60)
            func partials() -> [String] {
                ((try? FileManager.default.contentsOfDirectory(atPath: c + "/.dvs/tmp")) ?? []).filter { $0.hasPrefix("fetch-") }
            }
            while partials().count < 2, Date() < deadline, p.isRunning { usleep(20_000) }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            let kept = partials()
            #expect(!kept.isEmpty, "the killed clone left downloaded packs")
            #expect(FileManager.default.fileExists(atPath: c + "/.dvs/clone-in-progress"))
            // status in the half-made folder says so (it said "no commits yet, nothing to commit").
            let half = try dvs("status", in: c)
            #expect(half.stderr.hasPrefix("note: the clone of '\(remote.url)' into this folder did not finish"), "\(half.stderr)")
            // A clone run again with a branch the remote lacks fails, and says what is left behind.
            let wrong = try dvs("clone", remote.url, c, "--branch", "no-such", in: dir)
            #expect(wrong.status == 1)
            #expect(
                wrong.stderr.contains("error: the clone into '\(c)' did not finish; the folder keeps what it made and downloaded"),
                "\(wrong.stderr)"
            )

            let r = try jsonObject(dvsOK(["clone", remote.url, c, "--json"], in: dir, remote))
            #expect(r["resumed"] as? Bool == true)
            let (same, diff) = try T.treesEqual(a, c)
            #expect(same, "\(diff)")
            #expect(!FileManager.default.fileExists(atPath: c + "/.dvs/clone-in-progress"))
            // Golden: "already": a finished clone is not cloned over.
            let g = Golden(replacing: [dir: "$TMP"])
            let again = try g.run(["clone", remote.url, c], in: dir)
            #expect(again.status == 1, "a finished clone is not cloned over")
            try g.verify()
        }
    }

    /// moto with auth enforced: a push and a clone with an IAM user's key work; a wrong secret
    /// fails with the credentials error, naming the key id and not the secret.
    @Test func authEnforcedPushCloneAndWrongSecret() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.s3, dir: dir, motoEnvironment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"]) { moto in
                _ = try iamCallCLI(moto, [("Action", "CreateUser"), ("UserName", "dvs-cli")])
                let key = try iamCallCLI(moto, [("Action", "CreateAccessKey"), ("UserName", "dvs-cli")])
                let k = try #require(key.child("CreateAccessKeyResult")?.child("AccessKey"))
                let creds = AWSCredentials(
                    accessKeyID: try #require(k.text("AccessKeyId")), secretAccessKey: try #require(k.text("SecretAccessKey")))
                let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
                _ = try iamCallCLI(
                    moto, [("Action", "PutUserPolicy"), ("UserName", "dvs-cli"), ("PolicyName", "s3-all"), ("PolicyDocument", policy)])
                return creds
            }
            let a = dir + "/a"
            try pushedDataset(a, remote)
            try dvsOK(["clone", remote.url, dir + "/b"] + remote.args, in: dir, remote)
            let (same, diff) = try T.treesEqual(a, dir + "/b")
            #expect(same, "\(diff)")

            let wrong = "wrong-secret-for-the-test"
            // Golden: "rejected the credentials of access key '$ACCESS_KEY'" (moto's key for the
            // IAM user, made anew each run) and a hint, for push and clone.
            let g = Golden(replacing: [dir: "$TMP", remote.credentials.accessKeyID: "$ACCESS_KEY"])
            let r = try g.run(["push"], in: a, env: remote.env.merging(["AWS_SECRET_ACCESS_KEY": wrong]) { _, b in b })
            #expect(r.status == 1)
            // A security property, checked whatever the golden file says: no secret is printed.
            #expect(!r.stderr.contains(wrong) && !r.stderr.contains(remote.credentials.secretAccessKey))
            let c = try g.run(
                ["clone", remote.url, dir + "/c"] + remote.args, in: dir,
                env: remote.env.merging(["AWS_SECRET_ACCESS_KEY": wrong]) { _, b in b })
            #expect(c.status == 1, "\(c.stderr)")
            try g.verify()
        }
    }
}

/// IAM query API call on moto, signed for service `iam` (as DVSRemoteTests' `iamCall`).
func iamCallCLI(_ moto: MotoServer, _ params: [(String, String)]) throws -> XMLElementNode {
    let all = params + [("Version", "2010-05-08")]
    let body = Data(all.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&").utf8)
    var req = URLRequest(url: moto.endpoint.appendingPathComponent("/"))
    req.httpMethod = "POST"
    req.setValue("application/x-www-form-urlencoded; charset=utf-8", forHTTPHeaderField: "Content-Type")
    SigV4Signer(credentials: TestRemote.testing, region: "us-east-1", service: "iam")
        .sign(&req, payloadHash: SigV4Signer.payloadHash(body), contentHashHeader: false)
    let r = try HTTPTransport().run(req, body: body, stallTimeout: 30)
    guard r.status == 200, let root = XMLElementNode.parse(r.body) else {
        throw TestError("IAM \(params[0].1) failed: HTTP \(r.status) \(String(decoding: r.body, as: UTF8.self))")
    }
    return root
}

/// A clone run again after it failed to connect (from the new-user trial).
@Suite struct CloneResumeCLITests {
    /// A clone given a wrong --endpoint fails and says to run it again with the right one; run
    /// again with it, the clone resumes and uses it (it kept the first attempt's endpoint and
    /// failed the same way).
    @Test func aCloneRunAgainWithAnotherEndpointUsesIt() throws {
        try T.withTemporaryDirectory { dir in
            let remote = try TestRemote(.s3, dir: dir)
            let a = dir + "/a"
            try pushedDataset(a, remote)
            let port = try MotoServer.freePort()
            let wrong = try T.dvs(
                ["clone", remote.url, dir + "/c", "--endpoint", "http://127.0.0.1:\(port)", "--path-style"], in: dir,
                environment: remote.env)
            #expect(
                wrong.status == 1 && wrong.stderr.contains("cannot connect to S3 endpoint 'http://127.0.0.1:\(port)'"), "\(wrong.stderr)")
            #expect(wrong.stderr.contains("a clone run again with it resumes"), "\(wrong.stderr)")
            // Not resumed as the clone of another URL.
            let other = try T.dvs(["clone", "s3://dvs-cli/elsewhere", dir + "/c"] + remote.args, in: dir, environment: remote.env)
            #expect(
                other.status == 1 && other.stderr.contains("a clone of '\(remote.url)' was started there and is unfinished"),
                "\(other.stderr)")
            let again = try dvsOK(["clone", remote.url, dir + "/c"] + remote.args, in: dir, remote)
            #expect(again.stdout.hasPrefix("Resumed clone into"), "\(again.stdout)")
            let (same, diff) = try T.treesEqual(a, dir + "/c")
            #expect(same, "\(diff)")
            #expect(try dvsOK(["remote", "-v"], in: dir + "/c", remote).stdout.contains(remote.args[1]))
        }
    }
}
