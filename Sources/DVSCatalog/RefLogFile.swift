import DVSCore
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#endif

/// One line of `.dvs/reflog`: a move of a ref (a reflog entry), or its value restated when the
/// file was written again from the catalog.
///
/// ```
/// <kind> <ref> <symbolic> <old> <new> <time>\t<who>\t<message>\n
/// move refs/heads/main - - 3f2a…(64 hex) 1764800000\tAda <ada@example.org>\tcommit (initial): first
/// move HEAD refs/heads/main - 3f2a… 1764800000\tAda <ada@example.org>\tcommit (initial): first
/// ```
/// `kind` is `move` (an entry of the ref's reflog) or `set` (the value only); `symbolic` is the
/// branch ref HEAD points at after the move, `-` for other refs and a detached HEAD; `old` and
/// `new` are commit ids (64 lower-case hex) or `-` (none: created, deleted, unborn); `time` is
/// unix seconds; `who` and `message` escape backslash, tab and line feed as `\\`, `\t`, `\n`.
public struct RefLogLine: Sendable, Equatable {
    /// Whether the line is an entry of the ref's reflog (`move`) or restates its value (`set`).
    public var isMove: Bool
    /// The ref (`HEAD`, `refs/heads/main`, `refs/tags/v1`, `refs/remotes/origin/main`).
    public var ref: RefName
    /// For HEAD: the branch ref it points at after the move; nil when detached (and for other refs).
    public var symbolic: RefName?
    /// The commit before; nil when none.
    public var old: CommitID?
    /// The commit after; nil when the ref was deleted (or HEAD is on an unborn branch).
    public var new: CommitID?
    /// When, unix seconds.
    public var time: Int64
    /// Who moved it (`Name <email>`).
    public var who: String
    /// Why (the reflog message).
    public var message: String

    /// Creates a line.
    public init(
        isMove: Bool, ref: RefName, symbolic: RefName?, old: CommitID?, new: CommitID?, time: Int64, who: String, message: String
    ) {
        self.isMove = isMove
        self.ref = ref
        self.symbolic = symbolic
        self.old = old
        self.new = new
        self.time = time
        self.who = who
        self.message = message
    }

    /// The line's bytes, ending in a line feed.
    var encoded: String {
        func id(_ c: CommitID?) -> String { c?.hex ?? "-" }
        return
            "\(isMove ? "move" : "set") \(ref.fullName) \(symbolic?.fullName ?? "-") \(id(old)) \(id(new)) \(time)\t\(Self.escape(who))\t\(Self.escape(message))\n"
    }

    /// Decodes one line (without its line feed); nil when it is not well formed.
    static func decode(_ line: Substring) -> RefLogLine? {
        let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let head = parts[0].split(separator: " ", omittingEmptySubsequences: false)
        guard head.count == 6, head[0] == "move" || head[0] == "set", let ref = RefName(fullName: String(head[1])),
            let time = Int64(head[5]), let who = unescape(parts[1]), let message = unescape(parts[2])
        else { return nil }
        func id(_ s: Substring) -> CommitID?? { s == "-" ? .some(nil) : CommitID(hex: s).map { .some($0) } }
        guard let old = id(head[3]), let new = id(head[4]) else { return nil }
        let symbolic: RefName?
        if head[2] == "-" {
            symbolic = nil
        } else {
            guard ref == .head, let s = RefName(fullName: String(head[2])), s.branchName != nil else { return nil }
            symbolic = s
        }
        return RefLogLine(
            isMove: head[0] == "move", ref: ref, symbolic: symbolic, old: old, new: new, time: time, who: who, message: message)
    }

    /// `s` with `\\`, tab, LF and CR escaped, scalar by scalar (a CRLF is one Swift `Character`,
    /// equal to neither `"\n"` nor `"\r"`, so a loop over characters would leave it raw).
    static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\t" || $0 == "\n" || $0 == "\r" }) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            default: out.append(u)
            }
        }
        return String(out)
    }

    static func unescape(_ s: Substring) -> String? {
        guard s.contains("\\") else { return String(s) }
        var out = ""
        var escaped = false
        for ch in s {
            if escaped {
                switch ch {
                case "\\": out.append("\\")
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "r": out.append("\r")
                default: return nil
                }
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else {
                out.append(ch)
            }
        }
        return escaped ? nil : out
    }
}

