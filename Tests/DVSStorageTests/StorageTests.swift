import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVSStorage

@Suite struct ZstdTests {
    @Test func roundTripAndDamageIsDetected() throws {
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 13) }
        var frame = try ZstdCompressor(level: 1).compress(input)
        #expect(frame.count < input.count)
        #expect(try Zstd.decompress(frame) == input)
        frame[frame.count / 2] ^= 0x40
        #expect(throws: StorageError.self) { try Zstd.decompress(frame) }
        #expect(throws: StorageError.self) { try Zstd.decompress([1, 2, 3]) }
    }

    /// A frame is returned at its own size, not in the compression bound's buffer (a 4 MB
    /// table of repeated rows used to hold a 4 MB array for a frame of a few KB).
    @Test func frameIsReturnedAtItsOwnSize() throws {
        let row = Array("spk0001/u000001.wav,spk0001,en,command\n".utf8)
        let input = Array((0..<100_000).map { _ in row }.joined())
        let frame = try ZstdCompressor(level: 3).compress(input)
        #expect(frame.count < 64 * 1024)
        #expect(frame.capacity < 128 * 1024)
        #expect(try Zstd.decompress(frame) == input)
        let empty = try ZstdCompressor(level: 3).compress([UInt8]())
        #expect(try Zstd.decompress(empty) == [])
    }
}

@Suite struct ZstdStreamCheckTests {
    /// `decodes` accepts exactly the bytes a frame holds (plain and with a prefix, across 1 MiB
    /// chunks) and refuses other bytes, a shorter or longer expectation, and a damaged or cut frame.
    @Test func decodesComparesAsItDecodes() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let base = (0..<3_000_000).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 59)  // 5 random bits: compressible, not trivially
        }
        var edited = base
        edited[2_500_000] ^= 0xFF
        let z = ZstdCompressor(level: 3)
        let d = ZstdDecompressor()
        let plain = try z.compress(edited)
        let delta = try base.withUnsafeBytes { b in try edited.withUnsafeBytes { e in try z.compress(e, prefix: b) } }
        #expect(delta.count < plain.count / 10)
        func check(_ frame: [UInt8], prefix: [UInt8]?, _ expected: [UInt8]) -> Bool {
            frame.withUnsafeBytes { f in
                expected.withUnsafeBytes { e in
                    if let prefix { return prefix.withUnsafeBytes { d.decodes(f, prefix: $0, to: e) } }
                    return d.decodes(f, to: e)
                }
            }
        }
        #expect(check(plain, prefix: nil, edited))
        #expect(check(delta, prefix: base, edited))
        #expect(!check(plain, prefix: nil, base))
        #expect(!check(delta, prefix: base, base))
        #expect(!check(plain, prefix: nil, Array(edited.dropLast())))
        #expect(!check(plain, prefix: nil, edited + [0]))
        #expect(!check(Array(plain.dropLast(9)), prefix: nil, edited))
        #expect(!check(plain + [0], prefix: nil, edited))
        var damaged = plain
        damaged[damaged.count / 2] ^= 0x10
        #expect(!check(damaged, prefix: nil, edited))
        // The context is usable again after a refusal, and a prefix does not stick to it.
        #expect(check(plain, prefix: nil, edited))
        #expect(check(try z.compress([UInt8]()), prefix: nil, []))
    }
}

@Suite struct FileIOTests {
    /// Files of exactly the expected size, shorter, longer, and empty all read whole; a file
    /// that fills the expected size is not held in a grown buffer.
    @Test func readAllReadsEveryByteAtAnySizeHint() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            let path = dir + "/f"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            for hint in [0, 1, 65_536, 299_999, 300_000, 300_001, 1_000_000] {
                let fd = open(path, O_RDONLY)
                defer { close(fd) }
                let read = try FileIO.readAll(fd: fd, path: path, sizeHint: hint)
                #expect(read == bytes, "size hint \(hint)")
                if hint == 0 || hint == 300_000 { #expect(read.capacity < 300_000 + 4096, "size hint \(hint)") }
            }
            try Data().write(to: URL(fileURLWithPath: path))
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            #expect(try FileIO.readAll(fd: fd, path: path).isEmpty)
        }
    }
}

