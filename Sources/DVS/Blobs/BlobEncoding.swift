import DVSAudio
import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// The audio transforms dvs registers with its blob store, in the order they are tried on write.
enum BlobTransforms {
    /// `audioLPC` (written where it pays, for the files `choice` gives it), `pcm16Predictive`
    /// (for 16-bit files otherwise), then `pcm16DeltaPlanes` (read only). Every codec is always
    /// read.
    /// - Parameter choice: the setting `pack.audio-codec`; read on the first audio blob written,
    ///   then kept until the repository resets it (``Repository/setConfig(_:_:)`` of that key,
    ///   and each repack).
    static func all(choice: Once<Repository.AudioCodecChoice>) -> [any BlobTransform] {
        [AudioLPCTransform(choice: choice), PCM16PredictiveTransform(), PCM16DeltaPlanesTransform()]
    }
}

/// `BlobCodec.audioLPC` for 16/24-bit PCM and 8-bit G.711 WAV (`BlobHint.facts` is its
/// `RIFFLayout`).
///
/// Files over 128 KiB of samples first code three 32 KiB slices (at a quarter, half and three
/// quarters) both ways (audio-lpc and plain zstd) and keep the transform unless its sum is larger
/// (it nearly never is: plain zstd wins on synthetic signals such as a repeated pattern).
struct AudioLPCTransform: BlobTransform {
    /// Bytes tried both ways to decide whether the transform pays.
    static let trialBytes = 32 << 10

    /// Which files this transform writes (it always reads them all): asked on the first forward,
    /// again after the repository resets it.
    private let choice: Once<Repository.AudioCodecChoice>

    /// A transform that writes the files `choice` gives it (the default: every one it can).
    init(choice: @escaping @Sendable () -> Repository.AudioCodecChoice = { .lpc }) { self.choice = Once(choice) }

    /// A transform that writes the files `choice` gives it, shared with its repository (which
    /// resets it when the setting changes).
    init(choice: Once<Repository.AudioCodecChoice>) { self.choice = choice }

    var codec: BlobCodec { .audioLPC }

    func forward(_ bytes: UnsafeRawBufferPointer, hint: BlobHint, compressor: ZstdCompressor) throws -> [UInt8]? {
        guard let layout = hint.facts as? RIFFLayout, choice.value.writesLPC(layout), LPCAudio.sampleFormat(of: layout) != nil else {
            return nil
        }
        let sampleBytes = min(layout.availableDataSize, bytes.count - layout.dataOffset) / layout.blockAlign * layout.blockAlign
        if sampleBytes > Self.trialBytes * 4 {
            // Three slices, at a quarter, half and three quarters of the samples, summed: one
            // slice from the middle chose plain zstd for a whole file whose middle is digital
            // silence (zstd's best case), storing it twice as large.
            let sliceLength = Self.trialBytes / layout.blockAlign * layout.blockAlign
            var sliceLayout = layout
            sliceLayout.dataOffset = 0
            sliceLayout.declaredDataSize = UInt32(sliceLength)
            sliceLayout.availableDataSize = sliceLength
            sliceLayout.fileLength = sliceLength
            var (coded, plain) = (0, 0)
            for quarter in 1...3 {
                let start = layout.dataOffset + (sampleBytes - sliceLength) * quarter / 4 / layout.blockAlign * layout.blockAlign
                let slice = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + sliceLength)])
                guard let t = LPCAudio.encode(slice, layout: sliceLayout) else { continue }
                coded += t.count
                plain += try compressor.compress(slice).count
            }
            guard coded <= plain else { return nil }
        }
        return LPCAudio.encode(bytes, layout: layout)
    }

    func inverse(_ payload: [UInt8]) throws -> [UInt8] {
        do { return try payload.withUnsafeBytes { try LPCAudio.decode($0) } } catch {
            throw DVSError(.corrupt, "audio-lpc payload is malformed: \(error)")
        }
    }
}

/// `BlobCodec.pcm16Predictive` for 16-bit PCM WAV (`BlobHint.facts` is its `RIFFLayout`).
///
/// The predictor order and stereo decorrelation are those that minimise residuals on 32 KiB from
/// the middle of the samples; files over 128 KiB of samples first compare the transform with
/// plain zstd on that slice and keep it only where it is smaller.
struct PCM16PredictiveTransform: BlobTransform {
    /// Bytes tried both ways to decide whether the transform pays.
    static let trialBytes = 32 << 10

    var codec: BlobCodec { .pcm16Predictive }

