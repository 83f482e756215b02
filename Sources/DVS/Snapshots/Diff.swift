import DVSCore
import DVSLabels
import DVSStorage
import Foundation

/// One label field that differs between two snapshots of a sample.
public struct FieldChange: Sendable, Equatable {
    /// Field name.
    public var name: String
    /// Value before; nil when the field was absent.
    public var old: LabelValue?
    /// Value after; nil when the field is gone.
    public var new: LabelValue?
}

/// A sample whose labels or transcript changed.
public struct Relabel: Sendable, Equatable {
    /// The sample's path on the newer side.
    public var path: RepoPath
    /// Changed whole-file fields, by name.
    public var fields: [FieldChange]
    /// Transcript text before/after, when it changed.
    public var transcript: (old: String?, new: String?)?

    /// Equal when path, field changes and transcript texts are equal.
    public static func == (a: Relabel, b: Relabel) -> Bool {
        a.path == b.path && a.fields == b.fields && a.transcript?.old == b.transcript?.old && a.transcript?.new == b.transcript?.new
    }
}

/// How many samples (and hours) carry one label value, before and after.
public struct LabelShift: Sendable, Equatable {
    /// Field name.
    public var field: String
    /// The value, as text.
    public var value: String
    /// Samples with it before.
    public var before: Int
    /// Samples with it after.
    public var after: Int
    /// Hours after minus hours before.
    public var hoursDelta: Double
}

/// What changed between two snapshots, in the terms of a dataset (`dvs diff`).
public struct DatasetDiff: Sendable {
    /// Samples only in the newer snapshot (renames excluded).
    public var added: [ManifestEntry] = []
    /// Samples only in the older snapshot (renames excluded).
    public var removed: [ManifestEntry] = []
    /// Samples at the same path whose audio bytes changed: (old, new).
    public var modified: [(old: ManifestEntry, new: ManifestEntry)] = []
    /// Same content at a new path: (old, new). Files that are not samples too.
    public var renamed: [(old: ManifestEntry, new: ManifestEntry)] = []
    /// Samples whose labels or transcript changed.
    public var relabeled: [Relabel] = []
    /// Changes to files that are not samples (label tables, sidecars, config, other files).
    public var files: [Change] = []
    /// Hours of audio in added samples.
    public var hoursAdded: Double = 0
    /// Hours of audio in removed samples.
    public var hoursRemoved: Double = 0
    /// Net change in hours of the modified samples (new durations minus old; negative when
    /// re-recorded or trimmed shorter).
    public var hoursModified: Double = 0
    /// Label values whose sample count changed, for fields with few distinct values.
    public var shifts: [LabelShift] = []
    /// Label findings for a working-tree side (empty for two commits).
    public var findings: [LabelFinding] = []
    /// Label fields that appeared or disappeared as a whole (a column added to or dropped from a
    /// table), by field name. Their per-sample values are not relabels.
    public var schemaChanges: [FieldSchemaChange] = []

    /// Whether nothing differs.
    public var isEmpty: Bool {
        added.isEmpty && removed.isEmpty && modified.isEmpty && renamed.isEmpty && relabeled.isEmpty && files.isEmpty
            && schemaChanges.isEmpty
    }
}

extension Repository {
    /// The entries of a revision's snapshot, with their stored annotations.
    public func entries(at revision: Revision) throws -> [ManifestEntry] {
        try entries(ofManifest: commit(resolve(revision)).manifest)
    }

    /// The entries at `paths` of `commit`'s snapshot, by path; a path the snapshot does not hold
    /// is absent. Only the leaves holding them are read (the manifest's inner chunks are searched
    /// by path), so looking up a sample of a million-sample snapshot reads a few chunks.
    /// - Throws: `DVSError.corrupt` when the commit or a chunk cannot be read.
    /// - Complexity: O(k · depth) chunk reads for k paths, whatever the snapshot's size.
    public func entries(at paths: [RepoPath], of commit: CommitID) throws -> [RepoPath: ManifestEntry] {
        var editor = try ManifestEditor(store: snapshots, root: self.commit(commit).manifest)
        return try editor.entries(at: paths)
    }

