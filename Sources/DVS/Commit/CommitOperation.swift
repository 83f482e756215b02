import CLazyLibs
import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation

/// What `Repository.commit` did.
public struct CommitSummary: Sendable {
    /// The new commit.
    public var id: CommitID
    /// The branch that moved, or nil when HEAD is detached.
    public var branch: String?
    /// The commit.
    public var commit: Commit
    /// Changes against the parent, sorted by path.
    ///
    /// Those of a first commit are made when read, from the committed entries, so a caller that
    /// only counts them (``changeCounts``) never holds a million of them.
    public var changes: [Change] {
        get { changeList.changes }
        set { changeList = .listed(newValue) }
    }
    /// How many paths `changes` adds, modifies and deletes (without making them).
    public var changeCounts: ChangeCounts { changeList.counts }
    private var changeList: ChangeList
    /// Problems noticed in the files this commit changed (undecodable audio, NFC/NFD twins, …).
    public var warnings: [ScanWarning]
    /// Blobs stored for the first time.
    public var newBlobCount: Int
    /// Original size of those blobs.
    public var newRawBytes: UInt64
    /// Bytes of compressed frames written to packs for them.
    public var storedBytes: UInt64
    /// Bytes of new metadata objects (manifest chunks and the commit), before compression.
    public var metadataBytes: UInt64
    /// Files read and hashed.
    public var hashedFiles: Int
    /// Label warnings (errors abort the commit instead), sorted by file and line.
    public var labelFindings: [LabelFinding] = []
    /// The label sources recognised in the tree.
    public var labelTables: [LabelTableInfo] = []
    /// What the `post-commit` hook wrote to stderr, if one ran.
    public var postCommitOutput: String?
    /// Bytes of audio stored as they are (files that did not fit in `pack.defer-audio-after`),
    /// for `dvs repack` to code
    /// (``Repository/repack(progress:)``); 0 when the commit coded all it wrote.
    public var deferredAudioBytes: UInt64 = 0
    /// Why the commit read the whole tree's labels and rebuilt the whole manifest; nil when it
    /// cost only what changed (tests and benchmarks look at this).
    var fullCommitReason: FullCommitReason?

    /// Creates a summary of `changes` (the commit of changes, tests).
    init(
        id: CommitID, branch: String?, commit: Commit, changes: [Change], warnings: [ScanWarning], newBlobCount: Int,
        newRawBytes: UInt64, storedBytes: UInt64, metadataBytes: UInt64, hashedFiles: Int, labelFindings: [LabelFinding] = [],
        labelTables: [LabelTableInfo] = [], postCommitOutput: String? = nil, fullCommitReason: FullCommitReason? = nil
    ) {
        self.init(
            id: id, branch: branch, commit: commit, changeList: .listed(changes), warnings: warnings, newBlobCount: newBlobCount,
            newRawBytes: newRawBytes, storedBytes: storedBytes, metadataBytes: metadataBytes, hashedFiles: hashedFiles,
            labelFindings: labelFindings, labelTables: labelTables, postCommitOutput: postCommitOutput,
            fullCommitReason: fullCommitReason)
    }

    /// Creates a summary whose changes are `changeList` (a full commit).
    fileprivate init(
        id: CommitID, branch: String?, commit: Commit, changeList: ChangeList, warnings: [ScanWarning], newBlobCount: Int,
        newRawBytes: UInt64, storedBytes: UInt64, metadataBytes: UInt64, hashedFiles: Int, labelFindings: [LabelFinding],
        labelTables: [LabelTableInfo], postCommitOutput: String?, fullCommitReason: FullCommitReason?
    ) {
        self.id = id
        self.branch = branch
        self.commit = commit
        self.changeList = changeList
        self.warnings = warnings
        self.newBlobCount = newBlobCount
        self.newRawBytes = newRawBytes
        self.storedBytes = storedBytes
        self.metadataBytes = metadataBytes
        self.hashedFiles = hashedFiles
        self.labelFindings = labelFindings
        self.labelTables = labelTables
        self.postCommitOutput = postCommitOutput
        self.fullCommitReason = fullCommitReason
    }
}

