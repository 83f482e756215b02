import Crypto
import DVSTestSupport
import Foundation
import Testing

@testable import DVSRemote

/// The backends the contract runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case path, s3
    var testDescription: String { rawValue }
}

/// Runs `body` with an empty store of `backend`: a temp folder, or a fresh bucket on a fresh
/// moto server (killed afterwards) under the prefix `team/data`.
func withStore<T>(
    _ backend: Backend, policy: TransferPolicy = TransferPolicy(maxAttempts: 3, initialBackoff: 0.05),
    listPageSize: Int? = nil, serializedMoto: Bool = false, _ body: (any RemoteStore) throws -> T
) throws -> T {
    switch backend {
    case .path:
        return try TestSupport.withTemporaryDirectory { dir in try body(PathRemoteStore(root: dir + "/remote")) }
    case .s3:
        return try MotoServer.with(serialized: serializedMoto) { moto in
            let client = moto.client(bucket: "dvs-test", policy: policy)
            try client.createBucket()
            return try body(S3RemoteStore(client: client, prefix: "team/data/", listPageSize: listPageSize))
        }
    }
}

/// The contract every ``RemoteStore`` keeps (STYLE.md: one shared suite for every implementation).
@Suite struct RemoteStoreContractTests {
    /// put/get round trip, overwrite, missing keys, delete. Also used by the auth tests.
    static func roundTrip(_ store: any RemoteStore) throws {
        let data = Data((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try store.put("objects/ab/cdef", data)
        #expect(try store.get("objects/ab/cdef") == data)
        try store.put("objects/ab/cdef", data)  // idempotent
        #expect(try store.get("objects/ab/cdef") == data)
        #expect(try store.get("objects/ab/missing") == nil)
        #expect(try store.get("nothing-here") == nil)
        try store.put("objects/ab/empty", Data())
        #expect(try store.get("objects/ab/empty") == Data())
        try store.delete("objects/ab/cdef")
        #expect(try store.get("objects/ab/cdef") == nil)
        try store.delete("objects/ab/cdef")  // deleting a missing key succeeds
    }

    @Test(arguments: Backend.allCases) func putGetRoundTrip(_ backend: Backend) throws {
        try withStore(backend) { try Self.roundTrip($0) }
    }

    @Test(arguments: Backend.allCases) func getRange(_ backend: Backend) throws {
        try withStore(backend) { store in
            let data = Data((0..<100).map { UInt8($0) })
            try store.put("packs/p1.pack", data)
            #expect(try store.getRange("packs/p1.pack", 0...9) == data[0...9])
            #expect(try store.getRange("packs/p1.pack", 42...42) == data[42...42])
            #expect(try store.getRange("packs/p1.pack", 90...1000) == data[90...], "the end is clipped to the size")
            let e = #expect(throws: RemoteError.self) { try store.getRange("packs/missing.pack", 0...9) }
            #expect(e?.code == .notFound)
        }
    }

    @Test(arguments: Backend.allCases) func listWithPrefixAcrossPages(_ backend: Backend) throws {
        try withStore(backend, listPageSize: 7) { store in
            var expected: [RemoteObject] = []
            for i in 0..<40 {
                let key = String(format: "objects/%02x/%04d", i % 4, i)
                try store.put(key, Data(repeating: 1, count: i))
                expected.append(RemoteObject(key: key, size: UInt64(i)))
            }
            try store.put("objectsX/other", Data([1]))
            try store.put("refs/heads/main", Data([2]))
            expected.sort { $0.key < $1.key }
            #expect(try store.list(prefix: "objects/") == expected, "40 keys over 7-key pages")
            #expect(try store.list(prefix: "objects/01/") == expected.filter { $0.key.hasPrefix("objects/01/") })
            #expect(try store.list(prefix: "objects/02/002").map(\.key) == ["objects/02/0022", "objects/02/0026"])
            #expect(try store.list(prefix: "objects").count == 41, "a string prefix, not only a folder")
            #expect(try store.list(prefix: "").count == 42)
            #expect(try store.list(prefix: "nope/").isEmpty)
        }
    }

    @Test(arguments: Backend.allCases) func createRefOnlyOnce(_ backend: Backend) throws {
        try withStore(backend) { store in
            #expect(try store.readRef("refs/heads/main") == nil)
            let v1 = try store.writeRef("refs/heads/main", Data("commit-1".utf8), expected: nil)
            let e = #expect(throws: RemoteError.self) { try store.writeRef("refs/heads/main", Data("commit-2".utf8), expected: nil) }
            #expect(e?.code == .preconditionFailed)
            #expect(e?.subject == "refs/heads/main")
            if backend == .s3 {
                #expect(e?.httpStatus == 412 && e?.s3Code == "PreconditionFailed", "moto: \(String(describing: e?.cause))")
            }
            let r = try #require(try store.readRef("refs/heads/main"))
            #expect(r.data == Data("commit-1".utf8) && r.version == v1)
        }
    }

    @Test(arguments: Backend.allCases) func staleVersionIsRefusedAndRefUnchanged(_ backend: Backend) throws {
        try withStore(backend) { store in
            let v1 = try store.writeRef("refs/heads/main", Data("commit-1".utf8), expected: nil)
            let v2 = try store.writeRef("refs/heads/main", Data("commit-2".utf8), expected: v1)
            #expect(v2 != v1)
            let e = #expect(throws: RemoteError.self) { try store.writeRef("refs/heads/main", Data("commit-3".utf8), expected: v1) }
            #expect(e?.code == .preconditionFailed)
            let r = try #require(try store.readRef("refs/heads/main"))
            #expect(r.data == Data("commit-2".utf8) && r.version == v2)
            let gone = #expect(throws: RemoteError.self) { try store.writeRef("refs/heads/other", Data("x".utf8), expected: v2) }
            #expect(gone?.code == .preconditionFailed, "expecting a version of a ref that does not exist")
            if backend == .s3 {
                #expect(gone?.httpStatus == 404 && gone?.s3Code == "NoSuchKey", "moto answers If-Match on a missing key with 404")
            }
        }
    }

    /// On S3 this needs a serialized moto (see ``MotoServer/init(environment:serialized:)``):
    /// threaded moto lets both racing conditional PUTs through.
    @Test(arguments: Backend.allCases) func racingWritersExactlyOneWins(_ backend: Backend) throws {
        try withStore(backend, serializedMoto: true) { store in
            var version = try store.writeRef("refs/heads/main", Data("base".utf8), expected: nil)
            for round in 0..<8 {
                let wins = Counter()
                let base = version
                DispatchQueue.concurrentPerform(iterations: 2) { i in
                    do {
                        _ = try store.writeRef("refs/heads/main", Data("round \(round) writer \(i)".utf8), expected: base)
                        wins.add(winner: i)
                    } catch let e as RemoteError where e.code == .preconditionFailed {
                    } catch { Issue.record("unexpected error: \(error)") }
                }
                #expect(wins.count == 1, "round \(round): \(wins.count) winners")
                let r = try #require(try store.readRef("refs/heads/main"))
                #expect(r.data == Data("round \(round) writer \(wins.winner ?? -1)".utf8))
                version = r.version
            }
        }
    }

    @Test(arguments: Backend.allCases) func putFileLargeRoundTrip(_ backend: Backend) throws {
        let policy = TransferPolicy(maxAttempts: 3, initialBackoff: 0.05, multipartThreshold: 6 << 20, partSize: 5 << 20)
        try withStore(backend, policy: policy) { store in
            try TestSupport.withTemporaryDirectory { dir in
                let size = 70 << 20
                var words = [UInt64](repeating: 0, count: size / 8)
                var x: UInt64 = 0x9E37_79B9_7F4A_7C15
                for i in words.indices {
                    x ^= x << 13
                    x ^= x >> 7
                    x ^= x << 17
                    words[i] = x
                }
                let bytes = words.withUnsafeBytes { Data($0) }
                let file = dir + "/big.pack"
                try bytes.write(to: URL(fileURLWithPath: file))
                try store.putFile("packs/big.pack", localPath: file)
                let back = try #require(try store.get("packs/big.pack"))
                #expect(back.count == size)
                #expect(SHA256.hash(data: back) == SHA256.hash(data: bytes))
                #expect(try store.list(prefix: "packs/") == [RemoteObject(key: "packs/big.pack", size: UInt64(size))])
                #expect(try store.getRange("packs/big.pack", 10_000_000...10_000_009) == bytes[10_000_000...10_000_009])
                if let s3 = store as? S3RemoteStore {
                    let head = try #require(try s3.client.head("team/data/packs/big.pack"))
                    #expect(head.etag.hasSuffix("-14"), "70 MiB in 5 MiB parts is a 14-part multipart upload (ETag \(head.etag))")
                    #expect(try s3.client.list(prefix: "").map(\.key) == ["team/data/packs/big.pack"], "stored under the prefix")
                }
            }
        }
    }

    /// What `dvs remote verify` relies on to skip downloads: on S3 the listed ETag equals
    /// ``RemoteStore/listedChecksum(of:)`` of what was put (single-part and multipart, each part
    /// sent with Content-MD5), and differs once the key holds other bytes; folder remotes list
    /// no checksum (the caller reads the content).
    @Test(arguments: Backend.allCases) func listedChecksumConfirmsStoredContent(_ backend: Backend) throws {
        let policy = TransferPolicy(maxAttempts: 3, initialBackoff: 0.05, multipartThreshold: 6 << 20, partSize: 5 << 20)
        try withStore(backend, policy: policy) { store in
            try TestSupport.withTemporaryDirectory { dir in
                let small = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
                try store.put("objects/small", small)
                var big = Data(repeating: 0xA5, count: 12 << 20)
                for i in stride(from: 0, to: big.count, by: 4099) { big[i] = UInt8(truncatingIfNeeded: i >> 12) }
                let file = dir + "/big.pack"
                try big.write(to: URL(fileURLWithPath: file))
                try store.putFile("packs/big.pack", localPath: file)
                let listed = Dictionary(uniqueKeysWithValues: try store.list(prefix: "").map { ($0.key, $0) })
                switch backend {
                case .path:
                    #expect(store.listedChecksum(of: small) == nil)
                    #expect(try store.listedChecksum(ofFile: file) == nil)
                    #expect(listed["objects/small"]?.etag == nil)
                case .s3:
                    let etag = try #require(listed["packs/big.pack"]?.etag)
                    #expect(etag.hasSuffix("-3"), "12 MiB in 5 MiB parts: a 3-part upload (ETag \(etag))")
                    #expect(try store.listedChecksum(ofFile: file) == etag)
                    #expect(store.listedChecksum(of: big) == etag)
                    #expect(store.listedChecksum(of: small) == listed["objects/small"]?.etag)
                    var damaged = small
                    damaged[40] ^= 0x55
                    try store.put("objects/small", damaged)
                    let now = try #require(try store.list(prefix: "objects/small").first?.etag)
                    #expect(store.listedChecksum(of: small) != now, "other bytes, another ETag")
                }
            }
        }
    }

    @Test(arguments: Backend.allCases) func invalidKeysAreRefused(_ backend: Backend) throws {
        try withStore(backend) { store in
            for bad in ["", "/abs", "a//b", "a/../b", "./a", "a/"] {
                let e = #expect(throws: RemoteError.self, "\(bad)") { try store.put(bad, Data()) }
                #expect(e?.code == .invalidInput)
            }
        }
    }
}

/// Counts winners across threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    private var w: Int?
    func add(winner: Int) {
        lock.withLock {
            n += 1
            w = winner
        }
    }
    var count: Int { lock.withLock { n } }
    var winner: Int? { lock.withLock { w } }
}
