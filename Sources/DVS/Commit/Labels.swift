import DVSCore
import DVSLabels
import Foundation

/// Labels joined to a tree's samples, ready to store.
struct AnnotatedTree {
    /// The entries, with `annotations` set on labeled samples.
    var entries: [ManifestEntry]
    /// What the label builder found; its `samples` and `words` are already in `entries` and
    /// `pendingWords`, and are empty here.
    var labels: LabelBuildResult
    /// Words objects to write before the manifest that references them: (id, bytes).
    var pendingWords: [(ObjectID, [UInt8])]
}

extension Repository {
    /// Joins the working tree's label tables and sidecars to its samples.
    ///
    /// Label files are read again from the working tree and must still hash to the blob the scan
    /// recorded, so a label file edited during a commit cannot be half-seen.
    /// - Parameters:
    ///   - entries: the scanned tree, sorted by path.
    ///   - previous: the snapshot the tree is compared with (HEAD); transcripts of Deepgram
    ///     responses unchanged since then, for unchanged audio, are reused rather than parsed again.
    ///   - committedOutside: for a commit of some paths, those paths: a label file elsewhere is
    ///     the parent's, read from the store (its working-tree copy may differ).
    /// - Throws: `DVSError.badInput` when a label file changed while read; `.io` when unreadable;
    ///   `.corrupt` when the parent's copy cannot be read. Bad label *content* is never thrown:
    ///   it comes back as findings.
    func annotateWorkingTree(
        _ entries: consuming [ManifestEntry], previous: [ManifestEntry] = [], committedOutside paths: [RepoPath]? = nil
    ) throws -> AnnotatedTree {
        // Label files are never audio: a million samples need no entry here.
        var labelFiles: [RepoPath: ObjectID] = [:]
        for e in copy entries where e.audio == nil && labelFiles[e.path] == nil { labelFiles[e.path] = e.blob }
        let blobs = labelFiles
        let root = self.root
        let store = self.blobs
        return try annotate(consume entries, transcripts: Self.transcriptCache(previous)) { path in
            if let paths, !paths.contains(where: { path.isWithin($0) }), let blob = blobs[path] {
                do { return try store.read(blob) } catch {
                    throw DVSError(
                        .corrupt, "cannot read '\(path)' of HEAD (blob \(blob.hex)): \(DVSError.wrap(error).message)", next: .runFsck)
                }
            }
            return try Self.readLabelFile(root: root, path, expecting: blobs[path])
        }
    }

    /// A label file of the working tree, which must still hash to the blob the scan recorded, so
    /// a label file edited during a commit cannot be half-seen.
    /// - Throws: `DVSError.badInput` when it changed since the scan; `.io` when unreadable.
    func readLabelFile(_ path: RepoPath, expecting blob: ObjectID?) throws -> [UInt8] {
        try Self.readLabelFile(root: root, path, expecting: blob)
    }

    static func readLabelFile(root: String, _ path: RepoPath, expecting blob: ObjectID?) throws -> [UInt8] {
        let (bytes, _) = try WorkingTree.readFile(root: root, path)
        guard ObjectID.hashing(bytes) == blob else {
            throw DVSError(
                .badInput, "label file '\(path)' changed while it was being read",
                hint: "stop the program writing it and run the command again; nothing was committed")
        }
        return bytes
    }

