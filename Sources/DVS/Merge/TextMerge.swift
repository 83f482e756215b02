import CGit2
import DVSLabels

/// Line-based three-way merge of text files that are not label tables (README, scripts,
/// `dvs.toml`), through libgit2's `git_merge_file` — the same xdiff merge `git merge-file` uses.
enum TextMerge {
    /// Largest file merged by lines (bytes, per side); larger files conflict as whole files.
    static let maxSize = 16 << 20

    /// The merge of one text file.
    struct Outcome {
        /// The merged bytes; where both sides changed the same lines, diff3-style conflict markers
        /// (`<<<<<<< ours`, `||||||| base`, `=======`, `>>>>>>> theirs`, each on its own line).
        var bytes: [UInt8]
        /// True when no region conflicted (or `prefer` settled every one).
        var clean: Bool
    }

    /// True when `bytes` looks like text: no NUL byte in its first 8,000 bytes (git's heuristic,
    /// `buffer_is_binary` in git's xdiff-interface.c).
    static func isText(_ bytes: [UInt8]) -> Bool {
        !bytes.prefix(8000).contains(0)
    }

    /// Merges `ours` and `theirs` line by line from `base` (empty for a file both sides added).
    /// - Parameters:
    ///   - prefer: settles every conflicting region to that side (`GIT_MERGE_FILE_FAVOR_OURS` /
    ///     `_THEIRS`, git's `-X ours|theirs`); nil leaves markers.
    /// - Returns: nil when a side is not text or is over `maxSize`, or libgit2 refuses the merge
    ///   (the caller then treats the file as a whole-file conflict).
    static func merge(base: [UInt8], ours: [UInt8], theirs: [UInt8], prefer: MergePreference?) -> Outcome? {
        guard [base, ours, theirs].allSatisfy({ $0.count <= maxSize && isText($0) }) else { return nil }
        LibGit2.ready
        var opts = git_merge_file_options()
        git_merge_file_options_init(&opts, UInt32(GIT_MERGE_FILE_OPTIONS_VERSION))
        opts.flags = GIT_MERGE_FILE_STYLE_DIFF3.rawValue
        switch prefer {
        case .ours?: opts.favor = GIT_MERGE_FILE_FAVOR_OURS
        case .theirs?: opts.favor = GIT_MERGE_FILE_FAVOR_THEIRS
        case nil: opts.favor = GIT_MERGE_FILE_FAVOR_NORMAL
        }
        var result = git_merge_file_result()
        let rc: Int32 = "base".withCString { baseLabel in
            "ours".withCString { ourLabel in
                "theirs".withCString { theirLabel in
                    opts.ancestor_label = baseLabel
                    opts.our_label = ourLabel
                    opts.their_label = theirLabel
                    return base.withUnsafeBufferPointer { b in
                        ours.withUnsafeBufferPointer { o in
                            theirs.withUnsafeBufferPointer { t in
                                func input(_ buffer: UnsafeBufferPointer<UInt8>) -> git_merge_file_input {
                                    var i = git_merge_file_input()
                                    git_merge_file_input_init(&i, UInt32(GIT_MERGE_FILE_INPUT_VERSION))
                                    i.ptr = UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self)
                                    i.size = buffer.count
                                    return i
                                }
                                var bi = input(b)
                                var oi = input(o)
                                var ti = input(t)
                                return git_merge_file(&result, &bi, &oi, &ti, &opts)
                            }
                        }
                    }
                }
            }
        }
        guard rc == 0 else { return nil }
        defer { git_merge_file_result_free(&result) }
        let bytes = result.ptr.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: result.len)) } ?? []
        return Outcome(bytes: bytes, clean: result.automergeable != 0 || prefer != nil)
    }
}
