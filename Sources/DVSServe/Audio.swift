import DVSCore
import Foundation

/// What the sample page does with audio: which bytes a browser can play as they are, WAV
/// transcoding, byte ranges, waveform and spectrogram pictures.
enum AudioWeb {
    /// Whether browsers play `facts`' container and encoding as stored: WAV with linear PCM or
    /// float, FLAC, Ogg Vorbis/Opus, MP3. Anything else (μ-law, A-law, ADPCM, AIFF, AU, …) is
    /// transcoded to 16-bit PCM WAV.
    static func browserPlays(_ facts: AudioFacts) -> Bool {
        switch facts.container {
        case "WAV", "WAVEX": return ["PCM_16", "PCM_24", "PCM_U8", "PCM_32", "FLOAT"].contains(facts.encoding)
        case "FLAC", "MPEG": return true
        case "OGG": return ["VORBIS", "OPUS"].contains(facts.encoding)
        default: return false
        }
    }

    /// The MIME type of the stored bytes.
    static func mimeType(_ facts: AudioFacts) -> String {
        switch facts.container {
        case "WAV", "WAVEX", "RF64", "W64": return "audio/wav"
        case "FLAC": return "audio/flac"
        case "OGG": return "audio/ogg"
        case "MPEG": return "audio/mpeg"
        case "AIFF": return "audio/aiff"
        case "AU": return "audio/basic"
        default: return "application/octet-stream"
        }
    }

    /// A 16-bit PCM WAV file of `pcm` (interleaved, −1…1).
    static func wav(pcm: [Float], sampleRate: Int, channelCount: Int) -> [UInt8] {
        let dataBytes = pcm.count * 2
        var out: [UInt8] = []
        out.reserveCapacity(44 + dataBytes)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { out += $0 } }
        out += Array("RIFF".utf8)
        u32(36 + dataBytes)
        out += Array("WAVEfmt ".utf8)
        u32(16)
        u16(1)
        u16(channelCount)
        u32(sampleRate)
        u32(sampleRate * channelCount * 2)
        u16(channelCount * 2)
        u16(16)
        out += Array("data".utf8)
        u32(dataBytes)
        for x in pcm {
            let v = Int16(max(-32768, min(32767, (x * 32768).rounded())))
            withUnsafeBytes(of: v.littleEndian) { out += $0 }
        }
        return out
    }

    /// A parsed `Range` header.
    enum ByteRange: Equatable {
        /// Serve everything (no header, or one this server does not do: several ranges, other units).
        case whole
        /// Bytes `lower...upper` (inclusive, within the length).
        case part(Int, Int)
        /// Nothing in the range lies within the length: 416.
        case unsatisfiable
    }

    /// The byte range `header` asks of a body of `length` bytes (RFC 9110 § 14.1.2, one range).
    static func range(_ header: String?, length: Int) -> ByteRange {
        guard let header, header.hasPrefix("bytes=") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let n = Int(last), n >= 0 else { return .whole }
            if n == 0 || length == 0 { return .unsatisfiable }
            return .part(max(0, length - n), length - 1)
        }
        guard let a = Int(first), a >= 0 else { return .whole }
        if a >= length { return .unsatisfiable }
        if last.isEmpty { return .part(a, length - 1) }
        guard let b = Int(last), b >= a else { return .whole }
        return .part(a, min(b, length - 1))
    }

    /// The waveform of each channel of `pcm` as an SVG: min/max per column, 1000 columns wide,
    /// clicking seeks (app.js reads `data-duration`).
    static func waveformSVG(pcm: [Float], channelCount: Int, duration: Double) -> String {
        let channels = max(1, channelCount)
        let frames = pcm.count / channels
        let columns = 1000
        var svg = ""
        for ch in 0..<channels {
            var path = ""
            for x in 0..<columns {
                let a = frames * x / columns
                let b = max(a + 1, frames * (x + 1) / columns)
                var lo: Float = 0
                var hi: Float = 0
                var i = a
                while i < min(b, frames) {
                    let v = pcm[i * channels + ch]
                    lo = min(lo, v)
                    hi = max(hi, v)
                    i += 1
                }
                path += String(format: "M%d %.1fV%.1f", x, 50 - Double(hi) * 48, 50 - Double(lo) * 48 + 0.5)
            }
            svg += """
                <div class="muted">channel \(ch)</div>
                <svg class="wave" data-duration="\(duration)" viewBox="0 0 1000 100" preserveAspectRatio="none" role="img" aria-label="waveform of channel \(ch)">
                <line x1="0" x2="1000" y1="50" y2="50" stroke="#d0d7de" stroke-width="0.5"/><path d="\(path)" stroke="#2f6fb3" stroke-width="1" fill="none" vector-effect="non-scaling-stroke"/>
                <line class="cursor" x1="0" x2="0" y1="0" y2="100" stroke="#d1242f" stroke-width="2" vector-effect="non-scaling-stroke"/></svg>
                """
        }
        return svg
    }

    /// A 24-bit BMP of `frames` (columns of dB values, low frequency at the bottom), mapped
    /// from 80 dB below the loudest bin to it on a dark-to-yellow scale.
    static func bmp(frames: [[Float]]) -> [UInt8] {
        let width = max(1, frames.count)
        let height = max(1, frames.first?.count ?? 1)
        let top = frames.lazy.flatMap { $0 }.max() ?? 0
        let floor = top - 80
        let rowBytes = (width * 3 + 3) & ~3
        let size = 54 + rowBytes * height
        var out = [UInt8](repeating: 0, count: size)
        func put32(_ v: Int, at o: Int) { for k in 0..<4 { out[o + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        out[0] = 0x42
        out[1] = 0x4D
        put32(size, at: 2)
        put32(54, at: 10)
        put32(40, at: 14)
        put32(width, at: 18)
        put32(height, at: 22)
        out[26] = 1
        out[28] = 24
        put32(rowBytes * height, at: 34)
        for y in 0..<height {  // bottom-up rows: row 0 is bin 0
            for x in 0..<width {
                let v = x < frames.count && y < frames[x].count ? frames[x][y] : floor
                let t = Double(max(0, min(1, (v - floor) / 80)))
                let o = 54 + y * rowBytes + x * 3
                // Dark blue → purple → orange → yellow.
                out[o + 2] = UInt8(max(0, min(255, 255 * min(1, t * 1.6))))
                out[o + 1] = UInt8(max(0, min(255, 255 * max(0, t - 0.45) / 0.55)))
                out[o] = UInt8(max(0, min(255, 90 + 120 * sin(.pi * t) - 80 * t)))
            }
        }
        return out
    }
}
