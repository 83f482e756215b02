import DVSTestSupport
import Foundation
import Testing

@testable import DVS
@testable import DVSCatalog

/// `.dvs/config`, the copy of the catalog's settings that `dvs reindex` restores from.
@Suite struct SettingsFileTests {
    /// Every transaction that changes a setting rewrites the copy, sorted, after its commit; a
    /// transaction that changes none leaves it alone; removed settings leave it.
    @Test func theCopyFollowsEveryChangeOfASetting() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let catalog = try Catalog.create(at: dir + "/catalog.sqlite")
            let file = SettingsFile(besideCatalog: dir + "/catalog.sqlite")
            #expect(file.path == dir + "/config")
            try catalog.write { tx in
                try tx.setConfig("zstd.level", "3")
                try tx.setConfig("pack.audio-codec", "lpc")
            }
            #expect(file.read().map { "\($0)=\($1)" } == ["pack.audio-codec=lpc", "zstd.level=3"])
            let text = try String(contentsOfFile: file.path, encoding: .utf8)
            #expect(text.hasPrefix("# A copy of this repository's settings"))
            #expect(text.hasSuffix("\npack.audio-codec=lpc\nzstd.level=3\n"))

            try catalog.write { tx in try tx.setConfig("zstd.level", nil) }
            #expect(file.read().map { "\($0)=\($1)" } == ["pack.audio-codec=lpc"])

            // Nothing about settings: the file is not touched (its time stays).
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1000)], ofItemAtPath: file.path)
            try catalog.write { tx in try tx.clearBlobIndex() }
            let attrs = try FileManager.default.attributesOfItem(atPath: file.path)
            #expect((attrs[.modificationDate] as? Date) == Date(timeIntervalSince1970: 1000))

            // A failed transaction changes neither the table nor the copy.
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try catalog.write { tx in
                    try tx.setConfig("pack.audio-codec", "predictive")
                    throw Stop()
                }
            }
            #expect(try catalog.config("pack.audio-codec") == "lpc")
            #expect(file.read().map { "\($0)=\($1)" } == ["pack.audio-codec=lpc"])
        }
    }

    /// A repository whose settings last changed before dvs kept the copy gets one from the next
    /// command that takes the lock; reindex writes it whole again.
    @Test func aRepositoryWithoutTheCopyGetsOne() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let repo = try Repository.initialize(at: dir, context: TestSupport.processContext)
            try repo.setConfig("pack.auto-repack", "false")
            let copy = dir + "/.dvs/config"
            let written = try String(contentsOfFile: copy, encoding: .utf8)
            #expect(written.hasSuffix("\ncore.format=1\npack.auto-repack=false\n"))
            unlink(copy)
            let lock = try repo.lock("test")
            lock.release()
            #expect(try String(contentsOfFile: copy, encoding: .utf8) == written)
            #expect(try repo.fsck().notes.isEmpty)
            try Data("# stale\n".utf8).write(to: URL(fileURLWithPath: copy))
            // fsck says the copy is behind (it said nothing), and reindex mends it.
            let notes = try repo.fsck().notes
            #expect(notes.count == 1 && notes[0].hasPrefix(".dvs/config, the copy of the settings"), "\(notes)")
            _ = try repo.reindex()
            #expect(try String(contentsOfFile: copy, encoding: .utf8) == written)
            #expect(try repo.fsck().notes.isEmpty)
        }
    }

    /// Backslashes, line feeds and `=` in values come back as they were.
    @Test func valuesComeBackExactly() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let file = SettingsFile(besideCatalog: dir + "/catalog.sqlite")
            // A carriage return before a line feed: as one Character, "\r\n" once joined the
            // next setting to this one (a review found the remote's URL lost that way).
            let settings = [
                ("a.key", "x=y"), ("b.key", "back\\slash\nand a line\\n"), ("c.key", ""), ("d.region", "us-east-1\r"),
                ("e.url", "s3://bucket/voice"), ("f.crlf", "one\r\ntwo"),
            ]
            try file.replace(with: settings)
            #expect(file.read().map { "\($0)|\($1)" } == settings.map { "\($0)|\($1)" })
            #expect(try String(contentsOfFile: file.path, encoding: .utf8).contains("d.region=us-east-1\\r\ne.url="))

            // A URL with credentials in it (an older dvs could store such an endpoint) is copied
            // without them, so a remote restored from it is refused when opened, as it is now.
            try file.replace(with: [
                ("remote.o.endpoint", "http://AKIAEXAMPLE:wJalrSECRET@minio:9000/x?y=a@b"), ("remote.o.url", "s3://b/p"),
                ("remote.p.endpoint", "http://minio:9000/?x=a@b"),
            ])
            #expect(
                file.read().map { "\($0)=\($1)" } == [
                    "remote.o.endpoint=http://[redacted]@minio:9000/x?y=a@b", "remote.o.url=s3://b/p",
                    "remote.p.endpoint=http://minio:9000/?x=a@b",
                ])
            #expect(try !String(contentsOfFile: file.path, encoding: .utf8).contains("SECRET"))
            // A secret holding '/', '?' or '#' (AWS secret keys often hold '/') ends the
            // authority by RFC 3986; it is redacted all the same, up to the last '@'. A port is
            // not taken for a password.
            try file.replace(with: [
                ("remote.a.endpoint", "https://AKIAEXAMPLE:wJalr/K7MDENG/SECRET@s3.example.com/x"),
                ("remote.b.endpoint", "http://AKIAEXAMPLE:ab?SECRET@minio:9000"),
                ("remote.c.endpoint", "http://AKIAEXAMPLE:ab#SECRET@minio:9000/"),
                ("remote.d.endpoint", "http://minio:9000/x@y"), ("remote.e.endpoint", "https://AKIAEXAMPLE:/wJalrSECRET@s3.example.com"),
            ])
            #expect(
                file.read().map { "\($0)=\($1)" } == [
                    "remote.a.endpoint=https://[redacted]@s3.example.com/x", "remote.b.endpoint=http://[redacted]@minio:9000",
                    "remote.c.endpoint=http://[redacted]@minio:9000/", "remote.d.endpoint=http://minio:9000/x@y",
                    "remote.e.endpoint=https://[redacted]@s3.example.com",
                ])
            #expect(try !String(contentsOfFile: file.path, encoding: .utf8).contains("SECRET"))
            // A writer killed before its rename left a temp file: the next one removes it.
            try Data("half".utf8).write(to: URL(fileURLWithPath: file.path + ".tmp-99999"))
            try file.replace(with: [("x.y", "1")])
            #expect(!FileManager.default.fileExists(atPath: file.path + ".tmp-99999"))
            #expect(SettingsFile(besideCatalog: dir + "/nothing/catalog.sqlite").read().isEmpty)
        }
    }
}
