import DVSCore
import DVSStorage
import Foundation

/// What `Repository.stream` wrote.
public struct StreamSummary: Sendable {
    /// The snapshot streamed.
    public var commit: CommitID
    /// Samples written (in this shard).
    public var sampleCount: Int
    /// Audio bytes written (tar headers and JSON not counted).
    public var audioBytes: UInt64
    /// Samples whose bytes came from the working tree (``SampleSource/auto``); the rest were read
    /// from the store and verified against their SHA-256.
    public var workingTreeSampleCount = 0
}

extension Repository {
    /// The order `stream` visits a snapshot's samples in: path order, or a Fisher–Yates shuffle
    /// driven by SplitMix64 seeded with `seed`; then, with a shard `index` of `count`, every
    /// `count`-th position starting at `index`. The shards of one seed partition the samples.
    /// - Parameters:
    ///   - sampleCount: samples in the snapshot.
    ///   - seed: shuffle seed; nil keeps path order.
    ///   - shard: (index from 0, count ≥ 1).
    /// - Returns: indices into the snapshot's samples (`SnapshotReader.entries`).
    public static func streamOrder(sampleCount: Int, seed: UInt64?, shard: (index: Int, count: Int)?) -> [Int] {
        var order = Array(0..<sampleCount)
        if let seed {
            var state = seed
            func next() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
            if sampleCount > 1 {
                for i in stride(from: sampleCount - 1, to: 0, by: -1) {
                    let j = Int(next() % UInt64(i + 1))
                    order.swapAt(i, j)
                }
            }
        }
        if let shard { order = order.enumerated().filter { $0.offset % shard.count == shard.index }.map(\.element) }
        return order
    }

    /// When `fd` is a pipe, asks the kernel to make its buffer `TarWriter.blockSize` (1 MiB) so
    /// that one write of the tar writer fits and the reader is woken once per block rather than
    /// every 64 KiB (`fcntl(F_SETPIPE_SZ)`; best effort: an unprivileged process may be held to
    /// `/proc/sys/fs/pipe-max-size`, and nothing else changes when it is refused).
    static func widenPipe(_ fd: Int32) {
        #if os(Linux)
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & 0o170000 == 0o010000 else { return }  // S_ISFIFO
            let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ (a macro Swift does not import)
            _ = fcntl(fd, setPipeSize, Int32(TarWriter.blockSize))
        #endif
    }

    /// Writes a snapshot's samples as a WebDataset-style tar stream to `fd`.
    ///
    /// For each sample, two members with a shared key: `KEY.<ext>` holding the file's original
    /// bytes (verified against its SHA-256) and `KEY.json` holding the sample's path, sha256, audio
    /// facts and labels (one line, `SampleJSON`). KEY is the path without its extension, with dots
    /// replaced by `_` (WebDataset splits a member name at the first dot of its last component);
    /// when two samples would share a key, the later one gets `_<n>` appended. `<ext>` is the
    /// file's extension in lower case (`audio` when it has none). Members carry the commit's
    /// time, mode 0644, owner 0:0, so a seed gives the same bytes every time.
    /// - Parameters:
    ///   - revision: the snapshot.
    ///   - seed: shuffle seed (see ``streamOrder(sampleCount:seed:shard:)``); nil streams in path order.
    ///   - shard: (index, count): this worker's part.
    ///   - fd: where the tar goes (stdout for `dvs stream`).
    ///   - source: where the audio bytes come from (default ``SampleSource/auto``: the working
    ///     tree's file where the stat cache vouches for it, else the store); the stream's bytes
    ///     are the same either way.
    ///   - progress: samples written.
    /// - Throws: `DVSError.usage` for a bad shard; `.unknownRevision`; `.corrupt` naming a damaged
    ///   sample; `.io` when the stream cannot be written (a reader that went away).
    public func stream(
        _ revision: Revision, seed: UInt64? = nil, shard: (index: Int, count: Int)? = nil, to fd: Int32,
        source: SampleSource = .auto, progress: ProgressHandler? = nil
    ) throws -> StreamSummary {
        if let shard, shard.count < 1 || shard.index < 0 || shard.index >= shard.count {
            throw DVSError(
                .usage, "shard \(shard.index)/\(shard.count) does not exist", next: .validShard)
        }
        let reader = try SnapshotReader(repository: self, revision: revision, decode: false, keepBytes: true, source: source)
        let mtime = try commit(reader.commit).committer.time
        // Keys for every sample, computed over the whole snapshot so every shard agrees.
        var keys: [String] = []
        var used: [String: Int] = [:]
        for e in reader.entries {
            var stem = e.path.string
            let name = (stem as NSString).lastPathComponent
            if let dot = name.lastIndex(of: "."), dot != name.startIndex {
                stem = String(stem.dropLast(name.distance(from: dot, to: name.endIndex)))
            }
            var comps = stem.split(separator: "/", omittingEmptySubsequences: false).map { $0.replacingOccurrences(of: ".", with: "_") }
            if comps.last?.isEmpty ?? true { comps[comps.count - 1] = "_" }
            var key = comps.joined(separator: "/")
            if let n = used[key] {
                used[key] = n + 1
                key += "_\(n + 1)"
            } else {
                used[key] = 0
            }
            keys.append(key)
        }
        let order = Self.streamOrder(sampleCount: reader.count, seed: seed, shard: shard)
        Self.widenPipe(fd)
        do {
            let tar = try TarWriter(fd: fd)
            var n = 0
            var bytes: UInt64 = 0
            var fromTree = 0
            try reader.forEach(order: order) { s in
                let e = reader.entries[s.index]
                let name = (e.path.string as NSString).lastPathComponent
                var ext = "audio"
                if let dot = name.lastIndex(of: "."), dot != name.startIndex, name.index(after: dot) != name.endIndex {
                    ext = String(name[name.index(after: dot)...]).lowercased().replacingOccurrences(of: ".", with: "_")
                }
                try s.bytes.withUnsafeBytes { try tar.add(name: keys[s.index] + "." + ext, bytes: $0, mtime: mtime) }
                var json = ""
                SampleJSON.write(e, to: &json)
                json.append("\n")
                try Array(json.utf8).withUnsafeBytes { try tar.add(name: keys[s.index] + ".json", bytes: $0, mtime: mtime) }
                n += 1
                bytes += UInt64(s.bytes.count)
                if s.fromWorkingTree { fromTree += 1 }
                progress?(Progress(phase: .streaming, done: n, total: order.count, bytes: bytes))
            }
            try tar.finish()
            return StreamSummary(commit: reader.commit, sampleCount: n, audioBytes: bytes, workingTreeSampleCount: fromTree)
        } catch { throw DVSError.wrap(error) }
    }
}
