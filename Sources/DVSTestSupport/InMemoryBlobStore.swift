import DVSCore
import DVSStorage
import Foundation

/// A `BlobStore` in memory, for tests of code above the store: blobs kept as their original
/// bytes, each at a made-up location in one made-up pack; reads are verified like the real one's.
public final class InMemoryBlobStore: BlobStore, @unchecked Sendable {
    /// The pack every location names (all zero bytes).
    public static let pack = PackID(ObjectID(bytes: [UInt8](repeating: 0, count: 32)))
    private let lock = NSLock()
    private var blobs: [ObjectID: [UInt8]] = [:]
    private var order: [ObjectID: UInt64] = [:]

    /// Creates an empty store.
    public init() {}

    /// Whether blob `id` is stored.
    public func contains(_ id: ObjectID) throws -> Bool { lock.withLock { blobs[id] != nil } }
    /// Every stored id.
    public func ids() throws -> Set<ObjectID> { lock.withLock { Set(blobs.keys) } }
    /// Every made-up location.
    public func locations() throws -> [ObjectID: BlobLocation] {
        lock.withLock { Dictionary(uniqueKeysWithValues: blobs.keys.map { ($0, locationLocked($0)!) }) }
    }
    /// The made-up location of blob `id`, or nil.
    public func location(of id: ObjectID) throws -> BlobLocation? { lock.withLock { locationLocked(id) } }

    private func locationLocked(_ id: ObjectID) -> BlobLocation? {
        guard let b = blobs[id], let n = order[id] else { return nil }
        let count = UInt64(b.count)
        return BlobLocation(pack: Self.pack, entry: PackEntry(id: id, offset: n, storedLength: count, rawLength: count, codec: .zstd))
    }

    /// The bytes of blob `id`, verified. - Throws: `BlobReadError` (`.missing`, `.damaged`).
    public func read(_ id: ObjectID, at location: BlobLocation?, decompressor: ZstdDecompressor?) throws -> [UInt8] {
        guard let bytes = lock.withLock({ blobs[id] }) else { throw BlobReadError.missing(id) }
        guard ObjectID.hashing(bytes) == id else {
            throw BlobReadError(
                .damaged, id: id, pack: Self.pack, "cannot read object '\(id.hex)' in pack '\(Self.pack.hex)': checksum mismatch")
        }
        return bytes
    }

    /// The stored bytes (the original ones). - Throws: `BlobReadError.missing`.
    public func storedFrame(at location: BlobLocation) throws -> [UInt8] {
        guard let bytes = lock.withLock({ blobs[location.entry.id] }) else { throw BlobReadError.missing(location.entry.id) }
        return bytes
    }

    /// Does nothing.
    public func prefetch(_ location: BlobLocation) {}

    /// A session that keeps blobs aside until `finish`.
    public func beginWrite() throws -> any BlobWriteSession { Session(store: self) }

    /// Replaces the stored bytes of `id` (to test that damage is detected on read).
    public func damage(_ id: ObjectID, with bytes: [UInt8]) { lock.withLock { blobs[id] = bytes } }

    /// Stores the blobs it lacks; returns the ids it stored.
    fileprivate func adopt(_ new: [(ObjectID, [UInt8])]) -> [ObjectID] {
        lock.withLock {
            var stored: [ObjectID] = []
            for (id, b) in new where blobs[id] == nil {
                order[id] = UInt64(blobs.count)
                blobs[id] = b
                stored.append(id)
            }
            return stored
        }
    }

    /// Forgets blobs (a rolled-back session's).
    fileprivate func drop(_ ids: [ObjectID]) {
        lock.withLock {
            for id in ids {
                blobs[id] = nil
                order[id] = nil
            }
        }
    }

    /// Holds written blobs until `finish`.
    private final class Session: BlobWriteSession, @unchecked Sendable {
        let store: InMemoryBlobStore
        private let lock = NSLock()
        private var pending: [(ObjectID, [UInt8])] = []
        private var held: Set<ObjectID> = []
        private var bytes: UInt64 = 0
        private var adopted: [ObjectID] = []

        init(store: InMemoryBlobStore) { self.store = store }

        func contains(_ id: ObjectID) -> Bool { lock.withLock { held.contains(id) } }
        var storedBytes: UInt64 { lock.withLock { bytes } }

        @discardableResult
        func write(_ bytes: UnsafeRawBufferPointer, id: ObjectID, hint: BlobHint, coders: ZstdCoders?) throws -> Bool {
            lock.withLock {
                guard held.insert(id).inserted else { return false }
                pending.append((id, Array(bytes)))
                self.bytes += UInt64(bytes.count)
                return true
            }
        }

        @discardableResult
        func finish() throws -> [FinishedPack] {
            let new = lock.withLock {
                defer { pending = [] }
                return pending
            }
            adopted = store.adopt(new)
            return []
        }

        func abort() { lock.withLock { pending = [] } }

        func rollback() {
            abort()
            store.drop(adopted)
            adopted = []
        }
    }
}
