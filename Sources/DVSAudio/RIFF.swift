import DVSCore

/// Where the parts of a RIFF/WAVE file are (Microsoft/IBM "Multimedia Programming Interface and
/// Data Specifications 1.0", 1991; WAVE_FORMAT_EXTENSIBLE from Microsoft's KSDATAFORMAT docs).
public struct RIFFLayout: Sendable, Equatable {
    /// `wFormatTag` (1 PCM, 3 IEEE float, 6 A-law, 7 μ-law, 0xFFFE extensible).
    public var formatTag: UInt16
    /// For extensible files, the first two bytes of the sub-format GUID (same codes as above).
    public var subFormat: UInt16?
    /// Channels.
    public var channelCount: Int
    /// Frames per second (`nSamplesPerSec`; 0 for bare samples).
    public var sampleRate: Int = 0
    /// Bits per sample as stored (container size).
    public var bitsPerSample: Int
    /// Bytes per frame.
    public var blockAlign: Int
    /// Offset of the first sample byte.
    public var dataOffset: Int
    /// The `data` chunk's declared size.
    public var declaredDataSize: UInt32
    /// The bytes of sample data actually present (declared size clamped to the file).
    public var availableDataSize: Int
    /// Total file length.
    public var fileLength: Int

    /// The layout of bare interleaved 16-bit PCM with no container (for transforming a slice).
    public static func bareSamples(byteCount: Int, channelCount: Int) -> RIFFLayout {
        RIFFLayout(
            formatTag: 1, subFormat: nil, channelCount: channelCount, bitsPerSample: 16, blockAlign: 2 * channelCount,
            dataOffset: 0, declaredDataSize: UInt32(clamping: byteCount), availableDataSize: byteCount, fileLength: byteCount)
    }

    /// Whether samples are 16-bit little-endian integer PCM (plain or extensible).
    public var isPCM16: Bool {
        let tag = formatTag == 0xFFFE ? (subFormat ?? 0) : formatTag
        return tag == 1 && bitsPerSample == 16 && channelCount > 0 && blockAlign == 2 * channelCount
    }

    /// Finds `fmt ` and `data` in a RIFF/WAVE file. Returns nil for anything that is not RIFF/WAVE
    /// or lacks either chunk.
    /// - Complexity: O(number of chunks).
    public static func parse(_ b: UnsafeRawBufferPointer) -> RIFFLayout? {
        guard b.count >= 12, b[0] == 0x52, b[1] == 0x49, b[2] == 0x46, b[3] == 0x46,
            b[8] == 0x57, b[9] == 0x41, b[10] == 0x56, b[11] == 0x45
        else { return nil }
        func u16(_ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24 }
        var off = 12
        var fmt: (tag: UInt16, sub: UInt16?, ch: Int, rate: Int, bits: Int, align: Int)?
        while off + 8 <= b.count {
            let id = (b[off], b[off + 1], b[off + 2], b[off + 3])
            let size = u32(off + 4)
            let body = off + 8
            if id == (0x66, 0x6D, 0x74, 0x20), size >= 16, body + 16 <= b.count {  // "fmt "
                let tag = u16(body)
                var sub: UInt16?
                if tag == 0xFFFE, size >= 40, body + 26 <= b.count { sub = u16(body + 24) }
                fmt = (tag, sub, Int(u16(body + 2)), Int(u32(body + 4)), Int(u16(body + 14)), Int(u16(body + 12)))
            } else if id == (0x64, 0x61, 0x74, 0x61) {  // "data"
                guard let f = fmt else { return nil }
                let available = min(Int(size), b.count - body)
                return RIFFLayout(
                    formatTag: f.tag, subFormat: f.sub, channelCount: f.ch, sampleRate: f.rate, bitsPerSample: f.bits,
                    blockAlign: f.align, dataOffset: body, declaredDataSize: size,
                    availableDataSize: available, fileLength: b.count)
            }
            off = body + Int(size) + Int(size & 1)
        }
        return nil
    }

    /// A warning when the header and the bytes disagree, or nil.
    func warning(facts: AudioFacts) -> String? {
        let after = fileLength - dataOffset
        if declaredDataSize == 0 && after > 0 {
            return
                "WAV data chunk declares 0 bytes but \(after) bytes follow (a recording never finalised?); libsndfile reads 0 frames, so those samples are ignored by readers"
        }
        if Int(declaredDataSize) > availableDataSize {
            return
                "WAV is truncated: data chunk declares \(declaredDataSize) bytes, \(availableDataSize) present (\(facts.frameCount) frames readable)"
        }
        return nil
    }
}
