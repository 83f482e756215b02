import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS
@testable import DVSAudio

/// One contract, run against every `BlobStore`: the repository's packed store (packs on disk,
/// the catalog's index, dvs's codecs) and the in-memory one tests above the store use.
@Suite struct BlobStoreContract {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case packed, inMemory
        var testDescription: String { rawValue }
    }

    /// Runs `body` with a fresh store of `kind` (the packed one inside a temporary repository).
    func withStore(_ kind: Kind, _ body: (any BlobStore, Repository?) throws -> Void) throws {
        switch kind {
        case .inMemory: try body(InMemoryBlobStore(), nil)
        case .packed: try TestSupport.withTemporaryRepository { repo in try body(repo.blobs, repo) }
        }
    }

    /// A RIFF/WAVE file: `format` 1 (PCM, 16-bit) or 7 (μ-law, 8-bit), `frames` of a tone.
    static func wav(format: UInt16, channels: UInt16, frames: Int) -> [UInt8] {
        let bits: UInt16 = format == 1 ? 16 : 8
        let blockAlign = channels * bits / 8
        var data: [UInt8] = []
        for i in 0..<frames {
            for c in 0..<Int(channels) {
                let v = sin(Double(i) * (0.031 + 0.007 * Double(c))) * 9000 + Double((i * 7919 + c) % 37)
                if format == 1 {
                    let s = UInt16(bitPattern: Int16(v))
                    data += [UInt8(s & 0xFF), UInt8(s >> 8)]
                } else {
                    data.append(UInt8(truncatingIfNeeded: Int(v / 64) + 128))
                }
            }
        }
        func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let rate = 16000
        var fmt = le16(format) + le16(channels) + le32(rate) + le32(rate * Int(blockAlign)) + le16(blockAlign) + le16(bits)
        if format != 1 { fmt += le16(0) }
        var out = Array("RIFF".utf8) + le32(4 + 8 + fmt.count + 8 + data.count) + Array("WAVE".utf8)
        out += Array("fmt ".utf8) + le32(fmt.count) + fmt
        out += Array("data".utf8) + le32(data.count) + data
        return out
    }

    static let samples: [(name: String, bytes: [UInt8])] = [
        ("pcm16 mono", wav(format: 1, channels: 1, frames: 24_000)),
        ("pcm16 stereo", wav(format: 1, channels: 2, frames: 24_000)),
        ("pcm16 long mono", wav(format: 1, channels: 1, frames: 160_000)),
        ("mu-law", wav(format: 7, channels: 1, frames: 16_000)),
        ("plain", Array(String(repeating: "path,speaker,label\nspk1/a.wav,spk1,yes\n", count: 500).utf8)),
        ("empty", []),
    ]

    /// With `pack.audio-codec = lpc` (the default), 16-bit PCM and μ-law are coded as audio
    /// (codec 4); with `predictive`, none is (codec 2 for 16-bit PCM, plain zstd for μ-law); and a
    /// repository keeps reading what it wrote before the setting changed.
    @Test func theLPCCodecIsChosenByTheSetting() throws {
        try TestSupport.withTemporaryRepository { repo in
            #expect(repo.audioCodec == .lpc, "the default")
            try repo.catalog.write { try $0.setConfig("pack.audio-codec", "predictive") }
            let before = try Repository.discover(from: repo.root, context: repo.context).blobs.write([
                (Self.samples[0].bytes, BlobHint.file(Self.samples[0].bytes))
            ])
            try repo.catalog.write { try $0.setConfig("pack.audio-codec", "lpc") }
            let lpc = try Repository.discover(from: repo.root, context: repo.context)
            #expect(lpc.audioCodec == .lpc)
            let ids = try lpc.blobs.write(Self.samples.map { ($0.bytes, BlobHint.file($0.bytes)) })
            for i in 1...3 { #expect(try lpc.blobs.location(of: ids[i])?.entry.codec == .audioLPC, "\(Self.samples[i].name)") }
            #expect(try lpc.blobs.location(of: ids[4])?.entry.codec == .zstd)
            #expect(try lpc.blobs.location(of: before[0])?.entry.codec == .pcm16Predictive)
            for (s, id) in zip(Self.samples, ids) { #expect(try lpc.blobs.read(id) == s.bytes, "\(s.name)") }
        }
        try TestSupport.withTemporaryRepository { repo in
            try repo.catalog.write { try $0.setConfig("pack.audio-codec", "predictive") }
            let predictive = try Repository.discover(from: repo.root, context: repo.context)
            let ids = try predictive.blobs.write(Self.samples.map { ($0.bytes, BlobHint.file($0.bytes)) })
            let codecs = try ids.map { try predictive.blobs.location(of: $0)?.entry.codec }
            #expect(codecs == [.pcm16Predictive, .pcm16Predictive, .pcm16Predictive, .zstd, .zstd, .zstd])
        }
    }

    /// A recording whose middle is digital silence (ALSA's Rear_Left.wav, made stereo and 24-bit
    /// past the 128 KiB trial threshold) is coded as audio: the trial of one slice from the
    /// middle chose plain zstd for it, storing 2.5–4× the bytes.
    @Test func aFileWithASilentMiddleIsStillCodedAsAudio() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let source = "/usr/share/sounds/alsa/Rear_Left.wav"
            try #require(FileManager.default.fileExists(atPath: source), "alsa-utils' recordings")
            try TestSupport.sh("sox '\(source)' -c 2 '\(dir)/stereo.wav' && sox '\(source)' -b 24 '\(dir)/pcm24.wav'")
            try TestSupport.withTemporaryRepository { repo in
                for name in ["stereo.wav", "pcm24.wav"] {
                    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + name)))
                    #expect(bytes.count > 4 * AudioLPCTransform.trialBytes, "past the trial threshold")
                    let id = try #require(try repo.blobs.write([(bytes, BlobHint.file(bytes))]).first)
                    let entry = try #require(try repo.blobs.location(of: id)?.entry)
                    #expect(entry.codec == .audioLPC, "\(name)")
                    #expect(entry.storedLength * 4 < UInt64(bytes.count), "\(name): \(entry.storedLength) of \(bytes.count)")
                    #expect(try repo.blobs.read(id) == bytes)
                }
            }
        }
    }

    /// `auto`: codec 2 for 16-bit mono PCM at speech rates up to 16 kHz (the bulk of the bench
    /// corpus, where it decodes fastest), codec 4 for every other format it takes.
    @Test func autoCodesSpeechRateMonoWithCodec2AndTheRestAsAudio() {
        func layout(tag: UInt16, sub: UInt16? = nil, channels: Int, rate: Int, bits: Int) -> RIFFLayout {
            RIFFLayout(
                formatTag: tag, subFormat: sub, channelCount: channels, sampleRate: rate, bitsPerSample: bits,
                blockAlign: channels * bits / 8, dataOffset: 44, declaredDataSize: 0, availableDataSize: 0, fileLength: 44)
        }
        let auto = Repository.AudioCodecChoice.auto
        #expect(!auto.writesLPC(layout(tag: 1, channels: 1, rate: 8000, bits: 16)))
        #expect(!auto.writesLPC(layout(tag: 1, channels: 1, rate: 16000, bits: 16)))
        #expect(!auto.writesLPC(layout(tag: 0xFFFE, sub: 1, channels: 1, rate: 16000, bits: 16)))
        #expect(auto.writesLPC(layout(tag: 1, channels: 1, rate: 22050, bits: 16)))
        #expect(auto.writesLPC(layout(tag: 1, channels: 1, rate: 48000, bits: 16)))
        #expect(auto.writesLPC(layout(tag: 1, channels: 2, rate: 16000, bits: 16)))
        #expect(auto.writesLPC(layout(tag: 1, channels: 1, rate: 16000, bits: 24)))
        #expect(auto.writesLPC(layout(tag: 7, channels: 1, rate: 8000, bits: 8)))
        #expect(auto.writesLPC(layout(tag: 6, channels: 2, rate: 8000, bits: 8)))
        #expect(Repository.AudioCodecChoice.lpc.writesLPC(layout(tag: 1, channels: 1, rate: 16000, bits: 16)))
        #expect(!Repository.AudioCodecChoice.predictive.writesLPC(layout(tag: 7, channels: 1, rate: 8000, bits: 8)))
    }

    @Test(arguments: Kind.allCases) func roundTripIsByteExact(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, repo: Repository?) throws in
            let ids = try store.write(Self.samples.map { ($0.bytes, BlobHint.file($0.bytes)) })
            #expect(ids == Self.samples.map { ObjectID.hashing($0.bytes) })
            for (s, id) in zip(Self.samples, ids) {
                #expect(try store.contains(id), "\(s.name)")
                #expect(try store.read(id) == s.bytes, "\(s.name)")
            }
            if repo != nil {
                // By default (`lpc`) codec 4 for 16 kHz mono, stereo and μ-law, plain zstd for
                // the rest.
                #expect(try store.location(of: ids[0])?.entry.codec == .audioLPC)
                #expect(try store.location(of: ids[1])?.entry.codec == .audioLPC)
                #expect(try store.location(of: ids[2])?.entry.codec == .audioLPC)
                #expect(try store.location(of: ids[3])?.entry.codec == .audioLPC)
                #expect(try store.location(of: ids[4])?.entry.codec == .zstd)
            }
            #expect(try store.ids() == Set(ids))
            #expect(try Set(store.locations().keys) == Set(ids))
        }
    }

    @Test(arguments: Kind.allCases) func writesAreIdempotent(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, _: Repository?) throws in
            let bytes = Self.samples[0].bytes
            let first = try store.write([(bytes, BlobHint.file(bytes)), (bytes, BlobHint.file(bytes))])
            #expect(first[0] == first[1])
            let before = try store.location(of: first[0])
            let again = try store.write([(bytes, BlobHint.file(bytes))])
            #expect(again == [first[0]])
            #expect(try store.location(of: first[0]) == before, "a stored blob keeps its location")
            #expect(try store.ids().count == 1)
            #expect(try store.read(first[0]) == bytes)
        }
    }

    @Test(arguments: Kind.allCases) func aDeltaAgainstThePreviousVersionReadsBack(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, repo: Repository?) throws in
            let rows = (0..<3000).map { i in "spk\(i % 50)/u\(i).wav,spk\(i % 50),\(["yes", "no", "maybe"][i % 3]),0.\(i * 7919 % 9973)\n" }
            let v1 = Array(rows.joined().utf8)
            var v2 = v1
            v2[100] = UInt8(ascii: "X")
            let base = try store.write([(v1, BlobHint())])[0]
            let id = try store.write([(v2, BlobHint(deltaBase: base))])[0]
            #expect(try store.read(id) == v2)
            if repo != nil { #expect(try store.location(of: id)?.entry.codec == .zstdDelta) }
            // v3 against the chain's root v1 (v2 is a delta on it), read as two frames.
            var v3 = v2
            v3[2000] = UInt8(ascii: "Y")
            let top = try store.write([(v3, BlobHint(deltaBase: id))])[0]
            #expect(try store.read(top) == v3)
            #expect(try store.read(id) == v2)
            if repo != nil { #expect(try store.location(of: top)?.entry.codec == .zstdDelta) }
        }
    }

    @Test(arguments: Kind.allCases) func anAbortedWriteStoresNothing(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, _: Repository?) throws in
            let bytes = Self.samples[4].bytes
            let session = try store.beginWrite()
            try bytes.withUnsafeBytes { _ = try session.write($0, id: ObjectID.hashing(bytes), hint: BlobHint(), coders: nil) }
            #expect(session.contains(ObjectID.hashing(bytes)))
            session.abort()
            #expect(try store.contains(ObjectID.hashing(bytes)) == false)
        }
    }

    /// A commit that fails after its blobs were made durable and indexed (before any ref moved)
    /// undoes them: not findable, and for packs on disk, no pack file left behind.
    @Test(arguments: Kind.allCases) func aRolledBackWriteStoresNothingEvenAfterFinish(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, repo: Repository?) throws in
            let kept = try store.write([(Self.samples[0].bytes, BlobHint())])[0]
            let bytes = Self.samples[4].bytes
            let id = ObjectID.hashing(bytes)
            let session = try store.beginWrite()
            try bytes.withUnsafeBytes { _ = try session.write($0, id: id, hint: BlobHint(), coders: nil) }
            try session.finish()
            #expect(try store.contains(id))
            session.rollback()
            #expect(try store.contains(id) == false)
            #expect(try store.read(kept) == Self.samples[0].bytes)
            if let repo {
                let packs = try FileManager.default.contentsOfDirectory(atPath: repo.root + "/.dvs/packs")
                #expect(packs.count == 1, "\(packs)")
            }
        }
    }

    @Test(arguments: Kind.allCases) func anUnknownIDIsAMissingBlob(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, _: Repository?) throws in
            let id = ObjectID.hashing(Array("never stored".utf8))
            #expect(try store.contains(id) == false)
            #expect(try store.location(of: id) == nil)
            let e = #expect(throws: BlobReadError.self) { try store.read(id) }
            #expect(e?.kind == .missing)
            #expect(e?.id == id)
            #expect(e?.message.contains(id.hex) == true)
        }
    }

    @Test(arguments: Kind.allCases) func aDamagedBlobIsDetectedOnRead(_ kind: Kind) throws {
        try withStore(kind) { (store: any BlobStore, repo: Repository?) throws in
            let bytes = Self.samples[0].bytes
            let id = try store.write([(bytes, BlobHint.file(bytes))])[0]
            let loc = try #require(try store.location(of: id))
            if let repo {
                let path = "\(repo.root)/.dvs/packs/\(loc.pack.hex).pack"
                var packBytes = try [UInt8](TestSupport.read(path))
                packBytes[Int(loc.entry.offset) + Int(loc.entry.storedLength) / 2] ^= 0x5A
                try Data(packBytes).write(to: URL(fileURLWithPath: path))
                repo.packedBlobs.forgetReaders()
            } else {
                (store as! InMemoryBlobStore).damage(id, with: Array(bytes.dropLast()))
            }
            let e = #expect(throws: BlobReadError.self) { try store.read(id) }
            #expect(e?.kind == .damaged)
            #expect(e?.id == id)
            #expect(e?.pack == loc.pack)
            #expect(e?.message.contains(id.hex) == true)
        }
    }
}
