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

    public var description: String {
        switch self {
        case .zstd: return "zstd"
        case .pcm16DeltaPlanes: return "pcm16-delta-planes+zstd"
        }
    }
}
