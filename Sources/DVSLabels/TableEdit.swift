import DVSCore
import Foundation

/// An in-place edit of a plain label table — a CSV or TSV with a `path` column (`format`
/// `table`, `schema/LABELS.md`), read without a `dvs.toml` — in which some rows were rewritten
/// and none were added, removed or moved, followed without parsing the rest of the table.
///
/// The two versions are compared byte by byte from both ends; what lies between the common
/// prefix and suffix, cut at line ends, is the changed rows. Those rows alone are parsed and
/// joined, by the same code as a full build, before and after. The edit is followed only where
/// that gives the full build's result: same header, same number of lines, no quoting in play (a
/// CSV with no `"` at all), the same sample named by each row before and after, and that
/// sample named by no other row (no row elsewhere has the same final path component), so no
/// duplicate-row rule can see the change. Anything else returns nil, and the caller builds the
/// labels of the whole tree.
///
/// Cost: O(bytes) compared and one pass over the key column for the uniqueness check; O(k) rows
/// parsed for k changed rows.
public struct TableRowEdit: Sendable {
    /// The table's tree path.
    public let path: RepoPath
    /// The header line (with its line end).
    let header: [UInt8]
    /// The changed rows, old and new (each without its `\n`).
    let rows: [(old: [UInt8], new: [UInt8])]
    /// The tree paths the changed rows may name, in the order a full build tries them; the
    /// caller passes the tree's files at these paths to ``annotations(files:)``.
    public let candidatePaths: [RepoPath]

    /// Compares two versions of the table at `path`.
    /// - Parameters:
    ///   - old: the committed bytes.
    ///   - new: the working tree's bytes.
    ///   - maxRows: more changed rows than this are not followed (a full build is as cheap).
    /// - Returns: nil when the edit is not one this type follows (see the type's rules).
    public init?(path: RepoPath, old: [UInt8], new: [UInt8], maxRows: Int = 4096) {
        let name = String(decoding: path.name, as: UTF8.self).lowercased()
        let tsv = name.hasSuffix(".tsv")
        guard tsv || name.hasSuffix(".csv"), name != "metadata.csv" else { return nil }
        let delimiter: UInt8 = tsv ? 0x09 : 0x2C
        if !tsv, Self.containsQuote(old) || Self.containsQuote(new) { return nil }
        // Common prefix and suffix, cut back to line starts.
        let limit = min(old.count, new.count)
        var p = 0
        old.withUnsafeBufferPointer { a in
            new.withUnsafeBufferPointer { b in
                while p + 4096 <= limit, memcmp(a.baseAddress! + p, b.baseAddress! + p, 4096) == 0 { p += 4096 }
                while p < limit, a[p] == b[p] { p += 1 }
            }
        }
        var s = 0
        if limit > p {
            old.withUnsafeBufferPointer { a in
                new.withUnsafeBufferPointer { b in
                    let ea = a.baseAddress! + a.count
                    let eb = b.baseAddress! + b.count
                    while s + 4096 <= limit - p, memcmp(ea - s - 4096, eb - s - 4096, 4096) == 0 { s += 4096 }
                    while s < limit - p, ea[-1 - s] == eb[-1 - s] { s += 1 }
                }
            }
        }
        while p > 0, old[p - 1] != 0x0A { p -= 1 }
        guard p > 0 else { return nil }  // the header changed
        // The suffix must start a line in both versions: right after a `\n` inside it, or whole
        // when the byte before it is a `\n` in both.
        if s > 0, !(old[old.count - s - 1] == 0x0A && new[new.count - s - 1] == 0x0A) {
            var j = old.count - s
            while j < old.count, old[j] != 0x0A { j += 1 }
            s = j < old.count ? old.count - (j + 1) : 0
        }
        let oldLines = Self.lines(old[p..<(old.count - s)])
        let newLines = Self.lines(new[p..<(new.count - s)])
        guard oldLines.count == newLines.count, oldLines.count <= maxRows else { return nil }
        let pairs = zip(oldLines, newLines).filter { $0.0 != $0.1 }
        guard let headerEnd = old.firstIndex(of: 0x0A) else { return nil }
        let header = Array(old[...headerEnd])
        let headerFields = Self.fields(Array(header.dropLast()), delimiter).map { String(decoding: $0, as: UTF8.self) }
        let ctx = TableContext(path: path, declaration: nil, config: LabelConfig())
        guard DelimitedTable.kind(headerFields, ctx) == .table, let key = DelimitedTable.keyColumn(headerFields, .table, ctx) else {
            return nil
        }
        // Every changed row names the same sample before and after, has every field, and is not blank.
        var names = Set<[UInt8]>()
        var candidates: [RepoPath] = []
        for (o, n) in pairs {
            let a = Self.fields(o, delimiter)
            let b = Self.fields(n, delimiter)
            guard a.count == headerFields.count, b.count == headerFields.count, a[key] == b[key], !a[key].isEmpty,
                let last = a[key].split(separator: 0x2F, omittingEmptySubsequences: false).last, Self.isPlainName(last)
            else { return nil }
            let reference = String(decoding: a[key], as: UTF8.self)
            candidates += ctx.candidates(reference, kind: .table)
            names.insert(Array(last))
        }
        // No other row may name a file with the same final path component.
        guard Self.keyNamesOccurOnce(names, in: new, from: headerEnd + 1, key: key, delimiter: delimiter) else { return nil }
        self.path = path
        self.header = header
        rows = pairs.map { ($0.0, $0.1) }
        candidatePaths = Array(Set(candidates)).sorted()
    }