    /// Joins labels to `entries`, reading label files with `read`.
    ///
    /// Annotates `entries` in place when the caller gives them up (`consume`), so a tree of a
    /// million samples is not held twice.
    func annotate(
        _ entries: consuming [ManifestEntry], transcripts: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:],
        read: @escaping @Sendable (RepoPath) throws -> [UInt8]
    ) throws -> AnnotatedTree {
        var result: LabelBuildResult
        // Symlinks are not label files nor samples: the builder sees the other entries, by
        // position (`filePositions` maps a builder position to an entry index when any is left out).
        var filePositions: [Int32]?
        do {
            // The builder reads the entries through a view (no second list of a million files);
            // the view is gone before `entries` are annotated in place below.
            result = try {
                let all = copy entries
                if all.contains(where: { $0.kind == .symlink }) {
                    filePositions = all.indices.filter { all[$0].kind != .symlink }.map { Int32($0) }
                }
                let positions = filePositions
                let tree = LabelTreeFiles(
                    count: positions?.count ?? all.count,
                    file: { i in
                        let e = all[positions.map { Int($0[i]) } ?? i]
                        return LabelTreeFile(path: e.path, blob: e.blob, byteCount: e.byteCount, audio: e.audio)
                    },
                    path: { i in all[positions.map { Int($0[i]) } ?? i].path })
                return try LabelBuilder.build(tree: tree, read: read, transcripts: transcripts)
            }()
        } catch { throw DVSError.wrap(error) }
        var out = consume entries
        var pending: [(ObjectID, [UInt8])] = []
        var byEntry = result.annotations
        result.annotations = []
        if let filePositions, !byEntry.isEmpty {
            var spread = [SampleAnnotations?](repeating: nil, count: out.count)
            for (i, a) in byEntry.enumerated() { spread[Int(filePositions[i])] = a }
            byEntry = spread
        }
        for i in out.indices {
            out[i].annotations = nil
            guard !byEntry.isEmpty, var a = byEntry[i] else { continue }
            byEntry[i] = nil
            if a.transcript != nil, let words = result.words[out[i].path], !words.isEmpty {
                let bytes = TranscriptWords.encode(words)
                let id = ObjectID.hashing(bytes)
                a.transcript!.words = id
                pending.append((id, bytes))
            }
            out[i].annotations = a.isEmpty ? nil : a
        }
        result.samples = [:]
        result.words = [:]
        return AnnotatedTree(entries: out, labels: result, pendingWords: pending)
    }

    /// Transcripts of a snapshot by sidecar blob, with the audio they belong to.
    static func transcriptCache(_ entries: [ManifestEntry]) -> [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] {
        var blobOf: [String: ObjectID] = [:]
        for e in entries where e.byteCount > 0 && e.audio == nil { blobOf[e.path.string] = e.blob }
        var out: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:]
        for e in entries {
            // A summary from an older repository whose speaker count spans channels is parsed again.
            guard let t = e.annotations?.transcript, !t.speakersCountedAcrossChannels, let sidecar = blobOf[t.source] else { continue }
            out[sidecar] = (e.blob, t)
        }
        return out
    }

    /// Writes the words objects a tree references that are not stored yet.
    func storeWords(_ tree: AnnotatedTree) throws -> UInt64 {
        var written: UInt64 = 0
        for (id, bytes) in tree.pendingWords where !objects.contains(id) {
            do { try objects.write(bytes, id: id) } catch { throw DVSError.wrap(error) }
            written += UInt64(bytes.count)
        }
        return written
    }

    /// The words of a transcript, read from the store and verified.
    /// - Throws: `DVSError.corrupt` when the object is missing or malformed.
    public func words(_ id: ObjectID) throws -> [TranscriptWord] {
        do { return try TranscriptWords.decode(objects.read(id)) } catch {
            throw DVSError(.corrupt, "cannot read words object '\(id.hex)': \(DVSError.wrap(error).message)", next: .runFsck)
        }
    }
}

/// One sample as a JSON object: what hooks read on stdin and `--json` commands print.
///
/// Keys: `path`, `sha256`, `format`, `encoding`, `sample_rate` (Hz), `channels`, `frames`,
/// `duration_s`, `channel_peak` (0…1 per channel), `channel_rms_dbfs` (per channel, null for
/// digital silence), `labels` (object of typed values), and when a transcript is attached
/// `transcript`, `language`, `confidence` (Deepgram's), `mean_word_confidence`, `word_count`,
/// `speaker_count`, `words` (object id).
public func sampleJSONObject(_ e: ManifestEntry) -> [String: Any] {
    var o: [String: Any] = ["path": e.path.string, "sha256": e.blob.hex, "bytes": e.byteCount]
    if let a = e.audio {
        o["format"] = a.container
        o["encoding"] = a.encoding
        o["sample_rate"] = a.sampleRate
        o["channels"] = a.channelCount
        o["frames"] = a.frameCount
        o["duration_s"] = (a.duration * 1e6).rounded() / 1e6
        o["channel_peak"] = a.peak.map { (Double($0) * 1e6).rounded() / 1e6 }
        o["channel_rms_dbfs"] = a.rmsDBFS.map { v -> Any in v.map { ($0 * 100).rounded() / 100 } ?? NSNull() }
    }
    var labels: [String: Any] = [:]
    for f in e.annotations?.labels ?? [] { labels[f.name] = jsonValue(f.value) }
    o["labels"] = labels
    if let t = e.annotations?.transcript {
        o["transcript"] = t.text
        o["language"] = t.language ?? NSNull()
        o["confidence"] = t.confidence ?? NSNull()
        o["mean_word_confidence"] = t.meanWordConfidence ?? NSNull()
        o["word_count"] = t.wordCount
        o["speaker_count"] = t.speakerCount
        if let w = t.words { o["words"] = w.hex }
    }
    if let segs = e.annotations?.segments, !segs.isEmpty {
        o["segments"] = segs.map { s -> [String: Any] in
            var l: [String: Any] = [:]
            for f in s.labels { l[f.name] = jsonValue(f.value) }
            return ["start": s.start, "end": s.end, "channel": s.channel ?? NSNull(), "source": s.source, "labels": l] as [String: Any]
        }
    }
    return o
}

