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

    /// Peak and RMS of 16-bit PCM read in place: one pass per channel over runs of 2^16 frames,
    /// with wrapping integer arithmetic that cannot overflow there (a square is at most 2^30, a
    /// run's sum under 2^47), so the loop compiles without overflow checks.
    static func pcm16(_ bytes: UnsafeRawBufferPointer, layout: RIFFLayout) -> (peak: [Float], rms: [Float]) {
        let ch = layout.channelCount
        let stride = layout.blockAlign
        let frames = max(0, min(layout.availableDataSize, bytes.count - layout.dataOffset)) / stride
        var peak = [Int32](repeating: 0, count: ch)
        var sum = [Double](repeating: 0, count: ch)
        let base = bytes.baseAddress! + layout.dataOffset
        let run = 1 << 16
        var start = 0
        while start < frames {
            let end = min(frames, start &+ run)
            for c in 0..<ch {
                var p: Int32 = 0
                var s: Int64 = 0
                var off = start &* stride &+ c &* 2
                var f = start
                while f < end {
                    let v = Int32(Int16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: off, as: UInt16.self))))
                    let sign = v &>> 31
                    p = max(p, (v ^ sign) &- sign)
                    s &+= Int64(v &* v)
                    off &+= stride
                    f &+= 1
                }
                peak[c] = max(peak[c], p)
                sum[c] += Double(s)
            }
            start = end
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
