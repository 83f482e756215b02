import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A point in a file-system monitor daemon's record of changes: the daemon's instance (random,
/// new at every start) and how many changes it had recorded (`core.fsmonitor`,
/// Documentation/ARCHITECTURE.md § File-system monitor). Written `instance:sequence`.
public struct FSMonitorToken: Hashable, Sendable, CustomStringConvertible {
    /// The daemon instance the sequence belongs to (16 hex digits).
    public var instance: String
    /// Changes the daemon had recorded when the token was taken.
    public var sequence: UInt64

    /// A token of `instance` at `sequence`.
    public init(instance: String, sequence: UInt64) {
        self.instance = instance
        self.sequence = sequence
    }

    /// Parses `instance:sequence`; nil when the text is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isHexDigit), let s = UInt64(parts[1]) else { return nil }
        instance = String(parts[0])
        sequence = s
    }

    /// `instance:sequence`.
    public var description: String { "\(instance):\(sequence)" }
}

/// What a file-system monitor answers a client asking for the changes since a token.
public enum FSMonitorAnswer: Sendable, Equatable {
    /// The daemon cannot vouch for every change since that token (another instance, an event queue
    /// overflow, too many changes, a watch it could not add): walk the whole tree. The token is the
    /// one to record with that walk.
    case rescan(FSMonitorToken)
    /// The paths (files or folders, relative to the root; a folder stands for everything below it;
    /// the empty path for the whole tree) where something may have changed since the token, and the
    /// token to record with a scan of them.
    case changes([RepoPath], FSMonitorToken)
    /// The daemon cannot see every change at all (a watch it could not add, a network file
    /// system): walk the whole tree and record no token (it would be a write per scan for
    /// nothing). The token is the daemon's current one.
    case broken(FSMonitorToken)

    /// The token to record with the scan this answer leads to (none for ``broken(_:)``).
    public var token: FSMonitorToken {
        switch self {
        case .rescan(let t), .changes(_, let t), .broken(let t): return t
        }
    }
}

/// The daemon's record of changed paths (platform-neutral bookkeeping; the inotify loop feeds it).
///
/// Each recorded path gets the next sequence number; a token at sequence s is answered with every
/// path recorded after s. An overflow (or too many distinct paths) forgets the paths and makes
/// every earlier token answer ``FSMonitorAnswer/rescan(_:)``: the record never under-reports.
struct FSMonitorChangeLog: Sendable {
    /// This daemon's instance id.
    let instance: String
    /// The sequence of the last recorded change.
    private(set) var sequence: UInt64 = 0
    /// Tokens below this sequence are answered with a rescan.
    private(set) var rescanBelow: UInt64 = 0
    /// The sequence each path was last recorded at.
    private(set) var changed: [RepoPath: UInt64] = [:]
    /// Distinct paths kept before the record is dropped for a rescan.
    let limit: Int
    /// Set when the daemon can no longer see every change (a watch it could not add): every
    /// answer is a rescan.
    var broken: String?

    init(instance: String, limit: Int = 200_000) {
        self.instance = instance
        self.limit = limit
    }

    /// The token for everything recorded so far.
    var token: FSMonitorToken { FSMonitorToken(instance: instance, sequence: sequence) }

    /// Records a change at `path`.
    mutating func record(_ path: RepoPath) {
        sequence += 1
        changed[path] = sequence
        if changed.count > limit { overflow() }
    }

    /// Forgets the record: every token taken so far is answered with a rescan.
    mutating func overflow() {
        sequence += 1
        rescanBelow = sequence
        changed.removeAll()
    }

    /// The answer to a client whose scan recorded `since` (nil: none).
    func answer(since: FSMonitorToken?) -> FSMonitorAnswer {
        guard broken == nil, let since, since.instance == instance, since.sequence >= rescanBelow, since.sequence <= sequence else {
            return .rescan(token)
        }
        if since.sequence == sequence { return .changes([], token) }
        return .changes(changed.compactMap { $0.value > since.sequence ? $0.key : nil }.sorted(), token)
    }
}

