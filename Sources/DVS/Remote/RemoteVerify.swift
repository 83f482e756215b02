import DVSCatalog
import DVSCore
import DVSRemote
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One key on a remote that does not hold what this repository's copy holds.
public struct RemoteDamage: Sendable, Equatable {
    /// What the key holds.
    public enum Kind: String, Sendable, Equatable {
        /// A pack (`packs/<id>.pack`).
        case pack
        /// A metadata object: commit, manifest chunk or words object (`objects/<id>`).
        case object
        /// A commit's metadata bundle (`bundles/<commit>.bundle`, ``MetadataBundle``). Its
        /// repair writes it again from this repository's objects: the commit and what its
        /// manifest reaches that its parents' manifests do not.
        case bundle
    }

    /// What is wrong with the key.
    public enum Problem: Sendable, Equatable, CustomStringConvertible {
        /// The remote does not list it, and its refs need it.
        case missing
        /// Its size differs from this repository's copy (a pack's size follows from its id, so
        /// this is damage, typically a truncated upload). Sizes in bytes.
        case size(remote: UInt64, expected: UInt64)
        /// Its content does not verify against its id: what is wrong.
        case damaged(String)

        /// As printed: `missing`, `<n> bytes, expected <m>`, or what is damaged.
        public var description: String {
            switch self {
            case .missing: "missing"
            case .size(let remote, let expected): "\(remote) bytes, expected \(expected)"
            case .damaged(let why): why
            }
        }
    }

    /// The key relative to the remote's root (`packs/ab12….pack`, `objects/ab12…`).
    public var key: String
    /// Pack or object.
    public var kind: Kind
    /// What was found.
    public var problem: Problem
    /// Whether `--repair` uploaded a verified local copy and the remote now lists it at the right size.
    public var repaired: Bool
}

/// What `Repository.verifyRemote` found (and repaired).
public struct RemoteVerifySummary: Sendable {
    /// The remote's name.
    public var remote: String
    /// Remote packs checked against this repository's copies.
    public var packsChecked: Int
    /// Remote metadata objects checked.
    public var objectsChecked: Int
    /// Damaged or missing keys, by key.
    public var damaged: [RemoteDamage]
    /// What could not be checked or repaired, in words (a remote ref whose commit this repository
    /// lacks, a local copy that is itself damaged).
    public var notes: [String]
    /// Bytes downloaded to check content the listing could not confirm.
    public var bytesDownloaded: UInt64
    /// Bytes uploaded by the repair.
    public var bytesUploaded: UInt64
    /// Wall time in seconds.
    public var seconds: Double
    /// Whether every key checked is intact now (nothing damaged, or everything repaired).
    public var isClean: Bool { damaged.allSatisfy(\.repaired) }
}

