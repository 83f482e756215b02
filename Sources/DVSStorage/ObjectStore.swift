import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where metadata objects (commits, manifest chunks, later model records) are kept.
///
/// Every object is named by the SHA-256 of its canonical bytes. Implementations verify that hash
/// on every read. Writes are idempotent. One contract test suite runs against every implementation.
public protocol ObjectStore: Sendable {
    /// Stores `bytes` unless present. - Returns: their id. - Throws: `StorageError` on I/O failure.
    @discardableResult func write(_ bytes: [UInt8]) throws -> ObjectID
    /// Stores `bytes` that are known to hash to `id` (skips re-hashing).
    func write(_ bytes: [UInt8], id: ObjectID) throws
    /// The object's canonical bytes.
    /// - Throws: `StorageError.notFound` when absent; `.corrupt` when the stored bytes do not hash to `id`.
    func read(_ id: ObjectID) throws -> [UInt8]
    /// Whether the object is present (not verified).
    func contains(_ id: ObjectID) -> Bool
    /// Every stored id (for fsck and prefix lookups).
    func allIDs() throws -> [ObjectID]
    /// Makes every write so far durable.
    func sync() throws
}

/// Metadata objects as zstd-compressed files `objects/<2 hex>/<62 hex>` (git's loose layout).
///
/// Each file is one zstd frame of the canonical bytes. Writes go to a temp file and are renamed into
/// place; `sync()` fsyncs the touched folders, so a ref may be moved after it returns.
public final class LocalObjectStore: ObjectStore, @unchecked Sendable {
    /// The `objects` folder.
    public let root: String
    private let tmpDir: String
    private let lock = NSLock()
    private var pendingDirs: Set<String> = []
    private let decompressor = ZstdDecompressor()
    private let decompressorLock = NSLock()

    /// Opens the store at `root`, using `tmpDir` (same file system) for temp files.
    public init(root: String, tmpDir: String) {
        self.root = root
        self.tmpDir = tmpDir
    }

    /// The file of `id`.
    public func path(of id: ObjectID) -> String {
        let h = id.hex
        return "\(root)/\(h.prefix(2))/\(h.dropFirst(2))"
    }

    public func write(_ bytes: [UInt8]) throws -> ObjectID {
        let id = ObjectID.hashing(bytes)
        try write(bytes, id: id)
        return id
    }

