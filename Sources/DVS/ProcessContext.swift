import Foundation

/// What the library knows about the process that runs it: built once by the command layer
/// (`DVSCommands`) and handed to ``Repository/discover(from:context:)`` or
/// ``Repository/initialize(at:context:)``, which keep it on the repository.
///
/// The library never reads the process environment, its arguments or its host name itself;
/// every setting that comes from there (`DVS_LOCK_TIMEOUT`, `DVS_AUTHOR_NAME`/`DVS_AUTHOR_EMAIL`,
/// AWS credentials, hooks' environment, lineage records' command line and host) is read from
/// this value, which every entry point (`discover`, `initialize`, `clone`) requires. The
/// memberwise default is neutral (an empty environment, no arguments, host `localhost`, version
/// `unknown`, the root folder as current directory, one processor, UTC), for tests that want exactly
/// that; a program embedding dvs passes ``current(dvsVersion:)``.
public struct ProcessContext: Sendable {
    /// Environment variables, name → value.
    public var environment: [String: String]
    /// The command line (`argv`), program name first; recorded in lineage records.
    public var arguments: [String]
    /// The host name recorded in lineage records and in the fallback identity.
    public var hostName: String {
        get { deferredHostName.value }
        set { deferredHostName = Deferred(value: newValue) }
    }
    private var deferredHostName: Deferred<String>
    /// The dvs version recorded in lineage records and trained model files.
    public var dvsVersion: String
    /// The folder relative paths are taken from (absolute).
    public var currentDirectory: String
    /// Processors available: the default worker count when `core.workers` is not set.
    public var processorCount: Int {
        get { deferredProcessorCount.value }
        set { deferredProcessorCount = Deferred(value: newValue) }
    }
    private var deferredProcessorCount: Deferred<Int>
    /// The local time zone: commits record their time with its offset from UTC at that moment.
    public var timeZone: TimeZone {
        get { deferredTimeZone.value }
        set { deferredTimeZone = Deferred(value: newValue) }
    }
    private var deferredTimeZone: Deferred<TimeZone>
    /// Called before each pack transfer of push and fetch (on a transfer thread); nil does
    /// nothing. Tests use it to slow transfers down so that an interruption lands mid-transfer.
    public var beforeTransfer: (@Sendable () -> Void)?
    /// Called after each file a checkout, merge, pull or clone writes into the working tree; nil
    /// does nothing. The fault-injection tests use it to interrupt at a chosen file.
    public var afterTreeWrite: (@Sendable () -> Void)?
    /// Called after each step of `dvs purge` with the step's name (`journal`, `rewritten`,
    /// `recorded`, `refs`, `tree`, `packs`, `objects`); nil does nothing. The fault-injection
    /// tests use it to kill the process at a chosen step.
    public var afterPurgeStep: (@Sendable (String) -> Void)?
    /// Receives notes for the user that are not a command's output (one line each, such as
    /// "note: the interrupted 'dvs checkout side' was finished: …"); nil drops them. The dvs
    /// command writes them to standard error.
    public var notice: (@Sendable (String) -> Void)?
    /// Called once when a writer has waited a second for the repository lock, with a line for
    /// the user naming the holder and how long the wait may last; nil says nothing. The dvs
    /// command writes it to standard error when that is a terminal.
    public var lockWait: (@Sendable (String) -> Void)?
    /// Starts the file-system monitor daemon of the working tree at the given root (absolute) in
    /// the background, detached, when `core.fsmonitor` is on and none runs; nil starts none. The
    /// dvs command runs itself as `dvs fsmonitor run`.
    public var startFileSystemMonitor: (@Sendable (_ root: String) -> Void)?

    /// Creates a context; every field defaults to the neutral value described on the type.
    public init(
        environment: [String: String] = [:], arguments: [String] = [], hostName: String = "localhost", dvsVersion: String = "unknown",
        currentDirectory: String = "/", processorCount: Int = 1, timeZone: TimeZone = TimeZone(identifier: "UTC")!,
        beforeTransfer: (@Sendable () -> Void)? = nil
    ) {
        self.init(
            environment: environment, arguments: arguments, dvsVersion: dvsVersion, currentDirectory: currentDirectory,
            hostName: Deferred(value: hostName), processorCount: Deferred(value: max(1, processorCount)),
            timeZone: Deferred(value: timeZone),
            beforeTransfer: beforeTransfer)
    }

    private init(
        environment: [String: String], arguments: [String], dvsVersion: String, currentDirectory: String, hostName: Deferred<String>,
        processorCount: Deferred<Int>, timeZone: Deferred<TimeZone>, beforeTransfer: (@Sendable () -> Void)?
    ) {
        self.environment = environment
        self.arguments = arguments
        deferredHostName = hostName
        self.dvsVersion = dvsVersion
        self.currentDirectory = currentDirectory
        deferredProcessorCount = processorCount
        deferredTimeZone = timeZone
        self.beforeTransfer = beforeTransfer
    }

    /// This process as it is now: its environment, `argv`, host name, current directory, active
    /// processor count and time zone. The library never calls this itself; the dvs command line and
    /// programs that embed the library (training scripts, benchmarks) call it once at start.
    /// The host name, processor count and time zone are read on first use (by this value or a
    /// copy): reading them costs ≈1 ms of a command's start-up (cgroup files, the zone database),
    /// and most commands use none of them.
    /// - Parameter dvsVersion: the version to record in lineage records and model files.
    public static func current(dvsVersion: String = "unknown") -> ProcessContext {
        let info = ProcessInfo.processInfo
        // Not through the public init: its default time zone, `TimeZone(identifier: "UTC")`, opens the zone database.
        return ProcessContext(
            environment: info.environment, arguments: CommandLine.arguments, dvsVersion: dvsVersion,
            currentDirectory: FileManager.default.currentDirectoryPath, hostName: Deferred { ProcessInfo.processInfo.hostName },
            processorCount: Deferred { max(1, ProcessInfo.processInfo.activeProcessorCount) }, timeZone: Deferred { TimeZone.current },
            beforeTransfer: nil)
    }

    /// `path` made absolute against ``currentDirectory`` and standardized.
    func absolute(_ path: String) -> String {
        let p = path.hasPrefix("/") ? path : currentDirectory + "/" + path
        return (p as NSString).standardizingPath
    }
}

/// A value made on first read and kept (thread-safe; copies of its holder share it), for what
/// start-up need not pay for unless a command uses it.
final class Deferred<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var made: Value?
    private let make: @Sendable () -> Value

    /// A value `make` makes on the first read of ``value``.
    init(_ make: @escaping @Sendable () -> Value) {
        self.make = make
    }

    /// A value known already.
    init(value: Value) {
        made = value
        make = { value }
    }

    /// The value, made now if this is the first read.
    var value: Value {
        lock.withLock {
            if let made { return made }
            let v = make()
            made = v
            return v
        }
    }
}
