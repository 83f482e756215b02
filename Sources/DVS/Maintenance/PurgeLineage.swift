import DVSCatalog
import DVSCore
import Foundation

// What a purge does to model and eval records (issue 16, item 2).
//
// A record is an immutable object named by the SHA-256 of its bytes, and it can hold label
// values: a model record counts its training samples per value of its label field
// (`labelDistribution`), and an eval record names slices by value (`speaker=spk_0042`) and, for
// a classifier, its classes (`class_names`). When the label field is a speaker id or a
// transcript, those values name the erased person. So a purge writes such a record again:
// every value that only erased samples carry (per field, over every commit of the history) is
// dropped from the label distribution, a slice named by one is dropped, and a string equal to
// one anywhere in the metrics becomes `(erased)` (a confusion matrix keeps its shape). An eval of
// a model whose record was written again is written again to name the new model id. The old →
// new ids are kept in the purge record (`lineage`, ids only), so an old id still resolves; the
// old objects are deleted with the old commits, and push deletes them from the remote.
//
// The counts of values kept (`en`, `es`) are aggregates and stay as trained, and the sample
// count and hours are what the model saw; `dvs audit` says how many of them were erased. Free
// text the user wrote (names, messages, a cohort's predicate) is not rewritten.

extension Repository {
    /// The string that stands in a rewritten eval record for a label value only erased samples
    /// carried.
    static let erasedValue = "(erased)"

    /// Per label field, the values (text form) that erased samples carry and no other sample of
    /// the history does.
    /// - Parameters:
    ///   - entries: every commit of the history, before the purge.
    ///   - erased: the erased audio blobs.
    /// - Complexity: one pass over the entries given.
    static func erasedOnlyValues(_ entries: [CommitID: [ManifestEntry]], erased: Set<ObjectID>) -> [String: Set<String>] {
        var held: [String: Set<String>] = [:]
        var kept: [String: Set<String>] = [:]
        for es in entries.values {
            for e in es {
                guard let labels = e.annotations?.labels, !labels.isEmpty else { continue }
                let gone = e.audio != nil && erased.contains(e.blob)
                for f in labels {
                    let text = f.value.text
                    if text.isEmpty { continue }
                    if gone { held[f.name, default: []].insert(text) } else { kept[f.name, default: []].insert(text) }
                }
            }
        }
        var out: [String: Set<String>] = [:]
        for (field, values) in held {
            let only = values.subtracting(kept[field] ?? [])
            if !only.isEmpty { out[field] = only }
        }
        return out
    }

