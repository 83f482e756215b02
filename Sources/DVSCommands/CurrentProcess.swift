import DVS
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The process the dvs command runs in (through `ProcessContext.current`): environment, argv, host name, current directory and
/// processor count, with dvs's version. Built once; the library receives it as a `ProcessContext`.
enum CurrentProcess {
    /// This process, read on first use.
    static let context: ProcessContext = {
        var context = ProcessContext.current(dvsVersion: DVSCommand.version)
        context.beforeTransfer = transferDelay(context.environment)
        context.afterTreeWrite = signalAfterWrites(context.environment)
        context.afterPurgeStep = killAfterPurgeStep(context.environment)
        context.notice = { Output.err($0) }
        if isatty(STDERR_FILENO) == 1 { context.lockWait = { Output.err($0) } }
        context.startFileSystemMonitor = { startFileSystemMonitor(root: $0) }
        return context
    }()

    /// `DVS_TEST_SIGNAL_AFTER_WRITES=N` (debug builds only): the fault-injection tests make dvs
    /// send itself `DVS_TEST_SIGNAL` (`KILL`, the default, `INT` or `TERM`) once it has written
    /// N files into the working tree, so that an interruption lands at a chosen file; nil when
    /// unset, in release builds, or for N < 1.
    static func signalAfterWrites(_ env: [String: String]) -> (@Sendable () -> Void)? {
        #if DEBUG
            guard let n = env["DVS_TEST_SIGNAL_AFTER_WRITES"].flatMap(Int.init), n > 0 else { return nil }
            let signals = ["KILL": SIGKILL, "INT": SIGINT, "TERM": SIGTERM]
            let sig = signals[env["DVS_TEST_SIGNAL"] ?? "KILL"] ?? SIGKILL
            let count = Counter()
            return {
                if count.increment() == n {
                    // Raised on this thread with the signal unblocked: a parent may have
                    // spawned dvs with it blocked (it is then left pending, never delivered).
                    var set = sigset_t()
                    sigemptyset(&set)
                    sigaddset(&set, sig)
                    pthread_sigmask(SIG_UNBLOCK, &set, nil)
                    signal(sig, SIG_DFL)
                    raise(sig)
                    while true { pause() }
                }
            }
        #else
            return nil
        #endif
    }

    /// `DVS_TEST_KILL_AFTER_PURGE_STEP=STEP` (debug builds only): dvs sends itself SIGKILL once
    /// `dvs purge` has done STEP, so the fault-injection tests interrupt it there; nil when unset
    /// or in release builds.
    static func killAfterPurgeStep(_ env: [String: String]) -> (@Sendable (String) -> Void)? {
        #if DEBUG
            guard let step = env["DVS_TEST_KILL_AFTER_PURGE_STEP"] else { return nil }
            return { done in
                guard done == step else { return }
                var set = sigset_t()
                sigemptyset(&set)
                sigaddset(&set, SIGKILL)
                pthread_sigmask(SIG_UNBLOCK, &set, nil)
                raise(SIGKILL)
                while true { pause() }
            }
        #else
            return nil
        #endif
    }

    /// A thread-safe count of calls (files are written by several threads).
    final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        /// Adds one; returns the new count.
        func increment() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }

    /// `DVS_TEST_TRANSFER_DELAY_MS`: the CLI tests slow each pack transfer of push and fetch by
    /// this many milliseconds so that an interruption lands mid-transfer; nil when unset or 0.
    static func transferDelay(_ env: [String: String]) -> (@Sendable () -> Void)? {
        guard let ms = env["DVS_TEST_TRANSFER_DELAY_MS"].flatMap(UInt32.init), ms > 0 else { return nil }
        return { usleep(ms * 1000) }
    }
}
