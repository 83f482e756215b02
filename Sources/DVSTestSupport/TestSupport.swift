import DVS
import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Helpers shared by the test targets: temporary folders and repositories, real audio made at
/// test time with sox and espeak-ng, Debian's recorded voices, and running the built `dvs`.
public enum TestSupport {
    /// The package root (found from this file's path).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The folder of generated test fixtures (`audio_edge/`, `dataset/`; read-only inputs), written by
    /// `Tests/Fixtures/make_fixtures.py` the first time a test process asks for it.
    ///
    /// The folder is `.build/test-fixtures/<SHA-256 of the script>` under the package root, so a
    /// changed script writes a new folder and an unchanged one is generated once per build folder.
    /// Test processes running in parallel each generate into their own temporary folder and rename
    /// it into place; the first rename wins and the others drop their copy (the bytes are the same).
    /// When generation fails, the reason is printed to standard error and the path is returned
    /// anyway, so the tests that read fixtures fail on the missing files.
    public static let fixtures: String = {
        let script = packageRoot + "/Tests/Fixtures/make_fixtures.py"
        let fm = FileManager.default
        guard let source = fm.contents(atPath: script) else {
            FileHandle.standardError.write(Data("TestSupport.fixtures: cannot read \(script)\n".utf8))
            return packageRoot + "/.build/test-fixtures/missing"
        }
        let parent = packageRoot + "/.build/test-fixtures"
        let folder = parent + "/" + ObjectID.hashing(source).hex
        if fm.fileExists(atPath: folder) { return folder }
        do {
            try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
            let staging = parent + "/.staging-\(getpid())-\(UUID().uuidString)"
            defer { try? fm.removeItem(atPath: staging) }
            let r = try run("python3", [script, staging])
            guard r.status == 0 else { throw TestError("make_fixtures.py failed (\(r.status)): \(r.stderr)") }
            if rename(staging, folder) != 0 && !fm.fileExists(atPath: folder) {
                throw TestError("cannot move \(staging) to \(folder): \(String(cString: strerror(errno)))")
            }
        } catch {
            FileHandle.standardError.write(Data("TestSupport.fixtures: \(error)\n".utf8))
        }
        return folder
    }()

    /// Whether a folder can be made read-only for a command here: always for a user other
    /// than root (permissions do it); for root, when a private mount namespace may bind a folder
    /// read-only (`unshare -m`; a container without CAP_SYS_ADMIN may not).
    public static let canMakeReadOnly: Bool = {
        guard getuid() == 0 else { return true }
        let dir = NSTemporaryDirectory() + "dvs-ro-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try? run("/usr/bin/unshare", ["-m", "/bin/sh", "-c", readOnlyMount(dir) + " && ! touch '\(dir)/x' 2>/dev/null"])
        return r?.status == 0
    }()

    /// The shell commands that bind `dir` over itself read-only, for a private mount namespace
    /// (`unshare -m /bin/sh -c "<this> && …"`).
    public static func readOnlyMount(_ dir: String) -> String {
        "mount --bind '\(dir)' '\(dir)' && mount -o remount,bind,ro '\(dir)'"
    }

    /// Runs `body` with a new empty folder that is removed afterwards.
    public static func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
        var template = Array("/tmp/dvs-test-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw TestError("mkdtemp failed") }
        let dir = String(cString: p)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try body(dir)
    }

    /// This test process as a ``ProcessContext``: its environment, arguments, host name, current
    /// directory and processor count (what the library read itself before it took a context).
    public static var processContext: ProcessContext { ProcessContext.current() }

