import DVSAudio
import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// One sample of a snapshot as a training loop sees it: where it is, its labels, its audio facts
/// and, unless only bytes were asked for, its decoded PCM.
public struct SnapshotSample: Sendable {
    /// Position in the snapshot's sample order (path order), from 0.
    public var index: Int
    /// The sample's path in the tree.
    public var path: RepoPath
    /// SHA-256 of the file's original bytes (the content hash `dvs eval` matches leakage by).
    public var blob: ObjectID
    /// Labels joined to the sample, by field name (empty when no table names it).
    public var labels: [String: LabelValue]
    /// Everything the label tables and sidecars say (segments, transcript); nil when nothing does.
    public var annotations: SampleAnnotations?
    /// Audio facts of the stored file, as committed (sample rate, channels, frames of the file
    /// itself, before any resampling).
    public var facts: AudioFacts
    /// Rate of `pcm` in Hz: the target rate when one was asked for, else the file's.
    public var sampleRate: Int
    /// Channels interleaved in `pcm`: 1 when mono was asked for, else the file's.
    public var channelCount: Int
    /// Decoded samples, interleaved, −1…1 of full scale; empty when the reader was made with `decode: false`.
    public var pcm: [Float]
    /// The file's original bytes (verified against `blob`); empty unless the reader keeps them.
    public var bytes: [UInt8]
    /// Whether the bytes were read from the working tree's file (``SampleSource/auto``, the stat
    /// cache vouching that it holds `blob`) rather than from the packs.
    public var fromWorkingTree = false
    /// With a reader made with `pcm16: true`, for a 16-bit PCM WAV neither resampled nor mixed
    /// down: the byte range of `bytes` holding its samples as stored (little-endian int16,
    /// interleaved), and `pcm` is empty (nothing was decoded). nil otherwise.
    public var pcm16: Range<Int>?

    /// Frames in `pcm` (after any resampling); the stored frame count when not decoded (or
    /// handed out as ``pcm16``).
    public var frameCount: Int { pcm.isEmpty ? facts.frameCount : pcm.count / max(channelCount, 1) }
    /// Length in seconds (frames / rate).
    public var duration: Double { sampleRate > 0 ? Double(frameCount) / Double(sampleRate) : 0 }
}

/// Where a ``SnapshotReader`` takes each sample's bytes from.
public enum SampleSource: String, Sendable, CaseIterable {
    /// Always the packs: every blob read, decoded and compared with its SHA-256.
    case store
    /// The working tree's file when the snapshot is HEAD's commit, the stat cache mirrors it
    /// (`schema/0005_stat_cache_base.sql`) and the file's settled row still matches an `fstat`
    /// of the open file before and after it is read (size, mtime, ctime, inode, mode, not racily
    /// clean): the same evidence `dvs status` takes for "unchanged", so its bytes are the
    /// committed blob's and are not hashed again. Every other sample comes from the store.
    case auto
}

/// Reads the samples of one snapshot straight from the packs, without a checkout.
///
/// Samples come in path order. Blobs are read, their SHA-256 verified, decoded (zstd, the PCM16
/// transforms, zstd deltas — the same path checkout uses), then decoded to `Float` with libsndfile
/// (16-bit PCM WAV directly, to the same values) and, when asked, down-mixed to mono and resampled with libsamplerate — on `workers` threads
/// (`core.workers`), with at most `window` samples decoded ahead of the consumer, so memory stays
/// bounded however large the snapshot is. Each worker asks the kernel to start reading the blob
/// `prefetchDistance` samples ahead (`posix_fadvise(WILLNEED)`), so cold disk reads overlap decoding.
/// With ``SampleSource/auto``, samples of HEAD whose working-tree files the stat cache vouches
/// for are read from those files instead (``readFromTree(_:stamp:)``); the bytes are the same.
///
/// ```swift
/// let reader = try SnapshotReader(repository: repo, revision: "cohort/es", targetSampleRate: 16000, mono: true)
/// try reader.forEach { s in train(s.pcm, s.labels["lang"]) }
/// ```
public final class SnapshotReader: @unchecked Sendable {
    /// The repository read from.
    public let repository: Repository
    /// The revision as given (`main`, `cohort/es`, a commit id).
    public let revision: Revision
    /// The commit the revision resolved to when the reader was made (it never moves afterwards).
    public let commit: CommitID
    /// The samples (manifest entries with audio facts) in path order.
    public let entries: [ManifestEntry]
    /// Resample to this rate (Hz); nil keeps each file's own rate.
    public let targetSampleRate: Int?
    /// Down-mix to one channel (the average of the channels).
    public let mono: Bool
    /// Decode PCM (false: only bytes and facts, for `dvs stream` and `dvs run`).
    public let decode: Bool
    /// Keep each file's original bytes in `SnapshotSample.bytes`.
    public let keepBytes: Bool
    /// Hand out 16-bit PCM WAVs that need no conversion as stored samples (``SnapshotSample/pcm16``).
    public let pcm16: Bool
    /// Worker threads.
    public let workers: Int
    /// Most samples decoded ahead of the consumer.
    public let window: Int
    /// Where sample bytes come from (``SampleSource``).
    public let source: SampleSource
    /// With ``SampleSource/auto``: for each entry (same index), the stat cache row of its path
    /// when that row is settled and the cache mirrors this snapshot; empty when the working tree
    /// cannot be used at all.
    let treeStamps: [StatStamp?]