    /// The working tree as it would be committed now: scanned (only changed files are read) and
    /// annotated from its label files, plus what the label builder found. Writes nothing but
    /// the stat cache when no writer holds the lock.
    /// - Parameter previous: HEAD's entries when the caller has them (Deepgram transcripts of
    ///   unchanged responses are reused from it); loaded when nil.
    public func workingTreeEntries(previous: [ManifestEntry]? = nil, progress: ProgressHandler? = nil) throws -> (
        [ManifestEntry], [LabelFinding]
    ) {
        do {
            let scan = try workingTree.scan(writer: nil, knownBlobs: [], progress: progress)
            if !scan.cacheUpdates.isEmpty || !scan.removedFromCache.isEmpty,
                let lock = RepositoryLock.tryAcquire(path: dvsDir + "/lock", command: "dvs diff (refreshing the stat cache)")
            {
                defer { lock.release() }
                try? catalog.write { tx in try tx.updateStatCache(scan.cacheUpdates, removing: [], settled: false) }
            }
            let tree = try annotateWorkingTree(scan.entries, previous: try previous ?? headEntries())
            return (tree.entries, tree.labels.findings)
        } catch { throw DVSError.wrap(error) }
    }

    /// Compares two revisions, or a revision and the working tree.
    /// - Parameters:
    ///   - old: the older side's revision; nil means HEAD (the empty tree on an unborn branch).
    ///   - new: the newer side's revision; nil means the working tree.
    /// - Throws: `DVSError.unknownRevision`, `.corrupt`, or what scanning the tree throws.
    public func diff(_ old: Revision?, _ new: Revision?, progress: ProgressHandler? = nil) throws -> DatasetDiff {
        if let new, let oldID = try old.map({ try resolve($0) }) ?? headCommit() {
            return try diff(oldID, try resolve(new))
        }
        let a: [ManifestEntry] = try old.map { try entries(at: $0) } ?? headEntries()
        if let new { return datasetDiff(a, try entries(at: new)) }
        let (b, findings) = try workingTreeEntries(previous: old == nil ? a : nil, progress: progress)
        var d = datasetDiff(a, b)
        d.findings = findings
        return d
    }
}

extension Repository {
    /// Compares two commits' snapshots in time proportional to what differs: the manifests are
    /// compared by chunk id, and the label shifts come from the two commits' label distributions
    /// (``labelDistribution(_:)``, cached per commit). Equal to ``datasetDiff(_:_:shifts:)`` over
    /// their full entry lists.
    /// - Throws: `DVSError.corrupt` when a commit or chunk cannot be read.
    public func diff(_ old: CommitID, _ new: CommitID) throws -> DatasetDiff {
        do {
            let (a, b) = try snapshots.differingEntries(commit(old).manifest, commit(new).manifest)
            let (before, after) = (try labelDistribution(old), try labelDistribution(new))
            return datasetDiff(
                a, b, shifts: labelShifts(before, after),
                wholeSnapshotFields: (before.fieldsWithValues, after.fieldsWithValues))
        } catch { throw DVSError.wrap(error) }
    }
}

