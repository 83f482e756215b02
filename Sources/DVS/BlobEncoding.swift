import DVSAudio
import DVSCore
import DVSStorage

/// Chooses a codec for a blob, compresses it, and checks the round trip before it is kept.
enum BlobEncoding {
    /// Bytes tried both ways to decide whether the PCM transform pays.
    static let trialBytes = 256 << 10

    /// Encodes `bytes` (whose id is `id`) into one zstd frame.
    ///
    /// For 16-bit PCM WAV, the `pcm16DeltaPlanes` transform is tried on the first 256 KiB against
    /// plain zstd and kept only where it is smaller. The frame is decoded again and compared with
    /// the original before it is returned.
    /// - Throws: `DVSError.internal` when the round trip differs (a dvs bug; nothing is stored).
    static func encode(_ bytes: UnsafeRawBufferPointer, layout: RIFFLayout?, compressor: ZstdCompressor) throws -> (BlobCodec, [UInt8]) {
        var codec = BlobCodec.zstd
        var frame: [UInt8]?
        if let layout, layout.isPCM16, let payload = PCM16DeltaPlanes.forward(bytes, layout: layout) {
            var useTransform = true
            if bytes.count > trialBytes * 2 {
                // Trial on a slice of the samples: transform vs plain.
                let start = layout.dataOffset
                let end = min(bytes.count, start + trialBytes) / 2 * 2
                let plain = try compressor.compress(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                var lo = [UInt8](), hi = [UInt8]()
                lo.reserveCapacity((end - start) / 2); hi.reserveCapacity((end - start) / 2)
                var prev: Int16 = 0
                var i = start
                while i + 1 < end {
                    let s = Int16(bitPattern: UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8)
                    let d = s &- prev; prev = s
                    let z = UInt16(bitPattern: (d &<< 1) ^ (d >> 15))
                    lo.append(UInt8(truncatingIfNeeded: z)); hi.append(UInt8(truncatingIfNeeded: z >> 8))
                    i += 2
                }
                let trial = try compressor.compress(lo + hi)
                useTransform = trial.count < plain.count
            }
            if useTransform {
                let f = try compressor.compress(payload)
                frame = f
                codec = .pcm16DeltaPlanes
            }
        }
        let out = try frame ?? compressor.compress(bytes)
        // Round trip before the blob may be referenced.
        let back = try decode(codec: codec, payload: Zstd.decompress(out, limit: bytes.count + (1 << 20)))
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
