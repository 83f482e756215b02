import DVSCore
import DVSLabels
import DVSTestSupport
import Foundation

/// The generated fixture dataset as the label builder sees it: audio facts from the durations the
/// generator cuts the clips to (not probed; Tests/Fixtures/README.md), blobs hashed from the real bytes.
enum FixtureTree {
    static var root: String { TestSupport.fixtures + "/dataset" }

    /// (sample rate, channels, encoding, seconds) per clip name.
    static let audio: [String: (Int, Int, String, Double)] = [
        "ana_0001.wav": (16000, 1, "PCM_16", 0.5), "ana_0002.wav": (16000, 1, "PCM_16", 0.75),
        "ben_0001.wav": (16000, 1, "PCM_16", 0.4), "ben 0002.wav": (16000, 1, "PCM_16", 0.3),
        "chlo\u{00E9}_0001.wav": (16000, 1, "PCM_16", 0.5),
        "call_0001_mono.wav": (8000, 1, "ULAW", 6.2), "call_0002_stereo.wav": (8000, 2, "ULAW", 6.0),
        "call_0003_silence.wav": (8000, 1, "ULAW", 3.0),
    ]

    /// Every file under `dataset/`, sorted by path.
    static func files() throws -> [LabelTreeFile] {
        let paths = try FileManager.default.subpathsOfDirectory(atPath: root)
        return try paths.compactMap { rel -> LabelTreeFile? in
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue else { return nil }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: root + "/" + rel))
            let path = RepoPath(rel)
            let facts =
                rel.hasPrefix("clips/")
                ? audio[String(decoding: path.name, as: UTF8.self)].map { rate, ch, enc, seconds in
                    AudioFacts(
                        container: "WAV", encoding: enc, sampleRate: rate, channelCount: ch,
                        frameCount: Int((seconds * Double(rate)).rounded()))
                } : nil
            return LabelTreeFile(path: path, blob: ObjectID.hashing(bytes), byteCount: UInt64(bytes.count), audio: facts)
        }.sorted { $0.path < $1.path }
    }

    /// Reads a tree file from the fixture folder.
    @Sendable static func read(_ path: RepoPath) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/" + path.string)))
    }

    /// Builds the whole fixture tree.
    static func build() throws -> LabelBuildResult { try LabelBuilder.build(files: files(), read: read) }
}