/// A label value as a JSON value (`NSNull` for null): ``LabelValue/jsonObject``.
public func jsonValue(_ v: LabelValue) -> Any { v.jsonObject }

/// A fast writer of `sampleJSONObject`'s JSON (same keys and values, keys sorted, one line), for
/// streams of many samples: hook input, `DVS_MANIFEST`. JSON per RFC 8259.
public enum SampleJSON {
    /// Appends one sample as a single-line JSON object.
    public static func write(_ e: ManifestEntry, to out: inout String) {
        var fields: [(String, String)] = [("bytes", String(e.byteCount)), ("path", quote(e.path.string)), ("sha256", quote(e.blob.hex))]
        if let a = e.audio {
            fields += [
                ("channel_peak", "[" + a.peak.map { number(Double($0), digits: 6) }.joined(separator: ",") + "]"),
                ("channel_rms_dbfs", "[" + a.rmsDBFS.map { $0.map { number($0, digits: 2) } ?? "null" }.joined(separator: ",") + "]"),
                ("channels", String(a.channelCount)), ("duration_s", number(a.duration, digits: 6)),
                ("encoding", quote(a.encoding)), ("format", quote(a.container)), ("frames", String(a.frameCount)),
                ("sample_rate", String(a.sampleRate)),
            ]
        }
        let n = e.annotations
        fields.append(("labels", "{" + (n?.labels ?? []).map { quote($0.name) + ":" + value($0.value) }.joined(separator: ",") + "}"))
        if let t = n?.transcript {
            fields += [
                ("confidence", t.confidence.map { number($0, digits: 6) } ?? "null"), ("language", t.language.map(quote) ?? "null"),
                ("mean_word_confidence", t.meanWordConfidence.map { number($0, digits: 6) } ?? "null"),
                ("speaker_count", String(t.speakerCount)), ("transcript", quote(t.text)), ("word_count", String(t.wordCount)),
            ]
            if let w = t.words { fields.append(("words", quote(w.hex))) }
        }
        if let segs = n?.segments, !segs.isEmpty {
            fields.append(
                (
                    "segments",
                    "["
                        + segs.map { s in
                            "{\"channel\":\(s.channel.map(String.init) ?? "null"),\"end\":\(number(s.end, digits: 6)),\"labels\":{"
                                + s.labels.map { quote($0.name) + ":" + value($0.value) }.joined(separator: ",")
                                + "},\"source\":\(quote(s.source)),\"start\":\(number(s.start, digits: 6))}"
                        }.joined(separator: ",") + "]"
                ))
        }
        fields.sort { $0.0 < $1.0 }
        out.append("{")
        for (i, f) in fields.enumerated() {
            if i > 0 { out.append(",") }
            out.append("\"\(f.0)\":")
            out.append(f.1)
        }
        out.append("}")
    }

    static func value(_ v: LabelValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? "\(d)" : "null"
        case .string(let s): return quote(s)
        }
    }

    static func number(_ d: Double, digits: Int) -> String {
        guard d.isFinite else { return "null" }
        let scale = pow(10.0, Double(digits))
        return "\((d * scale).rounded() / scale)"
    }

    /// A JSON string literal (shared with the label parser's writer).
    static func quote(_ s: String) -> String { jsonStringLiteral(s) }
}
