import DVS
import DVSCatalog

/// The next step to suggest for a catalog failure, by its code (the library reports what failed;
/// the command layer says what to do about it).
enum CatalogHint {
    /// The hint for `code`, or nil when there is nothing better to say than the message.
    static func hint(for code: CatalogError.Code) -> String? {
        switch code {
        case .busy: return "another dvs is writing; retry, or raise core.lock-timeout"
        case .full: return "free disk space and retry"
        case .corrupt: return "run 'dvs fsck', then 'dvs reindex' to rebuild the catalog from objects"
        case .schema:
            return "the catalog's tables are not what this dvs expects (made by a newer dvs?): use a dvs at least as new, or run 'dvs fsck'"
        case .readOnly: return "make the .dvs folder and its catalog.sqlite writable (permissions, a read-only mount), then retry"
        case .io: return "check the disk and the permissions of the .dvs folder, then retry"
        case .constraint: return "the catalog contradicts itself: run 'dvs fsck', then 'dvs reindex'"
        case .refMoved: return "run the command again"
        case .database: return "check the file's permissions and free disk space; 'dvs fsck' checks the repository"
        case .notFound: return nil
        }
    }

    /// A catalog error that reached the command layer unwrapped, as the `DVSError` the CLI reports
    /// (exit 1, the hint for its code).
    static func error(_ e: CatalogError) -> DVSError {
        var d = DVSError(e.code == .corrupt || e.code == .schema || e.code == .constraint ? .corrupt : .io, e.message)
        d.underlying = e
        return d
    }

    /// The hint to print for `e`: the catalog code's when `e` came from the catalog, else `e.hint`.
    static func hint(for e: DVSError) -> String? {
        if let c = e.underlying as? CatalogError, let h = hint(for: c.code) { return h }
        return e.hint
    }
}
