import ArgumentParser
import DVS
import Foundation

/// `--remote URL` and its cache options, for the commands that read a snapshot (ls, cat,
/// query, stream, train, eval, run): read a remote without cloning it, through a local cache
/// (`RemoteCache`).
struct RemoteSource: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Read this remote (s3://bucket/prefix or a folder) without a clone, through a local cache; revisions name its branches.",
            valueName: "url"))
    var remote: String?
    @Option(
        name: .customLong("cache-dir"),
        help: ArgumentHelp("With --remote: where remotes are cached (default $XDG_CACHE_HOME/dvs or ~/.cache/dvs).", valueName: "dir"))
    var cacheDir: String?
    @Option(
        name: .customLong("cache-size"),
        help: ArgumentHelp(
            "With --remote: the audio kept in the cache, least recently used evicted first (bytes, or with K, M, G; default 10G).",
            valueName: "size"))
    var cacheSize: String?
    @Option(help: ArgumentHelp("With --remote: an S3 endpoint other than AWS.", valueName: "url")) var endpoint: String?
    @Option(help: ArgumentHelp("With --remote: the S3 region.", valueName: "region")) var region: String?
    @Flag(help: "With --remote: path-style S3 addressing.") var pathStyle = false

    func validate() throws {
        if remote == nil && (cacheDir != nil || cacheSize != nil || endpoint != nil || region != nil || pathStyle) {
            throw ValidationError("--cache-dir, --cache-size, --endpoint, --region and --path-style go with --remote")
        }
        if let cacheSize, Self.bytes(cacheSize) == nil {
            throw ValidationError("--cache-size '\(cacheSize)' is not a size: give bytes, or a number with K, M or G (for example 20G)")
        }
    }

    /// `size` in bytes: a whole number, optionally followed by K, M, G or T (powers of 1024; a
    /// trailing `B`/`iB` is allowed); nil when it is not one.
    static func bytes(_ size: String) -> UInt64? {
        var s = size.trimmingCharacters(in: .whitespaces).uppercased()
        if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var scale: UInt64 = 1
        if let last = s.last, let u = units[last] {
            scale = u
            s.removeLast()
        }
        guard let n = UInt64(s) else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : product
    }

    /// The repository to read: the remote's cache with `--remote` (opened, fetched when stale,
    /// its reader lock held until the cache is closed), else the one `global` finds.
    /// - Throws: `DVSError.usage` when both `--remote` and `-C` are given; what opening either throws.
    /// - Parameter revision: the revision the command reads (the cache fetches when it does
    ///   not know it yet).
    func repository(_ global: GlobalOptions, revision: String?) throws -> (Repository, RemoteCache?) {
        guard let remote else { return (try global.repository(), nil) }
        if global.directory != nil {
            throw DVSError(.usage, "give either --remote or -C, not both", hint: "--remote reads the remote without a local repository")
        }
        var options = RemoteReadOptions(url: remote)
        options.cacheDirectory = cacheDir
        options.sizeLimit = cacheSize.flatMap(Self.bytes)
        options.endpoint = endpoint
        options.region = region
        options.pathStyle = pathStyle
        options.revision = revision
        // Tests (and a job that wants one snapshot for longer) set how often the cache fetches.
        if let s = CurrentProcess.context.environment["DVS_REMOTE_REFRESH_SECONDS"].flatMap(Double.init), s >= 0 {
            options.refreshAfter = s
        }
        let cache = try RemoteCache.open(options, context: CurrentProcess.context, progress: Output.progress())
        StartupTrace.repositoryOpened()
        return (cache.repository, cache)
    }

    /// With a cache: sends the lineage records made on it back to the remote
    /// (``RemoteCache/pushRecords()``) and says so on stderr; nothing without one.
    /// - Throws: what ``RemoteCache/pushRecords()`` throws.
    func sendBack(_ cache: RemoteCache?) throws {
        guard let cache else { return }
        let sent = try cache.pushRecords()
        if !sent.isEmpty {
            let what = sent.map(\.short).joined(separator: ", ")
            Output.err("sent \(Output.count(sent.count, "lineage record")) back to the remote: \(what)")
        }
    }
}