/// Where a working tree's monitor keeps its files: `.dvs/fsmonitor/` (socket, lock, log and the
/// cookie files the daemon creates to order its answers after the events before them).
public enum FileSystemMonitor {
    /// The folder under `.dvs`.
    public static let folderName = "fsmonitor"
    /// The daemon's socket, in ``folderName``.
    static let socketName = "daemon.sock"
    /// The lock a running daemon holds, in ``folderName``.
    static let lockName = "daemon.lock"
    /// The daemon's log, in ``folderName``.
    public static let logName = "daemon.log"
    /// The prefix of cookie files.
    static let cookiePrefix = "cookie-"

    /// What `dvs fsmonitor status` shows of a running daemon.
    public struct Status: Sendable, Codable, Equatable {
        /// The daemon's process id.
        public var pid: Int32
        /// The working tree it watches (absolute).
        public var root: String
        /// Its current token.
        public var token: String
        /// Folders it watches.
        public var watchedFolders: Int
        /// Distinct paths it holds as changed.
        public var changedPaths: Int
        /// Why it answers every client with a rescan, if it does.
        public var problem: String?
    }

    /// A random instance id: 16 hex digits.
    static func newInstance() -> String {
        var g = SystemRandomNumberGenerator()
        return String(format: "%016llx", g.next() as UInt64)
    }

    /// The working tree's root containing `directory` (nil: the current folder) for a daemon:
    /// found as a repository is, but without finishing an interrupted operation (a daemon never
    /// writes the tree).
    /// - Throws: `DVSError.notARepository` when no parent has a `.dvs` folder.
    public static func daemonRoot(from directory: String?, context: ProcessContext) throws -> String {
        try Repository.findRoot(from: directory, context: context)
    }
}

