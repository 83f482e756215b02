// dvs-codec-bench: bench/codec.sh's helper for the audio codec alone. Reads WAV files named on
// stdin (one path per line), groups them by sample format, and times `LPCAudio.encode`,
// `LPCAudio.decode` and `AudioLevels.measure` (which every commit runs too) on one thread: CPU
// time of this process, best of --reps, no hashing, zstd or I/O in the timed part. Every decode
// is compared with its file; a file the codec declines (nil payload) is counted and left out.
//   dvs-codec-bench [--reps N] < LIST
// Prints one JSON object per format: format, files, declined, raw_bytes, payload_bytes, ratio,
// encode_mb_s, decode_mb_s, levels_mb_s (MB = 10^6 bytes of WAV per CPU second).
import DVSAudio
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

let args = CommandLine.arguments
let reps = args.firstIndex(of: "--reps").flatMap { $0 + 1 < args.count ? Int(args[$0 + 1]) : nil } ?? 3

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
        + Double(u.ru_stime.tv_usec) / 1e6
}

var groups: [String: [(file: [UInt8], layout: RIFFLayout)]] = [:]
while let line = readLine() {
    guard !line.isEmpty, let data = FileManager.default.contents(atPath: line) else { continue }
    let bytes = [UInt8](data)
    guard let layout = bytes.withUnsafeBytes({ RIFFLayout.parse($0) }), let format = LPCAudio.sampleFormat(of: layout) else {
        continue
    }
    groups["\(format)-\(layout.sampleRate)Hz-\(layout.channelCount)ch", default: []].append((bytes, layout))
}
var failed = false
for (name, files) in groups.sorted(by: { $0.key < $1.key }) {
    let raw = files.reduce(0) { $0 + $1.file.count }
    var payloads: [[UInt8]] = []
    var declined = 0
    var encode = Double.infinity
    var decode = Double.infinity
    var levels = Double.infinity
    for _ in 0..<reps {
        let t0 = cpuSeconds()
        for f in files { _ = f.file.withUnsafeBytes { AudioLevels.measure($0, layout: f.layout, channelCount: f.layout.channelCount) } }
        levels = min(levels, cpuSeconds() - t0)
        let t = cpuSeconds()
        payloads = files.map { f in f.file.withUnsafeBytes { LPCAudio.encode($0, layout: f.layout) } ?? [] }
        declined = payloads.filter(\.isEmpty).count
        encode = min(encode, cpuSeconds() - t)
        let t2 = cpuSeconds()
        var back: [[UInt8]] = []
        for p in payloads where !p.isEmpty { back.append((try? p.withUnsafeBytes { try LPCAudio.decode($0) }) ?? []) }
        decode = min(decode, cpuSeconds() - t2)
        for (b, f) in zip(back, zip(payloads, files).filter { !$0.0.isEmpty }.map(\.1)) where b != f.file { failed = true }
    }
    let coded = payloads.reduce(0) { $0 + $1.count }
    let mb = Double(raw) / 1e6
    print(
        "{\"format\": \"\(name)\", \"files\": \(files.count), \"declined\": \(declined), \"raw_bytes\": \(raw), \"payload_bytes\": \(coded), "
            + "\"ratio\": \(String(format: "%.4f", Double(coded) / Double(max(raw, 1)))), "
            + "\"encode_mb_s\": \(String(format: "%.1f", mb / encode)), \"decode_mb_s\": \(String(format: "%.1f", mb / decode)), "
            + "\"levels_mb_s\": \(String(format: "%.1f", mb / levels))}")
}
if failed {
    FileHandle.standardError.write(Data("dvs-codec-bench: a decoded file differs from its input\n".utf8))
    exit(1)
}