/// How many paths a commit added, modified, deleted and renamed.
public struct ChangeCounts: Sendable, Equatable {
    /// Paths only in the commit (renames' new paths aside).
    public var added = 0
    /// Paths in both whose file differs.
    public var modified = 0
    /// Paths only in the parent (renames' old paths aside).
    public var deleted = 0
    /// Files moved to another path, content unchanged: a deleted path paired with an added one
    /// (``renamePairs(_:)``, the rule of `dvs status` and `dvs diff`).
    public var renamed = 0
    /// All of them, a rename counted once.
    public var total: Int { added + modified + deleted + renamed }
}

/// The changes of a commit: listed, or, for a first commit, every committed entry added (the
/// entries are held anyway; a list of a million `Change`s would double them).
private enum ChangeList: Sendable {
    case listed([Change])
    case allAdded([ManifestEntry])

    var isEmpty: Bool {
        switch self {
        case .listed(let changes): return changes.isEmpty
        case .allAdded(let entries): return entries.isEmpty
        }
    }

    var changes: [Change] {
        switch self {
        case .listed(let changes): return changes
        case .allAdded(let entries): return entries.map { Change(kind: .added, path: $0.path, old: nil, new: $0) }
        }
    }

    var counts: ChangeCounts {
        switch self {
        case .listed(let changes):
            var counts = ChangeCounts()
            for c in changes {
                switch c.kind {
                case .added: counts.added += 1
                case .modified: counts.modified += 1
                case .deleted: counts.deleted += 1
                }
            }
            counts.renamed = renamePairs(changes).count
            counts.added -= counts.renamed
            counts.deleted -= counts.renamed
            return counts
        case .allAdded(let entries): return ChangeCounts(added: entries.count)
        }
    }

    /// The warnings among `warnings` whose path changed (compared as text, as
    /// `ScanWarning.path` is), in their order.
    func filter(_ warnings: [ScanWarning]) -> [ScanWarning] {
        guard !warnings.isEmpty else { return [] }
        let warned = Set(warnings.map(\.path))
        var changed = Set<String>()
        func look(_ path: RepoPath) {
            let text = path.string
            if warned.contains(text) { changed.insert(text) }
        }
        switch self {
        case .listed(let changes): for c in changes { look(c.path) }
        case .allAdded(let entries): for e in entries { look(e.path) }
        }
        return warnings.filter { changed.contains($0.path) }
    }
}

/// Options for `Repository.commit`.
public struct CommitOptions: Sendable {
    /// The message.
    public var message: String
    /// `Name <email>`; nil uses `identity`.
    public var author: String?
    /// Commit even when the snapshot equals the parent's.
    public var allowEmpty = false
    /// Treat undecodable audio, and audio whose header and bytes disagree (truncated, never
    /// finalised), as an error that commits nothing.
    public var strict = false
    /// Skip the `pre-commit` hook (git's `--no-verify`).
    public var noVerify = false
    /// Parents after HEAD (the merged commit, for a merge commit).
    public var extraParents: [CommitID] = []
    /// When given, only the files at and below these paths (files or folders, relative to the
    /// root) are committed, as git's `commit -- PATH…` does: everywhere else the commit keeps
    /// the parent's entries, whatever the working tree holds. A commit of changes then costs
    /// what lies below these paths, not the whole tree (no walk of the rest).
    public var paths: [RepoPath]?
    /// Extra commit headers (`Commit.extra`).
    public var extra: [String: String] = [:]
    /// Receives what the `pre-commit` and `post-commit` hooks write to their standard output,
    /// chunk by chunk as they write it (on a reader thread, before the hook's run returns); nil
    /// discards it. The dvs command line writes it to its stderr, as git does. (A hook's stderr
    /// comes back in the error or in ``CommitSummary/postCommitOutput`` instead.)
    public var hookOutput: (@Sendable (Data) -> Void)?
    /// Creates options.
    public init(message: String, author: String? = nil, allowEmpty: Bool = false, strict: Bool = false) {
        self.message = message
        self.author = author
        self.allowEmpty = allowEmpty
        self.strict = strict
    }
}

