import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVSAudio

@Suite struct ProbeTests {
    /// Expected facts per fixture as libsndfile 1.2 reads it (the generated fixtures; see Tests/Fixtures/README.md).
    static let expected: [(String, String?, String?, Int, Int, Int)] = [
        ("pcm16_mono_16k.wav", "WAV", "PCM_16", 16000, 1, 1600),
        ("extensible_pcm24_stereo_48k.wav", "WAVEX", "PCM_24", 48000, 2, 2400),
        ("extensible_pcm24_in_32bit_container.wav", "WAVEX", "PCM_32", 16000, 1, 1600),
        ("float32_mono.wav", "WAV", "FLOAT", 16000, 1, 1600),
        ("float32_out_of_range.wav", "WAV", "FLOAT", 16000, 1, 1600),
        ("mulaw_8k_mono.wav", "WAV", "ULAW", 8000, 1, 800),
        ("alaw_8k_mono.wav", "WAV", "ALAW", 8000, 1, 800),
        ("mulaw_8k_no_fact_chunk.wav", "WAV", "ULAW", 8000, 1, 800),
        ("list_info_before_data.wav", "WAV", "PCM_16", 16000, 1, 1600),
        ("pcm_u8_odd_data_size.wav", "WAV", "PCM_U8", 8000, 1, 101),
        ("data_size_zero_streaming.wav", "WAV", "PCM_16", 16000, 1, 0),
        ("truncated_mid_sample.wav", "WAV", "PCM_16", 16000, 1, 1234),
        ("zero_bytes.wav", nil, nil, 0, 0, 0),
        ("header_only_no_samples.wav", "WAV", "PCM_16", 16000, 1, 0),
        ("very_short_10ms.wav", "WAV", "PCM_16", 16000, 1, 160),
        ("html_error_page_named_wav.wav", nil, nil, 0, 0, 0),
        ("junk_chunk_before_fmt.wav", "WAV", "PCM_16", 16000, 1, 1600),
        ("stereo_identical_channels.wav", "WAV", "PCM_16", 16000, 2, 1600),
        ("stereo_one_silent_channel.wav", "WAV", "PCM_16", 16000, 2, 1600),
        ("all_zero_samples.wav", "WAV", "PCM_16", 16000, 1, 1600),
        ("tone.flac", "FLAC", "PCM_16", 16000, 1, 1600),
        ("tone_vorbis.ogg", "OGG", "VORBIS", 16000, 1, 1600),
        ("tone_opus.opus", "OGG", "OPUS", 48000, 1, 4800),
        ("tone.mp3", "MPEG", "MPEG_LAYER_III", 16000, 1, 1600),
    ]

    @Test(arguments: ProbeTests.expected.map(\.0))
    func fixtureProbesAsLibsndfileReadsIt(name: String) throws {
        let row = Self.expected.first { $0.0 == name }!
        let bytes = try [UInt8](TestSupport.read(TestSupport.fixtures + "/audio_edge/" + name))
        let result = bytes.withUnsafeBytes { AudioProbe.probe($0) }
        if let container = row.1 {
            guard case .audio(let f, let warning) = result else {
                Issue.record("\(name) should decode: \(result)")
                return
            }
            #expect(
                f.container == container && f.encoding == row.2 && f.sampleRate == row.3 && f.channelCount == row.4 && f.frameCount == row.5
            )
            if name == "data_size_zero_streaming.wav" {
                #expect(warning?.contains("declares 0 bytes") == true)
            } else if name == "truncated_mid_sample.wav" {
                #expect(warning?.contains("truncated") == true)
            } else {
                #expect(warning == nil)
            }
        } else {
            guard case .notAudio(let reason) = result else {
                Issue.record("\(name) must not decode")
                return
            }
            #expect(!reason.isEmpty)
        }
    }

    @Test func textIsNotProbedAsAudio() {
        let csv = Array("path,lang\nclips/a.wav,en\n".utf8)
        #expect(!csv.withUnsafeBytes { AudioProbe.looksLikeAudio($0) })
        #expect(AudioProbe.isNamedLikeAudio(Array("X.WAV".utf8)))
        #expect(!AudioProbe.isNamedLikeAudio(Array("labels.csv".utf8)))
    }
}

@Suite struct PCM16TransformTests {
    func roundTrip(_ file: [UInt8]) throws -> [UInt8]? {
        try file.withUnsafeBytes { b -> [UInt8]? in
            guard let layout = RIFFLayout.parse(b), let payload = PCM16DeltaPlanes.forward(b, layout: layout) else { return nil }
            return try payload.withUnsafeBytes { try PCM16DeltaPlanes.inverse($0) }
        }
    }

