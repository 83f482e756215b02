import DVSCore
import Foundation

/// What the writer of a blob knows about it, for the store's choice of codec.
public struct BlobHint: Sendable {
    /// The blob of the previous version of the same file, if it may serve as a delta base (a label
    /// table after a relabeling pass); the store keeps a delta only where it is smaller.
    public var deltaBase: ObjectID?
    /// Facts the registered transforms may use, opaque to storage (e.g. the RIFF layout of a
    /// 16-bit PCM WAV, which `DVS` passes to its PCM transform).
    public var facts: (any Sendable)?
    /// Creates a hint.
    public init(deltaBase: ObjectID? = nil, facts: (any Sendable)? = nil) {
        self.deltaBase = deltaBase
        self.facts = facts
    }
}

/// A reversible transform applied to a blob's bytes before zstd, identified by its codec byte.
///
/// Storage knows plain zstd and zstd deltas itself; transforms that know a file format (the PCM
/// planes in `DVSAudio`) are registered with a store by the layer above.
public protocol BlobTransform: Sendable {
    /// The codec byte recorded in the pack index for blobs this transform wrote.
    var codec: BlobCodec { get }
    /// The payload to compress in place of `bytes`, or nil when the transform does not apply to
    /// this blob or does not pay (then the next transform, finally plain zstd, is tried).
    /// - Parameters:
    ///   - bytes: the blob's original bytes.
    ///   - hint: what the writer knows about the blob.
    ///   - compressor: a compressor the transform may use to compare sizes.
    /// - Throws: a compression error.
    func forward(_ bytes: UnsafeRawBufferPointer, hint: BlobHint, compressor: ZstdCompressor) throws -> [UInt8]?
    /// Restores the original bytes from a decompressed payload.
    /// - Throws: an error whose description says what is malformed (the store reports it as
    ///   `BlobReadError.damaged`, naming the blob and pack).
    func inverse(_ payload: [UInt8]) throws -> [UInt8]
}

/// A blob that could not be read: missing, or stored bytes that do not restore to their id.
public struct BlobReadError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// No pack holds the blob.
        case missing
        /// The stored frame is damaged or restores to bytes whose SHA-256 is not the id.
        case damaged
    }
    /// What went wrong.
    public var kind: Kind
    /// The blob.
    public var id: ObjectID
    /// The pack that holds it, when known.
    public var pack: PackID?
    /// What failed, naming the object (and the pack when known).
    public var message: String
    /// The underlying cause, if any. (The next step for the user is the command layer's to
    /// choose from ``kind``.)
    public var cause: String?
    /// Creates an error.
    public init(_ kind: Kind, id: ObjectID, pack: PackID? = nil, _ message: String, cause: String? = nil) {
        self.kind = kind
        self.id = id
        self.pack = pack
        self.message = message
        self.cause = cause
    }
    public var description: String { message }

    /// The blob is in no pack.
    public static func missing(_ id: ObjectID) -> BlobReadError {
        BlobReadError(.missing, id: id, "object '\(id.hex)' is not in any pack")
    }
}

/// A write of many blobs that becomes durable at once: blobs are encoded and appended as they
/// come (from several threads), and `finish` makes them durable and findable together.
public protocol BlobWriteSession: AnyObject, Sendable {
    /// Whether this session already holds `id`.
    func contains(_ id: ObjectID) -> Bool
    /// Encodes and appends one blob unless the session already holds it.
    /// - Parameters:
    ///   - bytes: the blob's original bytes.
    ///   - id: their SHA-256 (the caller hashed them already).
    ///   - hint: what the caller knows about them, for the codec choice.
    ///   - coders: the calling thread's zstd contexts, or nil for fresh ones.
    /// - Returns: false when the blob was already in this session.
    /// - Throws: `StorageError` on I/O failure; an internal error when a codec does not round-trip.
    @discardableResult
    func write(_ bytes: UnsafeRawBufferPointer, id: ObjectID, hint: BlobHint, coders: ZstdCoders?) throws -> Bool
    /// Bytes of stored frames appended so far.
    var storedBytes: UInt64 { get }
    /// Bytes of audio appended as they are (`BlobCodec.stored`), for a repack to code: past the
    /// budget the session was begun with. 0 when the session defers nothing.
    var deferredBytes: UInt64 { get }
    /// Makes every blob of the session durable (packs fsynced) and findable (indexed).
    /// - Returns: the packs written, in order.
    /// - Throws: `StorageError` / catalog errors; then nothing of the session is findable.
    @discardableResult
    func finish() throws -> [FinishedPack]
    /// Drops everything written before `finish`; after `finish` it does nothing.
    func abort()
    /// Undoes the whole session, `finish` included: its blobs are neither findable nor stored
    /// afterwards (before `finish`, as ``abort()``). For an operation that failed after `finish`
    /// but before anything referenced the blobs (no ref moved to a commit that uses them); the
    /// caller holds the repository lock. Best effort: a failure leaves them stored and
    /// unreferenced, which is consistent.
    func rollback()
}

