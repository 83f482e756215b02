import DVSCatalog
import DVSCore
import DVSStorage
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A snapshot laid out as a read-only folder for an external program (`dvs run`).
public struct MaterializedSnapshot: Sendable {
    /// The commit laid out.
    public var commit: CommitID
    /// The folder holding this run's files (`.dvs/tmp/run-…`); `remove()` deletes it.
    public var runDirectory: String
    /// The snapshot's files, read-only (`DVS_SNAPSHOT_DIR`).
    public var snapshotDirectory: String
    /// JSON Lines, one sample per line with path, sha256, audio facts and labels (`DVS_MANIFEST`).
    public var manifestPath: String
    /// Files linked from the blob cache.
    public var linked: Int
    /// Files copied (the file system refused a hard link, or the file is executable).
    public var copied: Int
    /// Blobs decoded into the cache for this run (the rest were cached already).
    public var cachedNow: Int

    /// Deletes the run folder (the blob cache stays).
    public func remove() {
        // Folders were made read-only; give write permission back so they can be deleted.
        if let e = FileManager.default.enumerator(atPath: snapshotDirectory) {
            while let rel = e.nextObject() as? String {
                let p = snapshotDirectory + "/" + rel
                var st = stat()
                if lstat(p, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { chmod(p, 0o755) }
            }
        }
        chmod(snapshotDirectory, 0o755)
        try? FileManager.default.removeItem(atPath: runDirectory)
    }
}

extension Repository {
    /// The blob cache: each blob's original bytes as a read-only file `.dvs/cache/blobs/xx/<hex>`.
    var blobCacheDir: String { cacheDir + "/blobs" }

    /// Lays a snapshot out as a read-only folder under `.dvs/tmp/run-<pid>-<n>/snapshot`.
    ///
    /// Each file's bytes come from the blob cache, filled on first use (read from the packs,
    /// SHA-256 verified, written to a temp file, fsynced, renamed, mode 0444) and hard-linked into
    /// the folder where the file system allows, else copied; executables are copied with mode
    /// 0555, symlinks recreated. Folders are made read-only (0555) afterwards. Writes `manifest.jsonl`
    /// beside the folder. No lock is needed: cache files are immutable and renamed into place.
    /// - Throws: `DVSError.unknownRevision`; `.corrupt` naming a damaged blob; `.unsafePath` for
    ///   paths that cannot be written; `.io`.
    /// - Warning: the hard links share the cache's inode: a program that makes a file writable and
    ///   changes it changes the cache (the next `dvs run` notices the size change and rebuilds it, not
    ///   a same-size edit).
    public func materialize(_ revision: Revision, progress: ProgressHandler? = nil) throws -> MaterializedSnapshot {
        let id = try resolve(revision)
        let entries = try self.entries(ofManifest: commit(id).manifest)
        try validate(entries, revision: "'\(revision)' (\(id.short))")
        do {
            try FileIO.makeDirectories(tmpDir)
            let runDir = tmpDir
            var dir = ""
            for n in 0..<1000 {
                dir = "\(runDir)/run-\(getpid())-\(n)"
                if mkdir(dir, 0o755) == 0 { break }
                guard errno == EEXIST else { throw StorageError.posix("cannot create", path: dir) }
            }
            let snapDir = dir + "/snapshot"
            try FileIO.makeDirectories(snapDir)
            // Fill the cache with what it lacks.
            var need: [ManifestEntry] = []
            var seen = Set<ObjectID>()
            for e in entries where e.kind != .symlink && seen.insert(e.blob).inserted {
                var st = stat()
                let p = cachePath(e.blob)
                if stat(p, &st) != 0 || UInt64(st.st_size) != e.byteCount { need.append(e) }
            }
            try downloadMissingBlobs(Set(need.map(\.blob)), progress: progress)  // a partial clone or a remote's cache
            let locations = try blobs.locations()
            let missing = need
            let done = Locked(0)
            let tmp = tmpDir
            try parallelFor(missing.count, workers: workers) { _, i in
                let e = missing[i]
                let bytes = try self.blob(e.blob, location: locations[e.blob], decompressor: nil)
                let p = self.cachePath(e.blob)
                let d = (p as NSString).deletingLastPathComponent
                if !FileIO.exists(d) { try FileIO.makeDirectories(d) }
                unlink(p)  // a damaged copy (wrong size) is replaced
                try FileIO.writeAtomically(bytes, to: p, tmpDir: tmp)
                chmod(p, 0o444)
                let n = done.withLock {
                    $0 += 1
                    return $0
                }
                progress?(Progress(phase: .caching, done: n, total: missing.count, bytes: 0))
            }
            // Lay out the tree.
            var linked = 0
            var copied = 0
            var dirs = Set<String>()
            for e in entries {
                let dest = snapDir + "/" + e.path.string
                let parent = (dest as NSString).deletingLastPathComponent
                if !dirs.contains(parent) {
                    try FileIO.makeDirectories(parent)
                    var d = parent
                    while d.count > snapDir.count, dirs.insert(d).inserted { d = (d as NSString).deletingLastPathComponent }
                }
                switch e.kind {
                case .symlink:
                    guard symlink(String(decoding: e.linkTarget, as: UTF8.self), dest) == 0 else {
                        throw StorageError.posix("cannot create symlink", path: dest)
                    }
                case .executable:
                    try FileIO.writeAtomically(FileIO.read(cachePath(e.blob)), to: dest, tmpDir: tmp, sync: false)
                    chmod(dest, 0o555)
                    copied += 1
                case .file:
                    if link(cachePath(e.blob), dest) == 0 {
                        linked += 1
                    } else {
                        try FileIO.writeAtomically(FileIO.read(cachePath(e.blob)), to: dest, tmpDir: tmp, sync: false)
                        chmod(dest, 0o444)
                        copied += 1
                    }
                }
            }
            var jsonl = ""
            for e in entries where e.audio != nil {
                SampleJSON.write(e, to: &jsonl)
                jsonl.append("\n")
            }
            let manifest = dir + "/manifest.jsonl"
            try FileIO.writeAtomically(Array(jsonl.utf8), to: manifest, tmpDir: tmp, sync: false)
            chmod(manifest, 0o444)
            for d in dirs.sorted(by: { $0.count > $1.count }) where d != snapDir { chmod(d, 0o555) }
            chmod(snapDir, 0o555)
            return MaterializedSnapshot(
                commit: id, runDirectory: dir, snapshotDirectory: snapDir, manifestPath: manifest,
                linked: linked, copied: copied, cachedNow: need.count)
        } catch { throw DVSError.wrap(error) }
    }

    func cachePath(_ id: ObjectID) -> String {
        let h = id.hex
        return "\(blobCacheDir)/\(h.prefix(2))/\(h.dropFirst(2))"
    }
}