extension Repository {
    /// Checks a remote against this repository: every pack and metadata object the remote's refs
    /// need (as far as this repository has their commits), and every remote pack this repository
    /// also has; with `repair`, uploads a verified local copy over each damaged or missing key.
    ///
    /// Economical first: two listings (`packs/`, `objects/`) give presence and sizes (a pack's
    /// size follows from its id, so a different size is damage); where the listing carries an S3
    /// ETag equal to the MD5 (or multipart ETag) of this repository's copy, the content is
    /// confirmed without a download. Otherwise a pack's index is read by ranged GETs and checked
    /// against its id, then the pack is downloaded into `.dvs/tmp/` and every frame decoded and
    /// hashed (as fetch does); an object is downloaded and hashed. Remote packs this repository
    /// lacks are only indexed, to learn which blobs they hold. The metadata bundles of the
    /// commits checked are downloaded and each object in them hashed (a bundle that is not
    /// whole, lacks its commit or holds an object that does not verify is damaged; its repair
    /// writes it again from this repository's objects). A key the ETag shows equal to this
    /// repository's copy is as good as that copy (whose index is checked, not its frames: run
    /// fsck here first when in doubt); where the local copy is damaged, the remote's is judged
    /// by its own content. Takes no lock; changes nothing
    /// locally, and without `repair` nothing on the remote.
    /// - Parameters:
    ///   - remoteName: the remote.
    ///   - repair: upload verified local copies over what is damaged or missing, then confirm
    ///     each by listing it (size).
    ///   - progress: transfer reports.
    /// - Throws: `DVSError.badInput` for an unknown remote; `.remote` for credential or
    ///   connection failures, or when a repaired key still lists the wrong size.
    public func verifyRemote(remote remoteName: String, repair: Bool = false, progress: ProgressHandler? = nil) throws
        -> RemoteVerifySummary
    {
        let started = Date()
        let config = try remote(remoteName)
        let store = try config.open(environment: context.environment)
        do {
            // What the remote lists, and what its refs need of what this repository has.
            var tips: [CommitID] = []
            var notes: [String] = []
            for o in try store.list(prefix: RefNamespace.all.prefix) {
                guard let ref = RefName(fullName: o.key), ref.kind == .branch || ref.kind == .tag,
                    let r = try store.readRef(o.key)
                else { continue }
                let id = try RemoteRef.decode(r.data, key: o.key, remote: remoteName)
                if objects.contains(id.object) {
                    tips.append(id)
                } else {
                    notes.append("\(o.key) points at \(id.short), which this repository lacks: its data was not checked")
                }
            }
            let listedPacks = Dictionary(
                try store.list(prefix: "packs/").compactMap { o -> (PackID, RemoteObject)? in
                    guard o.key.hasSuffix(".pack"), let id = PackID(hex: o.key.dropFirst(6).dropLast(5)) else { return nil }
                    return (id, o)
                }, uniquingKeysWith: { a, _ in a })
            let listedObjects = Dictionary(
                try store.list(prefix: "objects/").compactMap { o in ObjectID(hex: o.key.dropFirst(8)).map { ($0, o) } },
                uniquingKeysWith: { a, _ in a })
            let closure = try metadataClosure(from: tips) { _ in false }
            let neededObjects = closure.levels.flatMap { $0 } + closure.commits.map(\.object)
            let neededBlobs = try blobsNeeded(from: tips, stoppingAt: [])
            let localPacks = Set(try catalog.packIDs())

            let meter = TransferMeter(phase: .downloading, total: localPacks.count + neededObjects.count, progress: progress)
            let found = Locked<[String: RemoteDamage]>([:])
            let localNotes = Locked<[String]>([])
            let covered = Locked<Set<ObjectID>>([])  // blobs in remote packs found intact (or not checkable here)
            @Sendable func record(_ key: String, _ kind: RemoteDamage.Kind, _ problem: RemoteDamage.Problem) {
                found.withLock { $0[key] = RemoteDamage(key: key, kind: kind, problem: problem, repaired: false) }
            }

            // Packs this repository has that the remote lists: sizes, ETags, else the content.
            let checked = localPacks.filter { listedPacks[$0] != nil }.sorted()
            let dir = packsDir
            try FileIO.makeDirectories(tmpDir)
            let (tmpFD, tmp) = try FileIO.makeTempDirectory(in: tmpDir, prefix: Self.verifyStagePrefix)  // swept after a kill
            defer {
                try? FileManager.default.removeItem(atPath: tmp)
                close(tmpFD)
            }
            try parallelIO(checked.count, workers: config.transfers) { i in
                let id = checked[i]
                let listed = listedPacks[id]!
                let path = "\(dir)/\(id.hex).pack"
                defer { meter.step(bytes: 0) }
                // The local copy's index, checked against the id (cheap: header and index only).
                // Intact, it fixes the pack's size; its frames are not read here.
                var localIndex: [PackEntry]?
                do {
                    let reader = try PackReader(path: path)
                    if try reader.verifyChecksum(expected: id.object) == nil { localIndex = try reader.readIndex() }
                } catch {}
                if let localIndex {
                    var st = stat()
                    let localSize = stat(path, &st) == 0 ? UInt64(st.st_size) : 0
                    if listed.size != localSize {
                        record(listed.key, .pack, .size(remote: listed.size, expected: localSize))
                        return
                    }
                    if let etag = listed.etag, try store.listedChecksum(ofFile: path) == etag {
                        covered.withLock { $0.formUnion(localIndex.map(\.id)) }
                        return
                    }
                } else {
                    localNotes.withLock {
                        $0.append(
                            "the local pack .dvs/packs/\(id.hex).pack is damaged or missing: \(listed.key) was checked by its own content only"
                        )
                    }
                }
                switch try self.checkRemotePack(store: store, pack: id, size: listed.size, folder: tmp, meter: meter) {
                case .damaged(let why): record(listed.key, .pack, .damaged(why))
                case .intact(let entries): covered.withLock { $0.formUnion(entries.map(\.id)) }
                }
            }
            // Remote packs this repository lacks: their indexes say which blobs they hold.
            let foreign = listedPacks.keys.filter { !localPacks.contains($0) }.sorted()
            try parallelIO(foreign.count, workers: config.transfers) { i in
                let id = foreign[i]
                if let entries = try? Self.remotePackIndex(store: store, pack: id.object, size: listedPacks[id]!.size, meter: meter) {
                    covered.withLock { $0.formUnion(entries.map(\.id)) }
                }
            }
            // Needed blobs no intact remote pack holds: the local pack that holds each is missing
            // (or already found damaged).
            let have = covered.withLock { $0 }
            for b in neededBlobs.subtracting(have).sorted() {
                guard let loc = try blobs.location(of: b) else {
                    localNotes.withLock {
                        $0.append("blob \(b.hex), which the remote's refs need, is in no local pack: it was not checked")
                    }
                    continue
                }
                let key = "packs/\(loc.pack.hex).pack"
                if found.withLock({ $0[key] }) == nil { record(key, .pack, .missing) }
            }

            // Metadata objects the remote's refs need.
            let objects = self.objects
            try parallelIO(neededObjects.count, workers: config.transfers) { i in
                let id = neededObjects[i]
                let key = "objects/\(id.hex)"
                defer { meter.step(bytes: 0) }
                guard let listed = listedObjects[id] else {
                    record(key, .object, .missing)
                    return
                }
                if let frame = try? Self.verifiedFrame(objects, id) {
                    if let etag = listed.etag, store.listedChecksum(of: Data(frame)) == etag, listed.size == UInt64(frame.count) { return }
                } else {
                    localNotes.withLock {
                        $0.append("the local copy of object \(id.hex) is damaged: \(key) was checked by its own content only")
                    }
                }
                guard let data = try store.get(key) else {
                    record(key, .object, .missing)
                    return
                }
                meter.partial(bytes: UInt64(data.count))
                do {
                    let bytes = try Zstd.decompress([UInt8](data), limit: 1 << 30)
                    guard ObjectID.hashing(bytes) == id else { throw StorageError(.corrupt, "checksum mismatch") }
                } catch {
                    record(key, .object, .damaged(DVSError.wrap(error).message))
                }
            }

            // Metadata bundles of the commits checked: each object in one hashes to its id, and
            // the commit's own object is there. Never missing (a bundle only speeds reading up).
            let checkedCommits = Set(closure.commits)
            let bundleKeys = try store.list(prefix: "bundles/").map(\.key).filter {
                MetadataBundle.commit(ofKey: $0).map(checkedCommits.contains) ?? false
            }
            try parallelIO(bundleKeys.count, workers: config.transfers) { i in
                let key = bundleKeys[i]
                guard let data = try store.get(key) else { return }  // deleted since the listing
                meter.partial(bytes: UInt64(data.count))
                guard let frames = data.withUnsafeBytes({ MetadataBundle.parse($0) }) else {
                    record(key, .bundle, .damaged(data.withUnsafeBytes { MetadataBundle.problem($0) } ?? "it is not a whole bundle"))
                    return
                }
                if let c = MetadataBundle.commit(ofKey: key), frames[c.object] == nil {
                    record(key, .bundle, .damaged("it lacks its commit's object"))
                    return
                }
                for (id, frame) in frames.sorted(by: { $0.key < $1.key }) {
                    guard let bytes = try? Zstd.decompress(frame, limit: 1 << 30), ObjectID.hashing(bytes) == id else {
                        record(key, .bundle, .damaged("object '\(id.hex)' in it does not verify"))
                        return
                    }
                }
            }

            // Repair: verified local copies over what is damaged or missing, packs first.
            var damaged = found.withLock { $0 }.values.sorted { ($0.kind == .pack ? 0 : 1, $0.key) < ($1.kind == .pack ? 0 : 1, $1.key) }
            var uploaded: UInt64 = 0
            if repair && !damaged.isEmpty {
                let up = TransferMeter(phase: .uploading, total: damaged.count, progress: progress)
                var sizes: [String: UInt64] = [:]
                for (i, d) in damaged.enumerated() {
                    do {
                        switch d.kind {
                        case .pack:
                            let id = PackID(hex: d.key.dropFirst(6).dropLast(5))!
                            let path = "\(packsDir)/\(id.hex).pack"
                            if let why = localPackProblem(id) {
                                localNotes.withLock { $0.append("cannot repair \(d.key): the local copy .dvs/packs/\(id.hex).pack \(why)") }
                                continue
                            }
                            try store.putFile(d.key, localPath: path)
                            var st = stat()
                            sizes[d.key] = stat(path, &st) == 0 ? UInt64(st.st_size) : 0
                        case .object:
                            let id = ObjectID(hex: d.key.dropFirst(8))!
                            let frame: [UInt8]
                            do { frame = try Self.verifiedFrame(objects, id) } catch {
                                localNotes.withLock { $0.append("cannot repair \(d.key): the local copy is damaged") }
                                continue
                            }
                            try store.put(d.key, Data(frame))
                            sizes[d.key] = UInt64(frame.count)
                        case .bundle:
                            guard let c = MetadataBundle.commit(ofKey: d.key) else { continue }
                            let written = try rebundle(
                                [c], store: store, remote: remoteName, transfers: 1,
                                meter: TransferMeter(phase: .uploading, total: 0, progress: nil),
                                failure: "cannot repair \(d.key) on '\(remoteName)'")
                            sizes.merge(written) { a, _ in a }
                        }
                    } catch {
                        let e = DVSError.wrap(error)
                        throw DVSError(
                            e.code, "cannot upload \(d.key) to '\(remoteName)': \(e.message)", hint: e.hint ?? "run the repair again",
                            cause: e.cause, underlying: e.underlying, next: e.next)
                    }
                    uploaded += sizes[d.key] ?? 0
                    up.step(bytes: sizes[d.key] ?? 0)
                    damaged[i].repaired = true
                }
                try confirmUploaded(sizes, store: store, remote: remoteName)
                up.finish()
            }
            meter.finish()
            return RemoteVerifySummary(
                remote: remoteName, packsChecked: checked.count, objectsChecked: neededObjects.count, damaged: damaged,
                notes: notes + localNotes.withLock { $0 }.sorted(), bytesDownloaded: meter.bytes, bytesUploaded: uploaded,
                seconds: Date().timeIntervalSince(started))
        } catch { throw DVSError.wrap(error) }
    }