/// Stores file content: reads and writes a blob by id. Codec choice, pack location, frame,
/// transform and verification all happen behind it.
public protocol BlobStore: Sendable {
    /// Whether blob `id` is stored. - Throws: an index read error.
    func contains(_ id: ObjectID) throws -> Bool
    /// Every stored blob id. - Throws: an index read error.
    func ids() throws -> Set<ObjectID>
    /// Where every blob is stored (load once for many reads).
    /// - Throws: an index read error.
    func locations() throws -> [ObjectID: BlobLocation]
    /// Where blob `id` is stored, or nil. - Throws: an index read error.
    func location(of id: ObjectID) throws -> BlobLocation?
    /// The original bytes of blob `id`, verified: their SHA-256 equals `id`.
    /// - Parameters:
    ///   - location: where it is, when the caller already looked it up.
    ///   - decompressor: the calling thread's decompressor, or nil.
    /// - Throws: `BlobReadError` (`.missing`, or `.damaged` naming the id and pack).
    func read(_ id: ObjectID, at location: BlobLocation?, decompressor: ZstdDecompressor?) throws -> [UInt8]
    /// The stored frame at `location`, as it is in its pack (no decoding, no verification).
    /// - Throws: `StorageError` when the pack cannot be read.
    func storedFrame(at location: BlobLocation) throws -> [UInt8]
    /// Asks for the frame at `location` to be read ahead; never fails.
    func prefetch(_ location: BlobLocation)
    /// Starts a write of many blobs. - Throws: `StorageError` when nothing can be written.
    func beginWrite() throws -> any BlobWriteSession
    /// Starts a write of many blobs that codes at most `deferringAudioAfter` bytes of audio and
    /// appends the rest as it is (`BlobCodec.stored`); nil codes everything, as ``beginWrite()``.
    /// A store that cannot defer codes everything.
    /// - Throws: `StorageError` when nothing can be written.
    func beginWrite(deferringAudioAfter: UInt64?) throws -> any BlobWriteSession
}

extension BlobWriteSession {
    /// 0: a session that never defers.
    public var deferredBytes: UInt64 { 0 }
}

extension BlobStore {
    /// Codes everything, as ``beginWrite()``.
    /// - Throws: `StorageError` when nothing can be written.
    public func beginWrite(deferringAudioAfter: UInt64?) throws -> any BlobWriteSession { try beginWrite() }

    /// The original bytes of blob `id`, verified.
    /// - Throws: `BlobReadError` (`.missing`, or `.damaged` naming the id and pack).
    public func read(_ id: ObjectID) throws -> [UInt8] { try read(id, at: nil, decompressor: nil) }

    /// Stores `blobs` (idempotent: stored ones are skipped) and returns their ids in order; they
    /// are durable and findable when it returns.
    /// - Throws: as `BlobWriteSession.write` and `finish`; then none of them is stored.
    @discardableResult
    public func write(_ blobs: [(bytes: [UInt8], hint: BlobHint)]) throws -> [ObjectID] {
        let session = try beginWrite()
        var ids: [ObjectID] = []
        do {
            for b in blobs {
                let id = ObjectID.hashing(b.bytes)
                ids.append(id)
                if session.contains(id) { continue }
                if try contains(id) { continue }
                try b.bytes.withUnsafeBytes { _ = try session.write($0, id: id, hint: b.hint, coders: nil) }
            }
            try session.finish()
        } catch {
            session.abort()
            throw error
        }
        return ids
    }
}

/// One thread's zstd contexts (they are not thread-safe; keep one per worker).
public final class ZstdCoders: @unchecked Sendable {
    /// The compressor.
    public let compressor: ZstdCompressor
    /// The decompressor.
    public let decompressor: ZstdDecompressor
    /// Creates contexts at zstd `level`.
    public init(level: Int32 = 1) {
        compressor = ZstdCompressor(level: level)
        decompressor = ZstdDecompressor()
    }
    /// Wraps existing contexts.
    public init(compressor: ZstdCompressor, decompressor: ZstdDecompressor) {
        self.compressor = compressor
        self.decompressor = decompressor
    }
}
