import DVSCore
import DVSStorage
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// `MergeOperation`'s state machine with every collaborator in memory: history, working tree,
/// commits and refs played by `World`, blobs in an `InMemoryBlobStore`; only `.dvs/MERGE_STATE`
/// is a file (in a temporary folder).
@Suite struct MergeOperationTests {
    /// A repository in memory: commits and manifests, HEAD and branches, a working tree of
    /// files, and a log of what the merge asked its collaborators to do, in order.
    final class World: MergeHistory, MergeWorkingTree, MergeCommitter, MergeRefs, @unchecked Sendable {
        let blobs = InMemoryBlobStore()
        var commits: [CommitID: Commit] = [:]
        var manifests: [ObjectID: [ManifestEntry]] = [:]
        var head: CommitID?
        var branch: String? = "main"
        var branches: [String: CommitID] = [:]
        /// The working tree: file bytes by path.
        var tree: [RepoPath: [UInt8]] = [:]
        /// What the collaborators were asked, in order.
        var log: [String] = []
        /// When set, `compose` fails with these label errors (as `composeCommit` does).
        var labelErrors: [String]?
        var time: Int64 = 1_700_000_000

        /// Stores a snapshot of `files` (path → text) as a commit with `parents`.
        func commit(_ files: [String: String], parents: [CommitID], message: String = "c") throws -> CommitID {
            var entries: [ManifestEntry] = []
            for (p, text) in files {
                let bytes = Array(text.utf8)
                _ = try blobs.write([(bytes: bytes, hint: BlobHint())])
                entries.append(ManifestEntry(path: RepoPath(p), kind: .file, blob: ObjectID.hashing(bytes), byteCount: UInt64(bytes.count)))
            }
            return store(entries.sorted { $0.path < $1.path }, parents: parents, message: message)
        }

        func store(_ entries: [ManifestEntry], parents: [CommitID], message: String, extra: [String: String] = [:]) -> CommitID {
            let manifest = ObjectID.hashing(Array(entries.map { "\($0.path) \($0.blob.hex)\n" }.joined().utf8))
            manifests[manifest] = entries
            time += 1
            let sig = Signature(name: "Ada", email: "ada@example.com", time: time)
            var totals = ManifestTotals()
            for e in entries { totals.add(e) }
            let c = Commit(
                manifest: manifest, parents: parents, author: sig, committer: sig, totals: totals, extra: extra, message: message)
            let id = CommitID(ObjectID.hashing(c.encoded()))
            commits[id] = c
            return id
        }

        /// Checks out `id` on `branch` (tree and HEAD).
        func checkOut(_ id: CommitID, branch name: String = "main") throws {
            head = id
            branch = name
            branches[name] = id
            tree = [:]
            for e in try entries(ofManifest: commits[id]!.manifest) { tree[e.path] = try blobs.read(e.blob) }
        }

        func text(_ path: String) -> String? { tree[RepoPath(path)].map { String(decoding: $0, as: UTF8.self) } }

        // MergeHistory
        func headCommit() throws -> CommitID? { head }
        func currentBranch() -> String? { branch }
        func resolve(_ revision: Revision) throws -> CommitID {
            guard let id = branches[revision.spelling] else { throw DVSError(.unknownRevision, "no revision '\(revision)'") }
            return id
        }
        func commit(_ id: CommitID) throws -> Commit {
            guard let c = commits[id] else { throw DVSError(.corrupt, "no commit \(id.short)") }
            return c
        }
        func entries(ofManifest root: ObjectID) throws -> [ManifestEntry] {
            guard let es = manifests[root] else { throw DVSError(.corrupt, "no manifest \(root.short)") }
            return es
        }
        func leafEntries(ofManifest root: ObjectID, reusing known: [ObjectID: [ManifestEntry]]) throws -> [(ObjectID, [ManifestEntry])] {
            [(root, try known[root] ?? entries(ofManifest: root))]
        }
        func cohortPredicate(since base: CommitID?, on tip: CommitID) throws -> String? { nil }
        func cohortCut(_ entries: [ManifestEntry], predicate: String) throws -> [ManifestEntry] { entries }

