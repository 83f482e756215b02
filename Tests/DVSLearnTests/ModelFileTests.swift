import DVSCore
import Foundation
import Testing

@testable import DVSLearn

@Suite struct ModelFileTests {
    /// A tiny classifier built by hand (2 mel bands, no MFCCs: 4 features, 2 classes).
    static func tinyModel() -> Model {
        let config = FeatureConfig(
            sampleRate: 16000, windowLength: 400, hopLength: 160, fftSize: 512, melBandCount: 2,
            melScale: .slaney, lowFrequency: 0, highFrequency: 8000, mfccCount: 0)
        return Model(
            task: .classify, labelField: "lang", features: config,
            standardizer: Standardizer(mean: [1, 2, 3, 4], scale: [0.5, 1, 1, 2]),
            classNames: ["de", "en"], weights: [1, 0, -1, 0.25, -1, 0, 1, -0.25], bias: [0.5, -0.5],
            parameters: TrainingParameters(task: .classify, holdoutFraction: 0.2, splitBy: "speaker"),
            iterations: 17, trainingSampleCount: 2,
            trainingBlobIDs: [ObjectID.hashing(Array("b".utf8)), ObjectID.hashing(Array("a".utf8))],
            metadata: ["dvs.revision": "main", "dvs.commit": String(repeating: "ab", count: 32)])
    }

    @Test func roundTripKeepsEverything() throws {
        let model = Self.tinyModel()
        let bytes = try ModelFile.encode(model)
        var expected = model
        expected.trainingBlobIDs.sort()  // stored sorted
        #expect(try ModelFile.decode(bytes) == expected)
        #expect(try ModelFile.encode(ModelFile.decode(bytes)) == bytes)  // deterministic
        var regress = model
        regress.task = .regress
        regress.classNames = []
        regress.weights = [0.1, 0.2, 0.3, 0.4]
        regress.bias = [42]
        regress.parameters.splitBy = nil
        regress.metadata = [:]
        regress.trainingBlobIDs = []
        #expect(try ModelFile.decode(ModelFile.encode(regress)) == regress)
    }

    /// The layout of schema/MODEL.md: magic, version, body length, body, SHA-256 trailer.
    @Test func headerAndTrailerFollowTheDocumentedLayout() throws {
        let bytes = try ModelFile.encode(Self.tinyModel())
        #expect(Array(bytes[0..<4]) == [0x44, 0x56, 0x53, 0x4D])  // "DVSM"
        #expect(Array(bytes[4..<8]) == [1, 0, 0, 0])  // version 1, little-endian
        let bodyLength = bytes[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(Int(bodyLength) == bytes.count - 48)
        #expect(Array(bytes.suffix(32)) == ObjectID.hashing(bytes.dropLast(32)).bytes)
        // Body starts: task 1 (classify), then "lang" length-prefixed, then sample rate 16000 as LEB128 (0x80 0x7D).
        #expect(Array(bytes[16..<24]) == [1, 4, 0x6C, 0x61, 0x6E, 0x67, 0x80, 0x7D])
        // Fixed vector: these exact bytes for this model, so a format change cannot slip by.
        #expect(bytes.count == 352)
        #expect(ObjectID.hashing(bytes).hex == "df65f115965da447fd931b851226eee962158372cf3ce4a878e3f6bd526aadf9")
    }

    @Test func damagedFilesGiveClearErrors() throws {
        let bytes = try ModelFile.encode(Self.tinyModel())
        func message(_ b: [UInt8]) -> String? {
            do {
                _ = try ModelFile.decode(b, source: "m.dvsm")
                return nil
            } catch { return error.message }
        }
        var flipped = bytes
        flipped[40] ^= 0x01
        #expect(message(flipped) == "cannot read model 'm.dvsm': checksum mismatch (the file is damaged)")
        #expect(message(Array(bytes.dropLast(5)))?.hasPrefix("cannot read model 'm.dvsm': truncated") == true)
        #expect(
            message(Array("RIFF....WAVEfmt ".utf8)) == "cannot read model 'm.dvsm': not a dvs model file (it does not start with 'DVSM')")
        #expect(message([]) == "cannot read model 'm.dvsm': not a dvs model file (it does not start with 'DVSM')")
        var newer = bytes
        newer[4] = 2
        #expect(message(newer) == "cannot read model 'm.dvsm': format version 2 is newer than this dvs reads (1)")
        do { _ = try ModelFile.decode(newer) } catch { #expect(error.hint == "upgrade dvs") }
    }

    /// Random bytes after a valid header never crash the decoder; they fail the checksum or parse.
    @Test func randomInputIsRejectedWithoutCrashing() {
        var rng = SystemRandomNumberGenerator()
        for n in [0, 3, 16, 47, 48, 100, 300] {
            for _ in 0..<20 {
                var b = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if n >= 16 {
                    b.replaceSubrange(
                        0..<16,
                        with: Array("DVSM".utf8) + [1, 0, 0, 0] + withUnsafeBytes(of: UInt64(max(0, n - 48)).littleEndian, Array.init))
                }
                if n >= 48 { b.replaceSubrange((n - 32)..<n, with: ObjectID.hashing(b.prefix(n - 32)).bytes) }
                #expect(throws: LearnError.self) { try ModelFile.decode(b) }
            }
        }
    }
}