extension Repository {
    /// Snapshots the whole working tree (minus `.dvs/`, `.git/` and `.dvsignore` matches) as a new
    /// commit on the current branch.
    ///
    /// Pipeline: walk → stat → (changed files only) read → SHA-256 → audio probe → codec →
    /// zstd → pack, on `workers` threads with one file in flight each. Packs and objects are
    /// fsynced before the branch moves; new blobs go through `blobs` (one write session, made
    /// durable and indexed before the metadata is written; a commit that fails after that leaves
    /// them stored and unreferenced); the move, its reflog entry and the stat cache land in one
    /// SQLite transaction. Killed at any point, the repository shows the old commit or the new one.
    /// - Throws: `DVSError.nothingToCommit` when nothing changed and `allowEmpty` is false;
    ///   `.badInput` for undecodable or damaged audio under `strict`, a bad `--author`, or a file that changed
    ///   while read; `.io` (disk full, unreadable file); `.locked`. In every case nothing is committed.
    ///
    /// Before anything is written, the tree's label tables and sidecars are parsed, joined to the
    /// samples and validated (`LabelBuilder`); a label error aborts the commit (`.badInput`, with
    /// every finding as `file:line: …` in `details`). Then the `pre-commit` hook, if any, reads the
    /// proposed samples as JSON Lines and may refuse the commit (`.badInput`, its stderr in
    /// `details`). The `post-commit` hook runs after the branch moved and the lock is released.
    public func commit(_ options: CommitOptions, progress: ProgressHandler? = nil) throws -> CommitSummary {
        var summary = try commitLocked(options, progress: progress)
        if let run = try? runHook(
            .postCommit, arguments: [summary.id.hex], input: { Data((summary.id.hex + "\n").utf8) }, output: options.hookOutput)
        {
            summary.postCommitOutput = run.stderr
        }
        return summary
    }

    /// Refuses paths a commit of some paths cannot take: one that names nothing in the working
    /// tree nor in HEAD, and one below a file or symlink of HEAD (the commit would keep HEAD's
    /// `a.wav` beside the new `a.wav/x.wav`, a snapshot no checkout can write).
    /// - Throws: `DVSError.badInput`, naming the path.
    /// - Complexity: an `lstat` and a range of stat cache rows per path, HEAD's entries at each
    ///   path and its folders; HEAD's whole manifest only for a path found nowhere else while
    ///   the stat cache does not mirror HEAD.
    private func checkCommitPaths(_ paths: [RepoPath]) throws {
        let parent = try catalog.head()?.commit
        var editor = try parent.map { try ManifestEditor(store: snapshots, root: commit($0).manifest) }
        var folders: Set<RepoPath> = []
        for p in paths {
            var q = p.parent
            while let a = q {
                folders.insert(a)
                q = a.parent
            }
        }
        if let found = try editor?.entries(at: folders.sorted()), let file = found.keys.sorted().first,
            let below = paths.sorted().first(where: { $0.isWithin(file) })
        {
            throw DVSError(
                .badInput,
                "'\(below)' lies below '\(file)', which HEAD holds as a file: a commit of '\(below)' alone would keep both; nothing was committed",
                hint: "give '\(file)' itself as the path (its folder is committed whole, the old file deleted), or commit the whole tree")
        }
        for p in paths where workingTree.file(at: p) == nil {
            var known = false
            try catalog.forEachStatStamp(within: p) { _, _ in known = true }
            if !known, let parent, var editor {
                // The stat cache mirrors HEAD when its base is HEAD; otherwise (after a reindex,
                // say) HEAD itself is asked.
                if try editor.entries(at: [p])[p] != nil {
                    known = true
                } else if try catalog.statCacheBase() != parent {
                    known = try entries(ofManifest: commit(parent).manifest).contains { $0.path.isWithin(p) }
                }
            }
            if !known {
                throw DVSError(
                    .badInput, "path '\(p)' matches no file in the working tree or in HEAD; nothing was committed",
                    hint: "paths are from the top of the working tree, wherever the command runs; check the spelling")
            }
        }
    }

