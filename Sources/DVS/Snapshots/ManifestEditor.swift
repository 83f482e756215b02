import DVSCore
import DVSStorage

/// One manifest, read by the paths asked for and edited without decoding the rest.
///
/// Built from a manifest's root, it reads the inner chunks only (≈ n / 1,000 of them: one
/// reference per leaf), so it knows every leaf's first path. ``entries(at:)`` then reads just the
/// leaves that hold the paths asked for, and ``applying(_:)`` re-cuts just the stretch of leaves
/// the edits fall in and rebuilds the inner levels over the leaf references — giving exactly the
/// chunks ``ManifestChunk/build(_:)`` would give for the edited entry list (leaf boundaries
/// depend only on paths, so once a re-cut leaf ends where an old leaf ended, every later leaf is
/// the old one).
///
/// This is how a commit of *k* changed files costs O(*k*) leaf reads instead of O(*n*) entries.
struct ManifestEditor {
    /// Where the chunks are read from.
    let store: SnapshotStore
    /// The manifest's root chunk.
    let root: ObjectID
    /// References to the leaves in path order; empty when the root is itself a leaf.
    private(set) var leaves: [ManifestChunk.ChildRef] = []
    /// The entries of a root that is a leaf (a manifest of at most one leaf).
    private var rootLeaf: [ManifestEntry]?
    /// Leaves read so far, by index in ``leaves``.
    private var read: [Int: [ManifestEntry]] = [:]

    /// Reads the inner chunks of the manifest at `root`.
    /// - Throws: `DVSError.corrupt` naming a damaged chunk.
    /// - Complexity: O(n / 16) references read (one per leaf).
    init(store: SnapshotStore, root: ObjectID) throws {
        self.store = store
        self.root = root
        switch try store.chunk(root) {
        case .leaf(let es): rootLeaf = es
        case .inner(let level, let children): try collect(level: level, children: children)
        }
    }

    private mutating func collect(level: Int, children: [ManifestChunk.ChildRef]) throws {
        if level == 1 {
            leaves.append(contentsOf: children)
            return
        }
        for c in children {
            guard case .inner(let l, let grandchildren) = try store.chunk(c.id), l == level - 1 else {
                throw DVSError(.corrupt, "manifest chunk '\(c.id.hex)' is not an inner chunk of level \(level - 1)", next: .runFsck)
            }
            try collect(level: l, children: grandchildren)
        }
    }

    /// The index of the leaf that holds (or would hold) `path`: the last leaf whose first path is
    /// not after it, or the first leaf.
    private func leafIndex(_ path: RepoPath) -> Int {
        var lo = 0
        var hi = leaves.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if path < leaves[mid].firstPath { hi = mid } else { lo = mid + 1 }
        }
        return max(lo - 1, 0)
    }

    /// Reads the leaves at `indices` not read yet (on the store's worker threads).
    private mutating func load(_ indices: [Int]) throws {
        let todo = Array(Set(indices.filter { read[$0] == nil })).sorted()
        guard !todo.isEmpty else { return }
        for (i, es) in zip(todo, try store.readLeaves(todo.map { leaves[$0].id })) { read[i] = es }
    }

    /// The manifest's entries at `paths`; a path the manifest does not hold is absent.
    /// - Throws: `DVSError.corrupt` naming a damaged leaf.
    /// - Complexity: reads at most one leaf per path.
    mutating func entries(at paths: [RepoPath]) throws -> [RepoPath: ManifestEntry] {
        var out: [RepoPath: ManifestEntry] = [:]
        if let rootLeaf {
            let wanted = Set(paths)
            for e in rootLeaf where wanted.contains(e.path) { out[e.path] = e }
            return out
        }
        let indices = paths.map(leafIndex)
        try load(indices)
        for (p, i) in zip(paths, indices) {
            if let e = Self.find(p, in: read[i] ?? []) { out[p] = e }
        }
        return out
    }

    private static func find(_ path: RepoPath, in entries: [ManifestEntry]) -> ManifestEntry? {
        var lo = 0
        var hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].path < path { lo = mid + 1 } else { hi = mid }
        }
        return lo < entries.count && entries[lo].path == path ? entries[lo] : nil
    }

    /// `entries` (sorted) with `edits` applied: an entry replaces the one at its path or is
    /// inserted; nil deletes.
    private static func merged(_ entries: [ManifestEntry], _ edits: [(RepoPath, ManifestEntry?)]) -> [ManifestEntry] {
        var out: [ManifestEntry] = []
        out.reserveCapacity(entries.count + edits.count)
        var i = 0
        for (p, e) in edits {
            while i < entries.count && entries[i].path < p {
                out.append(entries[i])
                i += 1
            }
            if i < entries.count && entries[i].path == p { i += 1 }
            if let e { out.append(e) }
        }
        out.append(contentsOf: entries[i...])
        return out
    }

    /// The chunks of this manifest with `edits` applied (path → new entry, nil to delete; an
    /// entry's path must be its key).
    ///
    /// - Returns: the new root and totals, and the chunks that make it that this manifest does
    ///   not share (new leaves, then every inner chunk: the caller stores those not stored yet).
    ///   Equal, chunk for chunk, to ``ManifestChunk/build(_:)`` of the edited entry list.
    /// - Throws: `DVSError.corrupt` naming a damaged leaf.
    /// - Complexity: reads and re-cuts the leaves the edits fall in (and, rarely, the next one
    ///   when a boundary moved), then O(n / 16) hashing for the inner levels.
    mutating func applying(_ edits: [RepoPath: ManifestEntry?]) throws -> (
        root: ObjectID, totals: ManifestTotals, chunks: [(id: ObjectID, bytes: [UInt8])]
    ) {
        let sorted = edits.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let rootLeaf {
            return ManifestChunk.build(Self.merged(rootLeaf, sorted))
        }
        var byLeaf: [Int: [(RepoPath, ManifestEntry?)]] = [:]
        for edit in sorted { byLeaf[leafIndex(edit.0), default: []].append(edit) }
        let affected = byLeaf.keys.sorted()
        try load(affected)
        var refs: [ManifestChunk.ChildRef] = []
        var chunks: [(id: ObjectID, bytes: [UInt8])] = []
        var next = 0  // first old leaf not yet copied or re-cut
        for start in affected where start >= next {
            refs.append(contentsOf: leaves[next..<start])
            var j = start
            var pending: [ManifestEntry] = []
            while j < leaves.count {
                if read[j] == nil { try load([j]) }
                pending.append(contentsOf: Self.merged(read[j] ?? [], byLeaf[j] ?? []))
                let last = j == leaves.count - 1
                let (made, consumed) = ManifestChunk.buildLeaves(pending, final: last)
                for m in made {
                    refs.append(m.ref)
                    chunks.append((m.ref.id, m.bytes))
                }
                pending.removeFirst(consumed)
                j += 1
                // The last cut ended where old leaf j - 1 ended: from here on, the old leaves.
                if pending.isEmpty && byLeaf[j] == nil { break }
            }
            next = j
        }
        refs.append(contentsOf: leaves[min(next, leaves.count)...])
        if refs.isEmpty { return ManifestChunk.build([]) }
        let upper = ManifestChunk.buildInner(refs)
        return (upper.root, upper.totals, chunks + upper.chunks)
    }
}
