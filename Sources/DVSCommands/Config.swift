import ArgumentParser
import DVS

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Get or set repository settings.",
        discussion:
            "Keys: core.fsmonitor (true: status and commit ask a file-system monitor daemon what changed, Linux only; see dvs fsmonitor; default false), core.lock-timeout (seconds a writer waits for the lock, default 30), core.workers (threads, default: cores), pack.target-size (bytes, default 67108864), zstd.level (1-19, default 1), pack.audio-codec (lpc, the default: FLAC-style coding of 16/24-bit PCM and μ-law/A-law, at least flac -5's ratio on every format, about 18% smaller than predictive on the bench corpus but about 2x its CPU to write and read; predictive: faster to read; auto: predictive for 16-bit mono up to 16 kHz, lpc for the rest), pack.defer-audio-after (bytes of audio one commit codes as it writes: an audio file that does not fit in what is left is stored as it is, for dvs repack to code; default 67108864; 0 stores all audio so; the word never makes the commit code everything), pack.auto-repack (true: a commit that stored audio as it is starts dvs repack in the background; default true), remote.<name>.transfers (parallel transfers, 1-64, default 8), remote.<name>.partial (true: a partial clone of that remote, set by dvs clone --branch; false makes it full, the next fetch downloads the rest; other remote.* keys are set by dvs remote add), cache.max-size (bytes dvs gc keeps .dvs/cache/blobs under, default 10737418240). Sizes in bytes take a k, m or g suffix, powers of 1024 as in git (or t, KiB, MiB, GiB, TiB): 64m is 67108864, and is stored so."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The key; none lists all.") var key: String?
    @Argument(help: "The new value.") var value: String?
    @Flag(help: "Remove the key.") var unset = false

    static let known: Set<String> = [
        "core.fsmonitor", "core.lock-timeout", "core.workers", "pack.audio-codec", "pack.target-size", "zstd.level", "cache.max-size",
        "pack.defer-audio-after", "pack.auto-repack",
    ]

    /// Every key a user may set, as listed in hints (the per-remote ones by pattern).
    static var knownList: String { (known.sorted() + ["remote.<name>.partial", "remote.<name>.transfers"]).joined(separator: ", ") }

    /// `remote.<name>.transfers`: parallel transfers for one remote (default 8).
    static func isRemoteTransfers(_ key: String) -> Bool { key.hasPrefix("remote.") && key.hasSuffix(".transfers") && key.count > 17 }
    /// `remote.<name>.partial`: whether this repository is a partial clone of that remote.
    static func isRemotePartial(_ key: String) -> Bool { key.hasPrefix("remote.") && key.hasSuffix(".partial") && key.count > 15 }

    /// Why `value` is not acceptable for `key`, or nil.
    static func problem(key: String, value: String) -> String? {
        if isRemotePartial(key) { return value == "true" || value == "false" ? nil : "must be true or false" }
        switch key {
        case "core.lock-timeout": return Double(value).map { $0 >= 0 ? nil : "must be ≥ 0 seconds" } ?? "not a number of seconds"
        case "core.fsmonitor", "pack.auto-repack": return value == "true" || value == "false" ? nil : "must be true or false"
        case "pack.defer-audio-after": return value == "never" || byteCount(value) != nil ? nil : "\(notBytes(value)), or never"
        case "core.workers": return Int(value).map { $0 >= 1 && $0 <= 256 ? nil : "must be 1…256" } ?? "not a whole number"
        case "pack.target-size":
            return byteCount(value).map { $0 >= 1 << 20 ? nil : "must be at least 1048576 bytes (1m)" } ?? notBytes(value)
        case _ where isRemoteTransfers(key): return Int(value).map { $0 >= 1 && $0 <= 64 ? nil : "must be 1…64" } ?? "not a whole number"
        case "cache.max-size": return byteCount(value) == nil ? notBytes(value) : nil
        case "zstd.level": return Int(value).map { $0 >= 1 && $0 <= 19 ? nil : "must be 1…19" } ?? "not a whole number"
        case "pack.audio-codec":
            return Repository.AudioCodecChoice(rawValue: value) == nil
                ? "must be one of \(Repository.AudioCodecChoice.allCases.map(\.rawValue).joined(separator: ", "))" : nil
        default: return nil
        }
    }

    /// What a setting that is not set means (as the help text gives it).
    static let defaults: [String: String] = [
        "core.fsmonitor": "false", "core.lock-timeout": "30", "core.workers": "the number of cores",
        "pack.audio-codec": "lpc", "pack.target-size": "67108864", "zstd.level": "1", "cache.max-size": "10737418240",
        "pack.defer-audio-after": "67108864", "pack.auto-repack": "true",
    ]

    /// The settings whose value is a size in bytes.
    static let byteKeys: Set<String> = ["pack.target-size", "pack.defer-audio-after", "cache.max-size"]

    /// A size as `dvs config` takes one: a whole number of bytes, optionally followed by `k`, `m`
    /// or `g` (either case), each a power of 1024 as in git's integer settings (git-config(1),
    /// "integer"), or `t`, or the IEC names `KiB`, `MiB`, `GiB`, `TiB`.
    /// - Returns: the bytes, or nil for anything else (SI units like `MB` included: whether they
    ///   mean 10⁶ or 2²⁰ is the reader's guess) or a size past `UInt64.max`.
    static func byteCount(_ text: String) -> UInt64? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let n = UInt64(digits) else { return nil }
        let power: UInt64
        switch text.dropFirst(digits.count).lowercased() {
        case "": return n
        case "k", "kib": power = 1
        case "m", "mib": power = 2
        case "g", "gib": power = 3
        case "t", "tib": power = 4
        default: return nil
        }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: 1 << (10 * power))
        return overflow ? nil : bytes
    }

    /// Why `value` is not a size, naming the suffixes taken.
    static func notBytes(_ value: String) -> String {
        let digits = value.prefix { $0.isASCII && $0.isNumber }
        let unit = value.dropFirst(digits.count)
        if ["kb", "mb", "gb", "tb"].contains(unit.lowercased()) {
            return "SI units are ambiguous here; write bytes, or k, m, g (powers of 1024: 64m is 67108864)"
        }
        // Digits and a suffix that are each fine: only their product can have failed.
        if !digits.isEmpty, byteCount("0" + unit) != nil {
            return "too large: at most 18446744073709551615 bytes (16777215t)"
        }
        return "not a whole number of bytes (or with k, m, g: 64m is 67108864)"
    }

    func run() throws {
        let repo = try global.repository()
        guard let key else {
            if unset { throw DVSError(.usage, "--unset needs the setting to remove: 'dvs config KEY --unset'") }
            for (k, v) in try repo.catalog.allConfig() { Output.out("\(k)=\(Repository.shownSetting(v))") }
            return
        }
        if value != nil && unset {
            throw DVSError(.usage, "give a value or --unset, not both: 'dvs config \(key) VALUE' or 'dvs config \(key) --unset'")
        }
        if value != nil || unset {
            if key == "core.format" { throw DVSError(.badInput, "'core.format' is set by 'dvs init' and cannot be changed") }
            // Any key the catalog holds can be removed (one a damaged copy brought back, say).
            let held = unset && (try? repo.catalog.config(key)) != nil
            guard held || Self.known.contains(key) || Self.isRemoteTransfers(key) || Self.isRemotePartial(key) else {
                throw DVSError(
                    .badInput, "unknown setting '\(key)'", hint: "known settings: \(Self.knownList)")
            }
            if let value, let problem = Self.problem(key: key, value: value) {
                throw DVSError(.badInput, "bad value '\(value)' for '\(key)': \(problem)")
            }
            // A size is stored in bytes, which is what every reader of the setting parses.
            let stored = value.map { v in Self.byteKeys.contains(key) ? Self.byteCount(v).map(String.init) ?? v : v }
            let codecBefore = repo.audioCodec
            try repo.setConfig(key, unset ? nil : stored)
            if key == "pack.audio-codec", repo.audioCodec != codecBefore {
                Output.err(
                    "note: new audio is coded with \(repo.audioCodec.rawValue); audio already coded keeps its codec until 'dvs repack --recode'"
                )
            }
            return
        }
        guard let v = try repo.catalog.config(key) else {
            throw DVSError(
                .badInput, "setting '\(key)' is not set",
                hint: Self.known.contains(key)
                    ? "it has its default\(Self.defaults[key].map { ", \($0)" } ?? ""); see 'dvs config --help'"
                    : "known settings: \(Self.knownList)")
        }
        Output.out(Repository.shownSetting(v))
    }
}
