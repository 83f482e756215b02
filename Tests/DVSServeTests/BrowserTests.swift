import DVS
import DVSServe
import DVSTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The pages in a real browser: headless Chromium driven by selenium (browser_test.py) against a
/// live server on a free loopback port. Screenshots of each page go to
/// `.build/serve-screenshots/` (not in git): look at them.
@Suite("dvs serve in a browser")
struct BrowserTests {
    /// The venv python with selenium (scripts/install-deps.sh), else python3.
    static var python: String {
        let tools = ProcessInfo.processInfo.environment["DVS_TOOLS_DIR"] ?? (NSHomeDirectory() + "/.cache/dvs-tools")
        let venv = tools + "/venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/python3"
    }

    @Test func pagesWorkInChromium() async throws {
        let site = Site(repository: try ServeFixture.repository())
        let app = try ServeRoutes.application(site: site, configuration: ServeConfiguration(port: 0))
        let script = TestSupport.packageRoot + "/Tests/DVSServeTests/browser_test.py"
        let shots = TestSupport.packageRoot + "/.build/serve-screenshots"
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let python = Self.python
            let result = try await Blocking.run {
                try TestSupport.run(
                    python, [script, "http://127.0.0.1:\(port)", ServeFixture.transcribed, ServeFixture.relabeled, shots], in: nil)
            }
            #expect(
                result.status == 0,
                "browser_test.py failed (chromium, chromium-driver and selenium come from scripts/install-deps.sh):\n\(result.stdout)\n\(result.stderr)"
            )
            #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
        }
        for page in ["repository", "snapshot", "snapshot-filtered", "sample", "diff", "models"] {
            #expect(FileManager.default.fileExists(atPath: "\(shots)/\(page).png"), "screenshot of \(page)")
        }
    }
}

/// Runs blocking work off the cooperative pool.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in DispatchQueue.global().async { c.resume(with: Result { try work() }) } }
    }
}
