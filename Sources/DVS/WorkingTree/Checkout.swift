import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `Repository.checkout` did.
public struct CheckoutSummary: Sendable {
    /// The commit now checked out (or exported).
    public var id: CommitID
    /// The branch HEAD is on afterwards, nil when detached or exporting.
    public var branch: String?
    /// Files written.
    public var written: Int
    /// Tracked files removed.
    public var removed: Int
    /// Files already as the target wanted them.
    public var unchanged: Int
    /// Bytes written.
    public var bytesWritten: UInt64
}

extension Repository {
    /// Checks that every path of a snapshot is safe to write before anything is written.
    /// - Throws: `DVSError.unsafePath` listing each bad path and why.
    func validate(_ entries: [ManifestEntry], revision: String) throws {
        var problems: [String] = []
        let files = Set(entries.map(\.path))
        for e in entries {
            if let p = e.path.validationProblem {
                problems.append("'\(WorkingTree.escaped(e.path))': \(p)")
                continue
            }
            var parent = e.path.parent
            while let d = parent {
                if files.contains(d) {
                    problems.append("'\(e.path)': its folder '\(d)' is also a file in the snapshot")
                    break
                }
                parent = d.parent
            }
        }
        if !problems.isEmpty {
            throw DVSError(
                .unsafePath,
                "snapshot \(revision) holds \(counted(problems.count, "path")) that cannot be written safely; nothing was written",
                details: problems, next: .damagedSnapshot)
        }
    }

    /// Updates the working tree to `revision` and moves HEAD there (onto the branch when
    /// `revision` names one, or stays on the current branch for `HEAD`/`@`; else detached).
    ///
    /// Writes only files whose content differs, removes tracked files absent from the target,
    /// keeps untracked files, and refuses — naming the files — when it would overwrite or delete
    /// uncommitted changes or untracked files, unless `force`. Every path is validated before
    /// anything is written; nothing is written through a symlink or outside the tree. Files are
    /// written to a temp name and renamed. HEAD moves only after the tree is written.
    /// - Throws: `DVSError.unknownRevision`, `.wouldOverwrite`, `.unsafePath`, `.corrupt` (naming
    ///   the object and path; earlier files may already be updated, HEAD is not moved), `.locked`;
    ///   `.badInput` while a stopped merge is in progress (even with `force`).
    /// - Warning: with `force`, uncommitted changes to tracked files are lost.
    public func checkout(_ revision: Revision, force: Bool = false, progress: ProgressHandler? = nil) throws -> CheckoutSummary {
        let lock = try self.lock("dvs checkout \(revision)", overwritingInterrupted: force)
        defer { lock.release() }
        do {
            try refuseDuringMerge("check out '\(revision)'")
            let resolved = try resolveRevision(revision)
            let target = resolved.commit
            // `HEAD` (or `@`) names the current commit through the current branch: checking it
            // out (`dvs checkout HEAD --force` to discard changes) stays on that branch, as in git;
            // so does a branch's short name. Anything else detaches HEAD.
            let current = currentBranch()
            let branch = resolved.branch?.branchName
            let from = try current ?? headCommit()?.short ?? "nothing"
            let s = try switchTree(
                to: target, revision: revision.spelling, force: force,
                refs: .setHead(branch: branch, message: "checkout: moving from \(from) to \(revision)"),
                journal: (.checkout, "dvs checkout\(force ? " --force" : "") \(revision)"), progress: progress)
            return CheckoutSummary(
                id: target, branch: branch, written: s.written, removed: s.removed,
                unchanged: s.unchanged, bytesWritten: s.bytesWritten)
        } catch { throw DVSError.wrap(error) }
    }

