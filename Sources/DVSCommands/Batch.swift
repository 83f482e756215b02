import ArgumentParser
import DVS
import DVSCatalog
import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `dvs batch`: a long-lived reader speaking the batch protocol (Documentation/PYTHON.md, "The batch protocol") on
/// stdin/stdout, for the Python package and other clients that read many samples.
struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch", abstract: "Answer read requests (JSON lines on stdin) about snapshots, samples and audio, until stdin ends.",
        discussion: """
            The protocol of the Python package ('import dvs'), in the spirit of
            'git cat-file --batch': one JSON object per line on stdin, one JSON
            header line per answer on stdout, followed by "payload" bytes when
            the header has that key (audio as little-endian float32, interleaved).
            The first request must be {"op": "hello", "protocol": N}; dvs answers
            with its own protocol version and refuses another. Operations: open,
            entries, query, read, read_many, words (Documentation/PYTHON.md,
            "The batch protocol").
              printf '%s\\n' '{"op":"hello","protocol":1}' \\
                '{"op":"open","rev":"HEAD"}' | dvs batch
            """)

    /// The protocol version this dvs speaks; the client sends its own in `hello`, and each side
    /// refuses the other's when they differ.
    static let protocolVersion = 1

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let repo = try global.repository()
        // A pipe of 1 MiB (Linux's default limit for F_SETPIPE_SZ) instead of 64 KiB: a sample of a
        // few hundred KB goes out in one write instead of five, with as many fewer wake-ups of
        // the reader (≈5 % more samples/s through torch_iterable). Not a pipe: nothing happens.
        _ = fcntl(1, 1031, 1 << 20)  // 1031: F_SETPIPE_SZ (<linux/fcntl.h>; Glibc does not export it)
        var session = BatchSession(reader: BatchReader(repository: repo))
        while let line = readLine(strippingNewline: true) {
            if line.isEmpty { continue }
            if !session.answer(line) { throw ExitCode(1) }
        }
    }
}

/// One client's session: parses each request, answers it, and keeps the snapshots it opened.
struct BatchSession {
    let reader: BatchReader
    private var greeted = false
    private let out = BatchOutput()

    init(reader: BatchReader) { self.reader = reader }

    /// Answers one request line; false when the session must end (a protocol mismatch).
    mutating func answer(_ line: String) -> Bool {
        var id: Any = NSNull()
        do {
            guard let request = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw BatchProtocolError.bad("a request is one JSON object per line")
            }
            id = request["id"] ?? NSNull()
            guard let op = request["op"] as? String else { throw BatchProtocolError.bad("the request has no \"op\"") }
            if op == "hello" {
                let theirs = request["protocol"] as? Int
                guard theirs == Batch.protocolVersion else {
                    out.error(
                        id: id, kind: "protocolMismatch",
                        message:
                            "the client speaks batch protocol \(theirs.map(String.init) ?? "(none)"), this dvs \(DVSCommand.version) speaks \(Batch.protocolVersion)",
                        hint: "install the Python package and the dvs binary from the same dvs version")
                    return false
                }
                greeted = true
                out.header(["id": id, "ok": true, "protocol": Batch.protocolVersion, "dvs": DVSCommand.version])
                return true
            }
            guard greeted else {
                throw BatchProtocolError.bad("the first request must be {\"op\": \"hello\", \"protocol\": \(Batch.protocolVersion)}")
            }
            try perform(op, request, id: id)
        } catch let e as BatchProtocolError {
            if case .bad(let m) = e {
                out.error(id: id, kind: "protocol", message: "bad batch request: \(m)", hint: "see Documentation/PYTHON.md")
            }
        } catch let e as BatchSampleNotFound {
            out.error(id: id, e)
        } catch let e as BatchSnapshotRewritten {
            out.error(id: id, e)
        } catch let e as DVSError {
            out.error(id: id, e)
        } catch let e as CatalogError {
            out.error(id: id, Hints.error(e))
        } catch {
            out.error(id: id, kind: "internal", message: "\(error)", hint: Hints.hint(forUnderlying: error))
        }
        return true
    }

    private func perform(_ op: String, _ r: [String: Any], id: Any) throws {
        switch op {
        case "open":
            let s = try reader.open(Revision(try string(r, "rev")))
            out.header(["id": id, "ok": true, "commit": s.commit.hex, "samples": s.entries.count, "hours": s.hours])
        case "entries":
            let s = try snapshot(r)
            let fields = r["labels"] as? [String] ?? []
            var labels: [String: [Any]] = [:]
            for f in fields { labels[f] = s.entries.map { $0.annotations?[label: f]?.jsonObject ?? NSNull() } }
            out.header(
                ["id": id, "ok": true, "commit": s.commit.hex, "samples": s.entries.count],
                json: ["paths": s.entries.map(\.path.string), "labels": labels])
        case "query":
            let s = try snapshot(r)
            let result = try reader.repository.query(try string(r, "sql"), at: Revision(s.commit.hex))
            out.header(
                ["id": id, "ok": true, "columns": result.columns, "rows": result.rows.count],
                payload: BatchJSON.rows(result.rows))
        case "words":
            let s = try snapshot(r)
            let i = try index(r, in: s)
            let words = try s.entries[i].annotations?.transcript?.words.map { try reader.repository.words($0) } ?? []
            out.header(
                ["id": id, "ok": true, "columns": ["start", "end", "word", "confidence", "speaker", "channel"], "rows": words.count],
                json: words.map { [$0.start, $0.end, $0.text, $0.confidence, $0.speaker ?? NSNull(), $0.channel] as [Any] })
        case "read", "read_many":
            let s = try snapshot(r)
            let indices =
                op == "read" ? [try index(r, in: s)] : try (r["indices"] as? [Int]).orThrow("\"indices\" is not a list of whole numbers")
            let rate = r["sample_rate"] as? Int
            let mono = r["mono"] as? Bool ?? false
            let int16 = (r["pcm"] as? String) == "int16"
            try reader.read(s.commit, indices: indices, sampleRate: rate, mono: mono, pcm16: int16) { sample in
                out.audio(id: id, sample, int16: int16)
            }
        default:
            throw BatchProtocolError.bad("unknown op '\(op)'")
        }
    }

    /// The snapshot a request names by `commit` (an id `open` returned) or `rev`.
    private func snapshot(_ r: [String: Any]) throws -> BatchReader.Snapshot {
        if let c = r["commit"] as? String {
            let s = try reader.open(Revision(c))
            // A purge since `open` rewrote that commit: the old id now resolves to its replacement,
            // whose samples (and so their indices) differ. Never answer for other samples.
            if c.count == 64, s.commit.hex != c.lowercased() { throw BatchSnapshotRewritten(asked: c, now: s.commit) }
            return s
        }
        return try reader.open(Revision(try string(r, "rev")))
    }

    /// The sample a request names by `index` or `path`.
    private func index(_ r: [String: Any], in s: BatchReader.Snapshot) throws -> Int {
        if let i = r["index"] as? Int { return i }
        let path = try string(r, "path")
        guard let i = try reader.index(of: RepoPath(path), in: s.commit) else {
            throw BatchSampleNotFound(path: path, commit: s.commit)
        }
        return i
    }

    private func string(_ r: [String: Any], _ key: String) throws -> String {
        guard let s = r[key] as? String else { throw BatchProtocolError.bad("\"\(key)\" is missing or not a string") }
        return s
    }
}

