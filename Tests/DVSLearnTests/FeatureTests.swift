import DVSTestSupport
import Foundation
import Testing

@testable import DVSLearn

@Suite struct FeatureTests {
    /// Slaney's scale is linear below 1 kHz (15 mels at 1 kHz) and the two scales invert.
    @Test func melScalesMatchTheirDefinitions() {
        #expect(abs(MelScale.slaney.mel(hertz: 1000) - 15) < 1e-12)
        #expect(abs(MelScale.slaney.mel(hertz: 500) - 7.5) < 1e-12)
        #expect(abs(MelScale.slaney.mel(hertz: 6400) - 42) < 1e-9)  // 15 + 27 at a factor 6.4 above 1 kHz
        #expect(abs(MelScale.htk.mel(hertz: 700) - 2595 * log10(2)) < 1e-9)
        for f in [0.0, 120, 999, 1000, 3500, 8000] {
            #expect(abs(MelScale.slaney.hertz(mel: MelScale.slaney.mel(hertz: f)) - f) < 1e-6)
            #expect(abs(MelScale.htk.hertz(mel: MelScale.htk.mel(hertz: f)) - f) < 1e-6)
        }
    }

    /// A 1 kHz tone from sox puts its energy in the band whose filter peaks nearest 1 kHz.
    @Test func toneLandsInItsMelBand() throws {
        let pcm: [Float] = try TestSupport.withTemporaryDirectory { dir in
            try TestSupport.sh("sox -R -n -r 16000 -c 1 -e floating-point -b 32 -t raw '\(dir)/t.f32' synth 1 sine 1000 gain -6")
            return try TestSupport.read(dir + "/t.f32").withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        #expect(pcm.count == 16000)
        let x = try FeatureExtractor()
        #expect(x.windowCount(frameCount: pcm.count) == 98)  // 1 + (16000 − 400) / 160
        let logMel = x.logMelSpectrogram(pcm)
        #expect(logMel.count == 98 * 40)
        let means = x.features(pcm).prefix(40)
        let loudest = means.indices.max { means[$0] < means[$1] }!
        // Band centres on the Slaney scale from 0 to 8 kHz, 40 bands: centre b+1 of 41 steps.
        let centre = { (b: Int) in MelScale.slaney.hertz(mel: MelScale.slaney.mel(hertz: 8000) * Double(b + 1) / 41) }
        let nearest = (0..<40).min { abs(centre($0) - 1000) < abs(centre($1) - 1000) }!
        #expect(loudest == nearest)
        // A steady tone: over time, the loudest band barely varies.
        #expect(x.features(pcm)[40 + loudest] < 0.05)
    }

    /// Silence, a clip shorter than one window, an empty clip and non-finite input all give
    /// finite features of the right length.
    @Test func silenceAndShortClipsGiveFiniteFeatures() throws {
        let x = try FeatureExtractor()
        for clip in [
            [Float](repeating: 0, count: 16000), [Float](repeating: 0.3, count: 100), [], [Float.nan, .infinity, 0.5, -.infinity],
        ] {
            let f = x.features(clip)
            #expect(f.count == 106)
            #expect(f.allSatisfy { $0.isFinite })
        }
        #expect(x.windowCount(frameCount: 0) == 1)
        #expect(x.windowCount(frameCount: 399) == 1)
        let silent = x.features([Float](repeating: 0, count: 16000))
        #expect(silent.prefix(40).allSatisfy { abs($0 - log(Float(1e-10))) < 1e-4 })  // the log floor
        #expect(silent[40..<80].allSatisfy { $0 == 0 })  // no variation
    }

    /// Features of a recording do not depend on how many threads compute them at once.
    @Test func extractionIsThreadSafe() throws {
        let pcm = try RecordedAudio.samples("/usr/share/sounds/alsa/Front_Center.wav")
        let x = try FeatureExtractor()
        let reference = x.features(pcm)
        let box = Box(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { i in box.set(i, x.features(pcm)) }
        #expect(box.values.allSatisfy { $0 == reference })
    }

    @Test func inconsistentConfigurationsAreRejected() {
        #expect(throws: LearnError.self) { try FeatureExtractor(config: FeatureConfig(fftSize: 256)) }  // below the window
        #expect(throws: LearnError.self) { try FeatureExtractor(config: FeatureConfig(highFrequency: 9000)) }  // above Nyquist
        #expect(throws: LearnError.self) { try FeatureExtractor(config: FeatureConfig(melBandCount: 20, mfccCount: 30)) }
    }

    private final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [[Float]]
        init(count: Int) { values = Array(repeating: [], count: count) }
        func set(_ i: Int, _ v: [Float]) { lock.withLock { values[i] = v } }
    }
}