@Suite struct PackTests {
    @Test func writeRotateReadAndVerify() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/packs", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
            let writer = PackWriter(packsDir: dir + "/packs", tmpDir: dir + "/tmp", targetSize: 64 * 1024)
            let z = ZstdCompressor(level: 1)
            var blobs: [ObjectID: [UInt8]] = [:]
            for i in 0..<60 {
                var rng = SystemRandomNumberGenerator()
                let b = (0..<(3000 + i * 100)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                let id = ObjectID.hashing(b)
                blobs[id] = b
                #expect(try writer.append(id: id, codec: .zstd, rawLength: UInt64(b.count), frame: z.compress(b)))
                #expect(
                    try !writer.append(id: id, codec: .zstd, rawLength: UInt64(b.count), frame: z.compress(b)),
                    "a second append of the same id is skipped")
            }
            let packs = try writer.finish()
            #expect(packs.count > 1, "64 KiB target must rotate")
            #expect(packs.reduce(0) { $0 + $1.entries.count } == 60)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/tmp").isEmpty, "no temp files left")
            for p in packs {
                let r = try PackReader(path: "\(dir)/packs/\(p.id.hex).pack")
                #expect(try r.verifyChecksum(expected: p.id) == nil)
                let index = try r.readIndex()
                #expect(Set(index.map(\.id)) == Set(p.entries.map(\.id)))
                for e in index { #expect(try r.payload(of: e) == blobs[e.id]) }
            }
            // Damage one frame: its read fails and names the object.
            let p = packs[0]
            let e = p.entries[0]
            let path = "\(dir)/packs/\(p.id.hex).pack"
            var bytes = try [UInt8](TestSupport.read(path))
            bytes[Int(e.offset) + Int(e.storedLength) / 2] ^= 0xFF
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let err = #expect(throws: StorageError.self) { try PackReader(path: path).payload(of: e) }
            #expect(err?.message.contains(e.id.hex) == true)
        }
    }
}

/// One contract, run against every `ObjectStore` (jj's test_backend style).
@Suite struct ObjectStoreContract {
    static func stores(_ dir: String) throws -> [any ObjectStore] {
        try FileManager.default.createDirectory(atPath: dir + "/objects", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
        return [LocalObjectStore(root: dir + "/objects", tmpDir: dir + "/tmp"), InMemoryObjectStore()]
    }

    @Test func writeReadContainsIdempotent() throws {
        try TestSupport.withTemporaryDirectory { dir in
            for store in try Self.stores(dir) {
                let bytes = Array("dvs-commit 1\n".utf8)
                let id = try store.write(bytes)
                #expect(id == ObjectID.hashing(bytes))
                #expect(try store.write(bytes) == id)
                #expect(store.contains(id))
                #expect(try store.read(id) == bytes)
                #expect(try store.allIDs() == [id])
                try store.sync()
                let missing = ObjectID.hashing([9])
                #expect(!store.contains(missing))
                let e = #expect(throws: StorageError.self) { try store.read(missing) }
                #expect(e?.code == .notFound)
            }
        }
    }

    @Test func damagedObjectIsRejectedOnRead() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let local = LocalObjectStore(root: dir + "/objects", tmpDir: dir)
            try FileManager.default.createDirectory(atPath: dir + "/objects", withIntermediateDirectories: true)
            let id = try local.write(Array("hello".utf8))
            // Replace the file with a valid zstd frame of other bytes: the hash check must catch it.
            try Data(try ZstdCompressor().compress(Array("HELLO".utf8))).write(to: URL(fileURLWithPath: local.path(of: id)))
            let e = #expect(throws: StorageError.self) { try local.read(id) }
            #expect(e?.code == .corrupt)
            #expect(e?.message.contains("checksum mismatch") == true)
            let mem = InMemoryObjectStore()
            let id2 = try mem.write([1, 2, 3])
            mem.corrupt(id2, with: [1, 2, 4])
            #expect(throws: StorageError.self) { try mem.read(id2) }
        }
    }
}