    private func commitLocked(_ options: CommitOptions, progress: ProgressHandler?) throws -> CommitSummary {
        let lock = try self.lock("dvs commit")
        defer { lock.release() }
        // One malloc arena for every thread: the workers' freed file buffers are then in the heap
        // the label join reuses, instead of in arenas of their own that a trim only partly returns
        // (the 10k corpus's initial commit peaked at 59–60 MiB so, 60–65 MiB without). The
        // workers allocate a few buffers per file, so they do not wait on the one arena's lock.
        // glibc's own MALLOC_ARENA_MAX, when set, is left to decide.
        if context.environment["MALLOC_ARENA_MAX"] == nil { _ = mallopt(M_ARENA_MAX, 1) }
        let now = Int64(Date().timeIntervalSince1970)
        let tz = context.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(now))) / 60
        let committerText = identity
        guard let committer = Signature(parsing: committerText, time: now, timeZoneOffsetMinutes: tz) else {
            throw DVSError(.badInput, "cannot use committer identity '\(committerText)'", next: .setAuthorIdentity)
        }
        var author = committer
        if let a = options.author {
            guard let parsed = Signature(parsing: a, time: now, timeZoneOffsetMinutes: tz) else {
                throw DVSError(.badInput, "cannot parse author '\(a)'", next: .writeAuthor)
            }
            author = parsed
        }
        let message = options.message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty else { throw DVSError(.usage, "empty commit message", next: .passMessage) }

        if let paths = options.paths {
            guard options.extraParents.isEmpty else {
                throw DVSError(
                    .usage, "a merge commit records the whole tree; it cannot be limited to some paths",
                    hint: "leave out the paths to conclude the merge")
            }
            try checkCommitPaths(paths)
        }
        let head = try catalog.head() ?? .branch("main", nil)
        let parent = head.commit
        let writer: any BlobWriteSession
        do { writer = try blobs.beginWrite(deferringAudioAfter: deferAudioAfter) } catch { throw DVSError.wrap(error) }
        var fullReason: FullCommitReason? = .unborn
        var carried: (blobs: Int, rawBytes: UInt64) = (0, 0)
        do {
            if let parent {
                switch try commitChanges(
                    options, head: head, parent: parent, author: author, committer: committer, message: message, writer: writer)
                {
                case .success(var summary):
                    summary.deferredAudioBytes = writer.deferredBytes
                    return summary
                case .failure(let fallback):
                    // Blobs it wrote stay in `writer`; the full scan below finds them there.
                    fullReason = fallback.reason
                    carried = (fallback.newBlobCount, fallback.newRawBytes)
                }
            }
            let known = try blobs.ids()
            let parentCommit = try parent.map { try commit($0) }
            let base = try parentCommit.map { try entries(ofManifest: $0.manifest) } ?? []
            var deltaBases: [RepoPath: ObjectID] = [:]
            for e in base where e.audio == nil && e.kind != .symlink && e.byteCount >= UInt64(PackedBlobStore.minDeltaSize) {
                deltaBases[e.path] = e.blob
            }
            var scan = try workingTree.scan(
                writer: writer, knownBlobs: known, deltaBases: deltaBases, within: options.paths, progress: progress)
            // Under strict, audio that does not decode and audio whose header and bytes disagree
            // (a truncated or never finalised recording: a training set would read part of it,
            // or none) are both refused.
            let undecodable = scan.warnings.filter { $0.kind == .undecodableAudio }
            let damaged = scan.warnings.filter { $0.kind == .damagedAudio }
            if options.strict && !(undecodable.isEmpty && damaged.isEmpty) {
                writer.abort()
                var what: [String] = []
                if !undecodable.isEmpty {
                    what.append(
                        "\(counted(undecodable.count, "file")) named like audio \(undecodable.count == 1 ? "does" : "do") not decode")
                }
                if !damaged.isEmpty {
                    what.append("\(counted(damaged.count, "audio file")) \(damaged.count == 1 ? "is" : "are") damaged")
                }
                throw DVSError(
                    .badInput, what.joined(separator: " and ") + " (--strict)",
                    details: (undecodable + damaged).map {
                        "\($0.path): \($0.message.replacingOccurrences(of: "; stored byte-exact as a plain file", with: ""))"
                    }, next: .fixAudioOrDropStrict)
            }
            // Blobs are durable and indexed from here, before the label join, so the session's
            // list of a million pack entries is not held through it; a refusal below (label
            // errors, nothing to commit, the pre-commit hook) undoes them (`rollback`), and any
            // other failure leaves them unreferenced.
            try writer.finish()
            // The walk's list and the scan's slots are freed by now, but glibc keeps freed heap in
            // its arenas: hand it back before the label join (one pass over the free lists, ≈ ms).
            _ = malloc_trim(0)
            // The scanned entries move into the annotated tree: a million entries are held once.
            // The stat cache rows are made from them as they are written (`cacheUpdates`); a
            // commit of some paths reorders them, so its (few) rows are made whole first.
            let listedUpdates = options.paths == nil ? nil : scan.cacheUpdates
            var scanned = scan.entries
            scan.entries = []
            var tree: AnnotatedTree
            if let paths = options.paths {
                // Some paths only: the parent's entries everywhere else, and its label files read
                // from the store rather than from the working tree.
                scanned += base.filter { e in !paths.contains { e.path.isWithin($0) } }
                scanned.sort { $0.path < $1.path }
                tree = try annotateWorkingTree(consume scanned, previous: base, committedOutside: paths)
            } else {
                tree = try annotateWorkingTree(consume scanned, previous: base)
            }
            tree.labels.findings += try droppedLabelSources(parent: parent, now: tree, strict: options.strict)
            if tree.labels.hasErrors {
                writer.rollback()
                let errors = tree.labels.findings.filter { $0.severity == .error }
                let files = Set(errors.map(\.file)).sorted()
                throw DVSError(
                    .badInput, "\(counted(errors.count, "label error")) in \(files.joined(separator: ", ")); nothing was committed",
                    hint: "fix what is named above (file:line) and commit again; warnings alone do not stop a commit",
                    details: errors.map(\.description) + tree.labels.findings.filter { $0.severity == .warning }.map(\.description))
            }
            let cacheUpdates: AnySequence<(RepoPath, StatCacheEntry)> =
                listedUpdates.map { AnySequence($0) } ?? AnySequence(scan.cacheUpdates(of: tree.entries))
            let changes: ChangeList = base.isEmpty ? .allAdded(tree.entries) : .listed(diffEntries(base, tree.entries))
            if changes.isEmpty && !options.allowEmpty {
                writer.rollback()
                // Still worth keeping what was hashed; the tree is HEAD's, so the rows now mirror it.
                try? catalog.write { tx in
                    try tx.updateStatCache(cacheUpdates, removing: scan.removedFromCache, settled: true)
                    if let paths = options.paths {
                        try tx.settleStatCache(within: paths)
                        return  // the rows elsewhere were not looked at
                    }
                    try tx.settleStatCache()
                    try tx.setStatCacheBase(parent)
                    if let parent, let tables = try? JSONEncoder().encode(tree.labels.tables) {
                        try tx.setLabelSources(tables, for: parent)
                    }
                }
                throw DVSError(
                    .nothingToCommit, "nothing to commit, working tree matches \(parent.map { "commit \($0.short)" } ?? "the empty tree")",
                    next: .allowEmpty)
            }
            if !options.noVerify, let run = try runHook(.preCommit, input: { preCommitInput(tree.entries) }, output: options.hookOutput),
                run.status != 0
            {
                writer.rollback()
                throw DVSError(
                    .badInput, "the pre-commit hook refused the commit (exit status \(run.status)); nothing was committed",
                    details: run.stderr.split(separator: "\n", omittingEmptySubsequences: true).map { "pre-commit: " + $0 },
                    next: .fixOrSkipPreCommitHook)
            }
            let wordsBytes = try storeWords(tree)
            let (manifest, totals, manifestBytes) = try writeManifest(tree.entries)
            let c = Commit(
                manifest: manifest, parents: (parent.map { [$0] } ?? []) + options.extraParents, author: author, committer: committer,
                totals: totals, extra: options.extra, message: message)
            let encoded = c.encoded()
            let id = CommitID(ObjectID.hashing(encoded))
            try objects.write(encoded, id: id.object)
            try objects.sync()
            let tables: Data
            do { tables = try JSONEncoder().encode(tree.labels.tables) } catch { throw DVSError.wrap(error) }
            try recordCommit(
                id, c, head: head, parent: parent, subject: message, committer: committer, cacheUpdates: cacheUpdates,
                cacheRemovals: scan.removedFromCache, labelSources: tables, within: options.paths)
            let branch: String?
            if case .branch(let name, _) = head { branch = name } else { branch = nil }
            recordLabelDistribution(id, commit: c, entries: tree.entries)
            var summary = CommitSummary(
                id: id, branch: branch, commit: c, changeList: changes, warnings: changes.filter(scan.warnings),
                newBlobCount: scan.newBlobCount + carried.blobs, newRawBytes: scan.newRawBytes + carried.rawBytes,
                storedBytes: writer.storedBytes, metadataBytes: manifestBytes + wordsBytes + UInt64(encoded.count),
                hashedFiles: scan.hashedFiles,
                labelFindings: tree.labels.findings, labelTables: tree.labels.tables, postCommitOutput: nil, fullCommitReason: fullReason)
            summary.deferredAudioBytes = writer.deferredBytes
            return summary
        } catch {
            // Nothing references the session's blobs unless the ref transaction committed, and
            // nothing after it throws: undo them (their packs too, when already indexed).
            writer.rollback()
            throw DVSError.wrap(error)
        }
    }
}

