import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `.dvsignore` rules, in gitignore syntax (git-scm.com/docs/gitignore): `#` comments, `!`
/// negation, a trailing `/` for folders only, a `/` at the start or middle anchoring the pattern
/// to the file's folder, `*` `?` `[…]` within a component (matched by glibc's `fnmatch(3)`), and
/// `**` for any number of components. The last matching rule wins; a file inside an ignored
/// folder stays ignored. Each folder's `.dvsignore` applies below that folder.
public struct IgnoreRules: Sendable {
    struct Rule: Sendable {
        var base: [UInt8]  // folder of the .dvsignore, relative to the root ("" at the root)
        var segments: [[UInt8]]  // pattern split at '/', NUL-free
        var anchored: Bool
        var negated: Bool
        var directoryOnly: Bool
    }
    private var rules: [Rule] = []

    /// No rules.
    public init() {}

    /// Adds the rules of one `.dvsignore` whose folder is `base` (relative to the tree root).
    public mutating func add(contents: [UInt8], base: RepoPath) {
        for rawLine in contents.split(separator: 0x0A, omittingEmptySubsequences: true) {
            var line = Array(rawLine)
            if line.last == 0x0D { line.removeLast() }
            // trailing spaces are ignored unless escaped with a backslash
            while line.last == 0x20, !(line.count >= 2 && line[line.count - 2] == 0x5C) { line.removeLast() }
            if line.isEmpty || line.first == 0x23 { continue }  // blank or '#'
            var negated = false
            if line.first == 0x21 {
                negated = true
                line.removeFirst()
            }  // '!'
            else if line.starts(with: [0x5C, 0x21]) || line.starts(with: [0x5C, 0x23]) {
                line.removeFirst()
            }  // "\!" "\#"
            var directoryOnly = false
            if line.last == 0x2F {
                directoryOnly = true
                line.removeLast()
            }
            if line.isEmpty || line.contains(0) { continue }
            let anchored = line.dropLast().contains(0x2F) || line.first == 0x2F
            if line.first == 0x2F { line.removeFirst() }
            let segments = line.split(separator: 0x2F, omittingEmptySubsequences: true).map(Array.init)
            if segments.isEmpty { continue }
            rules.append(Rule(base: base.bytes, segments: segments, anchored: anchored, negated: negated, directoryOnly: directoryOnly))
        }
    }

    /// Whether `path` (relative to the root) is ignored. `isDirectory` enables folder-only rules.
    public func isIgnored(_ path: RepoPath, isDirectory: Bool) -> Bool {
        var ignored = false
        for r in rules {
            if r.directoryOnly && !isDirectory { continue }
            let rel: [ArraySlice<UInt8>]
            if r.base.isEmpty {
                rel = path.components
            } else {
                guard path.bytes.count > r.base.count, path.bytes.starts(with: r.base), path.bytes[r.base.count] == 0x2F else { continue }
                rel = RepoPath(bytes: Array(path.bytes[(r.base.count + 1)...])).components
            }
            let hit: Bool
            if r.anchored {
                hit = Self.match(r.segments[...], rel[...])
            } else {
                hit = Self.fn(r.segments[0], rel.last ?? [])
            }
            if hit { ignored = !r.negated }
        }
        return ignored
    }

    static func match(_ pattern: ArraySlice<[UInt8]>, _ path: ArraySlice<ArraySlice<UInt8>>) -> Bool {
        guard let p = pattern.first else { return path.isEmpty }
        if p == [0x2A, 0x2A] {  // "**"
            let rest = pattern.dropFirst()
            if rest.isEmpty { return !path.isEmpty }
            var i = path.startIndex
            while i <= path.endIndex {
                if match(rest, path[i...]) { return true }
                i += 1
            }
            return false
        }
        guard let c = path.first, fn(p, c) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    static func fn(_ pattern: [UInt8], _ name: ArraySlice<UInt8>) -> Bool {
        var p = pattern
        p.append(0)
        var n = Array(name)
        n.append(0)
        return p.withUnsafeBufferPointer { pp in
            n.withUnsafeBufferPointer { np in
                fnmatch(
                    UnsafeRawPointer(pp.baseAddress!).assumingMemoryBound(to: CChar.self),
                    UnsafeRawPointer(np.baseAddress!).assumingMemoryBound(to: CChar.self), FNM_PERIOD & 0) == 0
            }
        }
    }
}