    @Test func realSpeechRoundTripsByteExact() throws {
        try TestSupport.withTemporaryDirectory { dir in
            for (rate, ch) in [(16000, 1), (48000, 2), (8000, 1)] {
                let path = "\(dir)/s\(rate)_\(ch).wav"
                try TestSupport.speak("the quick brown fox jumps over the lazy dog", to: path, sampleRate: rate, channels: ch)
                let file = try [UInt8](TestSupport.read(path))
                #expect(try roundTrip(file) == file)
            }
        }
    }

    @Test func fixturesWithOddLayoutsRoundTrip() throws {
        for name in [
            "pcm16_mono_16k.wav", "list_info_before_data.wav", "truncated_mid_sample.wav", "junk_chunk_before_fmt.wav",
            "stereo_identical_channels.wav", "all_zero_samples.wav",
        ] {
            let file = try [UInt8](TestSupport.read(TestSupport.fixtures + "/audio_edge/" + name))
            #expect(try roundTrip(file) == file, "\(name)")
        }
        // Not 16-bit PCM: no transform.
        let mulaw = try [UInt8](TestSupport.read(TestSupport.fixtures + "/audio_edge/mulaw_8k_mono.wav"))
        #expect(try roundTrip(mulaw) == nil)
    }

    @Test func randomSamplesAndTrailingBytesRoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for ch in 1...3 {
            let frames = Int.random(in: 1...5000, using: &rng)
            var w = ByteWriter()
            let data = frames * 2 * ch
            w.write(Array("RIFF".utf8))
            w.write(u32: UInt32(36 + data + 3))
            w.write(Array("WAVEfmt ".utf8))
            w.write(u32: 16)
            for v: UInt16 in [1, UInt16(ch)] { w.write([UInt8(v & 0xFF), UInt8(v >> 8)]) }
            w.write(u32: 16000)
            w.write(u32: UInt32(16000 * 2 * ch))
            for v: UInt16 in [UInt16(2 * ch), 16] { w.write([UInt8(v & 0xFF), UInt8(v >> 8)]) }
            w.write(Array("data".utf8))
            w.write(u32: UInt32(data))
            w.write((0..<data).map { _ in UInt8.random(in: 0...255, using: &rng) })
            w.write([0xAB, 0xCD, 0xEF])  // trailing junk after the data chunk
            #expect(try roundTrip(w.bytes) == w.bytes)
        }
    }

    @Test func malformedPayloadThrows() {
        #expect(throws: FormatError.self) { try [UInt8](repeating: 0xFF, count: 40).withUnsafeBytes { try PCM16DeltaPlanes.inverse($0) } }
    }
}

@Suite struct PCM16PredictiveTests {
    func roundTrip(_ file: [UInt8], order: Int, decorrelate: Bool) throws -> [UInt8]? {
        try file.withUnsafeBytes { b -> [UInt8]? in
            guard let layout = RIFFLayout.parse(b),
                let payload = PCM16Predictive.forward(b, layout: layout, order: order, decorrelate: decorrelate)
            else { return nil }
            return try payload.withUnsafeBytes { try PCM16Predictive.inverse($0) }
        }
    }

