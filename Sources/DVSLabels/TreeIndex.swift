import DVSCore
import Foundation

/// Lookups over the files of a tree: exact path, NFC-normalized path, sample file name, stem
/// and blob. Only the exact-path index is built up front (every row needs it); the others are
/// built on first use (most trees never need them).
final class TreeIndex {
    /// Every file by exact path bytes.
    let files: TreeFiles
    private var list: LabelTreeFiles { files.list }

    /// Samples by file name.
    private(set) lazy var samplesByName: [[UInt8]: [RepoPath]] = {
        var names: [[UInt8]: [RepoPath]] = [:]
        for f in list where f.audio != nil { names[f.path.name, default: []].append(f.path) }
        return names
    }()
    /// Samples by stem (file name without its last extension).
    private(set) lazy var samplesByStem: [[UInt8]: [RepoPath]] = {
        var stems: [[UInt8]: [RepoPath]] = [:]
        for f in list where f.audio != nil { stems[stem(of: f.path.name), default: []].append(f.path) }
        return stems
    }()
    /// Paths by the UTF-8 bytes of their NFC form.
    private(set) lazy var byNFC: [[UInt8]: [RepoPath]] = Dictionary(grouping: list.map(\.path)) { nfcBytes($0.string) }

    /// Samples by lower-case hex of their blob id (the first sample per blob).
    private(set) lazy var samplesByHex: [String: RepoPath] = {
        var hex: [String: RepoPath] = [:]
        for f in list where f.audio != nil && hex[f.blob.hex] == nil { hex[f.blob.hex] = f.path }
        return hex
    }()

    init(_ list: LabelTreeFiles) {
        files = TreeFiles(list)
    }

    /// How a reference in a label file resolved.
    enum Resolution {
        /// An audio file: the reference names a sample, at this position of the tree's files.
        case sample(LabelTreeFile, position: Int32)
        /// An existing file that is not audio.
        case notAudio(RepoPath)
        /// No exact match, but this file's name is the same after NFC-normalizing both sides.
        case normalization(RepoPath)
        /// Nothing.
        case missing
    }

    /// Resolves candidate paths in order: the first exact match wins; only when none matches
    /// exactly are NFC-equal files considered (reported, never joined).
    func resolve(_ candidates: [RepoPath]) -> Resolution {
        for c in candidates {
            if let i = files.position(of: c) {
                let f = files.list[Int(i)]
                return f.audio != nil ? .sample(f, position: i) : .notAudio(c)
            }
        }
        for c in candidates {
            if let other = byNFC[nfcBytes(c.string)]?.first { return .normalization(other) }
        }
        return .missing
    }
}

/// The files of a tree by exact path bytes: the list, and each path's position in it — found
/// by binary search when the list is sorted by path (as a tree's is), else from a dictionary
/// of small integers (never one of whole files, for trees of a million files).
struct TreeFiles: Sendable {
    /// The files as given.
    let list: LabelTreeFiles
    /// Positions by path when `list` is not strictly sorted by path; nil when it is.
    private let positions: [RepoPath: Int32]?

    init(_ list: LabelTreeFiles) {
        self.list = list
        var sorted = true
        var previous: RepoPath?
        for i in 0..<list.count {
            let p = list.path(at: i)
            if let previous, !(previous < p) {
                sorted = false
                break
            }
            previous = p
        }
        if sorted {
            positions = nil
            return
        }
        var positions: [RepoPath: Int32] = [:]
        positions.reserveCapacity(list.count)
        // A path given twice resolves to its last file.
        for i in 0..<list.count { positions[list.path(at: i)] = Int32(i) }
        self.positions = positions
    }

    /// The position of the file at `path` in `list`, if the tree has one.
    func position(of path: RepoPath) -> Int32? {
        if let positions { return positions[path] }
        var (lo, hi) = (0, list.count)
        while lo < hi {
            let mid = (lo + hi) / 2
            if list.path(at: mid) < path { lo = mid + 1 } else { hi = mid }
        }
        return lo < list.count && list.path(at: lo) == path ? Int32(lo) : nil
    }

