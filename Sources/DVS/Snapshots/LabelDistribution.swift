import DVSCatalog
import DVSCore
import Foundation

/// How a snapshot's samples are spread over the values of its categorical label fields: per
/// field and value, how many samples carry it and their total duration. `dvs diff` compares two
/// of these for its label shifts (``labelShifts(_:_:)``) instead of tallying every sample of both
/// snapshots.
///
/// A field is tracked while it looks categorical: text, integer or boolean values of at most 40
/// characters on one line, at most ``maxShiftValues`` distinct values. A field that shows a
/// fractional value, a long or multi-line text, or more distinct values is marked
/// ``notCategorical`` and no longer tallied. A distribution is built from all entries once, then
/// carried from a parent to a child by removing the entries only the parent holds and adding
/// those only the child holds (``SnapshotStore/differingEntries(_:_:)``): O(changed entries).
/// The one difference from tallying anew: a field marked not categorical stays so in
/// descendants even if the values that made it so are later removed.
public struct LabelDistribution: Codable, Equatable, Sendable {
    /// Samples and audio carrying one value.
    public struct Tally: Codable, Equatable, Sendable {
        /// Samples.
        public var count = 0
        /// Total duration in whole microseconds (`AudioFacts.durationMicroseconds`), so that
        /// adding and removing along a history never drifts.
        public var microseconds: Int64 = 0
        /// Total duration (s).
        public var seconds: Double { Double(microseconds) / 1e6 }
    }
    /// Per tracked field, value text → tally (values with a zero count are removed).
    public var values: [String: [String: Tally]] = [:]
    /// Per field, samples carrying a value that is neither null nor fractional.
    public var carriers: [String: Int] = [:]
    /// Fields that are not categorical (see the type's description).
    public var notCategorical: Set<String> = []

    /// An empty distribution.
    public init() {}

    /// Fields some sample carries a non-null value of (a fractional value marks a field
    /// ``notCategorical``, which counts as carried).
    public var fieldsWithValues: Set<String> { Set(carriers.keys).union(notCategorical) }

    /// The distribution of `entries` (samples with labels; other entries are skipped).
    public init(_ entries: [ManifestEntry]) {
        for e in entries { add(e, sign: 1) }
    }

    /// Adds (`sign` 1) or removes (`sign` -1) one entry's labels.
    public mutating func add(_ e: ManifestEntry, sign: Int) {
        guard let audio = e.audio, let labels = e.annotations?.labels else { return }
        for f in labels {
            switch f.value {
            case .null: continue
            case .double:
                notCategorical.insert(f.name)
                values[f.name] = nil
                continue
            default: break
            }
            carriers[f.name, default: 0] += sign
            if carriers[f.name] == 0 { carriers[f.name] = nil }
            if notCategorical.contains(f.name) { continue }
            let text = f.value.text
            if text.count > 40 || text.contains(where: \.isNewline) {
                notCategorical.insert(f.name)
                values[f.name] = nil
                continue
            }
            // In place: copying a field's dictionary out and back would cost O(values) per sample.
            if values[f.name] == nil { values[f.name] = [:] }
            values[f.name]![text, default: Tally()].count += sign
            values[f.name]![text]!.microseconds += Int64(sign) * Int64(audio.durationMicroseconds)
            if values[f.name]![text]!.count == 0 { values[f.name]![text] = nil }
            if values[f.name]!.count > maxShiftValues {
                notCategorical.insert(f.name)
                values[f.name] = nil
            } else if values[f.name]!.isEmpty {
                values[f.name] = nil
            }
        }
    }

    /// Samples per value of `field` as a model record counts them
    /// (`ModelRecord.labelDistribution`): value text → samples, and `""` for the samples of the
    /// snapshot that do not carry the field (absent, null or the empty text).
    /// - Parameters:
    ///   - field: a label field name.
    ///   - sampleCount: the snapshot's samples (`ManifestTotals.sampleCount`), of which those
    ///     carrying no value are the ones the tallies leave over.
    /// - Returns: nil when this distribution does not tally `field` (it is not categorical) or
    ///   does not fit `sampleCount` (more samples carry a value than there are): then only a
    ///   pass over the entries tells.
    public func sampleCounts(of field: String, sampleCount: Int) -> [String: Int]? {
        guard !notCategorical.contains(field) else { return nil }
        var out: [String: Int] = [:]
        var carrying = 0
        for (value, tally) in values[field] ?? [:] where !value.isEmpty {
            guard tally.count > 0 else { return nil }
            out[value] = tally.count
            carrying += tally.count
        }
        guard carrying <= sampleCount else { return nil }
        if carrying < sampleCount { out[""] = sampleCount - carrying }
        return out
    }

