import DVSCore
import Foundation

extension BuildRun {
    /// Attaches each Deepgram response to its sample and parses it.
    ///
    /// Matching order: `metadata.sha256` equal to a sample's blob; `x.json` or `x.wav.json` beside
    /// `x.wav`; the unique sample anywhere with the same stem; a `[labels.sidecars] deepgram` pattern.
    mutating func matchSidecars(_ read: @Sendable (RepoPath) throws -> [UInt8]) throws {
        var taken: [RepoPath: RepoPath] = [:]
        var jobs: [(path: RepoPath, sample: RepoPath)] = []
        for (path, sha256) in responses {
            guard let sample = match(path, sha256) else {
                findings.append(
                    LabelFinding(
                        .warning, "unmatched-sidecar", file: path.string,
                        "Deepgram response \(path) matches no sample (by metadata.sha256, by name, or by a sidecar pattern)",
                        hint: "name it after its audio (x.wav → x.json) or add a pattern under [labels.sidecars] in dvs.toml"))
                tables.append(LabelTableInfo(path: path.string, format: "deepgram", records: 1, samples: 0))
                continue
            }
            tables.append(LabelTableInfo(path: path.string, format: "deepgram", records: 1, samples: 1))
            if let first = taken[sample] {
                findings.append(
                    LabelFinding(
                        .warning, "duplicate-sample", file: path.string,
                        "\(sample) already has the transcript \(first); kept \(first)", hint: "remove one of the responses"))
                continue
            }
            taken[sample] = path
            if let sidecar = index.files[path], let audio = index.files[sample], let known = knownTranscripts[sidecar.blob],
                known.audio == audio.blob
            {
                var summary = known.summary
                summary.source = path.string
                var a = acc[sample] ?? SampleAnnotations()
                a.transcript = summary
                if !a.sources.contains(path.string) {
                    a.sources.append(path.string)
                    a.sources.sort()
                }
                acc[sample] = a
                continue
            }
            jobs.append((path, sample))
        }
        // Parse on every core: a call-centre tree holds thousands of responses of ~100 KB.
        let parsed = ParsedResponses(count: jobs.count)
        let files = index.files
        let jobList = jobs
        DispatchQueue.concurrentPerform(iterations: jobList.count) { i in
            let job = jobList[i]
            do {
                parsed.set(i, .success(DeepgramSidecar.parse(try read(job.path), path: job.path.string, audio: files[job.sample])))
            } catch {
                parsed.set(i, .failure(error))
            }
        }
        for (i, job) in jobs.enumerated() {
            let result = try parsed.get(i).get()
            findings += result.findings
            if let summary = result.summary {
                var a = acc[job.sample] ?? SampleAnnotations()
                a.transcript = summary
                if !a.sources.contains(job.path.string) {
                    a.sources.append(job.path.string)
                    a.sources.sort()
                }
                acc[job.sample] = a
            }
            if !result.words.isEmpty { words[job.sample] = result.words }
        }
    }

    /// The sample a response belongs to, or nil.
    func match(_ path: RepoPath, _ sha256: String?) -> RepoPath? {
        if let hex = sha256?.lowercased(), let s = index.samplesByHex[hex] { return s }
        let base = stem(of: path.name)
        if let beside = index.files[path.parent.map { $0.appending(base) } ?? RepoPath(bytes: base)], beside.audio != nil {
            return beside.path
        }
        let sameStem = index.samplesByStem[base] ?? []
        if let s = sameStem.first(where: { $0.parent == path.parent }) { return s }
        if sameStem.count == 1 { return sameStem[0] }
        let patterned = files.filter { $0.audio != nil && expansions(of: $0.path).contains(path) }
        return patterned.count == 1 ? patterned[0].path : nil
    }

    /// The config's sidecar patterns for one sample: `{dir}` its folder (empty at the root),
    /// `{name}` its file name, `{stem}` the name without extension.
    func expansions(of sample: RepoPath) -> [RepoPath] {
        config.deepgramPatterns.compactMap { pattern in
            let text = pattern.replacingOccurrences(of: "{dir}", with: sample.parent?.string ?? "")
                .replacingOccurrences(of: "{name}", with: String(decoding: sample.name, as: UTF8.self))
                .replacingOccurrences(of: "{stem}", with: String(decoding: stem(of: sample.name), as: UTF8.self))
            return joinPath(nil, text)
        }
    }
}

/// Results of parsing responses on several threads, one slot each.
final class ParsedResponses: @unchecked Sendable {
    typealias Parsed = (summary: TranscriptSummary?, words: [TranscriptWord], findings: [LabelFinding])
    private var slots: [Result<Parsed, Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ r: Result<Parsed, Error>) { lock.withLock { slots[i] = r } }
    func get(_ i: Int) -> Result<Parsed, Error> { lock.withLock { slots[i]! } }
}