        // MergeWorkingTree
        var treeEntries: [ManifestEntry] {
            tree.map { ManifestEntry(path: $0.key, kind: .file, blob: ObjectID.hashing($0.value), byteCount: UInt64($0.value.count)) }
                .sorted { $0.path < $1.path }
        }
        func changes(againstHead head: [ManifestEntry]) throws -> [Change] { diffEntries(head, treeEntries) }
        func switchTree(to target: CommitID, revision: String, force: Bool, moving: HeadMove?, progress: ProgressHandler?) throws
            -> TreeSwitch
        {
            log.append("switch to \(name(target)) force=\(force) moving=\(moving.map(describe) ?? "nothing")")
            let before = treeEntries
            let after = try entries(ofManifest: commit(target).manifest)
            let changes = diffEntries(before, after)
            try write(from: before, to: after, newContent: [:], progress: nil, logged: false)
            if let moving { try move(moving, logged: false) }
            return TreeSwitch(
                written: changes.filter { $0.kind != .deleted }.count, removed: changes.filter { $0.kind == .deleted }.count,
                unchanged: after.count - changes.filter { $0.kind != .deleted }.count, bytesWritten: 0)
        }
        func write(from: [ManifestEntry], to: [ManifestEntry], newContent: [ObjectID: [UInt8]], progress: ProgressHandler?) throws {
            log.append("write \(to.map(\.path.string).joined(separator: ","))")
            try write(from: from, to: to, newContent: newContent, progress: progress, logged: true)
        }
        private func write(
            from: [ManifestEntry], to: [ManifestEntry], newContent: [ObjectID: [UInt8]], progress: ProgressHandler?, logged: Bool
        )
            throws
        {
            let keep = Set(to.map(\.path))
            for e in from where !keep.contains(e.path) { tree[e.path] = nil }
            for e in to { tree[e.path] = try newContent[e.blob] ?? blobs.read(e.blob) }
        }
        func remove(_ paths: [RepoPath]) {
            log.append("remove \(paths.map(\.string).joined(separator: ","))")
            for p in paths { tree[p] = nil }
        }
        func exists(_ path: RepoPath) -> Bool { tree[path] != nil }
        func contents(of path: RepoPath) -> [UInt8]? { tree[path] }

        // MergeCommitter
        func compose(
            _ tree: [ManifestEntry], newContent: [ObjectID: [UInt8]], parents: [CommitID], message: String, extra: [String: String],
            transcriptsFrom: [[ManifestEntry]], deltaFrom: [ManifestEntry]
        ) throws -> ComposedCommit {
            if let labelErrors {
                throw DVSError(
                    .badInput, "\(labelErrors.count) label error(s) in the result; nothing was committed",
                    hint: "fix the label tables on one side and try again", details: labelErrors)
            }
            for (_, bytes) in newContent { _ = try blobs.write([(bytes: bytes, hint: BlobHint())]) }
            let id = store(tree, parents: parents, message: message, extra: extra)
            log.append("compose \(parents.map(name).joined(separator: "+")) '\(message)'")
            return ComposedCommit(id: id, commit: commits[id]!, packs: [], findings: [], entries: tree)
        }
        func commitWorkingTree(_ options: CommitOptions, progress: ProgressHandler?) throws -> CommitSummary {
            let parents = [head!] + options.extraParents
            let id = store(treeEntries, parents: parents, message: options.message, extra: options.extra)
            log.append("commit \(parents.map(name).joined(separator: "+")) '\(options.message)' extra=\(options.extra)")
            try move(HeadMove(branch: branch, expected: head!, new: id, message: "commit"), logged: false)
            return CommitSummary(
                id: id, branch: branch, commit: commits[id]!, changes: [], warnings: [], newBlobCount: 0, newRawBytes: 0, storedBytes: 0,
                metadataBytes: 0, hashedFiles: 0)
        }

        // MergeRefs
        func record(_ composed: ComposedCommit) throws { log.append("record \(name(composed.id))") }
        func move(_ move: HeadMove) throws { try self.move(move, logged: true) }
        private func move(_ move: HeadMove, logged: Bool) throws {
            if logged { log.append("move \(describe(move))") }
            guard head == move.expected else { throw DVSError(.badInput, "HEAD moved") }
            head = move.new
            if let b = move.branch { branches[b] = move.new }
        }