    /// Updates the working tree from HEAD's snapshot to `target`'s with checkout's safety rules,
    /// then moves `refs` to `target` in the transaction that refreshes the stat cache.
    ///
    /// With `journal`, the operation (its `kind`, and `command` for messages) is recorded in
    /// `.dvs/JOURNAL` before the first file of the tree changes and the record is removed after
    /// that transaction, so that a process killed in between is finished by the next dvs command
    /// (``recoverInterruptedOperation()``); recovery itself passes nil. Switching again to the
    /// same target is idempotent: only what still differs is written. The caller holds the
    /// repository lock.
    /// - Throws: as ``checkout(_:force:progress:)``.
    func switchTree(
        to target: CommitID, revision: String, force: Bool, refs: TreeSwitchRefs, journal: (kind: OperationJournal.Kind, command: String)?,
        progress: ProgressHandler?
    ) throws -> (written: Int, removed: Int, unchanged: Int, bytesWritten: UInt64) {
        do {
            // A partial clone downloads the blobs of the target snapshot it lacks first.
            try ensureBlobs(of: target, progress: progress)
            let from = try headCommit()
            let record = journal.map {
                OperationJournal(
                    kind: $0.kind, command: $0.command, revision: revision, from: from, target: target, force: force, refs: refs)
            }
            let who = identity
            let finish: (CatalogTransaction) throws -> Void = { tx in try refs.apply(to: target, in: tx, who: who) }
            if !force, let head = from,
                let s = try switchTreeByChanges(
                    from: head, to: target, revision: revision, journal: record, progress: progress, finish: finish)
            {
                return s
            }
            let targetEntries = try entries(ofManifest: commit(target).manifest)
            try validate(targetEntries, revision: "'\(revision)' (\(target.short))")
            let headEntries = try self.headEntries()
            let tree = workingTree
            let work = try tree.scan(writer: nil, knownBlobs: [], progress: progress)
            let t = Dictionary(uniqueKeysWithValues: targetEntries.map { ($0.path, $0) })
            let h = Dictionary(uniqueKeysWithValues: headEntries.map { ($0.path, $0) })
            let w = Dictionary(uniqueKeysWithValues: work.entries.map { ($0.path, $0) })
            let same = sameFile
            var conflicts: [String] = []
            var toWrite: [ManifestEntry] = []
            var toRemove: [RepoPath] = []
            var unchanged = 0
            for p in Set(t.keys).union(h.keys).sorted() {
                let te = t[p]
                let he = h[p]
                let we = w[p]
                if same(we, te) {
                    if te != nil { unchanged += 1 }
                    continue
                }
                if same(te, he) && !force {
                    // The checkout does not touch this path; local changes stay (with --force they are discarded).
                    if te != nil { unchanged += 1 }
                    continue
                }
                if !same(te, he), let lost = Self.lostWork(at: p, target: te, head: he, tree: we) { conflicts.append(lost) }
                if let te { toWrite.append(te) } else if we != nil { toRemove.append(p) }
            }
            // An untracked file where the target needs a folder.
            var needed = Set<RepoPath>()
            for e in toWrite {
                var d = e.path.parent
                while let x = d {
                    needed.insert(x)
                    d = x.parent
                }
            }
            for d in needed where w[d] != nil && h[d] == nil && t[d] == nil {
                conflicts.append("\(d) (untracked file is where the snapshot has a folder)")
            }
            if !conflicts.isEmpty && !force {
                throw DVSError(
                    .wouldOverwrite,
                    "checkout of '\(revision)' would lose work in \(counted(conflicts.count, "file")); nothing was changed",
                    details: conflicts, next: .commitMoveOrForce)
            }
            if force {
                for d in needed where w[d] != nil && t[d] == nil && h[d] == nil { toRemove.append(d) }
            }
            let written = try journaled(toWrite.isEmpty && toRemove.isEmpty ? nil : record) {
                // Removals first, then empty folders they leave.
                tree.remove(toRemove)
                let written = try tree.writeEntries(toWrite, into: root, force: force, progress: progress)
                // Refresh the stat cache for what the target holds, then move HEAD.
                // Only trust content we wrote or verified to equal the target.
                let writtenPaths = Set(toWrite.map(\.path))
                let updates = tree.statCacheRows(for: targetEntries) { e in writtenPaths.contains(e.path) || same(w[e.path], e) }
                try catalog.write { tx in
                    try tx.updateStatCache(updates, removing: toRemove, settled: true)
                    // Rows of files this comparison left alone are not vouched for: the next full scan
                    // (commit) makes the cache mirror HEAD again.
                    try tx.setStatCacheBase(nil)
                    try finish(tx)
                }
                return written
            }
            return (toWrite.count, toRemove.count, unchanged, written)
        } catch { throw DVSError.wrap(error) }
    }

