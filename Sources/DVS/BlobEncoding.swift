import DVSAudio
import DVSCore
import DVSStorage

/// A stored blob a new version of the same file may be written as a delta against.
struct DeltaBase {
    /// The base blob.
    var id: ObjectID
    /// Its original bytes.
    var bytes: [UInt8]
    /// Its depth in a delta chain (0 when stored whole).
    var depth: Int
}

/// Chooses a codec for a blob, compresses it, and checks the round trip before it is kept.
enum BlobEncoding {
    /// Smallest file worth a delta (bytes).
    static let minDeltaSize = 4096
    /// Bytes tried both ways to decide whether the PCM transform pays.
    static let trialBytes = 32 << 10

    /// Encodes `bytes` (whose id is `id`) into one zstd frame.
    ///
    /// For 16-bit PCM WAV, `pcm16Predictive` is used with the predictor order and stereo
    /// decorrelation that minimise residuals on 32 KiB from the middle of the samples; files over
    /// 128 KiB of samples first compare it with plain zstd on that slice and keep it only where it
    /// is smaller. The frame is decoded again and compared with
    /// the original before it is returned.
    /// - Throws: `DVSError.internal` when the round trip differs (a dvs bug; nothing is stored).
    ///
    /// Other files with a `base` (the previous version of the same path, e.g. a label table after
    /// a relabeling pass) are also compressed as a zstd delta against it (`zstdDelta`), kept when
    /// it is under 80 % of the plain frame.
    static func encode(
        _ bytes: UnsafeRawBufferPointer, layout: RIFFLayout?, base: DeltaBase? = nil,
        compressor: ZstdCompressor, decompressor: ZstdDecompressor
    ) throws -> (BlobCodec, [UInt8]) {
        if layout == nil, let base, base.depth < BlobCodec.maxDeltaDepth, bytes.count >= minDeltaSize {
            let plain = try compressor.compress(bytes)
            let delta = try base.bytes.withUnsafeBytes { try compressor.compress(bytes, prefix: $0) }
            guard delta.count + 33 < plain.count * 4 / 5 else { return try checked(.zstd, plain, bytes, decompressor) }
            let back = try delta.withUnsafeBytes { f in
                try base.bytes.withUnsafeBytes { try decompressor.decompress(f, prefix: $0, limit: bytes.count + (1 << 20)) }
            }
            guard back.count == bytes.count, back.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) else {
                throw DVSError(
                    .internal, "zstd delta did not round-trip a \(bytes.count)-byte blob",
                    hint: "please report this bug; nothing was stored")
            }
            return (.zstdDelta, base.id.bytes + [UInt8(base.depth + 1)] + delta)
        }
        var codec = BlobCodec.zstd
        var frame: [UInt8]?
        if let layout, layout.isPCM16 {
            let sampleBytes = layout.availableDataSize / layout.blockAlign * layout.blockAlign
            // Choose the predictor on up to 32 KiB from the middle of the samples.
            let sliceLength = min(sampleBytes, trialBytes) / layout.blockAlign * layout.blockAlign
            let mid = layout.dataOffset + (sampleBytes - sliceLength) / 2 / layout.blockAlign * layout.blockAlign
            let slice = UnsafeRawBufferPointer(rebasing: bytes[mid..<(mid + sliceLength)])
            let (order, decorrelate) = PCM16Predictive.choose(slice, channelCount: layout.channelCount)
            var useTransform = true
            if sampleBytes > trialBytes * 4 {
                // Keep the transform only where it pays: compare both ways on the slice.
                let plain = try compressor.compress(slice)
                let sliceLayout = RIFFLayout.bareSamples(byteCount: sliceLength, channelCount: layout.channelCount)
                if let t = PCM16Predictive.forward(slice, layout: sliceLayout, order: order, decorrelate: decorrelate) {
                    useTransform = try compressor.compress(t).count < plain.count
                }
            }
            if useTransform, let payload = PCM16Predictive.forward(bytes, layout: layout, order: order, decorrelate: decorrelate) {
                frame = try compressor.compress(payload)
                codec = .pcm16Predictive
            }
        }
        return try checked(codec, frame ?? compressor.compress(bytes), bytes, decompressor)
    }

    /// Returns `(codec, out)` after decoding `out` again and comparing it with `bytes`.
    private static func checked(_ codec: BlobCodec, _ out: [UInt8], _ bytes: UnsafeRawBufferPointer, _ decompressor: ZstdDecompressor)
        throws -> (BlobCodec, [UInt8])
    {
        // Round trip before the blob may be referenced.
        let back = try decode(
            codec: codec, payload: out.withUnsafeBytes { try decompressor.decompress($0, limit: bytes.count + (1 << 20)) })
        guard back.count == bytes.count,
            back.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) || bytes.count == 0
        else {
            throw DVSError(
                .internal, "codec \(codec) did not round-trip a \(bytes.count)-byte blob",
                hint: "please report this bug; nothing was stored")
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
        case .pcm16Predictive:
            do { return try payload.withUnsafeBytes { try PCM16Predictive.inverse($0) } } catch {
                throw DVSError(.corrupt, "pcm16 predictive payload is malformed: \(error)", hint: "run 'dvs fsck'")
            }
        case .zstdDelta:
            throw DVSError(.internal, "a zstd delta is decoded against its base (Repository.blob), not here")
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
