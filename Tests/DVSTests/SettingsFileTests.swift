import DVSTestSupport
import Foundation
import Testing

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

    /// Backslashes, line feeds and `=` in values come back as they were.
    @Test func valuesComeBackExactly() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let file = SettingsFile(besideCatalog: dir + "/catalog.sqlite")
            let settings = [("a.key", "x=y"), ("b.key", "back\\slash\nand a line\\n"), ("c.key", "")]
            try file.replace(with: settings)
            #expect(file.read().map { "\($0)|\($1)" } == settings.map { "\($0)|\($1)" })
            #expect(SettingsFile(besideCatalog: dir + "/nothing/catalog.sqlite").read().isEmpty)
        }
    }
}