    /// Opens a snapshot for reading.
    /// - Parameters:
    ///   - repository: the repository.
    ///   - revision: any revision `Repository.resolve` accepts.
    ///   - targetSampleRate: resample every sample to this rate (Hz, > 0); nil keeps each file's rate.
    ///   - mono: average the channels into one.
    ///   - decode: decode PCM (default true); false leaves `pcm` empty.
    ///   - keepBytes: also hand out the original file bytes (default false).
    ///   - pcm16: hand out a 16-bit PCM WAV that needs no resampling or mixdown as its stored
    ///     samples (``SnapshotSample/pcm16`` over `bytes`) instead of decoding it (default false).
    ///   - workers: decoding threads (default `core.workers`).
    ///   - window: samples in flight ahead of the consumer (default 4 per worker).
    ///   - source: where sample bytes come from (default ``SampleSource/store``).
    /// - Throws: `DVSError.unknownRevision` for a bad revision; `.corrupt` when its commit or
    ///   manifest cannot be read; `.usage` for a target rate ≤ 0.
    /// - Complexity: reads the manifest (O(n) entries), and with ``SampleSource/auto`` the stat
    ///   cache's stamps (O(n) rows, no audio facts built); no blob is read until iteration.
    public init(
        repository: Repository, revision: Revision, targetSampleRate: Int? = nil, mono: Bool = false,
        decode: Bool = true, keepBytes: Bool = false, pcm16: Bool = false, workers: Int? = nil, window: Int? = nil,
        source: SampleSource = .store
    ) throws {
        if let r = targetSampleRate, r <= 0 {
            throw DVSError(.usage, "target sample rate \(r) Hz is not positive", hint: "use a rate such as 16000")
        }
        self.repository = repository
        self.revision = revision
        commit = try repository.resolve(revision)
        entries = try repository.entries(ofManifest: repository.commit(commit).manifest).filter { $0.audio != nil }
        self.targetSampleRate = targetSampleRate
        self.mono = mono
        self.decode = decode
        self.keepBytes = keepBytes
        self.pcm16 = pcm16
        self.workers = max(1, workers ?? repository.workers)
        self.window = max(1, window ?? self.workers * 4)
        self.source = source
        treeStamps = source == .auto ? Self.treeStamps(repository: repository, commit: commit, entries: entries) : []
    }

    /// The settled stat cache row of each entry's path (same index), when HEAD is `commit` and
    /// the stat cache mirrors it; else empty (nothing is read from the tree). Entries and rows are
    /// both in path byte order: one merge pass.
    static func treeStamps(repository: Repository, commit: CommitID, entries: [ManifestEntry]) -> [StatStamp?] {
        let catalog = repository.catalog
        guard !entries.isEmpty, let head = try? catalog.head(), head.commit == commit, (try? catalog.statCacheBase()) == commit else {
            return []
        }
        var stamps = [StatStamp?](repeating: nil, count: entries.count)
        var i = 0
        var any = false
        do {
            try catalog.forEachStatStamp { path, stamp in
                while i < entries.count, WorkingTree.compare(entries[i].path, path) < 0 { i += 1 }
                guard i < entries.count, WorkingTree.compare(entries[i].path, path) == 0 else { return }
                if !stamp.unsettled, entries[i].kind != .symlink, stamp.byteCount == Int64(clamping: entries[i].byteCount) {
                    stamps[i] = stamp
                    any = true
                }
                i += 1
            }
        } catch { return [] }
        // HEAD and the stat cache's base read again: the rows were read in their own
        // transaction, and a commit landing in between would have settled them for its own
        // snapshot (a same-size file of that commit would pass for this one's, unhashed).
        guard any, (try? catalog.head())?.commit == commit, (try? catalog.statCacheBase()) == commit else { return [] }
        return stamps
    }

