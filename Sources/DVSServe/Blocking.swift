import Dispatch

/// Runs repository work (file reads, SQLite, decoding) off Swift's cooperative pool, on
/// Dispatch's global queue, so that slow requests do not hold the threads that serve the others.
enum Blocking {
    /// The value of `work`, run on a global Dispatch queue.
    /// - Throws: what `work` throws.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