    public func write(_ bytes: [UInt8], id: ObjectID) throws {
        let p = path(of: id)
        if FileIO.exists(p) { return }
        let dir = (p as NSString).deletingLastPathComponent
        if !FileIO.exists(dir) { try FileIO.makeDirectories(dir) }
        let frame = try ZstdCompressor(level: 3).compress(bytes)
        let (fd, tmp) = try FileIO.makeTemp(in: tmpDir, prefix: "obj")
        var open = true  // closed exactly once: a second close could hit another thread's descriptor
        do {
            try frame.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: tmp) }
            guard fsync(fd) == 0 else { throw StorageError.posix("cannot fsync", path: tmp) }
            // Renamed while still open (and so locked): see `FileIO.makeTemp`.
            guard rename(tmp, p) == 0 else { throw StorageError.posix("cannot rename object into", path: p) }
            close(fd)
            open = false
        } catch {
            if open { close(fd) }
            unlink(tmp)
            throw error
        }
        lock.withLock { _ = pendingDirs.insert(dir) }
    }

    public func read(_ id: ObjectID) throws -> [UInt8] {
        let p = path(of: id)
        let frame: [UInt8]
        do { frame = try FileIO.read(p) } catch let e as StorageError where e.code == .notFound {
            throw StorageError(.notFound, "object '\(id.hex)' is missing", subject: .object(id), underlying: e)
        }
        let bytes: [UInt8]
        do {
            bytes = try decompressorLock.withLock { try frame.withUnsafeBytes { try decompressor.decompress($0, limit: 1 << 30) } }
        } catch let e as StorageError {
            throw StorageError(
                .corrupt, "cannot read object '\(id.hex)': \(e.message)", subject: .object(id), cause: e.cause, underlying: e)
        }
        guard ObjectID.hashing(bytes) == id else {
            throw StorageError(
                .corrupt, "cannot read object '\(id.hex)': checksum mismatch", subject: .object(id))
        }
        return bytes
    }

    public func contains(_ id: ObjectID) -> Bool { FileIO.exists(path(of: id)) }

    /// The object's file as stored: one zstd frame of its canonical bytes (what remotes hold).
    /// - Throws: `StorageError.notFound` when the object is missing.
    public func storedFrame(_ id: ObjectID) throws -> [UInt8] {
        do { return try FileIO.read(path(of: id)) } catch let e as StorageError where e.code == .notFound {
            throw StorageError(.notFound, "object '\(id.hex)' is missing", subject: .object(id), underlying: e)
        }
    }

    /// Stores an object given as its stored form (one zstd frame, as a remote holds it) after
    /// checking it: the frame must decompress and its bytes must hash to `id`.
    /// - Returns: the decompressed canonical bytes.
    /// - Throws: `StorageError.corrupt` when the frame does not decode or hashes to another id;
    ///   nothing is stored then. Idempotent: an existing object is kept as it is.
    @discardableResult
    public func writeVerified(frame: [UInt8], id: ObjectID) throws -> [UInt8] {
        let bytes: [UInt8]
        do { bytes = try Zstd.decompress(frame, limit: 1 << 30) } catch let e as StorageError {
            throw StorageError(.corrupt, "object '\(id.hex)' does not decompress: \(e.message)", cause: e.cause, underlying: e)
        }
        guard ObjectID.hashing(bytes) == id else {
            throw StorageError(.corrupt, "object '\(id.hex)': checksum mismatch (its bytes hash to '\(ObjectID.hashing(bytes).hex)')")
        }
        let p = path(of: id)
        if FileIO.exists(p) { return bytes }
        let dir = (p as NSString).deletingLastPathComponent
        if !FileIO.exists(dir) { try FileIO.makeDirectories(dir) }
        try FileIO.writeAtomically(frame, to: p, tmpDir: tmpDir)
        lock.withLock { _ = pendingDirs.insert(dir) }
        return bytes
    }

    public func allIDs() throws -> [ObjectID] {
        var out: [ObjectID] = []
        guard let dirs = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        for d in dirs where d.count == 2 {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(d)")) ?? [] {
                if let id = ObjectID(hex: d + f) { out.append(id) }
            }
        }
        return out.sorted()
    }

    public func sync() throws {
        let dirs = lock.withLock { () -> Set<String> in
            defer { pendingDirs = [] }
            return pendingDirs
        }
        for d in dirs { FileIO.syncDirectory(d) }
        FileIO.syncDirectory(root)
    }
}

/// Metadata objects in memory, for tests.
public final class InMemoryObjectStore: ObjectStore, @unchecked Sendable {
    private let lock = NSLock()
    private var objects: [ObjectID: [UInt8]] = [:]
    /// An empty store.
    public init() {}
    public func write(_ bytes: [UInt8]) throws -> ObjectID {
        let id = ObjectID.hashing(bytes)
        try write(bytes, id: id)
        return id
    }
    public func write(_ bytes: [UInt8], id: ObjectID) throws { lock.withLock { objects[id] = bytes } }
    public func read(_ id: ObjectID) throws -> [UInt8] {
        guard let b = lock.withLock({ objects[id] }) else { throw StorageError(.notFound, "object '\(id.hex)' is missing") }
        guard ObjectID.hashing(b) == id else { throw StorageError(.corrupt, "cannot read object '\(id.hex)': checksum mismatch") }
        return b
    }
    public func contains(_ id: ObjectID) -> Bool { lock.withLock { objects[id] != nil } }
    public func allIDs() throws -> [ObjectID] { lock.withLock { objects.keys.sorted() } }
    public func sync() throws {}
    /// Replaces an object's bytes without re-hashing (tests of corruption handling).
    public func corrupt(_ id: ObjectID, with bytes: [UInt8]) { lock.withLock { objects[id] = bytes } }
}
