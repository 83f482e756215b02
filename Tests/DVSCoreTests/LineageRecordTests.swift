import DVSCore
import Foundation
import Testing

/// Lineage record encoding (schema/FORMAT.md § Lineage records): canonical bytes, stable ids, round trips.
@Suite struct LineageRecordTests {
    static let record = ModelRecord(
        name: "lid-v1", artifactName: "model.dvsm", artifactSHA256: String(repeating: "ab", count: 32), artifactBytes: 1234,
        snapshot: CommitID(hex: String(repeating: "cd", count: 32))!, revision: "cohort/es", cohortPredicate: "lang = 'es'",
        cohortSource: nil,
        task: "classify", labelField: "lang", parameters: ["holdout": "0.2"], sampleCount: 3, hours: 0.5,
        labelDistribution: ["es": 2, "": 1],
        code: CodeVersion(commit: String(repeating: "1", count: 40), branch: "main", dirty: true, repository: "/src"),
        dvsVersion: "0.1.0", commandLine: ["dvs", "train"], startTime: 1_700_000_000, endTime: 1_700_000_060.5, host: "h", message: "",
        registeredBy: "T <t@e>")

    static let vectorLength = 682
    static let vectorID = "67bea9659b901ffc952ebeb25ce9dd299cfdf4fd986c10336d9d8010d7bd3c25"

    @Test func modelRecordRoundTripsAndEncodesCanonically() throws {
        let bytes = LineageEncoding.encode(Self.record)
        #expect(
            bytes.starts(with: Array("dvs-model 1\n{\"artifactBytes\":1234,".utf8)),
            "version line, then JSON with sorted keys and no spaces")
        #expect(try LineageEncoding.decodeModel(bytes) == Self.record)
        #expect(LineageEncoding.encode(try LineageEncoding.decodeModel(bytes)) == bytes, "re-encoding gives the same bytes, so the same id")
        #expect(LineageEncoding.kind(of: bytes) == "model")
        #expect(!String(decoding: bytes, as: UTF8.self).contains("\\/"), "slashes are not escaped")
        // Fixed vector (schema/FORMAT.md § 13 worked example).
        #expect(
            bytes.count == Self.vectorLength && ObjectID.hashing(bytes).hex == Self.vectorID,
            "\(bytes.count) \(ObjectID.hashing(bytes).hex) \(String(decoding: bytes, as: UTF8.self))")
    }

    @Test func evalRecordRoundTripsWithNestedMetrics() throws {
        let e = EvalRecord(
            model: ModelID(hex: String(repeating: "ef", count: 32))!, snapshot: CommitID(hex: String(repeating: "01", count: 32))!,
            revision: "main",
            metrics: [
                "accuracy": .number(0.75), "confusion": .array([.array([.number(3), .number(1)])]), "labels": .array([.string("de")]),
            ],
            slices: ["lang=de": ["accuracy": .number(1)]], sampleCount: 4, leakedSamples: 1,
            code: CodeVersion(commit: nil, branch: nil, dirty: false, repository: nil), dvsVersion: "0.1.0",
            commandLine: ["dvs", "eval"], startTime: 1, endTime: 2, host: "h")
        let bytes = LineageEncoding.encode(e)
        #expect(try LineageEncoding.decodeEval(bytes) == e)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(
            text.contains("\"model\":\"\(String(repeating: "ef", count: 32))\"")
                && text.contains("\"snapshot\":\"\(String(repeating: "01", count: 32))\""),
            "typed ids are written as plain hex strings: \(text)")
        #expect(LineageEncoding.kind(of: bytes) == "eval")
        #expect(throws: FormatError.self) { try LineageEncoding.decodeModel(bytes) }
        #expect(throws: FormatError.self) { try LineageEncoding.decodeEval(Array("dvs-eval 1\n{".utf8)) }
    }
}
