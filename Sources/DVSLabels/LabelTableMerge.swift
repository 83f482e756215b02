import DVSCore
import Foundation

// Three-way merge of label tables: row by row, keyed by sample, field by field inside a row
// (`RowTable.merge`), and one table of a tree merge with the renames of its files
// (`LabelTableMerge.merge`). Pure: bytes in, bytes and conflicts out.

/// A disagreement found by `RowTable.merge`.
public struct RowConflict: Sendable, Hashable, Codable {
    /// What disagreed; encoded as its raw value (`field`, `delete-edit`, `add-add`).
    public enum Kind: String, Sendable, Hashable, Codable, CustomStringConvertible {
        /// One field changed two different ways.
        case field
        /// A row deleted on one side and edited on the other.
        case deleteEdit = "delete-edit"
        /// Both sides added the row with different values in a field.
        case addAdd = "add-add"

        /// The raw value, as conflicts are named to people.
        public var description: String { rawValue }
    }

    /// What disagreed.
    public var kind: Kind
    /// The row's key.
    public var key: String
    /// The field, for `field` and `add-add`.
    public var field: String?
    /// Values (nil: absent). For `delete-edit`, the row's key-field text on sides that have it.
    public var base: String?
    /// Our value.
    public var ours: String?
    /// Their value.
    public var theirs: String?
}

/// Which side wins a conflict.
public enum MergePreference: String, Sendable, Codable {
    /// Our value or action.
    case ours
    /// Their value or action.
    case theirs
}

extension RowTable {
    /// The text written into a cell whose field conflicts (and no side was preferred), after
    /// git's diff3 markers, so a user finds it and a later commit can refuse it.
    public static func conflictCell(base: String?, ours: String?, theirs: String?) -> String {
        "<<<<<<< ours: \(ours ?? "(none)") ||||||| base: \(base ?? "(none)") ======= theirs: \(theirs ?? "(none)") >>>>>>>"
    }

    /// Merges two versions of a table row by row, keyed by sample, and field by field inside a
    /// row, from their common version.
    ///
    /// Rules (for a key, base b, ours o, theirs t): a side that left a row as in the base takes
    /// the other side's version (edit, add or delete); when both changed it, each field is merged
    /// the same way, and a field changed two different ways is a `field` conflict. A row deleted on
    /// one side and edited on the other is a `delete-edit` conflict (the edited row is kept). Rows
    /// are written in our order, then rows only they added, in their order. Untouched rows keep
    /// their bytes; merged rows are rendered in our layout. Columns: ours, minus those they
    /// removed, plus those they added (then every row is rendered, as cells move).
    /// - Parameters:
    ///   - base: the table at the merge base, nil when it did not exist (both sides added it).
    ///   - prefer: resolves every conflict to one side (and records nothing); nil writes
    ///     `conflictCell` into conflicting cells and keeps edited rows of delete-edit conflicts.
    /// - Returns: the merged table and its conflicts.
    /// - Throws: `Refusal` when the sides use different layouts or key fields.
    public static func merge(base: RowTable?, ours: RowTable, theirs: RowTable, prefer: MergePreference? = nil) throws(Refusal) -> (
        RowTable, [RowConflict]
    ) {
        let m = try mergeDetailed(base: base, ours: ours, theirs: theirs, prefer: prefer)
        return (m.table, m.conflicts)
    }

    /// What `mergeDetailed` returns.
    public struct MergeOutcome: Sendable {
        /// The merged table.
        public var table: RowTable
        /// Conflicts (none when a side is preferred).
        public var conflicts: [RowConflict]
        /// Rows kept although the other side deleted them (delete-edit, with or without a
        /// preference), with the side whose edit was kept: the sample they name must stay too.
        public var keptAgainstDeletion: [(key: String, reference: String, side: MergePreference)]
    }