@Suite struct LockTests {
    /// Who holds a lock, with the pid: from what dvs recorded, from `/proc/locks` for a program
    /// that recorded nothing (`flock(1)`) even over what a killed dvs left in the file, and
    /// nobody once it is let go.
    @Test func theHolderComesWithItsPid() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let path = dir + "/lock"
            let held = try RepositoryLock(path: path, timeout: 0, command: "dvs repack --background")
            #expect(RepositoryLock.holder(path: path) == LockHolder(recorded: "pid \(getpid()): dvs repack --background"))
            #expect(RepositoryLock.holder(path: path)?.pid == getpid())
            held.release()
            #expect(RepositoryLock.holder(path: path) == nil)

            // Text a killed dvs left in the file, then another program takes the lock: the
            // system's view wins. `cat` holds it until its input closes, so nothing outlives the test.
            try Data("pid 4242: dvs repack --background\n".utf8).write(to: URL(fileURLWithPath: path))
            let other = Process()
            let input = Pipe()
            other.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            other.arguments = [path, "cat"]
            other.standardInput = input
            try other.run()
            defer {
                try? input.fileHandleForWriting.close()
                other.waitUntilExit()
            }
            var holder: LockHolder?
            for _ in 0..<100 where holder == nil {
                usleep(20_000)
                holder = RepositoryLock.holder(path: path)
            }
            #expect(holder?.pid == other.processIdentifier)
            #expect(holder?.description.hasPrefix("process \(other.processIdentifier) (/usr/bin/flock \(path) cat)") == true)
            // A writer that gives up names that process too, not the dead dvs.
            let e = #expect(throws: StorageError.self) { try RepositoryLock(path: path, timeout: 0.2, command: "dvs commit") }
            #expect(e?.message.hasPrefix("repository is locked by process \(other.processIdentifier) (") == true, "\(e?.message ?? "")")
            #expect(e?.message.hasSuffix("which did not record itself in \(path)") == true)
        }
    }

    /// Only `pid N: …`, what dvs writes, gives a pid; other text in a lock file gives none.
    @Test func aRecordedHolderGivesAPidOnlyInDvsForm() {
        #expect(LockHolder(recorded: "pid 1234: dvs repack --background").pid == 1234)
        #expect(LockHolder(recorded: "pid : dvs repack").pid == nil)
        #expect(LockHolder(recorded: "pid 12x: dvs repack").pid == nil)
        #expect(LockHolder(recorded: "process 77 (sleep 9)").pid == nil)
        #expect(LockHolder(recorded: "pid 99999999999: dvs commit").pid == nil)
        #expect(LockHolder(recorded: "pid 0: dvs commit").pid == nil)
    }

    @Test func secondWriterWaitsThenFailsNamingTheHolder() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let first = try RepositoryLock(path: dir + "/lock", timeout: 0, command: "dvs commit")
            let start = Date()
            let e = #expect(throws: StorageError.self) { try RepositoryLock(path: dir + "/lock", timeout: 0.3, command: "dvs checkout") }
            #expect(Date().timeIntervalSince(start) >= 0.25, "it waited")
            #expect(e?.code == .locked)
            #expect(e?.message.contains("pid \(getpid()): dvs commit") == true)
            first.release()
            _ = try RepositoryLock(path: dir + "/lock", timeout: 0, command: "dvs checkout")
        }
    }

    /// A writer that has waited a second says so once, naming the holder, and still gets the
    /// lock when the holder lets go; one that gets it at once says nothing.
    @Test func aWriterThatWaitsNamesTheHolderOnceThenGetsTheLock() throws {
        try TestSupport.withTemporaryDirectory { dir in
            final class Lines: @unchecked Sendable {
                let lock = NSLock()
                var lines: [String] = []
                var times: [Date] = []
                func add(_ s: String) {
                    lock.withLock {
                        lines.append(s)
                        times.append(Date())
                    }
                }
                var all: [String] { lock.withLock { lines } }
                var when: [Date] { lock.withLock { times } }
            }
            let quiet = Lines()
            let free = try RepositoryLock(path: dir + "/lock", timeout: 5, command: "dvs status", onWait: quiet.add)
            free.release()
            #expect(quiet.all.isEmpty)

            // A short wait (half a second) says nothing either. The machine may be loaded (CI
            // runs suites side by side), so what holds is: said only if the wait reached a second.
            let brief = try RepositoryLock(path: dir + "/lock", timeout: 0, command: "dvs commit")
            let letGo = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                usleep(500_000)
                brief.release()
                letGo.signal()
            }
            let short = Lines()
            let briefStart = Date()
            let afterBrief = try RepositoryLock(path: dir + "/lock", timeout: 60, command: "dvs status", onWait: short.add)
            let waited = Date().timeIntervalSince(briefStart)
            afterBrief.release()
            letGo.wait()
            #expect(short.all.isEmpty || waited >= RepositoryLock.waitAnnouncedAfter, "said after \(waited) s: \(short.all)")

            // A long wait: the holder lets go only once the waiter has said who it waits for.
            let heard = Lines()
            let first = try RepositoryLock(path: dir + "/lock", timeout: 0, command: "dvs repack --background")
            let said = DispatchSemaphore(value: 0)
            let released = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                _ = said.wait(timeout: .now() + 60)
                first.release()
                released.signal()
            }
            let start = Date()
            let second = try RepositoryLock(
                path: dir + "/lock", timeout: 60, command: "dvs commit",
                onWait: {
                    heard.add($0)
                    said.signal()
                })
            #expect(heard.all == ["pid \(getpid()): dvs repack --background"])
            let when = try #require(heard.when.first)
            #expect(when.timeIntervalSince(start) >= RepositoryLock.waitAnnouncedAfter, "said after a second of waiting, not before")
            second.release()
            released.wait()
        }
    }
}

