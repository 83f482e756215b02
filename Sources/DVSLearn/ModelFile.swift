import DVSCore
import Foundation

/// Encodes and decodes the `.dvsm` model file, format version 1, byte for byte as
/// `schema/MODEL.md` describes: the magic `DVSM`, a little-endian u32 version, a u64 body length,
/// the body, and the SHA-256 of everything before it.
public enum ModelFile {
    /// The format version this code writes; it reads versions 1…`formatVersion`.
    public static let formatVersion: UInt32 = 1
    /// The four bytes every model file starts with, "DVSM".
    public static let magic: [UInt8] = Array("DVSM".utf8)

    /// The file's bytes for `model`. Deterministic: the same model gives the same bytes
    /// (metadata sorted by key, blob ids sorted).
    /// - Throws: `LearnError.Code.shapeMismatch` if the model's parts do not fit together.
    public static func encode(_ model: Model) throws(LearnError) -> [UInt8] {
        try model.validate()
        var w = ByteWriter(capacity: 64 + 4 * (model.weights.count + 2 * model.features.dimension) + 32 * model.trainingBlobIDs.count)
        w.write(byte: model.task == .classify ? 1 : 2)
        w.write(string: model.labelField)
        let f = model.features
        for v in [f.sampleRate, f.windowLength, f.hopLength, f.fftSize, f.melBandCount, f.mfccCount] { w.write(varint: UInt64(v)) }
        w.write(byte: f.melScale.rawValue)
        w.write(f64: f.lowFrequency)
        w.write(f64: f.highFrequency)
        w.write(floats: model.standardizer.mean)
        w.write(floats: model.standardizer.scale)
        w.write(varint: UInt64(model.classNames.count))
        for c in model.classNames { w.write(string: c) }
        w.write(floats: model.weights)
        w.write(floats: model.bias)
        let p = model.parameters
        w.write(f64: p.l2)
        w.write(f64: p.holdoutFraction)
        w.write(string: p.splitBy ?? "")
        w.write(varint: UInt64(p.maxIterations))
        w.write(varint: UInt64(model.iterations))
        w.write(varint: UInt64(model.trainingSampleCount))
        let ids = Array(Set(model.trainingBlobIDs)).sorted()
        w.write(varint: UInt64(ids.count))
        for id in ids { w.write(id.bytes) }
        w.write(varint: UInt64(model.metadata.count))
        for (k, v) in model.metadata.sorted(by: { $0.key < $1.key }) {
            w.write(string: k)
            w.write(string: v)
        }
        var out = ByteWriter(capacity: w.bytes.count + 48)
        out.write(magic)
        out.write(u32: formatVersion)
        out.write(u64: UInt64(w.bytes.count))
        out.write(w.bytes)
        let sum = ObjectID.hashing(out.bytes)
        out.write(sum.bytes)
        return out.bytes
    }

