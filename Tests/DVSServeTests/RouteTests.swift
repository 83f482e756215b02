import DVS
import DVSAudio
import DVSCore
import DVSTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import DVSServe

/// Request-level tests of every route: status, content type, range requests, traversal
/// attempts, the token, concurrency (Hummingbird's router test client, no socket).
@Suite("dvs serve routes")
struct RouteTests {
    static func app(token: String? = nil, sqlTimeLimit: Double = 5) throws -> some ApplicationProtocol {
        let site = Site(repository: try ServeFixture.repository(), sqlTimeLimit: sqlTimeLimit)
        return try ServeRoutes.application(site: site, configuration: ServeConfiguration(port: 0, token: token))
    }

    static func text(_ r: TestResponse) -> String { String(buffer: r.body) }

    static func url(_ path: String, _ items: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return path + "?" + items.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
    }

    @Test func repositoryPageListsBranchesTagsAndCommits() async throws {
        let made = try ServeFixture.made.get()
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "text/html; charset=utf-8")
                let html = Self.text(r)
                #expect(html.contains("id=\"branchs\"") && html.contains(">main<") && html.contains(">review<"))
                #expect(html.contains(">v1<"))
                #expect(html.contains(">customers<") && html.contains("label = &#39;customer&#39;"), "the cohort and its predicate")
                try #require(html.contains("id=\"cohorts\""))
                #expect(html.contains(made.first.short) && html.contains(made.second.short))
                #expect(html.contains("relabel ana_0001"))
            }
        }
    }

    @Test func snapshotPageListsPagesSortsAndFilters() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/snapshot", method: .get) { r in
                #expect(r.status == .ok)
                let html = Self.text(r)
                #expect(html.contains("<b>9</b> samples"), "8 clips and the μ-law clip; the symlink is no sample")
                #expect(html.contains(ServeFixture.relabeled) && html.contains(ServeFixture.mulaw))
                #expect(html.contains("Duration distribution") && html.contains("<svg"))
            }
            try await client.execute(uri: Self.url("/snapshot", [("where", "label = 'customer'"), ("rev", "v1")]), method: .get) { r in
                let html = Self.text(r)
                #expect(!html.contains(">\(ServeFixture.relabeled)<"), "ana_0001 is an agent in v1")
            }
            try await client.execute(uri: Self.url("/snapshot", [("where", "label = 'customer'")]), method: .get) { r in
                #expect(Self.text(r).contains(">\(ServeFixture.relabeled)<"), "ana_0001 is a customer on main")
            }
            try await client.execute(uri: Self.url("/snapshot", [("sort", "duration_s"), ("order", "desc")]), method: .get) { r in
                let html = Self.text(r)
                let first = html.range(of: "class=\"sample\"").map { html[$0.upperBound...].prefix(200) } ?? ""
                #expect(first.contains("call_0002_stereo") || first.contains("call_0001_mono"), "the longest first: \(first)")
                #expect(html.contains("duration_s ▼"))
            }
        }
    }

    @Test func sqlFilterErrorsShowTheirHintAndTheTimeLimitStopsRunawayStatements() async throws {
        try await Self.app(sqlTimeLimit: 0.3).test(.router) { client in
            try await client.execute(uri: Self.url("/snapshot", [("where", "no_such_column > 1")]), method: .get) { r in
                #expect(r.status == .badRequest, "a failing filter is the request's fault, not a page that worked")
                let html = Self.text(r)
                #expect(html.contains("SQL error") && html.contains("no such column"))
                #expect(html.contains("class=\"hint\""))
                #expect(html.contains("id=\"where\""), "the form stays, to correct the filter")
            }
            try await client.execute(uri: Self.url("/snapshot", [("where", "1) OR (1")]), method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(Self.text(r).contains("is not one SQL expression"))
            }
            let start = Date()
            let endless = "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c) > 0"
            try await client.execute(uri: Self.url("/snapshot", [("where", endless)]), method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(Self.text(r).contains("time limit of 0.3 s"))
            }
            // The statement never ends by itself; the whole test suite may be loading both cores.
            #expect(Date().timeIntervalSince(start) < 60)
        }
    }

    @Test func samplePageShowsPlayerWaveformLabelsWordsHistory() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: Self.url("/sample", [("path", ServeFixture.transcribed)]), method: .get) { r in
                #expect(r.status == .ok)
                let html = Self.text(r)
                #expect(html.contains("<audio id=\"player\""))
                #expect(html.contains("class=\"wave\""))
                #expect(html.contains("class=\"spectrogram\""))
                #expect(html.contains("class=\"w\"") && html.contains("data-start="), "Deepgram words, clickable")
                #expect(html.contains("hsl("), "coloured by confidence")
                #expect(html.contains("id=\"history\"") && html.contains("added"))
                #expect(html.contains("id=\"trained\"") && html.contains(">tiny<") && html.contains(">large<"), "models trained on it")
                #expect(html.contains("id=\"evaluated\""), "models evaluated on it")
            }
            try await client.execute(uri: Self.url("/sample", [("path", ServeFixture.relabeled)]), method: .get) { r in
                let html = Self.text(r)
                #expect(html.contains("labels: label: agent → customer"), "the relabel commit, field by field")
                #expect(html.contains("customer"))
            }
            try await client.execute(uri: Self.url("/sample", [("path", ServeFixture.mulaw)]), method: .get) { r in
                #expect(Self.text(r).contains("as=wav"), "μ-law is played through the WAV transcoding")
            }
        }
    }

    @Test func audioServesOriginalBytesWithRanges() async throws {
        let made = try ServeFixture.made.get()
        let bytes = try TestSupport.read(made.root + "/" + ServeFixture.relabeled)
        let uri = Self.url("/audio", [("path", ServeFixture.relabeled)])
        try await Self.app().test(.router) { client in
            try await client.execute(uri: uri, method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "audio/wav")
                #expect(r.headers[.acceptRanges] == "bytes")
                #expect(Data(buffer: r.body) == bytes)
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=0-99"]) { r in
                #expect(r.status == .partialContent)
                #expect(r.headers[.contentRange] == "bytes 0-99/\(bytes.count)")
                #expect(Data(buffer: r.body) == bytes.prefix(100))
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=100-"]) { r in
                #expect(r.status == .partialContent)
                #expect(Data(buffer: r.body) == bytes.dropFirst(100))
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=-10"]) { r in
                #expect(r.status == .partialContent)
                #expect(Data(buffer: r.body) == bytes.suffix(10))
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=\(bytes.count)-"]) { r in
                #expect(r.status == .rangeNotSatisfiable)
                #expect(r.headers[.contentRange] == "bytes */\(bytes.count)")
            }
            try await client.execute(uri: uri, method: .head) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentLength] == String(bytes.count))
                #expect(r.body.readableBytes == 0)
            }
        }
    }

    @Test func muLawIsTranscodedToPCMWAV() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: Self.url("/audio", [("path", ServeFixture.mulaw), ("as", "wav")]), method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "audio/wav")
                let b = [UInt8](Data(buffer: r.body))
                #expect(b.count > 44 && Array(b[0..<4]) == Array("RIFF".utf8) && Array(b[8..<12]) == Array("WAVE".utf8))
                #expect(b[20] == 1 && b[34] == 16, "format 1 (PCM), 16 bits")
                #expect(Int(b[24]) | Int(b[25]) << 8 == 8000, "sample rate kept")
                let decoded = try b.withUnsafeBytes { try AudioDecoder.decode($0) }
                #expect(decoded.frameCount == 800, "0.1 s at 8 kHz")
            }
            try await client.execute(
                uri: Self.url("/audio", [("path", ServeFixture.mulaw), ("as", "wav")]), method: .get, headers: [.range: "bytes=0-43"]
            ) { r in
                #expect(r.status == .partialContent)
                #expect(r.body.readableBytes == 44)
            }
        }
    }

    @Test func anAudioFormatOtherThanWAVIsRefused() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: Self.url("/audio", [("path", ServeFixture.mulaw), ("as", "mp3")]), method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(r.headers[.contentType] == "text/html; charset=utf-8", "an error page, not audio bytes")
                let html = Self.text(r)
                #expect(html.contains("cannot serve the audio as &#39;mp3&#39;"))
                #expect(html.contains("as=wav"))
            }
        }
    }

    @Test func recordValuesShowShortListsWhole() {
        #expect(Site.show(.array([.number(0.91), .number(0.875)])) == "[0.91, 0.875]", "was [2]: the count, not the values")
        #expect(Site.show(.object(["en": .number(0.8), "de": .string("<b>")])) == "{de: &lt;b&gt;, en: 0.8}")
        #expect(Site.show(.array(Array(repeating: .number(1), count: 9))) == "9 values")
        #expect(Site.show(.object(["a": .array([])])) == "1 field")
        #expect(Site.show(nil) == "" && Site.show(.bool(true)) == "true")
    }

    @Test func spectrogramIsABitmap() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: Self.url("/spectrogram", [("path", ServeFixture.transcribed), ("channel", "0")]), method: .get) {
                r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "image/bmp")
                let b = [UInt8](Data(buffer: r.body))
                #expect(b.count > 54 && b[0] == 0x42 && b[1] == 0x4D)
                #expect(Int(b[22]) | Int(b[23]) << 8 == 257, "512-sample windows: 257 bins")
            }
            try await client.execute(uri: Self.url("/spectrogram", [("path", ServeFixture.transcribed), ("channel", "7")]), method: .get) {
                r in
                #expect(r.status == .notFound)
            }
        }
    }

    @Test func diffPageShowsTheRelabel() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/diff?a=v1&b=main", method: .get) { r in
                #expect(r.status == .ok)
                let html = Self.text(r)
                #expect(html.contains("id=\"relabeled\""))
                #expect(html.contains(ServeFixture.relabeled))
                #expect(html.contains("<span class=old>agent</span> → <span class=new>customer</span>"))
                #expect(html.contains("1 relabeled"))
            }
            try await client.execute(uri: "/diff", method: .get) { r in
                #expect(r.status == .ok, "default: HEAD's parent against HEAD")
                #expect(Self.text(r).contains("1 relabeled"))
            }
            // A revision past the root is a mistake in the URL, not damage: no fsck hint.
            try await client.execute(uri: "/diff?a=HEAD~40&b=main", method: .get) { r in
                #expect(r.status == .notFound)
                let html = Self.text(r)
                #expect(html.contains("HEAD~40") && html.contains("the repository page, /, shows the history") && !html.contains("fsck"))
            }
        }
    }

    /// Sample links name the snapshot's commit, so a page opened from them does not move when
    /// the branch does; short totals read in seconds.
    @Test func sampleLinksNameTheCommitAndShortDurationsReadInSeconds() async throws {
        let head = try ServeFixture.repository().resolve(Revision("HEAD"))
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/snapshot", method: .get) { r in
                let html = Self.text(r)
                #expect(html.contains("/sample?rev=\(head.hex)&amp;path="), "links carry the commit id")
                #expect(!html.contains("/sample?rev=HEAD&amp;"))
            }
        }
        #expect(HTML.hours(2.3 / 3600) == "2.3 s")
        #expect(HTML.hours(0.5) == "30.0 min")
        #expect(HTML.hours(1.25) == "1.25 h")
    }

    @Test func modelsAndStaticFiles() async throws {
        try await Self.app().test(.router) { client in
            try await client.execute(uri: "/models", method: .get) { r in
                #expect(r.status == .ok)
                let html = Self.text(r)
                #expect(html.contains("id=\"comparison\"") && html.contains("<svg"), "the accuracy/real-time factor chart")
                #expect(html.contains(">tiny <") && html.contains(">large <"))
                #expect(html.contains("test model tiny") && html.contains("accuracy"))
            }
            try await client.execute(uri: "/static/app.css", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "text/css; charset=utf-8")
            }
            try await client.execute(uri: "/static/app.js", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "text/javascript; charset=utf-8")
                #expect(Self.text(r).contains("currentTime"))
            }
            for uri in ["/favicon.svg", "/favicon.ico"] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok, "a browser asks for /favicon.ico whatever the page links")
                    #expect(r.headers[.contentType] == "image/svg+xml")
                    #expect(Self.text(r).hasPrefix("<svg") && Self.text(r).hasSuffix("</svg>"))
                }
            }
            try await client.execute(uri: "/", method: .get) { r in
                #expect(Self.text(r).contains("<link rel=\"icon\" href=\"/favicon.svg\""))
            }
        }
    }

    @Test func nothingOutsideTheRepositoryCanBeRead() async throws {
        let attempts = [
            "/static/../../../../etc/passwd", "/static/..%2f..%2f..%2fetc%2fpasswd", "/%2e%2e/%2e%2e/etc/passwd",
            Self.url("/audio", [("path", "../../../../etc/passwd")]), Self.url("/audio", [("path", "/etc/passwd")]),
            "/audio?path=..%2f..%2f..%2f..%2fetc%2fpasswd", "/audio?path=%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            Self.url("/audio", [("path", "secret.wav")]), Self.url("/sample", [("path", "secret.wav")]),
            Self.url("/audio", [("path", ".dvs/catalog.sqlite")]), Self.url("/audio", [("path", "metadata.csv")]),
            Self.url("/snapshot", [("rev", "../../etc")]),
        ]
        try await Self.app().test(.router) { client in
            for uri in attempts {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .notFound || r.status == .badRequest, "\(uri): \(r.status)")
                    #expect(!Self.text(r).contains("root:x:0"), "\(uri) must not show /etc/passwd")
                }
            }
            try await client.execute(uri: "/", method: .post) { r in #expect(r.status == .methodNotAllowed) }
            try await client.execute(uri: "/snapshot?rev=no-such-branch", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test func tokenIsCheckedOnEveryRequest() async throws {
        try await Self.app(token: "s3cret").test(.router) { client in
            for uri in ["/", "/snapshot", Self.url("/audio", [("path", ServeFixture.relabeled)]), "/static/app.css"] {
                try await client.execute(uri: uri, method: .get) { r in #expect(r.status == .unauthorized, "\(uri)") }
            }
            try await client.execute(uri: "/?token=wrong", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/?token=s3cret", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.setCookie]?.hasPrefix("dvs-token=s3cret;") == true)
            }
            try await client.execute(uri: "/snapshot", method: .get, headers: [.cookie: "a=b; dvs-token=s3cret"]) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/snapshot", method: .get, headers: [.authorization: "Bearer s3cret"]) { r in
                #expect(r.status == .ok)
            }
        }
        #expect(throws: ServeError.self) {
            _ = try ServeRoutes.application(
                site: Site(repository: try ServeFixture.repository()), configuration: ServeConfiguration(host: "0.0.0.0", port: 0))
        }
        #expect(ServeConfiguration.generateToken().count == 48)
    }

    /// Only loopback literals and `localhost` pass without a token: a DNS name that starts with
    /// `127.` can be pointed at this machine by a hostile page (DNS rebinding).
    @Test func loopbackMeansLoopbackAddressesNotNamesThatLookLikeThem() {
        for host in ["127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "::1", "[::1]"] {
            #expect(ServeConfiguration.isLoopback(host), "\(host)")
        }
        for host in [
            "127.evil.example", "127.0.0.1.nip.io", "127.0.0", "127.0.0.256", "127.0.0.-1", "127..0.1", "1270.0.0.1", "0.0.0.0",
            "localhost.example", "128.0.0.1",
        ] {
            #expect(!ServeConfiguration.isLoopback(host), "\(host)")
        }
        #expect(throws: ServeError.self) {
            _ = try ServeRoutes.application(
                site: Site(repository: try ServeFixture.repository()), configuration: ServeConfiguration(host: "127.evil.example", port: 0))
        }
    }

    @Test func manyConcurrentRequests() async throws {
        try await Self.app().test(.router) { client in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<48 {
                    let uri =
                        i % 3 == 0
                        ? "/snapshot"
                        : i % 3 == 1
                            ? Self.url("/sample", [("path", ServeFixture.relabeled)]) : Self.url("/audio", [("path", ServeFixture.mulaw)])
                    group.addTask { try await client.execute(uri: uri, method: .get) { $0.status == .ok } }
                }
                for try await ok in group { #expect(ok) }
            }
        }
    }
}

