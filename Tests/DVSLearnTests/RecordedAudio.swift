import DVSTestSupport
import Foundation

/// Real recorded voices from Debian packages, converted by sox to 16 kHz mono Float PCM — the
/// shape the snapshot reader hands to DVSLearn.
enum RecordedAudio {
    /// Wideband (44.1 kHz) recordings: ktuberling's English and German words, klettres' English
    /// letters. Sorted paths, grouped by source.
    static func wideband(_ source: String) -> [String] {
        let dir: String
        switch source {
        case "ktuberling-en": dir = "/usr/share/ktuberling/sounds/en"
        case "ktuberling-de": dir = "/usr/share/ktuberling/sounds/de"
        case "klettres-en": dir = "/usr/share/klettres/en/alpha"
        default: return []
        }
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.filter { $0.hasSuffix(".ogg") }.sorted().map { dir + "/" + $0 }
    }

    /// How a clip is degraded before it reaches the features.
    enum Channel: Sendable {
        /// As recorded (resampled to 16 kHz).
        case wideband
        /// Telephony: 8 kHz μ-law, then back up to 16 kHz (nothing above 4 kHz remains).
        case telephony
    }

    /// The clip at `path` as mono Float samples at 16 kHz after `channel`.
    static func samples(_ path: String, _ channel: Channel = .wideband) throws -> [Float] {
        try TestSupport.withTemporaryDirectory { dir in
            let out = dir + "/out.f32"
            let toRaw = "-r 16000 -c 1 -e floating-point -b 32 -t raw '\(out)'"
            switch channel {
            case .wideband:
                try TestSupport.sh("sox -R '\(path)' \(toRaw)")
            case .telephony:
                try TestSupport.sh("sox -R '\(path)' -r 8000 -c 1 -e mu-law -b 8 '\(dir)/tel.wav' && sox -R '\(dir)/tel.wav' \(toRaw)")
            }
            let data = try TestSupport.read(out)
            return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }

    /// `samples` for many clips on all cores, in input order.
    static func samples(_ jobs: [(String, Channel)]) throws -> [[Float]] {
        let results = Results(count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            results.set(i, Result { try samples(jobs[i].0, jobs[i].1) })
        }
        return try results.values.map { try $0!.get() }
    }

    private final class Results: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [Result<[Float], Error>?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Result<[Float], Error>) { lock.withLock { values[i] = r } }
    }
}