    /// The model in `bytes`, checked end to end.
    /// - Parameter source: names the file in error messages (a path).
    /// - Throws: `LearnError.Code.badModelFile` when the bytes do not start with `DVSM`, come from
    ///   a newer format version, are truncated, fail the SHA-256 check, or hold impossible values;
    ///   the message names `source` and the hint says what to do.
    public static func decode(_ bytes: [UInt8], source: String = "model") throws(LearnError) -> Model {
        func bad(_ what: String, hint: String? = nil, reason: LearnError.Reason? = .damagedModelFile) -> LearnError {
            LearnError(.badModelFile, "cannot read model '\(source)': \(what)", hint: hint, reason: reason, subject: source)
        }
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            throw bad("not a dvs model file (it does not start with 'DVSM')", reason: .notAModelFile)
        }
        guard bytes.count >= 16 + 32 else { throw bad("truncated: \(bytes.count) bytes") }
        var header = ByteReader(bytes, offset: 4)
        let version: UInt32
        let bodyLength: UInt64
        do {
            version = try header.readU32()
            bodyLength = try header.readU64()
        } catch { throw bad("truncated header") }
        guard version >= 1 else { throw bad("format version \(version) is not valid") }
        guard version <= formatVersion else {
            throw bad("format version \(version) is newer than this dvs reads (\(formatVersion))", hint: "upgrade dvs", reason: nil)
        }
        guard bodyLength <= UInt64(bytes.count), 16 + Int(bodyLength) + 32 == bytes.count else {
            throw bad("truncated or padded: the header says \(bodyLength) body bytes, the file has \(bytes.count - 48)")
        }
        let end = 16 + Int(bodyLength)
        let sum = ObjectID.hashing(bytes[0..<end])
        guard Array(bytes[end...]) == sum.bytes else { throw bad("checksum mismatch (the file is damaged)") }
        do {
            var r = ByteReader(Array(bytes[16..<end]))
            let taskByte = try r.readByte()
            guard let task: LearningTask = taskByte == 1 ? .classify : taskByte == 2 ? .regress : nil else {
                throw bad("unknown task code \(taskByte)")
            }
            let labelField = try r.readString()
            let ints = try (0..<6).map { _ throws(FormatError) in try r.readInt(limit: 1 << 24) }
            let scaleByte = try r.readByte()
            guard let scale = MelScale(rawValue: scaleByte) else { throw bad("unknown mel scale code \(scaleByte)") }
            let features = FeatureConfig(
                sampleRate: ints[0], windowLength: ints[1], hopLength: ints[2], fftSize: ints[3],
                melBandCount: ints[4], melScale: scale, lowFrequency: try r.readF64(),
                highFrequency: try r.readF64(), mfccCount: ints[5])
            do { try features.validate() } catch { throw bad(error.message) }
            let mean = try r.readFloats()
            let sd = try r.readFloats()
            let classCount = try r.readInt(limit: 1 << 20)
            let classNames = try (0..<classCount).map { _ throws(FormatError) in try r.readString() }
            let weights = try r.readFloats()
            let bias = try r.readFloats()
            let l2 = try r.readF64()
            let holdout = try r.readF64()
            let splitBy = try r.readString()
            let maxIterations = try r.readInt(limit: Int(Int32.max))
            let iterations = try r.readInt(limit: Int(Int32.max))
            let trainingCount = try r.readInt()
            let idCount = try r.readInt(limit: (end - 16) / 32)
            let ids = try (0..<idCount).map { _ throws(FormatError) in try r.readID() }
            let metaCount = try r.readInt(limit: end)
            var metadata: [String: String] = [:]
            for _ in 0..<metaCount {
                let k = try r.readString()
                metadata[k] = try r.readString()
            }
            guard r.isAtEnd else { throw bad("\(end - 16 - r.offset) unexpected bytes at the end of the body") }
            var parameters = TrainingParameters(task: task, l2: l2, holdoutFraction: holdout, splitBy: splitBy.isEmpty ? nil : splitBy)
            parameters.maxIterations = maxIterations
            let model = Model(
                task: task, labelField: labelField, features: features,
                standardizer: Standardizer(mean: mean, scale: sd), classNames: classNames, weights: weights,
                bias: bias, parameters: parameters, iterations: iterations, trainingSampleCount: trainingCount,
                trainingBlobIDs: ids, metadata: metadata)
            do { try model.validate() } catch { throw bad(error.message) }
            return model
        } catch let e as LearnError {
            throw e
        } catch {
            throw bad("malformed body: \(error)")
        }
    }
}

extension ByteWriter {
    fileprivate mutating func write(string s: String) { write(lengthPrefixed: Array(s.utf8)) }
    fileprivate mutating func write(floats a: [Float]) {
        write(varint: UInt64(a.count))
        for v in a { write(u32: v.bitPattern) }
    }
}

extension ByteReader {
    fileprivate mutating func readString() throws(FormatError) -> String {
        let b = try readLengthPrefixed()
        guard let s = String(bytes: b, encoding: .utf8) else { throw .invalid("string is not UTF-8", at: offset) }
        return s
    }
    fileprivate mutating func readFloats() throws(FormatError) -> [Float] {
        let n = try readInt(limit: (bytes.count - offset) / 4)
        return try (0..<n).map { _ throws(FormatError) in Float(bitPattern: try readU32()) }
    }
}