    /// `merge`, also reporting the rows kept against a deletion.
    /// - Throws: as `merge`.
    public static func mergeDetailed(base: RowTable?, ours: RowTable, theirs: RowTable, prefer: MergePreference? = nil) throws(Refusal)
        -> MergeOutcome
    {
        var kept: [(key: String, reference: String, side: MergePreference)] = []
        guard ours.layout == theirs.layout, ours.keyField == theirs.keyField,
            base.map({ $0.layout == ours.layout && $0.keyField == ours.keyField }) ?? true
        else {
            throw Refusal(description: "\(ours.path): the two sides write the table differently (delimiter, quoting or key column)")
        }
        var out = ours
        var columns = ours.columns
        let baseColumns = base?.columns ?? ours.columns
        if ours.columns != theirs.columns {
            columns.removeAll { baseColumns.contains($0) && !theirs.columns.contains($0) && $0 != ours.keyField }
            for c in theirs.columns where !baseColumns.contains(c) && !columns.contains(c) { columns.append(c) }
        }
        let reshaped = columns != ours.columns
        out.columns = columns
        if reshaped, case .delimited(let d, _) = ours.layout {
            let header = columns.joined(separator: String(UnicodeScalar(d)))
            var bom: [UInt8] = []
            if ours.prefix.starts(with: [0xEF, 0xBB, 0xBF]) { bom = [0xEF, 0xBB, 0xBF] }
            out.prefix = bom + Array(header.utf8) + ours.lineEnd
        }
        let b = Dictionary((base?.rows ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let t = Dictionary(theirs.rows.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let oKeys = Set(ours.rows.map(\.key))
        var conflicts: [RowConflict] = []
        var rows: [Row] = []
        rows.reserveCapacity(ours.rows.count)
        func same(_ x: Row, _ y: Row) -> Bool { x.fields == y.fields }
        // Their rows keep their bytes only when written with our columns and line ends.
        let theirBytesFit = theirs.columns == columns && theirs.lineEnd == ours.lineEnd
        func fromTheirs(_ r: Row) -> Row {
            var r = r
            if !theirBytesFit { r.raw = nil }
            return r
        }
        for o in ours.rows {
            let br = b[o.key]
            let tr = t[o.key]
            guard let tr else {
                // They deleted it (or never had it).
                if let br, !same(br, o) {
                    if prefer == .theirs { continue }
                    if prefer == nil {
                        conflicts.append(
                            RowConflict(kind: .deleteEdit, key: o.key, field: nil, base: br.reference, ours: o.reference, theirs: nil))
                    }
                    kept.append((o.key, o.reference, .ours))
                    rows.append(o)
                } else if br == nil {
                    rows.append(o)
                }
                continue
            }
            if same(o, tr) || (br.map { same($0, tr) } ?? false) {
                rows.append(o)
                continue
            }
            if let br, same(br, o) {
                rows.append(fromTheirs(tr))
                continue
            }
            // Both changed the row (or both added it): field by field.
            var merged = o
            merged.raw = nil
            var names = o.order.filter { o.fields[$0] != nil }
            for n in tr.order where tr.fields[n] != nil && !names.contains(n) { names.append(n) }
            for n in (br?.fields.keys.sorted() ?? []) where !names.contains(n) { names.append(n) }
            for n in names {
                let bv = br?.fields[n]
                let ov = o.fields[n]
                let tv = tr.fields[n]
                if ov == tv { continue }
                if ov == bv {
                    merged.fields[n] = tv
                    continue
                }
                if tv == bv { continue }
                switch prefer {
                case .ours?: continue
                case .theirs?: merged.fields[n] = tv
                case nil:
                    conflicts.append(
                        RowConflict(kind: br == nil ? .addAdd : .field, key: o.key, field: n, base: bv, ours: ov, theirs: tv))
                    merged.fields[n] = conflictCell(base: bv, ours: ov, theirs: tv)
                }
            }
            if merged.fields == o.fields { merged.raw = o.raw }
            merged.order = names
            rows.append(merged)
        }
        for tr in theirs.rows where !oKeys.contains(tr.key) {
            guard let br = b[tr.key] else {
                rows.append(fromTheirs(tr))
                continue
            }  // they added it
            if same(br, tr) { continue }  // we deleted it, they left it
            if prefer == .ours { continue }
            if prefer == nil {
                conflicts.append(
                    RowConflict(kind: .deleteEdit, key: tr.key, field: nil, base: br.reference, ours: nil, theirs: tr.reference))
            }
            kept.append((tr.key, tr.reference, .theirs))
            rows.append(fromTheirs(tr))
        }
        if reshaped { for i in rows.indices { rows[i].raw = nil } }
        out.rows = rows
        return MergeOutcome(table: out, conflicts: conflicts, keptAgainstDeletion: kept)
    }
}

/// The three-way merge of one label table inside a tree merge: the three versions' bytes are
/// read as row tables (`RowTable.read`, the detection rules of commit), references to files one
/// side renamed are renamed in the base's and the other side's rows, and the rows are merged
/// (`RowTable.mergeDetailed`). Pure: no repository, no disk.
public enum LabelTableMerge {
    /// A row kept although the other side deleted it: the sample it names must stay too.
    public struct KeptRow: Sendable, Hashable {
        /// The row's key.
        public var key: String
        /// The audio reference as written.
        public var reference: String
        /// The side whose edit was kept.
        public var side: MergePreference
        /// Tree paths the reference may mean, in the order `LabelBuilder` tries them.
        public var candidates: [RepoPath]
    }

    /// The merge of one table.
    public struct Outcome: Sendable {
        /// The merged table's bytes: untouched rows byte for byte, merged rows rendered in our
        /// layout, conflicting cells holding `RowTable.conflictCell`.
        public var bytes: [UInt8]
        /// Row-level conflicts (none when a side is preferred).
        public var conflicts: [RowConflict]
        /// Rows kept against a deletion (delete-edit), with the side that kept them.
        public var keptAgainstDeletion: [KeptRow]
    }

    /// Merges three versions of the file at `path` row by row when it is a label table.
    /// - Parameters:
    ///   - path: the table's tree path (its name and folder decide the layout, as at commit).
    ///   - base: the bytes at the merge base; nil when the file did not exist there (or was not
    ///     a plain file).
    ///   - ours, theirs: each side's bytes.
    ///   - config: the tree's `dvs.toml`.
    ///   - ourRenames, theirRenames: files each side renamed (old tree path → new tree path);
    ///     rows the renaming side renamed too are renamed in the other versions first, so an edit
    ///     there follows the file.
    ///   - prefer: resolves every conflict to one side (`RowTable.merge`).
    /// - Returns: nil when `ours` or `theirs` is not a row table (the caller merges it as text
    ///   or as a whole file).
    /// - Throws: `RowTable.Refusal` when a version is a table that cannot be read row by row, or
    ///   the sides write it differently (delimiter, quoting, key column).
    public static func merge(
        path: RepoPath, base: [UInt8]?, ours: [UInt8], theirs: [UInt8], config: LabelConfig = LabelConfig(),
        ourRenames: [RepoPath: RepoPath] = [:], theirRenames: [RepoPath: RepoPath] = [:], prefer: MergePreference? = nil
    ) throws(RowTable.Refusal) -> Outcome? {
        guard var ot = try RowTable.read(path: path, bytes: ours, config: config),
            var tt = try RowTable.read(path: path, bytes: theirs, config: config)
        else { return nil }
        var bt: RowTable?
        if let base { bt = try RowTable.read(path: path, bytes: base, config: config) }
        // Files one side renamed (and renamed in its table) are renamed in the base's and the
        // other side's rows too, so an edit there follows the file.
        for (renames, renamedSide, otherIsOurs) in [(theirRenames, tt, true), (ourRenames, ot, false)] where !renames.isEmpty {
            let map = referenceRenames(
                renames, rows: (bt?.rows ?? []) + (otherIsOurs ? ot : tt).rows, table: otherIsOurs ? ot : tt,
                renamedSide: renamedSide, config: config)
            if map.isEmpty { continue }
            bt = bt?.renamingReferences(map)
            if otherIsOurs { ot = ot.renamingReferences(map) } else { tt = tt.renamingReferences(map) }
        }
        let outcome = try RowTable.mergeDetailed(base: bt, ours: ot, theirs: tt, prefer: prefer)
        let kept = outcome.keptAgainstDeletion.map {
            KeptRow(
                key: $0.key, reference: $0.reference, side: $0.side, candidates: outcome.table.candidates(for: $0.reference, config: config)
            )
        }
        return Outcome(bytes: outcome.table.encoded(), conflicts: outcome.conflicts, keptAgainstDeletion: kept)
    }

    /// For files renamed on one side (`renames`, old path → new path): references in `rows` (of
    /// `table`) that name an old path, mapped to the same reference for the new path — only where
    /// the renaming side's table (`renamedSide`) names the new reference and no longer the old one,
    /// that is, where that side renamed the row as well as the file.
    /// - Complexity: O(rows + renames) with an index by file name.
    static func referenceRenames(
        _ renames: [RepoPath: RepoPath], rows: [RowTable.Row], table: RowTable, renamedSide: RowTable,
        config: LabelConfig
    ) -> [String: String] {
        var byName: [String: Set<String>] = [:]
        for r in rows { byName[String(r.reference.split(separator: "/").last ?? ""), default: []].insert(r.reference) }
        let theirs = Set(renamedSide.rows.map(\.reference))
        var map: [String: String] = [:]
        for (old, new) in renames {
            let o = old.string
            let n = new.string
            for r in byName[String(decoding: old.name, as: UTF8.self)] ?? [] where o == r || o.hasSuffix("/" + r) {
                let prefix = o.dropLast(r.count)
                guard n.hasPrefix(prefix) else { continue }
                let renamed = String(n.dropFirst(prefix.count))
                guard theirs.contains(renamed), !theirs.contains(r), table.candidates(for: r, config: config).contains(old) else {
                    continue
                }
                map[r] = renamed
            }
        }
        return map
    }
}
