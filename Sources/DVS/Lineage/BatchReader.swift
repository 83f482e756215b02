import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// Random and batched access to the samples of snapshots for one long-lived client (`dvs batch`,
/// the Python package): snapshots resolved once and kept, samples found by path or by index, and
/// read through ``SnapshotReader`` — the same verification, decoding (libsndfile), mono mixdown and
/// resampling (libsamplerate) as every other reader; nothing of the formats is implemented here.
///
/// Not thread-safe: one client, one thread asks. Reads of many samples run on the reader's workers.
///
/// ```swift
/// let batch = BatchReader(repository: repo)
/// let snap = try batch.open("cohort/es")
/// try batch.read(snap.commit, indices: [3, 0], sampleRate: 16000, mono: true) { s in use(s.pcm) }
/// ```
public final class BatchReader {
    /// A resolved snapshot as the client sees it.
    public struct Snapshot: Sendable {
        /// The commit the revision resolved to.
        public var commit: CommitID
        /// The audio samples (manifest entries with audio facts), in path order; a sample's index is
        /// its position here.
        public var entries: [ManifestEntry]
        /// Sum of the samples' stored durations, in hours.
        public var hours: Double { entries.reduce(0.0) { $0 + ($1.audio?.duration ?? 0) } / 3600 }
    }

    /// The repository read from.
    public let repository: Repository
    /// Where sample bytes come from (``SampleSource``).
    public let source: SampleSource
    private var snapshots: [CommitID: Snapshot] = [:]
    private var readers: [ReaderKey: SnapshotReader] = [:]
    private var pathIndex: [CommitID: [RepoPath: Int]] = [:]
    private var locations: [ObjectID: BlobLocation]?
    private let decompressor = ZstdDecompressor(checksum: false)

    private struct ReaderKey: Hashable {
        var commit: CommitID
        var sampleRate: Int?
        var mono: Bool
        var pcm16: Bool
    }

    /// Creates a reader over `repository`.
    /// - Parameter source: where sample bytes come from (default ``SampleSource/auto``: unchanged
    ///   working-tree files of HEAD, else the store; the bytes are the same either way).
    public init(repository: Repository, source: SampleSource = .auto) {
        self.repository = repository
        self.source = source
    }

    /// Resolves `revision` and keeps its snapshot (a commit never changes, so it is kept for the
    /// client's life; at most 16 are kept).
    /// - Throws: `DVSError.unknownRevision` for a revision that names nothing; `.corrupt` when its
    ///   commit or manifest cannot be read.
    /// - Complexity: O(n) manifest entries the first time a commit is opened, O(1) afterwards.
    public func open(_ revision: Revision) throws -> Snapshot {
        let commit = try repository.resolve(revision)
        if let s = snapshots[commit] { return s }
        let entries = try repository.entries(ofManifest: repository.commit(commit).manifest).filter { $0.audio != nil }
        let s = Snapshot(commit: commit, entries: entries)
        if snapshots.count >= 16 {
            snapshots.removeAll()
            pathIndex.removeAll()
            readers.removeAll()
        }
        snapshots[commit] = s
        return s
    }

    /// The index of the sample at `path` in snapshot `commit`, or nil when it has no audio sample there.
    /// - Throws: as ``open(_:)``.
    public func index(of path: RepoPath, in commit: CommitID) throws -> Int? {
        if let m = pathIndex[commit] { return m[path] }
        let s = try open(Revision(commit.hex))
        var m: [RepoPath: Int] = [:]
        m.reserveCapacity(s.entries.count)
        for (i, e) in s.entries.enumerated() { m[e.path] = i }
        pathIndex[commit] = m
        return m[path]
    }

    /// Reads samples `indices` of snapshot `commit`, in that order, and calls `body` with each.
    ///
    /// One index is read on the calling thread (one blob read, verified, decoded: the cost of
    /// random access); more are decoded ahead on the repository's workers, as ``SnapshotReader``
    /// does for a whole snapshot.
    /// - Parameters:
    ///   - commit: a snapshot ``open(_:)`` returned.
    ///   - indices: positions in ``Snapshot/entries`` (each `0 ..< count`).
    ///   - sampleRate: resample to this rate (Hz, > 0); nil keeps each file's rate.
    ///   - mono: average the channels into one.
    ///   - pcm16: hand out 16-bit PCM WAVs that need no resampling or mixdown undecoded, as their
    ///     stored samples (``SnapshotSample/pcm16``); others are decoded to `pcm` as ever.
    ///   - body: receives each sample; what it throws stops the reads and is rethrown.
    /// - Throws: `DVSError.usage` for an index out of range or a rate ≤ 0; `.corrupt` naming the
    ///   path and object when a blob is missing or damaged; `.badInput` when a sample does not
    ///   decode; whatever `body` throws.
    public func read(
        _ commit: CommitID, indices: [Int], sampleRate: Int?, mono: Bool, pcm16: Bool = false, _ body: (SnapshotSample) throws -> Void
    ) throws {
        let reader = try self.reader(commit, sampleRate: sampleRate, mono: mono, pcm16: pcm16)
        for i in indices where i < 0 || i >= reader.entries.count {
            throw DVSError(
                .usage, "sample index \(i) is out of range: snapshot \(commit.short) has \(reader.entries.count) samples",
                hint: "use an index from 0 to \(max(0, reader.entries.count - 1))")
        }
        // The blob locations are read once per session; a `dvs gc` or purge in another process
        // may since have rewritten the packs they point into. A failed read with kept locations
        // reads them anew and goes on from the first sample not yet handed to `body`.
        var delivered = 0
        func attempt(_ locations: [ObjectID: BlobLocation]) throws {
            let rest = Array(indices[delivered...])
            if rest.count == 1 {
                let sample = try reader.read(reader.entries[rest[0]], index: rest[0], locations: locations, decompressor: decompressor)
                try body(sample)
                delivered += 1
            } else if !rest.isEmpty {
                try reader.forEach(order: rest, locations: locations) { sample in
                    try body(sample)
                    delivered += 1
                }
            }
        }
        let kept = locations != nil
        do {
            try attempt(try blobLocations())
        } catch let e as DVSError where kept && e.code == .corrupt {
            locations = nil
            try attempt(try blobLocations())
        }
    }

    /// The reader for one commit, rate and mixdown, made once.
    private func reader(_ commit: CommitID, sampleRate: Int?, mono: Bool, pcm16: Bool) throws -> SnapshotReader {
        let key = ReaderKey(commit: commit, sampleRate: sampleRate, mono: mono, pcm16: pcm16)
        if let r = readers[key] { return r }
        _ = try open(Revision(commit.hex))
        let r = try SnapshotReader(
            repository: repository, revision: Revision(commit.hex), targetSampleRate: sampleRate, mono: mono, pcm16: pcm16,
            source: source)
        try repository.downloadMissingBlobs(Set(r.entries.map(\.blob)))  // a partial clone
        readers[key] = r
        return r
    }

    /// Where every blob is stored, read once (a blob committed later is looked up when it is read).
    private func blobLocations() throws -> [ObjectID: BlobLocation] {
        if let l = locations { return l }
        let l = try repository.blobs.locations()
        locations = l
        return l
    }
}
