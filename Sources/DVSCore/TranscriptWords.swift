/// Canonical binary encoding of a transcript's words, stored as a content-addressed object that
/// a sample references (`TranscriptSummary.words`). Placeholder until the Deepgram branch lands.
public enum TranscriptWords {
    /// File magic: `DVSW`.
    public static let magic: [UInt8] = Array("DVSW".utf8)

    /// Encodes words: magic, version 1, varint count, then per word length-prefixed UTF-8 text,
    /// start, end and confidence as little-endian binary64, speaker (0 = none, else speaker + 1)
    /// and channel as varints.
    public static func encode(_ words: [TranscriptWord]) -> [UInt8] {
        var w = ByteWriter(capacity: 16 + words.count * 40)
        w.write(magic); w.write(byte: 1)
        w.write(varint: UInt64(words.count))
        for x in words {
            w.write(lengthPrefixed: Array(x.text.utf8))
            w.write(u64: x.start.bitPattern); w.write(u64: x.end.bitPattern); w.write(u64: x.confidence.bitPattern)
            w.write(varint: x.speaker.map { UInt64($0) + 1 } ?? 0)
            w.write(varint: UInt64(x.channel))
        }
        return w.bytes
    }

    /// Decodes `encode`'s output. - Throws: `FormatError` when malformed.
    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> [TranscriptWord] {
        var r = ByteReader(bytes)
        guard Array(try r.read(count: 4)) == magic else { throw .invalid("not a words object (bad magic)", at: 0) }
        guard try r.readByte() == 1 else { throw .invalid("unknown words version", at: 4) }
        let n = try r.readInt(limit: bytes.count)
        var out: [TranscriptWord] = []
        out.reserveCapacity(n)
        for _ in 0..<n {
            let text = String(decoding: try r.readLengthPrefixed(), as: UTF8.self)
            let start = Double(bitPattern: try r.readU64()), end = Double(bitPattern: try r.readU64())
            let conf = Double(bitPattern: try r.readU64())
            let sp = try r.readVarint()
            out.append(TranscriptWord(text: text, start: start, end: end, confidence: conf, speaker: sp == 0 ? nil : Int(sp - 1), channel: try r.readInt()))
        }
        guard r.isAtEnd else { throw .invalid("trailing bytes", at: r.offset) }
        return out
    }
}
