/// The canonical binary encoding of a transcript's word list: the content-addressed object that
/// `TranscriptSummary.words` names and a sample references.
///
/// Layout (all integers are unsigned LEB128 varints unless said otherwise):
///
/// ```
/// magic       4 bytes   "DVSW" (44 56 53 57)
/// version     1 byte    1
/// count       varint    number of words
/// count × word:
///   text        varint byte length, then that many bytes of UTF-8
///   start       8 bytes   IEEE 754 binary64, little-endian, seconds from file start
///   end         8 bytes   IEEE 754 binary64, little-endian, seconds from file start
///   confidence  8 bytes   IEEE 754 binary64, little-endian, 0…1
///   speaker     varint    0 = no speaker (no diarization), else speaker + 1
///   channel     varint    audio channel, from 0
/// ```
///
/// Words are stored in the order given (the Deepgram parser emits channel order, then time order).
/// Doubles are stored by bit pattern, so `decode(encode(w)) == w` exactly, float32 artefacts
/// such as `2.2799999` included. Nothing follows the last word.
///
/// Worked example: one word `Hi`, 0.5 s to 1.0 s, confidence 1.0, no speaker, channel 0, encodes
/// as the 35 bytes
/// `44 56 53 57 01 01 02 48 69 00 00 00 00 00 00 e0 3f 00 00 00 00 00 00 f0 3f
///  00 00 00 00 00 00 f0 3f 00 00`; the object's id is the SHA-256 of those bytes.
public enum TranscriptWords {
    /// File magic: `DVSW`.
    public static let magic: [UInt8] = Array("DVSW".utf8)
    /// Format version written and the only one read.
    public static let version: UInt8 = 1
    /// The fewest bytes one word takes (empty text, three doubles, two one-byte varints).
    static let minimumWordSize = 1 + 3 * 8 + 1 + 1

    /// Encodes `words` canonically (layout in the type's documentation).
    ///
    /// - Parameter words: the words, in the order to keep.
    /// - Returns: the encoded bytes; equal word lists give equal bytes.
    /// - Precondition: every `speaker` (when present) and every `channel` is ≥ 0.
    /// - Complexity: O(total text length + number of words).
    public static func encode(_ words: [TranscriptWord]) -> [UInt8] {
        var w = ByteWriter(capacity: 6 + words.count * (minimumWordSize + 8))
        w.write(magic)
        w.write(byte: version)
        w.write(varint: UInt64(words.count))
        for word in words {
            precondition(word.channel >= 0 && (word.speaker ?? 0) >= 0, "speaker and channel are non-negative")
            w.write(lengthPrefixed: Array(word.text.utf8))
            w.write(f64: word.start)
            w.write(f64: word.end)
            w.write(f64: word.confidence)
            w.write(varint: word.speaker.map { UInt64($0) + 1 } ?? 0)
            w.write(varint: UInt64(word.channel))
        }
        return w.bytes
    }

    /// Decodes what `encode(_:)` wrote.
    ///
    /// - Parameter bytes: a whole words object.
    /// - Returns: the words, in stored order.
    /// - Throws: `FormatError.invalid` for a wrong magic, an unknown version, a word count larger
    ///   than the bytes can hold, text that is not UTF-8, a speaker or channel that does not fit
    ///   in `Int`, or trailing bytes; `FormatError.truncated` when the input ends early.
    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> [TranscriptWord] {
        var r = ByteReader(bytes)
        guard Array(try r.read(count: 4)) == magic else { throw .invalid("not a transcript words object (bad magic)", at: 0) }
        let v = try r.readByte()
        guard v == version else { throw .invalid("unknown transcript words version \(v)", at: 4) }
        let count = try r.readInt(limit: (bytes.count - r.offset) / minimumWordSize)
        var words: [TranscriptWord] = []
        words.reserveCapacity(count)
        for _ in 0..<count {
            let at = r.offset
            guard let text = String(validating: try r.readLengthPrefixed(), as: UTF8.self) else {
                throw .invalid("word text is not UTF-8", at: at)
            }
            let start = try r.readF64()
            let end = try r.readF64()
            let confidence = try r.readF64()
            let speaker = try r.readInt(limit: Int.max - 1)
            let channel = try r.readInt()
            words.append(
                TranscriptWord(
                    text: text, start: start, end: end, confidence: confidence,
                    speaker: speaker == 0 ? nil : speaker - 1, channel: channel))
        }
        guard r.isAtEnd else { throw .invalid("trailing bytes", at: r.offset) }
        return words
    }
}
