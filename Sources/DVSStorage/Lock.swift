import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The repository's writer lock: an exclusive `flock(2)` on `.dvs/lock`.
///
/// The kernel drops it when the holder exits, even on SIGKILL, so a crash never leaves a stale
/// lock. The holder writes its pid and command into the file so a waiting writer can name it.
/// Readers never take it.
public final class RepositoryLock: @unchecked Sendable {
    /// The lock file's descriptor; -1 once closed on a failed init (deinit still runs then, as
    /// the object was fully initialised, and must not close the number again: by then another
    /// thread may own it).
    private var fd: Int32
    /// The lock file's path.
    public let path: String

    /// Takes the lock, waiting up to `timeout` seconds.
    /// - Parameters:
    ///   - path: the lock file (created if missing).
    ///   - timeout: seconds to wait for another writer; 0 fails at once.
    ///   - command: recorded for other processes to see (`dvs commit`).
    /// - Throws: `StorageError.locked` naming the holder's pid and command when the wait runs out.
    public init(path: String, timeout: Double, command: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.posix("cannot open lock file", path: path) }
        let deadline = Date().addingTimeInterval(timeout)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let e = StorageError.posix("cannot lock", path: path)
                close(fd)
                fd = -1
                throw e
            }
            if Date() >= deadline {
                let holder =
                    (try? FileIO.readAll(fd: fd, path: path)).map { String(decoding: $0, as: UTF8.self) }?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                close(fd)
                fd = -1
                throw StorageError(
                    .locked, "repository is locked by another dvs process (\(holder.isEmpty ? "unknown" : holder))", subject: .lock)
            }
            usleep(50_000)
        }
        ftruncate(fd, 0)
        let info = "pid \(getpid()): \(command)\n"
        _ = info.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// Releases the lock (also done by `deinit` and by process exit).
    public func release() {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Whether some process holds the lock right now (a non-blocking probe; used by readers that
    /// would like to refresh caches without waiting).
    public static func tryAcquire(path: String, command: String) -> RepositoryLock? {
        try? RepositoryLock(path: path, timeout: 0, command: command)
    }
}
