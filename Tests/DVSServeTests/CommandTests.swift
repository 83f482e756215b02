import DVS
import DVSServe
import DVSTestSupport
import Foundation
import Testing

/// `dvs serve` end to end: dvs execs dvs-serve from its own folder, which prints its URL and serves.
@Suite("dvs serve command")
struct CommandTests {
    /// Starts `dvs serve ARGS` in the fixture repository, returns the URL it printed, and the process.
    static func start(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Process, String) {
        let made = try ServeFixture.made.get()
        let p = Process()
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.executableURL = URL(fileURLWithPath: TestSupport.dvsBinary)
        p.arguments = ["serve", "-C", made.root] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, try await printedURL(p, out))
    }

    /// The URL the started `dvs serve` `p` printed on its first line of `out`; `p` is
    /// terminated and `TestError` thrown when the line holds none.
    static func printedURL(_ p: Process, _ out: Pipe) async throws -> String {
        let handle = out.fileHandleForReading
        let line = try await Blocking.run { () -> String in
            var bytes = Data()
            while !bytes.contains(UInt8(ascii: "\n")) {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                bytes.append(chunk)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let r = line.range(of: "http://") else {
            p.terminate()
            throw TestError("dvs serve printed no URL: \(line)")
        }
        return String(line[r.lowerBound...].prefix { !$0.isWhitespace })
    }

    @Test func servesTheRepositoryAtThePrintedURL() async throws {
        let (p, url) = try await Self.start(["--port", "0"])
        defer {
            p.terminate()
            p.waitUntilExit()
        }
        #expect(url.hasPrefix("http://127.0.0.1:") && url.hasSuffix("/"))
        let html = try TestSupport.sh("curl -sf '\(url)'")
        #expect(html.contains("<h2>Branches</h2>") && html.contains(">main<"))
        let css = try TestSupport.sh("curl -sf -o /dev/null -w '%{http_code} %{content_type}' '\(url)static/app.css'")
        #expect(css == "200 text/css; charset=utf-8")
    }

    @Test func aGeneratedTokenIsPrintedAndRequired() async throws {
        let (p, url) = try await Self.start(["--port", "0", "--token", "generate"])
        defer {
            p.terminate()
            p.waitUntilExit()
        }
        let token = try #require(url.range(of: "?token=").map { String(url[$0.upperBound...]) })
        #expect(token.count == 48)
        let base = String(url.prefix { $0 != "?" })
        #expect(try TestSupport.sh("curl -s -o /dev/null -w '%{http_code}' '\(base)snapshot'") == "401")
        #expect(try TestSupport.sh("curl -s -o /dev/null -w '%{http_code}' '\(url)'") == "200")
        #expect(try TestSupport.sh("curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer \(token)' '\(base)snapshot'") == "200")
    }

    /// A token given on dvs's command line reaches dvs-serve in its environment: once dvs has
    /// exec'd it, the process's command line (readable by every local user) holds no token.
    @Test func aGivenTokenIsNotOnTheServersCommandLine() async throws {
        for (arguments, environment) in [(["--token", "tok-argv-1234"], [:]), ([], ["DVS_SERVE_TOKEN": "tok-argv-1234"])] {
            let (p, url) = try await Self.start(["--port", "0"] + arguments, environment: environment)
            defer {
                p.terminate()
                p.waitUntilExit()
            }
            #expect(url.hasSuffix("/?token=tok-argv-1234"))
            let cmdline = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(p.processIdentifier)/cmdline"))
            let words = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            #expect(words.first?.hasSuffix("dvs-serve") == true, "\(words)")
            #expect(!words.contains { $0.contains("tok-argv") }, "\(words)")
            let base = String(url.prefix { $0 != "?" })
            #expect(try TestSupport.sh("curl -s -o /dev/null -w '%{http_code}' '\(base)'") == "401")
            #expect(try TestSupport.sh("curl -s -o /dev/null -w '%{http_code}' '\(url)'") == "200")
        }
    }

    @Test func aPortInUseIsNamedWithWhatToDo() async throws {
        let (p, url) = try await Self.start(["--port", "0"])
        defer {
            p.terminate()
            p.waitUntilExit()
        }
        let port = try #require(url.split(separator: ":").last.map { String($0.prefix { $0.isNumber }) })
        let made = try ServeFixture.made.get()
        let r = try TestSupport.dvs(["serve", "--port", port], in: made.root)
        #expect(r.status == 1)
        #expect(
            r.stderr
                == "error: cannot serve on 127.0.0.1:\(port): the port is already in use\nhint: stop what listens there, or pick another port with --port N (--port 0: any free port)\n"
        )
    }

    /// `dvs serve` on a read-only mount of a repository that is written elsewhere (here the
    /// same folder through a writable path): the catalog is opened immutable there, and a purge
    /// made meanwhile shows on the next request, not the commit ids from before.
    @Test(.enabled(if: getuid() == 0 && TestSupport.canMakeReadOnly, "needs root and a private mount namespace"))
    func aServerOnAReadOnlyMountSeesAPurgeMadeElsewhere() async throws {
        let root = NSTemporaryDirectory() + "dvs-serve-ro-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/repo", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repo = root + "/repo"
        _ = try TestSupport.sh("sox -n -r 16000 -c 1 -b 16 '\(repo)/a.wav' synth 0.5 sine 440")
        _ = try TestSupport.sh("sox -n -r 16000 -c 1 -b 16 '\(repo)/maria_lopez.wav' synth 0.7 sine 330")
        #expect(try TestSupport.dvs(["init"], in: repo).status == 0)
        #expect(try TestSupport.dvs(["commit", "-m", "two clips"], in: repo).status == 0)
        let before = try TestSupport.sh("'\(TestSupport.dvsBinary)' log --oneline -n 1 | cut -c1-12", in: repo).trimmingCharacters(
            in: .whitespacesAndNewlines)
        // Gone, so that the read-only server must open the catalog immutable (any command
        // run on the writable side now would make them again).
        for suffix in ["-shm", "-wal"] { try? FileManager.default.removeItem(atPath: repo + "/.dvs/catalog.sqlite" + suffix) }

        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        p.arguments = [
            "-m", "/bin/sh", "-c",
            TestSupport.readOnlyMount(repo)
                + " && XDG_CACHE_HOME='\(root)/xdg' exec '\(TestSupport.dvsBinary)' serve -C '\(repo)' --port 0",
        ]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer {
            p.terminate()
            p.waitUntilExit()
        }
        let url = try await Self.printedURL(p, out)
        #expect(try TestSupport.sh("curl -sf '\(url)'").contains(before), "HEAD as it was")

        #expect(try TestSupport.dvs(["purge", "maria_lopez.wav", "--yes"], in: repo).status == 0)
        let after = try TestSupport.sh("'\(TestSupport.dvsBinary)' log --oneline -n 1 | cut -c1-12", in: repo).trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(after != before)
        let page = try TestSupport.sh("curl -sf '\(url)'")
        #expect(page.contains(after) && !page.contains(before), "the purge's new HEAD, not the old id")
        let snapshot = try TestSupport.sh("curl -sf '\(url)snapshot'")
        #expect(snapshot.contains("<b>1</b> sample") && !snapshot.contains("maria_lopez"), "one sample left")
    }

    @Test func anUnknownRevisionFailsBeforeServing() throws {
        let made = try ServeFixture.made.get()
        let r = try TestSupport.dvs(["serve", "--rev", "no-such-rev", "--port", "0"], in: made.root)
        #expect(r.status == 1)
        #expect(r.stderr.contains("no-such-rev"))
    }
}
