import ArgumentParser
import DVS

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Get or set repository settings.",
        discussion: "Keys: core.lock-timeout (seconds a writer waits for the lock, default 30), core.workers (threads, default: cores), pack.target-size (bytes, default 67108864), zstd.level (1-19, default 1).")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The key; none lists all.") var key: String?
    @Argument(help: "The new value.") var value: String?
    @Flag(help: "Remove the key.") var unset = false

    static let known: Set<String> = ["core.lock-timeout", "core.workers", "pack.target-size", "zstd.level"]

    func run() throws {
        let repo = try global.repository()
        guard let key else {
            for (k, v) in try repo.catalog.allConfig() { Output.out("\(k)=\(v)") }
            return
        }
        if value != nil || unset {
            guard Self.known.contains(key) || key.hasPrefix("user.") else {
                throw DVSError(.badInput, "unknown setting '\(key)'", hint: "known settings: \(Self.known.sorted().joined(separator: ", "))")
            }
            try repo.setConfig(key, unset ? nil : value)
            return
        }
        guard let v = try repo.catalog.config(key) else { throw ExitCode(1) }
        Output.out(v)
    }
}