    /// Number of samples.
    public var count: Int { entries.count }
    /// Sum of the samples' stored durations, in hours.
    public var hours: Double { entries.reduce(0.0) { $0 + ($1.audio?.duration ?? 0) } / 3600 }

    /// Calls `body` with every sample, in path order (or in `order`), on the calling thread.
    ///
    /// - Parameters:
    ///   - order: indices into `entries` to visit, in this order (a shuffle, a shard); nil visits all in path order.
    ///   - body: receives each sample; an error it throws stops the iteration and is rethrown.
    /// - Throws: `DVSError.corrupt` naming the object and path when a blob is missing or does not
    ///   hash to its id; `.badInput` naming the path when libsndfile cannot decode a sample or
    ///   libsamplerate cannot convert it; whatever `body` throws.
    /// - Complexity: O(total audio) decoding spread over `workers` threads; at most `window`
    ///   decoded samples are held at once.
    public func forEach(order: [Int]? = nil, _ body: (SnapshotSample) throws -> Void) throws {
        let order = order ?? Array(entries.indices)
        if order.isEmpty { return }
        guard repository.partialRemote() != nil else {
            try forEach(order: order, locations: try repository.blobs.locations(), body)
            return
        }
        // A partial clone (or a remote's cache) downloads what these samples lack (a shard: only
        // its own) in windows of the order, each 4× the last from 64 samples: the next window
        // downloads while this one is read, so the first sample waits for one small download,
        // not the whole shard's.
        var windows: [Range<Int>] = []
        var start = 0
        var size = Self.firstDownloadWindow
        while start < order.count {
            windows.append(start..<min(order.count, start + size))
            start += size
            size = min(size * 4, 16384)
        }
        let repository = self.repository
        let entries = self.entries
        @Sendable func wanted(_ w: Range<Int>) -> Set<ObjectID> { Set(order[w].map { entries[$0].blob }) }
        try repository.downloadMissingBlobs(wanted(windows[0]))
        for (k, w) in windows.enumerated() {
            let failure = Locked<(any Error)?>(nil)
            let group = DispatchGroup()
            if k + 1 < windows.count {
                let next = windows[k + 1]
                DispatchQueue.global().async(group: group) {
                    do { try repository.downloadMissingBlobs(wanted(next)) } catch { failure.withLock { $0 = error } }
                }
            }
            // The window's locations, looked up one by one (O(window), not the whole index).
            var locations: [ObjectID: BlobLocation] = [:]
            do {
                for i in order[w] where locations[entries[i].blob] == nil {
                    if let l = try repository.blobs.location(of: entries[i].blob) { locations[entries[i].blob] = l }
                }
                try forEach(order: Array(order[w]), locations: locations, body)
            } catch {
                group.wait()
                throw error
            }
            group.wait()
            if let e = failure.withLock({ $0 }) { throw e }
        }
    }

    /// Samples in the first download window of a partial clone's read (``forEach(order:_:)``).
    static let firstDownloadWindow = 64

