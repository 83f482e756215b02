import DVSCore
import Foundation

/// A label field that appeared in or disappeared from a snapshot as a whole: a column added to a
/// label table (its cells empty or not), or one dropped. `dvs diff` and the "since" section of
/// `dvs audit` report it once, instead of a relabel of every row.
public struct FieldSchemaChange: Sendable, Equatable {
    /// Whether the field appeared or disappeared.
    public enum Kind: String, Sendable {
        /// No sample of the older snapshot carries the field; some of the newer do.
        case added
        /// Some samples of the older snapshot carry the field; none of the newer do.
        case removed
    }
    /// The label field (column) name.
    public var field: String
    /// Added or removed.
    public var kind: Kind
    /// Samples that carry the field on the side that has it (null cells included): the rows
    /// the column covers.
    public var samples: Int
    /// Of `samples`, those with a non-null value (the filled cells).
    public var filled: Int

    /// The fields only one side carries, sorted by name.
    /// - Parameters:
    ///   - a: the older side's entries (whole snapshot, or the entries that differ).
    ///   - b: the newer side's entries, the same way.
    ///   - wholeSnapshotFields: with differing entries only, the fields with a non-null value in
    ///     each whole snapshot; a field counts as new only when the whole older snapshot has no
    ///     value of it (and as removed only when the whole newer one has none).
    /// - Complexity: O(samples × fields) over `a` and `b`.
    static func find(
        _ a: [ManifestEntry], _ b: [ManifestEntry], wholeSnapshotFields: (old: Set<String>, new: Set<String>)?
    ) -> [FieldSchemaChange] {
        func tally(_ entries: [ManifestEntry]) -> [String: (samples: Int, filled: Int)] {
            var out: [String: (samples: Int, filled: Int)] = [:]
            for e in entries where e.audio != nil {
                for f in e.annotations?.labels ?? [] {
                    out[f.name, default: (0, 0)].samples += 1
                    if f.value != .null { out[f.name]!.filled += 1 }
                }
            }
            return out
        }
        let old = tally(a)
        let new = tally(b)
        var out: [FieldSchemaChange] = []
        for (name, t) in new where old[name] == nil && !(wholeSnapshotFields?.old.contains(name) ?? false) {
            out.append(FieldSchemaChange(field: name, kind: .added, samples: t.samples, filled: t.filled))
        }
        for (name, t) in old where new[name] == nil && !(wholeSnapshotFields?.new.contains(name) ?? false) {
            // With differing entries only, a removal shows in every sample that carried it, so a
            // field the unchanged samples still carry is in `wholeSnapshotFields.new`.
            out.append(FieldSchemaChange(field: name, kind: .removed, samples: t.samples, filled: t.filled))
        }
        return out.sorted { ($0.field, $0.kind.rawValue) < ($1.field, $1.kind.rawValue) }
    }
}
