import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

#if canImport(Glibc)
    import Glibc
#endif

/// Temporary files a killed writer leaves in `.dvs/tmp` are deleted by the next command that
/// takes the lock; a file a live writer still holds open is not (`FileIO.removeAbandonedTemps`).
@Suite struct AbandonedTempTests {
    /// Sets a file's modification time `seconds` into the past.
    func age(_ path: String, by seconds: Int) throws {
        let t = time(nil) - seconds
        var times = [timespec(tv_sec: t, tv_nsec: 0), timespec(tv_sec: t, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0, "cannot set the time of \(path)")
    }

    func names(_ dir: String) -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []) }

    @Test func onlyUnlockedOldTempFilesOfTheStoresAreDeleted() throws {
        try TestSupport.withTemporaryDirectory { dir in
            // A live writer: its descriptor is open, so its lock is held.
            let live = try FileIO.makeTemp(in: dir, prefix: "pack")
            defer { close(live.fd) }
            // A killed writer: the descriptor is gone (its lock with it), the file stays.
            let dead = try FileIO.makeTemp(in: dir, prefix: "pack")
            try FileIO.writeAll(
                fd: dead.fd, UnsafeRawBufferPointer(start: [UInt8](repeating: 7, count: 1000), count: 1000), path: dead.path)
            close(dead.fd)
            // Killed a moment ago: younger than the minimum age, so it could be a writer between
            // its open and its flock.
            let young = try FileIO.makeTemp(in: dir, prefix: "obj")
            close(young.fd)
            // A resumable download and a file of another kind: never the sweep's.
            let download = dir + "/fetch-0123.pack"
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: download))
            let other = dir + "/partial-ranges"
            try Data([1]).write(to: URL(fileURLWithPath: other))
            for p in [live.path, dead.path, download, other] { try age(p, by: 300) }

            let removed = FileIO.removeAbandonedTemps(in: dir, prefixes: Repository.storeTempPrefixes)
            #expect(removed.files == 1 && removed.bytes == 1000)
            let left = names(dir)
            #expect(!left.contains((dead.path as NSString).lastPathComponent))
            #expect(
                left == Set([live.path, young.path, download, other].map { ($0 as NSString).lastPathComponent }),
                "left: \(left.sorted())")
        }
    }

    /// Staging folders (a partial clone's download, a remote gc's pack, remote verify's) go the
    /// same way: a killed command's, with what is in it, and not a live one's, nor a young one's,
    /// nor `partial-ranges` (which a later download resumes from), nor `dvs run`'s.
    @Test func onlyUnlockedOldStagingFoldersAreDeleted() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let live = try FileIO.makeTempDirectory(in: dir, prefix: Repository.partialStagePrefix)
            defer { close(live.fd) }
            let dead = try FileIO.makeTempDirectory(in: dir, prefix: Repository.partialStagePrefix)
            try FileManager.default.createDirectory(atPath: dead.path + "/sub", withIntermediateDirectories: false)
            try Data(repeating: 9, count: 3000).write(to: URL(fileURLWithPath: dead.path + "/0a1b.pack"))
            try Data(repeating: 9, count: 500).write(to: URL(fileURLWithPath: dead.path + "/sub/x"))
            close(dead.fd)
            let deadGC = try FileIO.makeTempDirectory(in: dir, prefix: Repository.remoteGCStagePrefix)
            close(deadGC.fd)
            let young = try FileIO.makeTempDirectory(in: dir, prefix: Repository.verifyStagePrefix)
            close(young.fd)
            let ranges = dir + "/partial-ranges"
            let run = dir + "/run-123-0"
            // What a dvs that took no lock on its folders named them: never the sweep's.
            let legacy = ["partial-123-1764900000000", "verify-123", "gc-remote-0a1b2c3d4e5f6071"].map { dir + "/" + $0 }
            for p in legacy { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: false) }
            for p in [ranges, run] { try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: false) }
            // A file named like a folder prefix, and a folder named like a file prefix: neither.
            let fileNamedLikeAFolder = dir + "/" + Repository.verifyStagePrefix + "-file"
            try Data([1]).write(to: URL(fileURLWithPath: fileNamedLikeAFolder))
            let folderNamedLikeAFile = dir + "/pack-folder"
            try FileManager.default.createDirectory(atPath: folderNamedLikeAFile, withIntermediateDirectories: false)
            for p in [live.path, dead.path, deadGC.path, ranges, run, fileNamedLikeAFolder, folderNamedLikeAFile] + legacy {
                try age(p, by: 300)
            }

            let removed = FileIO.removeAbandonedTemps(
                in: dir, prefixes: Repository.storeTempPrefixes, folderPrefixes: Repository.tempFolderPrefixes)
            #expect(removed.files == 2 && removed.bytes == 3500)
            #expect(
                names(dir)
                    == Set(
                        ([live.path, young.path, ranges, run, fileNamedLikeAFolder, folderNamedLikeAFile] + legacy).map {
                            ($0 as NSString).lastPathComponent
                        }), "left: \(names(dir).sorted())")
        }
    }

    @Test func theNextCommitDeletesWhatAKilledWriterLeftButNotALiveWritersPack() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let a = dir + "/a"
            try FileManager.default.createDirectory(atPath: a + "/clips", withIntermediateDirectories: true)
            try TestSupport.sh("espeak-ng -s 150 -w '\(a)/clips/one.wav' 'one sample for the sweep test'")
            let repo = try Repository.initialize(at: a, context: TestSupport.processContext)
            try repo.setConfig("pack.auto-repack", "false")
            _ = try repo.commit(CommitOptions(message: "one"))
            let tmp = repo.tmpDir

            // What a commit killed while filling a pack and one killed mid atomic write leave.
            let killedPack = tmp + "/pack-k1ll3d"
            try Data(repeating: 0x5a, count: 4096).write(to: URL(fileURLWithPath: killedPack))
            let killedWrite = tmp + "/tmp-k1ll3d"
            try Data("half a journal".utf8).write(to: URL(fileURLWithPath: killedWrite))
            // A push killed while it uploaded a metadata bundle.
            let killedBundle = tmp + "/" + Repository.pushBundlePrefix + "-k1ll3d"
            try Data(repeating: 0x44, count: 512).write(to: URL(fileURLWithPath: killedBundle))
            try age(killedBundle, by: 300)
            // And a partial clone's download killed halfway.
            let killedStage = tmp + "/" + Repository.partialStagePrefix + "-k1ll3d"
            try FileManager.default.createDirectory(atPath: killedStage, withIntermediateDirectories: false)
            try Data(repeating: 0x33, count: 2048).write(to: URL(fileURLWithPath: killedStage + "/0a1b.pack"))
            try age(killedStage, by: 300)
            // A writer in this process (as a repack coding without the lock) filling a pack.
            let writer = PackWriter(packsDir: repo.dvsDir + "/packs", tmpDir: tmp, targetSize: .max)
            let frame = [UInt8](repeating: 1, count: 64)
            try frame.withUnsafeBytes {
                _ = try writer.append(id: ObjectID.hashing(frame), codec: .stored, rawLength: 64, frame: $0)
            }
            let livePack = try #require(names(tmp).first { $0.hasPrefix("pack-") && $0 != "pack-k1ll3d" })
            for p in [killedPack, killedWrite, tmp + "/" + livePack] { try age(p, by: 300) }

            try TestSupport.sh("espeak-ng -s 150 -w '\(a)/clips/two.wav' 'a second sample'")
            let s = try repo.commit(CommitOptions(message: "two"))
            #expect(s.commit.message == "two")
            let left = names(tmp)
            #expect(
                !left.contains("pack-k1ll3d") && !left.contains("tmp-k1ll3d") && !left.contains("partial-stage-k1ll3d")
                    && !left.contains("push-k1ll3d"),
                "left: \(left.sorted())")
            #expect(left.contains(livePack), "the live writer's pack stays: \(left.sorted())")
            writer.abort()
            #expect(!names(tmp).contains(livePack))
            #expect(try repo.fsck().isClean)
        }
    }
}
