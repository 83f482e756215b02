import DVS
import DVSCore
import Foundation

/// Text and JSON forms of lineage records, shared by `model`, `models`, `run` and `audit`.
enum LineageOutput {
    /// A record as a JSON object with snake_case keys (`artifact_sha256`, `label_distribution`) plus `id`.
    static func object<T: Encodable>(_ record: T, id: some TypedObjectID) -> [String: Any] {
        var o = ((try? Output.jsonValue(record)) as? [String: Any]) ?? [:]
        o["id"] = id.hex
        return o
    }

    /// `2026-11-29 21:03:12 UTC`.
    static func time(_ t: Double) -> String {
        if abs(t) < 1e12, let c = CivilTime(Int64(t.rounded(.down)), offsetSeconds: 0) {
            return "\(c.year)-\(CivilTime.pad(c.month))-\(CivilTime.pad(c.day)) \(c.clock) UTC"
        }
        return formatterTime(t)
    }

    /// ``time(_:)`` through `DateFormatter`: values out of ``CivilTime``'s range, and the reference in tests.
    static func formatterTime(_ t: Double) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f.string(from: Date(timeIntervalSince1970: t))
    }

    /// One line about a registered model, for `model add` and `run`.
    static func registered(_ id: ModelID, _ r: ModelRecord) -> String {
        "Registered model \(r.name) \(id.short): artifact \(r.artifactSHA256.prefix(12)) (\(Output.bytes(r.artifactBytes))), "
            + "trained on \(r.revision) (\(r.snapshot.short)), \(Output.count(r.sampleCount, "sample")), \(Output.hours(r.hours)); code \(r.code.summary)"
    }

    /// The label distribution as `a 12, b 3` (most first).
    static func distribution(_ d: [String: Int]) -> String {
        d.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key.isEmpty ? "(none)" : $0.key) \($0.value)" }.joined(
            separator: ", ")
    }
}
