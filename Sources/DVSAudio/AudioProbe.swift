import CSndfile
import DVSCore
import Foundation

/// Recognises audio by decoding its header with libsndfile (1.2: WAV, WAVEX, RF64, AIFF, AU,
/// W64, CAF, FLAC, Ogg Vorbis/Opus, MP3, …) straight from memory.
public enum AudioProbe {
    /// File name endings that promise audio. A file with one of these that does not decode is
    /// reported; other files are probed only when their first bytes look like an audio container.
    public static let audioExtensions: Set<String> = [
        "wav", "wave", "bwf", "rf64", "w64", "flac", "ogg", "oga", "opus",
        "mp3", "aif", "aiff", "aifc", "au", "snd", "caf",
    ]

    /// Whether the file name ends in an audio extension (ASCII case-insensitive).
    public static func isNamedLikeAudio(_ name: [UInt8]) -> Bool {
        guard let dot = name.lastIndex(of: 0x2E) else { return false }
        let ext = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
        return audioExtensions.contains(ext)
    }

    /// Whether the first bytes carry a container signature libsndfile reads (RIFF, RF64, FORM,
    /// `.snd`, `fLaC`, `OggS`, `caff`, ID3, an MPEG frame sync, Sony Wave64).
    public static func looksLikeAudio(_ head: UnsafeRawBufferPointer) -> Bool {
        guard head.count >= 4 else { return false }
        let m = (head[0], head[1], head[2], head[3])
        switch m {
        case (0x52, 0x49, 0x46, 0x46), (0x52, 0x46, 0x36, 0x34), (0x46, 0x4F, 0x52, 0x4D), (0x2E, 0x73, 0x6E, 0x64),
            (0x66, 0x4C, 0x61, 0x43), (0x4F, 0x67, 0x67, 0x53), (0x63, 0x61, 0x66, 0x66), (0x72, 0x69, 0x66, 0x66):
            return true
        default:
            if m.0 == 0x49 && m.1 == 0x44 && m.2 == 0x33 { return true }  // ID3v2 tag before MP3 frames
            return m.0 == 0xFF && (m.1 & 0xE0) == 0xE0 && (m.1 & 0x06) != 0  // MPEG audio frame sync, layer ≠ 0
        }
    }

    /// The outcome of probing one file.
    public enum Result: Sendable, Equatable {
        /// It decodes: a sample with these facts. `warning` notes a damaged-but-readable file.
        case audio(AudioFacts, warning: String?)
        /// libsndfile could not open it; `reason` is libsndfile's message.
        case notAudio(reason: String)
    }

    /// Probes bytes held in memory.
    ///
    /// - Returns: `.audio` with container, encoding, sample rate (Hz), channels and frames, or
    ///   `.notAudio` with libsndfile's reason. For RIFF/WAVE it also cross-checks the `data`
    ///   chunk against the file: a data size of 0 with samples after it (a recorder that never
    ///   finalised the header) and a data chunk cut short are returned as warnings.
    /// - Complexity: reads the header only (plus a RIFF chunk walk); does not decode samples.
    /// The corresponding C function is `sf_open_virtual`.
    public static func probe(_ bytes: UnsafeRawBufferPointer) -> Result {
        if bytes.count == 0 { return .notAudio(reason: "file is empty (0 bytes)") }
        let file = MemoryFile(bytes)
        var info = SF_INFO()
        var io = MemoryFile.virtualIO
        let user = Unmanaged.passUnretained(file).toOpaque()
        guard let sf = sf_open_virtual(&io, Int32(SFM_READ), &info, user) else {
            let msg = String(cString: sf_strerror(nil))
            return .notAudio(reason: "libsndfile: \(msg)")
        }
        sf_close(sf)
        withExtendedLifetime(file) {}
        let major = info.format & Int32(SF_FORMAT_TYPEMASK)
        let sub = info.format & Int32(SF_FORMAT_SUBMASK)
        let facts = AudioFacts(
            container: majorName(major), encoding: subtypeName(sub), sampleRate: Int(info.samplerate),
            channelCount: Int(info.channels), frameCount: Int(max(info.frames, 0)))
        if facts.sampleRate <= 0 || facts.channelCount <= 0 {
            return .notAudio(reason: "libsndfile reports \(facts.sampleRate) Hz and \(facts.channelCount) channels")
        }
        return .audio(facts, warning: RIFFLayout.parse(bytes)?.warning(facts: facts))
    }