    /// Writes again, without the values only erased samples carry, every model and eval record
    /// that holds one, and every eval of a model written again (new objects only: nothing
    /// references them until the catalog moves in phase `apply`).
    /// - Parameters:
    ///   - values: ``erasedOnlyValues(_:erased:)``.
    ///   - given: the old → new map of a record being applied; a replacement already stored here
    ///     (fetched with it) is used as it is.
    /// - Returns: old record id → new record id (64 hex each).
    /// - Throws: `DVSError.corrupt` when a record cannot be read; `.io` when one cannot be written.
    /// - Complexity: reads every model and eval record once.
    func rewriteLineageRecords(values: [String: Set<String>], given: [String: String]) throws -> [String: String] {
        var map: [String: String] = [:]
        let ids: Set<ObjectID>
        do { ids = try catalog.lineageRecordIDs() } catch { throw DVSError.wrap(error) }
        var evals: [(ObjectID, EvalRecord)] = []
        var fields: [ModelID: String] = [:]
        for id in ids.sorted() {
            let bytes: [UInt8]
            do { bytes = try objects.read(id) } catch {
                throw DVSError(
                    .corrupt, "cannot read lineage record '\(id.hex)' to erase label values from it: \(DVSError.wrap(error).message)",
                    next: .fsckOrPull)
            }
            switch LineageEncoding.kind(of: bytes) {
            case "model":
                var r = try LineageEncoding.decodeModel(bytes)
                if let f = r.labelField { fields[ModelID(id)] = f }
                if let n = given[id.hex], let new = ObjectID(hex: n), objects.contains(new) {
                    map[id.hex] = n
                    continue
                }
                guard let f = r.labelField, let gone = values[f] else { continue }
                let kept = r.labelDistribution.filter { !gone.contains($0.key) }
                guard kept.count != r.labelDistribution.count else { continue }
                r.labelDistribution = kept
                map[id.hex] = try storeRecord(LineageEncoding.encode(r)).hex
            case "eval":
                evals.append((id, try LineageEncoding.decodeEval(bytes)))
            default: continue
            }
        }
        for (id, old) in evals {
            if let n = given[id.hex], let new = ObjectID(hex: n), objects.contains(new) {
                map[id.hex] = n
                continue
            }
            var r = old
            if let n = map[r.model.hex].flatMap(ObjectID.init(hex:)) { r.model = ModelID(n) }
            let field = fields[old.model]
            r.metrics = r.metrics.mapValues { Self.scrub($0, field.flatMap { values[$0] } ?? []) }
            var slices: [String: [String: RecordValue]] = [:]
            for (name, metrics) in r.slices where !Self.namesErasedValue(name, values, field: field) {
                slices[name] = metrics.mapValues { Self.scrub($0, field.flatMap { values[$0] } ?? []) }
            }
            r.slices = slices
            guard r != old else { continue }
            map[id.hex] = try storeRecord(LineageEncoding.encode(r)).hex
        }
        return map
    }

    /// Whether a slice name is `field=value` with a value only erased samples carry, or is such a
    /// value of the model's label field.
    static func namesErasedValue(_ name: String, _ values: [String: Set<String>], field: String?) -> Bool {
        if let f = field, values[f]?.contains(name) == true { return true }
        guard let eq = name.firstIndex(of: "=") else { return false }
        return values[String(name[..<eq])]?.contains(String(name[name.index(after: eq)...])) == true
    }

    /// `value` with every string in `gone` replaced by ``erasedValue`` (arrays and objects
    /// walked; keys of objects too).
    static func scrub(_ value: RecordValue, _ gone: Set<String>) -> RecordValue {
        guard !gone.isEmpty else { return value }
        switch value {
        case .string(let s): return gone.contains(s) ? .string(erasedValue) : value
        case .array(let a): return .array(a.map { scrub($0, gone) })
        case .object(let o):
            var out: [String: RecordValue] = [:]
            for (k, v) in o where !gone.contains(k) { out[k] = scrub(v, gone) }
            return .object(out)
        case .null, .bool, .number: return value
        }
    }

    /// Stores a record's bytes as an object (idempotent). - Returns: its id.
    private func storeRecord(_ bytes: [UInt8]) throws -> ObjectID {
        let id = ObjectID.hashing(bytes)
        do {
            if !objects.contains(id) { try objects.write(bytes, id: id) }
        } catch { throw DVSError.wrap(error) }
        return id
    }

    /// Moves the lineage index from each old record to its replacement (in the caller's
    /// transaction): the new record indexed, the old one forgotten. Idempotent; an old record
    /// whose replacement is not stored here stays indexed.
    func moveLineageIndex(_ map: [String: String], in tx: CatalogTransaction) throws {
        for (o, n) in map {
            guard let old = ObjectID(hex: o), let new = ObjectID(hex: n), objects.contains(new) else { continue }
            try indexRecord(new, try objects.read(new), in: tx)
            try tx.forgetLineageRecord(old)
        }
    }

    /// The record that stands for `id` now: through every purge's `lineage` map, oldest first.
    /// - Parameter records: every purge record (``purges()``).
    static func currentLineageRecord(_ id: ObjectID, in records: [PurgeRecord]) -> ObjectID {
        var current = id
        for r in records {
            if let n = r.lineage?[current.hex].flatMap(ObjectID.init(hex:)) { current = n }
        }
        return current
    }
}
