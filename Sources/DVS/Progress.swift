/// Progress of a long operation, reported through a callback; the CLI draws it.
public struct Progress: Sendable {
    /// What is happening (`hashing`, `compressing`, `writing`, `verifying`).
    public var phase: String
    /// Items done.
    public var done: Int
    /// Items in all (0 when unknown).
    public var total: Int
    /// Bytes processed so far.
    public var bytes: UInt64
    /// Bytes in all, when known (transfers), else 0; with `bytes` it gives a rate and an ETA.
    public var totalBytes: UInt64
    /// Creates a report.
    public init(phase: String, done: Int, total: Int, bytes: UInt64, totalBytes: UInt64 = 0) {
        self.phase = phase
        self.done = done
        self.total = total
        self.bytes = bytes
        self.totalBytes = totalBytes
    }
}

/// Receives progress reports; may be called from any thread.
public typealias ProgressHandler = @Sendable (Progress) -> Void
