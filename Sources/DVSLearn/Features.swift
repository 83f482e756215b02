import Foundation

/// The frequency warping used to place mel filters.
public enum MelScale: UInt8, Sendable, Equatable, Codable {
    /// Slaney's scale, as in Malcolm Slaney's *Auditory Toolbox* (Interval Research TR 1998-010,
    /// `mfcc.m`) and librosa's default (`htk=False`): linear below 1 kHz (200/3 Hz per mel),
    /// logarithmic above (27 mels per factor 6.4).
    case slaney = 1
    /// The HTK scale, mel = 2595·log10(1 + f/700) (Young et al., *The HTK Book*, §5.4).
    case htk = 2

    /// Mels for a frequency in Hz.
    public func mel(hertz f: Double) -> Double {
        switch self {
        case .htk:
            return 2595 * log10(1 + f / 700)
        case .slaney:
            let fSp = 200.0 / 3
            let minLogHz = 1000.0
            let minLogMel = minLogHz / fSp
            let logStep = log(6.4) / 27
            return f < minLogHz ? f / fSp : minLogMel + log(f / minLogHz) / logStep
        }
    }

    /// Hz for a value in mels (inverse of `mel(hertz:)`).
    public func hertz(mel m: Double) -> Double {
        switch self {
        case .htk:
            return 700 * (pow(10, m / 2595) - 1)
        case .slaney:
            let fSp = 200.0 / 3
            let minLogHz = 1000.0
            let minLogMel = minLogHz / fSp
            let logStep = log(6.4) / 27
            return m < minLogMel ? m * fSp : minLogHz * exp(logStep * (m - minLogMel))
        }
    }
}

/// How audio becomes a fixed-length feature vector: short-time power spectra on a Hann window,
/// a mel filter bank, the natural log, optional MFCCs, then mean and standard deviation over time.
///
/// Defaults are the usual speech front end at 16 kHz: 25 ms windows (400 frames) every 10 ms
/// (160 frames), a 512-point FFT, 40 Slaney mel bands from 0 Hz to the Nyquist frequency, and 13
/// MFCCs.
public struct FeatureConfig: Sendable, Equatable, Codable {
    /// The rate the input must have, in Hz (callers resample; the snapshot reader does).
    public var sampleRate: Int
    /// Analysis window length in frames (25 ms at 16 kHz is 400).
    public var windowLength: Int
    /// Frames between window starts (10 ms at 16 kHz is 160).
    public var hopLength: Int
    /// FFT length in frames, ≥ `windowLength`; the window is zero-padded to it.
    public var fftSize: Int
    /// Number of mel bands.
    public var melBandCount: Int
    /// Mel scale of the filter centres.
    public var melScale: MelScale
    /// Lower edge of the lowest filter, in Hz.
    public var lowFrequency: Double
    /// Upper edge of the highest filter, in Hz (≤ sampleRate / 2).
    public var highFrequency: Double
    /// Number of MFCCs (0 for log-mel only), ≤ `melBandCount`.
    public var mfccCount: Int

    /// Creates a configuration; the defaults are the 16 kHz speech front end described above.
    public init(
        sampleRate: Int = 16000, windowLength: Int = 400, hopLength: Int = 160, fftSize: Int = 512,
        melBandCount: Int = 40, melScale: MelScale = .slaney, lowFrequency: Double = 0,
        highFrequency: Double = 8000, mfccCount: Int = 13
    ) {
        self.sampleRate = sampleRate
        self.windowLength = windowLength
        self.hopLength = hopLength
        self.fftSize = fftSize
        self.melBandCount = melBandCount
        self.melScale = melScale
        self.lowFrequency = lowFrequency
        self.highFrequency = highFrequency
        self.mfccCount = mfccCount
    }

    /// Length of the pooled vector: mean and standard deviation of each mel band and each MFCC,
    /// `2 × (melBandCount + mfccCount)`.
    public var dimension: Int { 2 * (melBandCount + mfccCount) }