    /// Runs `body` with a freshly initialised repository in a temporary folder, opened with
    /// ``processContext``.
    public static func withTemporaryRepository<T>(_ body: (Repository) throws -> T) throws -> T {
        // One folder down, so files a test keeps beside the repository (`root + "/../model.bin"`)
        // are its own and go with it, not shared in /tmp with tests running at the same time.
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/repo", withIntermediateDirectories: false)
            return try body(try Repository.initialize(at: dir + "/repo", context: processContext))
        }
    }

    /// The built `dvs` executable (next to the test bundle in `.build/<config>/`).
    public static var dvsBinary: String {
        if let p = ProcessInfo.processInfo.environment["DVS_BINARY"] { return p }
        let dir = Bundle.main.bundleURL.path
        for candidate in [dir + "/dvs", dir + "/../dvs", packageRoot + "/.build/debug/dvs"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        return packageRoot + "/.build/debug/dvs"
    }

    /// The outcome of a process.
    public struct Result: Sendable {
        /// Exit status (or 128+signal).
        public var status: Int32
        /// Standard output.
        public var stdout: String
        /// Standard error.
        public var stderr: String
        /// Raw standard output.
        public var stdoutData: Data
    }

    /// Runs a program to completion, capturing its output.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], in directory: String? = nil,
        environment: [String: String] = [:], stdin: Data? = nil
    ) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        p.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var env = ProcessInfo.processInfo.environment
        env["DVS_AUTHOR_NAME"] = env["DVS_AUTHOR_NAME"] ?? "Test Author"
        env["DVS_AUTHOR_EMAIL"] = env["DVS_AUTHOR_EMAIL"] ?? "test@example.com"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            let inp = Pipe()
            p.standardInput = inp
            try p.run()
            inp.fileHandleForWriting.write(stdin)
            try inp.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle.nullDevice
            try p.run()
        }
        let group = DispatchGroup()
        let o = Box()
        let e = Box()
        group.enter()
        DispatchQueue.global().async {
            o.data = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        e.data = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return Result(
            status: status, stdout: String(decoding: o.data, as: UTF8.self), stderr: String(decoding: e.data, as: UTF8.self),
            stdoutData: o.data)
    }

    private final class Box: @unchecked Sendable { var data = Data() }

    /// Runs the built `dvs` with `arguments` in `directory`.
    @discardableResult
    public static func dvs(_ arguments: [String], in directory: String, environment: [String: String] = [:]) throws -> Result {
        try run(dvsBinary, arguments, in: directory, environment: environment)
    }

    /// Runs a shell command line; throws when it fails.
    @discardableResult
    public static func sh(_ command: String, in directory: String? = nil) throws -> String {
        let r = try run("/bin/sh", ["-c", command], in: directory)
        guard r.status == 0 else { throw TestError("'\(command)' failed (\(r.status)): \(r.stderr)") }
        return r.stdout
    }

    /// Speaks `text` with espeak-ng and converts it with sox to a WAV at `sampleRate` Hz,
    /// `channels` channels, with sox's `encoding` (`signed-integer` 16-bit, `mu-law` 8-bit, …).
    public static func speak(
        _ text: String, to path: String, sampleRate: Int = 16000, channels: Int = 1,
        encoding: String = "signed-integer", bits: Int = 16, voice: String = "en"
    ) throws {
        let tmp = path + ".espeak.wav"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try sh("espeak-ng -v \(voice) -w '\(tmp)' \"\(text.replacingOccurrences(of: "\"", with: ""))\"")
        try sh("sox -R '\(tmp)' -r \(sampleRate) -c \(channels) -e \(encoding) -b \(bits) '\(path)'")
        try FileManager.default.removeItem(atPath: tmp)
    }

    /// Recorded human voices that Debian ships (alsa-utils, ktuberling-data): up to `limit` paths.
    public static func debianRecordings(limit: Int = 20) -> [String] {
        var out: [String] = []
        let fm = FileManager.default
        for f in ((try? fm.contentsOfDirectory(atPath: "/usr/share/sounds/alsa")) ?? []).sorted()
        where f.hasSuffix(".wav") && f != "Noise.wav" {
            out.append("/usr/share/sounds/alsa/" + f)
        }
        for lang in ["en", "de", "fr", "es"] {
            let dir = "/usr/share/ktuberling/sounds/" + lang
            for f in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted().prefix(5) where f.hasSuffix(".ogg") || f.hasSuffix(".wav")
            {
                out.append(dir + "/" + f)
            }
        }
        return Array(out.prefix(limit))
    }

    /// Reads a whole file.
    public static func read(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Writes a whole file, creating its folder.
    public static func write(_ data: Data, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Whether two folder trees are byte-identical (`diff -r`, symlinks compared as links), ignoring `.dvs`.
    public static func treesEqual(_ a: String, _ b: String) throws -> (Bool, String) {
        let r = try run("/usr/bin/diff", ["-r", "--no-dereference", "--exclude=.dvs", a, b])
        return (r.status == 0, r.stdout + r.stderr)
    }
}

/// A test setup failure.
public struct TestError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates an error.
    public init(_ d: String) { description = d }
}