    /// ``switchTree(to:revision:force:refs:journal:progress:)`` without `force` from HEAD's commit
    /// `head`, in time proportional to what differs: the two manifests are compared by chunk id
    /// (``SnapshotStore/changes(from:to:)``), and only the paths that differ — and the folders
    /// their new files need — are looked at in the working tree and the stat cache. The rules
    /// are the full comparison's: a path both commits hold alike is left as it is (local changes
    /// stay); a differing path is refused when the tree's file is untracked or holds uncommitted
    /// changes, unless it already equals the target.
    /// - Returns: nil, having changed nothing, when so many paths differ (more than 2,048 and
    ///   more than an eighth of the target's files) that one walk of the whole tree is cheaper.
    /// - Throws: as ``checkout(_:force:progress:)``.
    /// - Complexity: O(k · log n) chunks read and O(k) files looked at for k differing paths.
    private func switchTreeByChanges(
        from head: CommitID, to target: CommitID, revision: String, journal: OperationJournal?, progress: ProgressHandler?,
        finish: (CatalogTransaction) throws -> Void
    ) throws -> (written: Int, removed: Int, unchanged: Int, bytesWritten: UInt64)? {
        let targetCommit = try commit(target)
        let changes = try snapshots.changes(from: commit(head).manifest, to: targetCommit.manifest)
        if changes.count > 2048 && UInt64(changes.count) * 8 > targetCommit.totals.fileCount { return nil }
        try validate(changes.compactMap(\.new), revision: "'\(revision)' (\(target.short))")
        let tree = workingTree
        let w = try tree.scan(paths: changes.map(\.path))
        let same = sameFile
        var conflicts: [String] = []
        var toWrite: [ManifestEntry] = []
        var toRemove: [RepoPath] = []
        var alreadyThere: [ManifestEntry] = []
        for c in changes {
            let (te, he, we) = (c.new, c.old, w[c.path])
            if same(we, te) {
                if let te { alreadyThere.append(te) }
                continue
            }
            if let lost = Self.lostWork(at: c.path, target: te, head: he, tree: we) { conflicts.append(lost) }
            if let te { toWrite.append(te) } else if we != nil { toRemove.append(c.path) }
        }
        // An untracked file where the target needs a folder. A path either commit holds as a file
        // is among the changes (a snapshot cannot hold both `d` and `d/x`), so any other file is untracked.
        let held = Set(changes.filter { $0.old != nil || $0.new != nil }.map(\.path))
        var needed = Set<RepoPath>()
        for e in toWrite {
            var d = e.path.parent
            while let x = d, needed.insert(x).inserted {
                d = x.parent
            }
        }
        var folders: [RepoPath: Bool] = [:]
        for d in needed.sorted() where !held.contains(d) {
            if tree.inRealFolders(d, checked: &folders), let f = tree.file(at: d), f.kind != nil, tree.wouldTrack(root + "/" + d.string) {
                conflicts.append("\(d) (untracked file is where the snapshot has a folder)")
            }
        }
        if !conflicts.isEmpty {
            throw DVSError(
                .wouldOverwrite, "checkout of '\(revision)' would lose work in \(counted(conflicts.count, "file")); nothing was changed",
                details: conflicts, next: .commitMoveOrForce)
        }
        let written = try journaled(toWrite.isEmpty && toRemove.isEmpty ? nil : journal) {
            tree.remove(toRemove)
            let written = try tree.writeEntries(toWrite, into: root, force: false, progress: progress)
            let updates = tree.statCacheRows(for: toWrite + alreadyThere) { _ in true }
            // Every differing path now holds the target's entry (or nothing): if the settled rows
            // mirrored HEAD, they mirror the target once those rows are written and the rows of paths
            // the target lacks are gone. (Rows at other paths are the same entry in both snapshots.)
            let mirrored = try catalog.statCacheBase() == head
            let unheld = changes.filter { $0.new == nil }.map(\.path)
            try catalog.write { tx in
                try tx.updateStatCache(updates, removing: Array(Set(toRemove + unheld)), settled: true)
                try tx.setStatCacheBase(mirrored ? target : nil)
                try finish(tx)
            }
            return written
        }
        let unchanged = Int(targetCommit.totals.fileCount) - toWrite.count
        return (toWrite.count, toRemove.count, unchanged, written)
    }

