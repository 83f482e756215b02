import DVSAudio
import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// The snapshot reader (issue 5, item 1): samples of a revision with labels and decoded PCM, read
/// straight from the packs, equal to what libsndfile decodes from the original files.
@Suite struct SnapshotReaderTests {
    /// A repository of Debian's recordings (WAV and Ogg) with a label table; returns the paths committed.
    func makeRepo(_ repo: Repository) throws -> [String] {
        var rows = ["file_name,speaker,lang"]
        var names: [String] = []
        for (i, src) in TestSupport.debianRecordings(limit: 12).enumerated() {
            let name = "clips/\(i)-" + (src as NSString).lastPathComponent
            try FileManager.default.createDirectory(atPath: repo.root + "/clips", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: src, toPath: repo.root + "/" + name)
            rows.append("\(name),spk\(i % 3),\(src.contains("/de/") ? "de" : "en")")
            names.append(name)
        }
        try TestSupport.write(Data((rows.joined(separator: "\n") + "\n").utf8), to: repo.root + "/metadata.csv")
        _ = try repo.commit(CommitOptions(message: "recordings"))
        return names.sorted { RepoPath($0) < RepoPath($1) }
    }

    @Test func readsEverySampleWithLabelsAndPCMEqualToLibsndfile() throws {
        try TestSupport.withTemporaryRepository { repo in
            let names = try makeRepo(repo)
            let reader = try SnapshotReader(repository: repo, revision: "main", workers: 2, window: 3)
            #expect(reader.count == names.count)
            var seen: [String] = []
            // SnapshotReader.forEach is a throwing streaming read, not Sequence.forEach.
            // swift-format-ignore: ReplaceForEachWithForLoop
            try reader.forEach { s in
                seen.append(s.path.string)
                let original = try Array(TestSupport.read(repo.root + "/" + s.path.string))
                let direct = try original.withUnsafeBytes { try AudioDecoder.decode($0) }
                #expect(s.blob == ObjectID.hashing(original))
                #expect(s.pcm == direct.pcm, "\(s.path)")
                #expect(s.sampleRate == direct.sampleRate && s.channelCount == direct.channelCount)
                #expect(s.frameCount == s.facts.frameCount)
                #expect(s.labels["speaker"] != nil && s.labels["lang"] != nil, "\(s.path) has its labels")
            }
            #expect(seen == names, "path order")
        }
    }