    /// What is wrong with this repository's pack `id` (`.dvs/packs/<id>.pack`), or nil when it is
    /// intact: its id recomputed from header and index (`PackReader.verifyChecksum`), then every
    /// frame decoded and hashed (``checkFrames(_:)``; delta bases outside it from the verified store).
    /// - Returns: `is missing`, or `is damaged: <why>`.
    func localPackProblem(_ id: PackID) -> String? {
        let path = "\(packsDir)/\(id.hex).pack"
        guard FileIO.exists(path) else { return "is missing" }
        do {
            let reader = try PackReader(path: path)
            if let why = try reader.verifyChecksum(expected: id.object) { return "is damaged: \(why)" }
            let missing = try checkFrames([(id.object, reader, try reader.readIndex())])
            if let b = missing.first { return "is damaged: the delta base '\(b.hex)' of one of its objects is in no pack" }
            return nil
        } catch let d as FrameDamage {
            return "is damaged: object '\(d.object.hex)': \(d.why)"
        } catch {
            return "is damaged: \(DVSError.wrap(error).message)"
        }
    }

    /// The stored frame of metadata object `id` after checking it: it decompresses and its bytes
    /// hash to `id` (what push uploads and a repair re-uploads).
    /// - Throws: `StorageError.notFound` when it is missing; `.corrupt` when it does not verify.
    static func verifiedFrame(_ objects: LocalObjectStore, _ id: ObjectID) throws -> [UInt8] {
        let frame = try objects.storedFrame(id)
        let bytes: [UInt8]
        do { bytes = try Zstd.decompress(frame, limit: 1 << 30) } catch let e as StorageError {
            throw StorageError(.corrupt, "object '\(id.hex)' does not decompress: \(e.message)", subject: .object(id), underlying: e)
        }
        guard ObjectID.hashing(bytes) == id else {
            throw StorageError(.corrupt, "object '\(id.hex)': checksum mismatch", subject: .object(id))
        }
        return frame
    }