    func forward(_ bytes: UnsafeRawBufferPointer, hint: BlobHint, compressor: ZstdCompressor) throws -> [UInt8]? {
        guard let layout = hint.facts as? RIFFLayout, layout.isPCM16 else { return nil }
        let sampleBytes = layout.availableDataSize / layout.blockAlign * layout.blockAlign
        // Choose the predictor on up to 32 KiB from the middle of the samples.
        let sliceLength = min(sampleBytes, Self.trialBytes) / layout.blockAlign * layout.blockAlign
        let mid = layout.dataOffset + (sampleBytes - sliceLength) / 2 / layout.blockAlign * layout.blockAlign
        let slice = UnsafeRawBufferPointer(rebasing: bytes[mid..<(mid + sliceLength)])
        let (order, decorrelate) = PCM16Predictive.choose(slice, channelCount: layout.channelCount)
        if sampleBytes > Self.trialBytes * 4 {
            // Keep the transform only where it pays: compare both ways on the slice.
            let plain = try compressor.compress(slice)
            let sliceLayout = RIFFLayout.bareSamples(byteCount: sliceLength, channelCount: layout.channelCount)
            if let t = PCM16Predictive.forward(slice, layout: sliceLayout, order: order, decorrelate: decorrelate) {
                guard try compressor.compress(t).count < plain.count else { return nil }
            }
        }
        return PCM16Predictive.forward(bytes, layout: layout, order: order, decorrelate: decorrelate)
    }

    func inverse(_ payload: [UInt8]) throws -> [UInt8] {
        do { return try payload.withUnsafeBytes { try PCM16Predictive.inverse($0) } } catch {
            throw DVSError(.corrupt, "pcm16 predictive payload is malformed: \(error)")
        }
    }
}

/// `BlobCodec.pcm16DeltaPlanes`, written by earlier versions: read only.
struct PCM16DeltaPlanesTransform: BlobTransform {
    var codec: BlobCodec { .pcm16DeltaPlanes }

    func forward(_ bytes: UnsafeRawBufferPointer, hint: BlobHint, compressor: ZstdCompressor) throws -> [UInt8]? { nil }

    func inverse(_ payload: [UInt8]) throws -> [UInt8] {
        do { return try payload.withUnsafeBytes { try PCM16DeltaPlanes.inverse($0) } } catch {
            throw DVSError(.corrupt, "pcm16 payload is malformed: \(error)")
        }
    }
}

/// The catalog's `blob` and `pack` tables as the index of a `PackedBlobStore`.
struct CatalogBlobIndex: BlobIndex {
    let catalog: Catalog

    func location(of id: ObjectID) throws -> BlobLocation? { try catalog.location(of: id) }
    func locations() throws -> [ObjectID: BlobLocation] { try catalog.allLocations() }
    func ids() throws -> Set<ObjectID> { try catalog.blobIDs() }
    func record(_ packs: [FinishedPack]) throws {
        try catalog.write { tx in
            for p in packs { try tx.insertPack(id: PackID(p.id), byteCount: p.byteCount, entries: p.entries) }
        }
    }
    func forget(_ packs: [PackID]) throws { try catalog.write { tx in try tx.removePacks(packs) } }
}

extension Repository.AudioCodecChoice {
    /// The codec a file with `hint` is written with under this setting, trials aside: codec 4
    /// for a RIFF/WAVE layout the setting gives it and it takes, else codec 2 for 16-bit PCM,
    /// else plain zstd (a trial that finds a transform does not pay can still choose the next
    /// one). What `dvs repack --recode` compares a blob's codec with.
    func intendedCodec(_ hint: BlobHint) -> BlobCodec {
        // Not one whole frame of samples (a recording never finalised): neither transform codes it.
        guard let layout = hint.facts as? RIFFLayout, layout.blockAlign > 0,
            min(layout.availableDataSize, layout.fileLength - layout.dataOffset) / layout.blockAlign > 0
        else { return .zstd }
        if writesLPC(layout), LPCAudio.sampleFormat(of: layout) != nil { return .audioLPC }
        return layout.isPCM16 ? .pcm16Predictive : .zstd
    }
}

extension BlobHint {
    /// The hint commit gives for a file's bytes: their RIFF layout when they parse as RIFF/WAVE
    /// (for the PCM transform).
    static func file(_ bytes: [UInt8]) -> BlobHint { BlobHint(facts: bytes.withUnsafeBytes { RIFFLayout.parse($0) }) }
}

/// A value computed once, on first use, from any thread.
final class Once<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var computed: Value?
    private let compute: @Sendable () -> Value

    init(_ compute: @escaping @Sendable () -> Value) { self.compute = compute }

    var value: Value {
        lock.withLock {
            if let computed { return computed }
            let v = compute()
            computed = v
            return v
        }
    }

    /// Forgets the value: the next read computes it again.
    func reset() { lock.withLock { computed = nil } }
}