    @Test func everyModeRoundTripsRealSpeechByteExact() throws {
        try TestSupport.withTemporaryDirectory { dir in
            for (rate, ch) in [(16000, 1), (48000, 2), (44100, 3)] {
                let path = "\(dir)/s\(rate)_\(ch).wav"
                try TestSupport.speak("she sells sea shells by the sea shore", to: path, sampleRate: rate, channels: ch)
                let file = try [UInt8](TestSupport.read(path))
                for order in [1, 2] {
                    for side in [false, true] {
                        #expect(
                            try roundTrip(file, order: order, decorrelate: side) == file, "\(rate) Hz \(ch) ch order \(order) side \(side)")
                    }
                }
            }
        }
    }

    @Test func extremeSamplesWrapAndRoundTrip() throws {
        // Full-scale square waves overflow 16-bit residuals; wrapping arithmetic must still invert.
        var w = ByteWriter()
        let frames = 1000
        let ch = 2
        let data = frames * 2 * ch
        w.write(Array("RIFF".utf8))
        w.write(u32: UInt32(36 + data))
        w.write(Array("WAVEfmt ".utf8))
        w.write(u32: 16)
        w.write([1, 0, 2, 0])
        w.write(u32: 48000)
        w.write(u32: 48000 * 4)
        w.write([4, 0, 16, 0])
        w.write(Array("data".utf8))
        w.write(u32: UInt32(data))
        for f in 0..<frames {
            let l: Int16 = f % 2 == 0 ? .max : .min
            let r: Int16 = f % 3 == 0 ? .min : .max
            for v in [l, r] { w.write([UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: UInt16(bitPattern: v) >> 8)]) }
        }
        for order in [1, 2] { for side in [false, true] { #expect(try roundTrip(w.bytes, order: order, decorrelate: side) == w.bytes) } }
    }

    @Test func monoInverseSolvedInFourRunsMatchesAcrossRunBoundaries() throws {
        // The mono inverse solves four runs side by side and then fixes each run's start (see
        // PCM16Predictive.decode). Full-scale noise with a slow ramp, at lengths around the
        // 4096-sample threshold and not multiples of 4, must round-trip byte for byte in both orders.
        for frames in [4095, 4096, 4097, 40_003] {
            var w = ByteWriter()
            let data = frames * 2
            w.write(Array("RIFF".utf8))
            w.write(u32: UInt32(36 + data))
            w.write(Array("WAVEfmt ".utf8))
            w.write(u32: 16)
            w.write([1, 0, 1, 0])
            w.write(u32: 16000)
            w.write(u32: 16000 * 2)
            w.write([2, 0, 16, 0])
            w.write(Array("data".utf8))
            w.write(u32: UInt32(data))
            var x: UInt32 = 12345
            for f in 0..<frames {
                x = x &* 1_664_525 &+ 1_013_904_223
                let v = Int16(truncatingIfNeeded: Int(x >> 16) &+ f &* 7)
                w.write([UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: UInt16(bitPattern: v) >> 8)])
            }
            for order in [1, 2] {
                #expect(try roundTrip(w.bytes, order: order, decorrelate: false) == w.bytes, "\(frames) frames, order \(order)")
            }
        }
    }

    @Test func stereoWithTheSameVoiceOnBothChannelsChoosesTheSideChannel() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try TestSupport.speak("the same voice on both channels", to: dir + "/m.wav", sampleRate: 48000)
            try TestSupport.sh("sox -R m.wav s.wav remix 1 1v0.9", in: dir)
            let file = try [UInt8](TestSupport.read(dir + "/s.wav"))
            let choice = file.withUnsafeBytes { b -> (Int, Bool) in
                let l = RIFFLayout.parse(b)!
                return PCM16Predictive.choose(
                    UnsafeRawBufferPointer(rebasing: b[l.dataOffset..<(l.dataOffset + l.availableDataSize)]), channelCount: 2)
            }
            #expect(choice.1, "side channel chosen for correlated stereo")
            #expect(choice.0 == 2, "48 kHz speech is smooth enough for the order-2 predictor")
        }
    }
}

@Suite struct AudioLevelsTests {
    /// The 16-bit path reads the data chunk in place; libsndfile's decoding (the path of every
    /// other format) is an independent reference for the same file.
    @Test func pcm16LevelsAreExactAndAgreeWithLibsndfile() throws {
        // Left: a ±16384 square wave (peak and RMS both 0.5). Right: silence with one sample at
        // −32768 (peak exactly 1; RMS 32768·√(1/n)). 70,001 frames cross the 2^16-frame runs.
        let frames = 70_001
        var samples: [Int32] = []
        for i in 0..<frames { samples += [i % 2 == 0 ? 16384 : -16384, i == 65_536 ? -32768 : 0] }
        let wav = makeWAV(tag: 1, channels: 2, bits: 16, data: pcmBytes(samples, bits: 16), trailer: [1, 2, 3])
        try wav.withUnsafeBytes { buf in
            let layout = try #require(RIFFLayout.parse(buf))
            let fast = AudioLevels.measure(buf, layout: layout, channelCount: 2)
            #expect(fast.peak == [0.5, 1])
            #expect(fast.rms[0] == 0.5)
            #expect(fast.rms[1] == Float((1 / Double(frames)).squareRoot()))
            let reference = AudioLevels.decoded(buf, channelCount: 2)
            #expect(reference.peak == fast.peak)
            for c in 0..<2 { #expect(abs(reference.rms[c] - fast.rms[c]) <= fast.rms[c] * 1e-6) }
        }
    }

    /// Real speech, mono: the in-place path and libsndfile agree.
    @Test func speechLevelsAgreeWithLibsndfile() throws {
        let wav = try TestSupport.withTemporaryDirectory { dir in
            try TestSupport.speak("levels of a spoken sentence", to: dir + "/s.wav", sampleRate: 16000, channels: 1)
            return try [UInt8](TestSupport.read(dir + "/s.wav"))
        }
        try wav.withUnsafeBytes { buf in
            let layout = try #require(RIFFLayout.parse(buf))
            let fast = AudioLevels.measure(buf, layout: layout, channelCount: 1)
            let reference = AudioLevels.decoded(buf, channelCount: 1)
            #expect(fast.peak[0] > 0.01)
            #expect(fast.peak == reference.peak)
            #expect(abs(reference.rms[0] - fast.rms[0]) <= fast.rms[0] * 1e-6)
        }
    }
}
