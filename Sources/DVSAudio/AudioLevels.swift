import CSndfile
import DVSCore
import Foundation

/// Per-channel signal levels: what a hook needs to reject a silent channel or a clipped file.
public enum AudioLevels {
    /// Measures per-channel absolute peak and RMS, both as fractions of full scale (0…1; a float
    /// file may exceed 1).
    ///
    /// 16-bit PCM WAV is read straight from its `data` chunk (full scale 32768); every other
    /// format is decoded by libsndfile to `Float` (`sf_readf_float`, normalised to ±1) in blocks of
    /// 4096 frames, so memory stays flat.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - layout: its RIFF layout when it is a WAV file.
    ///   - channelCount: channels, from the probe.
    /// - Returns: `(peak, rms)`, one value per channel; empty arrays when the file cannot be decoded.
    public static func measure(_ bytes: UnsafeRawBufferPointer, layout: RIFFLayout?, channelCount: Int) -> (peak: [Float], rms: [Float]) {
        guard channelCount > 0 else { return ([], []) }
        if let layout, layout.isPCM16, layout.channelCount == channelCount {
            return pcm16(bytes, layout: layout)
        }
        return decoded(bytes, channelCount: channelCount)
    }

    static func pcm16(_ bytes: UnsafeRawBufferPointer, layout: RIFFLayout) -> (peak: [Float], rms: [Float]) {
        let ch = layout.channelCount
        let frames = layout.availableDataSize / layout.blockAlign
        var peak = [Int32](repeating: 0, count: ch)
        var sum = [Double](repeating: 0, count: ch)
        let base = bytes.baseAddress! + layout.dataOffset
        for c in 0..<ch {
            var p: Int32 = 0
            var s: Int64 = 0
            var partial: Double = 0
            var f = 0
            while f < frames {
                // Sum squares in Int64 over runs short enough not to overflow (2^30 per sample).
                let end = min(frames, f + 1 << 20)
                while f < end {
                    let v = Int32(Int16(littleEndian: base.loadUnaligned(fromByteOffset: f * layout.blockAlign + c * 2, as: Int16.self)))
                    let a = v < 0 ? -v : v
                    if a > p { p = a }
                    s += Int64(v) * Int64(v)
                    f += 1
                }
                partial += Double(s)
                s = 0
            }
            peak[c] = p
            sum[c] = partial
        }
        let n = Double(max(frames, 1))
        return (peak.map { Float($0) / 32768 }, sum.map { Float(($0 / n).squareRoot() / 32768) })
    }

    static func decoded(_ bytes: UnsafeRawBufferPointer, channelCount: Int) -> (peak: [Float], rms: [Float]) {
        let file = MemoryFile(bytes)
        var info = SF_INFO()
        var io = MemoryFile.virtualIO
        let user = Unmanaged.passUnretained(file).toOpaque()
        guard let sf = sf_open_virtual(&io, Int32(SFM_READ), &info, user) else { return ([], []) }
        defer {
            sf_close(sf)
            withExtendedLifetime(file) {}
        }
        let ch = Int(info.channels)
        guard ch == channelCount else { return ([], []) }
        let block = 4096
        var buf = [Float](repeating: 0, count: block * ch)
        var peak = [Float](repeating: 0, count: ch)
        var sum = [Double](repeating: 0, count: ch)
        var total = 0
        while true {
            let n = Int(buf.withUnsafeMutableBufferPointer { sf_readf_float(sf, $0.baseAddress, sf_count_t(block)) })
            if n <= 0 { break }
            for i in 0..<n {
                for c in 0..<ch {
                    let v = buf[i * ch + c]
                    peak[c] = max(peak[c], abs(v))
                    sum[c] += Double(v) * Double(v)
                }
            }
            total += n
        }
        let frames = Double(max(total, 1))
        return (peak, sum.map { Float(($0 / frames).squareRoot()) })
    }
}
