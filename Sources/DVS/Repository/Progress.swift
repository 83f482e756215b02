/// Progress of a long operation, reported through a callback; the CLI draws it.
public struct Progress: Sendable {
    /// What is happening.
    public var phase: Phase
    /// Items done.
    public var done: Int
    /// Items in all (0 when unknown).
    public var total: Int
    /// Bytes processed so far.
    public var bytes: UInt64
    /// Bytes in all, when known (transfers), else 0; with `bytes` it gives a rate and an ETA.
    public var totalBytes: UInt64
    /// Creates a report.
    public init(phase: Phase, done: Int, total: Int, bytes: UInt64, totalBytes: UInt64 = 0) {
        self.phase = phase
        self.done = done
        self.total = total
        self.bytes = bytes
        self.totalBytes = totalBytes
    }
}

extension Progress {
    /// The step of an operation a report is about; the raw value is what the CLI prints.
    public enum Phase: String, Sendable, Equatable {
        /// Hashing working-tree files (status).
        case hashing
        /// Hashing and storing files into packs (commit).
        case storing
        /// Writing files into the working tree or an export (checkout).
        case writing
        /// Decoding blobs into the snapshot cache (materialize).
        case caching
        /// Writing samples to a stream (`dvs stream`).
        case streaming
        /// Decoding and hashing every stored blob (fsck).
        case verifyingBlobs = "verifying blobs"
        /// Uploading packs and objects to a remote (push).
        case uploading
        /// Downloading packs and objects from a remote (fetch).
        case downloading
        /// Extracting features for training.
        case features
        /// Extracting features for an evaluation.
        case evaluating
        /// Composing commits again without erased samples (purge).
        case rewriting
        /// Rewriting packs without unwanted blobs (purge, gc).
        case repacking
        /// Walking history for what is still needed (gc).
        case marking

        /// Whether the phase moves bytes over the network (the CLI shows a rate for it).
        public var isTransfer: Bool { self == .uploading || self == .downloading }
    }
}

/// Receives progress reports; may be called from any thread.
public typealias ProgressHandler = @Sendable (Progress) -> Void
