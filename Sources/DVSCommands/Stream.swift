import ArgumentParser
import DVS
import DVSCore
import Foundation

extension SampleSource: ExpressibleByArgument {}

struct Stream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream", abstract: "Write a snapshot as a WebDataset-style tar stream to stdout.",
        discussion: """
            Per sample: KEY.<ext> (the original audio bytes) and KEY.json (path,
            sha256, audio facts, labels); KEY is the path without extension, dots
            as '_'. The order is path order, or a shuffle that is the same for the
            same --shuffle seed; --shard I/N keeps every N-th sample from position
            I, so N workers with one seed read disjoint parts that cover the
            snapshot. With --from auto (the default), a sample of HEAD's commit
            whose file in the working tree the stat cache vouches for (unchanged
            since it was checked out or committed, as 'dvs status' decides) is
            read from that file; every other one from the store, its SHA-256
            checked. --from store always reads the store. The stream is the same
            either way. In PyTorch, one URL per shard, so that DataLoader workers \
            (and ranks) split them and read each sample once:
              urls = [f"pipe:dvs stream --rev cohort/es --shuffle 7 --shard {i}/8"
                      for i in range(8)]
              ds = webdataset.WebDataset(urls, shardshuffle=False)
              loader = torch.utils.data.DataLoader(ds, num_workers=4, batch_size=None)
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var source: RemoteSource
    @Option(help: "The snapshot.") var rev: String = "HEAD"
    @Option(help: "Shuffle with this seed (a whole number).") var shuffle: UInt64?
    @Option(help: ArgumentHelp("Only shard I of N (0 ≤ I < N).", valueName: "I/N")) var shard: String?
    @Option(
        help: ArgumentHelp(
            "Where the audio bytes come from: auto (unchanged working-tree files, else the store) or store.", valueName: "auto|store"))
    var from: SampleSource = .auto

    func run() throws {
        var part: (index: Int, count: Int)?
        if let shard {
            let bits = shard.split(separator: "/")
            guard bits.count == 2, let i = Int(bits[0]), let n = Int(bits[1]) else {
                throw DVSError(.usage, "--shard '\(shard)' is not I/N", hint: "for example --shard 0/4")
            }
            part = (i, n)
        }
        if isatty(1) != 0 {
            throw DVSError(
                .usage, "refusing to write a tar stream to a terminal",
                hint: "pipe it: dvs stream --rev \(rev) | tar -tv, or > snapshot.tar")
        }
        let (repo, cache) = try source.repository(global, revision: rev)
        defer { cache?.close() }
        // From a remote, the commit the cache resolved when it opened: sibling workers read one
        // snapshot even if another process's fetch moves the branch meanwhile; said on stderr
        // so that a job's log shows what each worker read.
        var revision = Revision(rev)
        if let cache, let c = cache.commit {
            revision = Revision(c.hex)
            let when = cache.fetched != nil ? "fetched now" : "as fetched \(Int(cache.fetchAge)) s ago"
            Output.err("dvs stream: \(rev) is \(c.hex) on the remote (\(when))")
        }
        let summary = try repo.stream(revision, seed: shuffle, shard: part, to: 1, source: from, progress: Output.progress())
        if isatty(2) != 0 {
            Output.err(
                "streamed \(Output.count(summary.sampleCount, "sample")) (\(Output.bytes(summary.audioBytes))) of \(rev) (\(summary.commit.short))"
            )
        }
    }
}
