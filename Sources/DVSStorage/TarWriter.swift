import CArchive
import Foundation

/// Writes a tar stream (POSIX ustar, with pax extended headers only where ustar cannot hold a
/// name or size) to a file descriptor through libarchive.
///
/// Entries are regular files, mode 0644, owner 0:0, no user/group names, and the modification
/// time given, so the same entries give the same bytes.
public final class TarWriter {
    private let archive: OpaquePointer
    private let entry: OpaquePointer
    private var closed = false

    /// Bytes handed to `write(2)` at a time (the last write may be shorter): 1 MiB.
    public static let blockSize = 1 << 20

    /// Starts a stream on `fd` (not closed by the writer).
    /// - Throws: `StorageError.io` with libarchive's message.
    /// The corresponding C functions are `archive_write_new`, `archive_write_set_format_pax_restricted`
    /// and `archive_write_open_fd`.
    public init(fd: Int32) throws {
        guard let a = archive_write_new(), let e = archive_entry_new() else { throw StorageError(.io, "archive_write_new: out of memory") }
        archive = a
        entry = e
        archive_write_set_format_pax_restricted(a)
        // Write in blocks of `blockSize` rather than tar's 10 KiB: fewer system calls and, into a
        // pipe, fewer wake-ups of the reader. The bytes are the same (the last block is not padded).
        archive_write_set_bytes_per_block(a, Int32(Self.blockSize))
        archive_write_set_bytes_in_last_block(a, 1)  // no padding to 10 KiB after the end-of-archive blocks
        guard archive_write_open_fd(a, fd) == ARCHIVE_OK else {
            let msg = String(cString: archive_error_string(a))
            archive_entry_free(e)
            archive_write_free(a)
            throw StorageError(.io, "archive_write_open_fd: \(msg)")
        }
    }

    deinit {
        if !closed { archive_write_close(archive) }
        archive_entry_free(entry)
        archive_write_free(archive)
    }

    /// Appends one regular file.
    /// - Parameters:
    ///   - name: the member name (UTF-8; any length).
    ///   - bytes: its content.
    ///   - mtime: modification time, unix seconds.
    /// - Throws: `StorageError.io` with libarchive's message (e.g. a closed pipe).
    /// The corresponding C functions are `archive_write_header` and `archive_write_data`.
    public func add(name: String, bytes: UnsafeRawBufferPointer, mtime: Int64) throws {
        archive_entry_clear(entry)
        archive_entry_set_pathname_utf8(entry, name)
        archive_entry_set_size(entry, Int64(bytes.count))
        archive_entry_set_filetype(entry, 0o100000)  // AE_IFREG (a macro Swift cannot import)
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, time_t(mtime), 0)
        archive_entry_set_uid(entry, 0)
        archive_entry_set_gid(entry, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw error("archive_write_header", name) }
        var off = 0
        while off < bytes.count {
            let n = archive_write_data(archive, bytes.baseAddress! + off, bytes.count - off)
            guard n > 0 else { throw error("archive_write_data", name) }
            off += n
        }
    }

    /// Writes the end-of-archive blocks and flushes.
    /// - Throws: `StorageError.io` with libarchive's message.
    public func finish() throws {
        closed = true
        guard archive_write_close(archive) == ARCHIVE_OK else { throw error("archive_write_close", "") }
    }

    private func error(_ fn: String, _ name: String) -> StorageError {
        let msg = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        return StorageError(.io, "\(fn)\(name.isEmpty ? "" : " '\(name)'"): \(msg)")
    }
}
