import Testing

@testable import DVSCore

@Suite struct TranscriptWordsTests {
    @Test func oneWordEncodesToTheDocumentedBytes() {
        let bytes = TranscriptWords.encode([TranscriptWord(text: "Hi", start: 0.5, end: 1.0, confidence: 1.0)])
        let hex = bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(
            separator: " ")
        #expect(hex == "44 56 53 57 01 01 02 48 69 00 00 00 00 00 00 e0 3f 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 f0 3f 00 00")
        #expect(bytes.count == 35)
    }

    @Test func roundTripKeepsEveryFieldExactly() throws {
        let words = [
            TranscriptWord(text: "Thanks", start: 0.32, end: 0.56, confidence: 0.9981, speaker: 0, channel: 0),
            TranscriptWord(text: "is", start: 2.16, end: 2.2799999, confidence: 0.9993, speaker: 1, channel: 0),
            TranscriptWord(text: "Zoë,", start: 2.0, end: 2.24, confidence: 0.9731, speaker: nil, channel: 1),
            TranscriptWord(text: "", start: -0.0, end: 1e-300, confidence: 0, speaker: 300, channel: 200),
        ]
        let bytes = TranscriptWords.encode(words)
        #expect(Array(bytes.prefix(5)) == TranscriptWords.magic + [1])
        let back = try TranscriptWords.decode(bytes)
        #expect(back == words)
        #expect(back[3].start.sign == .minus)
        #expect(TranscriptWords.encode(back) == bytes)
    }

    @Test func emptyListIsSixBytes() throws {
        let bytes = TranscriptWords.encode([])
        #expect(bytes == Array("DVSW".utf8) + [1, 0])
        #expect(try TranscriptWords.decode(bytes) == [])
    }

    @Test func malformedInputThrows() {
        let good = TranscriptWords.encode([TranscriptWord(text: "hi", start: 0, end: 1, confidence: 0.5, speaker: 2)])
        #expect(throws: FormatError.self) { try TranscriptWords.decode(Array("DVSM".utf8) + good.dropFirst(4)) }
        #expect(throws: FormatError.self) { try TranscriptWords.decode(Array(good.prefix(4)) + [2] + good.dropFirst(5)) }
        #expect(throws: FormatError.self) { try TranscriptWords.decode(good + [0]) }
        for n in 0..<good.count {
            #expect(throws: FormatError.self) { try TranscriptWords.decode(Array(good.prefix(n))) }
        }
        // A count far larger than the bytes can hold is rejected before allocating.
        #expect(throws: FormatError.self) { try TranscriptWords.decode(Array("DVSW".utf8) + [1, 0xFF, 0xFF, 0xFF, 0x7F]) }
        // Text that is not UTF-8.
        var bad = good
        bad[7] = 0xFF
        #expect(throws: FormatError.self) { try TranscriptWords.decode(bad) }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<64, using: &rng)
            var bytes = Array("DVSW".utf8) + [1]
            bytes += (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? TranscriptWords.decode(bytes)
        }
    }
}
