import DVSTestSupport
import Foundation
import Testing

/// Lineage end to end on real audio (issue 5): dvs run inside git (clean and dirty), a failing
/// command, dvs stream read back by Python, audit both ways, records through push and clone (folder and S3).
@Suite struct LineageCLITests {
    /// A dvs repository of Debian's recordings (English WAVs from alsa-utils, ktuberling's
    /// per-language Ogg clips) with `metadata.csv` (speaker, lang); committed on main.
    func makeData(_ dir: String) throws -> (root: String, files: [String]) {
        let root = dir + "/data"
        try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
        #expect(try TestSupport.dvs(["init"], in: root).status == 0)
        var rows = ["file_name,speaker,lang"]
        var files: [String] = []
        for (i, src) in TestSupport.debianRecordings(limit: 16).enumerated() {
            let lang = src.contains("/sounds/de/") ? "de" : src.contains("/sounds/fr/") ? "fr" : src.contains("/sounds/es/") ? "es" : "en"
            let name = "clips/\(lang)-\(i)." + (src as NSString).pathExtension
            try FileManager.default.copyItem(atPath: src, toPath: root + "/" + name)
            rows.append("\(name),spk\(i % 4),\(lang)")
            files.append(name)
        }
        try TestSupport.write(Data((rows.joined(separator: "\n") + "\n").utf8), to: root + "/metadata.csv")
        let c = try TestSupport.dvs(["commit", "-m", "recordings"], in: root)
        #expect(c.status == 0, "\(c.stderr)")
        return (root, files)
    }

    func json(_ r: TestSupport.Result) throws -> Any { try JSONSerialization.jsonObject(with: r.stdoutData) }

    func models(_ root: String) throws -> [[String: Any]] {
        let r = try TestSupport.dvs(["models", "--json"], in: root)
        #expect(r.status == 0, "\(r.stderr)")
        return try json(r) as? [[String: Any]] ?? []
    }

    @Test func runInsideGitRecordsCodeCommitAndDirtyFlag() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let data = try makeData(dir)
            let code = dir + "/trainer"
            try FileManager.default.createDirectory(atPath: code, withIntermediateDirectories: true)
            // The trainer counts the samples it was given, reports the snapshot's modes and writes a model.
            let script = """
                set -e
                n=$(wc -l < "$DVS_MANIFEST")
                test -f "$DVS_SNAPSHOT_DIR/metadata.csv"
                ro="mode=$(stat -c %a "$DVS_SNAPSHOT_DIR/metadata.csv"),$(stat -c %a "$DVS_SNAPSHOT_DIR/clips")"
                echo "samples=$n commit=$DVS_COMMIT $ro $1" > "$2"
                """
            try TestSupport.write(Data(script.utf8), to: code + "/train.sh")
            try TestSupport.sh(
                "git init -q -b trainer . && git add train.sh && git -c user.name=T -c user.email=t@e commit -qm trainer", in: code)
            let head = try TestSupport.sh("git rev-parse HEAD", in: code).trimmingCharacters(in: .whitespacesAndNewlines)

