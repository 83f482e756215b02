import Dispatch
import Foundation

/// Runs `body(i)` for i in 0..<count on `workers` threads, each pulling the next index, so at
/// most `workers` items are in flight and memory stays flat however large `count` is.
/// The first error thrown stops handing out new items and is rethrown.
func parallelFor(_ count: Int, workers: Int, _ body: @escaping @Sendable (_ worker: Int, _ index: Int) throws -> Void) throws {
    let state = ParallelState()
    let n = max(1, min(workers, count))
    if count == 0 { return }
    DispatchQueue.concurrentPerform(iterations: n) { worker in
        while let i = state.next(limit: count) {
            do { try body(worker, i) } catch { state.fail(error) }
        }
    }
    if let e = state.error { throw e }
}

private final class ParallelState: @unchecked Sendable {
    private let lock = NSLock()
    private var index = 0
    private(set) var error: Error?
    func next(limit: Int) -> Int? {
        lock.withLock {
            guard error == nil, index < limit else { return nil }
            defer { index += 1 }
            return index
        }
    }
    func fail(_ e: Error) { lock.withLock { if error == nil { error = e } } }
}

/// A value guarded by a lock, for results gathered by parallel workers.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R { try lock.withLock { try body(&value) } }
}
