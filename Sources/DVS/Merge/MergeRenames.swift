import DVSCore

/// One path of a three-way tree merge: its entry at the base and on each side (nil: absent).
struct MergePathRow: Equatable {
    /// The tree path.
    var path: RepoPath
    /// The entry at the merge base.
    var base: ManifestEntry?
    /// Our entry.
    var ours: ManifestEntry?
    /// Their entry.
    var theirs: ManifestEntry?
}

/// Rename detection for a merge, on `renamePairs`, the rule `dvs diff` and `dvs status` share (a
/// deleted path paired with an added path of the same content), narrowed as a merge needs it: a
/// content added under more than one path, or as a symlink, is no rename (which of the copies
/// would an edit on the other side follow?).
enum MergeRenames {
    /// Renames on one side: base paths the side lacks whose content the side added under exactly
    /// one new path, old path → new path. Only `rows` (paths not settled by both sides having
    /// the same content) are looked at.
    /// - Parameters:
    ///   - side: `\.ours` or `\.theirs`.
    /// - Complexity: O(rows).
    static func detect(_ rows: [MergePathRow], side: KeyPath<MergePathRow, ManifestEntry?>) -> [RepoPath: RepoPath] {
        var addedCount: [ObjectID: Int] = [:]
        var anyDeleted = false
        for r in rows {
            if r.base == nil, let e = r[keyPath: side], e.kind != .symlink { addedCount[e.blob, default: 0] += 1 }
            if r.base != nil, r[keyPath: side] == nil { anyDeleted = true }
        }
        guard anyDeleted, !addedCount.isEmpty else { return [:] }
        var changes: [Change] = []
        for r in rows {
            if let b = r.base, r[keyPath: side] == nil {
                changes.append(Change(kind: .deleted, path: r.path, old: b, new: nil))
            } else if r.base == nil, let e = r[keyPath: side], e.kind != .symlink, addedCount[e.blob] == 1 {
                changes.append(Change(kind: .added, path: r.path, old: nil, new: e))
            }
        }
        var out: [RepoPath: RepoPath] = [:]
        for (d, a) in renamePairs(changes) { out[changes[d].path] = changes[a].path }
        return out
    }
}