/// A sample's history on its page follows a rename and names each changed label field.
@Suite("sample history")
struct SampleHistoryTests {
    /// Runs `body` with a new repository (in a folder named after `name`, removed afterwards)
    /// whose tree holds `calls/maria_lopez.wav`, a real clip, and nothing committed yet.
    func withRepository(_ name: String, _ body: (Repository, String) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "dvs-serve-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/calls", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try TestSupport.sh("cp '\(TestSupport.fixtures)/dataset/clips/ana_0001.wav' '\(root)/calls/maria_lopez.wav'")
        var context = TestSupport.processContext
        context.environment["DVS_AUTHOR_NAME"] = "Serve Test"
        context.environment["DVS_AUTHOR_EMAIL"] = "serve@example.com"
        try body(try Repository.initialize(at: root, context: context), root)
    }

    @Test func historyFollowsARenameAndShowsFieldChanges() throws {
        try withRepository("history") { repo, root in
            try TestSupport.sh("cp '\(TestSupport.fixtures)/dataset/clips/ben_0001.wav' '\(root)/calls/other.wav'")
            func labels(_ name: String, _ label: String) throws {
                try "file_name,label\n\(name),\(label)\nother.wav,agent\n".write(
                    toFile: root + "/calls/metadata.csv", atomically: true, encoding: .utf8)
            }
            try labels("maria_lopez.wav", "agent")
            _ = try repo.commit(CommitOptions(message: "first"))
            try labels("maria_lopez.wav", "customer")
            _ = try repo.commit(CommitOptions(message: "relabel"))
            try FileManager.default.moveItem(atPath: root + "/calls/maria_lopez.wav", toPath: root + "/calls/spk_0042.wav")
            try labels("spk_0042.wav", "customer")
            let head = try repo.commit(CommitOptions(message: "no names in paths")).id
            let html = try Site(repository: repo).historySection(head, RepoPath("calls/spk_0042.wav"))
            let cells = html.components(separatedBy: "<td>").dropFirst().map { String($0.prefix { $0 != "<" }) }
            #expect(
                cells == [
                    "renamed from calls/maria_lopez.wav", "no names in paths", "labels: label: agent → customer", "relabel", "added",
                    "first",
                ], "\(cells)")
        }
    }
}

