import DVSAudio
import DVSCore
import DVSStorage

/// Chooses a codec for a blob, compresses it, and checks the round trip before it is kept.
enum BlobEncoding {
    /// Bytes tried both ways to decide whether the PCM transform pays.
    static let trialBytes = 32 << 10

    /// Encodes `bytes` (whose id is `id`) into one zstd frame.
    ///
    /// For 16-bit PCM WAV, the `pcm16DeltaPlanes` transform is kept only where it is smaller: files
    /// over 128 KiB of samples first compare both ways on 32 KiB from their middle. The frame is decoded again and compared with
    /// the original before it is returned.
    /// - Throws: `DVSError.internal` when the round trip differs (a dvs bug; nothing is stored).
    static func encode(_ bytes: UnsafeRawBufferPointer, layout: RIFFLayout?, compressor: ZstdCompressor, decompressor: ZstdDecompressor) throws -> (BlobCodec, [UInt8]) {
        var codec = BlobCodec.zstd
        var frame: [UInt8]?
        if let layout, layout.isPCM16, let payload = PCM16DeltaPlanes.forward(bytes, layout: layout) {
            var useTransform = true
            let sampleBytes = layout.availableDataSize / layout.blockAlign * layout.blockAlign
            if sampleBytes > trialBytes * 4 {
                // Trial on a slice from the middle of the samples: transformed planes vs plain bytes.
                let mid = layout.dataOffset + (sampleBytes / 2) / layout.blockAlign * layout.blockAlign
                let slice = UnsafeRawBufferPointer(rebasing: bytes[mid..<(mid + trialBytes)])
                let plain = try compressor.compress(slice)
                let trial = try compressor.compress(PCM16DeltaPlanes.planes(slice, channelCount: layout.channelCount))
                useTransform = trial.count < plain.count
            }
            if useTransform {
                frame = try compressor.compress(payload)
                codec = .pcm16DeltaPlanes
            }
        }
        let out = try frame ?? compressor.compress(bytes)
        // Round trip before the blob may be referenced.
        let back = try decode(codec: codec, payload: out.withUnsafeBytes { try decompressor.decompress($0, limit: bytes.count + (1 << 20)) })
        guard back.count == bytes.count, back.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) || bytes.count == 0 else {
            throw DVSError(.internal, "codec \(codec) did not round-trip a \(bytes.count)-byte blob", hint: "please report this bug; nothing was stored")
        }
        return (codec, out)
    }

    /// Undoes `codec` on a decompressed payload.
    /// - Throws: `DVSError.corrupt` when the payload is malformed.
    static func decode(codec: BlobCodec, payload: [UInt8]) throws -> [UInt8] {
        switch codec {
        case .zstd: return payload
        case .pcm16DeltaPlanes:
            do { return try payload.withUnsafeBytes { try PCM16DeltaPlanes.inverse($0) } } catch {
                throw DVSError(.corrupt, "pcm16 payload is malformed: \(error)", hint: "run 'dvs fsck'")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