    /// ``forEach(order:_:)`` with the blob locations already read (``BatchReader`` reads them once
    /// for many calls).
    func forEach(order: [Int], locations: [ObjectID: BlobLocation], _ body: (SnapshotSample) throws -> Void) throws {
        if order.isEmpty { return }
        let pipe = OrderedPipe<SnapshotSample>(count: order.count, window: window)
        let n = min(workers, order.count)
        let group = DispatchGroup()
        for _ in 0..<n {
            group.enter()
            DispatchQueue.global().async { [self] in
                defer { group.leave() }
                // Every blob's SHA-256 is compared with its id (`PackedBlobStore.read`), so zstd's
                // own frame checksum (XXH64 of the same bytes) is skipped.
                let decompressor = ZstdDecompressor(checksum: false)
                while let i = pipe.claim() {
                    // Start the kernel reading a blob further ahead, so disk reads overlap
                    // decoding when the packs are not in the page cache.
                    let ahead = i + Self.prefetchDistance
                    if ahead < order.count, order[ahead] >= treeStamps.count || treeStamps[order[ahead]] == nil {
                        self.prefetch(entries[order[ahead]].blob, locations: locations)
                    }
                    do {
                        pipe.put(
                            i, .success(try self.read(entries[order[i]], index: order[i], locations: locations, decompressor: decompressor))
                        )
                    } catch { pipe.put(i, .failure(error)) }
                }
            }
        }
        defer {
            pipe.cancel()
            group.wait()
        }
        for i in 0..<order.count {
            let sample = try pipe.take(i).get()
            try body(sample)
        }
    }

    /// All samples at once, in path order. Convenient for small snapshots; holds every sample's PCM.
    /// - Throws: as ``forEach(order:_:)``.
    public func all() throws -> [SnapshotSample] {
        var out: [SnapshotSample] = []
        out.reserveCapacity(count)
        try forEach { out.append($0) }
        return out
    }

    /// How many samples ahead of the one being decoded the kernel is asked to read (about 4 MB
    /// of a typical corpus): far enough that a cold disk read finishes before it is needed.
    /// (Measured on the 10k corpus with cold packs: 4.1 s with no hint, 3.0 s at 32, 3.4 s at 128.)
    static let prefetchDistance = 32

    /// Hints the kernel to read blob `id`'s stored bytes into the page cache (never fails).
    func prefetch(_ id: ObjectID, locations: [ObjectID: BlobLocation]) {
        if let loc = locations[id] { repository.blobs.prefetch(loc) }
    }

