import CGit2
import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

/// What a snapshot holds for lineage: its commit, cohort predicate, samples, hours, label counts.
public struct SnapshotLineage: Sendable {
    /// The commit the revision resolved to.
    public var commit: CommitID
    /// The revision as given.
    public var revision: Revision
    /// The `cohort-predicate` extra header of the commit or its nearest first-parent ancestor that has one.
    public var cohortPredicate: String?
    /// The commit the `cohort-source` header found with the predicate names.
    public var cohortSource: CommitID?
    /// Samples in the snapshot.
    public var sampleCount: Int
    /// Their hours.
    public var hours: Double
    /// Samples per value of the label field (text form; `""` for samples without it).
    public var labelDistribution: [String: Int]
}

/// What a caller (`dvs model add`, `dvs run`, `dvs train`) tells `Repository.registerModel`.
public struct ModelRegistration: Sendable {
    /// The artifact file (any path); its bytes are copied into the object store.
    public var artifactPath: String
    /// Display name; nil uses the artifact's file name.
    public var name: String?
    /// The training revision (`main`, `cohort/es`, a commit id), recorded as given (`HEAD` as
    /// the branch it is on; `HEAD~1` or a detached `HEAD` as the commit id it resolved to).
    public var revision: Revision
    /// The commit `revision` named when training started; nil resolves `revision` now. Set it
    /// when the branch may have moved during a long run (`dvs run` does).
    public var snapshot: CommitID?
    /// Free text.
    public var message: String = ""
    /// `classify`, `regress`, …; nil when unknown.
    public var task: String?
    /// The label field predicted; also the field `labelDistribution` counts. nil when unknown.
    public var labelField: String?
    /// Trainer parameters.
    public var parameters: [String: String] = [:]
    /// The training samples when a trainer used a subset of the snapshot (e.g. after a holdout
    /// split), by content hash; nil means every sample of the snapshot.
    public var trainingSamples: Set<ObjectID>?
    /// The command line to record; nil records the repository context's arguments.
    public var commandLine: [String]?
    /// When training started (default: now).
    public var startTime: Date = Date()
    /// When training ended; nil means now.
    public var endTime: Date?
    /// Where to look for the training code's git repository; nil is the context's current directory.
    public var codeDirectory: String?
    /// The code version when already read (e.g. before a `dvs run` child could change the tree); nil reads it now.
    public var code: CodeVersion?
    /// The model's learned parameters, when the trainer says; nil leaves it out of the record.
    public var parameterCount: Int?

    /// Creates a registration of the artifact at `artifactPath` trained on `revision`.
    public init(artifactPath: String, revision: Revision, name: String? = nil) {
        self.artifactPath = artifactPath
        self.revision = revision
        self.name = name
    }
}

/// What a caller (`dvs eval`) tells `Repository.recordEval`.
public struct EvalRegistration: Sendable {
    /// The model record evaluated.
    public var model: ModelID
    /// The evaluation revision.
    public var revision: Revision
    /// Overall metrics (JSON values: numbers, a confusion matrix as arrays, …).
    public var metrics: [String: RecordValue]
    /// Per-slice metrics (`lang=de` → metrics).
    public var slices: [String: [String: RecordValue]] = [:]
    /// Samples evaluated.
    public var sampleCount: Int
    /// Evaluation samples whose content hash was in the training snapshot.
    public var leakedSamples: Int = 0
    /// The command line; nil records the repository context's arguments.
    public var commandLine: [String]?
    /// Start time (default: now).
    public var startTime: Date = Date()
    /// End time; nil means now.
    public var endTime: Date?
    /// Where to look for the evaluator's git repository; nil is the context's current directory.
    public var codeDirectory: String?

    /// Creates a registration.
    public init(model: ModelID, revision: Revision, metrics: [String: RecordValue], sampleCount: Int) {
        self.model = model
        self.revision = revision
        self.metrics = metrics
        self.sampleCount = sampleCount
    }
}

