import CZstd
import DVSCore

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

    /// Compresses an array into one frame. - Throws: as `compress(_:)` on a buffer.
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        try input.withUnsafeBytes { try compress($0) }
    }
}

/// A reusable zstd decompression context. Not thread-safe. The corresponding C type is `ZSTD_DCtx`.
public final class ZstdDecompressor {
    private let dctx: OpaquePointer
    /// Creates a context.
    public init() { dctx = ZSTD_createDCtx() }
    deinit { ZSTD_freeDCtx(dctx) }

    /// Decompresses one frame whose header records its content size, at most `limit` bytes,
    /// checking its content checksum.
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
        var out = [UInt8](repeating: 0, count: Int(size))
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