/// A request the protocol cannot parse.
enum BatchProtocolError: Error {
    case bad(String)
}

/// No audio sample at a path in a snapshot (the client's `SampleNotFound`).
struct BatchSampleNotFound: Error {
    let path: String
    let commit: CommitID
}

/// A client's snapshot was rewritten by a purge after it opened it (the client's
/// `SnapshotRewritten`): its indices may now name other samples.
struct BatchSnapshotRewritten: Error {
    let asked: String
    let now: CommitID
}

extension Optional {
    fileprivate func orThrow(_ message: String) throws -> Wrapped {
        guard let v = self else { throw BatchProtocolError.bad(message) }
        return v
    }
}

/// Writes answers to stdout: a JSON header line, then the payload bytes it announces.
final class BatchOutput {
    /// Writes a header and then `payload`, JSON text already encoded.
    func header(_ h: [String: Any], payload: [UInt8]) {
        var h = h
        h["payload"] = payload.count
        h["encoding"] = "json"
        write(h, Data(payload))
    }

    /// Writes a header (adding `payload` when `json` is given) and then `json` as its payload.
    func header(_ h: [String: Any], json: Any? = nil) {
        var h = h
        var payload = Data()
        if let json, let d = try? JSONSerialization.data(withJSONObject: json, options: [.withoutEscapingSlashes]) {
            payload = d
            h["payload"] = d.count
            h["encoding"] = "json"
        }
        write(h, payload)
    }