/// A model with everything `dvs audit` shows about it.
public struct ModelAudit: Sendable {
    /// The record's id.
    public var id: ModelID
    /// The record.
    public var record: ModelRecord
    /// Its evaluations, oldest first.
    public var evals: [(id: EvalID, record: EvalRecord)]
    /// The branch the training revision names (`refs/heads/<revision>`), when it is one.
    public var branch: String?
    /// That branch's head now, when it exists.
    public var branchHead: CommitID?
    /// Samples of the training snapshot relabeled on the branch since (label or transcript changes).
    public var relabeled: [Relabel]
    /// Samples of the training snapshot removed from the branch since (renames are not removals).
    public var removed: [RepoPath]
    /// Samples of the training snapshot whose audio changed on the branch since.
    public var modified: [RepoPath]
    /// Samples added on the branch since (not in the training snapshot).
    public var added: Int
    /// Label fields added to or dropped from the branch since, each once (not as relabels).
    public var schemaChanges: [FieldSchemaChange] = []
    /// Samples of the training snapshot that purges erased since (0 when none).
    public var erasedSamples: Int = 0
    /// The purges that erased them.
    public var erasedBy: [PurgeID] = []
    /// The purge that deleted the stored copy of the artifact (it named erased samples); nil
    /// while it is stored, or when this repository never had it.
    public var artifactDeletedBy: PurgeID? = nil
}

/// One model whose training snapshot included samples matching an audit predicate.
public struct SampleAuditHit: Sendable {
    /// The model record id.
    public var id: ModelID
    /// The record.
    public var record: ModelRecord
    /// Matching samples in its training snapshot.
    public var matched: Int
    /// Their hours.
    public var hours: Double
    /// Of `matched`, how many the model was fitted on — known when its artifact is a `.dvsm`
    /// from `dvs train`, which lists its training samples' content hashes (the rest were held
    /// out); nil for artifacts trained elsewhere, where the whole snapshot counts.
    public var trained: Int?
}

extension Repository {
    /// The lineage facts of a revision's snapshot.
    ///
    /// For the whole snapshot (`only` nil) nothing is read per sample: the sample count and hours
    /// are the commit's totals (`Commit.totals`: durations summed in whole microseconds), and the
    /// label counts come from the commit's label distribution (``LabelDistribution``, cached in
    /// the sample index; on a miss carried from the parent's or tallied once, then cached). Only
    /// a field the distribution does not tally (not categorical: fractional, long or more than 50
    /// distinct values) is counted over the entries. With `only`, every entry is read.
    /// - Parameters:
    ///   - revision: any revision.
    ///   - labelField: count samples per value of this field; nil counts nothing.
    ///   - only: count only samples whose content hash is in this set (nil: all).
    /// - Throws: `DVSError.unknownRevision`, `.corrupt`.
    /// - Complexity: the commits made since the last lookup on the first-parent chain (at most
    ///   256 along a chain walked before; ``rememberedCohortCut(on:)``), then one read of the
    ///   cached label distribution (on a miss, the leaves changed since the parent's, or once
    ///   the whole manifest); the whole manifest with `only` or an untallied field.
    public func snapshotLineage(_ revision: Revision, labelField: String? = nil, only: Set<ObjectID>? = nil) throws -> SnapshotLineage {
        let id = try resolve(revision)
        let c = try commit(id)
        let cut = try rememberedCohortCut(on: id)?.commit
        var lineage = SnapshotLineage(
            commit: id, revision: revision, cohortPredicate: cut?.extra[CohortHeader.predicate],
            cohortSource: cut?.extra[CohortHeader.source].flatMap(CommitID.init(hex:)), sampleCount: Int(c.totals.sampleCount),
            hours: c.totals.audioHours, labelDistribution: [:])
        if only == nil {
            guard let field = labelField else { return lineage }
            if let counts = try labelDistribution(id).sampleCounts(of: field, sampleCount: lineage.sampleCount) {
                lineage.labelDistribution = counts
                return lineage
            }
        }
        var n = 0
        var seconds = 0.0
        var dist: [String: Int] = [:]
        for e in try entries(ofManifest: c.manifest) {
            guard let a = e.audio else { continue }
            if let only, !only.contains(e.blob) { continue }
            n += 1
            seconds += a.duration
            if let f = labelField { dist[e.annotations?[label: f]?.text ?? "", default: 0] += 1 }
        }
        lineage.labelDistribution = dist
        if only != nil {
            lineage.sampleCount = n
            lineage.hours = seconds / 3600
        }
        return lineage
    }