#if os(Linux)
    extension FileSystemMonitor {
        /// A path for `sun_path` (108 bytes) naming `name` in folder `dir`: the path itself when it
        /// fits, else through `/proc/self/fd` of the folder opened (its descriptor is returned to close).
        static func socketAddress(dir: String, name: String) -> (sockaddr_un, Int32)? {
            var fd: Int32 = -1
            var path = dir + "/" + name
            if path.utf8.count >= 100 {
                fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard fd >= 0 else { return nil }
                path = "/proc/self/fd/\(fd)/" + name
            }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in
                for (i, b) in bytes.enumerated() { buf[i] = b }
                buf[bytes.count] = 0
            }
            return (addr, fd)
        }

        /// Sends one request line to the daemon of the tree whose `.dvs` is `dvsDir` and reads the
        /// whole answer; nil when no daemon answers (none running, a stale socket, a timeout).
        static func exchange(dvsDir: String, request: String, timeoutSeconds: Int = 10) -> [UInt8]? {
            let dir = dvsDir + "/" + folderName
            guard let (addr0, dfd) = socketAddress(dir: dir, name: socketName) else { return nil }
            defer { if dfd >= 0 { close(dfd) } }
            var addr = addr0
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return nil }
            defer { close(s) }
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { return nil }
            let line = Array((request + "\n").utf8)
            guard line.withUnsafeBytes({ send(s, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == line.count else { return nil }
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buf.withUnsafeMutableBytes { recv(s, $0.baseAddress, $0.count, 0) }
                if n == 0 { break }
                if n < 0 {
                    if errno == EINTR { continue }
                    return nil
                }
                out += buf[0..<n]
            }
            return out.isEmpty ? nil : out
        }

        /// `st_dev:st_ino` of a folder: the client checks the daemon watches the same tree.
        static func identity(_ path: String) -> String? {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            return "\(st.st_dev):\(st.st_ino)"
        }

        /// Asks the daemon of the tree at `root` for the changes since `since`; nil when no daemon
        /// (for that tree) answers.
        public static func changes(root: String, since: FSMonitorToken?) -> FSMonitorAnswer? {
            guard let id = identity(root),
                let reply = exchange(dvsDir: root + "/.dvs", request: "query " + (since?.description ?? "-"))
            else { return nil }
            guard let nl = reply.firstIndex(of: 0x0A) else { return nil }
            let head = String(decoding: reply[..<nl], as: UTF8.self).split(separator: " ").map(String.init)
            guard head.count == 4, head[1] == id, let token = FSMonitorToken(head[2]) else { return nil }
            switch head[0] {
            case "rescan": return .rescan(token)
            case "broken": return .broken(token)
            case "changes":
                guard let n = Int(head[3]) else { return nil }
                let paths = reply[(nl + 1)...].split(separator: 0, omittingEmptySubsequences: false).dropLast().map {
                    RepoPath(bytes: Array($0))
                }
                guard paths.count == n else { return nil }
                return .changes(paths, token)
            default: return nil
            }
        }

        /// The running daemon's status; nil when none answers.
        public static func status(root: String) -> Status? {
            guard let reply = exchange(dvsDir: root + "/.dvs", request: "status") else { return nil }
            return try? JSONDecoder().decode(Status.self, from: Data(reply))
        }

        /// Asks the daemon to stop and waits (up to 10 s) for it to let go of its lock.
        /// - Returns: whether a daemon was running.
        @discardableResult
        public static func stop(root: String) -> Bool {
            guard exchange(dvsDir: root + "/.dvs", request: "stop") != nil else { return false }
            let lock = root + "/.dvs/" + folderName + "/" + lockName
            for _ in 0..<1000 {
                let fd = open(lock, O_RDWR | O_CLOEXEC)
                if fd < 0 { return true }
                defer { close(fd) }
                if flock(fd, LOCK_EX | LOCK_NB) == 0 { return true }
                usleep(10_000)
            }
            return true
        }

        /// The kind of network or user-space file system `path` (absolute) is on (NFS, SMB/CIFS,
        /// FUSE, 9P, Ceph, AFS, from the mount's type in `/proc/self/mountinfo`), where inotify does
        /// not see changes made elsewhere; nil for a local one.
        static func networkFileSystem(_ path: String) -> String? {
            guard let bytes = try? FileIO.read("/proc/self/mountinfo") else { return nil }
            var best: (point: String, type: String)?
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let fields = line.split(separator: " ").map(String.init)
                guard fields.count > 6, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
                let point = fields[4].replacingOccurrences(of: "\\040", with: " ")
                let within = point == "/" || path == point || path.hasPrefix(point + "/")
                if within, point.count >= (best?.point.count ?? -1) { best = (point, fields[dash + 1]) }
            }
            guard let type = best?.type else { return nil }
            if type.hasPrefix("nfs") { return "NFS" }
            if ["cifs", "smb3", "smbfs"].contains(type) { return "SMB/CIFS" }
            if type == "fuse" || type.hasPrefix("fuse.") || type == "fuseblk" { return "FUSE" }
            if type == "9p" { return "9P" }
            if type == "ceph" { return "Ceph" }
            if type == "afs" || type == "openafs" { return "AFS" }
            return nil
        }

        /// Takes the tree's monitor lock for a daemon starting (the repository lock's mechanism,
        /// `RepositoryLock`, on `.dvs/fsmonitor/daemon.lock`), trying again for `seconds` (a
        /// client's ``isRunning(root:)`` holds it for an instant); nil when another daemon holds it.
        static func takeLock(root: String, seconds: Double = 1) -> RepositoryLock? {
            let dir = root + "/.dvs/" + folderName
            mkdir(dir, 0o755)
            return try? RepositoryLock(path: dir + "/" + lockName, timeout: seconds, command: "dvs fsmonitor run")
        }

        /// Whether a daemon holds the tree's monitor lock (running, perhaps still setting up its watches).
        public static func isRunning(root: String) -> Bool {
            let path = root + "/.dvs/" + folderName + "/" + lockName
            guard FileIO.exists(path) else { return false }
            guard let probe = RepositoryLock.tryAcquire(path: path, command: "probe") else { return true }
            probe.release()
            return false
        }
    }

    /// The inotify side of the daemon: watches on every folder of the tree (except `.dvs`, `.git`,
    /// the walk's temp names and what `.dvsignore` excludes), turned into ``FSMonitorChangeLog``
    /// records. Single-threaded; ``serve(idleSeconds:)`` adds the socket, tests call ``answer(since:)``.
    final class FSMonitorWatcher {
        /// The tree's root (absolute).
        let root: String
        /// The changes recorded.
        private(set) var log: FSMonitorChangeLog
        private let inotify: Int32
        private var folders: [Int32: RepoPath] = [:]
        private var watchOf: [RepoPath: Int32] = [:]
        private var cookieWatch: Int32 = -1
        private var cookieCounter = 0
        private var seenCookies = Set<String>()
        /// Set when `.dvs` (or the root) is gone: the daemon exits.
        private(set) var finished = false
        /// Whether a broken daemon keeps answering (a file system it cannot watch at all: another
        /// one would not do better) rather than exit at its first query.
        var keepsRunningWhenBroken = false
        private let cookieDir: String

        static let mask: UInt32 =
            UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF)
            | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR) | UInt32(IN_DONT_FOLLOW) | UInt32(IN_EXCL_UNLINK)

        /// Watches the tree at `root`: every folder gets a watch before the first answer.
        /// - Throws: `DVSError.io` when inotify or the cookie folder cannot be set up.
        /// - Parameter unwatchable: why the tree cannot be watched at all (a network file system):
        ///   no watch is added and every answer is a rescan.
        init(root: String, instance: String = FileSystemMonitor.newInstance(), limit: Int = 200_000, unwatchable: String? = nil) throws {
            self.root = root
            log = FSMonitorChangeLog(instance: instance, limit: limit)
            cookieDir = root + "/.dvs/" + FileSystemMonitor.folderName
            inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard inotify >= 0 else {
                throw DVSError(.io, "cannot start a file-system monitor: inotify: \(String(cString: strerror(errno)))")
            }
            mkdir(cookieDir, 0o755)
            cookieWatch = inotify_add_watch(inotify, cookieDir, UInt32(IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF) | UInt32(IN_ONLYDIR))
            guard cookieWatch >= 0 else {
                let e = String(cString: strerror(errno))
                close(inotify)
                throw DVSError(.io, "cannot watch '\(cookieDir)': \(e)")
            }
            if let unwatchable {
                log.broken = unwatchable
                return
            }
            watchTree(RepoPath(bytes: []))
        }

        deinit { close(inotify) }

        /// The descriptor to poll.
        var descriptor: Int32 { inotify }
        /// Folders watched.
        var watchedFolders: Int { folders.count }

        /// The rules of `.dvsignore` files in the folders above `dir` (not `dir`'s own); nil when
        /// `dir` itself is reserved, a temp name or ignored.
        private func rules(above dir: RepoPath) -> IgnoreRules? {
            var rules = IgnoreRules()
            var folder = RepoPath(bytes: [])
            for c in dir.components where !dir.bytes.isEmpty {
                if let bytes = try? FileIO.read(TreeWalker.fullPath(root, folder.appending(Array(".dvsignore".utf8)))) {
                    rules.add(contents: bytes, base: folder)
                }
                let next = folder.appending(Array(c))
                if RepoPath.isReserved(c, topLevel: folder.bytes.isEmpty) || c.starts(with: TreeWalker.oldTempPrefix)
                    || rules.isIgnored(next, isDirectory: true)
                {
                    return nil
                }
                folder = next
            }
            return rules
        }

        /// Adds watches on `dir` and every folder below it (a watch first, then the listing, so
        /// nothing created meanwhile is missed). A folder that vanished is skipped; a watch the
        /// kernel refuses (the `max_user_watches` limit) breaks the record for good.
        func watchTree(_ dir: RepoPath) {
            guard var rules = rules(above: dir) else { return }
            var stack: [(RepoPath, IgnoreRules)] = []
            stack.append((dir, rules))
            while let (d, r) = stack.popLast() {
                rules = r
                let wd = inotify_add_watch(inotify, TreeWalker.fullPath(root, d), Self.mask)
                if wd < 0 {
                    noteFailure(errno, at: d)
                    continue
                }
                if let old = watchOf[d], old != wd { folders[old] = nil }
                if let p = folders[wd], p != d { watchOf[p] = nil }
                folders[wd] = d
                watchOf[d] = wd
                guard let dirp = opendir(TreeWalker.fullPath(root, d)) else {
                    noteFailure(errno, at: d)
                    continue
                }
                defer { closedir(dirp) }
                let dfd = dirfd(dirp)
                var subfolders: [[UInt8]] = []
                var hasIgnore = false
                while let ent = readdir(dirp) {
                    let name: [UInt8] = withUnsafePointer(to: &ent.pointee.d_name) { p in
                        p.withMemoryRebound(to: UInt8.self, capacity: 256) {
                            Array(UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))))
                        }
                    }
                    if name == [0x2E] || name == [0x2E, 0x2E] { continue }
                    if name.elementsEqual(".dvsignore".utf8) { hasIgnore = true }
                    var isDir = ent.pointee.d_type == UInt8(DT_DIR)
                    if ent.pointee.d_type == UInt8(DT_UNKNOWN) {
                        var st = stat()
                        isDir =
                            fstatat(dfd, name.map { CChar(bitPattern: $0) } + [0], &st, AT_SYMLINK_NOFOLLOW) == 0
                            && st.st_mode & S_IFMT == S_IFDIR
                    }
                    if isDir { subfolders.append(name) }
                }
                if hasIgnore, let bytes = try? FileIO.read(TreeWalker.fullPath(root, d.appending(Array(".dvsignore".utf8)))) {
                    rules.add(contents: bytes, base: d)
                }
                for name in subfolders {
                    if RepoPath.isReserved(name, topLevel: d.bytes.isEmpty) || name.starts(with: TreeWalker.oldTempPrefix) { continue }
                    let child = d.appending(name)
                    if rules.isIgnored(child, isDirectory: true) { continue }
                    stack.append((child, rules))
                }
            }
        }

        /// A watch or listing of `dir` failed with `error`: a folder that vanished (or is no folder)
        /// is fine; anything else (the `max_user_watches` limit, a folder not readable) breaks the
        /// record for good.
        func noteFailure(_ error: Int32, at dir: RepoPath) {
            if error == ENOENT || error == ENOTDIR || error == ELOOP || log.broken != nil { return }
            if error == ENOSPC || error == ENOMEM {
                log.broken =
                    "the kernel refused a watch (fs.inotify.max_user_watches is \(Self.maxWatches()); raise it with 'sysctl fs.inotify.max_user_watches=1048576')"
            } else {
                let shown = dir.bytes.isEmpty ? "." : String(decoding: dir.bytes, as: UTF8.self)
                log.broken = "cannot watch '\(shown)': \(String(cString: strerror(error)))"
            }
        }

        static func maxWatches() -> String {
            ((try? FileIO.read("/proc/sys/fs/inotify/max_user_watches")).map { String(decoding: $0, as: UTF8.self) } ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Forgets the watches of `dir` and every folder below it (moved away or deleted).
        private func unwatchTree(_ dir: RepoPath) {
            for (p, wd) in watchOf where p == dir || p.isWithin(dir) {
                inotify_rm_watch(inotify, wd)
                watchOf[p] = nil
                folders[wd] = nil
            }
        }

        /// Reads and records every event queued now.
        func drain() {
            var buf = [UInt8](repeating: 0, count: 256 * 1024)
            while true {
                let n = buf.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                buf.withUnsafeBytes { raw in
                    var off = 0
                    while off + 16 <= n {
                        let wd = raw.loadUnaligned(fromByteOffset: off, as: Int32.self)
                        let mask = raw.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self)
                        let len = Int(raw.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self))
                        var name = Array(raw[(off + 16)..<(off + 16 + len)])
                        while name.last == 0 { name.removeLast() }
                        handle(wd: wd, mask: mask, name: name)
                        off += 16 + len
                    }
                }
            }
        }

        /// One event.
        private func handle(wd: Int32, mask: UInt32, name: [UInt8]) {
            if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                log.overflow()
                watchTree(RepoPath(bytes: []))
                return
            }
            if wd == cookieWatch {
                if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                    finished = true
                } else {
                    seenCookies.insert(String(decoding: name, as: UTF8.self))
                }
                return
            }
            guard let dir = folders[wd] else { return }
            if mask & UInt32(IN_IGNORED) != 0 {
                folders[wd] = nil
                if watchOf[dir] == wd { watchOf[dir] = nil }
                if dir.bytes.isEmpty { finished = true }
                return
            }
            if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                if dir.bytes.isEmpty { finished = true }
                log.record(dir)
                return
            }
            if name.isEmpty {
                log.record(dir)
                return
            }
            if RepoPath.isReserved(name, topLevel: dir.bytes.isEmpty) {
                if dir.bytes.isEmpty, name.elementsEqual(".dvs".utf8), mask & UInt32(IN_DELETE | IN_MOVED_FROM) != 0 { finished = true }
                return
            }
            if name.starts(with: TreeWalker.oldTempPrefix) { return }
            let path = dir.appending(name)
            let isDir = mask & UInt32(IN_ISDIR) != 0
            if isDir && mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 { unwatchTree(path) }
            // A new folder: watch it and all below, then record it (a folder stands for everything
            // below it, files made before the watch too).
            // A folder whose permissions changed: a watch refused before may be possible now.
            if isDir && mask & UInt32(IN_CREATE | IN_MOVED_TO | IN_ATTRIB) != 0 { watchTree(path) }
            if name.elementsEqual(".dvsignore".utf8) {
                // Other rules: the folder's walk may list other files, and other folders need watches.
                watchTree(dir)
                log.record(dir)
            }
            log.record(path)
        }

        /// Creates a cookie file and reads events until its creation is seen: every change made
        /// before this call is then recorded. False on a timeout (10 s) or when the tree is gone.
        func sync() -> Bool {
            cookieCounter += 1
            let name = FileSystemMonitor.cookiePrefix + "\(getpid())-\(cookieCounter)"
            let path = cookieDir + "/" + name
            let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return false }
            close(fd)
            defer { unlink(path) }
            let deadline = Date().addingTimeInterval(10)
            while !seenCookies.contains(name) {
                if finished || Date() > deadline { return false }
                var p = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, 100)
                drain()
            }
            seenCookies.removeAll()
            return true
        }

        /// The answer for a client whose scan recorded `since`, with every change before this call in it.
        func answer(since: FSMonitorToken?) -> FSMonitorAnswer {
            guard sync() else { return .rescan(FSMonitorToken(instance: log.instance, sequence: UInt64.max)) }
            if log.broken != nil { return .broken(log.token) }
            return log.answer(since: since)
        }

        /// Serves clients on `.dvs/fsmonitor/daemon.sock` until `.dvs` goes, a client asks it to
        /// stop, or no client asked anything for `idleSeconds`. The caller holds
        /// `.dvs/fsmonitor/daemon.lock` (``FileSystemMonitor/takeLock(root:seconds:)``).
        /// - Throws: `DVSError.io` when the socket cannot be made.
        func serve(idleSeconds: Double) throws {
            let started = Date()
            guard let (addr0, dfd) = FileSystemMonitor.socketAddress(dir: cookieDir, name: FileSystemMonitor.socketName) else {
                throw DVSError(.io, "cannot open '\(cookieDir)'")
            }
            defer { if dfd >= 0 { close(dfd) } }
            var addr = addr0
            // A socket left by a daemon that was killed: nobody holds the lock, so it is stale.
            unlink(cookieDir + "/" + FileSystemMonitor.socketName)
            let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard listener >= 0 else { throw DVSError(.io, "cannot make a socket: \(String(cString: strerror(errno)))") }
            defer {
                close(listener)
                unlink(cookieDir + "/" + FileSystemMonitor.socketName)
            }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0, listen(listener, 64) == 0 else {
                throw DVSError(.io, "cannot listen on '\(cookieDir)/\(FileSystemMonitor.socketName)': \(String(cString: strerror(errno)))")
            }
            let identity = FileSystemMonitor.identity(root) ?? "?"
            var lastRequest = Date()
            while !finished {
                var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                let rc = poll(&fds, 2, 60_000)
                if rc < 0 && errno != EINTR { break }
                if fds[0].revents != 0 { drain() }
                if access(cookieDir, F_OK) != 0 { break }
                if Date().timeIntervalSince(lastRequest) > idleSeconds { break }
                guard fds[1].revents & Int16(POLLIN) != 0 else { continue }
                let client = accept(listener, nil, nil)
                guard client >= 0 else { continue }
                defer { close(client) }
                lastRequest = Date()
                var tv = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var request: [UInt8] = []
                var byte: UInt8 = 0
                while request.count < 200, recv(client, &byte, 1, 0) == 1, byte != 0x0A { request.append(byte) }
                let words = String(decoding: request, as: UTF8.self).split(separator: " ").map(String.init)
                var reply: [UInt8]
                switch words.first {
                case "query" where words.count == 2:
                    switch answer(since: FSMonitorToken(words[1])) {
                    case .rescan(let t): reply = Array("rescan \(identity) \(t) 0\n".utf8)
                    case .broken(let t):
                        // It cannot see every change: the client walks, and (unless the file system is
                        // one no daemon could watch) the next client starts a fresh daemon.
                        reply = Array("broken \(identity) \(t) 0\n".utf8)
                        if !keepsRunningWhenBroken { finished = true }
                    case .changes(let paths, let t):
                        reply = Array("changes \(identity) \(t) \(paths.count)\n".utf8)
                        for p in paths { reply += p.bytes + [0] }
                    }
                case "status":
                    _ = sync()
                    let s = FileSystemMonitor.Status(
                        pid: getpid(), root: root, token: log.token.description, watchedFolders: folders.count,
                        changedPaths: log.changed.count, problem: log.broken)
                    reply = (try? JSONEncoder().encode(s)).map { Array($0) } ?? []
                case "stop":
                    reply = Array("stopping\n".utf8)
                    finished = true
                default:
                    reply = Array("error unknown request\n".utf8)
                }
                reply.withUnsafeBytes { b in
                    var off = 0
                    while off < b.count {
                        let n = send(client, b.baseAddress! + off, b.count - off, Int32(MSG_NOSIGNAL))
                        if n <= 0 { break }
                        off += n
                    }
                }
            }
            _ = started
        }
    }

    extension FileSystemMonitor {
        /// Runs the daemon for the tree at `root` in this process until it stops (see
        /// ``FSMonitorWatcher/serve(idleSeconds:)``). Returns at once when one runs already.
        /// - Parameter idleSeconds: how long it waits for a client before it exits.
        /// - Throws: `DVSError.io` when inotify or the socket cannot be set up.
        public static func run(root: String, idleSeconds: Double) throws {
            // The lock first, before the walk for the watches: meanwhile ``isRunning(root:)`` says
            // true, so clients start no other daemon.
            guard let lock = takeLock(root: root) else { return }
            defer { lock.release() }
            // Every path from here on is absolute: the daemon keeps no caller's folder busy.
            chdir("/")
            if let kind = networkFileSystem(root) {
                // inotify sees no change made from another machine: answer every client with a walk.
                let problem = "\(root) is on \(kind), where changes made from other machines are not seen"
                FileHandle.standardError.write(Data("dvs fsmonitor: \(problem); every scan walks the whole tree\n".utf8))
                let watcher = try FSMonitorWatcher(root: root, unwatchable: problem)
                watcher.keepsRunningWhenBroken = true
                try watcher.serve(idleSeconds: idleSeconds)
                return
            }
            let watcher = try FSMonitorWatcher(root: root)
            try watcher.serve(idleSeconds: idleSeconds)
        }
    }
#else
    extension FileSystemMonitor {
        /// No monitor on this platform: always nil.
        public static func changes(root: String, since: FSMonitorToken?) -> FSMonitorAnswer? { nil }
        /// No monitor on this platform: always nil.
        public static func status(root: String) -> Status? { nil }
        /// No monitor on this platform: always false.
        @discardableResult public static func stop(root: String) -> Bool { false }
        /// No monitor on this platform: always false.
        public static func isRunning(root: String) -> Bool { false }
        /// No monitor on this platform.
        /// - Throws: `DVSError.badInput` always.
        public static func run(root: String, idleSeconds: Double) throws {
            throw DVSError(.badInput, "the file-system monitor needs Linux (inotify)")
        }
    }
#endif