    /// Runs `body` (which writes the working tree, then moves refs) with `record` in
    /// `.dvs/JOURNAL`: written durably before, removed after. A kill in between leaves it for the
    /// next command to finish the operation; an error `body` throws removes it as well (as
    /// before journals: the error says what failed, and earlier files may already be updated).
    /// - Throws: what writing the journal or `body` throws.
    func journaled<T>(_ record: OperationJournal?, _ body: () throws -> T) throws -> T {
        guard let record else { return try body() }
        try journalFile.write(record)
        defer { journalFile.clear() }
        return try body()
    }

    /// What writing `target` (or deleting, when nil) at `path` would lose, for a path whose
    /// target differs from HEAD's entry `head`: an untracked file there, or uncommitted changes
    /// (`tree`, the working tree's file, differs from `head`); nil when nothing would be lost.
    /// Shared by the full comparison and the differing-path one, so their rules cannot drift.
    static func lostWork(at path: RepoPath, target: ManifestEntry?, head: ManifestEntry?, tree: ManifestEntry?) -> String? {
        guard tree != nil else { return nil }
        if head == nil { return "\(path) (untracked file would be overwritten)" }
        if !sameFile(tree, head) { return "\(path) (uncommitted changes would be \(target == nil ? "deleted" : "overwritten"))" }
        return nil
    }

    /// Writes the snapshot at `revision` into `directory` (which must be missing or empty)
    /// without touching HEAD or the working tree. Takes no lock, but in a partial clone the blobs
    /// it lacks are downloaded first (``downloadMissingBlobs(_:progress:)``, which takes the lock
    /// to add them).
    /// - Throws: `DVSError.badInput` when the folder is not empty; `.remote`, `.locked` while
    ///   downloading; as `checkout` otherwise.
    public func export(_ revision: Revision, to directory: String, progress: ProgressHandler? = nil) throws -> CheckoutSummary {
        do {
            let target = try resolve(revision)
            let entries = try entries(ofManifest: commit(target).manifest)
            try validate(entries, revision: "'\(revision)' (\(target.short))")
            try downloadMissingBlobs(Set(entries.filter { $0.kind != .symlink }.map(\.blob)), progress: progress)
            let dir = absolute(directory)
            if let items = try? FileManager.default.contentsOfDirectory(atPath: dir), !items.isEmpty {
                throw DVSError(.badInput, "folder '\(dir)' is not empty", hint: "export into a new or empty folder")
            }
            try FileIO.makeDirectories(dir)
            let written = try workingTree.writeEntries(entries, into: dir, force: false, fresh: true, progress: progress)
            return CheckoutSummary(id: target, branch: nil, written: entries.count, removed: 0, unchanged: 0, bytesWritten: written)
        } catch { throw DVSError.wrap(error) }
    }
}