        /// Names for commits in the log: the branch that points there, else `new`.
        var names: [CommitID: String] = [:]
        func name(_ id: CommitID) -> String { names[id] ?? "new" }
        func describe(_ m: HeadMove) -> String { "\(m.branch ?? "HEAD") \(name(m.expected))→\(name(m.new)) '\(m.message)'" }
    }

    /// A world with `base` (r.txt), `ours` on main and `theirs` on side, each made by `change`
    /// from the base's files; main checked out. Returns the world, the operation and the ids.
    func diverged(
        ours: (inout [String: String]) -> Void, theirs: (inout [String: String]) -> Void
    ) throws -> (World, MergeOperation, base: CommitID, ours: CommitID, theirs: CommitID) {
        let w = World()
        let files = ["r.txt": "readme\n"]
        let base = try w.commit(files, parents: [])
        var o = files
        ours(&o)
        let oursID = o == files ? base : try w.commit(o, parents: [base], message: "ours")
        var t = files
        theirs(&t)
        let theirsID = try w.commit(t, parents: [base], message: "theirs")
        w.branches = ["main": oursID, "side": theirsID]
        w.names[base] = "base"
        w.names[oursID] = "ours"
        w.names[theirsID] = "theirs"
        try w.checkOut(oursID)
        return (w, try operation(w), base, oursID, theirsID)
    }

    func operation(_ w: World) throws -> MergeOperation {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-merge-op-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return MergeOperation(
            history: w, blobs: w.blobs, workingTree: w, commits: w, refs: w,
            stateFile: MergeStateFile(path: dir + "/MERGE_STATE", tmpDir: dir))
    }

    func start(_ op: MergeOperation, _ revision: Revision = "side", noCommit: Bool = false) throws -> MergeSummary {
        try op.start(revision, prefer: nil, noCommit: noCommit, message: nil, extra: [:], progress: nil)
    }

    func message(_ body: () throws -> Void) -> String? {
        do { try body() } catch let e as DVSError { return e.message } catch { return "\(error)" }
        return nil
    }

    @Test func mergingAnAncestorIsUpToDateAndTouchesNothing() throws {
        let (w, op, base, ours, _) = try diverged(ours: { $0["a.txt"] = "a\n" }, theirs: { $0["b.txt"] = "b\n" })
        let s = try op.start("base", theirs: base, prefer: nil, noCommit: false, message: nil, extra: [:], progress: nil)
        #expect(s.status == .upToDate && s.head == ours && s.theirs == base && s.base == base && s.baseCount == 1)
        #expect(s.changes.isEmpty && w.log.isEmpty)
        #expect(op.stateFile.read() == nil)
    }

    @Test func anAncestorHeadFastForwardsWithTheTreeAndTheBranchInOneStep() throws {
        let (w, op, _, ours, theirs) = try diverged(ours: { _ in }, theirs: { $0["b.txt"] = "b\n" })
        let s = try start(op)
        #expect(s.status == .fastForward && s.head == theirs && s.base == ours && s.baseCount == 1 && s.conflicts.isEmpty)
        #expect(s.changes.map(\.path.string) == ["b.txt"] && s.changes.map(\.kind) == [.added])
        #expect(w.log == ["switch to theirs force=false moving=main ours→theirs 'merge side: fast-forward'"])
        #expect(w.head == theirs && w.branches["main"] == theirs && w.text("b.txt") == "b\n")
    }

