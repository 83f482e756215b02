import CArchive
import Foundation

/// Writes a tar stream (POSIX ustar, with pax extended headers only where ustar cannot hold a
/// name or size) to a file descriptor through libarchive.
///
/// Entries are regular files, mode 0644, owner 0:0, no user/group names, and the modification
/// time given, so the same entries give the same bytes.
///
/// libarchive makes the headers and padding; it does no blocking of its own. Small pieces
/// (headers, padding, short members) are gathered into one buffer handed to `write(2)` when it
/// would pass `blockSize`; a piece of `directWriteSize` or more (audio) is written straight from
/// the caller's memory after what is gathered, without being copied into a block first.
public final class TarWriter {
    /// Most bytes gathered before they are handed to `write(2)`: 1 MiB.
    public static let blockSize = 1 << 20
    /// Pieces at least this long (bytes) are written from the caller's memory, not gathered: 64 KiB.
    public static let directWriteSize = 64 << 10

    private let archive: OpaquePointer
    private let entry: OpaquePointer
    private let sink: TarSink
    private var closed = false

    /// Starts a stream on `fd` (not closed by the writer).
    /// - Throws: `StorageError.io` with libarchive's message.
    /// The corresponding C functions are `archive_write_new`, `archive_write_set_format_pax_restricted`
    /// and `archive_write_open2`.
    public init(fd: Int32) throws {
        guard let a = archive_write_new(), let e = archive_entry_new() else { throw StorageError(.io, "archive_write_new: out of memory") }
        archive = a
        entry = e
        sink = TarSink(fd: fd)
        // libarchive's pax writer converts member names to the C library's character set; in
        // the "C" locale dvs runs in (it never calls setlocale), a non-ASCII name converts to
        // nothing and archive_write_header crashed in strlen(NULL). Names are UTF-8: say so.
        if let current = setlocale(LC_CTYPE, nil).map({ String(cString: $0) }), !current.uppercased().contains("UTF-8") {
            _ = setlocale(LC_CTYPE, "C.UTF-8")
        }
        archive_write_set_format_pax_restricted(a)
        // No blocking in libarchive: every piece goes to `tarWriterWrite` as it is made, and
        // nothing pads the end of the stream after the end-of-archive blocks.
        archive_write_set_bytes_per_block(a, 0)
        archive_write_set_bytes_in_last_block(a, 1)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        guard archive_write_open2(a, context, nil, tarWriterWrite, nil, nil) == ARCHIVE_OK else {
            let msg = archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
            archive_entry_free(e)
            archive_write_free(a)
            throw StorageError(.io, "archive_write_open2: \(msg)")
        }
    }

    deinit {
        if !closed {
            archive_write_close(archive)
            _ = sink.flush()
        }
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
        guard archive_write_close(archive) == ARCHIVE_OK, sink.flush() else { throw error("archive_write_close", "") }
    }

    private func error(_ fn: String, _ name: String) -> StorageError {
        // A failed write reads as libarchive's own fd writer put it.
        let msg = sink.writeFailed ? "Write error" : archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        return StorageError(.io, "\(fn)\(name.isEmpty ? "" : " '\(name)'"): \(msg)")
    }
}

/// libarchive's write callback for `TarWriter` (its client data is the `TarSink`).
private func tarWriterWrite(
    _ archive: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ length: Int
) -> Int {
    guard let context, length > 0, let buffer else { return 0 }
    return Unmanaged<TarSink>.fromOpaque(context).takeUnretainedValue().take(UnsafeRawBufferPointer(start: buffer, count: length))
}

/// Where a `TarWriter`'s libarchive hands the stream: gathers small pieces, writes large ones
/// straight through (see `TarWriter`). libarchive's client data, so it outlives the writer's deinit.
private final class TarSink {
    let fd: Int32
    /// Bytes gathered and not yet written.
    private var pending: [UInt8] = []
    /// Whether a write failed.
    private(set) var writeFailed = false

    init(fd: Int32) {
        self.fd = fd
        pending.reserveCapacity(TarWriter.blockSize)
    }

    /// Takes one piece of the stream from libarchive: gathers it, or writes what is gathered and
    /// then the piece itself. Returns the piece's length, or -1 when a write failed.
    func take(_ bytes: UnsafeRawBufferPointer) -> Int {
        if bytes.count >= TarWriter.directWriteSize {
            guard flush(), writeAll(bytes) else { return -1 }
        } else {
            if pending.count + bytes.count > TarWriter.blockSize, !flush() { return -1 }
            pending.append(contentsOf: bytes)
        }
        return bytes.count
    }

    /// Writes what is gathered; false (and `writeFailed` set) when a write failed.
    func flush() -> Bool {
        guard !pending.isEmpty else { return true }
        let ok = pending.withUnsafeBytes { writeAll($0) }
        pending.removeAll(keepingCapacity: true)
        return ok
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR; false (and `writeFailed`
    /// set) when a write fails.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                writeFailed = true
                return false
            }
            off += n
        }
        return true
    }
}