    /// The bytes of entry `e`'s file in the working tree, when its stat cache row `stamp` still
    /// holds for the open file before and after reading it (size, mtime, ctime, inode, mode, and
    /// not racily clean): then they are the committed blob's, as `dvs status` would say. nil on
    /// any doubt (no file, another file, a change while it was read, a short read); the caller
    /// reads the store instead.
    func readFromTree(_ e: ManifestEntry, stamp: StatStamp) -> [UInt8]? {
        let fd = TreeWalker.cPath(repository.root, e.path).withUnsafeBufferPointer {
            // O_NONBLOCK: a FIFO or device now at the path must not block the open (it is then
            // refused below: only a regular file can match the stamp).
            open($0.baseAddress!, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0, before.st_mode & S_IFMT == S_IFREG, WorkingTree.isFresh(stamp, TreeFile(path: e.path, before))
        else { return nil }
        let n = Int(stamp.byteCount)
        var complete = false
        let bytes = [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            var off = 0
            while off < n {
                let r = pread(fd, buffer.baseAddress! + off, n - off, off_t(off))
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { break }
                off += r
            }
            initialized = off
            complete = off == n
        }
        // A write to the file while it was read moves its mtime and ctime (the kernel stamps
        // them before copying the data in); a rename over it leaves this inode as it was.
        var after = stat()
        guard complete, fstat(fd, &after) == 0, WorkingTree.isFresh(stamp, TreeFile(path: e.path, after)) else { return nil }
        return bytes
    }

    /// Reads, verifies and decodes one sample.
    func read(_ e: ManifestEntry, index: Int, locations: [ObjectID: BlobLocation], decompressor: ZstdDecompressor) throws -> SnapshotSample
    {
        let bytes: [UInt8]
        var fromTree = false
        if index < treeStamps.count, let stamp = treeStamps[index], let b = readFromTree(e, stamp: stamp) {
            bytes = b
            fromTree = true
        } else {
            do { bytes = try repository.blob(e.blob, location: locations[e.blob], decompressor: decompressor) } catch {
                let d = DVSError.wrap(error)
                throw DVSError(
                    .corrupt, "cannot read sample '\(e.path)' of \(revision) (\(commit.short)): \(d.message)", hint: d.hint,
                    cause: d.cause, underlying: d.underlying, next: d.next ?? (d.hint == nil ? .runFsck : nil))
            }
        }
        var labels: [String: LabelValue] = [:]
        for f in e.annotations?.labels ?? [] { labels[f.name] = f.value }
        let facts = e.audio!
        var sample = SnapshotSample(
            index: index, path: e.path, blob: e.blob, labels: labels, annotations: e.annotations, facts: facts,
            sampleRate: facts.sampleRate, channelCount: facts.channelCount, pcm: [], bytes: keepBytes ? bytes : [],
            fromWorkingTree: fromTree)
        if mono { sample.channelCount = 1 }
        if let r = targetSampleRate { sample.sampleRate = r }
        guard decode else { return sample }
        if pcm16, facts.encoding == "PCM_16", facts.container == "WAV" || facts.container == "WAVEX",
            !mono || facts.channelCount == 1, targetSampleRate == nil || targetSampleRate == facts.sampleRate,
            let (range, channels) = bytes.withUnsafeBytes({ AudioDecoder.pcm16Samples($0, frameCount: facts.frameCount) }),
            channels == facts.channelCount
        {
            sample.bytes = bytes
            sample.pcm16 = range
            sample.sampleRate = facts.sampleRate
            sample.channelCount = channels
            return sample
        }
        do {
            // Plain 16-bit PCM WAV (most corpora) converts directly; everything else goes through libsndfile.
            var audio = try bytes.withUnsafeBytes { b in
                try
                    (facts.encoding == "PCM_16" && (facts.container == "WAV" || facts.container == "WAVEX")
                    ? AudioDecoder.decodePCM16(b, frameCount: facts.frameCount, sampleRate: facts.sampleRate) : nil)
                    ?? AudioDecoder.decode(b)
            }
            if mono { audio = AudioDecoder.downmix(audio) }
            if let r = targetSampleRate { audio = try AudioDecoder.resample(audio, to: r) }
            sample.pcm = audio.pcm
            sample.sampleRate = audio.sampleRate
            sample.channelCount = audio.channelCount
        } catch let e2 as AudioDecodeError {
            throw DVSError(
                .badInput, "cannot decode sample '\(e.path)' (object \(e.blob.short)) of \(revision)",
                cause: e2.message, next: .audioNoLongerDecodes)
        }
        return sample
    }
}

/// Hands out indices to workers no further than `window` ahead of the consumer, and gives their
/// results back in index order.
final class OrderedPipe<T>: @unchecked Sendable {
    private let cond = NSCondition()
    private let count: Int
    private let window: Int
    private var nextClaim = 0
    private var consumed = 0
    private var cancelled = false
    private var ready: [Int: Result<T, Error>] = [:]

    init(count: Int, window: Int) {
        self.count = count
        self.window = window
    }

    /// The next index to produce, waiting while the window is full; nil when done or cancelled.
    func claim() -> Int? {
        cond.lock()
        defer { cond.unlock() }
        while !cancelled && nextClaim < count && nextClaim >= consumed + window { cond.wait() }
        guard !cancelled, nextClaim < count else { return nil }
        defer { nextClaim += 1 }
        return nextClaim
    }

    func put(_ i: Int, _ r: Result<T, Error>) {
        cond.lock()
        defer { cond.unlock() }
        ready[i] = r
        if case .failure = r { nextClaim = count }  // stop handing out more work
        cond.broadcast()
    }

    /// Waits for result `i` (the consumer's next) and removes it.
    func take(_ i: Int) -> Result<T, Error> {
        cond.lock()
        defer { cond.unlock() }
        while ready[i] == nil { cond.wait() }
        consumed = i + 1
        cond.broadcast()
        return ready.removeValue(forKey: i)!
    }

    func cancel() {
        cond.lock()
        defer { cond.unlock() }
        cancelled = true
        cond.broadcast()
    }
}

extension Repository {
    /// A reader over the samples of `revision` (DESIGN.md § Reading snapshots for training):
    /// `SnapshotReader(repository: self, revision:targetSampleRate:mono:)`.
    /// - Throws: as ``SnapshotReader/init(repository:revision:targetSampleRate:mono:decode:keepBytes:workers:window:)``.
    public func snapshot(_ revision: Revision, targetSampleRate: Int? = nil, mono: Bool = false) throws -> SnapshotReader {
        try SnapshotReader(repository: self, revision: revision, targetSampleRate: targetSampleRate, mono: mono)
    }
}
