import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVSAudio

/// A RIFF/WAVE file around `data`: `tag` 1 (PCM), 6 (A-law) or 7 (μ-law), with `trailer` bytes
/// after the data chunk (a LIST chunk, or a partial frame when `declaredExtra` counts them in).
func makeWAV(tag: UInt16, channels: Int, bits: Int, rate: Int = 16000, data: [UInt8], trailer: [UInt8] = [], declaredExtra: Int = 0)
    -> [UInt8]
{
    var w = ByteWriter()
    let blockAlign = channels * bits / 8
    w.write(Array("RIFF".utf8))
    w.write(u32: UInt32(36 + data.count + declaredExtra + trailer.count))
    w.write(Array("WAVEfmt ".utf8))
    w.write(u32: 16)
    w.write([UInt8(tag & 0xFF), UInt8(tag >> 8), UInt8(channels), 0])
    w.write(u32: UInt32(rate))
    w.write(u32: UInt32(rate * blockAlign))
    w.write([UInt8(blockAlign), 0, UInt8(bits), 0])
    w.write(Array("data".utf8))
    w.write(u32: UInt32(data.count + declaredExtra))
    w.write(data)
    w.write(trailer)
    return w.bytes
}

/// Interleaved samples as little-endian bytes of `bits` (16 or 24).
func pcmBytes(_ samples: [Int32], bits: Int) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(samples.count * bits / 8)
    for s in samples {
        let v = UInt32(bitPattern: s)
        out.append(UInt8(truncatingIfNeeded: v))
        out.append(UInt8(truncatingIfNeeded: v >> 8))
        if bits == 24 { out.append(UInt8(truncatingIfNeeded: v >> 16)) }
    }
    return out
}

@Suite struct G711Tests {
    @Test func tablesFollowG711() {
        // G.711 Table 2 (μ-law): code 0x80 is the largest positive value, 0x00 the most
        // negative, 0xFF and 0x7F are the two zeros; Table 1 (A-law): 0xD5 and 0x55 are ±8,
        // 0xAA and 0x2A ±32256 on the 16-bit scale.
        let mu = G711Law.muLaw
        #expect(mu.linear[0x80] == 32124 && mu.linear[0x00] == -32124)
        #expect(mu.linear[0xFF] == 0 && mu.linear[0x7F] == 0)
        #expect(mu.linear[0xFE] == 8 && mu.linear[0x7E] == -8)
        let a = G711Law.aLaw
        #expect(a.linear[0xD5] == 8 && a.linear[0x55] == -8)
        #expect(a.linear[0xAA] == 32256 && a.linear[0x2A] == -32256)
        #expect(a.linear[0xD4] == 24)
    }

