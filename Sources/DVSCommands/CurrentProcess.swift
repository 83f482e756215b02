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
        return context
    }()

    /// `DVS_TEST_TRANSFER_DELAY_MS`: the CLI tests slow each pack transfer of push and fetch by
    /// this many milliseconds so that an interruption lands mid-transfer; nil when unset or 0.
    static func transferDelay(_ env: [String: String]) -> (@Sendable () -> Void)? {
        guard let ms = env["DVS_TEST_TRANSFER_DELAY_MS"].flatMap(UInt32.init), ms > 0 else { return nil }
        return { usleep(ms * 1000) }
    }
}