    @Test func aCleanMergeComposesRecordsWritesTheTreeThenMovesTheBranch() throws {
        let (w, op, base, ours, theirs) = try diverged(ours: { $0["a.txt"] = "a\n" }, theirs: { $0["b.txt"] = "b\n" })
        let s = try start(op)
        let made = try #require(s.head)
        #expect(s.status == .merged && s.theirs == theirs && s.base == base && s.conflicts.isEmpty)
        #expect(s.changes.map(\.path.string) == ["b.txt"])
        #expect(
            w.log == [
                "compose ours+theirs 'Merge side into main'", "record new", "write a.txt,b.txt,r.txt",
                "move main ours→new 'merge side: merged'",
            ])
        #expect(try w.commit(made).parents == [ours, theirs])
        #expect(w.head == made && w.text("a.txt") == "a\n" && w.text("b.txt") == "b\n" && w.text("r.txt") == "readme\n")
        #expect(op.stateFile.read() == nil)
    }

    @Test func aDirtyTreeIsRefusedBeforeAnythingIsWritten() throws {
        let (w, op, _, _, _) = try diverged(ours: { $0["a.txt"] = "a\n" }, theirs: { $0["b.txt"] = "b\n" })
        w.tree[RepoPath("r.txt")] = Array("edited\n".utf8)
        w.tree[RepoPath("scratch.txt")] = Array("untracked\n".utf8)
        var error: DVSError?
        do { _ = try start(op) } catch let e as DVSError { error = e }
        #expect(error?.code == .badInput)
        #expect(error?.message == "cannot merge: the working tree has 1 uncommitted change; nothing was changed")
        #expect(error?.details == ["modified: r.txt"])
        #expect(w.log.isEmpty && op.stateFile.read() == nil)
    }

    @Test func anUntrackedFileTheMergeWouldWriteIsRefused() throws {
        let (w, op, _, _, _) = try diverged(ours: { $0["a.txt"] = "a\n" }, theirs: { $0["b.txt"] = "b\n" })
        w.tree[RepoPath("b.txt")] = Array("mine\n".utf8)
        var error: DVSError?
        do { _ = try start(op) } catch let e as DVSError { error = e }
        #expect(error?.code == .wouldOverwrite)
        #expect(error?.message == "cannot merge: 1 untracked file would be overwritten; nothing was changed")
        #expect(error?.details == ["b.txt"])
        #expect(w.log.isEmpty && w.text("b.txt") == "mine\n")
    }

    @Test func aHeadWithoutCommitIsRefused() throws {
        let w = World()
        w.branches["side"] = try w.commit(["b.txt": "b\n"], parents: [])
        let op = try operation(w)
        #expect(message { _ = try start(op) } == "HEAD has no commit to merge into")
    }

    /// Both sides add `x.bin` with different bytes: a whole-file conflict.
    func conflicted() throws -> (World, MergeOperation, base: CommitID, ours: CommitID, theirs: CommitID, MergeSummary) {
        let (w, op, base, ours, theirs) = try diverged(
            ours: { $0["x.bin"] = "\u{0}ours" },
            theirs: {
                $0["x.bin"] = "\u{0}theirs"
                $0["b.txt"] = "b\n"
            })
        let s = try start(op)
        return (w, op, base, ours, theirs, s)
    }

    @Test func conflictsStopWithTheStateFileAndTheMergedTreeAndLeaveHead() throws {
        let (w, op, base, ours, theirs, s) = try conflicted()
        #expect(s.status == .conflicts && s.head == ours && s.theirs == theirs && s.base == base)
        #expect(s.conflicts.map(\.kind) == [.addAdd] && s.conflicts.map(\.path) == ["x.bin"])
        #expect(s.changes.map(\.path.string) == ["b.txt", "x.bin~theirs"])
        #expect(w.log == ["write b.txt,r.txt,x.bin,x.bin~theirs"])
        #expect(w.head == ours && w.text("x.bin") == "\u{0}ours" && w.text("x.bin~theirs") == "\u{0}theirs")
        let state = try #require(op.stateFile.read())
        #expect(
            state
                == MergeState(
                    ours: ours, theirs: theirs, theirsName: "side", base: base, message: "Merge side into main", conflicts: s.conflicts,
                    added: [RepoPath("b.txt"), RepoPath("x.bin~theirs")], sideFiles: [RepoPath("x.bin~theirs")], extra: [:]))
        #expect(op.state() == state)
        let progress = try #require(op.inProgress())
        #expect(progress.theirs == "side" && progress.conflicts == s.conflicts)
        #expect(progress.unresolved == ["x.bin~theirs (remove it once 'x.bin' holds the version to keep)"])
    }

    @Test func aStoppedMergeRefusesAnotherMergeAndSwitchingAway() throws {
        let (w, op, _, _, _, _) = try conflicted()
        w.log = []
        #expect(message { _ = try start(op) } == "a merge of 'side' is in progress")
        #expect(
            message { try op.refuseDuringMerge("pull") }
                == "cannot pull: a merge of 'side' is in progress in the working tree; nothing was changed")
        #expect(w.log.isEmpty)
    }

    @Test func continueRefusesWhileConflictsRemainThenCommitsWithBothParents() throws {
        let (w, op, _, ours, theirs, _) = try conflicted()
        var error: DVSError?
        do { _ = try op.finish(message: nil, progress: nil) } catch let e as DVSError { error = e }
        #expect(error?.message == "1 conflict is not resolved yet; nothing was committed")
        #expect(error?.details == ["x.bin~theirs (remove it once 'x.bin' holds the version to keep)"])
        #expect(op.state() != nil)
        w.tree[RepoPath("x.bin~theirs")] = nil
        w.log = []
        let c = try op.finish(message: nil, progress: nil)
        #expect(w.log == ["commit ours+theirs 'Merge side into main' extra=[:]"])
        #expect(c.commit.parents == [ours, theirs] && c.commit.message == "Merge side into main" && w.head == c.id)
        #expect(op.stateFile.read() == nil && op.state() == nil)
        #expect(message { _ = try op.finish(message: nil, progress: nil) } == "no merge is in progress")
    }

    @Test func markersLeftInATextFileAreUnresolved() throws {
        let (w, op, _, _, _) = try diverged(ours: { $0["r.txt"] = "ours\n" }, theirs: { $0["r.txt"] = "theirs\n" })
        let s = try start(op)
        #expect(s.status == .conflicts && s.conflicts.map(\.kind) == [.text] && s.conflicts.map(\.path) == ["r.txt"])
        #expect(w.text("r.txt")?.hasPrefix("<<<<<<< ours") == true)
        #expect(op.inProgress()?.unresolved == ["r.txt (1 line still holds conflict markers '<<<<<<< ours …')"])
        w.tree[RepoPath("r.txt")] = Array("both\n".utf8)
        #expect(op.inProgress()?.unresolved == [])
    }

    @Test func abortRemovesWhatTheMergeAddedAndForcesTheTreeBackToHead() throws {
        let (w, op, _, ours, _, _) = try conflicted()
        w.log = []
        let r = try op.abort(progress: nil)
        #expect(w.log == ["remove b.txt,x.bin~theirs", "switch to ours force=true moving=nothing"])
        #expect(r.id == ours && r.branch == "main" && r.removed == 2 && r.written == 0)
        #expect(w.tree.keys.map(\.string).sorted() == ["r.txt", "x.bin"] && w.text("x.bin") == "\u{0}ours" && w.head == ours)
        #expect(op.stateFile.read() == nil)
        #expect(message { _ = try op.abort(progress: nil) } == "no merge is in progress")
    }

    @Test func aStateLeftBehindByAnotherHeadIsStaleAndAbortClearsIt() throws {
        let (w, op, _, _, theirs, _) = try conflicted()
        w.head = theirs
        #expect(op.state() == nil && op.inProgress() == nil)
        #expect(op.stateFile.read() != nil)
        #expect(message { _ = try op.abort(progress: nil) } == "no merge is in progress")
        #expect(op.stateFile.read() == nil)
    }

    @Test func noCommitStopsEvenWhereItCouldFastForward() throws {
        let (w, op, _, ours, theirs) = try diverged(ours: { _ in }, theirs: { $0["b.txt"] = "b\n" })
        let s = try start(op, noCommit: true)
        #expect(s.status == .noCommit && s.head == ours && s.conflicts.isEmpty)
        #expect(w.log == ["write b.txt,r.txt"])
        #expect(op.state()?.theirs == theirs && op.state()?.added == [RepoPath("b.txt")] && op.state()?.base == ours)
    }

    @Test func mergedLabelsThatFailValidationStopAsLabelConflicts() throws {
        let (w, op, _, _, _) = try diverged(ours: { $0["a.txt"] = "a\n" }, theirs: { $0["b.txt"] = "b\n" })
        w.labelErrors = ["labels.csv:3: speaker is required"]
        let s = try start(op)
        #expect(s.status == .conflicts && s.conflicts.map(\.kind) == [.labels])
        #expect(s.conflicts.map(\.path) == ["labels.csv"] && s.conflicts.map(\.message) == ["labels.csv:3: speaker is required"])
        #expect(w.log == ["write a.txt,b.txt,r.txt"])
        #expect(op.state()?.conflicts == s.conflicts)
    }
}

