/// Where one blob lives inside a pack: one row of the pack's trailing index and of the catalog's
/// `blob` table (`schema/FORMAT.md` § Pack), the same five fields in both.
public struct PackEntry: Hashable, Sendable {
    /// SHA-256 of the blob's original bytes.
    public var id: ObjectID
    /// Byte offset of the blob's stored frame in the pack file.
    public var offset: UInt64
    /// Length of that frame in bytes.
    public var storedLength: UInt64
    /// Length of the original bytes.
    public var rawLength: UInt64
    /// Transform applied before zstd.
    public var codec: BlobCodec
    /// Creates an entry.
    public init(id: ObjectID, offset: UInt64, storedLength: UInt64, rawLength: UInt64, codec: BlobCodec) {
        self.id = id
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.codec = codec
    }
}

/// Where one blob is stored: its pack and its entry in that pack.
public struct BlobLocation: Hashable, Sendable {
    /// The pack's id; the file is `packs/<id>.pack`.
    public var pack: PackID
    /// The blob's entry in the pack.
    public var entry: PackEntry
    /// Creates a location.
    public init(pack: PackID, entry: PackEntry) {
        self.pack = pack
        self.entry = entry
    }
}
