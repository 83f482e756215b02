import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

extension Repository {
    /// Uploads the lineage records (and model artifacts) the remote lacks.
    ///
    /// Layout (`schema/FORMAT.md` § Remotes): record and artifact objects under `objects/<hex>`
    /// like every metadata object, then a marker `records/<record hex>` whose body is the
    /// record's kind (`model` or `eval`). The marker is written last, so a remote that lists a
    /// record has its bytes and its artifact.
    /// - Parameter remoteObjects: ids already under `objects/` on the remote.
    /// - Returns: records uploaded now.
    /// - Throws: `DVSError.remote`/`.io` when an upload fails (run push again: it resumes).
    func pushRecords(store: any RemoteStore, remoteName: String, remoteObjects: Set<ObjectID>, transfers: Int, meter: TransferMeter) throws
        -> Int
    {
        let local = try catalog.lineageRecordIDs()
        if local.isEmpty { return 0 }
        let markers = Set(try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) })
        let todo = local.subtracting(markers).sorted()
        if todo.isEmpty { return 0 }
        let objects = self.objects
        var uploads: [ObjectID] = []
        var kinds: [ObjectID: String] = [:]
        for id in todo {
            let bytes = try objects.read(id)
            let kind = LineageEncoding.kind(of: bytes) ?? "model"
            kinds[id] = kind
            if kind == "model", let r = try? LineageEncoding.decodeModel(bytes), let a = ObjectID(hex: r.artifactSHA256),
                objects.contains(a), !remoteObjects.contains(a)
            {
                uploads.append(a)
            }
            if !remoteObjects.contains(id) { uploads.append(id) }
        }
        let list = uploads
        try parallelIO(list.count, workers: transfers) { i in
            let frame: [UInt8]
            do { frame = try Self.verifiedFrame(objects, list[i]) } catch {
                let e = DVSError.wrap(error)
                throw DVSError(
                    .corrupt,
                    "cannot push lineage records to '\(remoteName)': the local object '\(list[i].hex)' is damaged or missing (\(e.message))",
                    underlying: e, next: .listDamagedObjects)
            }
            do { try store.put("objects/\(list[i].hex)", Data(frame)) } catch {
                let e = DVSError.wrap(error)
                throw DVSError(
                    e.code, "cannot upload object '\(list[i].hex)' to '\(remoteName)': \(e.message)", hint: e.hint ?? "run the push again",
                    cause: e.cause, underlying: e.underlying, next: e.next)
            }
            meter.object(bytes: UInt64(frame.count))
        }
        let ids = todo
        let kindOf = kinds
        try parallelIO(ids.count, workers: transfers) { i in
            try store.put("records/\(ids[i].hex)", Data((kindOf[ids[i]]! + "\n").utf8))
        }
        return todo.count
    }

    /// Downloads the lineage records (and their artifacts) this repository lacks, verifies each
    /// against its id, stores them, then indexes them in the catalog. The caller holds the lock.
    /// - Parameters:
    ///   - replaced: records a purge wrote again without erased label values
    ///     (``PurgeRecord/lineage``): never downloaded, even while the remote still lists them.
    ///   - deletedArtifacts: model artifacts a purge deleted (``PurgeRecord/artifacts``): their
    ///     records are fetched without them.
    /// - Returns: records fetched now.
    /// - Throws: `DVSError.corrupt` naming the key when a download does not hash to its id
    ///   (nothing of it is kept); `.remote` on transfer failures.
    func fetchRecords(
        store: any RemoteStore, remoteName: String, transfers: Int, meter: TransferMeter, replaced: Set<ObjectID> = [],
        deletedArtifacts: Set<ObjectID> = []
    ) throws -> Int {
        let have = try catalog.lineageRecordIDs()
        let remote = try store.list(prefix: "records/").compactMap { ObjectID(hex: $0.key.dropFirst(8)) }
        let todo = remote.filter { !have.contains($0) && !replaced.contains($0) }.sorted()
        if todo.isEmpty { return 0 }
        let objects = self.objects
        @Sendable func download(_ id: ObjectID, what: String) throws -> [UInt8] {
            if objects.contains(id) { return try objects.read(id) }
            guard let data = try store.get("objects/\(id.hex)") else {
                throw DVSError(
                    .corrupt, "remote '\(remoteName)' lists \(what) '\(id.hex)' but lacks objects/\(id.hex)",
                    hint: "push again from a repository that has it")
            }
            meter.object(bytes: UInt64(data.count))
            do { return try objects.writeVerified(frame: Array(data), id: id) } catch {
                throw DVSError(
                    .corrupt, "\(what) '\(id.hex)' from '\(remoteName)' is damaged: \(DVSError.wrap(error).message)",
                    hint: "nothing of it was kept; push it again from a good copy")
            }
        }
        let got = Locked<[(ObjectID, [UInt8])]>([])
        try parallelIO(todo.count, workers: transfers) { i in
            let bytes = try download(todo[i], what: "record")
            if let r = try? LineageEncoding.decodeModel(bytes), let a = ObjectID(hex: r.artifactSHA256), !deletedArtifacts.contains(a) {
                _ = try download(a, what: "artifact of model record '\(todo[i].short)'")
            }
            got.withLock { $0.append((todo[i], bytes)) }
        }
        try objects.sync()
        let records = got.withLock { $0 }
        try catalog.write { tx in
            for (id, bytes) in records { try indexRecord(id, bytes, in: tx) }
        }
        // Best effort, as at registration: load the models' snapshots into the sample index.
        for (_, bytes) in records {
            if let r = try? LineageEncoding.decodeModel(bytes), objects.contains(r.snapshot.object) {
                try? warmSampleIndex(r.snapshot)
            }
        }
        return todo.count
    }

    /// Indexes one record's bytes in the catalog (model or eval); other objects are ignored.
    func indexRecord(_ id: ObjectID, _ bytes: [UInt8], in tx: CatalogTransaction) throws {
        switch LineageEncoding.kind(of: bytes) {
        case "model":
            let r = try LineageEncoding.decodeModel(bytes)
            guard let a = ObjectID(hex: r.artifactSHA256) else { return }
            try tx.insertModel(
                ModelRow(id: ModelID(id), name: r.name, artifact: a, snapshot: r.snapshot, revision: r.revision, createdAt: r.endTime))
        case "eval":
            let r = try LineageEncoding.decodeEval(bytes)
            try tx.insertEval(id: EvalID(id), model: r.model, snapshot: r.snapshot, createdAt: r.endTime)
        default: return
        }
    }
}