    /// The annotations this table alone gives the samples its changed rows name, before and
    /// after the edit, built by the full builder over a table of just those rows.
    /// - Parameter files: the tree's files at ``candidatePaths`` (those that exist).
    /// - Returns: per sample path, before and after (nil: this table gives it nothing); nil when
    ///   a changed row does not name a sample, or either version raises any finding (a full
    ///   build then reports it with its line).
    public func annotations(files: [LabelTreeFile]) -> [RepoPath: (before: SampleAnnotations?, after: SampleAnnotations?)]? {
        func build(_ side: [[UInt8]]) -> LabelBuildResult? {
            var bytes = header
            for r in side {
                bytes += r
                bytes.append(0x0A)
            }
            let table = LabelTreeFile(path: path, blob: ObjectID.hashing(bytes), byteCount: UInt64(bytes.count), audio: nil)
            let tree = (files.filter { $0.path != path } + [table]).sorted { $0.path < $1.path }
            let mini = bytes
            let tablePath = path
            guard let result = try? LabelBuilder.build(files: tree, read: { p in p == tablePath ? mini : [] }),
                result.findings.isEmpty, result.tables.first?.records == side.count, result.tables.first?.samples == side.count
            else { return nil }
            return result
        }
        guard let before = build(rows.map(\.old)), let after = build(rows.map(\.new)) else { return nil }
        var out: [RepoPath: (before: SampleAnnotations?, after: SampleAnnotations?)] = [:]
        for p in Set(before.samples.keys).union(after.samples.keys) { out[p] = (before.samples[p], after.samples[p]) }
        return out
    }

    /// The lines of a region that ends at a line end or at the end of the file.
    static func lines(_ region: ArraySlice<UInt8>) -> [[UInt8]] {
        guard !region.isEmpty else { return [] }
        var out = region.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if region.last == 0x0A { out.removeLast() }
        return out
    }

    /// The fields of an unquoted record (a trailing `\r` belongs to the last field, as the CSV
    /// reader would drop it: dropped here too).
    static func fields(_ line: [UInt8], _ delimiter: UInt8) -> [ArraySlice<UInt8>] {
        var l = line[...]
        if l.last == 0x0D { l = l.dropLast() }
        return l.split(separator: delimiter, omittingEmptySubsequences: false)
    }

    /// Whether a path component is a file name: not empty (a trailing `/`), `.` or `..`, which
    /// resolve to a name found elsewhere in the reference.
    /// Whether `bytes` holds a `"` (memchr: a 40 MB table is one pass at memory speed).
    static func containsQuote(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { b in b.count > 0 && memchr(b.baseAddress!, 0x22, b.count) != nil }
    }

    static func isPlainName<C: Collection<UInt8>>(_ c: C) -> Bool {
        !c.isEmpty && !c.elementsEqual([0x2E]) && !c.elementsEqual([0x2E, 0x2E])
    }