/// What `.dvs/reflog` says: every line in order, and the refs they leave.
public struct RefLogContents: Sendable {
    /// The well-formed lines, in file order.
    public var lines: [RefLogLine]
    /// Lines that are not well formed, by line number (1-based), with the reason; the last line
    /// of a file cut short by a crash is not among them (it is ignored, as never written).
    public var malformed: [(line: Int, text: String)]

    /// The refs the lines leave, by full name (deleted refs absent; HEAD not among them).
    public var refs: [RefName: CommitID] {
        var out: [RefName: CommitID] = [:]
        for l in lines where l.ref != .head { out[l.ref] = l.new }
        return out
    }

    /// What HEAD is after the last line that moved it, or nil when no line did.
    public var head: Head? {
        guard let l = lines.last(where: { $0.ref == .head }) else { return nil }
        if let s = l.symbolic { return .branch(s.branchName ?? s.fullName, refs[s]) }
        return l.new.map { .detached($0) }
    }
}

/// The file `.dvs/reflog`: every move of every ref, appended (and fsynced) before the catalog
/// transaction that moves the ref commits, so that refs and reflog survive the catalog's loss.
///
/// Crash-safe order: the lines are appended and fsynced inside the transaction, after everything
/// else in it succeeded and before SQLite commits it; the transaction records the file's new
/// length (`ref_log`, `schema/0006_ref_log.sql`). Killed between the two, the file is longer
/// than the catalog says: the next ref move cuts the tail off. A commit that fails after the
/// append cuts it off at once. So the file never lacks a committed move, and at worst (the
/// catalog lost in that window) holds one move whose objects were all written but that the
/// catalog never recorded.
struct RefLogFile {
    /// The file's path (beside the catalog).
    var path: String

    /// The file's size, or nil when it is missing.
    var size: Int64? {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : nil
    }

    /// Reads and decodes the file (the first `length` bytes when given).
    /// - Throws: `CatalogError(.io)` when it exists but cannot be read.
    func read(length: Int64? = nil) throws -> RefLogContents? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard var data = FileManager.default.contents(atPath: path) else {
            throw CatalogError(.io, "cannot read the reflog file '\(path)'")
        }
        if let length, length < data.count { data = data.prefix(Int(max(0, length))) }
        return Self.decode(data)
    }

    /// Decodes the bytes of a reflog file.
    static func decode(_ data: Data) -> RefLogContents {
        var lines: [RefLogLine] = []
        var malformed: [(Int, String)] = []
        let text = String(decoding: data, as: UTF8.self)
        let complete = text.hasSuffix("\n")
        let raw = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, l) in raw.enumerated() {
            let last = i == raw.count - 1
            if last && (l.isEmpty || !complete) { continue }  // the end, or a line cut short by a crash
            if let d = RefLogLine.decode(l) { lines.append(d) } else { malformed.append((i + 1, String(l.prefix(120)))) }
        }
        return RefLogContents(lines: lines, malformed: malformed)
    }

    /// Appends `lines` and fsyncs the file (and its folder when the file is new).
    /// - Returns: the file's length after.
    /// - Throws: `CatalogError(.io)` or `.full`.
    func append(_ lines: [RefLogLine]) throws -> Int64 {
        let created = size == nil
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.failure("cannot open", path) }
        defer { close(fd) }
        let bytes = Array(lines.map(\.encoded).joined().utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot append to", path)
            }
            off += n
        }
        guard fsync(fd) == 0 else { throw Self.failure("cannot sync", path) }
        if created { Self.syncFolder(of: path) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Self.failure("cannot stat", path) }
        return Int64(st.st_size)
    }

    /// Cuts the file to `length` bytes (a tail no committed transaction covers) and fsyncs it.
    /// - Throws: `CatalogError(.io)`.
    func truncate(to length: Int64) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("cannot open", path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0, fsync(fd) == 0 else { throw Self.failure("cannot cut", path) }
    }

    /// Replaces the file with `lines` (temp file, fsync, rename, fsync of the folder).
    /// - Returns: the new length.
    /// - Throws: `CatalogError(.io)`.
    func replace(with lines: [RefLogLine]) throws -> Int64 {
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)
        let temp = RefLogFile(path: tmp)
        let length = try temp.append(lines)
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw Self.failure("cannot replace", path)
        }
        Self.syncFolder(of: path)
        return length
    }

    private static func syncFolder(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    private static func failure(_ what: String, _ path: String) -> CatalogError {
        let e = errno
        return CatalogError(e == ENOSPC ? .full : .io, "\(what) the reflog file '\(path)': \(String(cString: strerror(e)))")
    }
}