    /// This distribution after the change from `old` to `new` entries (each sorted by path;
    /// entries equal on both sides, as the unshared leaves of two manifests hold, are skipped).
    public func applying(removed old: [ManifestEntry], added new: [ManifestEntry]) -> LabelDistribution {
        var removed: [ManifestEntry] = []
        var added: [ManifestEntry] = []
        var i = 0
        var j = 0
        while i < old.count || j < new.count {
            if j < new.count, i < old.count, old[i].path == new[j].path {
                if old[i] != new[j] {
                    removed.append(old[i])
                    added.append(new[j])
                }
                i += 1
                j += 1
            } else if j >= new.count || (i < old.count && old[i].path < new[j].path) {
                removed.append(old[i])
                i += 1
            } else {
                added.append(new[j])
                j += 1
            }
        }
        // Every removal before any addition: interleaved, a field's distinct values could pass
        // the limit on the way and be marked not categorical for good.
        var d = self
        for e in removed { d.add(e, sign: -1) }
        for e in added { d.add(e, sign: 1) }
        return d
    }
}

/// The label shifts between two distributions: per categorical field (tracked on both sides,
/// at most ``maxShiftValues`` values over both, fewer values than carriers over both) and value,
/// the sample counts and hours before and after, where they differ.
func labelShifts(_ a: LabelDistribution, _ b: LabelDistribution) -> [LabelShift] {
    var out: [LabelShift] = []
    for field in Set(a.values.keys).union(b.values.keys).sorted() {
        guard !a.notCategorical.contains(field), !b.notCategorical.contains(field) else { continue }
        let va = a.values[field] ?? [:]
        let vb = b.values[field] ?? [:]
        let values = Set(va.keys).union(vb.keys)
        let carriers = (a.carriers[field] ?? 0) + (b.carriers[field] ?? 0)
        guard values.count <= maxShiftValues, values.count < carriers else { continue }
        for v in values.sorted() {
            let x = va[v] ?? LabelDistribution.Tally()
            let y = vb[v] ?? LabelDistribution.Tally()
            if x.count != y.count || x.microseconds != y.microseconds {
                out.append(
                    LabelShift(
                        field: field, value: v, before: x.count, after: y.count,
                        hoursDelta: Double(y.microseconds - x.microseconds) / 3.6e9))
            }
        }
    }
    return out
}

extension Repository {
    /// The label distribution of commit `id`'s snapshot, from the sample index's cache when it
    /// has it; else carried from the nearest first-parent ancestor's (when one of the last
    /// ``carryDepth`` has one cached) over the entries that differ, else tallied from all its
    /// entries; then cached.
    /// - Throws: `DVSError.corrupt` when a commit or chunk cannot be read.
    func labelDistribution(_ id: CommitID) throws -> LabelDistribution {
        let index = try? openSampleIndex()
        if let d = Self.cachedDistribution(id, in: index) { return d }
        let c = try commit(id)
        let d = try carriedDistribution(c, in: index) ?? LabelDistribution(try entries(ofManifest: c.manifest))
        if let index, let data = try? Self.distributionEncoder.encode(d) { try? index.setDistribution(data, for: id) }
        return d
    }

    /// Caches the label distribution of a commit just made, so a later `dvs diff` never tallies
    /// a whole snapshot: carried from the nearest cached ancestor's (O(changes)), else tallied from
    /// `entries` (the commit's snapshot, when in memory already; nil leaves it to the first
    /// reader). Best effort: the cache is optional.
    func recordLabelDistribution(_ id: CommitID, commit c: Commit, entries: [ManifestEntry]?) {
        guard let index = try? openSampleIndex(), (try? index.distribution(of: id)) == nil else { return }
        guard let d = (try? carriedDistribution(c, in: index)) ?? entries.map(LabelDistribution.init) else { return }
        if let data = try? Self.distributionEncoder.encode(d) { try? index.setDistribution(data, for: id) }
    }

    /// `c`'s distribution carried from the nearest first-parent ancestor with one cached (at
    /// most ``carryDepth`` commits back) and the entries that differ between the two snapshots
    /// (manifests compared by chunk id: O(leaves that differ)); nil when no ancestor that close
    /// has one (or `c` has no parent). A commit made by an older dvs, or fetched, then costs the
    /// changes since its nearest cached ancestor rather than a tally of its whole snapshot.
    func carriedDistribution(_ c: Commit, in index: SampleIndex?) throws -> LabelDistribution? {
        guard index != nil else { return nil }
        var next = c.parents.first
        var steps = 0
        while let p = next, steps < Self.carryDepth {
            if let base = Self.cachedDistribution(p, in: index) {
                let (old, new) = try snapshots.differingEntries(commit(p).manifest, c.manifest)
                return base.applying(removed: old, added: new)
            }
            next = try commit(p).parents.first
            steps += 1
        }
        return nil
    }

    /// How far back ``carriedDistribution(_:in:)`` looks for a cached distribution.
    static let carryDepth = 256

    private static func cachedDistribution(_ id: CommitID, in index: SampleIndex?) -> LabelDistribution? {
        guard let data = try? index?.distribution(of: id) else { return nil }
        return try? JSONDecoder().decode(LabelDistribution.self, from: data)
    }

    /// Sorted keys, so equal distributions are equal bytes.
    static let distributionEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}