    @Test func pcm16FastPathGivesLibsndfilesValues() throws {
        try TestSupport.withTemporaryDirectory { dir in
            for (rate, channels) in [(44100, 2), (8000, 1), (48000, 2)] {
                let path = dir + "/s\(rate)-\(channels).wav"
                try TestSupport.speak("fast path check", to: path, sampleRate: rate, channels: channels)
                let bytes = try Array(TestSupport.read(path))
                let viaSndfile = try bytes.withUnsafeBytes { try AudioDecoder.decode($0) }
                let fast = try #require(
                    bytes.withUnsafeBytes { AudioDecoder.decodePCM16($0, frameCount: viaSndfile.frameCount, sampleRate: rate) })
                #expect(fast == viaSndfile, "\(rate) Hz, \(channels) ch")
                #expect(
                    bytes.withUnsafeBytes { AudioDecoder.decodePCM16($0, frameCount: viaSndfile.frameCount + 1, sampleRate: rate) } == nil,
                    "more frames than the data chunk holds: not taken")
            }
        }
    }

    /// `pcm16: true` hands out 16-bit PCM WAVs undecoded: the range of their bytes holding the
    /// samples as stored, whose int16 / 32768 are libsndfile's values; Ogg and anything that
    /// must be resampled or mixed down is decoded as ever.
    @Test func pcm16ReaderHandsOutStoredSamplesUndecoded() throws {
        try TestSupport.withTemporaryRepository { repo in
            _ = try makeRepo(repo)
            try TestSupport.speak("two channels", to: repo.root + "/clips/stereo.wav", sampleRate: 22050, channels: 2)
            _ = try repo.commit(CommitOptions(message: "stereo"))
            let decoded = try SnapshotReader(repository: repo, revision: "main")
            var want: [String: [Float]] = [:]
            // swift-format-ignore: ReplaceForEachWithForLoop
            try decoded.forEach { want[$0.path.string] = $0.pcm }
            for mono in [false, true] {
                let reader = try SnapshotReader(repository: repo, revision: "main", mono: mono, pcm16: true)
                var stored = 0
                // swift-format-ignore: ReplaceForEachWithForLoop
                try reader.forEach { s in
                    let isPCM16 = s.facts.encoding == "PCM_16" && s.facts.container.hasPrefix("WAV")
                    if let r = s.pcm16 {
                        stored += 1
                        #expect(isPCM16 && (!mono || s.facts.channelCount == 1) && s.pcm.isEmpty, "\(s.path)")
                        let values = s.bytes[r].withUnsafeBytes { b in
                            (0..<(r.count / 2)).map {
                                Float(Int16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) / 32768
                            }
                        }
                        #expect(values == want[s.path.string], "\(s.path)")
                        #expect(
                            s.sampleRate == s.facts.sampleRate && s.channelCount == s.facts.channelCount
                                && s.frameCount == s.facts.frameCount)
                    } else {
                        #expect(!isPCM16 || (mono && s.facts.channelCount > 1), "\(s.path) should have been handed out as stored")
                        #expect(!s.pcm.isEmpty)
                    }
                }
                #expect(stored > 0, "some recordings are 16-bit PCM WAV")
            }
        }
    }

    @Test func resamplesAndDownmixesWithLibsamplerate() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.speak("resampling check", to: repo.root + "/a.wav", sampleRate: 44100, channels: 2)
            _ = try repo.commit(CommitOptions(message: "one"))
            let s = try #require(try SnapshotReader(repository: repo, revision: "HEAD", targetSampleRate: 16000, mono: true).all().first)
            #expect(s.sampleRate == 16000 && s.channelCount == 1)
            #expect(abs(s.duration - s.facts.duration) < 0.01, "same length after resampling: \(s.duration) vs \(s.facts.duration)")
            #expect(s.pcm.contains { abs($0) > 0.05 }, "speech survives")
        }
    }

    @Test func damagedBlobIsReportedWithItsPath() throws {
        try TestSupport.withTemporaryRepository { repo in
            _ = try makeRepo(repo)
            let reader = try SnapshotReader(repository: repo, revision: "main", decode: false, keepBytes: true)
            // Flip a byte in the middle of the first pack: some blob no longer verifies.
            let pack = try #require(
                try FileManager.default.contentsOfDirectory(atPath: repo.root + "/.dvs/packs").first { $0.hasSuffix(".pack") })
            let path = repo.root + "/.dvs/packs/" + pack
            var bytes = try Array(TestSupport.read(path))
            bytes[bytes.count / 2] ^= 0xFF
            try TestSupport.write(Data(bytes), to: path)
            // SnapshotReader.forEach is a throwing streaming read.
            // swift-format-ignore: ReplaceForEachWithForLoop
            #expect(throws: DVSError.self) { try reader.forEach { _ in } }
        }
    }

    /// `dvs stream` of the whole snapshot into a file; returns its bytes and summary.
    func streamBytes(_ repo: Repository, _ revision: Revision = "HEAD", source: SampleSource) throws -> (Data, StreamSummary) {
        let path = repo.root + "/../stream-\(source.rawValue).tar"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try #require(fd >= 0)
        let summary: StreamSummary
        do {
            defer { close(fd) }
            summary = try repo.stream(revision, to: fd, source: source)
        }
        return (try TestSupport.read(path), summary)
    }

    /// With `.auto`, the samples of HEAD whose stat cache rows hold come from the working tree and
    /// the stream equals the store's byte for byte; a file rewritten since (same size, other
    /// bytes; once with another mtime, once with its mtime put back) and any other revision come
    /// from the store.
    @Test func autoSourceReadsUnchangedTreeFilesAndTheStoreForChangedOnes() throws {
        try TestSupport.withTemporaryRepository { repo in
            var names: [String] = []
            for (i, src) in TestSupport.debianRecordings(limit: 6).enumerated() {
                let name = "clips/\(i)-" + (src as NSString).lastPathComponent
                try FileManager.default.createDirectory(atPath: repo.root + "/clips", withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: src, toPath: repo.root + "/" + name)
                names.append(name)
            }
            // Modified an hour ago: no stat cache row is racily clean.
            _ = try TestSupport.sh("touch -d '1 hour ago' clips/*", in: repo.root)
            let first = try repo.commit(CommitOptions(message: "recordings"))
            let (store, storeSummary) = try streamBytes(repo, source: .store)
            let (tree, treeSummary) = try streamBytes(repo, source: .auto)
            #expect(storeSummary.workingTreeSampleCount == 0)
            #expect(treeSummary.workingTreeSampleCount == names.count, "every file is unchanged since the commit")
            #expect(tree == store, "same stream from the tree and the store")

            // Same size, other bytes, another mtime: read from the store.
            let changed = repo.root + "/" + names[0]
            var bytes = try Array(TestSupport.read(changed))
            for k in bytes.count / 2..<bytes.count / 2 + 64 { bytes[k] ^= 0x5A }
            let fd = open(changed, O_WRONLY)
            try #require(fd >= 0)
            #expect(bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) } == bytes.count)
            close(fd)
            let (afterEdit, editSummary) = try streamBytes(repo, source: .auto)
            #expect(afterEdit == store, "the committed bytes, not the edited file's")
            #expect(editSummary.workingTreeSampleCount == names.count - 1)

            // Its mtime put back: the ctime still says it changed.
            _ = try TestSupport.sh("touch -d '1 hour ago' '\(names[0])'", in: repo.root)
            let (afterTouch, touchSummary) = try streamBytes(repo, source: .auto)
            #expect(afterTouch == store)
            #expect(touchSummary.workingTreeSampleCount == names.count - 1)

            // Committed: HEAD moves, the stream of the first commit comes from the store only.
            let second = try repo.commit(CommitOptions(message: "edited"))
            #expect(second.id != first.id)
            let (old, oldSummary) = try streamBytes(repo, Revision(first.id.hex), source: .auto)
            #expect(old == store && oldSummary.workingTreeSampleCount == 0, "not HEAD: the store")
            let (newStore, _) = try streamBytes(repo, source: .store)
            let (newTree, newSummary) = try streamBytes(repo, source: .auto)
            #expect(newTree == newStore && newTree != store)
            #expect(newSummary.workingTreeSampleCount >= names.count - 1, "the rest are still vouched for")
        }
    }
}