extension Repository {
    /// Findings for the files that were label sources of `parent` (as recorded when it was
    /// committed here) and are still in the tree but no longer read as one: a typo in a table's
    /// header (no `path` column), a sidecar that no longer parses. Their labels would be dropped
    /// without a word, the file kept as an ordinary one; this says so, as a warning, or as an
    /// error under `strict`. Nothing for a file `dvs.toml` now ignores (dropped on purpose), when
    /// `parent`'s sources are not recorded (a commit fetched from a remote), or when none was lost.
    /// - Complexity: O(k) for k sources, plus one pass over the entries when one was lost.
    /// - Throws: nothing but what reading the catalog throws, as `DVSError`.
    func droppedLabelSources(parent: CommitID?, now tree: AnnotatedTree, strict: Bool) throws -> [LabelFinding] {
        guard let parent, let data = try catalog.labelSources(of: parent),
            let before = try? JSONDecoder().decode([LabelTableInfo].self, from: data)
        else { return [] }
        let read = Set(tree.labels.tables.map(\.path))
        // A file dvs.toml now ignores was dropped on purpose.
        let lost = before.filter { $0.format != "config" && !read.contains($0.path) && !tree.labels.config.isIgnored($0.path) }
        guard !lost.isEmpty else { return [] }
        let lostPaths = Set(lost.map(\.path))
        var present = Set<String>()
        for e in tree.entries where e.kind != .symlink {
            let p = e.path.string
            if lostPaths.contains(p) { present.insert(p) }
        }
        return lost.filter { present.contains($0.path) }.map { t in
            LabelFinding(
                strict ? .error : .warning, "no-longer-a-label-source", file: t.path,
                "was a label source of commit \(parent.short) (\(t.format), \(counted(t.samples, "sample")) labelled) and is no longer read as one, so its labels are dropped",
                hint: (t.format == "deepgram" || t.format == "label-studio"
                    ? "check that it is whole, valid JSON"
                    : "check its key column's name (path, file_name, audio_filepath…)")
                    + "; fix it, or add it to ignore under [labels] in dvs.toml to drop its labels on purpose"
            )
        }
    }
}
