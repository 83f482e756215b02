/// Appends the little-endian and LEB128 encodings that dvs's binary formats use
/// (Documentation: `schema/FORMAT.md`).
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// Creates an empty writer.
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }
    /// Appends raw bytes.
    public mutating func write(_ b: some Sequence<UInt8>) { bytes.append(contentsOf: b) }
    /// Appends one byte.
    public mutating func write(byte: UInt8) { bytes.append(byte) }
    /// Appends an unsigned LEB128 varint (as in protobuf and DWARF).
    public mutating func write(varint v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    /// Appends a varint length followed by the bytes.
    public mutating func write(lengthPrefixed b: [UInt8]) {
        write(varint: UInt64(b.count))
        write(b)
    }
    /// Appends a little-endian u32.
    public mutating func write(u32 v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Appends a little-endian u64.
    public mutating func write(u64 v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    /// Appends an IEEE 754 binary64 as its 8 bit-pattern bytes, little-endian (NaN payloads and
    /// the sign of zero are kept).
    public mutating func write(f64 v: Double) { write(u64: v.bitPattern) }
}

/// Reads what `ByteWriter` writes; every read is bounds-checked.
public struct ByteReader {
    /// The input.
    public let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var offset: Int
    /// Reads `bytes` from `offset`.
    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }
    /// Whether every byte was read.
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Reads `n` bytes. - Throws: `FormatError.truncated` past the end.
    public mutating func read(count n: Int) throws(FormatError) -> ArraySlice<UInt8> {
        guard n >= 0, offset + n <= bytes.count else { throw .truncated(at: offset) }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }
    /// Reads one byte. - Throws: `FormatError.truncated`.
    public mutating func readByte() throws(FormatError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(at: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }
    /// Reads an unsigned LEB128 varint of at most 10 bytes. - Throws: `FormatError`.
    public mutating func readVarint() throws(FormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try readByte()
            guard shift < 64 else { throw .invalid("varint too long", at: offset) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }
    /// Reads a varint that must fit in `Int` and be at most `limit`.
    public mutating func readInt(limit: Int = Int.max) throws(FormatError) -> Int {
        let v = try readVarint()
        guard v <= UInt64(limit) else { throw .invalid("value \(v) out of range", at: offset) }
        return Int(v)
    }
    /// Reads a varint length and that many bytes.
    public mutating func readLengthPrefixed() throws(FormatError) -> [UInt8] {
        let n = try readInt(limit: bytes.count - offset)
        return Array(try read(count: n))
    }
    /// Reads a little-endian u32.
    public mutating func readU32() throws(FormatError) -> UInt32 {
        let s = try read(count: 4)
        return s.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }
    /// Reads a little-endian u64.
    public mutating func readU64() throws(FormatError) -> UInt64 {
        let s = try read(count: 8)
        return s.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
    /// Reads a little-endian IEEE 754 binary64 (the bit pattern `write(f64:)` wrote).
    /// - Throws: `FormatError.truncated` when fewer than 8 bytes remain.
    public mutating func readF64() throws(FormatError) -> Double { Double(bitPattern: try readU64()) }
    /// Reads a 32-byte object id.
    public mutating func readID() throws(FormatError) -> ObjectID { ObjectID(bytes: try read(count: 32)) }
}

/// A malformed or truncated object encoding.
public enum FormatError: Error, Sendable, CustomStringConvertible {
    /// The input ended at byte `at` before the structure did.
    case truncated(at: Int)
    /// A field at byte `at` has an impossible value.
    case invalid(String, at: Int)

    public var description: String {
        switch self {
        case .truncated(let at): return "truncated at byte \(at)"
        case .invalid(let what, let at): return "\(what) at byte \(at)"
        }
    }
}
