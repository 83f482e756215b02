import DVSTestSupport
import Foundation
import Testing

/// How the CLI reports a catalog it cannot use.
@Suite(.serialized) struct CatalogCLITests {
    @Test func aCorruptCatalogIsAUserFacingErrorWithAHint() throws {
        try T.withTemporaryDirectory { dir in
            #expect(try dvs("init", in: dir).status == 0)
            let catalog = dir + "/.dvs/catalog.sqlite"
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catalog + suffix) }
            try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: catalog))
            let r = try dvs("status", in: dir)
            #expect(r.status == 1, "\(r.stderr)")
            #expect(
                r.stderr
                    == "error: cannot open catalog '\(catalog)': file is not a database\nhint: run 'dvs reindex': it moves the file aside and rebuilds the catalog, refs and reflog included, from .dvs/objects, .dvs/packs and .dvs/reflog\n",
                "\(r.stderr)")
        }
    }
}