    /// Whether no row of the plain table `bytes` at `path` can name a file whose final path
    /// component is one of `names`, so that adding or removing such a file leaves the table's
    /// join as it was (the rows that can name a path are those whose key field ends in its name).
    ///
    /// Answers only for a table ``init(path:old:new:maxRows:)`` would follow: a CSV without `"`
    /// or a TSV, read without a `dvs.toml`, whose header makes it a plain table with a key
    /// column; every name must be a plain file name (not empty, `.` or `..`) of ASCII bytes (a
    /// non-ASCII name can meet a row by Unicode normalisation, which a byte search cannot see).
    /// - Parameters:
    ///   - names: final path components of the files that appear or vanish.
    ///   - bytes: the table's contents.
    ///   - path: the table's tree path (its extension says CSV or TSV).
    /// - Returns: true when no key field ends in one of `names`; false when one does, a key
    ///   field ends in something that is not a plain name, or the table is not one this reads.
    /// - Complexity: one pass over `bytes`; nothing is parsed but the header.
    public static func namesNoRow(_ names: Set<[UInt8]>, inTable bytes: [UInt8], path: RepoPath) -> Bool {
        guard names.allSatisfy({ isPlainName($0) && $0.allSatisfy { $0 < 0x80 } }) else { return false }
        let name = String(decoding: path.name, as: UTF8.self).lowercased()
        let tsv = name.hasSuffix(".tsv")
        guard tsv || name.hasSuffix(".csv"), name != "metadata.csv" else { return false }
        let delimiter: UInt8 = tsv ? 0x09 : 0x2C
        if !tsv, containsQuote(bytes) { return false }
        guard let headerEnd = bytes.firstIndex(of: 0x0A) else { return false }
        let headerFields = fields(Array(bytes[..<headerEnd]), delimiter).map { String(decoding: $0, as: UTF8.self) }
        let ctx = TableContext(path: path, declaration: nil, config: LabelConfig())
        guard DelimitedTable.kind(headerFields, ctx) == .table, let key = DelimitedTable.keyColumn(headerFields, .table, ctx) else {
            return false
        }
        guard let counts = keyNameCounts(names, in: bytes, from: headerEnd + 1, key: key, delimiter: delimiter) else { return false }
        return counts.isEmpty
    }

    /// Whether each of `names` is the final path component of exactly one row's key field, and no
    /// key field ends in a component that is not a file name (`a.wav/.` names `a.wav` too).
    static func keyNamesOccurOnce(_ names: Set<[UInt8]>, in bytes: [UInt8], from start: Int, key: Int, delimiter: UInt8) -> Bool {
        guard let counts = keyNameCounts(names, in: bytes, from: start, key: key, delimiter: delimiter) else { return false }
        return names.allSatisfy { counts[$0] == 1 }
    }

    /// How many rows' key fields end in each of `names` (names no row ends in are absent), or
    /// nil when a key field ends in a component that is not a file name.
    private static func keyNameCounts(_ names: Set<[UInt8]>, in bytes: [UInt8], from start: Int, key: Int, delimiter: UInt8)
        -> [[UInt8]: Int]?
    {
        // A few names (the usual commit adds or removes one or two files) are compared in place,
        // so a row costs no allocation nor hash (every row of a table of `u000001.wav`-style
        // names has the length of the one looked for); more are looked up by hash, one per row
        // whose name has the length of one of them, so the pass stays linear in the rows.
        let list = Array(names)
        let few = list.count <= 8
        let lengths = Set(list.map(\.count))
        let position = few ? [:] : Dictionary(uniqueKeysWithValues: list.enumerated().map { ($1, $0) })
        var found = [Int](repeating: 0, count: list.count)
        var unplain = false
        bytes.withUnsafeBufferPointer { b in
            var i = start
            let n = b.count
            while i < n {
                // Field `key` of the line starting at i.
                var f = 0
                var fieldStart = i
                var j = i
                while j < n, b[j] != 0x0A {
                    if b[j] == delimiter {
                        if f == key { break }
                        f += 1
                        fieldStart = j + 1
                    }
                    j += 1
                }
                if f == key {
                    var end = j
                    if end > fieldStart, b[end - 1] == 0x0D, j == n || b[j] == 0x0A { end -= 1 }
                    var nameStart = end
                    while nameStart > fieldStart, b[nameStart - 1] != 0x2F { nameStart -= 1 }
                    let length = end - nameStart
                    if end > fieldStart, !isPlainName(b[nameStart..<end]) {
                        unplain = true
                        return
                    }
                    if length > 0, lengths.contains(length) {
                        if few {
                            for (k, name) in list.enumerated() where name.count == length {
                                let equal = name.withUnsafeBufferPointer {
                                    memcmp($0.baseAddress!, b.baseAddress! + nameStart, length) == 0
                                }
                                if equal { found[k] += 1 }
                            }
                        } else if let k = position[Array(b[nameStart..<end])] {
                            found[k] += 1
                        }
                    }
                }
                while j < n, b[j] != 0x0A { j += 1 }
                i = j + 1
            }
        }
        guard !unplain else { return nil }
        var counts: [[UInt8]: Int] = [:]
        for (k, name) in list.enumerated() where found[k] > 0 { counts[name] = found[k] }
        return counts
    }
}
