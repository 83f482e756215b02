import Foundation

/// Runs repository work (file reads, SQLite, decoding) off Swift's cooperative pool, each request
/// on a thread of its own, so that slow requests never hold the threads that serve the others.
///
/// Not on a Dispatch queue: libdispatch on Linux runs a queue's work (global or custom concurrent)
/// on at most one thread per core, so two SQL filters running to their time limit on two cores
/// made every other request wait — a plain page took 4.5–5 s. A thread costs tens of
/// microseconds to start, small beside any page; the kernel shares the cores between them. At
/// most ``limit`` run at once (each may hold 8 MiB of stack and a SQLite connection); a request
/// beyond that waits for a thread to finish, in arrival order.
enum Blocking {
    /// Threads running at once, at most.
    static let limit = 64

    /// The slots of the ``limit`` threads.
    static let slots = ThreadSlots(limit)

    /// The value of `work`, run on a new thread (8 MiB of stack, as a process's main thread has:
    /// SQLite and the decoders recurse) once one of the ``limit`` slots is free.
    /// - Throws: what `work` throws.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(in: slots, work)
    }

    /// ``run(_:)`` with slots of its own (tests).
    static func run<T: Sendable>(in slots: ThreadSlots, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        await slots.acquire()
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let result = Result { try work() }
                slots.release()
                continuation.resume(with: result)
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}

/// A counting semaphore for async callers: ``acquire()`` suspends (never blocks a thread) until
/// a slot is free; waiters are served first come, first served.
final class ThreadSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// `count` slots, all free.
    init(_ count: Int) { free = count }

    /// Takes a slot, waiting for one to be released when none is free.
    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if free > 0 {
                free -= 1
                lock.unlock()
                c.resume()
            } else {
                waiting.append(c)
                lock.unlock()
            }
        }
    }

    /// Gives a slot back: to the longest waiter, else to the free count.
    func release() {
        lock.lock()
        if waiting.isEmpty {
            free += 1
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}
