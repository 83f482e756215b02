// dvs-read-bench: bench/lineage.sh's helper. Reads and decodes every sample of a revision through
// SnapshotReader (straight from packs, hashes verified) and the same WAV files from disk with
// libsndfile (sf_open + sf_readf_float), on the same number of threads, in one run; prints both
// rates and their ratio as JSON, and the reader's time without decoding (packs → verified bytes).
// Each way is timed twice: with the page cache warm, and cold — before every cold run the WAV
// files and the pack files are dropped from the page cache with posix_fadvise(POSIX_FADV_DONTNEED)
// (no root needed), so both sides really read from disk.
//   dvs-read-bench REPO REV DIR [--workers N] [--reps N]
import CSndfile
import DVS
import DVSCore
import Dispatch
import Foundation

let args = CommandLine.arguments
guard args.count >= 4 else {
    FileHandle.standardError.write(Data("usage: dvs-read-bench REPO REV DIR [--workers N] [--reps N]\n".utf8))
    exit(64)
}
let repoPath = args[1]
let rev = args[2]
let dir = args[3]
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}
let workers = option("--workers", ProcessInfo.processInfo.activeProcessorCount)
let reps = option("--reps", 3)

let repo = try Repository.discover(from: repoPath, context: ProcessContext.current())

func viaReader(workers: Int, decode: Bool = true) throws -> (seconds: Double, samples: Int, frames: Int, audioSeconds: Double) {
    let t = Date()
    let reader = try SnapshotReader(repository: repo, revision: Revision(rev), decode: decode, workers: workers)
    var n = 0
    var frames = 0
    var secs = 0.0
    // SnapshotReader.forEach is a throwing streaming read, not Sequence.forEach.
    // swift-format-ignore: ReplaceForEachWithForLoop
    try reader.forEach { s in
        n += 1
        frames += s.frameCount
        secs += s.duration
    }
    return (Date().timeIntervalSince(t), n, frames, secs)
}

final class Totals: @unchecked Sendable {
    let lock = NSLock()
    var frames = 0, n = 0
    var failed: [String] = []
}

func viaDisk(_ paths: [String], workers: Int) -> (seconds: Double, samples: Int, frames: Int) {
    let t = Date()
    let totals = Totals()
    let next = Totals()  // next.n is the next index
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let i: Int = next.lock.withLock {
                defer { next.n += 1 }
                return next.n
            }
            if i >= paths.count { break }
            var info = SF_INFO()
            guard let sf = sf_open(paths[i], Int32(SFM_READ), &info) else {
                totals.lock.withLock { totals.failed.append(paths[i]) }
                continue
            }
            var pcm = [Float](repeating: 0, count: Int(info.frames) * Int(info.channels))
            let got = pcm.withUnsafeMutableBufferPointer { sf_readf_float(sf, $0.baseAddress, info.frames) }
            sf_close(sf)
            totals.lock.withLock {
                totals.frames += Int(got)
                totals.n += 1
            }
            withExtendedLifetime(pcm) {}
        }
    }
    return (Date().timeIntervalSince(t), totals.n, totals.frames)
}

/// Drops `files` from the page cache (clean pages only; nothing is written).
func evict(_ files: [String]) {
    for f in files {
        let fd = open(f, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { continue }
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
        close(fd)
    }
}

let paths = try SnapshotReader(repository: repo, revision: Revision(rev), decode: false).entries.map { dir + "/" + $0.path.string }
let packsDir = repo.dvsDir + "/packs"
let packs = ((try? FileManager.default.contentsOfDirectory(atPath: packsDir)) ?? []).filter { $0.hasSuffix(".pack") }.map {
    packsDir + "/" + $0
}
var best: (reader: Double, disk: Double, undecoded: Double) = (.infinity, .infinity, .infinity)
var cold: (reader: Double, disk: Double) = (.infinity, .infinity)
var info: (samples: Int, frames: Int, hours: Double) = (0, 0, 0)
var diskFrames = 0
for _ in 0..<reps {
    // Each side evicts only its own files, so the warm runs below find both cached again.
    evict(paths)
    cold.disk = min(cold.disk, viaDisk(paths, workers: workers).seconds)
    evict(packs)
    cold.reader = min(cold.reader, try viaReader(workers: workers).seconds)
    let d = viaDisk(paths, workers: workers)
    let r = try viaReader(workers: workers)
    best.disk = min(best.disk, d.seconds)
    best.reader = min(best.reader, r.seconds)
    best.undecoded = min(best.undecoded, try viaReader(workers: workers, decode: false).seconds)
    info = (r.samples, r.frames, r.audioSeconds / 3600)
    diskFrames = d.frames
}
func r3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
let out: [String: Any] = [
    "samples": info.samples, "audio_hours": r3(info.hours), "workers": workers, "reps": reps,
    "frames_equal": info.frames == diskFrames,
    "reader_seconds": r3(best.reader),
    "reader_bytes_only_seconds": r3(best.undecoded), "disk_seconds": r3(best.disk),
    "reader_samples_per_s": (Double(info.samples) / best.reader).rounded(),
    "disk_samples_per_s": (Double(info.samples) / best.disk).rounded(),
    "ratio_reader_over_disk": r3(best.disk / best.reader),
    "cold_reader_seconds": r3(cold.reader), "cold_disk_seconds": r3(cold.disk), "cold_ratio_reader_over_disk": r3(cold.disk / cold.reader),
]
print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