/// `PackedBlobStore` on its own: packs in a folder, an index in memory, a registered transform.
@Suite struct PackedBlobStoreTests {
    /// Reverses the bytes of blobs whose hint says so (a stand-in for a format-aware transform).
    struct Reverse: BlobTransform {
        var codec: BlobCodec { .pcm16Predictive }
        func forward(_ bytes: UnsafeRawBufferPointer, hint: BlobHint, compressor: ZstdCompressor) throws -> [UInt8]? {
            hint.facts as? String == "reverse" ? Array(bytes.reversed()) : nil
        }
        func inverse(_ payload: [UInt8]) throws -> [UInt8] { payload.reversed() }
    }

    final class MemoryIndex: BlobIndex, @unchecked Sendable {
        let lock = NSLock()
        var rows: [ObjectID: BlobLocation] = [:]
        func location(of id: ObjectID) throws -> BlobLocation? { lock.withLock { rows[id] } }
        func locations() throws -> [ObjectID: BlobLocation] { lock.withLock { rows } }
        func ids() throws -> Set<ObjectID> { lock.withLock { Set(rows.keys) } }
        func record(_ packs: [FinishedPack]) throws {
            lock.withLock {
                for p in packs { for e in p.entries where rows[e.id] == nil { rows[e.id] = BlobLocation(pack: PackID(p.id), entry: e) } }
            }
        }
        func forget(_ packs: [PackID]) throws {
            lock.withLock { rows = rows.filter { !packs.contains($0.value.pack) } }
        }
    }

    @Test func transformsArePluggedInByCodecAndReadsAreVerified() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/packs", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/tmp", withIntermediateDirectories: true)
            let index = MemoryIndex()
            let store = PackedBlobStore(packsDir: dir + "/packs", tmpDir: dir + "/tmp", index: index, transforms: [Reverse()])
            let a = Array("abcdefgh".utf8)
            let b = Array("plain bytes".utf8)
            let ids = try store.write([(a, BlobHint(facts: "reverse")), (b, BlobHint())])
            #expect(try store.location(of: ids[0])?.entry.codec == .pcm16Predictive)
            #expect(try store.location(of: ids[1])?.entry.codec == .zstd)
            #expect(try store.read(ids[0]) == a)
            #expect(try store.read(ids[1]) == b)
            // A store without the transform cannot restore the blob, and says which.
            let bare = PackedBlobStore(packsDir: dir + "/packs", tmpDir: dir + "/tmp", index: index, transforms: [])
            let e = #expect(throws: BlobReadError.self) { try bare.read(ids[0]) }
            #expect(e?.kind == .damaged && e?.id == ids[0])
        }
    }
}
