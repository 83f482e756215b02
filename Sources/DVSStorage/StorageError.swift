import DVSCore
import Foundation

/// An error from the object store, packs, atomic writes or the repository lock.
///
/// It says what failed and on what (``code`` and ``subject``); what the user should do next is
/// the command layer's choice, made from those two.
public struct StorageError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Code: Sendable { case io, corrupt, notFound, locked, noSpace, compression }
    /// What the failure is about, when it is one of the store's own things.
    public enum Subject: Sendable, Equatable {
        /// A loose object (`.dvs/objects/xx/…`), by id.
        case object(ObjectID)
        /// A pack file (its path).
        case pack(String)
        /// One object inside a pack, by id.
        case packedObject(ObjectID)
        /// The repository's writer lock.
        case lock
    }
    /// What kind of failure.
    public var code: Code
    /// What failed, starting lower-case, naming the subject (`cannot read object 'ab12…': checksum mismatch`).
    public var message: String
    /// What the failure is about; nil for a plain file operation (the path is in ``message``).
    public var subject: Subject?
    /// The underlying cause (a C function and the library's message, an errno text).
    public var cause: String?
    /// The lower-level error this one was made from, when there was one.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, subject: Subject? = nil, cause: String? = nil, underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.subject = subject
        self.cause = cause
        self.underlying = underlying
    }

    /// An error from a failed POSIX call, classified by `errno` (ENOSPC → `.noSpace`).
    public static func posix(_ what: String, path: String, errno e: Int32 = errno) -> StorageError {
        let text = String(cString: strerror(e))
        if e == ENOSPC || e == EDQUOT {
            return StorageError(.noSpace, "\(what) '\(path)': no space left on device", cause: "\(what): \(text)")
        }
        return StorageError(e == ENOENT ? .notFound : .io, "\(what) '\(path)': \(text)", cause: nil)
    }

    public var description: String { message }
}