/// Compares two sorted entry lists as datasets.
///
/// A field that some sample of `b` carries (even as null) and no sample of `a` carries — a column
/// added to a table — is one ``FieldSchemaChange`` (`.added`, with how many samples got a
/// non-null value), not a relabel of each row; likewise a field only `a` carries (`.removed`).
/// Elsewhere a null value and an absent field are the same (an empty cell is no label), so
/// `∅ → null` is no change.
/// - Parameters:
///   - shifts: the label shifts when the caller has them (from label distributions);
///     counted from `a` and `b` when nil, which must then be whole snapshots.
///   - wholeSnapshotFields: when `a` and `b` are only the entries that differ, the fields with a
///     non-null value anywhere in each whole snapshot (``LabelDistribution/fieldsWithValues``),
///     so a field carried by unchanged samples is not taken for a new one; nil when `a` and `b`
///     are whole snapshots.
/// - Complexity: O(n + m) plus, without `shifts`, the label-distribution count, O(samples · fields).
public func datasetDiff(
    _ a: [ManifestEntry], _ b: [ManifestEntry], shifts: [LabelShift]? = nil,
    wholeSnapshotFields: (old: Set<String>, new: Set<String>)? = nil
) -> DatasetDiff {
    var d = DatasetDiff()
    let changes = diffEntries(a, b)
    var pairedAdded = Set<Int>()
    var pairedDeleted = Set<Int>()
    for (i, j) in renamePairs(changes) {
        pairedAdded.insert(j)
        pairedDeleted.insert(i)
        d.renamed.append((changes[i].old!, changes[j].new!))
    }
    for (i, c) in changes.enumerated() where !pairedAdded.contains(i) && !pairedDeleted.contains(i) {
        let isSample = (c.old?.audio ?? c.new?.audio) != nil
        guard isSample else {
            d.files.append(c)
            continue
        }
        switch c.kind {
        case .added:
            d.added.append(c.new!)
            d.hoursAdded += (c.new!.audio?.duration ?? 0) / 3600
        case .deleted:
            d.removed.append(c.old!)
            d.hoursRemoved += (c.old!.audio?.duration ?? 0) / 3600
        case .modified:
            d.modified.append((c.old!, c.new!))
            d.hoursModified += ((c.new!.audio?.duration ?? 0) - (c.old!.audio?.duration ?? 0)) / 3600
        }
    }
    // Relabels: samples on both sides (same path, or renamed) whose annotations differ.
    var bIndex: [RepoPath: Int] = [:]
    bIndex.reserveCapacity(b.count)
    for (i, e) in b.enumerated() where e.audio != nil { bIndex[e.path] = i }
    var pairs: [(ManifestEntry, ManifestEntry)] = []
    for e in a where e.audio != nil { if let j = bIndex[e.path] { pairs.append((e, b[j])) } }
    pairs += d.renamed.filter { $0.old.audio != nil }.map { ($0.old, $0.new) }
    let schema = FieldSchemaChange.find(a, b, wholeSnapshotFields: wholeSnapshotFields)
    d.schemaChanges = schema
    let schemaFields = Set(schema.map(\.field))
    for (x, y) in pairs where x.annotations != y.annotations {
        let fields = fieldChanges(x.annotations?.labels ?? [], y.annotations?.labels ?? []).filter { !schemaFields.contains($0.name) }
        let t0 = x.annotations?.transcript?.text
        let t1 = y.annotations?.transcript?.text
        let transcript: (String?, String?)? = t0 != t1 ? (t0, t1) : nil
        if !fields.isEmpty || transcript != nil { d.relabeled.append(Relabel(path: y.path, fields: fields, transcript: transcript)) }
    }
    d.relabeled.sort { $0.path < $1.path }
    d.shifts = shifts ?? labelShifts(a, b)
    return d
}

/// Field-by-field differences of two sorted field lists; a null value and an absent field are
/// the same (no change is reported between them).
func fieldChanges(_ x: [LabelField], _ y: [LabelField]) -> [FieldChange] {
    fieldChangesKeepingNull(x, y).filter { ($0.old ?? .null) != ($0.new ?? .null) }
}

/// Field-by-field differences of two sorted field lists, `∅ → null` included.
private func fieldChangesKeepingNull(_ x: [LabelField], _ y: [LabelField]) -> [FieldChange] {
    var out: [FieldChange] = []
    var i = 0
    var j = 0
    while i < x.count || j < y.count {
        if j >= y.count || (i < x.count && x[i].name < y[j].name) {
            out.append(FieldChange(name: x[i].name, old: x[i].value, new: nil))
            i += 1
        } else if i >= x.count || y[j].name < x[i].name {
            out.append(FieldChange(name: y[j].name, old: nil, new: y[j].value))
            j += 1
        } else {
            if x[i].value != y[j].value { out.append(FieldChange(name: x[i].name, old: x[i].value, new: y[j].value)) }
            i += 1
            j += 1
        }
    }
    return out
}

/// Most distinct values a field may have for its distribution to be summarised.
let maxShiftValues = 50

/// Per (field, value) sample counts and hours on both sides, for categorical fields only, and
/// only values whose count or hours changed. A field is categorical when its values (text, int or
/// bool; over both sides) number at most 50, repeat (fewer distinct values than samples carrying
/// the field), and are short one-line strings — so ids, sentences and scores are left out.
/// Tallied through ``LabelDistribution``.
func labelShifts(_ a: [ManifestEntry], _ b: [ManifestEntry]) -> [LabelShift] {
    labelShifts(LabelDistribution(a), LabelDistribution(b))
}
