import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import DVSRemote

/// A `moto_server` (moto's stand-alone AWS mock) on a free loopback port, for one test.
///
/// Started with `moto_server -H 127.0.0.1 -p <port>`, polled until it answers, and stopped with
/// SIGKILL of its pid (test-runner children ignore SIGTERM). When moto is not installed the
/// start fails with the pip command to install it; the S3 tests are never skipped silently.
final class MotoServer {
    static let installHint = "moto_server not found on PATH: install it with pip install 'moto[s3,server]' flask flask-cors"

    let process = Process()
    let port: Int
    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Any key works while moto does not enforce auth.
    static let anyCredentials = AWSCredentials(accessKeyID: "AKIATESTMOTO0000", secretAccessKey: "motoSecret")

    /// Starts a server.
    /// - Parameter serialized: handle one request at a time. moto's threaded server checks
    ///   `If-Match`/`If-None-Match` and then writes without a lock, so two racing conditional PUTs
    ///   can both succeed; real S3 makes them atomic (one gets 412 or 409). The race test runs moto
    ///   with werkzeug's `threaded=False` (same `moto.server.main`, through the Python that has moto)
    ///   to get S3's guarantee.
    init(environment extra: [String: String] = [:], serialized: Bool = false) throws {
        guard let exe = Self.findExecutable("moto_server") else {
            throw RemoteError(.io, Self.installHint)
        }
        port = try Self.freePort()
        let besideMoto = (exe as NSString).deletingLastPathComponent + "/python3"
        if serialized, let python = access(besideMoto, X_OK) == 0 ? besideMoto : Self.findExecutable("python3") {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = ["-c", """
                import moto.server as m
                run = m.run_simple
                m.run_simple = lambda *a, **k: run(*a, **{**k, "threaded": False})
                m.main(["-H", "127.0.0.1", "-p", "\(port)"])
                """]
        } else {
            process.executableURL = URL(fileURLWithPath: exe)
            process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !Self.answers(port: port) {
            guard process.isRunning else { throw RemoteError(.io, "moto_server exited at start (status \(process.terminationStatus))") }
            guard Date() < deadline else { stop(); throw RemoteError(.timeout, "moto_server did not answer on port \(port) within 30 s") }
            usleep(100_000)
        }
    }

    /// SIGKILLs the server and reaps it.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    /// Runs `body` with a fresh server, always killing it afterwards.
    static func with<T>(environment: [String: String] = [:], serialized: Bool = false, _ body: (MotoServer) throws -> T) throws -> T {
        let server = try MotoServer(environment: environment, serialized: serialized)
        defer { server.stop() }
        return try body(server)
    }

    /// A client on this server for `bucket`.
    func client(bucket: String, credentials: AWSCredentials = MotoServer.anyCredentials,
                policy: TransferPolicy = TransferPolicy(maxAttempts: 3, initialBackoff: 0.05, stallTimeout: 30)) -> S3Client {
        S3Client(bucket: bucket, region: "us-east-1", endpoint: endpoint, addressing: .path, credentials: credentials, policy: policy)
    }

    /// Looks on PATH, then in the virtualenv `scripts/install-deps.sh` makes
    /// (`$DVS_TOOLS_DIR/venv/bin`, default `~/.cache/dvs-tools/venv/bin`).
    static func findExecutable(_ name: String) -> String? {
        let env = ProcessInfo.processInfo.environment
        let tools = env["DVS_TOOLS_DIR"] ?? ((env["HOME"] ?? "/root") + "/.cache/dvs-tools")
        let path = (env["PATH"] ?? "/usr/bin:/bin") + ":" + tools + "/venv/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    /// A TCP port the kernel says is free right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw RemoteError(.io, "cannot find a free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Whether something accepts TCP connections on the port.
    static func answers(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
