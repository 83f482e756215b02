import Foundation

/// A path inside a working tree, relative to its root, kept as the exact bytes of the file name.
///
/// Components are separated by `/` (0x2F). Bytes are never normalised: an NFC name and an NFD
/// name are two different paths (Swift's `String ==` would call them equal, which is why this is
/// not a `String`). Ordering is bytewise, as git orders tree entries.
public struct RepoPath: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The path's bytes, without a leading or trailing `/`.
    public let bytes: [UInt8]

    /// Wraps raw bytes. No validation; see `validationProblem` before writing anything.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The UTF-8 bytes of `string`, unchanged (no normalisation).
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The path as text; invalid UTF-8 shows as U+FFFD (use `bytes` to act on the file).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the bytes are valid UTF-8.
    public var isValidUTF8: Bool { String(validating: bytes, as: UTF8.self) != nil }

    public var description: String { string }

    /// The components between `/` separators.
    public var components: [ArraySlice<UInt8>] { bytes.split(separator: 0x2F, omittingEmptySubsequences: false) }

    /// The last component.
    public var name: [UInt8] { Array(components.last ?? []) }

    /// The parent folder, or nil at the top level.
    public var parent: RepoPath? {
        guard let slash = bytes.lastIndex(of: 0x2F) else { return nil }
        return RepoPath(bytes: Array(bytes[..<slash]))
    }

    /// `self/child`.
    public func appending(_ child: [UInt8]) -> RepoPath {
        bytes.isEmpty ? RepoPath(bytes: child) : RepoPath(bytes: bytes + [0x2F] + child)
    }

    /// Whether `self` is `other` or lies below it.
    public func isWithin(_ other: RepoPath) -> Bool {
        if other.bytes.isEmpty { return true }
        if bytes == other.bytes { return true }
        return bytes.count > other.bytes.count && bytes.starts(with: other.bytes) && bytes[other.bytes.count] == 0x2F
    }

    /// Why this path must never be written into a working tree, or nil when it is safe.
    ///
    /// Rejects the empty path, absolute paths, empty components (`a//b`), `.` and `..`, NUL bytes,
    /// and anything inside `.dvs` or `.git` (compared case-insensitively, as a case-folding file
    /// system would). Used on every path read from a snapshot before anything is written, so even
    /// a hand-made or damaged manifest cannot write outside the target.
    public var validationProblem: String? {
        if bytes.isEmpty { return "empty path" }
        if bytes.first == 0x2F { return "absolute path" }
        if bytes.contains(0) { return "NUL byte in path" }
        for (i, c) in components.enumerated() {
            if c.isEmpty { return "empty path component" }
            if c.elementsEqual([0x2E]) || c.elementsEqual([0x2E, 0x2E]) { return "'.' or '..' component" }
            if Self.isReserved(c, topLevel: i == 0) { return "path inside .dvs or .git" }
        }
        return nil
    }

    /// Whether a name is one dvs never versions nor writes: `.git` and `.dvs` at any depth (a
    /// nested repository's store is not data), compared ASCII case-insensitively (a case-folding
    /// file system would open the real one).
    public static func isReserved(_ name: some Collection<UInt8>, topLevel: Bool) -> Bool {
        guard name.count == 4 else { return false }
        let lower = name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        return lower == Array(".git".utf8) || lower == Array(".dvs".utf8)
    }

    public static func < (a: RepoPath, b: RepoPath) -> Bool {
        a.bytes.withUnsafeBufferPointer { x in
            b.bytes.withUnsafeBufferPointer { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? c < 0 : x.count < y.count
            }
        }
    }

    public static func == (a: RepoPath, b: RepoPath) -> Bool { a.bytes == b.bytes }

    public func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
