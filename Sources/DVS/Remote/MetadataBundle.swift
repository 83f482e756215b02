import DVSCore
import DVSStorage
import Foundation

/// A commit's metadata bundle on a remote: the commit object and the manifest chunks and words
/// objects a push first sent with it, in one remote object, so a reader gets a commit's
/// metadata in one GET rather than one GET per object (`schema/FORMAT.md` § 12).
///
/// Key: `bundles/<commit id hex>.bundle`. Layout: the 8 bytes `DVSBND01`, then for each object
/// its 32-byte id, the length of its stored frame (UInt32, little-endian) and the stored frame
/// (one zstd frame of the canonical bytes, exactly as under `objects/<id>`). Nothing else: no
/// index and no trailer, since a reader downloads it whole.
///
/// A bundle only speeds reading up. Every object in it is also under `objects/`, which stays the
/// remote's truth for push, gc, verify and purge. A reader decompresses and hashes each object
/// it takes from a bundle, exactly as it would one under `objects/`, and reads `objects/<id>`
/// instead when the bundle is absent, malformed, or holds a damaged copy. The idea is git's
/// packed transfer of metadata (git-pack-objects(1)); a bundle per commit keeps a reader of one
/// branch from downloading another branch's metadata.
struct MetadataBundle {
    /// The first 8 bytes of every bundle.
    static let magic: [UInt8] = Array("DVSBND01".utf8)

    /// The remote key of commit `c`'s bundle.
    static func key(_ c: CommitID) -> String { "bundles/\(c.hex).bundle" }

    /// The commit a bundle key names, or nil for another key.
    static func commit(ofKey key: String) -> CommitID? {
        guard key.hasPrefix("bundles/"), key.hasSuffix(".bundle") else { return nil }
        return CommitID(hex: key.dropFirst(8).dropLast(7))
    }

    /// The stored frames of a bundle, by object id (not yet checked against their ids).
    /// - Returns: nil when `bytes` is not a whole bundle (wrong magic, truncated entry).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> [ObjectID: [UInt8]]? {
        let (frames, whole) = entries(bytes)
        return whole ? Dictionary(frames, uniquingKeysWith: { a, _ in a }) : nil
    }

    /// Why `bytes` is not a whole bundle, in words, or nil when it is one.
    static func problem(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            return "it is not a bundle (it does not begin with \(String(decoding: magic, as: UTF8.self)))"
        }
        let (frames, whole) = entries(bytes)
        return whole ? nil : "it is cut short after \(counted(frames.count, "whole object"))"
    }

    /// The entries of a bundle up to where it is cut off.
    /// - Returns: the stored frames read whole with their object ids, in the bundle's order
    ///   (not checked; an id may repeat in a bundle not written by push), and whether the bundle
    ///   was whole (false for a wrong magic, or an entry cut short: what follows is unread).
    static func entries(_ bytes: UnsafeRawBufferPointer) -> (frames: [(id: ObjectID, frame: [UInt8])], whole: Bool) {
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else { return ([], false) }
        var out: [(id: ObjectID, frame: [UInt8])] = []
        var i = magic.count
        while i < bytes.count {
            guard bytes.count - i >= 36 else { return (out, false) }
            let id = ObjectID(raw: UnsafeRawBufferPointer(rebasing: bytes[i..<i + 32]))
            var n = 0
            for k in 0..<4 { n |= Int(bytes[i + 32 + k]) << (8 * k) }
            i += 36
            guard bytes.count - i >= n else { return (out, false) }
            out.append((id, Array(bytes[i..<i + n])))
            i += n
        }
        return (out, true)
    }

    /// Writes the bundle of `ids` (their stored frames, each checked against its id first) into
    /// the empty file open as `fd` at `path` (`FileIO.makeTemp`'s); the caller closes `fd`.
    /// - Returns: the file's size in bytes.
    /// - Throws: `StorageError` when an object is damaged or missing here, or the file cannot be
    ///   written.
    static func write(_ ids: [ObjectID], from objects: LocalObjectStore, fd: Int32, path: String) throws -> UInt64 {
        let f = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
        var size = UInt64(magic.count)
        var buffer = magic
        for id in ids {
            let frame = try Repository.verifiedFrame(objects, id)
            buffer += id.bytes
            let n = UInt32(frame.count)
            buffer += [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 24)]
            buffer += frame
            size += 36 + UInt64(frame.count)
            if buffer.count >= 1 << 20 {
                try f.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try f.write(contentsOf: buffer)
        return size
    }
}