    /// One decoded sample: its facts in the header, its PCM after it as little-endian float32 or,
    /// when the client accepts it (`int16`) and the values are 16-bit samples as stored (16-bit
    /// PCM, neither resampled nor mixed down), as little-endian int16: half the bytes through the
    /// pipe, and the same values (libsndfile's float of a 16-bit sample is `n / 32768`, which the
    /// client's `n / 32768` gives back exactly).
    func audio(id: Any, _ s: SnapshotSample, int16: Bool = false) {
        let asStored =
            int16 && s.facts.encoding == "PCM_16" && s.sampleRate == s.facts.sampleRate && s.channelCount == s.facts.channelCount
        var h: [String: Any] = [
            "id": id, "ok": true, "index": s.index, "path": s.path.string, "sha256": s.blob.hex, "sample_rate": s.sampleRate,
            "channels": s.channelCount, "frames": s.frameCount,
        ]
        // dvs builds for little-endian machines only (x86-64, arm64): the array's bytes are the payload.
        if int16, let range = s.pcm16 {
            // The file's own samples, never decoded (a 16-bit PCM WAV the reader left as stored).
            h["encoding"] = "int16le"
            h["payload"] = range.count
            s.bytes.withUnsafeBytes { write(h, UnsafeRawBufferPointer(rebasing: $0[range])) }
        } else if asStored {
            // A tight loop: `map` with `rounded()` called libm per value (≈ 0.5 ms a clip). The
            // values are multiples of 1/32768 in [-1, 1), so scaling and truncating is exact;
            // the clamp keeps anything else (there is none) from trapping.
            var samples = [Int16](repeating: 0, count: s.pcm.count)
            s.pcm.withUnsafeBufferPointer { src in
                samples.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count { dst[i] = Int16(max(-32768, min(32767, src[i] * 32768))) }
                }
            }
            h["encoding"] = "int16le"
            h["payload"] = samples.count * 2
            samples.withUnsafeBytes { write(h, $0) }
        } else {
            h["encoding"] = "float32le"
            h["payload"] = s.pcm.count * 4
            s.pcm.withUnsafeBytes { write(h, $0) }
        }
    }

    /// An error answer carrying dvs's message, hint, cause and details.
    func error(id: Any, _ e: DVSError) {
        error(id: id, kind: Self.kind(e.code), message: e.message, hint: Hints.hint(for: e), cause: e.cause, details: e.details)
    }

    func error(id: Any, _ e: BatchSampleNotFound) {
        error(
            id: id, kind: "sampleNotFound", message: "no audio sample '\(e.path)' in snapshot \(e.commit.short)",
            hint: "paths are relative to the repository's root; the snapshot's samples() lists them")
    }

    func error(id: Any, _ e: BatchSnapshotRewritten) {
        error(
            id: id, kind: "snapshotRewritten",
            message:
                "snapshot \(e.asked.prefix(12)) was rewritten by a purge (it is now \(e.now.short)): its samples and their order changed",
            hint: "open the revision again and read its samples anew")
    }

    func error(id: Any, kind: String, message: String, hint: String?, cause: String? = nil, details: [String] = []) {
        let e: [String: Any] = [
            "kind": kind, "message": message, "hint": hint ?? NSNull(), "cause": cause ?? NSNull(), "details": details,
        ]
        write(["id": id, "ok": false, "error": e], Data())
    }

    /// The error code's name as the protocol spells it (`unknownRevision`, `corrupt`, …).
    static func kind(_ c: DVSError.Code) -> String { "\(c)" }

    private func write(_ header: [String: Any], _ payload: Data) {
        payload.withUnsafeBytes { write(header, $0) }
    }

    /// The header line and the payload in one `writev` (the payload is not copied into the
    /// header's buffer: at a few hundred KB a sample, that copy was a pass over every byte).
    private func write(_ header: [String: Any], _ payload: UnsafeRawBufferPointer) {
        var d = (try? JSONSerialization.data(withJSONObject: header, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        d.append(0x0A)
        d.withUnsafeBytes { h in
            var parts = [h, payload]
            while !parts.isEmpty {
                let n = parts.withUnsafeBufferPointer { p -> Int in
                    var iov = p.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
                    return Glibc.writev(1, &iov, Int32(iov.count))
                }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { Foundation.exit(1) }  // the client went away
                // Drop what was written: whole parts first, then the front of the next.
                var left = n
                while let first = parts.first, left >= first.count {
                    left -= first.count
                    parts.removeFirst()
                }
                if left > 0 { parts[0] = UnsafeRawBufferPointer(rebasing: parts[0][left...]) }
            }
        }
    }
}

/// JSON text of query rows, written directly: `JSONSerialization` takes ≈1.5 s for the 10k rows of
/// `SELECT * FROM sample` (bench/README.md, "Python"), this a few tens of milliseconds.
enum BatchJSON {
    /// `[[v, …], …]`: null, true/false, integers, doubles (shortest round-trip text; NaN and
    /// infinities, which JSON cannot hold, as null) and strings (escaped per RFC 8259).
    static func rows(_ rows: [[LabelValue]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * 256)
        out.append(UInt8(ascii: "["))
        for (i, row) in rows.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "["))
            for (j, v) in row.enumerated() {
                if j > 0 { out.append(UInt8(ascii: ",")) }
                value(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    static func value(_ v: LabelValue, into out: inout [UInt8]) {
        switch v {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let n): out.append(contentsOf: String(n).utf8)
        case .double(let d): out.append(contentsOf: (d.isFinite ? "\(d)" : "null").utf8)
        case .string(let s): string(s, into: &out)
        }
    }

    static func string(_ s: String, into out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