extension WorkingTree {
    /// Creates the folders `entries` need (refusing to pass through a symlink or a file unless
    /// `force`), then writes the files in parallel, each to a temp name renamed into place.
    func writeEntries(_ entries: [ManifestEntry], into base: String, force: Bool, fresh: Bool = false, progress: ProgressHandler?) throws
        -> UInt64
    {
        var dirs = Set<RepoPath>()
        for e in entries {
            var d = e.path.parent
            while let x = d {
                if !dirs.insert(x).inserted { break }
                d = x.parent
            }
        }
        for d in dirs.sorted(by: { $0.bytes.count < $1.bytes.count }) {
            let p = TreeWalker.cPath(base, d)
            var st = stat()
            if lstat(p, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR { continue }
                guard force else {
                    throw DVSError(
                        .unsafePath,
                        "refusing to write through '\(d)': it is a \((st.st_mode & S_IFMT) == S_IFLNK ? "symlink" : "file"), the snapshot needs a folder",
                        next: .moveAwayOrForce)
                }
                unlink(p)
            }
            if mkdir(p, 0o755) != 0 && errno != EEXIST {
                throw DVSError(.io, "cannot create folder '\(d)': \(String(cString: strerror(errno)))")
            }
        }
        // A few files: look each blob up; many: one query for the whole index.
        var found: [ObjectID: BlobLocation] = [:]
        if entries.count > 256 {
            found = try blobs.locations()
        } else {
            for e in entries where e.kind != .symlink { if let l = try blobs.location(of: e.blob) { found[e.blob] = l } }
        }
        let locations = found
        let bytes = Locked<(UInt64, Int)>((0, 0))
        let decompressors = Decompressors(count: workers)
        try parallelFor(entries.count, workers: workers) { worker, i in
            let e = entries[i]
            let content: [UInt8]
            if e.kind == .symlink {
                content = e.linkTarget
            } else {
                do { content = try self.blob(e.blob, location: locations[e.blob], decompressor: decompressors.all[worker]) } catch let err
                    as DVSError
                {
                    throw DVSError(
                        err.code, "cannot check out '\(e.path)': \(err.message)",
                        cause: err.cause,
                        underlying: err, next: .listDamagedObjectsAndPaths)
                }
            }
            try Self.writeFile(e, content: content, base: base, tmpDir: self.tmpDir, fresh: fresh)
            self.afterWrite?()
            let r = bytes.withLock { b -> Progress? in
                b.0 += UInt64(content.count)
                b.1 += 1
                return b.1 % 64 == 0 || b.1 == entries.count ? Progress(phase: .writing, done: b.1, total: entries.count, bytes: b.0) : nil
            }
            if let r { progress?(r) }
        }
        return bytes.withLock { $0.0 }
    }

