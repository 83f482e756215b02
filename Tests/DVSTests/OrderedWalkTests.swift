import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// `TreeWalker.OrderedWalk` (status and commit stream the stat cache while it walks): the same
/// files, order and skipped paths as `TreeWalker.walk`, whatever the worker count; it stops early
/// cleanly and reports a folder it cannot read.
@Suite struct OrderedWalkTests {
    /// Files at the root between folders (`a.txt` < `a/x` < `a0`), non-ASCII names (NFC and NFD),
    /// FIFOs (skipped), empty folders, and folders of 0–4 files.
    func makeTree(_ root: String, folders: Int) throws {
        let fm = FileManager.default
        for n in ["a.txt", "a0", "z", "é.wav", "e\u{301}.wav"] { fm.createFile(atPath: root + "/" + n, contents: Data("x".utf8)) }
        mkfifo(root + "/fifo", 0o644)
        for i in 0..<folders {
            let d = root + "/d\(String(format: "%03d", i))"
            try fm.createDirectory(atPath: d + "/sub", withIntermediateDirectories: true)
            for j in 0..<(i % 5) { fm.createFile(atPath: d + "/f\(j)", contents: Data("y".utf8)) }
            fm.createFile(atPath: d + "/sub/g", contents: nil)
            if i % 7 == 0 { mkfifo(d + "/p", 0o644) }
        }
        try fm.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        fm.createFile(atPath: root + "/a/x", contents: nil)
        try fm.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
    }

    func drain(_ w: TreeWalker.OrderedWalk) throws -> [String] {
        var out: [String] = []
        while let f = try w.next() { out.append(f.path.string) }
        w.finish()
        return out
    }

    @Test func givesTheWalksFilesInItsOrder() throws {
        try TestSupport.withTemporaryDirectory { root in
            try makeTree(root, folders: 60)
            let (files, skipped) = try TreeWalker.walk(root: root, workers: 2)
            #expect(files.count == 60 + 60 * 2 + 6 && skipped.count == 1 + 9, "\(files.count) files, \(skipped.count) skipped")
            #expect(files.map(\.path.bytes) == files.map(\.path.bytes).sorted { $0.lexicographicallyPrecedes($1) }, "in path-byte order")
            for workers in [1, 2, 4, 16] {
                for _ in 0..<5 {
                    let w = try TreeWalker.orderedWalk(root: root, workers: workers)
                    #expect(try drain(w) == files.map(\.path.string), "\(workers) workers")
                    #expect(w.skipped == skipped, "\(workers) workers")
                }
            }
        }
    }

    @Test func aRootWithoutFoldersAndAnEmptyRoot() throws {
        try TestSupport.withTemporaryDirectory { root in
            let empty = try TreeWalker.orderedWalk(root: root, workers: 2)
            #expect(try drain(empty) == [])
            FileManager.default.createFile(atPath: root + "/one", contents: nil)
            #expect(try drain(TreeWalker.orderedWalk(root: root, workers: 2)) == ["one"])
        }
    }

    /// Stopped after k files (finish twice), it returns; `next()` after `finish()` is nil, not a hang.
    @Test func stopsEarly() throws {
        try TestSupport.withTemporaryDirectory { root in
            try makeTree(root, folders: 200)
            for k in 0..<30 {
                let w = try TreeWalker.orderedWalk(root: root, workers: 2)
                for _ in 0..<k { _ = try w.next() }
                w.finish()
                w.finish()
            }
            // After finish(), next() hands out what was walked before it, in order, then ends.
            let all = try TreeWalker.walk(root: root, workers: 2).files.map(\.path.string)
            for _ in 0..<20 {
                let w = try TreeWalker.orderedWalk(root: root, workers: 2)
                w.finish()
                var after: [String] = []
                while let f = try w.next() { after.append(f.path.string) }
                #expect(after == Array(all.prefix(after.count)), "a prefix of the walk: \(after.suffix(3))")
            }
        }
    }

    /// A subfolder that cannot be listed (a path too long for the kernel) is an error from
    /// `next()` once the walk reaches it, after every file before it in path order.
    @Test func aFolderThatCannotBeReadIsAnError() throws {
        try TestSupport.withTemporaryDirectory { root in
            try makeTree(root, folders: 20)
            let deep = "d005/" + Array(repeating: String(repeating: "n", count: 200), count: 25).joined(separator: "/")
            try TestSupport.sh("mkdir -p \(deep)", in: root)
            #expect(throws: DVSError.self) { _ = try TreeWalker.walk(root: root, workers: 2) }
            for _ in 0..<10 {
                let w = try TreeWalker.orderedWalk(root: root, workers: 2)
                var seen: [String] = []
                #expect(throws: DVSError.self) { while let f = try w.next() { seen.append(f.path.string) } }
                w.finish()
                #expect(seen.contains("d004/sub/g") && seen.allSatisfy { $0 < "d005/sub" }, "\(seen.suffix(3))")
            }
        }
    }
}