    /// Registers a trained artifact as a model record linked to the snapshot it was trained on.
    ///
    /// Reads the artifact, stores its bytes as an object (so a copy travels with the repository and
    /// `dvs audit PATH` matches it by SHA-256), reads the code version with libgit2, writes the
    /// record object, then indexes it in the catalog — under the repository lock, each object
    /// written to a temp file, fsynced and renamed before the catalog row exists. Then loads the
    /// snapshot into the sample index when one of its parents is there already, so that costs
    /// only the leaves it changed (best effort; `auditSamples(_:)` loads whatever is missing).
    /// - Returns: the record's id and the record.
    /// - Throws: `DVSError.badInput` when the artifact cannot be read (naming it; nothing is
    ///   written); `.unknownRevision`; `.locked`; `.io`.
    public func registerModel(_ r: ModelRegistration) throws -> (id: ModelID, record: ModelRecord) {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(r.artifactPath) } catch {
            throw DVSError(
                .badInput, "cannot read artifact '\(r.artifactPath)': \(DVSError.wrap(error).message)",
                hint: "check the path; the model file must exist when it is registered")
        }
        guard bytes.count < 1 << 30 else {
            throw DVSError(
                .badInput, "artifact '\(r.artifactPath)' is \(bytes.count) bytes; dvs stores artifacts up to 1 GiB",
                hint: "register a smaller file")
        }
        let lineage = try snapshotLineage(r.snapshot.map { Revision($0) } ?? r.revision, labelField: r.labelField, only: r.trainingSamples)
        let revision = recordedRevision(r.revision, commit: lineage.commit)
        let code = r.code ?? GitCode.version(at: r.codeDirectory ?? context.currentDirectory)
        let artifact = ObjectID.hashing(bytes)
        let record = ModelRecord(
            name: r.name ?? (r.artifactPath as NSString).lastPathComponent, artifactName: (r.artifactPath as NSString).lastPathComponent,
            artifactSHA256: artifact.hex, artifactBytes: UInt64(bytes.count), snapshot: lineage.commit, revision: revision,
            cohortPredicate: lineage.cohortPredicate, cohortSource: lineage.cohortSource, task: r.task, labelField: r.labelField,
            parameters: r.parameters, sampleCount: lineage.sampleCount, hours: lineage.hours, labelDistribution: lineage.labelDistribution,
            code: code, dvsVersion: context.dvsVersion, commandLine: r.commandLine ?? context.arguments,
            startTime: r.startTime.timeIntervalSince1970,
            endTime: (r.endTime ?? Date()).timeIntervalSince1970, host: context.hostName, message: r.message,
            registeredBy: identity, parameterCount: r.parameterCount)
        let encoded = LineageEncoding.encode(record)
        let id = ModelID(ObjectID.hashing(encoded))
        let lock = try self.lock("dvs model add")
        defer { lock.release() }
        do {
            try objects.write(bytes, id: artifact)
            try objects.write(encoded, id: id.object)
            try objects.sync()
            try catalog.write { tx in
                try tx.insertModel(
                    ModelRow(
                        id: id, name: record.name, artifact: artifact, snapshot: lineage.commit, revision: revision,
                        createdAt: record.endTime))
            }
        } catch { throw DVSError.wrap(error) }
        warmSampleIndexIfIncremental(lineage.commit)
        return (id, record)
    }

    /// The revision text a model record keeps for `revision`, which resolved to `commit`: `HEAD`
    /// as the branch it is on, so the audit can follow that branch later; a revision with steps
    /// (`HEAD~1`, `main^2`) or a detached HEAD as `commit`'s id, since what it names moves with
    /// HEAD or the branch; any other revision (a branch, a tag, an id) as given.
    func recordedRevision(_ revision: Revision, commit: CommitID) -> String {
        if !revision.steps.isEmpty { return commit.hex }
        guard revision.base == .head else { return revision.spelling }
        return currentBranch() ?? commit.hex
    }

    /// Loads `snapshot` into the sample index after a registration, when that costs only the
    /// leaves it changed: the index holds one of its parents (leaves are shared, so only the
    /// others are decoded). Without an indexed parent it would decode every entry, so it is left
    /// to the first `dvs audit --samples` or `dvs query` that needs it. Best effort: a cache.
    private func warmSampleIndexIfIncremental(_ snapshot: CommitID) {
        guard let parents = try? commit(snapshot).parents, let index = try? openSampleIndex(),
            let missing = try? index.missing([snapshot] + parents), missing.first == snapshot,
            missing.count <= parents.count
        else { return }
        try? self.index(index, snapshots: [snapshot])
    }

    /// Records an evaluation of a model on a snapshot, as an eval record object indexed in the catalog.
    /// - Throws: `DVSError.unknownRevision` for the model or the revision; `.locked`; `.io`.
    public func recordEval(_ r: EvalRegistration) throws -> (id: EvalID, record: EvalRecord) {
        var r = r
        r.model = currentLineageRecord(r.model)  // an id a purge replaced: the record standing for it
        _ = try modelRecord(r.model)
        let snapshot = try resolve(r.revision)
        let record = EvalRecord(
            model: r.model, snapshot: snapshot, revision: r.revision.spelling, metrics: r.metrics, slices: r.slices,
            sampleCount: r.sampleCount, leakedSamples: r.leakedSamples,
            code: GitCode.version(at: r.codeDirectory ?? context.currentDirectory),
            dvsVersion: context.dvsVersion, commandLine: r.commandLine ?? context.arguments, startTime: r.startTime.timeIntervalSince1970,
            endTime: (r.endTime ?? Date()).timeIntervalSince1970, host: context.hostName)
        let encoded = LineageEncoding.encode(record)
        let id = EvalID(ObjectID.hashing(encoded))
        let lock = try self.lock("dvs eval")
        defer { lock.release() }
        do {
            try objects.write(encoded, id: id.object)
            try objects.sync()
            try catalog.write { tx in try tx.insertEval(id: id, model: r.model, snapshot: snapshot, createdAt: record.endTime) }
        } catch { throw DVSError.wrap(error) }
        return (id, record)
    }

    /// The record that stands for `id` now: `id` itself, or, for a record a purge wrote again
    /// without erased label values (and deleted), its replacement (``PurgeRecord/lineage``).
    func currentLineageRecord<ID: TypedObjectID>(_ id: ID) -> ID {
        guard !objects.contains(id.object), let records = try? purges() else { return id }
        return Self.lineageEnd(id.object, map: Self.lineageMap(records), where: objects.contains).map(ID.init) ?? id
    }

    /// Reads a model record (verified against its id); the id of a record a purge wrote again
    /// reads its replacement.
    /// - Throws: `DVSError.corrupt` when missing or damaged.
    public func modelRecord(_ id: ModelID) throws -> ModelRecord {
        let id = currentLineageRecord(id)
        do { return try LineageEncoding.decodeModel(objects.read(id.object)) } catch {
            throw DVSError(
                .corrupt, "cannot read model record '\(id.hex)': \(DVSError.wrap(error).message)",
                next: .fsckOrPull)
        }
    }

    /// Reads an eval record (verified against its id); the id of a record a purge wrote again
    /// reads its replacement.
    /// - Throws: `DVSError.corrupt` when missing or damaged.
    public func evalRecord(_ id: EvalID) throws -> EvalRecord {
        let id = currentLineageRecord(id)
        do { return try LineageEncoding.decodeEval(objects.read(id.object)) } catch {
            throw DVSError(
                .corrupt, "cannot read eval record '\(id.hex)': \(DVSError.wrap(error).message)",
                next: .fsckOrPull)
        }
    }

    /// Every model record, oldest first.
    /// - Throws: `DVSError.corrupt` when a record cannot be read.
    public func modelRecords() throws -> [(id: ModelID, record: ModelRecord)] {
        try catalog.models().map { ($0.id, try modelRecord($0.id)) }
    }

    /// The artifact bytes of a model (verified against its SHA-256).
    /// - Throws: `DVSError.badInput` naming the purge when one deleted the stored copy (it named
    ///   erased samples); `.corrupt` when the stored copy is missing or damaged.
    public func artifact(of record: ModelRecord) throws -> [UInt8] {
        guard let id = ObjectID(hex: record.artifactSHA256) else {
            throw DVSError(.corrupt, "model record has a bad artifact hash '\(record.artifactSHA256)'")
        }
        if !objects.contains(id), let p = try? purges().first(where: { $0.artifacts?.contains(id.hex) == true }) {
            throw DVSError(
                .badInput,
                "the artifact of model '\(record.name)' (sha256 \(id.hex)) was deleted by purge \(p.id.short) (\(p.rule)): it named erased samples",
                hint: "retrain the model without them and register the new artifact")
        }
        do { return try objects.read(id) } catch {
            throw DVSError(
                .corrupt, "cannot read the artifact '\(id.hex)' of model '\(record.name)': \(DVSError.wrap(error).message)",
                next: .pullToFetch)
        }
    }

    /// Finds the models a user means: a record id or prefix (≥ 4 hex; the id of a record a purge
    /// wrote again finds its replacement), an artifact SHA-256 or prefix, a model name, or the
    /// path of an artifact file (matched by its SHA-256; of several records of that artifact,
    /// those named after the file when there are any).
    /// - Returns: every matching model, oldest first (several when an artifact was registered twice).
    /// - Throws: `DVSError.unknownRevision` when nothing matches, with a hint.
    public func resolveModels(_ spec: String) throws -> [(id: ModelID, record: ModelRecord)] {
        let rows = try catalog.models()
        var hits: [ModelRow] = []
        var st = stat()
        if stat(spec, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, let bytes = try? FileIO.read(spec) {
            let sha = ObjectID.hashing(bytes)
            hits = rows.filter { $0.artifact == sha }
            // Byte-identical artifacts trained twice (same data, same seed): the record named
            // after this file is the one meant.
            let named = hits.filter { $0.name == (spec as NSString).lastPathComponent }
            if !named.isEmpty { hits = named }
            if hits.isEmpty {
                throw DVSError(
                    .unknownRevision, "no model record has the artifact '\(spec)' (SHA-256 \(sha.hex))",
                    next: .registerModel(file: spec))
            }
        } else {
            let lower = spec.lowercased()
            let isHex = lower.count >= 4 && lower.allSatisfy(\.isHexDigit)
            hits = rows.filter { $0.name == spec }
            if hits.isEmpty, isHex { hits = rows.filter { $0.id.hex.hasPrefix(lower) } }
            if hits.isEmpty, isHex { hits = rows.filter { $0.artifact.hex.hasPrefix(lower) } }
            if hits.isEmpty, isHex, let records = try? purges() {
                // A record a purge wrote again (without erased label values): its new id.
                let now = Set(
                    records.flatMap { ($0.lineage ?? [:]).keys }.filter { $0.hasPrefix(lower) }.compactMap(ObjectID.init(hex:))
                        .map { Self.currentLineageRecord($0, in: records) })
                hits = rows.filter { now.contains($0.id.object) }
            }
            if Set(hits.map(\.id)).count > 1, isHex, !rows.contains(where: { $0.name == spec }),
                Set(hits.map(\.artifact)).count > 1
            {
                throw DVSError(
                    .unknownRevision, "'\(spec)' is ambiguous: \(hits.count) models match",
                    next: .longerModelID)
            }
        }
        guard !hits.isEmpty else {
            throw DVSError(
                .unknownRevision, "no model '\(spec)'",
                next: .nameAModel)
        }
        return try hits.map { ($0.id, try modelRecord($0.id)) }
    }

    /// The full lineage of a model and what changed in its data since: the branch it was trained
    /// from (when the revision names a branch) compared with the training snapshot.
    /// - Throws: `DVSError.corrupt` when a record, commit or manifest cannot be read.
    /// - Complexity: reads two manifests (training snapshot and branch head).
    public func audit(model given: ModelID) throws -> ModelAudit {
        let id = currentLineageRecord(given)
        let record = try modelRecord(id)
        let evals = try catalog.evals(of: id).map { ($0, try evalRecord($0)) }
        let snap = record.snapshot
        var audit = ModelAudit(
            id: id, record: record, evals: evals, branch: nil, branchHead: nil, relabeled: [], removed: [], modified: [], added: 0)
        (audit.erasedSamples, audit.erasedBy) = erasedSamples(of: snap)
        if let a = ObjectID(hex: record.artifactSHA256), !objects.contains(a) {
            audit.artifactDeletedBy = try purges().first { $0.artifacts?.contains(a.hex) == true }?.id
        }
        let branchRef = RefName(fullName: record.revision).flatMap { $0.kind == .branch ? $0 : nil } ?? .branch(record.revision)
        if let head = try catalog.ref(branchRef) {
            audit.branch = branchRef.branchName
            audit.branchHead = head
            if head != snap {
                let old = try entries(ofManifest: commit(snap).manifest).filter { $0.audio != nil }
                let new = try entries(ofManifest: commit(head).manifest).filter { $0.audio != nil }
                let d = datasetDiff(old, new)
                audit.relabeled = d.relabeled
                audit.schemaChanges = d.schemaChanges
                audit.removed = d.removed.map(\.path)
                audit.modified = d.modified.map(\.old.path)
                audit.added = d.added.count
            }
        }
        return audit
    }
}

