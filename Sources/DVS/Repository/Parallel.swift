import Dispatch
import Foundation

/// Runs `body(i)` for i in 0..<count on `workers` threads, each pulling the next index, so at
/// most `workers` items are in flight and memory stays flat however large `count` is.
/// The first error thrown stops handing out new items and is rethrown.
func parallelFor(_ count: Int, workers: Int, _ body: @escaping @Sendable (_ worker: Int, _ index: Int) throws -> Void) throws {
    try parallelBatches(count, workers: workers, batch: 1) { worker, range in
        for i in range { try body(worker, i) }
    }
}

/// Like `parallelFor`, but hands out `batch` consecutive indices at a time, so cheap items do not
/// pay a lock round-trip each.
func parallelBatches(
    _ count: Int, workers: Int, batch: Int, _ body: @escaping @Sendable (_ worker: Int, _ range: Range<Int>) throws -> Void
) throws {
    let state = ParallelState()
    let n = max(1, min(workers, (count + batch - 1) / batch))
    if count == 0 { return }
    DispatchQueue.concurrentPerform(iterations: n) { worker in
        while let i = state.next(limit: count, step: batch) {
            do { try body(worker, i..<min(i + batch, count)) } catch { state.fail(error) }
        }
    }
    if let e = state.error { throw e }
}

/// A fixed-size buffer that parallel workers fill, each index written by exactly one worker.
final class SlotBuffer<T>: @unchecked Sendable {
    private let base: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        base = .allocate(capacity: count)
        base.initialize(repeating: nil)
    }
    deinit {
        base.deinitialize()
        base.deallocate()
    }
    subscript(i: Int) -> T? {
        get { base[i] }
        set { base[i] = newValue }
    }
    var values: [T?] { Array(base) }
    /// Moves the value at `i` out, leaving nil.
    func take(_ i: Int) -> T? {
        let v = base[i]
        base[i] = nil
        return v
    }
}

private final class ParallelState: @unchecked Sendable {
    private let lock = NSLock()
    private var index = 0
    private(set) var error: Error?
    func next(limit: Int, step: Int) -> Int? {
        lock.withLock {
            guard error == nil, index < limit else { return nil }
            defer { index += step }
            return index
        }
    }
    func fail(_ e: Error) { lock.withLock { if error == nil { error = e } } }
}

/// Work started on another thread at once; `value()` waits for it and rethrows its error.
final class Background<T>: @unchecked Sendable {
    private let group = DispatchGroup()
    private var result: Result<T, Error>?
    init(_ work: @escaping @Sendable () throws -> T) {
        group.enter()
        DispatchQueue.global().async { [self] in
            result = Result { try work() }
            group.leave()
        }
    }
    func value() throws -> T {
        group.wait()
        return try result!.get()
    }
}

/// A value guarded by a lock, for results gathered by parallel workers.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R { try lock.withLock { try body(&value) } }
}

/// Runs `body(i)` for i in 0..<count on `workers` dedicated threads (not capped at the core
/// count, unlike `parallelFor`): for blocking network transfers, where threads mostly wait.
/// The first error stops handing out new items and is rethrown after all threads finish.
func parallelIO(_ count: Int, workers: Int, _ body: @escaping @Sendable (_ index: Int) throws -> Void) throws {
    if count == 0 { return }
    let state = ParallelState()
    let group = DispatchGroup()
    for _ in 0..<max(1, min(workers, count)) {
        group.enter()
        Thread.detachNewThread {
            while let i = state.next(limit: count, step: 1) {
                do { try body(i) } catch { state.fail(error) }
            }
            group.leave()
        }
    }
    group.wait()
    if let e = state.error { throw e }
}
