import Foundation

/// A short-time power spectrum of one channel, in decibels, for drawing (`dvs serve`'s sample page).
public struct Spectrogram: Sendable, Equatable {
    /// Frames (columns, in time order), each `binCount` values of 10·log10(power) in dB,
    /// frequency bins from 0 Hz to Nyquist.
    public var frames: [[Float]]
    /// Frequency bins per frame: `windowSize / 2 + 1`.
    public var binCount: Int
    /// Seconds between frames.
    public var hopSeconds: Double
    /// Highest frequency shown, Hz (the sample rate's Nyquist frequency).
    public var maxFrequency: Double

    /// Computes at most `maxFrames` Hann-windowed frames of `windowSize` samples over `samples`
    /// (mono, −1…1), spaced evenly, through the FFTW plan DVSLearn's features use.
    /// - Parameters:
    ///   - samples: one channel's samples.
    ///   - sampleRate: Hz.
    ///   - windowSize: samples per FFT, a power of two (default 512).
    ///   - maxFrames: the most columns returned (at least 1).
    /// - Throws: `LearnError` (`.numerical`) when FFTW cannot plan the size.
    public init(samples: [Float], sampleRate: Int, windowSize: Int = 512, maxFrames: Int = 400) throws(LearnError) {
        let fft = try RealFFT.plan(size: windowSize)
        binCount = fft.binCount
        maxFrequency = Double(sampleRate) / 2
        let usable = max(0, samples.count - windowSize)
        let count = samples.count < windowSize ? (samples.isEmpty ? 0 : 1) : min(max(1, maxFrames), usable / max(1, windowSize / 4) + 1)
        let hop = count > 1 ? Double(usable) / Double(count - 1) : 0
        hopSeconds = sampleRate > 0 ? hop / Double(sampleRate) : 0
        let window = (0..<windowSize).map { Float(0.5 - 0.5 * cos(2 * Double.pi * Double($0) / Double(windowSize - 1))) }
        let workspace = fft.makeWorkspace()
        var power = [Float](repeating: 0, count: fft.binCount)
        var out: [[Float]] = []
        out.reserveCapacity(count)
        for f in 0..<count {
            let start = Int((Double(f) * hop).rounded())
            for i in 0..<windowSize {
                let j = start + i
                workspace.input[i] = j < samples.count ? samples[j] * window[i] : 0
            }
            power.withUnsafeMutableBufferPointer { fft.powerSpectrum(workspace, into: $0.baseAddress!) }
            out.append(power.map { 10 * log10(max($0, 1e-12)) })
        }
        frames = out
    }
}