/// Reads the version of the code being run from git, with libgit2.
public enum GitCode {
    /// The git repository containing `directory` (searching upwards): HEAD's commit and branch, and
    /// whether tracked files differ from HEAD. Outside git: commit nil ("none"), not dirty.
    /// The corresponding C functions are `git_repository_open_ext`, `git_repository_head` and
    /// `git_status_list_new`.
    public static func version(at directory: String) -> CodeVersion {
        LibGit2.ready
        var repo: OpaquePointer?
        guard git_repository_open_ext(&repo, directory, 0, nil) == 0, let repo else {
            return CodeVersion(commit: nil, branch: nil, dirty: false, repository: nil)
        }
        defer { git_repository_free(repo) }
        let workdir = git_repository_workdir(repo).map { String(cString: $0) }
        var commit: String?
        var branch: String?
        var head: OpaquePointer?
        if git_repository_head(&head, repo) == 0, let head {
            defer { git_reference_free(head) }
            if let oid = git_reference_target(head) {
                var buf = [CChar](repeating: 0, count: 41)
                git_oid_tostr(&buf, 41, oid)
                commit = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            if git_reference_is_branch(head) != 0, let s = git_reference_shorthand(head) { branch = String(cString: s) }
        } else {
            // An unborn branch: HEAD names it but it has no commit.
            var ref: OpaquePointer?
            if git_reference_lookup(&ref, repo, "HEAD") == 0, let ref {
                if let t = git_reference_symbolic_target(ref) {
                    let target = String(cString: t)
                    branch = RefName(fullName: target)?.branchName ?? target
                }
                git_reference_free(ref)
            }
        }
        var dirty = false
        if git_repository_is_bare(repo) == 0 {
            var opts = git_status_options()
            git_status_options_init(&opts, UInt32(GIT_STATUS_OPTIONS_VERSION))
            opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
            opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES.rawValue
            var list: OpaquePointer?
            if git_status_list_new(&list, repo, &opts) == 0, let list {
                dirty = git_status_list_entrycount(list) > 0
                git_status_list_free(list)
            }
        }
        let root = workdir.map { $0.hasSuffix("/") && $0.count > 1 ? String($0.dropLast()) : $0 }
        return CodeVersion(commit: commit, branch: branch, dirty: dirty, repository: root)
    }
}
