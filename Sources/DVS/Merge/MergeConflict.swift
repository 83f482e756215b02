import DVSCore
import Foundation

/// One conflict of a merge, as `dvs merge` and `dvs status` list it.
public struct MergeConflict: Sendable, Hashable, Codable {
    /// What kind of conflict it is; encoded (JSON, `.dvs/MERGE_STATE`) and shown as its raw value.
    public enum Kind: String, Sendable, Hashable, Codable, CustomStringConvertible {
        /// A file changed differently on both sides (not mergeable by rows or lines).
        case modifyModify = "modify-modify"
        /// A file added differently on both sides.
        case addAdd = "add-add"
        /// We modified a file they deleted.
        case modifyDelete = "modify-delete"
        /// We deleted a file they modified.
        case deleteModify = "delete-modify"
        /// A label table changed on both sides that cannot be merged row by row.
        case table
        /// A text file whose same lines changed both ways; it holds diff3 markers.
        case text
        /// Row level: one field of a label row changed two ways; its cell holds markers.
        case field
        /// Row level: both sides added the row with different values in a field.
        case addAddRow = "add-add-row"
        /// Row level: a row deleted on one side and edited on the other.
        case deleteEdit = "delete-edit"
        /// The merged label tables fail validation.
        case labels

        /// The raw value (`modify-modify`, `field`, …), as `dvs merge` and `dvs status` print it.
        public var description: String { rawValue }

        /// Whether the conflict leaves markers in the file (label cells, or text lines) that
        /// `dvs merge --continue` looks for.
        public var leavesMarkers: Bool { self == .field || self == .addAddRow || self == .text }

        /// Whether one side deleted what the other changed (`modify-delete`, `delete-modify`,
        /// `delete-edit`): the tree holds the changed version, which looks like any resolution,
        /// so `dvs merge --continue` waits until the user takes the deletion (deletes the file)
        /// or marks the path resolved (`MergeOperation.markResolved`).
        public var needsExplicitResolution: Bool { self == .modifyDelete || self == .deleteModify || self == .deleteEdit }
    }

    /// What kind of conflict it is.
    public var kind: Kind
    /// Tree path of the file.
    public var path: String
    /// For row-level conflicts, the row's key (its audio reference, `#N` for the N-th row of a file).
    public var key: String?
    /// For `field` and `add-add-row`, the field.
    public var field: String?
    /// The value at the merge base (nil: absent).
    public var base: String?
    /// Our value (nil: absent or deleted).
    public var ours: String?
    /// Their value (nil: absent or deleted).
    public var theirs: String?
    /// One line for people: what happened and what was left in the working tree.
    public var message: String
}

/// What `Repository.merge` did.
public struct MergeSummary: Sendable {
    /// How a merge ended; its raw value is what `--json` prints.
    public enum Status: String, Sendable, Hashable, Codable, CustomStringConvertible {
        /// The merged commit was already in HEAD's history; nothing changed.
        case upToDate = "up-to-date"
        /// HEAD was an ancestor: the branch moved to the merged commit.
        case fastForward = "fast-forward"
        /// A merge commit was made.
        case merged
        /// The merge stopped for conflicts (`dvs merge --continue` or `--abort`).
        case conflicts
        /// Merged into the working tree, not committed (`--no-commit`).
        case noCommit = "no-commit"

        /// The raw value (`up-to-date`, `merged`, …).
        public var description: String { rawValue }
    }

    /// How the merge ended.
    public var status: Status
    /// The commit HEAD is on afterwards.
    public var head: CommitID?
    /// The commit merged in.
    public var theirs: CommitID
    /// The merge base used (nil for unrelated histories).
    public var base: CommitID?
    /// How many best common ancestors the graph had (more than one: a criss-cross history).
    public var baseCount: Int
    /// Conflicts left for the user.
    public var conflicts: [MergeConflict]
    /// Files changed in the working tree.
    public var changes: [Change]
}
