import CZstd
import DVSCore
import Foundation

/// A reusable zstd compression context (RFC 8878 frames, content checksum on).
///
/// Not thread-safe: give each worker its own. The corresponding C type is `ZSTD_CCtx`.
public final class ZstdCompressor {
    private let cctx: OpaquePointer
    /// Compression level (1 fastest … 19).
    public let level: Int32

    /// Creates a context at `level` with the frame content checksum and content size enabled.
    public init(level: Int32 = 1) {
        cctx = ZSTD_createCCtx()
        self.level = level
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
    }
    deinit { ZSTD_freeCCtx(cctx) }

    /// Compresses `input` into one frame.
    /// - Throws: `StorageError.compression` with zstd's message (only on internal failure).
    /// The corresponding C function is `ZSTD_compress2`.
    public func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = out.withUnsafeMutableBytes { o in
            ZSTD_compress2(cctx, o.baseAddress, bound, input.baseAddress, input.count)
        }
        if ZSTD_isError(n) != 0 {
            throw StorageError(.compression, "zstd compression failed", cause: "ZSTD_compress2: \(String(cString: ZSTD_getErrorName(n)))")
        }
        out.removeSubrange(n...)
        return out
    }

    /// Compresses `input` into one frame that refers back into `prefix` (zstd's `--patch-from`):
    /// the window covers prefix and input, and long-distance matching finds the unchanged runs,
    /// so a file that differs from `prefix` in a few places compresses to about the size of
    /// the differences. Decompress with `ZstdDecompressor.decompress(_:prefix:limit:)` and the same prefix.
    /// - Throws: `StorageError.compression` on internal failure.
    /// The corresponding C functions are `ZSTD_CCtx_refPrefix` and `ZSTD_compress2`.
    public func compress(_ input: UnsafeRawBufferPointer, prefix: UnsafeRawBufferPointer) throws -> [UInt8] {
        let span = max(prefix.count + input.count, 1 << 10)
        let windowLog = Int32(min(30, max(10, Int(ceil(log2(Double(span)))) + 1)))
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, windowLog)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1)
        defer {
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, 0)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 0)
        }
        let rc = ZSTD_CCtx_refPrefix(cctx, prefix.baseAddress, prefix.count)
        if ZSTD_isError(rc) != 0 {
            throw StorageError(
                .compression, "zstd cannot use the delta base", cause: "ZSTD_CCtx_refPrefix: \(String(cString: ZSTD_getErrorName(rc)))")
        }
        return try compress(input)
    }

    /// Compresses an array into one frame. - Throws: as `compress(_:)` on a buffer.
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0) }
    }
}

/// A reusable zstd decompression context. Not thread-safe. The corresponding C type is `ZSTD_DCtx`.
public final class ZstdDecompressor {
    private let dctx: OpaquePointer
    /// Creates a context.
    /// - Parameter checksum: check each frame's content checksum (XXH64). Pass false only where
    ///   the caller verifies the decoded bytes itself (a blob read compares their SHA-256 with
    ///   its id), so the frame's own checksum is a second check of the same bytes.
    ///   The corresponding C parameter is `ZSTD_d_forceIgnoreChecksum`.
    public init(checksum: Bool = true) {
        dctx = ZSTD_createDCtx()
        // ZSTD_d_forceIgnoreChecksum is ZSTD_d_experimentalParam3 (a macro Swift cannot import).
        if !checksum { ZSTD_DCtx_setParameter(dctx, ZSTD_d_experimentalParam3, 1) }
    }
    deinit { ZSTD_freeDCtx(dctx) }

    /// Decompresses one frame whose header records its content size, at most `limit` bytes,
    /// checking its content checksum (unless the context was made with `checksum: false`).
    /// - Throws: `StorageError.corrupt` when the frame is malformed or its checksum fails.
    public func decompress(_ frame: UnsafeRawBufferPointer, limit: Int = 1 << 40) throws -> [UInt8] {
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(limit) else {
            throw StorageError(.corrupt, "zstd frame header is damaged", cause: "ZSTD_getFrameContentSize: \(size)")
        }
        var out = [UInt8](unsafeUninitializedCapacity: Int(size)) { _, n in n = Int(size) }
        let n = out.withUnsafeMutableBytes { o in ZSTD_decompressDCtx(dctx, o.baseAddress, Int(size), frame.baseAddress, frame.count) }
        if ZSTD_isError(n) != 0 {
            throw StorageError(.corrupt, "zstd frame is damaged", cause: "ZSTD_decompressDCtx: \(String(cString: ZSTD_getErrorName(n)))")
        }
        guard n == Int(size) else { throw StorageError(.corrupt, "zstd frame decoded to \(n) bytes, header says \(size)") }
        return out
    }

    /// Decompresses a frame made by `ZstdCompressor.compress(_:prefix:)` with the same `prefix`.
    /// - Throws: `StorageError.corrupt` when the frame is malformed, its checksum fails, or the
    ///   prefix is not the one it was made with (the checksum then fails).
    public func decompress(_ frame: UnsafeRawBufferPointer, prefix: UnsafeRawBufferPointer, limit: Int = 1 << 40) throws -> [UInt8] {
        ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 31)
        let rc = ZSTD_DCtx_refPrefix(dctx, prefix.baseAddress, prefix.count)
        if ZSTD_isError(rc) != 0 {
            throw StorageError(
                .corrupt, "zstd cannot use the delta base", cause: "ZSTD_DCtx_refPrefix: \(String(cString: ZSTD_getErrorName(rc)))")
        }
        return try decompress(frame, limit: limit)
    }
}

/// zstd frame decompression, checking the frame's content checksum.
public enum Zstd {
    /// Decompresses one frame whose header records its content size, at most `limit` bytes.
    /// - Throws: `StorageError.corrupt` when the frame is malformed, its checksum fails, or its
    ///   size is unknown or over `limit`. The corresponding C function is `ZSTD_decompressDCtx`.
    public static func decompress(_ frame: UnsafeRawBufferPointer, limit: Int = 1 << 40) throws -> [UInt8] {
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(limit) else {
            throw StorageError(.corrupt, "zstd frame header is damaged", cause: "ZSTD_getFrameContentSize: \(size)")
        }
        var out = [UInt8](unsafeUninitializedCapacity: Int(size)) { _, n in n = Int(size) }
        let dctx = ZSTD_createDCtx()
        defer { ZSTD_freeDCtx(dctx) }
        let n = out.withUnsafeMutableBytes { o in ZSTD_decompressDCtx(dctx, o.baseAddress, Int(size), frame.baseAddress, frame.count) }
        if ZSTD_isError(n) != 0 {
            throw StorageError(.corrupt, "zstd frame is damaged", cause: "ZSTD_decompressDCtx: \(String(cString: ZSTD_getErrorName(n)))")
        }
        guard n == Int(size) else { throw StorageError(.corrupt, "zstd frame decoded to \(n) bytes, header says \(size)") }
        return out
    }

    /// Decompresses an array holding one frame. - Throws: as the buffer form.
    public static func decompress(_ frame: [UInt8], limit: Int = 1 << 40) throws -> [UInt8] {
        try frame.withUnsafeBytes { try decompress($0, limit: limit) }
    }
}