    /// Checks that the numbers make sense together.
    /// - Throws: `LearnError.Code.badInput` naming the first field out of range.
    public func validate() throws(LearnError) {
        func bad(_ what: String) -> LearnError {
            LearnError(.badInput, "invalid feature configuration: \(what)")
        }
        guard sampleRate > 0 else { throw bad("sample rate \(sampleRate) Hz") }
        guard windowLength > 0, hopLength > 0 else { throw bad("window \(windowLength) / hop \(hopLength) frames") }
        guard fftSize >= windowLength, fftSize <= 1 << 20 else {
            throw bad("FFT size \(fftSize) is below the window (\(windowLength)) or huge")
        }
        guard melBandCount > 0, melBandCount <= fftSize / 2 else { throw bad("\(melBandCount) mel bands for a \(fftSize)-point FFT") }
        guard mfccCount >= 0, mfccCount <= melBandCount else { throw bad("\(mfccCount) MFCCs from \(melBandCount) bands") }
        guard lowFrequency >= 0, highFrequency > lowFrequency, highFrequency <= Double(sampleRate) / 2 + 1e-9 else {
            throw bad("filter range \(lowFrequency)–\(highFrequency) Hz at \(sampleRate) Hz")
        }
    }
}

/// Log-mel spectrograms, MFCCs and pooled feature vectors of mono audio, computed with FFTW.
///
/// Thread-safe: one extractor can be shared by many threads; each call uses its own buffers.
/// Steps, per window of `windowLength` frames every `hopLength` frames:
/// 1. multiply by a periodic Hann window and zero-pad to `fftSize`;
/// 2. power spectrum |X[k]|² by a real FFT (FFTW `fftwf_plan_dft_r2c_1d`);
/// 3. triangular mel filters with Slaney's area normalisation (each filter scaled by
///    2 / (upper − lower edge in Hz)), as in Slaney's *Auditory Toolbox* and librosa's
///    `filters.mel(norm="slaney")`;
/// 4. natural log of max(energy, 1e-10), so silence gives a finite floor (≈ −23.03), never −∞;
/// 5. MFCCs: the orthonormal DCT-II of the log-mel vector, first `mfccCount` coefficients
///    (Davis & Mermelstein, "Comparison of parametric representations for monosyllabic word
///    recognition in continuously spoken sentences", IEEE Trans. ASSP 28(4), 1980).
///
/// A clip has `1 + (frameCount − windowLength) / hopLength` windows (the partial tail is dropped);
/// a clip shorter than one window, including an empty one, is zero-padded to exactly one window.
/// Non-finite input values are read as 0.
public struct FeatureExtractor: Sendable {
    /// The configuration the extractor was made from.
    public let config: FeatureConfig
    private let fft: RealFFT
    private let window: [Float]
    /// Per band: first FFT bin and the filter weights from there.
    private let filters: [(start: Int, weights: [Float])]
    /// `mfccCount × melBandCount`, row-major.
    private let dct: [Float]

