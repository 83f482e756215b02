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
        // The bound is the input's size and more; a frame is usually far smaller. Compress into
        // uninitialised memory (pages zstd never writes are never touched), then keep a copy of
        // exactly the frame, so a 40 MB label table that compresses to 5 MB does not hold 40 MB.
        var n = 0
        var out = [UInt8](unsafeUninitializedCapacity: bound) { o, count in
            n = ZSTD_compress2(cctx, o.baseAddress, bound, input.baseAddress, input.count)
            count = ZSTD_isError(n) != 0 ? 0 : n
        }
        if ZSTD_isError(n) != 0 {
            throw StorageError(.compression, "zstd compression failed", cause: "ZSTD_compress2: \(String(cString: ZSTD_getErrorName(n)))")
        }
        if out.capacity - n >= 1 << 16 {
            // An explicit copy: `Array(out)` and `Array(out[...])` both keep the whole buffer.
            let frame = out
            out = [UInt8](unsafeUninitializedCapacity: n) { b, count in
                frame.withUnsafeBytes { _ = memcpy(b.baseAddress!, $0.baseAddress!, n) }
                count = n
            }
        }
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

    /// Whether `frame` decodes to exactly `expected`: decoded 1 MiB at a time and compared as it
    /// goes, so checking the frame of a large file holds no second copy of its content.
    /// - Parameters:
    ///   - frame: one zstd frame (RFC 8878).
    ///   - prefix: the prefix it was compressed with (``ZstdCompressor/compress(_:prefix:)``), or nil.
    ///   - expected: the bytes it must decode to.
    /// - Returns: false when the frame is malformed, truncated, followed by other bytes, fails its
    ///   checksum (when this context checks them), or decodes to anything else.
    /// The corresponding C functions are `ZSTD_DCtx_refPrefix` and `ZSTD_decompressStream`.
    public func decodes(_ frame: UnsafeRawBufferPointer, prefix: UnsafeRawBufferPointer? = nil, to expected: UnsafeRawBufferPointer) -> Bool
    {
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        defer {
            // A frame cut inside its header leaves the prefix referenced for the next frame:
            // drop it (a reset of the session alone keeps it), keeping the context's parameters.
            ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
            ZSTD_DCtx_refPrefix(dctx, nil, 0)
        }
        if let prefix {
            ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 31)
            guard ZSTD_isError(ZSTD_DCtx_refPrefix(dctx, prefix.baseAddress, prefix.count)) == 0 else { return false }
        }
        let chunkSize = 1 << 20
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { chunk.deallocate() }
        var input = ZSTD_inBuffer(src: frame.baseAddress, size: frame.count, pos: 0)
        var matched = 0
        while true {
            var output = ZSTD_outBuffer(dst: chunk.baseAddress, size: chunkSize, pos: 0)
            let rc = ZSTD_decompressStream(dctx, &output, &input)
            if ZSTD_isError(rc) != 0 { return false }
            let produced = output.pos
            if produced > 0 {
                guard matched + produced <= expected.count,
                    memcmp(chunk.baseAddress!, expected.baseAddress! + matched, produced) == 0
                else { return false }
                matched += produced
            }
            if rc == 0 { return matched == expected.count && input.pos == input.size }
            if produced == 0 && input.pos == input.size { return false }  // truncated
        }
    }

    /// Decompresses a frame made by `ZstdCompressor.compress(_:prefix:)` with the same `prefix`.
    /// - Throws: `StorageError.corrupt` when the frame is malformed, its checksum fails, or the
    ///   prefix is not the one it was made with (the checksum then fails).
    public func decompress(_ frame: UnsafeRawBufferPointer, prefix: UnsafeRawBufferPointer, limit: Int = 1 << 40) throws -> [UInt8] {
        ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 31)
        // The prefix is used by the next frame only; drop it when this one fails before using it.
        defer {
            ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
            ZSTD_DCtx_refPrefix(dctx, nil, 0)
        }
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
