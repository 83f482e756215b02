/// How a blob's bytes were transformed before zstd, recorded per blob in its pack's index.
///
/// The raw values are on-disk codes (`schema/FORMAT.md` § Codecs); never renumber them.
public enum BlobCodec: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The original bytes, one zstd frame.
    case zstd = 0
    /// 16-bit little-endian PCM in a RIFF/WAVE container: the container bytes around the `data`
    /// chunk are kept as they are, the samples become per-channel first differences, zigzag-mapped
    /// and split into low-byte and high-byte planes, then one zstd frame. See `PCM16DeltaPlanes`.
    case pcm16DeltaPlanes = 1
    /// Like `pcm16DeltaPlanes`, with a per-file choice of predictor order (1 or 2) and, for
    /// stereo, the side channel `R − L` in place of `R`. See `PCM16Predictive`. Written by dvs 0.1
    /// for every 16-bit PCM WAV where it pays; codec 1 is still read.
    case pcm16Predictive = 2
    /// A delta against another blob (a label table after a relabeling pass): the stored frame is
    /// the 32-byte id of the *base* blob, one byte of chain depth (1 + the base's depth when the
    /// base is itself a delta), then one zstd frame compressed with the base's original bytes as
    /// a raw-content prefix (`ZSTD_CCtx_refPrefix`, zstd's `--patch-from`). Reading it needs the
    /// base first. Depth is capped (`BlobCodec.maxDeltaDepth`) so reads stay cheap.
    case zstdDelta = 3
    /// 16/24-bit PCM or 8-bit G.711 μ-law/A-law in a RIFF/WAVE container, coded as audio:
    /// per-block linear prediction (Levinson–Durbin, quantised coefficients), stereo
    /// decorrelation chosen per block and partitioned Rice coding of the residual, FLAC's scheme
    /// (RFC 9639); G.711 samples are predicted on their linear values and coded as code ranks.
    /// The container bytes are kept as they are; then one zstd frame. See `LPCAudio`. Written by
    /// dvs 0.2 for every such WAV where it pays; codecs 1 and 2 are still read.
    case audioLPC = 4
    /// The original bytes as they are, with no zstd frame around them. Written for audio by a
    /// commit that defers coding (an audio file that does not fit in what is left of its
    /// `pack.defer-audio-after` budget, so that a large import is as fast as copying it), then
    /// replaced by `dvs repack`, which codes those blobs
    /// as a commit would have. Written by dvs 0.3; a reader of an earlier version refuses it.
    case stored = 5

    public var description: String {
        switch self {
        case .zstd: return "zstd"
        case .pcm16DeltaPlanes: return "pcm16-delta-planes+zstd"
        case .pcm16Predictive: return "pcm16-predictive-planes+zstd"
        case .zstdDelta: return "zstd-delta"
        case .audioLPC: return "audio-lpc-rice+zstd"
        case .stored: return "stored"
        }
    }

    /// The longest chain of deltas a blob may sit at the end of; beyond it, a blob is stored whole.
    public static let maxDeltaDepth = 16
}
