import DVSCore
import DVSStorage

/// Commits and their manifests, read from and written to an object store.
///
/// A snapshot is a commit object naming the root of a chunked manifest (a content-defined
/// B-tree of ``ManifestChunk``s, `schema/FORMAT.md` § Manifest chunk). This type reads commits,
/// walks manifests (leaves decoded on `workers` threads) and writes the chunks of new ones. It
/// needs nothing but an ``ObjectStore``, so it can be built over an `InMemoryObjectStore` and
/// tested without a repository on disk.
///
/// Because chunk boundaries depend only on paths and chunks are content-addressed, two manifests
/// share every subtree whose entries are equal; ``differingEntries(_:_:)`` uses that to compare
/// snapshots in time proportional to what differs.
public struct SnapshotStore: Sendable {
    /// Where commits and manifest chunks live.
    public let objects: any ObjectStore
    /// Threads used to read and decode manifest leaves (≥ 1).
    public var workers: Int { max(1, workerCount.value) }
    private let workerCount: Deferred<Int>

    /// Creates a store over `objects`, decoding leaves on `workers` threads (clamped to ≥ 1).
    public init(objects: any ObjectStore, workers: Int) {
        self.objects = objects
        workerCount = Deferred(value: workers)
    }

    /// Creates a store over `objects` whose worker count `workers` gives on first use (a repository's
    /// reads a setting and the processor count, which commands that walk no manifest never need).
    init(objects: any ObjectStore, workers: @escaping @Sendable () -> Int) {
        self.objects = objects
        workerCount = Deferred(workers)
    }

    // MARK: Commits

    /// Reads and decodes a commit.
    /// - Throws: `DVSError.corrupt` naming the commit when it is missing or damaged.
    public func commit(_ id: CommitID) throws -> Commit {
        do { return try Commit.decode(objects.read(id.object)) } catch {
            let e = DVSError.wrap(error)
            throw DVSError(
                .corrupt, "cannot read commit '\(id.hex)': \(e.message)", cause: e.cause, underlying: e, next: .listDamagedObjects)
        }
    }

    // MARK: Manifests

    /// Reads and decodes one manifest chunk.
    /// - Throws: `DVSError.corrupt` naming the chunk when it is missing or damaged.
    public func chunk(_ id: ObjectID) throws -> ManifestChunk {
        do { return try ManifestChunk.decode(objects.read(id)) } catch {
            let e = DVSError.wrap(error)
            throw DVSError(.corrupt, "cannot read manifest chunk '\(id.hex)': \(e.message)", underlying: e, next: .listDamagedObjects)
        }
    }

    /// All entries of a manifest, sorted by path.
    ///
    /// Inner chunks are read first (a few), then the leaves are read, decompressed and decoded
    /// on ``workers`` threads and concatenated in order.
    /// - Throws: `DVSError.corrupt` naming the damaged chunk.
    /// - Complexity: O(n) in entries; reads every chunk.
    public func entries(ofManifest root: ObjectID) throws -> [ManifestEntry] {
        var out: [ManifestEntry] = []
        for (_, es) in try leafEntries(ofManifest: root) { out.append(contentsOf: es) }
        return out
    }

    /// The leaves of a manifest with their entries, in path order; leaves found in `known` (by
    /// id: chunks are content-addressed, so equal ids hold equal entries) are not read again.
    /// Snapshots of related commits share most leaves, so a merge decodes only what differs.
    /// - Throws: `DVSError.corrupt` naming the damaged chunk.
    public func leafEntries(
        ofManifest root: ObjectID, reusing known: [ObjectID: [ManifestEntry]] = [:]
    ) throws -> [(ObjectID, [ManifestEntry])] {
        var leaves: [ObjectID] = []
        var rootLeaf: [ManifestEntry]?
        try collectLeaves(root, into: &leaves, rootLeaf: &rootLeaf)
        if let rootLeaf { return [(root, rootLeaf)] }
        let todo = leaves.indices.filter { known[leaves[$0]] == nil }
        let read = try readLeaves(todo.map { leaves[$0] })
        var byIndex: [Int: [ManifestEntry]] = [:]
        for (t, es) in zip(todo, read) { byIndex[t] = es }
        let out = leaves.indices.map { i in (leaves[i], known[leaves[i]] ?? byIndex[i] ?? []) }
        try Self.checkLeafOrder(out, root: root)
        return out
    }

    /// Checks that consecutive leaves hold paths in order without overlap (each leaf is sorted
    /// on decode; this catches an inner chunk whose children overlap or are out of order).
    /// - Throws: `DVSError.corrupt` naming both leaves and the manifest.
    static func checkLeafOrder(_ leaves: [(ObjectID, [ManifestEntry])], root: ObjectID) throws {
        var previous: (id: ObjectID, last: RepoPath)?
        for (id, entries) in leaves {
            guard let first = entries.first, let last = entries.last else { continue }
            if let p = previous, !(p.last < first.path) {
                throw DVSError(
                    .corrupt,
                    "manifest '\(root.hex)' is malformed: its chunks '\(p.id.hex)' and '\(id.hex)' overlap or are out of order (at '\(first.path)')",
                    next: .runFsck)
            }
            previous = (id, last.path)
        }
    }

