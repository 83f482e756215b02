import DVSCatalog
import DVSCore
import Foundation

/// What a whole-tree scan found and what it may record with the stat cache rows it writes
/// (``Repository/findChangesOfWholeTree()``).
struct MonitoredChanges {
    /// The walk's candidates (found through the monitor or by the walk itself: the same).
    var candidates: ChangeCandidates
    /// The monitor's token taken before the scan, to record in the transaction that writes the
    /// scan's rows; nil when no monitor answered.
    var token: FSMonitorToken?
    /// The token recorded before (as text), if any.
    var recorded: String?
    /// Whether the monitor's answer replaced the walk.
    var usedMonitor: Bool

    /// Whether the transaction writing this scan's rows should record ``token``: a new one, or the
    /// same after a walk of the whole tree (its candidates replace a pending list that made the scan
    /// walk), and only with few enough candidates that the next scan looks at them one by one.
    var recordsToken: Bool {
        guard let token, token.description != recorded || !usedMonitor else { return false }
        return candidates.walked.count + candidates.gone.count <= Repository.monitoredPathLimit
    }
    /// The paths to record as pending with the token: every candidate and every skipped path.
    var pending: [RepoPath] { candidates.paths + candidates.skipped }

    /// Records ``token`` with ``pending`` in `tx` when ``recordsToken``.
    /// - Throws: `CatalogError`.
    func record(in tx: CatalogTransaction) throws {
        guard recordsToken, let token else { return }
        try tx.setFSMonitorToken(token.description, pending: pending)
    }
}

extension Repository {
    /// Whether `core.fsmonitor` is on.
    var fsmonitorEnabled: Bool { ((try? catalog.config("core.fsmonitor")) ?? nil) == "true" }

    /// The most paths a scan looks at one by one before walking the whole tree instead.
    static let monitoredPathLimit = 50_000

    /// ``WorkingTree/findChanges(within:)`` of the whole tree, through the file-system monitor
    /// when `core.fsmonitor` is on: the daemon names the paths changed since the token recorded
    /// with the stat cache, and only those, the candidates the last scan left and the unsettled
    /// rows are looked at. Anything short of that (no daemon — one is started for the next run —,
    /// another daemon instance, a rescan, too many paths) walks the whole tree, as without it.
    /// The candidates are the walk's either way.
    /// - Throws: as ``WorkingTree/findChanges(within:)``.
    func findChangesOfWholeTree() throws -> MonitoredChanges {
        let result = try findChangesOfWholeTreeUntraced()
        // `DVS_TRACE_FSMONITOR` (tests, benchmarks): say which way the scan went, on the notice channel.
        if context.environment["DVS_TRACE_FSMONITOR"] != nil, fsmonitorEnabled {
            context.notice?(
                result.usedMonitor
                    ? "fsmonitor: looked at the paths the monitor named (\(counted(result.candidates.paths.count, "candidate")))"
                    : "fsmonitor: walked the whole tree")
        }
        return result
    }

    private func findChangesOfWholeTreeUntraced() throws -> MonitoredChanges {
        let tree = workingTree
        guard fsmonitorEnabled else {
            return MonitoredChanges(candidates: try tree.findChanges(), token: nil, recorded: nil, usedMonitor: false)
        }
        let stored = try catalog.fsmonitorToken()
        guard let answer = FileSystemMonitor.changes(root: root, since: stored.flatMap { FSMonitorToken($0.token) }) else {
            if !FileSystemMonitor.isRunning(root: root) { context.startFileSystemMonitor?(root) }
            return MonitoredChanges(candidates: try tree.findChanges(), token: nil, recorded: stored?.token, usedMonitor: false)
        }
        if case .broken = answer {
            return MonitoredChanges(candidates: try tree.findChanges(), token: nil, recorded: stored?.token, usedMonitor: false)
        }
        if case .changes(let changed, let token) = answer, let stored {
            var paths = Set(changed)
            paths.formUnion(stored.pending)
            if paths.count <= Self.monitoredPathLimit {
                paths.formUnion(try catalog.unsettledStatCachePaths())
            }
            if paths.count <= Self.monitoredPathLimit,
                let candidates = try tree.findChanges(monitored: Array(paths), rowCount: catalog.statCacheRowCount())
            {
                return MonitoredChanges(candidates: candidates, token: token, recorded: stored.token, usedMonitor: true)
            }
        }
        return MonitoredChanges(candidates: try tree.findChanges(), token: answer.token, recorded: stored?.token, usedMonitor: false)
    }
}