    /// Writes one file (or symlink) under `base`. In a `fresh` (new, empty) folder it is created
    /// in place; elsewhere it goes to a temp name in `tmpDir` (`.dvs/tmp`: the same file system,
    /// outside what a scan sees, created when missing) and is renamed over the old one, so a
    /// killed process never leaves a partial file or a temp file in the tree.
    /// - Throws: `DVSError.io` when the file cannot be written or renamed into place.
    static func writeFile(_ e: ManifestEntry, content: [UInt8], base: String, tmpDir: String, fresh: Bool = false) throws {
        let final = TreeWalker.cPath(base, e.path)
        if fresh {
            if e.kind == .symlink {
                var target = e.linkTarget.map { CChar(bitPattern: $0) }
                target.append(0)
                guard symlink(target, final) == 0 else {
                    throw DVSError(.io, "cannot create symlink '\(e.path)': \(String(cString: strerror(errno)))")
                }
                return
            }
            let fd = open(final, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, e.kind == .executable ? 0o755 : 0o644)
            guard fd >= 0 else { throw DVSError(.io, "cannot write '\(e.path)': \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            do { try content.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: e.path.string) } } catch { throw DVSError.wrap(error) }
            fchmod(fd, e.kind == .executable ? 0o755 : 0o644)
            return
        }
        if !FileIO.exists(tmpDir) {
            do { try FileIO.makeDirectories(tmpDir) } catch { throw DVSError.wrap(error) }
        }
        let tmpName = tmpDir + "/" + Repository.treeTempPrefix + "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let tmp = Array(tmpName.utf8CString)
        if e.kind == .symlink {
            var target = e.linkTarget.map { CChar(bitPattern: $0) }
            target.append(0)
            guard symlink(target, tmp) == 0 else {
                throw DVSError(.io, "cannot create symlink '\(e.path)': \(String(cString: strerror(errno)))")
            }
        } else {
            let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, e.kind == .executable ? 0o755 : 0o644)
            guard fd >= 0 else { throw DVSError(.io, "cannot write '\(e.path)': \(String(cString: strerror(errno)))") }
            do {
                try content.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: e.path.string) }
            } catch {
                close(fd)
                unlink(tmp)
                throw DVSError.wrap(error)
            }
            fchmod(fd, e.kind == .executable ? 0o755 : 0o644)
            close(fd)
        }
        // A folder where the file goes (left from an older layout) must be empty to be replaced.
        var st = stat()
        if lstat(final, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { rmdir(final) }
        guard rename(tmp, final) == 0 else {
            let code = errno
            let err = String(cString: strerror(code))
            unlink(tmp)
            if code == EXDEV {
                // `.dvs/tmp` is on another file system (a symlinked `.dvs`): write in place. A
                // kill mid-file leaves the journal, whose recovery rewrites what still differs.
                unlink(final)
                try writeFile(e, content: content, base: base, tmpDir: tmpDir, fresh: true)
                return
            }
            throw DVSError(.io, "cannot write '\(e.path)': \(err)", hint: "if a folder is in the way, move it and run the command again")
        }
    }

    /// The original bytes of blob `id`, verified. - Throws: `DVSError` (`.corrupt` when missing or damaged).
    func blob(_ id: ObjectID, location: BlobLocation?, decompressor: ZstdDecompressor?) throws -> [UInt8] {
        do { return try blobs.read(id, at: location, decompressor: decompressor) } catch { throw DVSError.wrap(error) }
    }

    /// Removes tracked files (or symlinks) at `paths`, then the folders that leaves empty.
    func remove(_ paths: [RepoPath]) {
        for p in paths { unlink(TreeWalker.cPath(root, p)) }
        removeEmptyParents(of: paths)
    }

    /// Stat cache rows for the files of `entries` now in the tree with the entry's kind, whose
    /// content `isVerified` vouches for (written by this process, or compared equal to the
    /// entry): the file's current `lstat` fields with the entry's blob and audio facts, recorded
    /// at `recordedAt` (ns since 1970, default now). Symlinks get no row.
    func statCacheRows(
        for entries: [ManifestEntry], recordedAt: Int64 = nowNanoseconds(), where isVerified: (ManifestEntry) -> Bool
    ) -> [(RepoPath, StatCacheEntry)] {
        var rows: [(RepoPath, StatCacheEntry)] = []
        for e in entries {
            guard let st = file(at: e.path), st.kind == e.kind, isVerified(e) else { continue }
            rows.append(
                (
                    e.path,
                    StatCacheEntry(
                        byteCount: st.size, mtimeNanoseconds: st.mtimeNanoseconds, ctimeNanoseconds: st.ctimeNanoseconds,
                        inode: st.inode, mode: st.mode, blob: e.blob, audio: e.audio, recordedAtNanoseconds: recordedAt)
                ))
        }
        return rows
    }

    /// Removes folders emptied by deletions, bottom-up, never the root.
    func removeEmptyParents(of paths: [RepoPath]) {
        var dirs = Set<RepoPath>()
        for p in paths {
            var d = p.parent
            while let x = d {
                dirs.insert(x)
                d = x.parent
            }
        }
        for d in dirs.sorted(by: { $0.bytes.count > $1.bytes.count }) { rmdir(TreeWalker.cPath(root, d)) }
    }
}