    /// What a content check of a remote pack found.
    enum RemotePackCheck {
        /// Every frame verified; the pack's index.
        case intact([PackEntry])
        /// What is wrong.
        case damaged(String)
    }

    /// Checks remote pack `pack` of `size` bytes by its content: its index by ranged GETs
    /// (checked against the id), then the whole pack into `<folder>/<id>.pack` in 16 MiB ranges
    /// (the file keeps the pack's name, which errors show), its id recomputed and every frame
    /// decoded and hashed. The temp file is deleted afterwards.
    /// - Throws: `RemoteError` when the reads fail; `StorageError` when the temp file cannot be written.
    func checkRemotePack(store: any RemoteStore, pack id: PackID, size: UInt64, folder: String, meter: TransferMeter) throws
        -> RemotePackCheck
    {
        let entries: [PackEntry]
        do { entries = try Self.remotePackIndex(store: store, pack: id.object, size: size, meter: meter) } catch let d as PackDamage {
            return .damaged(d.why)
        }
        let path = "\(folder)/\(id.hex).pack"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.posix("cannot create", path: path) }
        defer { unlink(path) }
        do {
            defer { close(fd) }
            var have: UInt64 = 0
            while have < size {
                let data = try store.getRange("packs/\(id.hex).pack", have...(min(size, have + (16 << 20)) - 1))
                guard !data.isEmpty else { return .damaged("it ends at byte \(have) of the \(size) its listing says") }
                try data.withUnsafeBytes { try FileIO.writeAll(fd: fd, $0, path: path) }
                have += UInt64(data.count)
                meter.partial(bytes: UInt64(data.count))
            }
        }
        let reader = try PackReader(path: path)
        if let why = try reader.verifyChecksum(expected: id.object) { return .damaged(why) }
        do { _ = try checkFrames([(id.object, reader, entries)]) } catch let d as FrameDamage {
            return .damaged("object '\(d.object.hex)': \(d.why)")
        }
        return .intact(entries)
    }

    /// Confirms uploads by listing: each key in `sizes` must be listed at that size. Lists each
    /// key on its own up to 16 keys, else each prefix once.
    /// - Throws: `DVSError.remote` naming the first key that is absent or of another size.
    func confirmUploaded(_ sizes: [String: UInt64], store: any RemoteStore, remote: String) throws {
        guard !sizes.isEmpty else { return }
        var listed: [String: UInt64] = [:]
        if sizes.count <= 16 {
            for k in sizes.keys { for o in try store.list(prefix: k) where o.key == k { listed[k] = o.size } }
        } else {
            for p in Set(sizes.keys.map { String($0.prefix(while: { $0 != "/" })) + "/" }) {
                for o in try store.list(prefix: p) { listed[o.key] = o.size }
            }
        }
        for (k, size) in sizes.sorted(by: { $0.key < $1.key }) where listed[k] != size {
            throw DVSError(
                .remote,
                "'\(remote)' lists \(k) at \(listed[k].map { "\($0) bytes" } ?? "no size (absent)") after uploading \(size) bytes; no ref moved",
                hint: "run the command again; if it persists, check the remote's storage")
        }
    }
}