/// A rename made on a branch and merged is followed on that branch, not reported as a removal.
extension SampleHistoryTests {
    @Test func aRenameOnAMergedBranchIsFollowedThere() throws {
        try withRepository("history-merge") { repo, root in
            _ = try repo.commit(CommitOptions(message: "first"))
            try repo.createBranch("side")
            _ = try repo.checkout("side")
            try FileManager.default.moveItem(atPath: root + "/calls/maria_lopez.wav", toPath: root + "/calls/spk_0042.wav")
            _ = try repo.commit(CommitOptions(message: "rename on side"))
            _ = try repo.checkout("main")
            try Data("notes\n".utf8).write(to: URL(fileURLWithPath: root + "/README.md"))
            _ = try repo.commit(CommitOptions(message: "notes on main"))
            _ = try repo.merge("side")
            let head = try repo.resolve("HEAD")
            #expect(try repo.commit(head).parents.count == 2, "a merge commit")
            let html = try Site(repository: repo).historySection(head, RepoPath("calls/spk_0042.wav"))
            let cells = html.components(separatedBy: "<td>").dropFirst().map { String($0.prefix { $0 != "<" }) }
            #expect(!cells.contains("removed"), "the side branch's rename commit is read under the new name: \(cells)")
            #expect(cells.filter { $0 == "renamed from calls/maria_lopez.wav" }.count == 2, "the merge and the side commit: \(cells)")
            #expect(cells.contains("rename on side") && cells.contains("added"), "\(cells)")
        }
    }
}

/// The cap on request threads: never more than the slots at once, and every request served.
@Suite("request threads")
struct ThreadSlotTests {
    final class Gauge: @unchecked Sendable {
        let lock = NSLock()
        var now = 0
        var most = 0
        func enter() {
            lock.lock()
            now += 1
            most = max(most, now)
            lock.unlock()
        }
        func leave() {
            lock.lock()
            now -= 1
            lock.unlock()
        }
    }

    @Test func atMostTheSlotsRunAtOnceAndEveryRequestIsServed() async throws {
        let slots = ThreadSlots(3)
        let gauge = Gauge()
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<20 {
                group.addTask {
                    try await DVSServe.Blocking.run(in: slots) {
                        gauge.enter()
                        usleep(50_000)
                        gauge.leave()
                        return i
                    }
                }
            }
            var all: [Int] = []
            for try await r in group { all.append(r) }
            return all.sorted()
        }
        #expect(results == Array(0..<20))
        #expect(gauge.most <= 3, "20 requests on 3 slots: never more than 3 at once")
        #expect(gauge.most >= 2, "and they do run side by side (50 ms each)")
        #expect(DVSServe.Blocking.limit == 64)
    }
}