    static func majorName(_ f: Int32) -> String {
        switch Int(f) {
        case SF_FORMAT_WAV: return "WAV"
        case SF_FORMAT_WAVEX: return "WAVEX"
        case SF_FORMAT_RF64: return "RF64"
        case SF_FORMAT_W64: return "W64"
        case SF_FORMAT_AIFF: return "AIFF"
        case SF_FORMAT_AU: return "AU"
        case SF_FORMAT_CAF: return "CAF"
        case SF_FORMAT_FLAC: return "FLAC"
        case SF_FORMAT_OGG: return "OGG"
        case SF_FORMAT_MPEG: return "MPEG"
        case SF_FORMAT_RAW: return "RAW"
        default: return String(format: "0x%06X", f)
        }
    }

    static func subtypeName(_ f: Int32) -> String {
        switch Int(f) {
        case SF_FORMAT_PCM_S8: return "PCM_S8"
        case SF_FORMAT_PCM_16: return "PCM_16"
        case SF_FORMAT_PCM_24: return "PCM_24"
        case SF_FORMAT_PCM_32: return "PCM_32"
        case SF_FORMAT_PCM_U8: return "PCM_U8"
        case SF_FORMAT_FLOAT: return "FLOAT"
        case SF_FORMAT_DOUBLE: return "DOUBLE"
        case SF_FORMAT_ULAW: return "ULAW"
        case SF_FORMAT_ALAW: return "ALAW"
        case SF_FORMAT_IMA_ADPCM: return "IMA_ADPCM"
        case SF_FORMAT_MS_ADPCM: return "MS_ADPCM"
        case SF_FORMAT_GSM610: return "GSM610"
        case SF_FORMAT_VORBIS: return "VORBIS"
        case SF_FORMAT_OPUS: return "OPUS"
        case SF_FORMAT_MPEG_LAYER_I: return "MPEG_LAYER_I"
        case SF_FORMAT_MPEG_LAYER_II: return "MPEG_LAYER_II"
        case SF_FORMAT_MPEG_LAYER_III: return "MPEG_LAYER_III"
        case SF_FORMAT_ALAC_16: return "ALAC_16"
        case SF_FORMAT_ALAC_24: return "ALAC_24"
        default: return String(format: "0x%04X", f)
        }
    }
}

/// A read-only file over memory for libsndfile's virtual I/O callbacks.
final class MemoryFile {
    let base: UnsafeRawBufferPointer
    var position: sf_count_t = 0
    init(_ base: UnsafeRawBufferPointer) { self.base = base }
    /// libsndfile's virtual I/O callbacks over a `MemoryFile` passed as the user pointer.
    static var virtualIO: SF_VIRTUAL_IO {
        SF_VIRTUAL_IO(
            get_filelen: { user in Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue().length },
            seek: { offset, whence, user in Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue().seek(offset, whence) },
            read: { ptr, count, user in Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue().read(ptr!, count) },
            write: { _, _, _ in 0 },
            tell: { user in Unmanaged<MemoryFile>.fromOpaque(user!).takeUnretainedValue().position })
    }
    var length: sf_count_t { sf_count_t(base.count) }
    func seek(_ offset: sf_count_t, _ whence: Int32) -> sf_count_t {
        let target: sf_count_t
        switch whence {
        case SEEK_SET: target = offset
        case SEEK_CUR: target = position + offset
        case SEEK_END: target = length + offset
        default: return -1
        }
        guard target >= 0 else { return -1 }
        position = target
        return position
    }
    func read(_ ptr: UnsafeMutableRawPointer, _ count: sf_count_t) -> sf_count_t {
        guard position < length, count > 0 else { return 0 }
        let n = min(count, length - position)
        ptr.copyMemory(from: base.baseAddress! + Int(position), byteCount: Int(n))
        position += n
        return n
    }
}
