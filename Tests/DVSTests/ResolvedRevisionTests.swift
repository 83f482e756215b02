import DVSCatalog
import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// `Repository.resolveRevision` says what a revision named, so callers need not re-read its spelling.
@Suite struct ResolvedRevisionTests {
    @Test func resolvedRevisionsSayWhatTheyNamed() throws {
        try TestSupport.withTemporaryRepository { repo in
            try TestSupport.write(Data("a".utf8), to: repo.root + "/a.txt")
            let first = try repo.commit(CommitOptions(message: "one")).id
            try TestSupport.write(Data("b".utf8), to: repo.root + "/a.txt")
            let second = try repo.commit(CommitOptions(message: "two")).id
            _ = try repo.createTag("v1", at: Revision(first))
            let head = try repo.resolveRevision("@")
            #expect(head.commit == second && head.named == .headOnBranch(.branch("main")) && head.branch == .branch("main"))
            let parent = try repo.resolveRevision("HEAD~1")
            #expect(parent.commit == first && parent.branch == nil, "a suffix names an ancestor, not the branch")
            #expect(try repo.resolveRevision("main").branch == .branch("main"))
            #expect(try repo.resolveRevision("refs/heads/main").branch == nil, "a full ref name detaches, as in git")
            let tag = try repo.resolveRevision("v1")
            #expect(tag.commit == first && tag.named == .ref(.tag("v1")) && tag.branch == nil)
            #expect(try repo.resolveRevision(Revision(String(first.hex.prefix(8)))).named == .commitID)
            // Checkout follows: HEAD stays on the branch, an id detaches.
            #expect(try repo.checkout("HEAD", force: true).branch == "main")
            #expect(try repo.checkout(Revision(first)).branch == nil)
            #expect(try repo.resolveRevision("HEAD").named == .detachedHead)
            let e = #expect(throws: DVSError.self) { try repo.resolve("main~1x") }
            #expect(e?.message == "bad revision 'main~1x'" && e?.hint == nil)
            let past = #expect(throws: DVSError.self) { try repo.resolve("main~2x") }
            #expect(past?.message.contains("goes past the root commit") == true, "steps before a malformed suffix still apply first")
        }
    }
}
