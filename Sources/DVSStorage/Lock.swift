import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Who holds a lock right now (``RepositoryLock/holder(path:)``).
public struct LockHolder: Sendable, Equatable, CustomStringConvertible {
    /// The holder as it recorded itself in the lock file (`pid 1234: dvs repack`), or, when it
    /// recorded nothing, as the system shows it (`process 1234 (flock …) since 12:00:01`, or `a
    /// process whose pid the system does not show`).
    public var description: String
    /// Its process id: from what it recorded (a dvs holder writes `pid N: command`) or from
    /// `/proc/locks`; nil when neither gives it.
    public var pid: Int32?
    /// Whether `description` is what the holder recorded in the lock file (a dvs process).
    public var recorded: Bool

    /// A holder as dvs records itself in a lock file: `pid N: command` gives `pid` N (N > 0);
    /// any other text gives none.
    init(recorded text: String) {
        description = text
        recorded = true
        pid = nil
        if text.hasPrefix("pid ") {
            let digits = text.dropFirst(4).prefix { $0.isASCII && $0.isNumber }
            if !digits.isEmpty, text.dropFirst(4 + digits.count).hasPrefix(":"), let n = Int32(digits), n > 0 { pid = n }
        }
    }

    /// A holder as the system shows it.
    init(shown text: String, pid: Int32?) {
        description = text
        recorded = false
        self.pid = pid
    }
}

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
    ///   - onWait: called once, on this thread, when the lock has been waited for
    ///     ``waitAnnouncedAfter`` seconds, with the holder as it recorded itself in the file
    ///     (`pid 1234: dvs repack --background`) or as the system shows it, so that a person at
    ///     a terminal knows why nothing happens; nil says nothing.
    /// - Throws: `StorageError.locked` naming the holder's pid and command when the wait runs out
    ///   (from the file, or from the system when the holder wrote nothing there).
    public init(path: String, timeout: Double, command: String, onWait: ((String) -> Void)? = nil) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.posix("cannot open lock file", path: path) }
        let start = Date()
        let deadline = start.addingTimeInterval(timeout)
        var announced = onWait == nil
        // While it waits, a writer holds a shared record lock on the file's first byte (an open
        // file description lock, which Linux keeps apart from `flock`), so that a holder that
        // takes the lock again and again (`dvs repack`, one pack at a time) lets it in between
        // (``othersAreWaiting(path:)``). Dropped once the lock is taken, or with the descriptor.
        var waiting = false
        defer { if waiting { Self.recordLock(fd, type: F_UNLCK, command: Self.setRecordLock) } }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let e = StorageError.posix("cannot lock", path: path)
                close(fd)
                fd = -1
                throw e
            }
            if !waiting { waiting = Self.recordLock(fd, type: F_RDLCK, command: Self.setRecordLock) == 0 }
            let now = Date()
            if !announced, now.timeIntervalSince(start) >= Self.waitAnnouncedAfter, now < deadline {
                announced = true
                onWait?(Self.currentHolder(fd: fd, path: path).description)
            }
            if now >= deadline {
                let holder = Self.currentHolder(fd: fd, path: path)
                close(fd)
                fd = -1
                if !holder.recorded {
                    // A holder that wrote nothing (not dvs, or one that has just taken the lock),
                    // or another program over what a killed dvs left in the file.
                    throw StorageError(
                        .locked, "repository is locked by \(holder), which did not record itself in \(path)", subject: .lock)
                }
                throw StorageError(.locked, "repository is locked by another dvs process (\(holder))", subject: .lock)
            }
            usleep(50_000)
        }
        ftruncate(fd, 0)
        let info = "pid \(getpid()): \(command)\n"
        _ = info.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// Seconds a writer waits for the lock before `onWait` is called (see ``init(path:timeout:command:onWait:)``).
    public static let waitAnnouncedAfter = 1.0

    /// What the holder wrote into the lock file (`pid 1234: dvs commit`), trimmed; empty when
    /// it wrote nothing (or has just taken the lock).
    static func recordedHolder(fd: Int32, path: String) -> String {
        lseek(fd, 0, SEEK_SET)
        return (try? FileIO.readAll(fd: fd, path: path)).map { String(decoding: $0, as: UTF8.self) }?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// What the system knows of the process holding the lock on `fd`'s file when the holder wrote
    /// nothing into it: `process 1234 (flock .dvs/lock sleep 60) since 12:00:01`, from
    /// `/proc/locks` and `/proc/<pid>`; `a process whose pid the system does not show` elsewhere.
    static func unrecordedHolder(fd: Int32) -> LockHolder {
        let unknown = LockHolder(shown: "a process whose pid the system does not show", pid: nil)
        var st = stat()
        guard fstat(fd, &st) == 0, let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else {
            return unknown
        }
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF": pid, then major:minor:inode (hex device numbers).
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF))  // glibc's gnu_dev_major
        let minor = (dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF))
        let device = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(st.st_ino))
        for line in locks.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", f[5] == device, let pid = Int32(f[4]) else { continue }
            var text = "process \(pid)"
            if let cmd = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), !cmd.isEmpty {
                let words = cmd.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
                text += " (\(words.count > 80 ? String(words.prefix(80)) + "…" : words))"
            }
            var ps = stat()
            if stat("/proc/\(pid)", &ps) == 0 {
                let f = DateFormatter()
                f.dateFormat = "yyyy-MM-dd HH:mm:ss"
                text += " since \(f.string(from: Date(timeIntervalSince1970: TimeInterval(ps.st_mtim.tv_sec))))"
            }
            return LockHolder(shown: text, pid: pid)
        }
        return unknown
    }

    /// Whether another writer is waiting for the lock at `path` (it holds a shared record lock
    /// on the file's first byte while it waits): a process that takes the lock step after step
    /// checks this before each step and lets it in first. A non-blocking probe
    /// (`F_OFD_GETLK`); false when it cannot tell.
    public static func othersAreWaiting(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var fl = Glibc.flock()
        fl.l_type = Int16(F_WRLCK)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = 0
        fl.l_len = 1
        guard fcntl(fd, getRecordLock, &fl) == 0 else { return false }
        return fl.l_type != Int16(F_UNLCK)
    }

    /// `F_OFD_SETLK` and `F_OFD_GETLK` (Linux ≥ 3.15, <fcntl.h>), which Swift does not import:
    /// they are declared under _GNU_SOURCE. Record locks owned by the open file description, so
    /// that they neither mix with the `flock` nor with other threads' descriptors.
    static let setRecordLock: Int32 = 37
    static let getRecordLock: Int32 = 36

    /// Sets (or with `F_UNLCK` drops) a record lock of `type` on byte 0 of `fd`'s file.
    /// - Returns: `fcntl`'s result (0 when set).
    @discardableResult
    static func recordLock(_ fd: Int32, type: Int32, command: Int32) -> Int32 {
        var fl = Glibc.flock()
        fl.l_type = Int16(type)
        fl.l_whence = Int16(SEEK_SET)
        fl.l_start = 0
        fl.l_len = 1
        return fcntl(fd, command, &fl)
    }

    /// Releases the lock (also done by `deinit` and by process exit).
    public func release() {
        ftruncate(fd, 0)
        flock(fd, LOCK_UN)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Whether some process holds the lock at `path` right now: a non-blocking `flock` probe on
    /// a descriptor of its own, which writes nothing into the file (unlike ``tryAcquire(path:command:)``).
    /// False when the file does not exist or cannot be opened.
    public static func isHeld(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // A shared request: it conflicts with the holder's exclusive lock, and needs no write
        // access (on NFS, where flock is emulated with fcntl locks, an exclusive one would).
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    /// Who holds the lock at `path` right now: what it recorded in the file (`pid 1234: dvs
    /// repack`), or what the system shows of it when it recorded nothing or something else (text
    /// a killed dvs left, then another program took the lock), with its pid when either gives
    /// it; nil when nobody holds it (``isHeld(path:)``).
    public static func holder(path: String) -> LockHolder? {
        guard isHeld(path: path) else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return currentHolder(fd: fd, path: path)
    }

    /// The holder of the lock on `fd`'s file: what it recorded, unless the system shows another
    /// pid holding it (text a killed dvs left, then another program took the lock), or shows it
    /// when nothing was recorded.
    static func currentHolder(fd: Int32, path: String) -> LockHolder {
        let recorded = recordedHolder(fd: fd, path: path)
        let shown = unrecordedHolder(fd: fd)
        if recorded.isEmpty { return shown }
        let holder = LockHolder(recorded: recorded)
        // The system's pid wins when it has one: a recorded pid it does not hold the lock.
        if let pid = shown.pid, holder.pid != pid { return shown }
        return holder
    }

    /// Whether some process holds the lock right now (a non-blocking probe; used by readers that
    /// would like to refresh caches without waiting).
    public static func tryAcquire(path: String, command: String) -> RepositoryLock? {
        try? RepositoryLock(path: path, timeout: 0, command: command)
    }
}
