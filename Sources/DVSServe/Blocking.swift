import Foundation

/// Runs repository work (file reads, SQLite, decoding) off Swift's cooperative pool, each request
/// on a thread of its own, so that slow requests never hold the threads that serve the others.
///
/// Not on a Dispatch queue: libdispatch on Linux runs a queue's work (global or custom concurrent)
/// on at most one thread per core, so two SQL filters running to their time limit on two cores
/// made every other request wait — a plain page took 4.5–5 s. A thread costs tens of
/// microseconds to start, small beside any page; the kernel shares the cores between them.
enum Blocking {
    /// The value of `work`, run on a new thread (8 MiB of stack, as a process's main thread has:
    /// SQLite and the decoders recurse).
    /// - Throws: what `work` throws.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}