    @Test(arguments: [G711Law.muLaw, G711Law.aLaw].indices) func ranksAreABijection(_ which: Int) {
        let law = [G711Law.muLaw, G711Law.aLaw][which]
        #expect(Set(law.rankOfCode).count == 256)
        for c in 0..<256 { #expect(Int(law.codeOfRank[Int(law.rankOfCode[c])]) == c) }
        for r in 1..<256 { #expect(law.linearOfRank[r - 1] <= law.linearOfRank[r]) }
        // The nearest rank of each code's own value is that value's rank (the lower of μ-law's zeros aside).
        for c in 0..<256 where law.linear[c] != 0 {
            #expect(law.nearestRank[Int(law.linear[c]) + 32768] == law.rankOfCode[c])
        }
    }
}

@Suite struct LPCAudioTests {
    func roundTrip(_ file: [UInt8]) throws -> (back: [UInt8], payload: [UInt8])? {
        try file.withUnsafeBytes { b -> ([UInt8], [UInt8])? in
            guard let layout = RIFFLayout.parse(b), let payload = LPCAudio.encode(b, layout: layout) else { return nil }
            return (try payload.withUnsafeBytes { try LPCAudio.decode($0) }, payload)
        }
    }

    func expectRoundTrip(_ file: [UInt8], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try roundTrip(file)
        #expect(r != nil, "\(what): transform applies", sourceLocation: sourceLocation)
        #expect(r?.back == file, "\(what): byte-exact", sourceLocation: sourceLocation)
    }

    /// The pinned encoding of a fixed input: a change of bitstream must come with a new codec id.
    @Test func fixedVectorsEncodeAndDecodeAsPinned() throws {
        // 40 frames of 16-bit stereo: a slow integer ramp on the left, its negative plus a
        // pattern on the right, and a 2-byte trailer (a partial frame kept as it is).
        var samples: [Int32] = []
        for i in 0..<40 {
            let l = Int32(i * i * 7 - 300)
            samples += [l, -l + Int32(i % 5)]
        }
        let pcm = makeWAV(tag: 1, channels: 2, bits: 16, data: pcmBytes(samples, bits: 16), trailer: [0xAB, 0xCD], declaredExtra: 2)
        let muData = (0..<50).map { UInt8(truncatingIfNeeded: 0xE0 &+ ($0 * 37 % 23)) }
        let mu = makeWAV(tag: 7, channels: 1, bits: 8, rate: 8000, data: muData)
        for (file, pinned) in [(pcm, Self.pinnedPCM), (mu, Self.pinnedMuLaw)] {
            let payload = file.withUnsafeBytes { LPCAudio.encode($0, layout: RIFFLayout.parse($0)!) }
            #expect(payload.map(hex) == pinned)
            let pinnedBytes = bytes(hex: pinned)
            #expect(try pinnedBytes.withUnsafeBytes { try LPCAudio.decode($0) } == file)
        }
        #expect(try bytes(hex: Self.pinnedPCMEarlier).withUnsafeBytes { try LPCAudio.decode($0) } == pcm)
    }

    static let pinnedPCM =
        "2c00000001000200000400002800000000000000650000000000000052494646c800000057415645666d74201000000001000200803e000000fa00000400100064617461a20000002007ab5876af01bbbfb53fb6ffbc04b455761a71d7c8922858c1a387840644484c5054585c62666a70747a7e221209c522c17a007ab5866af81ba804b004980448495bab46535caf4d95322ef8e8c8e992f9a8a6a8afa4b3b1b3bbafbfbdbf93de4b2552d8abcd"
    /// What an earlier encoder (stereo mode from four full LPC analyses) wrote for the same
    /// input: the format is the same, so it must keep decoding.
    static let pinnedPCMEarlier =
        "2c00000001000200000400002800000000000000480000000000000052494646c800000057415645666d74201000000001000200803e000000fa00000400100064617461a2000000e00000c90e487243921c90e487243921801ead61babd06ecfed47f6d7fbbc269d5324ee1bba2270505056685476767e3a43f13c9e542e950ca66351d0d67d3f086268882b0ae2e80abcd"
    static let pinnedMuLaw =
        "2c000000030001000002000032000000000000002a00000000000000524946465600000057415645666d74201000000007000100401f0000401f000001000800646174613200000081d6aeca3e04fb48b0d7da45863ed26c31f69361845a6bed22c35f691618fb49b0c7da4d861169afb488"

    @Test func realSpeechRoundTripsInEveryFormat() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let cases: [(rate: Int, ch: Int, encoding: String, bits: Int)] = [
                (8000, 1, "mu-law", 8), (8000, 2, "mu-law", 8), (8000, 1, "a-law", 8), (8000, 2, "a-law", 8),
                (16000, 1, "signed-integer", 16), (48000, 2, "signed-integer", 16), (44100, 2, "signed-integer", 24),
                (22050, 3, "signed-integer", 16), (16000, 1, "signed-integer", 24),
            ]
            for c in cases {
                let path = "\(dir)/s\(c.rate)_\(c.ch)_\(c.encoding)_\(c.bits).wav"
                try TestSupport.speak(
                    "she sells sea shells by the sea shore", to: path, sampleRate: c.rate, channels: c.ch, encoding: c.encoding,
                    bits: c.bits)
                let file = try [UInt8](TestSupport.read(path))
                let r = try roundTrip(file)
                #expect(r?.back == file, "\(c)")
                // sox dithers what it resamples, so even synthetic speech carries a noise floor;
                // still well under what zstd reaches on such files (≈ 0.83 PCM, 0.90 G.711).
                let limit = c.bits == 8 ? 0.82 : 0.72
                if let r { #expect(Double(r.payload.count) < limit * Double(file.count), "\(c): \(r.payload.count) of \(file.count)") }
            }
        }
    }

    @Test func debianRecordingsRoundTrip() throws {
        let recordings = TestSupport.debianRecordings().filter { $0.hasSuffix(".wav") }
        for path in recordings {
            let file = try [UInt8](TestSupport.read(path))
            guard file.withUnsafeBytes({ RIFFLayout.parse($0).flatMap(LPCAudio.sampleFormat(of:)) }) != nil else { continue }
            try expectRoundTrip(file, path)
        }
        // Companded versions of the same recordings (sox writes G.711 at 8 kHz).
        try TestSupport.withTemporaryDirectory { dir in
            for (i, path) in recordings.prefix(3).enumerated() {
                for encoding in ["mu-law", "a-law"] {
                    let out = "\(dir)/\(i)_\(encoding).wav"
                    try TestSupport.sh("sox -R '\(path)' -r 8000 -e \(encoding) -b 8 '\(out)'")
                    try expectRoundTrip(try [UInt8](TestSupport.read(out)), "\(path) as \(encoding)")
                }
            }
        }
    }

    @Test func syntheticSignalsRoundTrip() throws {
        var rng = SeededGenerator(seed: 14)
        func pcm(_ frames: Int, _ ch: Int, bits: Int = 16, _ f: (Int, Int) -> Int32) -> [UInt8] {
            var s: [Int32] = []
            for i in 0..<frames { for c in 0..<ch { s.append(f(i, c)) } }
            return makeWAV(tag: 1, channels: ch, bits: bits, data: pcmBytes(s, bits: bits))
        }
        let noise16 = (0..<20_000).map { _ in Int32(Int16(truncatingIfNeeded: rng.next())) }
        let noise24 = (0..<20_000).map { _ in Int32(truncatingIfNeeded: rng.next() << 40) >> 8 }
        var cases: [(String, [UInt8])] = [
            ("silence", pcm(10_000, 1) { _, _ in 0 }),
            ("stereo silence", pcm(10_000, 2) { _, _ in 0 }),
            ("DC offset", pcm(9_000, 1) { _, _ in -1234 }),
            ("DC offset with a step", pcm(9_000, 2) { i, c in i < 5000 ? 700 : Int32(-700 + c) }),
            ("full-scale noise", pcm(10_000, 2) { i, c in noise16[(2 * i + c) % noise16.count] }),
            ("24-bit full-scale noise", pcm(6_000, 2, bits: 24) { i, c in noise24[(2 * i + c) % noise24.count] }),
            ("clipping square", pcm(9_001, 2) { i, c in (i / (3 + c)) % 2 == 0 ? 32767 : -32768 }),
            ("24-bit clipping", pcm(5_000, 1, bits: 24) { i, _ in i % 7 < 3 ? 8_388_607 : -8_388_608 }),
            ("clipped sine", pcm(12_000, 1) { i, _ in Int32(max(-32768, min(32767, 60000 * sin(Double(i) * 0.01)))) }),
            ("identical channels", pcm(8_192, 2) { i, _ in Int32(9000 * sin(Double(i) * 0.02)) }),
            ("opposite channels", pcm(8_192, 2) { i, c in Int32((c == 0 ? 1 : -1) * 9000 * sin(Double(i) * 0.02)) }),
            ("four channels", pcm(5_000, 4) { i, c in Int32(3000 * sin(Double(i) * 0.01 * Double(c + 1))) }),
        ]
        for frames in [1, 2, 3, 13, 33, 4095, 4096, 4097, 8193] {
            cases.append(("\(frames) frames", pcm(frames, 2) { i, c in Int32((i * 31 + c * 7) % 2000) - 1000 }))
            cases.append(("\(frames) frames mono", pcm(frames, 1) { i, _ in noise16[i % noise16.count] / 64 }))
        }
        // A last frame cut short, and a LIST chunk after the data: kept byte-exact.
        let cut = pcmBytes((0..<2_001).map { Int32($0 % 300) }, bits: 16)
        cases.append(("truncated last frame", makeWAV(tag: 1, channels: 2, bits: 16, data: Array(cut.prefix(cut.count - 2)))))
        cases.append(
            ("trailing chunk", makeWAV(tag: 1, channels: 1, bits: 16, data: cut, trailer: Array("LIST\u{4}\0\0\0INFO".utf8))))
        // G.711: every code, random codes, a constant code, two channels.
        let randomCodes = (0..<12_345).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        for tag: UInt16 in [6, 7] {
            cases.append(
                ("G.711 \(tag) every code", makeWAV(tag: tag, channels: 1, bits: 8, rate: 8000, data: (0..<4096).map { UInt8($0 % 256) })))
            cases.append(("G.711 \(tag) random", makeWAV(tag: tag, channels: 2, bits: 8, rate: 8000, data: randomCodes)))
            cases.append(
                ("G.711 \(tag) constant", makeWAV(tag: tag, channels: 1, bits: 8, rate: 8000, data: [UInt8](repeating: 0x7F, count: 5000))))
            cases.append(
                ("G.711 \(tag) odd size", makeWAV(tag: tag, channels: 2, bits: 8, rate: 8000, data: Array(randomCodes.prefix(4097)))))
        }
        for (name, file) in cases { try expectRoundTrip(file, name) }
    }

    @Test func formatsItDoesNotCodeAreLeftAlone() throws {
        let float = makeWAV(tag: 3, channels: 1, bits: 32, data: [UInt8](repeating: 0, count: 400))
        let u8 = makeWAV(tag: 1, channels: 1, bits: 8, data: [UInt8](repeating: 128, count: 400))
        let empty = makeWAV(tag: 1, channels: 1, bits: 16, data: [])
        for file in [float, u8, empty] { #expect(try roundTrip(file) == nil) }
    }

    @Test func damagedPayloadsThrowOrDifferButNeverCrash() throws {
        var samples: [Int32] = []
        for i in 0..<9000 { samples.append(Int32(8000 * sin(Double(i) * 0.03)) + Int32(i % 17)) }
        let file = makeWAV(tag: 1, channels: 2, bits: 16, data: pcmBytes(samples, bits: 16))
        let payload = try #require(try roundTrip(file)?.payload)
        for cut in [0, 5, 27, 28, 100, payload.count / 2, payload.count - 1] {
            #expect(throws: FormatError.self) { try Array(payload.prefix(cut)).withUnsafeBytes { try LPCAudio.decode($0) } }
        }
        var rng = SeededGenerator(seed: 7)
        var rejected = 0
        for _ in 0..<300 {
            var bad = payload
            for _ in 0..<3 { bad[Int(rng.next() % UInt64(bad.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            do {
                let back = try bad.withUnsafeBytes { try LPCAudio.decode($0) }
                #expect(back.count <= file.count + 64 || bad[0..<28] != payload[0..<28])
            } catch { rejected += 1 }
        }
        #expect(rejected > 0, "some damage is detected by the decoder itself (the rest by the blob's SHA-256)")
    }

    @Test func muLawSpeechWithNoiseCompressesBelowThreeQuarters() throws {
        // The corpus's μ-law clips: speech over a low noise floor, 8 kHz.
        try TestSupport.withTemporaryDirectory { dir in
            try TestSupport.speak("the quick brown fox jumps over the lazy dog", to: dir + "/s.wav", sampleRate: 8000)
            try TestSupport.sh("sox -R s.wav -p synth whitenoise vol 0.005 | sox -R -m s.wav - -e mu-law -b 8 m.wav", in: dir)
            let file = try [UInt8](TestSupport.read(dir + "/m.wav"))
            let r = try #require(try roundTrip(file))
            #expect(r.back == file)
            #expect(Double(r.payload.count) <= 0.75 * Double(file.count), "\(r.payload.count) of \(file.count)")
        }
    }
}

private func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// The decoder rebuilds each sample as it reads the residual for orders 1–12 (three unrolled
/// predictors, zero-padded to 4, 8 and 12; PCM and G.711) and predicts after reading for higher
/// orders; every order must rebuild the samples the residuals were computed from with RFC 9639's
/// arithmetic (for G.711, `LPCAudio`'s rank coding).
@Suite struct LPCPredictorOrderTests {
    /// Appends a predicted subframe: `coefficients` and `shift`, `warmUp` the first
    /// `coefficients.count` samples (G.711: ranks − 128), `residuals` in four partitions with
    /// the Rice parameters `ks`.
    static func subframe(
        _ w: inout BitWriter, format: LPCAudio.SampleFormat, coefficients: [Int32], shift: Int, warmUp: [Int32], residuals: [UInt32],
        ks: [Int]
    ) {
        let frames = warmUp.count + residuals.count
        w.put(2, 2)  // predicted
        if format == .pcm16 { w.put(0, 5) }  // no wasted bits (G.711 has no such field)
        w.put(UInt64(coefficients.count), 6)
        w.put(UInt64(15 - 1), 4)  // precision 15
        w.put(UInt64(shift), 5)
        for c in coefficients { w.putSigned(c, 15) }
        for x in warmUp { w.putSigned(x, format == .pcm16 ? 16 : 8) }
        w.put(2, 4)  // 4 partitions
        let len = frames / 4
        for p in 0..<4 {
            let lo = p == 0 ? warmUp.count : p * len
            let hi = p == 3 ? frames : (p + 1) * len
            w.put(UInt64(ks[p]), 5)
            for i in lo..<hi { w.putRice(residuals[i - warmUp.count], ks[p]) }
        }
    }

    /// A one-block payload (no container bytes) around `bits`, the block's subframes.
    static func payload(format: LPCAudio.SampleFormat, channels: UInt8, frames: Int, bits: [UInt8]) -> [UInt8] {
        var out = ByteWriter()
        out.write(u32: 0)
        out.write([format.rawValue, 0, channels, 0])
        out.write(u32: 4096)
        out.write(u64: UInt64(frames))
        out.write(u64: UInt64(bits.count))
        out.write(bits)
        return out.bytes
    }

    /// A one-block, one-channel payload of one such subframe.
    static func payload(
        format: LPCAudio.SampleFormat = .pcm16, coefficients: [Int32], shift: Int, warmUp: [Int32], residuals: [UInt32], ks: [Int]
    ) -> [UInt8] {
        var w = BitWriter(byteCapacity: 64)
        subframe(&w, format: format, coefficients: coefficients, shift: shift, warmUp: warmUp, residuals: residuals, ks: ks)
        return payload(format: format, channels: 1, frames: warmUp.count + residuals.count, bits: w.finish())
    }

    /// G.711 ranks of a slow tone and noise, and the residuals that code them with
    /// `coefficients` and `shift` as `LPCAudio` does (prediction on the linear values, clamped
    /// to 16 bits only after the shift, then the rank nearest it).
    static func g711(_ law: G711Law, frames: Int, coefficients: [Int32], shift: Int, seed: UInt64) -> (ranks: [Int32], residuals: [UInt32])
    {
        var rng = SeededGenerator(seed: seed)
        let ranks: [Int32] = (0..<frames).map { i in
            let t = Double(i)
            let v = Int(20000 * sin(t * 0.05) + 6000 * sin(t * 0.23) + Double(Int.random(in: -500...500, using: &rng)))
            return Int32(law.nearestRank[max(-32768, min(32767, v)) + 32768])
        }
        let order = coefficients.count
        var residuals: [UInt32] = []
        for i in order..<frames {
            var sum: Int64 = 0
            for j in 0..<order { sum += Int64(coefficients[j]) * Int64(law.linearOfRank[Int(ranks[i - 1 - j])]) }
            let p = min(32767, max(-32768, sum >> Int64(shift)))
            let r = ranks[i] - Int32(law.nearestRank[Int(p) + 32768])
            residuals.append(UInt32(bitPattern: (r << 1) ^ (r >> 31)))
        }
        return (ranks, residuals)
    }

    @Test(arguments: Array(1...16)) func everyOrderRebuildsItsSamples(_ order: Int) throws {
        var rng = SeededGenerator(seed: UInt64(700 + order))
        let frames = 1024
        // Two tones and noise, well inside 16 bits.
        let samples: [Int32] = (0..<frames).map { i in
            let t = Double(i)
            return Int32(9000 * sin(t * 0.07) + 4000 * sin(t * 0.31 + 1) + Double(Int.random(in: -300...300, using: &rng)))
        }
        // Coefficients as an encoder might quantise them (shift 12; they need not predict well).
        let shift = 12
        let coefficients: [Int32] = (0..<order).map { j in
            Int32((j == 0 ? 6000 : j == 1 ? -2500 : 0) + Int.random(in: -400...400, using: &rng))
        }
        var residuals: [UInt32] = []
        for i in order..<frames {
            var sum: Int64 = 0
            for j in 0..<order { sum += Int64(coefficients[j]) * Int64(samples[i - 1 - j]) }
            let r = samples[i] &- Int32(truncatingIfNeeded: sum >> Int64(shift))
            residuals.append(UInt32(bitPattern: (r << 1) ^ (r >> 31)))
        }
        let payload = Self.payload(
            coefficients: coefficients, shift: shift, warmUp: Array(samples[..<order]), residuals: residuals, ks: [9, 11, 0, 14])
        let back = try payload.withUnsafeBytes { try LPCAudio.decode($0) }
        let expected = pcmBytes(samples, bits: 16)
        // The first sample that differs, not 2 KiB of bytes.
        let firstDifference = (0..<min(back.count, expected.count)).first { back[$0] != expected[$0] }.map { $0 / 2 }
        #expect(back.count == expected.count)
        #expect(firstDifference == nil, "order \(order): sample \(firstDifference ?? 0) differs")
    }

    /// The same for μ-law: prediction on the linear values, residuals as rank differences from
    /// the rank nearest the prediction (clamped to 16 bits), as `LPCAudio` codes G.711.
    @Test(arguments: Array(1...16)) func everyOrderRebuildsMuLaw(_ order: Int) throws {
        let law = G711Law.muLaw
        var rng = SeededGenerator(seed: UInt64(900 + order))
        let frames = 1024
        let shift = 12
        let coefficients: [Int32] = (0..<order).map { j in
            Int32((j == 0 ? 7000 : j == 1 ? -3000 : 0) + Int.random(in: -400...400, using: &rng))
        }
        let (ranks, residuals) = Self.g711(law, frames: frames, coefficients: coefficients, shift: shift, seed: UInt64(900 + order))
        let payload = Self.payload(
            format: .muLaw, coefficients: coefficients, shift: shift, warmUp: ranks[..<order].map { $0 - 128 }, residuals: residuals,
            ks: [3, 5, 0, 9])
        let back = try payload.withUnsafeBytes { try LPCAudio.decode($0) }
        let expected = ranks.map { law.codeOfRank[Int($0)] }
        #expect(back.count == expected.count)
        let firstDifference = (0..<min(back.count, expected.count)).first { back[$0] != expected[$0] }
        #expect(firstDifference == nil, "order \(order): sample \(firstDifference ?? 0) differs")
    }

    /// Two-channel A-law, each channel its own order; on the first, coefficients and shift 0
    /// that put predictions far past 32 bits (±6·10⁹), which must be clamped to 16 bits before
    /// anything truncates them (truncating first wraps them back into range).
    @Test func twoChannelALawClampsPredictionsPast32Bits() throws {
        let law = G711Law.aLaw
        let frames = 1000
        let loud: [Int32] = Array(repeating: 16000, count: 12)
        let quiet: [Int32] = [7100, -3050, 120]
        let a = Self.g711(law, frames: frames, coefficients: loud, shift: 0, seed: 61)
        let b = Self.g711(law, frames: frames, coefficients: quiet, shift: 12, seed: 62)
        var w = BitWriter(byteCapacity: 64)
        Self.subframe(
            &w, format: .aLaw, coefficients: loud, shift: 0, warmUp: a.ranks[..<12].map { $0 - 128 }, residuals: a.residuals,
            ks: [4, 6, 2, 30])
        Self.subframe(
            &w, format: .aLaw, coefficients: quiet, shift: 12, warmUp: b.ranks[..<3].map { $0 - 128 }, residuals: b.residuals,
            ks: [3, 0, 5, 7])
        let payload = Self.payload(format: .aLaw, channels: 2, frames: frames, bits: w.finish())
        let back = try payload.withUnsafeBytes { try LPCAudio.decode($0) }
        var expected: [UInt8] = []
        for i in 0..<frames { expected += [law.codeOfRank[Int(a.ranks[i])], law.codeOfRank[Int(b.ranks[i])]] }
        #expect(back.count == expected.count)
        let firstDifference = (0..<min(back.count, expected.count)).first { back[$0] != expected[$0] }
        #expect(firstDifference == nil, "byte \(firstDifference ?? 0) differs")
    }
}

/// Codecs 1 and 2 are no longer written where codec 4 applies, but every blob they wrote must
/// still decode: pinned payloads, made by the writers of those versions, decode to their input.
@Suite struct OldCodecVectorTests {
    static func input() -> [UInt8] {
        var samples: [Int32] = []
        for i in 0..<12 { samples += [Int32(i * 300 - 1000), Int32(-i * 250 + 7)] }
        return makeWAV(tag: 1, channels: 2, bits: 16, data: pcmBytes(samples, bits: 16))
    }

    @Test func codec2PayloadDecodes() throws {
        let file = Self.input()
        let payload = file.withUnsafeBytes { PCM16Predictive.forward($0, layout: RIFFLayout.parse($0)!, order: 2, decorrelate: true)! }
        #expect(hex(payload) == Self.pinnedCodec2)
        #expect(try bytes(hex: Self.pinnedCodec2).withUnsafeBytes { try PCM16Predictive.inverse($0) } == file)
    }

    @Test func codec1PayloadDecodes() throws {
        let file = Self.input()
        let payload = file.withUnsafeBytes { PCM16DeltaPlanes.forward($0, layout: RIFFLayout.parse($0)!)! }
        #expect(hex(payload) == Self.pinnedCodec1)
        #expect(try bytes(hex: Self.pinnedCodec1).withUnsafeBytes { try PCM16DeltaPlanes.inverse($0) } == file)
    }

    static let pinnedCodec2 =
        "2c0000000200000030000000000000000201524946465400000057415645666d74201000000001000200803e000000fa0000040010006461746130000000cfde2829000000000000000000000000000000000000000007070a0c0000000000000000000000000000000000000000"
    static let pinnedCodec1 =
        "2c000000020000003000000000000000524946465400000057415645666d74201000000001000200803e000000fa0000040010006461746130000000cf0e58f358f358f358f358f358f358f358f358f358f358f3070002010201020102010201020102010201020102010201"
}

@Suite struct BitIOTests {
    /// Fields of every width and Rice runs with every parameter, including codes longer than 32
    /// bits (an outlier in a quiet partition) and runs long enough to make the writer grow, read
    /// back exactly in order.
    @Test func fieldsAndRiceRunsReadBackExactly() throws {
        var rng = SeededGenerator(seed: 14)
        var w = BitWriter(byteCapacity: 1)
        var expected: [(kind: Int, width: Int, values: [UInt32])] = []
        for _ in 0..<400 {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let n = Int.random(in: 0...32, using: &rng)
                let v = n == 0 ? 0 : UInt32.random(in: 0...UInt32.max, using: &rng) >> (32 - n)
                w.put(UInt64(v), n)
                expected.append((0, n, [v]))
            case 1:
                let n = Int.random(in: 1...32, using: &rng)
                let v = Int32(truncatingIfNeeded: Int64.random(in: -(1 << (n - 1))...((1 << (n - 1)) - 1), using: &rng))
                w.putSigned(v, n)
                expected.append((1, n, [UInt32(bitPattern: v)]))
            default:
                let k = Int.random(in: 0...30, using: &rng)
                let count = Int.random(in: 1...300, using: &rng)
                var values: [UInt32] = (0..<count).map { _ in UInt32.random(in: 0..<(UInt32(1) << min(31, k + 3)), using: &rng) }
                if Bool.random(using: &rng) {
                    // An outlier: up to 2^12 zeros before its one.
                    values[Int.random(in: 0..<count, using: &rng)] = UInt32.random(in: 0..<(UInt32(1) << min(31, k + 12)), using: &rng)
                }
                values.withUnsafeBufferPointer { w.putRiceRun($0.baseAddress!, count: count, k: k) }
                expected.append((2, k, values))
            }
        }
        let bitCount = w.bitCount
        let bytes = w.finish()
        #expect(bytes.count == (bitCount + 7) / 8)
        let padded = bytes + [UInt8](repeating: 0, count: BitReader.padding)
        try padded.withUnsafeBufferPointer { p in
            var r = BitReader(p.baseAddress!, byteCount: bytes.count)
            for e in expected {
                switch e.kind {
                case 0: #expect(try r.read(e.width) == UInt64(e.values[0]))
                case 1: #expect(try r.readSigned(e.width) == Int32(bitPattern: e.values[0]))
                default:
                    var out = [Int32](repeating: 0, count: e.values.count)
                    try out.withUnsafeMutableBufferPointer { try r.readRiceRun(e.width, into: $0.baseAddress!, count: e.values.count) }
                    // The reader undoes the zigzag mapping the encoder applies before coding.
                    #expect(out == e.values.map { Int32(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) })
                }
            }
            #expect(r.position == bitCount)
        }
    }
}

extension BitIOTests {
    /// Codes longer than 32 bits (k = 0: 40, 70 and 200 zeros before the one), which take the
    /// writer's escape path and the reader's run of more than 57 zeros, between ordinary ones.
    @Test func longRiceCodesReadBackExactly() throws {
        var w = BitWriter(byteCapacity: 4)
        let values: [UInt32] = [3, 40, 1, 70, 0, 200, 5]
        values.withUnsafeBufferPointer { w.putRiceRun($0.baseAddress!, count: values.count, k: 0) }
        w.putRice(200, 0)
        w.put(0b101, 3)
        let bits = w.bitCount
        #expect(bits == values.reduce(0) { $0 + Int($1) + 1 } + 201 + 3)
        let bytes = w.finish() + [UInt8](repeating: 0, count: BitReader.padding)
        try bytes.withUnsafeBufferPointer { p in
            var r = BitReader(p.baseAddress!, byteCount: bytes.count - BitReader.padding)
            var out = [Int32](repeating: 0, count: values.count)
            try out.withUnsafeMutableBufferPointer { try r.readRiceRun(0, into: $0.baseAddress!, count: values.count) }
            #expect(out == values.map { Int32(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) })
            #expect(try r.readRiceSigned(0) == 100)
            #expect(try r.read(3) == 0b101)
            #expect(r.position == bits)
        }
    }

    /// With the padding right before an unmapped page, no read goes past it: Rice runs of every
    /// parameter, whole (they decode exactly), cut short (they throw) and of random bytes, with
    /// the plain reads after them. A load past the padding would kill the test process.
    @Test func noReadGoesPastThePadding() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let mapped = mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        let area = try #require(mapped == MAP_FAILED ? nil : mapped)
        defer { munmap(area, 2 * page) }
        try #require(mprotect(area + page, page, PROT_NONE) == 0)
        var rng = SeededGenerator(seed: 41)
        var wholeRunsDecoded = 0
        var cutRunsThrew = 0
        for trial in 0..<3000 {
            let k = Int.random(in: 0...30, using: &rng)
            let count = Int.random(in: 1...48, using: &rng)
            let values: [UInt32] = (0..<count).map { _ in
                // Now and then a value whose code is 40–63 bits (or longer) at this k.
                let long = Int.random(in: 0..<8, using: &rng) == 0
                let q = long ? UInt32.random(in: 40...70, using: &rng) : UInt32.random(in: 0...3, using: &rng)
                return q << UInt32(k) | (k == 0 ? 0 : UInt32.random(in: 0...UInt32.max, using: &rng) >> UInt32(32 - k))
            }
            var data: [UInt8]
            if trial % 3 == 2 {
                data = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                var w = BitWriter(byteCapacity: 16)
                values.withUnsafeBufferPointer { w.putRiceRun($0.baseAddress!, count: count, k: k) }
                data = w.finish()
                if trial % 3 == 1 { data = Array(data[..<Int.random(in: 0..<data.count, using: &rng)]) }
            }
            // The data, then the padding, ending where the unmapped page begins.
            let start = area + page - BitReader.padding - data.count
            data.withUnsafeBytes { start.copyMemory(from: $0.baseAddress!, byteCount: data.count) }
            (start + data.count).initializeMemory(as: UInt8.self, repeating: 0, count: BitReader.padding)
            var r = BitReader(start.assumingMemoryBound(to: UInt8.self), byteCount: data.count)
            var out = [Int32](repeating: 0, count: count)
            let decoded = (try? out.withUnsafeMutableBufferPointer { try r.readRiceRun(k, into: $0.baseAddress!, count: count) }) != nil
            switch trial % 3 {
            case 0: if decoded && out == values.map({ Int32(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) }) { wholeRunsDecoded += 1 }
            case 1: if !decoded { cutRunsThrew += 1 }
            default: break
            }
            // Then the other reads, each while the last one succeeded (a reader that has thrown
            // is not used again: its position may be past the padding).
            if decoded, (try? r.readRiceSigned(k)) != nil, (try? r.read(56)) != nil { _ = try? r.readSigned(32) }
        }
        #expect(wholeRunsDecoded == 1000, "whole runs that decoded exactly")
        #expect(cutRunsThrew == 1000, "cut runs that threw")
    }

    /// A Rice run cut short at every byte throws, never reading past the zero padding, and
    /// agrees with the one-value reader on where the data ends.
    @Test func aRiceRunCutAtEveryByteThrows() throws {
        var rng = SeededGenerator(seed: 32)
        for k in [0, 3, 11, 30] {
            let values: [UInt32] = (0..<64).map { _ in UInt32.random(in: 0..<(UInt32(1) << min(31, k + 2)), using: &rng) }
            var w = BitWriter(byteCapacity: 16)
            values.withUnsafeBufferPointer { w.putRiceRun($0.baseAddress!, count: values.count, k: k) }
            let whole = w.finish()
            for cut in 0..<whole.count {
                // The bytes that remain; the code that crosses the cut may still decode from the zeros.
                let bytes = Array(whole[..<cut]) + [UInt8](repeating: 0, count: BitReader.padding)
                let runThrew = bytes.withUnsafeBufferPointer { p -> Bool in
                    var r = BitReader(p.baseAddress!, byteCount: cut)
                    var out = [Int32](repeating: 0, count: values.count)
                    return (try? out.withUnsafeMutableBufferPointer { try r.readRiceRun(k, into: $0.baseAddress!, count: values.count) })
                        == nil
                }
                let oneByOneThrew = bytes.withUnsafeBufferPointer { p -> Bool in
                    var r = BitReader(p.baseAddress!, byteCount: cut)
                    for _ in values { if (try? r.readRiceSigned(k)) == nil { return true } }
                    return false
                }
                #expect(runThrew, "k \(k), cut at byte \(cut) of \(whole.count)")
                #expect(runThrew == oneByOneThrew)
            }
        }
    }
}
