import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Small POSIX helpers: whole-file reads, durable writes, fsync of folders.
///
/// Foundation's `FileManager` is slow on Linux; the hot paths use these calls directly.
public enum FileIO {
    /// Reads a whole file.
    /// - Throws: `StorageError` naming the path and the errno text.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError.posix("cannot open", path: path) }
        defer { close(fd) }
        return try readAll(fd: fd, path: path)
    }

    /// Reads from `fd` until end of file.
    public static func readAll(fd: Int32, path: String, sizeHint: Int = 0) throws -> [UInt8] {
        var st = stat()
        var capacity = sizeHint
        if capacity == 0, fstat(fd, &st) == 0 { capacity = Int(st.st_size) }
        var out = [UInt8](repeating: 0, count: max(capacity, 0))
        var filled = 0
        while true {
            if filled == out.count {
                // Full at the expected size: most often the end of the file. Probe with a small
                // read before growing, so a file read whole is not held in a buffer 1.5× its size.
                var probe = [UInt8](repeating: 0, count: 65536)
                let n = probe.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError.posix("cannot read", path: path)
                }
                if n == 0 { break }
                out.append(contentsOf: probe[..<n])
                filled += n
                out.append(contentsOf: repeatElement(0, count: max(65536, out.count / 2)))
            }
            let n = out.withUnsafeMutableBytes { b in Glibc.read(fd, b.baseAddress! + filled, b.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageError.posix("cannot read", path: path)
            }
            if n == 0 { break }
            filled += n
        }
        out.removeSubrange(filled...)
        return out
    }

    /// Writes all of `bytes` to `fd`. - Throws: `StorageError` (`.noSpace` on ENOSPC).
    public static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageError.posix("cannot write", path: path)
            }
            done += n
        }
    }

    /// Creates a unique temporary file `<dir>/<prefix>-XXXXXX` (mode 0644, close-on-exec) and
    /// holds an exclusive `flock(2)` on it for as long as the descriptor is open, so that
    /// ``removeAbandonedTemps(in:prefixes:folderPrefixes:minimumAge:)`` can tell a file a live writer is still
    /// filling from one a killed process left. A writer that renames the file into place does so
    /// before it closes the descriptor.
    /// - Returns: its fd and path.
    /// - Throws: `StorageError` naming `dir` when the file cannot be created.
    public static func makeTemp(in dir: String, prefix: String = "tmp") throws -> (fd: Int32, path: String) {
        // mkstemp's loop, with O_CLOEXEC at open (Glibc's module does not export mkostemp): a
        // child another thread spawns must not inherit the descriptor, and with it the lock.
        for _ in 0..<100 {
            let path = randomName(in: dir, prefix: prefix)
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd < 0 {
                if errno == EEXIST || errno == EINTR { continue }
                break
            }
            fchmod(fd, 0o644)  // as before, whatever the umask: readers of a shared store open it
            _ = flock(fd, LOCK_EX | LOCK_NB)  // a new file: nobody else can hold it
            return (fd, path)
        }
        throw StorageError.posix("cannot create a temporary file in", path: dir)
    }

    /// `<dir>/<prefix>-XXXXXX`, six random letters or digits (`mkstemp(3)`'s template).
    private static func randomName(in dir: String, prefix: String) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "\(dir)/\(prefix)-" + String((0..<6).map { _ in letters.randomElement()! })
    }

    /// Creates a unique temporary folder `<dir>/<prefix>-XXXXXX` (mode 0755) and holds an
    /// exclusive `flock(2)` on it for as long as the returned descriptor (close-on-exec) is open,
    /// as ``makeTemp(in:prefix:)`` does for a file: a download staged there survives a sweep while
    /// its process lives, and the next sweep after a kill deletes it
    /// (``removeAbandonedTemps(in:prefixes:folderPrefixes:minimumAge:)``). Close the descriptor
    /// after deleting the folder.
    /// - Returns: the folder's descriptor and path.
    /// - Throws: `StorageError` naming `dir` when the folder cannot be created or opened.
    public static func makeTempDirectory(in dir: String, prefix: String) throws -> (fd: Int32, path: String) {
        for _ in 0..<100 {
            let path = randomName(in: dir, prefix: prefix)
            if mkdir(path, 0o755) != 0 {
                if errno == EEXIST || errno == EINTR { continue }
                break
            }
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else {
                rmdir(path)
                break
            }
            _ = flock(fd, LOCK_EX | LOCK_NB)  // a new folder: nobody else can hold it
            return (fd, path)
        }
        throw StorageError.posix("cannot create a temporary folder in", path: dir)
    }

    /// Deletes the temporary files and folders in `dir` that a killed process left: files named
    /// `<prefix>-…` for one of `prefixes` (``makeTemp(in:prefix:)``'s names) and folders named so
    /// for one of `folderPrefixes` (``makeTempDirectory(in:prefix:)``'s), each only when no open
    /// descriptor holds it locked and it was last modified at least `minimumAge` seconds ago
    /// (which covers the instant between a writer's `open` or `mkdir` and its `flock`). What a
    /// live process is filling, even without the repository lock, is left alone. On NFS, where
    /// `flock` is emulated with `fcntl` locks, nothing is deleted.
    /// - Returns: how many files and folders were deleted and their bytes (a folder's: the files
    ///   in it).
    /// - Complexity: one `readdir` of `dir`, and one `open` + `flock` per matching name.
    @discardableResult
    public static func removeAbandonedTemps(in dir: String, prefixes: [String], folderPrefixes: [String] = [], minimumAge: Double = 60)
        -> (files: Int, bytes: UInt64)
    {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return (0, 0) }
        var removed = (files: 0, bytes: UInt64(0))
        let now = Date().timeIntervalSince1970
        for name in names {
            let file = prefixes.contains { name.hasPrefix($0 + "-") }
            let folder = folderPrefixes.contains { name.hasPrefix($0 + "-") }
            guard file || folder else { continue }
            let path = dir + "/" + name
            // Read-only: on NFS (flock emulated with fcntl locks) the exclusive request below then
            // fails, and nothing is deleted there. Non-blocking, for a FIFO of such a name.
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0,
                (file && (st.st_mode & S_IFMT) == S_IFREG) || (folder && (st.st_mode & S_IFMT) == S_IFDIR),
                now - (Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9) >= minimumAge,
                flock(fd, LOCK_EX | LOCK_NB) == 0
            else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let bytes = treeBytes(path)
                if (try? FileManager.default.removeItem(atPath: path)) != nil {
                    removed.files += 1
                    removed.bytes += bytes
                }
            } else if unlink(path) == 0 {
                removed.files += 1
                removed.bytes += UInt64(st.st_size)
            }
        }
        return removed
    }

    /// The bytes of the regular files under `path` (symlinks not followed).
    static func treeBytes(_ path: String) -> UInt64 {
        var total: UInt64 = 0
        guard let e = FileManager.default.enumerator(atPath: path) else { return 0 }
        while let rel = e.nextObject() as? String {
            var st = stat()
            if lstat(path + "/" + rel, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { total += UInt64(st.st_size) }
        }
        return total
    }

    /// Writes `bytes` to `path` durably: temp file in `tmpDir`, fsync, rename, fsync of the folder.
    ///
    /// Readers see the old file or the new one, never a mix; a crash leaves at most a stray temp file.
    /// - Throws: `StorageError`; on failure the temp file is removed and `path` is unchanged.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, tmpDir: String, sync: Bool = true) throws {
        let (fd, tmp) = try makeTemp(in: tmpDir)
        var open = true  // closed exactly once: a second close could hit another thread's descriptor
        do {
            try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: tmp) }
            if sync, fsync(fd) != 0 { throw StorageError.posix("cannot fsync", path: tmp) }
            // Renamed while still open (and so locked): see `makeTemp`.
            guard rename(tmp, path) == 0 else { throw StorageError.posix("cannot rename into", path: path) }
            close(fd)
            open = false
        } catch {
            if open { close(fd) }
            unlink(tmp)
            throw error
        }
        if sync { syncDirectory((path as NSString).deletingLastPathComponent) }
    }

    /// fsyncs a folder so a rename inside it is durable. Errors are ignored (some file systems refuse).
    public static func syncDirectory(_ dir: String) {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// `mkdir -p`. - Throws: `StorageError` when a component cannot be created.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        var st = stat()
        if stat(path, &st) == 0 { return }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0, errno != EEXIST { throw StorageError.posix("cannot create folder", path: path) }
    }

    /// Whether something (even a dangling symlink) exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
