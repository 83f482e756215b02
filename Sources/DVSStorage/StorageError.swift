import DVSCore
import Foundation

/// An error from the object store, packs, atomic writes or the repository lock.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable { case io, corrupt, notFound, locked, noSpace, compression }
    /// What kind of failure.
    public var code: Code
    /// What failed, starting lower-case, naming the subject (`cannot read object 'ab12…': checksum mismatch`).
    public var message: String
    /// The exact next step for the user, if there is one.
    public var hint: String?
    /// The underlying cause (a C function and the library's message, an errno text).
    public var cause: String?

    /// Creates an error.
    public init(_ code: Code, _ message: String, hint: String? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    /// An error from a failed POSIX call, classified by `errno` (ENOSPC → `.noSpace`).
    public static func posix(_ what: String, path: String, errno e: Int32 = errno) -> StorageError {
        let text = String(cString: strerror(e))
        if e == ENOSPC || e == EDQUOT {
            return StorageError(
                .noSpace, "\(what) '\(path)': no space left on device",
                hint: "free some disk space and run the command again; the repository is unchanged",
                cause: "\(what): \(text)")
        }
        return StorageError(e == ENOENT ? .notFound : .io, "\(what) '\(path)': \(text)", cause: nil)
    }

    public var description: String { message }
}
