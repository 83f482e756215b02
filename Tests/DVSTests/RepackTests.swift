import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// A commit that stores audio as it is past `pack.defer-audio-after`, and `dvs repack`, which
/// codes it afterwards (`Repository.repack`).
@Suite struct RepackTests {
    /// A repository with speech in three formats (16 kHz mono, 48 kHz stereo, 8 kHz μ-law) and a
    /// label table; nothing committed yet.
    func speechRepository(_ dir: String, settings: [String: String]) throws -> (Repository, [String]) {
        let a = dir + "/a"
        try FileManager.default.createDirectory(atPath: a + "/clips", withIntermediateDirectories: true)
        var csv = "path,speaker\n"
        var files: [String] = []
        for i in 0..<6 {
            let name = "clips/s\(i).wav"
            let spec = ["-r 16000 -c 1 -b 16", "-r 48000 -c 2 -b 16", "-r 8000 -c 1 -e mu-law -b 8"][i % 3]
            try TestSupport.sh(
                "espeak-ng -s 150 -w '\(a)/raw\(i).wav' 'sample \(i), said for the repack test' && sox '\(a)/raw\(i).wav' \(spec) '\(a)/\(name)' && rm '\(a)/raw\(i).wav'"
            )
            csv += "\(name),spk\(i % 2)\n"
            files.append(name)
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: a + "/labels.csv"))
        let repo = try Repository.initialize(at: a, context: TestSupport.processContext)
        for (k, v) in settings { try repo.setConfig(k, v) }
        return (repo, files)
    }

    /// The codec of every file's blob at HEAD, by path.
    func codecs(_ repo: Repository, _ files: [String]) throws -> [String: BlobCodec] {
        var out: [String: BlobCodec] = [:]
        for e in try repo.entries(ofManifest: repo.commit(try #require(repo.catalog.head()?.commit)).manifest)
        where files.contains(e.path.string) {
            out[e.path.string] = try #require(try repo.packedBlobs.location(of: e.blob)).entry.codec
        }
        return out
    }

    /// Writes the frames of the packs at `paths` again, in reverse order, into one new pack of
    /// `repo`: the same blobs under another id, as a killed writer's duplicate.
    /// - Returns: the new pack's file name and the frames written.
    func writeReversedCopy(of paths: [String], into repo: Repository) throws -> (file: String, blobs: Int) {
        let writer = PackWriter(packsDir: repo.packsDir, tmpDir: repo.tmpDir)
        var blobs = 0
        for path in paths {
            let reader = try PackReader(path: path)
            for e in try reader.readIndex().reversed() {
                blobs += 1
                _ = try writer.append(
                    id: e.id, codec: e.codec, rawLength: e.rawLength, frame: try reader.read(offset: e.offset, length: e.storedLength))
            }
        }
        return (try #require(try writer.finish().first).id.hex + ".pack", blobs)
    }

    /// Flips one byte in the middle of `entry`'s frame in the pack file at `path`; its index and
    /// checksum stay whole, so only reading the frame finds it.
    func rotFrame(_ entry: PackEntry, inPackAt path: String) {
        let at = off_t(entry.offset + entry.storedLength / 2)
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        var byte: UInt8 = 0
        #expect(pread(fd, &byte, 1, at) == 1)
        byte ^= 0x5A
        #expect(pwrite(fd, &byte, 1, at) == 1)
    }

    @Test func aCommitPastTheBudgetStoresAudioAsItIsAndRepackCodesItByteExact() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, files) = try speechRepository(dir, settings: ["pack.defer-audio-after": "0", "pack.audio-codec": "lpc"])
            let audioBytes = try files.reduce(UInt64(0)) {
                $0 + UInt64(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/" + $1)).count)
            }
            let s = try repo.commit(CommitOptions(message: "speech"))
            #expect(s.deferredAudioBytes == audioBytes, "every audio file, and nothing else")
            #expect(Set(try codecs(repo, files).values) == [.stored])
            let labels = try #require(try repo.entries(ofManifest: s.commit.manifest).first { $0.path.string == "labels.csv" })
            #expect(try repo.packedBlobs.location(of: labels.blob)?.entry.codec != .stored, "a label table is coded at once")
            let pending = try repo.pendingRepack()
            #expect(pending.packs == 1 && pending.rawBytes == audioBytes)
            let before = try repo.fsck()
            #expect(before.isClean, "stored frames read and verify: \(before.damaged)")

            // A reader that looked a blob up before the repack reads it after, from the new pack.
            let early = try #require(try repo.packedBlobs.location(of: labels.blob))
            let firstAudio = try #require(try repo.entries(ofManifest: s.commit.manifest).first { $0.path.string == files[0] })
            let earlyAudio = try #require(try repo.packedBlobs.location(of: firstAudio.blob))
            let r = try repo.repack()
            #expect(r.packs == 1 && r.blobs == files.count && r.rawBytes == audioBytes && r.leftoversDeleted == 0)
            #expect(!FileManager.default.fileExists(atPath: repo.packsDir + "/" + early.pack.hex + ".pack"))
            #expect(ObjectID.hashing(try repo.packedBlobs.read(labels.blob, at: early, decompressor: nil)) == labels.blob)
            #expect(ObjectID.hashing(try repo.packedBlobs.read(firstAudio.blob, at: earlyAudio, decompressor: nil)) == firstAudio.blob)
            #expect(r.bytesAfter < r.bytesBefore * 3 / 4, "speech codes well below its size: \(r)")
            #expect(Set(try codecs(repo, files).values) == [.audioLPC], "each format as a commit codes it")
            for f in files {
                let e = try #require(try repo.entries(ofManifest: s.commit.manifest).first { $0.path.string == f })
                #expect(try repo.packedBlobs.read(e.blob) == [UInt8](try Data(contentsOf: URL(fileURLWithPath: repo.root + "/" + f))))
            }
            #expect(try repo.pendingRepack().packs == 0)
            let after = try repo.fsck()
            #expect(after.isClean && after.notes.isEmpty, "\(after.damaged) \(after.notes)")
            let packs = try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).filter { $0.hasSuffix(".pack") }
            #expect(packs.count == 1, "the old pack is gone: \(packs)")
            #expect(try repo.repack() == RepackReport(), "nothing left to do")
        }
    }

    /// `status` asks whether a repack runs: someone holds `.dvs/repack.lock`, and the probe
    /// leaves the file as the holder wrote it.
    @Test func aRunningRepackIsSeenWithoutDisturbingIt() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, _) = try speechRepository(dir, settings: [:])
            #expect(repo.runningRepack == nil)
            let path = repo.dvsDir + "/repack.lock"
            let running = try RepositoryLock(path: path, timeout: 0, command: "dvs repack --background")
            #expect(repo.runningRepack?.description == "pid \(getpid()): dvs repack --background")
            #expect(repo.runningRepack?.pid == getpid())
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "pid \(getpid()): dvs repack --background\n")
            running.release()
            #expect(repo.runningRepack == nil)
        }
    }

    @Test func theBudgetCodesTheAudioThatFitsAndDefersTheRest() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, files) = try speechRepository(dir, settings: ["pack.defer-audio-after": "50000"])
            let s = try repo.commit(CommitOptions(message: "speech"))
            let c = try codecs(repo, files)
            let stored = c.filter { $0.value == .stored }.keys
            #expect(!stored.isEmpty && stored.count < files.count, "some coded, the rest deferred: \(c)")
            let deferred = try stored.reduce(UInt64(0)) {
                $0 + UInt64(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/" + $1)).count)
            }
            #expect(s.deferredAudioBytes == deferred)
            // Coded only what fits in the budget; a file larger than it is never coded in the commit.
            var coded: UInt64 = 0
            for f in files {
                let n = UInt64(try Data(contentsOf: URL(fileURLWithPath: repo.root + "/" + f)).count)
                if c[f] != .stored { coded += n }
                if n > 50000 { #expect(c[f] == .stored, "\(f): \(n) bytes") }
            }
            #expect(coded <= 50000)
            // `never` codes everything in the commit.
            try repo.setConfig("pack.defer-audio-after", "never")
            try TestSupport.sh("sox '\(repo.root)/clips/s0.wav' '\(repo.root)/clips/s0-slow.wav' tempo 0.8")
            #expect(try repo.commit(CommitOptions(message: "one more")).deferredAudioBytes == 0)
            #expect(try codecs(repo, ["clips/s0-slow.wav"])["clips/s0-slow.wav"] == .audioLPC)
        }
    }

    /// `repack(recode: true)` after `pack.audio-codec` changed codes the audio as the setting now
    /// says: from `predictive` to `lpc`, 16-bit PCM goes from codec 2 to codec 4 and μ-law from
    /// plain zstd to codec 4, the labels stay plain zstd, every file reads back, and a second run
    /// rewrites nothing; under `auto` only the 16 kHz mono clips go back to codec 2; back to
    /// `predictive`, the rest goes back to codec 2 and zstd. A plain repack never touches coded
    /// blobs. The setting is read again in the same process once it changes.
    @Test func recodeCodesTheAudioAsTheSettingNowSays() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, files) = try speechRepository(dir, settings: ["pack.audio-codec": "predictive", "pack.auto-repack": "false"])
            try repo.commit(CommitOptions(message: "speech"))
            let all = files + ["labels.csv"]
            let before = try codecs(repo, all)
            #expect(before["clips/s0.wav"] == .pcm16Predictive && before["clips/s1.wav"] == .pcm16Predictive)
            #expect(before["clips/s2.wav"] == .zstd && before["labels.csv"] == .zstd)

            try repo.setConfig("pack.audio-codec", "lpc")
            #expect(try repo.repack().packs == 0, "a plain repack codes only what is stored as it is")
            let r = try repo.repack(recode: true)
            #expect(r.blobs == 6 && r.packs >= 1, "\(r)")
            let after = try codecs(repo, all)
            for f in files { #expect(after[f] == .audioLPC, "\(f)") }
            #expect(after["labels.csv"] == .zstd)
            #expect(r.bytesAfter < r.bytesBefore * 9 / 10, "codec 4 stores speech smaller than codec 2: \(r)")
            for f in all {
                let head = try repo.commit(try #require(repo.catalog.head()?.commit))
                let e = try #require(try repo.entries(ofManifest: head.manifest).first { $0.path.string == f })
                #expect(try repo.blobs.read(e.blob) == [UInt8](Data(contentsOf: URL(fileURLWithPath: repo.root + "/" + f))), "\(f)")
            }
            let packs = try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).sorted()
            let again = try repo.repack(recode: true)
            #expect(again.packs == 0 && again.blobs == 0, "\(again)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).sorted() == packs)

            try repo.setConfig("pack.audio-codec", "auto")
            #expect(try repo.repack(recode: true).blobs == 2)
            let auto = try codecs(repo, all)
            #expect(files.filter { auto[$0] == .pcm16Predictive } == ["clips/s0.wav", "clips/s3.wav"], "\(auto)")
            #expect(try repo.repack(recode: true).packs == 0)

            try repo.setConfig("pack.audio-codec", "predictive")
            #expect(try repo.repack(recode: true).blobs == 4)
            #expect(try codecs(repo, all) == before)
            #expect(try repo.fsck().isClean)
        }
    }

    /// A commit killed after renaming its pack in, then run again, leaves two packs of the same
    /// blobs, one the catalog never knew. Reindex used to index both and keep the duplicate for
    /// good (nothing else removes a pack the catalog knows); it now deletes it, with a catalog or
    /// without one.
    @Test func reindexDeletesTheDuplicatePackOfACommitKilledAndRunAgain() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, _) = try speechRepository(dir, settings: ["pack.defer-audio-after": "never", "pack.auto-repack": "false"])
            _ = try repo.commit(CommitOptions(message: "speech"))
            #expect(try repo.pendingRepack().packs == 0, "coded as committed")
            let packs = { Set(try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).filter { $0.hasSuffix(".pack") }) }
            let committed = try packs()
            // The killed run's pack: the same frames in another order, so another id.
            let (duplicate, blobs) = try writeReversedCopy(of: committed.map { repo.packsDir + "/" + $0 }, into: repo)
            #expect(blobs > 1)
            #expect(!committed.contains(duplicate))

            let reindexed = try repo.reindex()
            #expect(reindexed.repackLeftoversDeleted == 1 && reindexed.newPackCount == 0, "\(reindexed)")
            #expect(try packs() == committed, "the pack the catalog knew is kept")
            #expect(try repo.fsck().isClean)

            // Without a catalog, one of the two is kept, whichever.
            try FileManager.default.copyItem(atPath: repo.packsDir + "/" + committed.first!, toPath: dir + "/dup.pack")
            _ = try writeReversedCopy(of: [dir + "/dup.pack"], into: repo)
            #expect(try packs().count == committed.count + 1)
            try FileManager.default.removeItem(atPath: repo.dvsDir + "/catalog.sqlite")
            let rebuilt = try Repository.reindex(from: repo.root, context: TestSupport.processContext)
            #expect(rebuilt.repackLeftoversDeleted == 1, "\(rebuilt)")
            #expect(try packs().count == committed.count)
            let again = try Repository.discover(from: repo.root, context: TestSupport.processContext)
            #expect(try again.fsck().isClean)
            for e in try again.entries(at: "main") { #expect(try again.blob(e.blob).count == Int(e.byteCount)) }
        }
    }

    /// A duplicate goes only when the kept pack's frames read back: with a rotted frame in the
    /// pack the catalog knew, reindex keeps the duplicate and reads that blob from it (it
    /// deleted the duplicate, and the blob was lost).
    @Test func reindexKeepsADuplicateThatHoldsTheOnlyIntactCopy() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, _) = try speechRepository(dir, settings: ["pack.defer-audio-after": "never", "pack.auto-repack": "false"])
            _ = try repo.commit(CommitOptions(message: "speech"))
            let committed = try #require(try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).first { $0.hasSuffix(".pack") })
            let entries = try PackReader(path: repo.packsDir + "/" + committed).readIndex()
            let duplicate = try writeReversedCopy(of: [repo.packsDir + "/" + committed], into: repo).file
            // One byte of the largest frame in the known pack flipped.
            let rotted = try #require(entries.max { $0.storedLength < $1.storedLength })
            rotFrame(rotted, inPackAt: repo.packsDir + "/" + committed)

            let reindexed = try repo.reindex()
            #expect(reindexed.repackLeftoversDeleted == 0, "\(reindexed)")
            #expect(
                reindexed.rescuedBlobs == ["\(rotted.id.hex) in pack \(committed.dropLast(5)): indexed from pack \(duplicate.dropLast(5))"])
            #expect(FileManager.default.fileExists(atPath: repo.packsDir + "/" + duplicate), "the only intact copy stays")
            let again = try Repository.discover(from: repo.root, context: TestSupport.processContext)
            #expect(try again.packedBlobs.location(of: rotted.id)?.pack.hex == String(duplicate.dropLast(5)))
            for e in try again.entries(at: "main") { #expect(try again.blob(e.blob).count == Int(e.byteCount), "\(e.path)") }
        }
    }

    /// A committed speech repository repacked as a repack killed after its catalog swap leaves
    /// it: the old pack file (`old`, which the catalog no longer knows) back beside the coded one
    /// (`coded`).
    func repackLeavingTheOldPack(_ dir: String) throws -> (repo: Repository, old: String, coded: String) {
        let (repo, _) = try speechRepository(dir, settings: ["pack.defer-audio-after": "0"])
        _ = try repo.commit(CommitOptions(message: "speech"))
        let old = try #require(try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).first { $0.hasSuffix(".pack") })
        try FileManager.default.copyItem(atPath: repo.packsDir + "/" + old, toPath: dir + "/old.pack")
        _ = try repo.repack()
        let coded = try #require(try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).first { $0.hasSuffix(".pack") })
        try FileManager.default.copyItem(atPath: dir + "/old.pack", toPath: repo.packsDir + "/" + old)
        return (repo, old, coded)
    }

    /// The leftover of a killed repack goes only when the coded copies read back: with a rotted
    /// frame in the new pack, the old pack stays (it holds the only intact copy).
    @Test func aRepackLeftoverHoldingTheOnlyIntactCopyStays() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, old, coded) = try repackLeavingTheOldPack(dir)
            let entry = try #require(
                try PackReader(path: repo.packsDir + "/" + coded).readIndex().max { $0.storedLength < $1.storedLength })
            rotFrame(entry, inPackAt: repo.packsDir + "/" + coded)
            let r = try repo.repack()
            #expect(r.leftoversDeleted == 0, "\(r)")
            #expect(FileManager.default.fileExists(atPath: repo.packsDir + "/" + old))
        }
    }

    /// A repack killed after its catalog swap leaves the old pack file, which the catalog no
    /// longer knows; the next repack deletes it. A pack an interrupted commit left (its blobs
    /// indexed nowhere) stays, for `dvs reindex`.
    @Test func aRepackInterruptedAfterItsSwapIsFinishedByTheNext() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, old, _) = try repackLeavingTheOldPack(dir)
            // A commit's pack that never reached the catalog.
            let writer = PackWriter(packsDir: repo.packsDir, tmpDir: repo.tmpDir, targetSize: 1 << 20)
            let lost = [UInt8]("a blob no index knows".utf8)
            try writer.append(
                id: ObjectID.hashing(lost), codec: .zstd, rawLength: UInt64(lost.count), frame: try ZstdCompressor(level: 1).compress(lost))
            let commitLeft = try #require(try writer.finish().first).id.hex + ".pack"
            let noted = try repo.fsck().notes
            #expect(noted.count == 2, "both unindexed: \(noted)")

            // A reindex now (a lost catalog) indexes the coded copies, not the old pack's, and
            // deletes the old pack as the repack would have.
            let reindexed = try repo.reindex()
            #expect(reindexed.packCount == 3 && reindexed.damagedPacks.isEmpty)
            #expect(reindexed.repackLeftoversDeleted == 1 && reindexed.newPackCount == 1, "\(reindexed)")
            #expect(try repo.pendingRepack().packs == 0, "the replaced pack is not indexed")

            let r = try repo.repack()
            #expect(r.leftoversDeleted == 0 && r.packs == 0)
            let left = Set(try FileManager.default.contentsOfDirectory(atPath: repo.packsDir).filter { $0.hasSuffix(".pack") })
            #expect(!left.contains(old) && left.contains(commitLeft))
            #expect(try repo.fsck().isClean)
        }
    }

    @Test func pushCodesStoredAudioFirst() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, files) = try speechRepository(dir, settings: ["pack.defer-audio-after": "0", "pack.audio-codec": "lpc"])
            _ = try repo.commit(CommitOptions(message: "speech"))
            _ = try repo.addRemote(name: "origin", url: dir + "/remote.dvs")
            _ = try repo.push(remote: "origin")
            #expect(try repo.pendingRepack().packs == 0)
            let clone = try Repository.clone(url: dir + "/remote.dvs", into: dir + "/b", context: TestSupport.processContext).repository
            #expect(Set(try codecs(clone, files).values) == [.audioLPC], "the remote received coded audio")
            #expect(try TestSupport.sh("diff -r '\(dir)/a/clips' '\(dir)/b/clips' && echo same").contains("same"))
        }
    }

    /// A push to a remote that does not answer fails before any coding: the user hears about
    /// the address at once, not after the repack, and the audio is still waiting for it.
    @Test func aPushToARemoteThatDoesNotAnswerFailsBeforeCoding() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, _) = try speechRepository(dir, settings: ["pack.defer-audio-after": "0", "pack.audio-codec": "lpc"])
            _ = try repo.commit(CommitOptions(message: "speech"))
            // Port 1: nothing listens there, the connection is refused.
            _ = try repo.addRemote(name: "s3", url: "s3://dvs-data", endpoint: "http://127.0.0.1:1", pathStyle: true)
            let e = #expect(throws: DVSError.self) { try repo.push(remote: "s3") }
            #expect(e?.code == .remote, "\(String(describing: e))")
            #expect(try repo.pendingRepack().packs == 1, "nothing was coded")
        }
    }

    /// `cohort create --pack` before the repack: the cohort's packs, which training jobs
    /// download, hold the audio coded.
    @Test func aCohortPackedBeforeTheRepackHoldsCodedAudio() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, _) = try speechRepository(dir, settings: ["pack.defer-audio-after": "0", "pack.audio-codec": "lpc"])
            _ = try repo.commit(CommitOptions(message: "speech"))
            let made = try repo.createCohort("spk0", predicate: "speaker = 'spk0'", pack: true)
            #expect(made.packing?.blobs == 4, "three clips and the cohort's label table: \(String(describing: made.packing))")
            let packs = repo.cohortPacks()
            try #require(!packs.isEmpty, "\(packs)")
            var codecs: [BlobCodec] = []
            for p in packs { codecs += try PackReader(path: repo.packsDir + "/" + p.pack.hex + ".pack").readIndex().map(\.codec) }
            #expect(codecs.filter { $0 == .audioLPC }.count == 3 && !codecs.contains(.stored), "\(codecs)")
            #expect(try repo.fsck().isClean)
        }
    }

    /// A writer waiting for the lock says so (a shared record lock on its first byte), so that a repack between two packs
    /// lets it in; it stops saying so once it holds the lock.
    @Test func aWaitingWriterIsSeenAndLetIn() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/lock"
            var held: RepositoryLock? = try RepositoryLock(path: path, timeout: 0, command: "dvs repack")
            #expect(!RepositoryLock.othersAreWaiting(path: path))
            let got = Locked(false)
            let waiter = Thread {
                if let l = try? RepositoryLock(path: path, timeout: 20, command: "dvs commit") {
                    got.withLock { $0 = true }
                    usleep(200_000)
                    l.release()
                }
            }
            waiter.start()
            let deadline = Date().addingTimeInterval(10)
            while !RepositoryLock.othersAreWaiting(path: path), Date() < deadline { usleep(10_000) }
            #expect(RepositoryLock.othersAreWaiting(path: path), "the waiter is seen")
            held?.release()
            held = nil
            while !got.withLock({ $0 }), Date() < deadline { usleep(10_000) }
            #expect(got.withLock { $0 }, "and gets the lock")
            #expect(!RepositoryLock.othersAreWaiting(path: path), "and no longer waits")
        }
    }

    /// One repack at a time: a second one waits for `.dvs/repack.lock`, then codes what is left.
    @Test func aSecondRepackWaitsForTheFirst() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let (repo, _) = try speechRepository(dir, settings: ["pack.defer-audio-after": "0"])
            _ = try repo.commit(CommitOptions(message: "speech"))
            var first: RepositoryLock? = try RepositoryLock(path: repo.dvsDir + "/repack.lock", timeout: 0, command: "dvs repack")
            let done = Locked<RepackReport?>(nil)
            let second = Thread {
                let r = try? repo.repack()
                done.withLock { $0 = r }
            }
            second.start()
            usleep(500_000)
            #expect(done.withLock { $0 } == nil, "it waits")
            #expect(try repo.pendingRepack().packs == 1)
            first?.release()
            first = nil
            let deadline = Date().addingTimeInterval(60)
            while done.withLock({ $0 }) == nil, Date() < deadline { usleep(20_000) }
            #expect(done.withLock { $0 }?.packs == 1, "then codes the pack")
            #expect(try repo.pendingRepack().packs == 0)
        }
    }
}
