import CSamplerate
import CSndfile
import DVSCore
import Foundation

/// Decoded audio: interleaved `Float` samples in −1…1 (full scale), with their rate and layout.
public struct DecodedAudio: Sendable, Equatable {
    /// Interleaved samples, `frameCount × channelCount` of them (frame 0 channel 0, frame 0 channel 1, …).
    public var pcm: [Float]
    /// Frames per second (Hz).
    public var sampleRate: Int
    /// Interleaved channels per frame.
    public var channelCount: Int
    /// Frames (samples per channel).
    public var frameCount: Int { channelCount > 0 ? pcm.count / channelCount : 0 }
    /// Length in seconds.
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / Double(sampleRate) : 0 }

    /// Creates decoded audio from its parts.
    public init(pcm: [Float], sampleRate: Int, channelCount: Int) {
        self.pcm = pcm
        self.sampleRate = sampleRate
        self.channelCount = channelCount
    }
}

/// Why audio could not be decoded or converted.
public struct AudioDecodeError: Error, Sendable, CustomStringConvertible {
    /// The failing C function and the library's own message, e.g. `sf_open_virtual: Format not recognised`.
    public var message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}

/// Decodes audio held in memory to `Float` PCM with libsndfile, and converts its rate and channel
/// layout with libsamplerate (Secret Rabbit Code).
public enum AudioDecoder {
    /// Decodes every frame of an audio file held in memory.
    ///
    /// - Parameter bytes: the file's bytes (any container libsndfile 1.2 reads).
    /// - Returns: interleaved samples scaled to −1…1 (libsndfile's float normalisation), the
    ///   file's sample rate (Hz) and channel count.
    /// - Throws: `AudioDecodeError` when libsndfile cannot open or read the bytes.
    /// - Complexity: O(frames); one allocation of the output.
    /// The corresponding C functions are `sf_open_virtual` and `sf_readf_float`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> DecodedAudio {
        guard bytes.count > 0 else { throw AudioDecodeError("sf_open_virtual: file is empty (0 bytes)") }
        let file = MemoryFile(bytes)
        var info = SF_INFO()
        var io = MemoryFile.virtualIO
        let user = Unmanaged.passUnretained(file).toOpaque()
        guard let sf = sf_open_virtual(&io, Int32(SFM_READ), &info, user) else {
            throw AudioDecodeError("sf_open_virtual: \(String(cString: sf_strerror(nil)))")
        }
        defer {
            sf_close(sf)
            withExtendedLifetime(file) {}
        }
        let channels = Int(info.channels)
        guard channels > 0, info.samplerate > 0 else {
            throw AudioDecodeError("sf_open_virtual: \(info.samplerate) Hz and \(channels) channels")
        }
        // The announced length first; then blocks until the end, for containers (streamed MP3,
        // Ogg) that may not know their length.
        let announced = Int(max(info.frames, 0))
        var pcm = [Float](repeating: 0, count: announced * channels)
        var got = 0
        if announced > 0 {
            let n = pcm.withUnsafeMutableBufferPointer { sf_readf_float(sf, $0.baseAddress!, sf_count_t(announced)) }
            if n < 0 { throw AudioDecodeError("sf_readf_float: \(String(cString: sf_strerror(sf)))") }
            got = Int(n)
            if got < announced { pcm.removeSubrange((got * channels)...) }
        }
        if got == announced {
            var block = [Float](repeating: 0, count: 4096 * channels)
            while true {
                let n = block.withUnsafeMutableBufferPointer { sf_readf_float(sf, $0.baseAddress!, 4096) }
                if n <= 0 { break }
                pcm.append(contentsOf: block[0..<(Int(n) * channels)])
            }
        }
        return DecodedAudio(pcm: pcm, sampleRate: Int(info.samplerate), channelCount: channels)
    }

    /// Converts the samples of a 16-bit PCM WAV held in memory straight to `Float`, without
    /// libsndfile: the same values libsndfile gives (each sample / 32768), several times faster.
    ///
    /// - Parameters:
    ///   - bytes: the file's bytes.
    ///   - frameCount: frames libsndfile reported when the file was probed (manifest facts); the
    ///     fast path is taken only when the `data` chunk holds at least that many whole frames.
    ///   - sampleRate: the probed rate (Hz).
    /// - Returns: nil when the file is not plain 16-bit PCM RIFF/WAVE or does not match the facts;
    ///   call ``decode(_:)`` then.
    /// - Complexity: O(frames).
    public static func decodePCM16(_ bytes: UnsafeRawBufferPointer, frameCount: Int, sampleRate: Int) -> DecodedAudio? {
        guard let (range, channelCount) = pcm16Samples(bytes, frameCount: frameCount) else { return nil }
        let n = frameCount * channelCount
        let scale: Float = 1.0 / 32768
        let pcm = [Float](unsafeUninitializedCapacity: n) { out, count in
            let src = bytes.baseAddress! + range.lowerBound
            for i in 0..<n {
                out[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) * scale
            }
            count = n
        }
        return DecodedAudio(pcm: pcm, sampleRate: sampleRate, channelCount: channelCount)
    }

    /// Where the first `frameCount` frames of a 16-bit PCM WAV (or WAVE_FORMAT_EXTENSIBLE) file
    /// lie in its bytes: little-endian int16, channels interleaved, exactly as stored (RIFF
    /// layout: Microsoft/IBM, "Multimedia Programming Interface and Data Specifications 1.0").
    /// - Returns: the byte range and the channel count; nil for any other format, or when the
    ///   data chunk holds fewer frames than `frameCount` or the file is cut short.
    /// - Complexity: O(chunks) of the header; the samples are not read.
    public static func pcm16Samples(_ bytes: UnsafeRawBufferPointer, frameCount: Int) -> (range: Range<Int>, channelCount: Int)? {
        guard let layout = RIFFLayout.parse(bytes), layout.isPCM16, layout.channelCount > 0,
            layout.blockAlign == 2 * layout.channelCount, frameCount >= 0,
            frameCount * layout.blockAlign <= layout.availableDataSize,
            layout.dataOffset + frameCount * layout.blockAlign <= bytes.count
        else { return nil }
        return (layout.dataOffset..<(layout.dataOffset + frameCount * layout.blockAlign), layout.channelCount)
    }

    /// Averages the channels of interleaved audio into one.
    /// - Complexity: O(samples).
    public static func downmix(_ audio: DecodedAudio) -> DecodedAudio {
        let c = audio.channelCount
        guard c > 1 else { return audio }
        let frames = audio.frameCount
        var out = [Float](repeating: 0, count: frames)
        let scale = 1 / Float(c)
        audio.pcm.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for f in 0..<frames {
                    var s: Float = 0
                    for ch in 0..<c { s += src[f * c + ch] }
                    dst[f] = s * scale
                }
            }
        }
        return DecodedAudio(pcm: out, sampleRate: audio.sampleRate, channelCount: 1)
    }

    /// Resampling quality, in libsamplerate's converter names.
    public enum ResampleQuality: Int32, Sendable {
        /// `SRC_SINC_BEST_QUALITY`: slowest, 97 dB SNR.
        case best = 0
        /// `SRC_SINC_MEDIUM_QUALITY`.
        case medium = 1
        /// `SRC_SINC_FASTEST`: band-limited sinc, 97 dB SNR over 80 % of the band; the default.
        case fastest = 2
    }

    /// Converts interleaved audio to `sampleRate` Hz with libsamplerate's band-limited sinc
    /// interpolation; returns the input unchanged when the rate already matches.
    /// - Parameters:
    ///   - audio: the input.
    ///   - sampleRate: the target rate in Hz (> 0).
    ///   - quality: the converter.
    /// - Returns: about `frameCount × sampleRate / audio.sampleRate` frames.
    /// - Throws: `AudioDecodeError` with libsamplerate's message when the conversion fails.
    /// The corresponding C function is `src_simple`.
    public static func resample(_ audio: DecodedAudio, to sampleRate: Int, quality: ResampleQuality = .fastest) throws -> DecodedAudio {
        guard sampleRate != audio.sampleRate, audio.frameCount > 0 else {
            return DecodedAudio(pcm: audio.pcm, sampleRate: sampleRate, channelCount: audio.channelCount)
        }
        guard sampleRate > 0 else { throw AudioDecodeError("src_simple: target rate \(sampleRate) Hz is not positive") }
        let ratio = Double(sampleRate) / Double(audio.sampleRate)
        let outFrames = Int((Double(audio.frameCount) * ratio).rounded(.up)) + 16
        var out = [Float](repeating: 0, count: outFrames * audio.channelCount)
        var used = 0
        let rc: Int32 = audio.pcm.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var data = SRC_DATA()
                data.data_in = src.baseAddress
                data.input_frames = Int(audio.frameCount)
                data.data_out = dst.baseAddress
                data.output_frames = outFrames
                data.src_ratio = ratio
                data.end_of_input = 1
                let r = src_simple(&data, Int32(quality.rawValue), Int32(audio.channelCount))
                used = Int(data.output_frames_gen)
                return r
            }
        }
        if rc != 0 { throw AudioDecodeError("src_simple: \(String(cString: src_strerror(rc)))") }
        out.removeSubrange((used * audio.channelCount)...)
        return DecodedAudio(pcm: out, sampleRate: sampleRate, channelCount: audio.channelCount)
    }
}