/// `.dvs/MERGE_STATE` as written before its ids and paths were typed reads the same, and is
/// written back byte for byte.
@Suite struct MergeStateFormatTests {
    /// `MergeState` as it was declared when its ids and paths were strings.
    struct StringMergeState: Codable {
        var ours: String
        var theirs: String
        var theirsName: String
        var base: String?
        var message: String
        var conflicts: [MergeConflict]
        var added: [String]
        var sideFiles: [String]
        var extra: [String: String]
    }

    static let ours = String(repeating: "a", count: 64)
    static let theirs = String(repeating: "b", count: 64)
    static let base = String(repeating: "c", count: 64)

    /// A file as the string-typed `MergeState` wrote it.
    static let file = """
        {
          "added" : [
            "b.txt",
            "x.bin~theirs"
          ],
          "base" : "\(base)",
          "conflicts" : [
            {
              "kind" : "add-add",
              "message" : "both added 'x.bin' differently: ours kept, theirs written to 'x.bin~theirs'",
              "path" : "x.bin"
            }
          ],
          "extra" : {
            "cohort" : "es"
          },
          "message" : "Merge side into main",
          "ours" : "\(ours)",
          "sideFiles" : [
            "x.bin~theirs"
          ],
          "theirs" : "\(theirs)",
          "theirsName" : "side"
        }
        """

