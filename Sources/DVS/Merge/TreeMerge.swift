import DVSCore
import DVSLabels

/// The in-memory result of merging three snapshots.
struct TreeMergeResult {
    /// The merged tree, sorted by path, without annotations.
    var entries: [ManifestEntry]
    /// Bytes of blobs the merge made (merged label tables and text files), by id.
    var newContent: [ObjectID: [UInt8]]
    /// What could not be merged.
    var conflicts: [MergeConflict]
    /// Their version of files with a content conflict, written beside ours as `PATH~theirs`.
    var sideFiles: [ManifestEntry]
}

/// The three-way merge of snapshot trees, in memory: entries in, entries, new blobs and
/// conflicts out. It reads file content only through `content` (so it runs without a
/// repository or disk) and writes nothing.
///
/// Files by path: a side that left a file as in the base takes the other's version; both
/// sides making the same change merges; a rename on one side (the base's content under one
/// new path, `MergeRenames`) and a modification on the other gives the modified content at the
/// new path. Label tables (CSV/TSV/JSON Lines, as at commit) changed on both sides are merged
/// row by row and field by field (`LabelTableMerge`); other text files line by line
/// (`mergeText`, libgit2's `git_merge_file` by default), with diff3 markers where the same lines
/// changed. Other files (audio, binary, JSON documents) changed both ways are conflicts: ours
/// stays at the path and theirs is written beside it as `PATH~theirs`; in modify/delete the
/// modified version stays. `prefer` resolves every conflict to one side instead.
struct TreeMerge {
    /// A text merge: (base, ours, theirs, prefer) → merged bytes, or nil when the file is not
    /// mergeable by lines (then it is a whole-file conflict).
    typealias TextMerger = ([UInt8], [UInt8], [UInt8], MergePreference?) -> TextMerge.Outcome?

    /// The bytes of a stored blob by id.
    var content: (ObjectID) throws -> [UInt8]
    /// The tree's `dvs.toml` (ours), for reading label tables.
    var labelConfig: LabelConfig = LabelConfig()
    /// Resolves every conflict to one side (`--strategy ours|theirs`); nil records conflicts.
    var prefer: MergePreference?
    /// The line merge of text files that are not label tables.
    var mergeText: TextMerger = TextMerge.merge