    /// The file at `path`, if the tree has one.
    subscript(path: RepoPath) -> LabelTreeFile? { position(of: path).map { list[Int($0)] } }

    /// How many files.
    var count: Int { list.count }
}

/// The files of a tree as the label builder reads them, by position: a list, or a view of the
/// caller's own records (a tree of a million files is then not copied into a second list).
public struct LabelTreeFiles: RandomAccessCollection, Sendable {
    /// How many files.
    public let count: Int
    private let file: @Sendable (Int) -> LabelTreeFile
    private let pathAt: @Sendable (Int) -> RepoPath

    /// The files of `list`, in its order.
    public init(_ list: [LabelTreeFile]) {
        count = list.count
        file = { list[$0] }
        pathAt = { list[$0].path }
    }

    /// A view of `count` files that `file(i)` makes on demand (0 ≤ i < count); `path(i)` is
    /// `file(i).path`, made without the rest. Both may be called from several threads at once.
    public init(count: Int, file: @escaping @Sendable (Int) -> LabelTreeFile, path: @escaping @Sendable (Int) -> RepoPath) {
        self.count = count
        self.file = file
        self.pathAt = path
    }

    /// 0.
    public var startIndex: Int { 0 }
    /// `count`.
    public var endIndex: Int { count }

    /// The file at position `i` (0 ≤ i < `count`).
    public subscript(i: Int) -> LabelTreeFile { file(i) }

    /// The path of the file at position `i`.
    public func path(at i: Int) -> RepoPath { pathAt(i) }

}

/// The UTF-8 bytes of `s` in Unicode Normalization Form C.
func nfcBytes(_ s: String) -> [UInt8] {
    s.utf8.allSatisfy { $0 < 0x80 } ? Array(s.utf8) : Array(s.precomposedStringWithCanonicalMapping.utf8)
}

/// `NFC`, `NFD` or `mixed` for the form a string's bytes are in (compared as bytes, not `String ==`).
func normalizationForm(_ s: String) -> String {
    let bytes = Array(s.utf8)
    if bytes == nfcBytes(s) { return "NFC" }
    if bytes == Array(s.decomposedStringWithCanonicalMapping.utf8) { return "NFD" }
    return "mixed"
}

/// A file name without its last extension (`a.b.wav` → `a.b`; `.x` stays `.x`).
func stem(of name: [UInt8]) -> [UInt8] {
    guard let dot = name.lastIndex(of: 0x2E), dot > 0 else { return name }
    return Array(name[..<dot])
}

/// `reference` resolved against folder `base` (nil = tree root): `.` components dropped, `..`
/// taking one off; nil when it climbs out of the tree or is empty.
func joinPath(_ base: RepoPath?, _ reference: String) -> RepoPath? {
    var parts: [ArraySlice<UInt8>] = base.map { $0.components } ?? []
    for c in Array(reference.utf8).split(separator: 0x2F) {
        if c.elementsEqual([0x2E]) { continue }
        if c.elementsEqual([0x2E, 0x2E]) {
            if parts.isEmpty { return nil }
            parts.removeLast()
            continue
        }
        parts.append(c)
    }
    guard !parts.isEmpty else { return nil }
    return RepoPath(bytes: Array(parts.joined(separator: [0x2F])))
}

/// Whether the name ends in a common audio extension.
func hasAudioExtension(_ name: String) -> Bool {
    guard let dot = name.lastIndex(of: ".") else { return false }
    let ext = name[name.index(after: dot)...].lowercased()
    return ["wav", "wave", "flac", "mp3", "ogg", "oga", "opus", "m4a", "aac", "aif", "aiff", "au", "caf", "webm", "wma", "w64", "rf64"]
        .contains(ext)
}