    func encode(_ value: some Encodable) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try enc.encode(value), as: UTF8.self)
    }

    @Test func aFileWrittenWithStringIdsReadsTyped() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-merge-state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.file.write(toFile: dir + "/MERGE_STATE", atomically: true, encoding: .utf8)
        let s = try #require(MergeStateFile(path: dir + "/MERGE_STATE", tmpDir: dir).read())
        #expect(s.ours == CommitID(hex: Self.ours) && s.theirs == CommitID(hex: Self.theirs) && s.base == CommitID(hex: Self.base))
        #expect(s.theirsName == "side" && s.message == "Merge side into main" && s.extra == ["cohort": "es"])
        #expect(s.added == [RepoPath("b.txt"), RepoPath("x.bin~theirs")] && s.sideFiles == [RepoPath("x.bin~theirs")])
        #expect(s.conflicts.map(\.kind) == [.addAdd] && s.conflicts.map(\.path) == ["x.bin"])
        #expect(try encode(s) == Self.file, "written back byte for byte")
    }

    @Test func typedAndStringStatesEncodeToTheSameBytes() throws {
        let old = try JSONDecoder().decode(StringMergeState.self, from: Data(Self.file.utf8))
        #expect(try encode(old) == Self.file)
        var noBase = old
        noBase.base = nil
        let typed = MergeState(
            ours: try #require(CommitID(hex: Self.ours)), theirs: try #require(CommitID(hex: Self.theirs)), theirsName: "side", base: nil,
            message: old.message, conflicts: old.conflicts, added: old.added.map { RepoPath($0) },
            sideFiles: old.sideFiles.map { RepoPath($0) }, extra: old.extra)
        #expect(try encode(typed) == encode(noBase), "no base: the key is left out, as before")
        #expect(try encode(typed).contains("\"base\"") == false)
    }

    @Test func aDamagedIdReadsAsNoState() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dvs-merge-state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.file.replacingOccurrences(of: Self.theirs, with: "not-an-id").write(
            toFile: dir + "/MERGE_STATE", atomically: true, encoding: .utf8)
        #expect(MergeStateFile(path: dir + "/MERGE_STATE", tmpDir: dir).read() == nil)
    }
}
