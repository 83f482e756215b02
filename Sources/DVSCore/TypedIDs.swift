/// An id that names one kind of stored thing by its `ObjectID` (a commit, a model record, an eval
/// record, a pack), so the kinds cannot be mixed up.
///
/// Printed, and encoded in JSON (lineage records), as the 64 lower-case hex digits of the object
/// id: the bytes are those of a plain hex string, so record ids do not depend on the type.
public protocol TypedObjectID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The underlying object id.
    var object: ObjectID { get }
    /// Wraps an object id that names a thing of this kind.
    init(_ object: ObjectID)
}

extension TypedObjectID {
    /// Parses 64 hex digits (either case); nil for anything else.
    public init?(hex: some StringProtocol) {
        guard let o = ObjectID(hex: hex) else { return nil }
        self.init(o)
    }

    /// 64 lower-case hex digits.
    public var hex: String { object.hex }
    /// The first 12 hex digits, for display.
    public var short: String { object.short }
    /// 64 lower-case hex digits.
    public var description: String { object.hex }
    /// Orders by the object id.
    public static func < (a: Self, b: Self) -> Bool { a.object < b.object }

    /// Decodes 64 hex digits.
    /// - Throws: `DecodingError.dataCorrupted` when the string is not 64 hex digits.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let o = ObjectID(hex: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(s)' is not 64 hex digits")
        }
        self.init(o)
    }

    /// Encodes as 64 lower-case hex digits.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(object.hex)
    }
}

extension CommitID: TypedObjectID {}

/// The id of a model record: the SHA-256 of its canonical bytes (`schema/FORMAT.md` § Lineage records).
public struct ModelID: TypedObjectID {
    /// The object id of the record's canonical bytes.
    public let object: ObjectID
    /// Wraps an object id that names a model record.
    public init(_ object: ObjectID) { self.object = object }
}

/// The id of an eval record: the SHA-256 of its canonical bytes.
public struct EvalID: TypedObjectID {
    /// The object id of the record's canonical bytes.
    public let object: ObjectID
    /// Wraps an object id that names an eval record.
    public init(_ object: ObjectID) { self.object = object }
}

/// The id of a pack file (`.dvs/packs/<id>.pack`, `packs/<id>.pack` on a remote): the SHA-256 of
/// its header and index, not its frames (`schema/FORMAT.md` §3).
public struct PackID: TypedObjectID {
    /// The pack's object id.
    public let object: ObjectID
    /// Wraps an object id that names a pack.
    public init(_ object: ObjectID) { self.object = object }
}
