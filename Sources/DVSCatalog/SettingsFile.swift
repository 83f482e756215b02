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
/// Keys are sorted; a value escapes backslash and line feed as `\\` and `\n`. Credentials are
/// never settings, so never here.
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
        var text =
            "# A copy of this repository's settings (dvs config), kept beside the catalog: 'dvs reindex'\n"
            + "# restores them from here when the catalog is lost. dvs writes this file; edits here are not read.\n"
        for (k, v) in settings.sorted(by: { $0.0 < $1.0 }) { text += "\(Self.escape(k))=\(Self.escape(v))\n" }
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
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    /// The settings the file holds, in its order; empty when there is no such file. Lines that
    /// are not `key=value` are skipped.
    public func read() -> [(String, String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        var out: [(String, String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            guard let eq = line.firstIndex(of: "="), eq != line.startIndex else { continue }
            out.append((Self.unescape(line[..<eq]), Self.unescape(line[line.index(after: eq)...])))
        }
        return out
    }

    static func escape(_ s: String) -> String {
        guard s.contains(where: { $0 == "\\" || $0 == "\n" }) else { return s }
        return s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                out.append(c == "n" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    private func failure(_ what: String, _ path: String) -> CatalogError {
        let e = errno
        return CatalogError(e == ENOSPC ? .full : .io, "\(what) the settings file '\(path)': \(String(cString: strerror(e)))")
    }
}