    /// Merges `ours` and `theirs` from `base`; each list sorted by path, as manifests hold them.
    /// - Returns: the merged tree (sorted by path, annotations dropped), the bytes of the blobs
    ///   it made, the conflicts and the `PATH~theirs` side files.
    /// - Throws: what `content` throws.
    /// - Complexity: O(n) over the three lists, plus the content merges of paths changed both ways.
    func merge(base: [ManifestEntry], ours: [ManifestEntry], theirs: [ManifestEntry]) throws -> TreeMergeResult {
        // One pass over the three sorted lists: (path, base, ours, theirs) for every path.
        var rows: [MergePathRow] = []
        var fastResult: [ManifestEntry] = []
        fastResult.reserveCapacity(ours.count)
        var i = 0
        var j = 0
        var k = 0
        while i < base.count || j < ours.count || k < theirs.count {
            var p = i < base.count ? base[i].path : nil
            if j < ours.count, p == nil || ours[j].path < p! { p = ours[j].path }
            if k < theirs.count, p == nil || theirs[k].path < p! { p = theirs[k].path }
            let path = p!
            let hasB = i < base.count && base[i].path == path
            let hasO = j < ours.count && ours[j].path == path
            let hasT = k < theirs.count && theirs[k].path == path
            // The common case, the same content on both sides, goes straight to the result
            // without copying entries around (most of a large tree).
            if hasO && hasT && ours[j].sameContent(as: theirs[k]) && ours[j].linkTarget == theirs[k].linkTarget {
                fastResult.append(ours[j])
            } else {
                rows.append(
                    MergePathRow(path: path, base: hasB ? base[i] : nil, ours: hasO ? ours[j] : nil, theirs: hasT ? theirs[k] : nil))
            }
            if hasB { i += 1 }
            if hasO { j += 1 }
            if hasT { k += 1 }
        }
        var result = fastResult
        fastResult = []
        var state = State()
        let ourRenames = MergeRenames.detect(rows, side: \.ours)
        let theirRenames = MergeRenames.detect(rows, side: \.theirs)
        var handled = Set<RepoPath>()
        if !ourRenames.isEmpty || !theirRenames.isEmpty {
            let byPath = Dictionary(rows.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            for (renamed, otherIsTheirs) in [(ourRenames, true), (theirRenames, false)] {
                for (p, q) in renamed.sorted(by: { $0.key < $1.key }) where !handled.contains(p) {
                    guard let r = byPath[p], let modified = otherIsTheirs ? r.theirs : r.ours, !Self.same(modified, r.base) else {
                        continue
                    }
                    var e = modified
                    e.path = q
                    result.append(e)
                    handled.formUnion([p, q])
                }
            }
        }
        // Entries by path, built on first use (only rows kept against a deletion need them).
        var pathIndex: [Bool: [RepoPath: ManifestEntry]] = [:]
        func entry(_ path: RepoPath, ours isOurs: Bool) -> ManifestEntry? {
            if pathIndex[isOurs] == nil {
                pathIndex[isOurs] = Dictionary((isOurs ? ours : theirs).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            }
            return pathIndex[isOurs]?[path]
        }
        for r in rows where handled.isEmpty || !handled.contains(r.path) {
            let (b, o, t) = (r.base, r.ours, r.theirs)
            if Self.same(o, t) {
                if let o { result.append(o) }
                continue
            }
            if Self.same(o, b) {
                if let t { result.append(t) }
                continue
            }
            if Self.same(t, b) {
                if let o { result.append(o) }
                continue
            }
            // Changed both ways: by rows, by lines, or as whole files.
            var tableProblem: String?
            if let o, let t, o.audio == nil, t.audio == nil, o.kind != .symlink, t.kind != .symlink {
                let ob = try content(o.blob)
                let tb = try content(t.blob)
                let bb = try b.flatMap { $0.audio == nil && $0.kind != .symlink ? try content($0.blob) : nil }
                do {
                    if let table = try LabelTableMerge.merge(
                        path: r.path, base: bb, ours: ob, theirs: tb, config: labelConfig, ourRenames: ourRenames,
                        theirRenames: theirRenames, prefer: prefer)
                    {
                        result.append(state.add(table.bytes, at: r.path, kind: o.kind))
                        // A row kept against a deletion keeps the sample it names, from the side that kept it.
                        for kept in table.keptAgainstDeletion {
                            for c in kept.candidates {
                                if let e = entry(c, ours: kept.side == .ours), e.audio != nil {
                                    state.keepSamples[c] = (e, kept.key, r.path)
                                }
                            }
                        }
                        state.conflicts += table.conflicts.map { Self.conflict($0, in: r.path) }
                        continue
                    }
                } catch {
                    tableProblem = error.description
                }
                // Other text files (README, scripts, dvs.toml) merge line by line, as git does.
                // JSON (Deepgram responses, Label Studio exports: machine-written, often one
                // line) stays whole: ours at the path, theirs beside it.
                if tableProblem == nil, b == nil || bb != nil, !r.path.string.lowercased().hasSuffix(".json"),
                    let m = mergeText(bb ?? [], ob, tb, prefer)
                {
                    result.append(state.add(m.bytes, at: r.path, kind: o.kind))
                    if !m.clean {
                        state.conflicts.append(
                            MergeConflict(
                                kind: .text, path: r.path.string, key: nil, field: nil, base: b?.blob.short, ours: o.blob.short,
                                theirs: t.blob.short,
                                message:
                                    "\(r.path): the same lines were \(b == nil ? "added" : "changed") differently on both sides; the file holds conflict markers ('<<<<<<< ours' … '>>>>>>> theirs'); edit it to the version to keep"
                            ))
                    }
                    continue
                }
            }
            wholeFile(r, tableProblem: tableProblem, into: &result, &state)
        }
        // The sample of a row kept against a deletion stays (the deletion of the file and of its
        // row were one change on that side; the edit wins as a whole, or the choice stays open).
        var restored = false
        if !state.keepSamples.isEmpty {
            let present = Set(result.map(\.path))
            for (path, k) in state.keepSamples.sorted(by: { $0.key < $1.key }) where !present.contains(path) {
                result.append(k.entry)
                restored = true
                if let i = state.conflicts.firstIndex(where: { $0.kind == .deleteEdit && $0.key == k.key && $0.path == k.table.string }) {
                    state.conflicts[i].message += "; its audio '\(path)' was kept too (delete both to take the deletion)"
                }
            }
        }
        for i in result.indices where result[i].annotations != nil { result[i].annotations = nil }
        if !rows.isEmpty || restored { result.sort { $0.path < $1.path } }
        return TreeMergeResult(entries: result, newContent: state.newContent, conflicts: state.conflicts, sideFiles: state.sideFiles)
    }

    /// What the merge gathers besides the merged entries.
    private struct State {
        /// Samples that must stay because a label row naming them was kept against a deletion:
        /// the sample's entry, the row's key and the table.
        var keepSamples: [RepoPath: (entry: ManifestEntry, key: String, table: RepoPath)] = [:]
        var conflicts: [MergeConflict] = []
        var newContent: [ObjectID: [UInt8]] = [:]
        var sideFiles: [ManifestEntry] = []

        /// Records merged bytes as a new blob; returns the entry for `path`.
        mutating func add(_ bytes: [UInt8], at path: RepoPath, kind: FileKind) -> ManifestEntry {
            let id = ObjectID.hashing(bytes)
            newContent[id] = bytes
            return ManifestEntry(path: path, kind: kind, blob: id, byteCount: UInt64(bytes.count))
        }
    }

    /// A file changed both ways that could not be merged by rows or lines: a whole-file conflict
    /// (or the preferred side).
    private func wholeFile(_ r: MergePathRow, tableProblem: String?, into result: inout [ManifestEntry], _ state: inout State) {
        let (p, b, o, t) = (r.path, r.base, r.ours, r.theirs)
        let kind: MergeConflict.Kind =
            o == nil ? .deleteModify : t == nil ? .modifyDelete : tableProblem != nil ? .table : b == nil ? .addAdd : .modifyModify
        switch prefer {
        case .ours?: if let o { result.append(o) }
        case .theirs?: if let t { result.append(t) }
        case nil:
            if let o { result.append(o) } else if let t { result.append(t) }
            var message: String
            switch kind {
            case .deleteModify:
                message = "\(p): deleted by us, modified by them; their version is in the tree (delete it to take the deletion)"
            case .modifyDelete: message = "\(p): modified by us, deleted by them; our version stays (delete it to take the deletion)"
            default:
                message =
                    "\(p): \(kind == .addAdd ? "added" : "changed") differently on both sides\(tableProblem.map { " and cannot be merged row by row (\($0))" } ?? ""); ours stays, theirs is in '\(p)~theirs' (keep one, delete '\(p)~theirs')"
                if var side = t {
                    side.path = RepoPath(p.string + "~theirs")
                    state.sideFiles.append(side)
                }
            }
            state.conflicts.append(
                MergeConflict(
                    kind: kind, path: p.string, key: nil, field: nil, base: b?.blob.short, ours: o?.blob.short, theirs: t?.blob.short,
                    message: message))
        }
    }

    /// A label table's row conflict as a merge conflict of the table at `path`.
    static func conflict(_ c: RowConflict, in path: RepoPath) -> MergeConflict {
        let what: String
        let kind: MergeConflict.Kind
        switch c.kind {
        case .deleteEdit:
            kind = .deleteEdit
            what =
                "row \(c.key) was \(c.ours == nil ? "deleted by us" : "edited by us") and \(c.theirs == nil ? "deleted by them" : "edited by them"); the edited row was kept (delete it to take the deletion)"
        case .field, .addAdd:
            kind = c.kind == .addAdd ? .addAddRow : .field
            what =
                "row \(c.key) field \(c.field ?? ""): base \(c.base ?? "(none)"), ours \(c.ours ?? "(none)"), theirs \(c.theirs ?? "(none)"); the cell holds conflict markers"
        }
        return MergeConflict(
            kind: kind, path: path.string, key: c.key, field: c.field, base: c.base, ours: c.ours, theirs: c.theirs,
            message: "\(path): \(what)")
    }

    /// Whether two optional entries hold the same content (both absent counts as the same).
    static func same(_ a: ManifestEntry?, _ b: ManifestEntry?) -> Bool { sameFile(a, b) }
}

extension TreeMerge {
    /// The label configuration (`dvs.toml`) of a snapshot, its bytes read through `content`; the
    /// defaults when it has none or it cannot be read.
    static func labelConfig(of entries: [ManifestEntry], content: (ObjectID) throws -> [UInt8]) -> LabelConfig {
        let path = RepoPath(LabelBuilder.configPath)
        guard let c = entries.first(where: { $0.path == path }), let bytes = try? content(c.blob) else { return LabelConfig() }
        return LabelConfig.parse(String(decoding: bytes, as: UTF8.self), file: LabelBuilder.configPath).config
    }
}

extension Repository {
    /// Merges three snapshots in memory (`TreeMerge`), reading content from this repository's
    /// store and label declarations from our `dvs.toml` (`MergeOperation.mergeTrees`).
    /// - Throws: `DVSError` when a blob cannot be read.
    func mergeTrees(base: [ManifestEntry], ours: [ManifestEntry], theirs: [ManifestEntry], prefer: MergePreference?) throws
        -> TreeMergeResult
    {
        // A partial clone: the label tables and sidecars a three-way merge reads (the caller
        // holds the lock).
        if let partial = partialRemote() {
            let tables = (base + ours + theirs).filter { $0.audio == nil && $0.kind != .symlink }.map(\.blob)
            try ensureBlobs(Set(tables), remote: partial, progress: nil)
        }
        return try mergeOperation.mergeTrees(base: base, ours: ours, theirs: theirs, prefer: prefer)
    }
}
