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
//
// A model artifact is the model, and it is not edited. But the stored copy of one trained on
// erased samples whose bytes name them — a `dvs train` model lists its training blobs' ids
// (`schema/MODEL.md`) and its class names — is deleted (`PurgeRecord.artifacts`): the record
// keeps its SHA-256, `dvs audit` says the purge deleted it, and the model is to be retrained.

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
    /// A record some purge already replaced (a key of `known`, every known purge's map) whose
    /// replacement, at the end of its chain, is stored here (fetched) is not written again: its
    /// entry is the map's own, so every repository reaches the same ids.
    /// - Parameters:
    ///   - values: ``erasedOnlyValues(_:erased:)``.
    ///   - known: the `lineage` maps of every purge known here, the one being applied and those
    ///     fetched with it, merged (``lineageMap(_:)``).
    /// - Returns: old record id → new record id (64 hex each).
    /// - Throws: `DVSError.io` when a record cannot be written. A record that cannot be read is
    ///   skipped with a notice (fsck reports it): it must not hold back the erasure.
    /// - Complexity: reads every model and eval record once.
    func rewriteLineageRecords(values: [String: Set<String>], known: [String: String]) throws -> [String: String] {
        var map: [String: String] = [:]
        let ids: Set<ObjectID>
        do { ids = try catalog.lineageRecordIDs() } catch { throw DVSError.wrap(error) }
        var evals: [(ObjectID, EvalRecord)] = []
        var fields: [ModelID: String] = [:]
        let objects = self.objects
        func replaced(_ id: ObjectID) -> Bool {
            guard let first = known[id.hex], Self.lineageEnd(id, map: known, where: objects.contains) != nil else { return false }
            map[id.hex] = first
            return true
        }
        for id in ids.sorted() {
            let bytes: [UInt8]
            do { bytes = try objects.read(id) } catch {
                context.notice?(
                    "warning: lineage record \(id.short) cannot be read (\(DVSError.wrap(error).message)); its label values were not checked ('dvs fsck' lists it)"
                )
                continue
            }
            switch LineageEncoding.kind(of: bytes) {
            case "model":
                guard var r = try? LineageEncoding.decodeModel(bytes) else { continue }
                if let f = r.labelField { fields[ModelID(id)] = f }
                if replaced(id) { continue }
                guard let f = r.labelField, let gone = values[f] else { continue }
                let kept = r.labelDistribution.filter { !gone.contains($0.key) }
                guard kept.count != r.labelDistribution.count else { continue }
                r.labelDistribution = kept
                map[id.hex] = try storeRecord(LineageEncoding.encode(r)).hex
            case "eval":
                if let r = try? LineageEncoding.decodeEval(bytes) { evals.append((id, r)) }
            default: continue
            }
        }
        let all = known.merging(map) { _, here in here }
        for (id, old) in evals {
            if replaced(id) { continue }
            var r = old
            // The model as it stands now (an eval may name an id a purge replaced before).
            let model = Self.lineageEnd(old.model.object, map: all, where: objects.contains).map(ModelID.init) ?? old.model
            r.model = model
            let field = fields[model] ?? fields[old.model]
            r.metrics = r.metrics.mapValues { Self.scrub($0, field.flatMap { values[$0] } ?? []) }
            var slices: [String: [String: RecordValue]] = [:]
            for (name, metrics) in r.slices where !Self.namesErasedValue(name, values, field: field) {
                slices[name] = metrics.mapValues { Self.scrub($0, field.flatMap { values[$0] } ?? []) }
            }
            r.slices = slices
            guard r != old else { continue }
            map[id.hex] = try storeRecord(LineageEncoding.encode(r)).hex
        }
        // Durable (directory entries too) before the record and the catalog name them.
        do { try objects.sync() } catch { throw DVSError.wrap(error) }
        return map
    }

    /// The stored artifacts of `models` (trained on erased samples) whose bytes hold an erased
    /// blob id (its 32 bytes or 64 hex digits) or a value only erased samples carry of the
    /// model's label field.
    /// - Parameters:
    ///   - models: the models whose training snapshot held an erased sample.
    ///   - values: ``erasedOnlyValues(_:erased:)``.
    /// - Returns: their SHA-256s.
    /// - Throws: `DVSError.corrupt` when a record or a stored artifact cannot be read.
    /// - Complexity: one search of each such artifact per erased id and value.
    func artifactsNamingErased(_ models: [ModelID], erased: Set<ObjectID>, values: [String: Set<String>]) throws -> Set<ObjectID> {
        var out = Set<ObjectID>()
        for m in models {
            let r = try modelRecord(m)
            guard let a = ObjectID(hex: r.artifactSHA256), objects.contains(a), !out.contains(a) else { continue }
            let bytes = Data(try objects.read(a))
            var needles = erased.flatMap { [$0.bytes, Array($0.hex.utf8)] }
            if let f = r.labelField { needles += (values[f] ?? []).map { Array($0.utf8) } }
            if needles.contains(where: { Self.contains(bytes, $0) }) { out.insert(a) }
        }
        return out
    }

    /// Whether `needle` occurs in `haystack`.
    static func contains(_ haystack: Data, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return haystack.range(of: Data(needle)) != nil
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

    /// Moves the lineage index from each old record of `map` to the end of its chain through
    /// `known` that is stored here (in the caller's transaction): that record indexed, the old
    /// one forgotten. Idempotent; an old record with no stored replacement stays indexed.
    func moveLineageIndex(_ map: [String: String], known: [String: String], in tx: CatalogTransaction) throws {
        for o in map.keys.sorted() {
            guard let old = ObjectID(hex: o), let new = Self.lineageEnd(old, map: known, where: objects.contains) else { continue }
            try indexRecord(new, try objects.read(new), in: tx)
            try tx.forgetLineageRecord(old)
        }
    }

    /// Every purge's `lineage` map merged (ids are content addresses: two records that name
    /// the same old id agree), with `extra` (maps of records being fetched).
    static func lineageMap(_ records: [PurgeRecord], extra: [String: String] = [:]) -> [String: String] {
        var out = extra
        for r in records { out.merge(r.lineage ?? [:]) { a, _ in a } }
        return out
    }

    /// The farthest record along `id`'s chain through `map` (old → new, over any number of
    /// purges, in whatever order they ran) for which `ok` holds; nil when none does.
    static func lineageEnd(_ id: ObjectID, map: [String: String], where ok: (ObjectID) -> Bool) -> ObjectID? {
        var current = id
        var best: ObjectID? = nil
        var seen: Set<ObjectID> = [id]
        while let next = map[current.hex].flatMap(ObjectID.init(hex:)), seen.insert(next).inserted {
            current = next
            if ok(next) { best = next }
        }
        return best
    }

    /// The record that stands for `id` now: the end of its chain through every purge's
    /// `lineage` map (`id` itself when no purge replaced it).
    /// - Parameter records: every purge record (``purges()``).
    static func currentLineageRecord(_ id: ObjectID, in records: [PurgeRecord]) -> ObjectID {
        lineageEnd(id, map: lineageMap(records), where: { _ in true }) ?? id
    }
}