    /// Leaf ids of the manifest at `id` in path order; when `id` is itself a leaf, its entries
    /// go to `rootLeaf` instead.
    /// - Throws: `DVSError.corrupt` when a chunk is damaged or a leaf sits above level 1.
    public func collectLeaves(_ id: ObjectID, into out: inout [ObjectID], rootLeaf: inout [ManifestEntry]?) throws {
        switch try chunk(id) {
        case .leaf(let es): rootLeaf = es
        case .inner(let level, let children):
            if level == 1 {
                out.append(contentsOf: children.map(\.id))
                return
            }
            for c in children {
                var leaf: [ManifestEntry]?
                try collectLeaves(c.id, into: &out, rootLeaf: &leaf)
                if leaf != nil {
                    throw DVSError(.corrupt, "manifest chunk '\(c.id.hex)' is a leaf under a level-\(level) chunk", next: .runFsck)
                }
            }
        }
    }

    /// The entries of the leaves `ids`, in the order given, read on ``workers`` threads.
    /// - Throws: `DVSError.corrupt` when one is damaged or is not a leaf.
    func readLeaves(_ ids: [ObjectID]) throws -> [[ManifestEntry]] {
        let results = SlotBuffer<[ManifestEntry]>(count: ids.count)
        try parallelBatches(ids.count, workers: workers, batch: 8) { _, range in
            for i in range {
                guard case .leaf(let es) = try self.chunk(ids[i]) else {
                    throw DVSError(.corrupt, "manifest chunk '\(ids[i].hex)' is not a leaf where a leaf belongs", next: .runFsck)
                }
                results[i] = es
            }
        }
        return ids.indices.map { results.take($0) ?? [] }
    }

    /// The entries in which two manifests can differ: those of the subtrees of `a` and of `b`
    /// that the other manifest does not share, each list sorted by path.
    ///
    /// Every entry outside the returned lists is present, identical, in both manifests (a chunk
    /// id names its whole subtree), so `diffEntries(old, new)` over the result equals
    /// `diffEntries` over the full entry lists. Inner chunks are expanded highest level first on
    /// both sides together and ids present on both frontiers are dropped, so a change of *k*
    /// entries reads O(*k* · log *n*) chunks.
    /// - Throws: `DVSError.corrupt` naming a damaged chunk.
    public func differingEntries(_ a: ObjectID, _ b: ObjectID) throws -> (old: [ManifestEntry], new: [ManifestEntry]) {
        if a == b { return ([], []) }
        struct Node: Hashable {
            var id: ObjectID
            var level: Int
        }
        func node(_ id: ObjectID) throws -> (Node, ManifestChunk) {
            let c = try chunk(id)
            if case .inner(let level, _) = c { return (Node(id: id, level: level), c) }
            return (Node(id: id, level: 0), c)
        }
        var loaded: [ObjectID: ManifestChunk] = [:]
        let (ra, ca) = try node(a)
        let (rb, cb) = try node(b)
        loaded[a] = ca
        loaded[b] = cb
        var left: Set<Node> = [ra]
        var right: Set<Node> = [rb]
        while true {
            let top = max(left.map(\.level).max() ?? 0, right.map(\.level).max() ?? 0)
            if top == 0 { break }
            func expand(_ side: inout Set<Node>) throws {
                for n in side where n.level == top {
                    side.remove(n)
                    let c = try loaded.removeValue(forKey: n.id) ?? chunk(n.id)
                    guard case .inner(_, let children) = c else {
                        throw DVSError(.corrupt, "manifest chunk '\(n.id.hex)' is a leaf at level \(top)", next: .runFsck)
                    }
                    for child in children { side.insert(Node(id: child.id, level: top - 1)) }
                }
            }
            try expand(&left)
            try expand(&right)
            let shared = left.intersection(right)
            left.subtract(shared)
            right.subtract(shared)
        }
        func entries(_ side: Set<Node>) throws -> [ManifestEntry] {
            var cached: [[ManifestEntry]] = []
            var toRead: [ObjectID] = []
            for n in side {
                if case .leaf(let es)? = loaded[n.id] { cached.append(es) } else { toRead.append(n.id) }
            }
            var all = cached.flatMap { $0 }
            for es in try readLeaves(toRead) { all.append(contentsOf: es) }
            all.sort { $0.path < $1.path }
            return all
        }
        return (try entries(left), try entries(right))
    }

    /// The changes from manifest `a` to manifest `b`, reading only the chunks they do not share
    /// (see ``differingEntries(_:_:)``); equal to `diffEntries` over their full entry lists.
    /// - Throws: `DVSError.corrupt` naming a damaged chunk.
    public func changes(from a: ObjectID, to b: ObjectID) throws -> [Change] {
        let (old, new) = try differingEntries(a, b)
        return diffEntries(old, new)
    }

    /// Writes the chunks of a manifest for `entries` (sorted by path, no duplicates) that are
    /// not stored yet.
    /// - Returns: the root id, totals, and how many bytes of new chunks were written.
    /// - Throws: a storage error when a chunk cannot be written.
    public func writeManifest(_ entries: [ManifestEntry]) throws -> (root: ObjectID, totals: ManifestTotals, bytesWritten: UInt64) {
        var written: UInt64 = 0
        let built = try ManifestChunk.build(entries) { id, bytes in
            guard !objects.contains(id) else { return }
            try objects.write(bytes, id: id)
            written += UInt64(bytes.count)
        }
        return (built.root, built.totals, written)
    }
}
