import Foundation

/// A person and a moment, as git records them: `Name <email> <unix seconds> <±hhmm>`.
public struct Signature: Hashable, Sendable {
    /// Display name.
    public var name: String
    /// E-mail address, without angle brackets.
    public var email: String
    /// Seconds since 1970-01-01T00:00:00Z.
    public var time: Int64
    /// Offset from UTC in minutes (e.g. 60 for +0100).
    public var timeZoneOffsetMinutes: Int

    /// Creates a signature.
    public init(name: String, email: String, time: Int64, timeZoneOffsetMinutes: Int = 0) {
        self.name = name
        self.email = email
        self.time = time
        self.timeZoneOffsetMinutes = timeZoneOffsetMinutes
    }

    /// Parses `Name <email>` (as given to `--author`), stamped with `time`. Returns nil when the
    /// text lacks the `<…>` part or contains a newline.
    public init?(parsing text: String, time: Int64, timeZoneOffsetMinutes: Int = 0) {
        guard !text.contains("\n"), let lt = text.firstIndex(of: "<"), let gt = text.lastIndex(of: ">"), lt < gt,
            text[text.index(after: gt)...].trimmingCharacters(in: .whitespaces).isEmpty
        else { return nil }
        let name = text[..<lt].trimmingCharacters(in: .whitespaces)
        let email = String(text[text.index(after: lt)..<gt])
        guard !email.contains("<"), !email.contains(">") else { return nil }
        self.init(name: name, email: email, time: time, timeZoneOffsetMinutes: timeZoneOffsetMinutes)
    }

    /// `Name <email>`.
    public var identity: String { "\(name) <\(email)>" }

    /// `Name <email> 1700000000 +0100`.
    public var encoded: String {
        let sign = timeZoneOffsetMinutes < 0 ? "-" : "+"
        let m = abs(timeZoneOffsetMinutes)
        return "\(identity) \(time) \(sign)\(String(format: "%02d%02d", m / 60, m % 60))"
    }

    static func decode(_ s: Substring) -> Signature? {
        let parts = s.split(separator: " ")
        guard parts.count >= 3, let time = Int64(parts[parts.count - 2]) else { return nil }
        let tz = parts[parts.count - 1]
        guard tz.count == 5, let hh = Int(tz.dropFirst().prefix(2)), let mm = Int(tz.suffix(2)) else { return nil }
        let off = (hh * 60 + mm) * (tz.first == "-" ? -1 : 1)
        let identity = parts[0..<(parts.count - 2)].joined(separator: " ")
        return Signature(parsing: identity, time: time, timeZoneOffsetMinutes: off)
    }
}

/// A commit: a snapshot (the root of its manifest), its parents, who and when, and why.
///
/// Encoded as UTF-8 text in git's commit layout (`schema/FORMAT.md` § Commit): header lines
/// `dvs-commit 1`, `manifest`, `parent`*, `author`, `committer`, `totals`, `extra`*, a blank
/// line, then the message. The encoding is canonical, so the id is stable.
public struct Commit: Hashable, Sendable {
    /// Root chunk of the snapshot's manifest.
    public var manifest: ObjectID
    /// Parent commits, first parent first (none for a root commit, two for a merge).
    public var parents: [CommitID]
    /// Who made the change.
    public var author: Signature
    /// Who recorded it.
    public var committer: Signature
    /// Totals over the snapshot, so `log` need not read manifests.
    public var totals: ManifestTotals
    /// Extra key/value headers (cohort predicate, source commit, …); keys are `[a-z0-9-]+`.
    public var extra: [String: String]
    /// The message, without a trailing newline.
    public var message: String

    /// Creates a commit.
    public init(
        manifest: ObjectID, parents: [CommitID], author: Signature, committer: Signature,
        totals: ManifestTotals, extra: [String: String] = [:], message: String
    ) {
        self.manifest = manifest
        self.parents = parents
        self.author = author
        self.committer = committer
        self.totals = totals
        self.extra = extra
        self.message = message
    }

    /// The canonical bytes.
    public func encoded() -> [UInt8] {
        var s = "dvs-commit 1\nmanifest \(manifest.hex)\n"
        for p in parents { s += "parent \(p.hex)\n" }
        s += "author \(author.encoded)\ncommitter \(committer.encoded)\n"
        s += "totals \(totals.fileCount) \(totals.sampleCount) \(totals.byteCount) \(totals.audioMicroseconds)\n"
        for key in extra.keys.sorted() {
            s += "extra \(key) \(extra[key]!.replacingOccurrences(of: "\n", with: "\n "))\n"
        }
        s += "\n" + message
        return Array(s.utf8)
    }

    /// Decodes canonical bytes. - Throws: `FormatError` when a required header is missing or malformed.
    public static func decode(_ bytes: [UInt8]) throws(FormatError) -> Commit {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalid("commit is not UTF-8", at: 0) }
        guard let split = text.range(of: "\n\n") else { throw .invalid("commit has no message separator", at: 0) }
        let header = text[..<split.lowerBound]
        let message = String(text[split.upperBound...])
        var manifest: ObjectID?
        var parents: [CommitID] = []
        var author: Signature?
        var committer: Signature?
        var totals = ManifestTotals()
        var extra: [String: String] = [:]
        var lastExtra: String?
        var first = true
        for line in header.split(separator: "\n", omittingEmptySubsequences: false) {
            if first {
                guard line == "dvs-commit 1" else { throw .invalid("not a dvs commit (version line '\(line)')", at: 0) }
                first = false
                continue
            }
            if line.hasPrefix(" "), let k = lastExtra {
                extra[k]! += "\n" + line.dropFirst()
                continue
            }
            guard let sp = line.firstIndex(of: " ") else { throw .invalid("bad commit header '\(line)'", at: 0) }
            let key = line[..<sp]
            let value = line[line.index(after: sp)...]
            lastExtra = nil
            switch key {
            case "manifest": manifest = ObjectID(hex: value)
            case "parent":
                guard let p = CommitID(hex: value) else { throw .invalid("bad parent id", at: 0) }
                parents.append(p)
            case "author": author = Signature.decode(value)
            case "committer": committer = Signature.decode(value)
            case "totals":
                let n = value.split(separator: " ").compactMap { UInt64($0) }
                guard n.count == 4 else { throw .invalid("bad totals", at: 0) }
                totals.fileCount = n[0]
                totals.sampleCount = n[1]
                totals.byteCount = n[2]
                totals.audioMicroseconds = n[3]
            case "extra":
                let kv = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                let k = String(kv[0])
                extra[k] = kv.count > 1 ? String(kv[1]) : ""
                lastExtra = k
            default: break  // unknown headers are ignored by readers of this version
            }
        }
        guard let manifest, let author, let committer else { throw .invalid("commit lacks manifest, author or committer", at: 0) }
        return Commit(
            manifest: manifest, parents: parents, author: author, committer: committer,
            totals: totals, extra: extra, message: message)
    }
}
