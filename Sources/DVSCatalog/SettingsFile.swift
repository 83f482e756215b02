import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `.dvs/config`: a copy of the catalog's settings (`dvs config`, remotes), rewritten after every
/// transaction that changes one, so that `dvs reindex` can bring them back when the catalog is
/// lost — as `.dvs/reflog` keeps the refs. dvs reads it only then; the catalog stays the truth.
///
/// ```
/// # comment lines
/// <key>=<value>\n
/// pack.audio-codec=lpc
/// remote.origin.url=s3://bucket/voice
/// ```
/// Keys are sorted; keys and values escape backslash, tab, line feed and carriage return as
/// `\\`, `\t`, `\n` and `\r`, as `.dvs/reflog` does (`RefLogLine.escape`). A value that is a URL
/// with credentials in it (`http://KEY:SECRET@host`, which a dvs before 0.1.0 could store as an
/// endpoint) is copied with them replaced by `[redacted]`: credentials are never copied here, and
/// a remote restored from the copy is refused when opened (as it is now), rather than sent to
/// another endpoint.
public struct SettingsFile: Sendable {
    /// The file's path (`.dvs/config`).
    public let path: String

    /// The file beside the catalog at `catalogPath`.
    public init(besideCatalog catalogPath: String) {
        path = (catalogPath as NSString).deletingLastPathComponent + "/config"
    }

    /// Replaces the file with `settings` (temp file, fsync, rename, fsync of the folder).
    /// - Throws: `CatalogError(.io)` or `.full` naming the file.
    func replace(with settings: [(String, String)]) throws {
        // Temp files of writers killed before their rename (every writer holds the lock).
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent + ".tmp-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(base) {
            unlink(dir + "/" + name)
        }
        var text =
            "# A copy of this repository's settings (dvs config), kept beside the catalog: 'dvs reindex'\n"
            + "# restores them from here when the catalog is lost, and reads it at no other time: set them with 'dvs config'.\n"
        for (k, v) in settings.sorted(by: { $0.0 < $1.0 }) {
            text += "\(RefLogLine.escape(k))=\(RefLogLine.escape(Self.withoutCredentials(v)))\n"
        }
        let bytes = Array(text.utf8)
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create", tmp) }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = failure("cannot write", tmp)
                close(fd)
                unlink(tmp)
                throw e
            }
            off += n
        }
        guard fsync(fd) == 0, rename(tmp, path) == 0 else {
            let e = failure("cannot replace", path)
            close(fd)
            unlink(tmp)
            throw e
        }
        close(fd)
        let folder = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// The settings the file holds, in its order; empty when there is no such file. Lines that
    /// are not `key=value` are skipped.
    public func read() -> [(String, String)] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var out: [(String, String)] = []
        // Split on line-feed bytes: as Characters, "\r\n" is one, and would join two lines.
        for bytes in data.split(separator: 0x0A, omittingEmptySubsequences: true) where bytes.first != UInt8(ascii: "#") {
            let line = String(decoding: bytes, as: UTF8.self)
            guard let eq = line.firstIndex(of: "="), eq != line.startIndex, let key = RefLogLine.unescape(line[..<eq]),
                let value = RefLogLine.unescape(line[line.index(after: eq)...])
            else { continue }
            out.append((key, value))
        }
        return out
    }

    /// `value` with the user part of a URL's authority (`KEY:SECRET@`, RFC 3986 §3.2.1) replaced
    /// by `[redacted]`; any other value as it is. A pasted secret may hold '/', '?' or '#' (AWS
    /// secret keys often hold '/'), which end the authority by the RFC: when the text after the
    /// authority's first ':' is not a port (digits) and an '@' follows, everything up to the last
    /// '@' is taken for the user part.
    static func withoutCredentials(_ value: String) -> String {
        guard let scheme = value.range(of: "://") else { return value }
        let rest = value[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") {
            return String(value[..<scheme.upperBound]) + "[redacted]" + String(value[at...])
        }
        // A port is one digit or more: `KEY:/SECRET@host` (a secret starting with '/') is no port.
        guard let colon = authority.firstIndex(of: ":"),
            authority[authority.index(after: colon)...].isEmpty
                || !authority[authority.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber }),
            let at = rest.lastIndex(of: "@")
        else { return value }
        return String(value[..<scheme.upperBound]) + "[redacted]" + String(value[at...])
    }

    private func failure(_ what: String, _ path: String) -> CatalogError {
        let e = errno
        return CatalogError(e == ENOSPC ? .full : .io, "\(what) the settings file '\(path)': \(String(cString: strerror(e)))")
    }
}