            let clean = try TestSupport.dvs(
                [
                    "run", "-C", data.root, "--rev", "main", "--artifact", "clean.bin", "--label", "lang", "--",
                    "sh", "train.sh", "clean", "clean.bin",
                ], in: code)
            #expect(clean.status == 0, "\(clean.stderr)")
            let out = try String(contentsOfFile: code + "/clean.bin", encoding: .utf8)
            let commit = try TestSupport.dvs(["log", "-n", "1", "--json"], in: data.root).stdout
            #expect(out.hasPrefix("samples=\(data.files.count) commit="), "the child saw every sample in DVS_MANIFEST: \(out)")
            #expect(
                out.contains("mode=444,555"), "files and folders of the snapshot are read-only (root ignores modes, so check them): \(out)")
            let snapCommit = String(out.split(separator: " ")[1].dropFirst("commit=".count))
            #expect(commit.contains(snapCommit), "DVS_COMMIT is the snapshot's commit")

            // Dirty: a tracked file changed (untracked files, like the artifacts, do not count).
            try TestSupport.write(Data((script + "\n# tuned\n").utf8), to: code + "/train.sh")
            let dirty = try TestSupport.dvs(
                [
                    "run", "-C", data.root, "--rev", "main", "--artifact", "dirty.bin", "--param", "lr=0.1", "--",
                    "sh", "train.sh", "dirty", "dirty.bin",
                ], in: code)
            #expect(dirty.status == 0, "\(dirty.stderr)")

            let all = try models(data.root)
            #expect(all.count == 2)
            let byName = Dictionary(uniqueKeysWithValues: all.map { ($0["name"] as? String ?? "", $0) })
            let c1 = try #require(byName["clean.bin"]?["code"] as? [String: Any])
            let c2 = try #require(byName["dirty.bin"]?["code"] as? [String: Any])
            #expect(c1["commit"] as? String == head && c1["branch"] as? String == "trainer" && c1["dirty"] as? Bool == false)
            #expect(c2["commit"] as? String == head && c2["dirty"] as? Bool == true)
            #expect(byName["clean.bin"]?["snapshot"] as? String == snapCommit)
            #expect(byName["clean.bin"]?["sample_count"] as? Int == data.files.count)
            let dist = try #require(byName["clean.bin"]?["label_distribution"] as? [String: Int])
            #expect(dist.values.reduce(0, +) == data.files.count && dist["en"] != nil)
            #expect((byName["dirty.bin"]?["parameters"] as? [String: String])?["lr"] == "0.1")
            #expect((byName["clean.bin"]?["command_line"] as? [String]) == ["sh", "train.sh", "clean", "clean.bin"])
            let sha = try TestSupport.sh("sha256sum clean.bin", in: code).prefix(64)
            #expect(byName["clean.bin"]?["artifact_sha256"] as? String == String(sha))

            // Outside git the code commit is none.
            let outside = dir + "/elsewhere"
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            try TestSupport.write(Data("weights".utf8), to: outside + "/m.bin")
            let add = try TestSupport.dvs(["model", "add", "-C", data.root, "m.bin", "--rev", "main", "--json"], in: outside)
            #expect(add.status == 0, "\(add.stderr)")
            let rec = try #require(try json(add) as? [String: Any])
            #expect((rec["code"] as? [String: Any])?["commit"] == nil || (rec["code"] as? [String: Any])?["commit"] is NSNull)
            // Golden: "code      none".
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.run(["audit", "-C", data.root, "m.bin"], in: outside).status == 0)
            try g.verify()
        }
    }

    @Test func failingCommandRegistersNothingAndPassesItsStatus() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let data = try makeData(dir)
            // Golden: "no model registered"; then "'nope.bin' does not exist".
            let g = Golden(replacing: [dir: "$TMP"])
            let r = try g.run(
                ["run", "--rev", "main", "--artifact", "model.bin", "--", "sh", "-c", "echo w > model.bin; exit 7"], in: data.root)
            #expect(r.status == 7)
            #expect(FileManager.default.fileExists(atPath: data.root + "/model.bin"), "the command ran")
            #expect(try models(data.root).isEmpty)
            #expect(
                !((try? FileManager.default.contentsOfDirectory(atPath: data.root + "/.dvs/tmp")) ?? []).contains { $0.hasPrefix("run-") },
                "the run folder is removed")
            // Exit 0 but a missing artifact: an error, nothing registered.
            let missing = try g.run(["run", "--rev", "main", "--artifact", "nope.bin", "--", "true"], in: data.root)
            #expect(missing.status == 1)
            #expect(try models(data.root).isEmpty)
            try g.verify()
        }
    }

    @Test func runRecordsTheSnapshotItReadEvenWhenTheBranchMoves() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let data = try makeData(dir)
            let before = try TestSupport.sh("\(TestSupport.dvsBinary) log -n 1 --json | grep '\"id\"' | head -1", in: data.root)
            // The command commits to main while it runs (as a labeling job might).
            let r = try TestSupport.dvs(
                [
                    "run", "--rev", "main", "--artifact", "m.bin", "--", "sh", "-c",
                    "echo note > note.txt && \(TestSupport.dvsBinary) commit -m moved >/dev/null && echo w > m.bin",
                ], in: data.root)
            #expect(r.status == 0, "\(r.stderr)")
            let m = try #require(try models(data.root).first)
            let snapshot = try #require(m["snapshot"] as? String)
            #expect(before.contains(snapshot), "the record names the commit the command read, not main's new head")
            #expect(m["revision"] as? String == "main")
            // Golden: "since     branch main is now at …".
            let g = Golden(replacing: [dir: "$TMP"])
            #expect(try g.run(["audit", "m.bin"], in: data.root).status == 0)
            try g.verify()
        }
    }

    /// Python reads the tar stream: every audio member equals its source file byte for byte and
    /// its JSON names it; returns the keys in stream order.
    static let checker = """
        import io, json, sys, tarfile, hashlib
        root = sys.argv[1]
        keys, audio, meta = [], {}, {}
        with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
            for m in t:
                data = t.extractfile(m).read()
                base = m.name.rsplit("/", 1)
                stem, ext = base[-1].split(".", 1)
                key = (base[0] + "/" if len(base) == 2 else "") + stem
                if ext == "json":
                    meta[key] = json.loads(data)
                else:
                    audio[key] = data
                    keys.append(key)
        bad = []
        for k in keys:
            j = meta[k]
            src = open(root + "/" + j["path"], "rb").read()
            if src != audio[k] or hashlib.sha256(src).hexdigest() != j["sha256"] or "labels" not in j or not j["sample_rate"]:
                bad.append(k)
        print(json.dumps({"keys": keys, "bad": bad}))
        """

    static let wds = """
        import sys, json, hashlib, webdataset as wds
        root = sys.argv[1]
        n = 0
        for s in wds.WebDataset("pipe:" + sys.argv[2], shardshuffle=False):
            j = json.loads(s["json"])
            audio = [v for k, v in s.items() if k not in ("json", "__key__", "__url__", "__local_path__")][0]
            assert audio == open(root + "/" + j["path"], "rb").read(), j["path"]
            n += 1
        print(n)
        """

    func python() -> String {
        let venv = (ProcessInfo.processInfo.environment["DVS_TOOLS_DIR"] ?? NSHomeDirectory() + "/.cache/dvs-tools") + "/venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "python3"
    }

    func stream(_ root: String, _ args: [String]) throws -> (keys: [String], bytes: Data) {
        let tar = try TestSupport.dvs(["stream"] + args, in: root)
        #expect(tar.status == 0, "\(tar.stderr)")
        let r = try TestSupport.run("python3", ["-c", Self.checker, root], stdin: tar.stdoutData)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((o["bad"] as? [String])?.isEmpty == true, "byte-exact: \(o["bad"] ?? "")")
        return (o["keys"] as? [String] ?? [], tar.stdoutData)
    }

    /// A sample whose name is not ASCII streamed (libarchive crashed on it in the "C" locale).
    @Test func streamKeepsNonASCIINames() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try TestSupport.sh(
                "mkdir -p 'caf\u{E9}' && sox -n -R -r 16000 -b 16 -c 1 'caf\u{E9}/\u{F1}and\u{FA}.wav' synth 0.2 sine 440 && sox -n -R -r 16000 -b 16 -c 1 plain.wav synth 0.2 sine 220",
                in: dir)
            #expect(try TestSupport.dvs(["init"], in: dir).status == 0)
            #expect(try TestSupport.dvs(["commit", "-m", "names"], in: dir).status == 0)
            let tar = try TestSupport.dvs(["stream"], in: dir)
            #expect(tar.status == 0, "\(tar.stderr)")
            let names = try TestSupport.run(
                "python3",
                [
                    "-c",
                    "import io,sys,tarfile; t=tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read())); print('\\n'.join(m.name for m in t))",
                ],
                stdin: tar.stdoutData)
            #expect(names.status == 0, "\(names.stderr)")
            #expect(names.stdout.contains("caf\u{E9}/\u{F1}and\u{FA}"), "\(names.stdout)")
        }
    }

    @Test func streamIsByteExactDeterministicAndShardsPartition() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let data = try makeData(dir)
            let plain = try stream(data.root, ["--rev", "main"])
            #expect(plain.keys.count == data.files.count)
            #expect(plain.keys == plain.keys.sorted(), "path order without a seed")
            let a = try stream(data.root, ["--rev", "main", "--shuffle", "42"])
            let b = try stream(data.root, ["--rev", "main", "--shuffle", "42"])
            let c = try stream(data.root, ["--rev", "main", "--shuffle", "43"])
            #expect(a.bytes == b.bytes, "same seed, same bytes")
            #expect(a.keys != plain.keys && a.keys != c.keys, "seeds shuffle differently")
            #expect(Set(a.keys) == Set(plain.keys))
            var union: [String] = []
            for i in 0..<3 {
                let s = try stream(data.root, ["--rev", "main", "--shuffle", "42", "--shard", "\(i)/3"])
                #expect(!s.keys.isEmpty)
                union += s.keys
            }
            #expect(union.count == data.files.count && Set(union) == Set(plain.keys), "shards are disjoint and cover the snapshot")
            // Golden: "shard 3/3 does not exist".
            let g = Golden(replacing: [dir: "$TMP"])
            let bad = try g.run(["stream", "--rev", "main", "--shard", "3/3"], in: data.root)
            #expect(bad.status == 64)
            try g.verify()

            // The webdataset package reads it as PyTorch users would (installed by scripts/install-deps.sh).
            let py = python()
            if (try? TestSupport.run(py, ["-c", "import webdataset"]).status) == 0 {
                let r = try TestSupport.run(
                    py, ["-c", Self.wds, data.root, "\(TestSupport.dvsBinary) stream -C \(data.root) --rev main --shuffle 5"])
                #expect(r.status == 0, "\(r.stderr)")
                #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(data.files.count))
            }
        }
    }

    /// `--from auto` (the default) and `--from store` give the same stream, also shuffled and
    /// sharded; with the packs moved away only the working tree can serve HEAD (so auto read it);
    /// a file rewritten after the commit (same size, other bytes, another mtime) is read from the
    /// store, as is every revision that is not HEAD.
    @Test func streamFromWorkingTreeEqualsStoreAndSkipsChangedFiles() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let root = dir + "/data"
            try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
            var files: [String] = []
            for (i, src) in TestSupport.debianRecordings(limit: 8).enumerated() {
                let name = "clips/\(i)." + (src as NSString).pathExtension
                try FileManager.default.copyItem(atPath: src, toPath: root + "/" + name)
                files.append(name)
            }
            // Written an hour ago: no stat cache row is racily clean.
            _ = try TestSupport.sh("touch -d '1 hour ago' clips/*", in: root)
            #expect(try TestSupport.dvs(["init"], in: root).status == 0)
            let c = try TestSupport.dvs(["commit", "-m", "clips"], in: root)
            #expect(c.status == 0, "\(c.stderr)")
            for args in [[String](), ["--shuffle", "7", "--shard", "1/3"]] {
                let auto = try stream(root, args)
                let store = try stream(root, args + ["--from", "store"])
                #expect(auto.bytes == store.bytes, "\(args): tree and store give the same bytes")
                #expect(!auto.keys.isEmpty)
            }
            let committed = try stream(root, ["--from", "store"]).bytes

            // Without packs, HEAD still streams from the tree; the store path fails.
            try FileManager.default.moveItem(atPath: root + "/.dvs/packs", toPath: dir + "/packs")
            try FileManager.default.createDirectory(atPath: root + "/.dvs/packs", withIntermediateDirectories: true)
            let fromTree = try TestSupport.dvs(["stream"], in: root)
            #expect(fromTree.status == 0, "\(fromTree.stderr)")
            #expect(fromTree.stdoutData == committed, "every sample came from the working tree")
            #expect(try TestSupport.dvs(["stream", "--from", "store"], in: root).status != 0)
            try FileManager.default.removeItem(atPath: root + "/.dvs/packs")
            try FileManager.default.moveItem(atPath: dir + "/packs", toPath: root + "/.dvs/packs")

            // Rewritten in place: same size, other bytes, another mtime. The stream keeps the
            // committed bytes (read from the store), not the file's.
            let path = root + "/" + files[0]
            var bytes = try Array(TestSupport.read(path))
            for k in bytes.count / 2..<bytes.count / 2 + 64 { bytes[k] ^= 0x5A }
            let fd = open(path, O_WRONLY)
            try #require(fd >= 0)
            #expect(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) } == bytes.count)
            close(fd)
            let afterEdit = try TestSupport.dvs(["stream"], in: root)
            #expect(afterEdit.status == 0, "\(afterEdit.stderr)")
            #expect(afterEdit.stdoutData == committed, "the edited file's committed bytes, from the store")
            #expect(afterEdit.stdoutData.range(of: Data(bytes)) == nil, "the edited bytes are not in the stream")

            // A FIFO now at a sample's path: read from the store, without blocking on the open.
            let fifoPath = root + "/" + files[1]
            let saved = try TestSupport.read(fifoPath)
            try FileManager.default.removeItem(atPath: fifoPath)
            #expect(mkfifo(fifoPath, 0o644) == 0)
            let withFIFO = try TestSupport.run("/usr/bin/timeout", ["20", TestSupport.dvsBinary, "stream"], in: root)
            #expect(withFIFO.status == 0, "\(withFIFO.stderr)")
            #expect(withFIFO.stdoutData == committed, "the FIFO's sample came from the store")
            try FileManager.default.removeItem(atPath: fifoPath)
            try TestSupport.write(saved, to: fifoPath)

            // Committed: HEAD moves on; the first commit streams from the store, unchanged.
            #expect(try TestSupport.dvs(["commit", "-m", "edited"], in: root).status == 0)
            let old = try TestSupport.dvs(["stream", "--rev", "HEAD~1"], in: root)
            #expect(old.status == 0 && old.stdoutData == committed, "not HEAD: read from the store")
            let now = try stream(root, [])
            #expect(now.bytes == (try stream(root, ["--from", "store"])).bytes && now.bytes != committed)
        }
    }

    @Test func auditBothWaysOnRealAudio() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let data = try makeData(dir)
            try TestSupport.write(Data("model v1".utf8), to: dir + "/v1.bin")
            let add = try TestSupport.dvs(
                ["model", "add", dir + "/v1.bin", "--rev", "main", "--name", "lid-v1", "--label", "lang", "--json"], in: data.root)
            #expect(add.status == 0, "\(add.stderr)")
            let v1 = try #require((try json(add) as? [String: Any])?["id"] as? String)
            // A branch without the German clips, and a model trained on it.
            #expect(try TestSupport.dvs(["branch", "nogerman"], in: data.root).status == 0)
            #expect(try TestSupport.dvs(["checkout", "nogerman"], in: data.root).status == 0)
            let german = data.files.filter { $0.hasPrefix("clips/de-") }
            try #require(!german.isEmpty, "ktuberling-data ships German clips")
            for f in german { try FileManager.default.removeItem(atPath: data.root + "/" + f) }
            var csv = try String(contentsOfFile: data.root + "/metadata.csv", encoding: .utf8).split(separator: "\n").filter {
                !$0.contains("clips/de-")
            }
            try TestSupport.write(Data((csv.joined(separator: "\n") + "\n").utf8), to: data.root + "/metadata.csv")
            #expect(try TestSupport.dvs(["commit", "-m", "drop de"], in: data.root).status == 0)
            try TestSupport.write(Data("model v2".utf8), to: dir + "/v2.bin")
            #expect(
                try TestSupport.dvs(["model", "add", dir + "/v2.bin", "--rev", "nogerman", "--name", "lid-v2"], in: data.root).status == 0)

            // Sample → models: only lid-v1 saw German audio.
            let s = try TestSupport.dvs(["audit", "--samples", "lang = 'de'", "--json"], in: data.root)
            #expect(s.status == 0, "\(s.stderr)")
            let hits = try #require(try json(s) as? [[String: Any]])
            #expect(hits.map { $0["name"] as? String } == ["lid-v1"])
            #expect(hits.first?["matched_samples"] as? Int == german.count)
            let en = try #require(
                try json(TestSupport.dvs(["audit", "--samples", "lang = 'en'", "--json"], in: data.root)) as? [[String: Any]])
            #expect(Set(en.compactMap { $0["name"] as? String }) == ["lid-v1", "lid-v2"])
            // Golden: "SQL error"; the audit text further down.
            let g = Golden(replacing: [dir: "$TMP"])
            let badSQL = try g.run(["audit", "--samples", "lang = "], in: data.root)
            #expect(badSQL.status == 1)

            // Model → data, and what changed since on main: relabel one English clip, remove one.
            #expect(try TestSupport.dvs(["checkout", "main"], in: data.root).status == 0)
            csv = try String(contentsOfFile: data.root + "/metadata.csv", encoding: .utf8).split(separator: "\n")
            let enFiles = data.files.filter { $0.hasPrefix("clips/en-") }
            let relabeled = enFiles[0]
            let removed = enFiles[1]
            csv = csv.filter { !$0.hasPrefix(removed + ",") }.map { $0.hasPrefix(relabeled + ",") ? Substring(relabeled + ",spk9,en") : $0 }
            try TestSupport.write(Data((csv.joined(separator: "\n") + "\n").utf8), to: data.root + "/metadata.csv")
            try FileManager.default.removeItem(atPath: data.root + "/" + removed)
            #expect(try TestSupport.dvs(["commit", "-m", "relabel"], in: data.root).status == 0)
            let a = try TestSupport.dvs(["audit", dir + "/v1.bin", "--json"], in: data.root)  // by artifact path
            #expect(a.status == 0, "\(a.stderr)")
            let o = try #require(try json(a) as? [String: Any])
            #expect(o["id"] as? String == v1)
            let since = try #require(o["since"] as? [String: Any])
            #expect((since["relabeled"] as? [[String: Any]])?.map { $0["path"] as? String } == [relabeled])
            #expect(since["removed"] as? [String] == [removed])
            // Golden: "relabeled <relabeled>: speaker: spk…", "removed   <removed>" (the paths chosen
            // above), "labels    lang: en".
            #expect(try g.run(["audit", String(v1.prefix(8))], in: data.root).status == 0)

            // A model on the relabeled snapshot: the sample index adds its new leaves, and only it saw spk9.
            try TestSupport.write(Data("model v3".utf8), to: dir + "/v3.bin")
            #expect(try TestSupport.dvs(["model", "add", dir + "/v3.bin", "--rev", "main", "--name", "lid-v3"], in: data.root).status == 0)
            let spk9 = try #require(
                try json(TestSupport.dvs(["audit", "--samples", "speaker = 'spk9'", "--json"], in: data.root)) as? [[String: Any]])
            #expect(spk9.map { $0["name"] as? String } == ["lid-v3"] && spk9.first?["matched_samples"] as? Int == 1)
            let de2 = try #require(
                try json(TestSupport.dvs(["audit", "--samples", "lang = 'de'", "--json"], in: data.root)) as? [[String: Any]])
            #expect(
                Set(de2.compactMap { $0["name"] as? String }) == ["lid-v1", "lid-v3"],
                "main still has the German clips; lid-v2's branch does not")
            try g.verify()
        }
    }

    @Test(arguments: RemoteKind.allCases) func recordsSurvivePushAndClone(_ kind: RemoteKind) throws {
        try TestSupport.withTemporaryDirectory { dir in
            let remote = try TestRemote(kind, dir: dir)
            let data = try makeData(dir)
            try TestSupport.write(Data("artifact bytes".utf8), to: dir + "/m.bin")
            #expect(
                try TestSupport.dvs(["model", "add", dir + "/m.bin", "--rev", "main", "--label", "speaker"], in: data.root).status == 0)
            try dvsOK(["remote", "add", "origin", remote.url] + remote.args, in: data.root, remote)
            // Golden: "1 lineage record(s)".
            let g = Golden(replacing: [dir: "$TMP"], variant: kind.rawValue)
            let push = try dvsOK(["push"], in: data.root, remote, golden: g)
            #expect(push.status == 0)
            try dvsOK(["clone", remote.url, dir + "/copy"] + remote.args, in: dir, remote)
            let here = try models(data.root)
            let there = try models(dir + "/copy")
            #expect(there.count == 1 && there.first?["id"] as? String == here.first?["id"] as? String)
            #expect(there.first?["label_distribution"] as? [String: Int] == here.first?["label_distribution"] as? [String: Int])
            // The artifact travelled too: the copy matches the file by its SHA-256.
            #expect(try TestSupport.dvs(["audit", dir + "/m.bin"], in: dir + "/copy").status == 0)
            #expect(try TestSupport.dvs(["fsck"], in: dir + "/copy").status == 0)
            // A second model, pushed later, arrives with fetch.
            try TestSupport.write(Data("second".utf8), to: dir + "/m2.bin")
            #expect(try TestSupport.dvs(["model", "add", dir + "/m2.bin", "--rev", "main"], in: data.root).status == 0)
            try dvsOK(["push"], in: data.root, remote)
            try dvsOK(["fetch"], in: dir + "/copy", remote)
            #expect(try models(dir + "/copy").count == 2)
            // A model trained on a branch that was never pushed: its record arrives, its snapshot
            // does not; audit --samples skips it with a warning (it used to fail on a "missing" commit).
            #expect(try TestSupport.dvs(["branch", "side"], in: data.root).status == 0)
            #expect(try TestSupport.dvs(["checkout", "side"], in: data.root).status == 0)
            try TestSupport.sh("cp \"$(ls *.wav */*.wav 2>/dev/null | head -1)\" side-only.wav", in: data.root)
            #expect(try TestSupport.dvs(["commit", "-m", "side only"], in: data.root).status == 0)
            try TestSupport.write(Data("third".utf8), to: dir + "/m3.bin")
            #expect(try TestSupport.dvs(["model", "add", dir + "/m3.bin", "--rev", "side"], in: data.root).status == 0)
            #expect(try TestSupport.dvs(["checkout", "main"], in: data.root).status == 0)
            try dvsOK(["push"], in: data.root, remote)
            try dvsOK(["fetch"], in: dir + "/copy", remote)
            let audit = try TestSupport.dvs(["audit", "--samples", "1 = 1"], in: dir + "/copy")
            #expect(audit.status == 0, "\(audit.stderr)")
            #expect(
                audit.stderr.contains("warning: model 'm3.bin'") && audit.stderr.contains("is not in this repository"), "\(audit.stderr)")
            #expect(audit.stdout.contains("m.bin"), "\(audit.stdout)")
            try g.verify()
        }
    }
}
