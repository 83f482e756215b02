import DVSCatalog
import DVSCore
import DVSLabels
import DVSStorage
import Foundation

/// A commit made from a tree held in memory (merge, cohort cut): its blobs, manifest and commit
/// object are stored and its packs indexed, but nothing references it until the caller records
/// it in the catalog (`Repository.recordComposed`) and moves a ref to it.
struct ComposedCommit {
    /// The commit's id.
    var id: CommitID
    /// The commit.
    var commit: Commit
    /// The packs its new blobs went to (empty when every blob was stored already).
    var packs: [FinishedPack]
    /// What label validation found (warnings only: errors stop the composition).
    var findings: [LabelFinding]
    /// The tree as committed, with annotations (labels, transcripts), sorted by path.
    var entries: [ManifestEntry]
}

extension Repository {
    // MARK: Writing a snapshot made in memory

    /// Stores a tree made in memory (merge, cohort cut) as a commit object: new blobs into a pack
    /// (label tables as deltas against `deltaFrom`'s version of the same path), labels joined
    /// and validated, the manifest and the commit written and synced. Moves no ref; the blob
    /// write session has indexed the packs, and the caller records the commit in the catalog
    /// (`recordComposed`) before its ref update.
    /// The caller holds the lock. `signatures` keeps a rewritten commit's author and committer
    /// (`dvs purge`); nil signs it now as this repository's identity.
    /// - Throws: `DVSError.badInput` listing the findings when the tree's labels have errors;
    ///   storage errors. Nothing is referenced on failure.
    func composeCommit(
        _ tree: [ManifestEntry], newContent: [ObjectID: [UInt8]], parents: [CommitID], message: String,
        extra: [String: String] = [:], transcriptsFrom: [[ManifestEntry]] = [], deltaFrom: [ManifestEntry] = [],
        signatures: (author: Signature, committer: Signature)? = nil
    ) throws -> ComposedCommit {
        let writer: any BlobWriteSession
        do { writer = try blobs.beginWrite() } catch { throw DVSError.wrap(error) }
        do {
            let previous = Dictionary(deltaFrom.map { ($0.path, $0.blob) }, uniquingKeysWith: { a, _ in a })
            let coders = ZstdCoders(level: zstdLevel)
            for e in tree where newContent[e.blob] != nil && !writer.contains(e.blob) {
                if try blobs.contains(e.blob) { continue }
                let bytes = newContent[e.blob]!
                try bytes.withUnsafeBytes {
                    try writer.write($0, id: e.blob, hint: BlobHint(deltaBase: previous[e.path]), coders: coders)
                }
            }
            var transcripts: [ObjectID: (audio: ObjectID, summary: TranscriptSummary)] = [:]
            for side in transcriptsFrom { transcripts.merge(Self.transcriptCache(side)) { a, _ in a } }
            let annotated = try annotate(tree, transcripts: transcripts) { path in
                guard let e = tree.first(where: { $0.path == path }) else { throw DVSError(.internal, "no entry for '\(path)'") }
                if let b = newContent[e.blob] { return b }
                return try self.blob(e.blob)
            }
            if annotated.labels.hasErrors {
                writer.abort()
                let errors = annotated.labels.findings.filter { $0.severity == .error }
                throw DVSError(
                    .badInput, "\(counted(errors.count, "label error")) in the result; nothing was committed",
                    hint: "fix the label tables on one side and try again", details: errors.map(\.description))
            }
            let packs = try writer.finish()
            _ = try storeWords(annotated)
            let (manifest, totals, _) = try writeManifest(annotated.entries)
            let signed: (author: Signature, committer: Signature)
            if let signatures {
                signed = signatures
            } else {
                let who = identity
                let now = Int64(Date().timeIntervalSince1970)
                let tz = context.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(now))) / 60
                guard let sig = Signature(parsing: who, time: now, timeZoneOffsetMinutes: tz) else {
                    throw DVSError(.badInput, "cannot use committer identity '\(who)'", next: .setAuthorIdentity)
                }
                signed = (sig, sig)
            }
            let c = Commit(
                manifest: manifest, parents: parents, author: signed.author, committer: signed.committer, totals: totals, extra: extra,
                message: message)
            let bytes = c.encoded()
            let id = CommitID(ObjectID.hashing(bytes))
            try objects.write(bytes, id: id.object)
            try objects.sync()
            return ComposedCommit(id: id, commit: c, packs: packs, findings: annotated.labels.findings, entries: annotated.entries)
        } catch {
            writer.rollback()
            throw DVSError.wrap(error)
        }
    }

    /// Records a composed commit (and its packs again: idempotent, the write session indexed
    /// them already) in the catalog, inside a write transaction.
    func recordComposed(_ packs: [FinishedPack], _ id: CommitID, _ c: Commit, in tx: CatalogTransaction) throws {
        for p in packs {
            try tx.insertPack(id: PackID(p.id), byteCount: p.byteCount, entries: p.entries)
        }
        try tx.insertCommit(id, c)
    }

    /// Records packs made for a commit recorded before (a cohort's packs).
    func recordComposed(_ packs: [FinishedPack], in tx: CatalogTransaction) throws {
        for p in packs { try tx.insertPack(id: PackID(p.id), byteCount: p.byteCount, entries: p.entries) }
    }
}
