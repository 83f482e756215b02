import Foundation
import Testing

@testable import DVSCatalog

/// `Catalog.displayPath` splits absolute paths itself; it must name them as `URL` did.
@Suite struct CatalogDisplayPathTests {
    @Test func namesTheFolderAndTheFileAsURLDid() {
        for path in [
            "/r/.dvs/catalog.sqlite", "/a/b c/.dvs/catalog.sqlite", "/a//b/.dvs//catalog.sqlite", "/a/b/../c.sqlite",
            "/a/b/", "/x", "/", "catalog.sqlite", ".dvs/catalog.sqlite", "./x/../.dvs/catalog.sqlite",
        ] {
            let url = URL(fileURLWithPath: path)
            let expected = url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
            #expect(Catalog.displayPath(path) == expected, "\(path)")
        }
        #expect(Catalog.displayPath("/home/me/voices/.dvs/catalog.sqlite") == ".dvs/catalog.sqlite")
    }
}