    /// Makes an extractor, building the window, filter bank and DCT matrix and the FFTW plan.
    /// - Throws: `LearnError.Code.badInput` for an inconsistent configuration;
    ///   `.numerical` if FFTW cannot plan the FFT size.
    public init(config: FeatureConfig = FeatureConfig()) throws(LearnError) {
        try config.validate()
        self.config = config
        fft = try RealFFT.plan(size: config.fftSize)
        let n = config.windowLength
        window = (0..<n).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(n))) }
        filters = Self.melFilters(config)
        let m = config.melBandCount
        var d = [Float](repeating: 0, count: config.mfccCount * m)
        for k in 0..<config.mfccCount {
            let s = k == 0 ? (1 / Double(m)).squareRoot() : (2 / Double(m)).squareRoot()
            for j in 0..<m {
                d[k * m + j] = Float(s * cos(Double.pi * Double(k) * (2 * Double(j) + 1) / (2 * Double(m))))
            }
        }
        dct = d
    }

    private static func melFilters(_ c: FeatureConfig) -> [(start: Int, weights: [Float])] {
        let lo = c.melScale.mel(hertz: c.lowFrequency)
        let hi = c.melScale.mel(hertz: c.highFrequency)
        let edges = (0..<(c.melBandCount + 2)).map { c.melScale.hertz(mel: lo + (hi - lo) * Double($0) / Double(c.melBandCount + 1)) }
        let bins = c.fftSize / 2 + 1
        let binHz = Double(c.sampleRate) / Double(c.fftSize)
        return (0..<c.melBandCount).map { b in
            let (left, centre, right) = (edges[b], edges[b + 1], edges[b + 2])
            let norm = 2 / (right - left)
            var start = -1
            var weights: [Float] = []
            for k in 0..<bins {
                let f = Double(k) * binHz
                let w = max(0, min((f - left) / (centre - left), (right - f) / (right - centre))) * norm
                if w > 0 {
                    if start < 0 { start = k }
                    weights.append(Float(w))
                } else if start >= 0 {
                    break
                }
            }
            // A band narrower than one bin still gets the nearest bin, so no band is identically empty.
            if start < 0 {
                start = min(bins - 1, Int((centre / binHz).rounded()))
                weights = [Float(norm * binHz)]
            }
            return (start, weights)
        }
    }

    /// Number of analysis windows for a clip of `frameCount` frames (at least 1).
    public func windowCount(frameCount: Int) -> Int {
        frameCount <= config.windowLength ? 1 : 1 + (frameCount - config.windowLength) / config.hopLength
    }

    /// The log-mel spectrogram of mono `samples` at `config.sampleRate`.
    /// - Returns: `windowCount(frameCount:) × melBandCount` values, row-major (one row per window),
    ///   natural log of filter-bank energy, every value finite.
    /// - Complexity: O(W · fftSize · log fftSize) for W windows.
    public func logMelSpectrogram(_ samples: [Float]) -> [Float] {
        let windows = windowCount(frameCount: samples.count)
        let m = config.melBandCount
        let n = config.windowLength
        let size = config.fftSize
        var out = [Float](repeating: 0, count: windows * m)
        let ws = fft.makeWorkspace()
        var power = [Float](repeating: 0, count: fft.binCount)
        samples.withUnsafeBufferPointer { x in
            power.withUnsafeMutableBufferPointer { p in
                for w in 0..<windows {
                    let offset = w * config.hopLength
                    for i in 0..<size {
                        var v: Float = 0
                        if i < n, offset + i < x.count, x[offset + i].isFinite { v = x[offset + i] * window[i] }
                        ws.input[i] = v
                    }
                    fft.powerSpectrum(ws, into: p.baseAddress!)
                    for b in 0..<m {
                        let f = filters[b]
                        var e: Float = 0
                        for (j, wt) in f.weights.enumerated() { e += wt * p[f.start + j] }
                        out[w * m + b] = log(max(e.isFinite ? e : Float.greatestFiniteMagnitude, 1e-10))
                    }
                }
            }
        }
        return out
    }

    /// MFCCs of a log-mel spectrogram from `logMelSpectrogram(_:)`.
    /// - Returns: `windows × mfccCount` values, row-major.
    public func mfcc(logMel: [Float]) -> [Float] {
        let m = config.melBandCount
        let c = config.mfccCount
        let windows = logMel.count / m
        var out = [Float](repeating: 0, count: windows * c)
        for w in 0..<windows {
            for k in 0..<c {
                var s: Float = 0
                for j in 0..<m { s += dct[k * m + j] * logMel[w * m + j] }
                out[w * c + k] = s
            }
        }
        return out
    }

    /// The pooled feature vector of mono `samples` at `config.sampleRate`: per mel band the mean
    /// and the (population) standard deviation over windows, then the same for each MFCC.
    /// - Returns: `config.dimension` finite values laid out
    ///   `[mel means | mel std devs | MFCC means | MFCC std devs]`.
    public func features(_ samples: [Float]) -> [Float] {
        let logMel = logMelSpectrogram(samples)
        var out: [Float] = []
        out.reserveCapacity(config.dimension)
        Self.pool(logMel, width: config.melBandCount, into: &out)
        if config.mfccCount > 0 { Self.pool(mfcc(logMel: logMel), width: config.mfccCount, into: &out) }
        return out
    }

    private static func pool(_ rows: [Float], width: Int, into out: inout [Float]) {
        let count = rows.count / width
        var mean = [Double](repeating: 0, count: width)
        var sq = [Double](repeating: 0, count: width)
        for r in 0..<count {
            for j in 0..<width { mean[j] += Double(rows[r * width + j]) }
        }
        for j in 0..<width { mean[j] /= Double(max(count, 1)) }
        for r in 0..<count {
            for j in 0..<width {
                let d = Double(rows[r * width + j]) - mean[j]
                sq[j] += d * d
            }
        }
        out.append(contentsOf: mean.map { Float($0) })
        out.append(contentsOf: sq.map { Float(($0 / Double(max(count, 1))).squareRoot()) })
    }
}
