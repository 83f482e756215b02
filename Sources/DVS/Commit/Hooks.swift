import DVSCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Git-style hooks: executables in `.dvs/hooks/` that dvs runs at fixed points.
///
/// * `pre-commit` — gets the proposed snapshot on stdin as JSON Lines, one sample per line
///   (`sampleJSONObject`); a non-zero exit aborts the commit and nothing is written.
/// * `post-commit` — gets the new commit id as its first argument (and on stdin); its exit status
///   is ignored.
///
/// Hooks run with the working tree's root as their current directory and `DVS_DIR` set to
/// `.dvs`; their stdout goes to the caller's handler (`CommitOptions.hookOutput`; the dvs command
/// writes it to its stderr, as git does), their stderr back to the caller. A hook that is missing or not
/// executable is skipped (samples are installed as `*.sample`).
public enum Hook: String, Sendable, CaseIterable {
    /// Runs before anything is written; may veto the commit.
    case preCommit = "pre-commit"
    /// Runs after the branch moved.
    case postCommit = "post-commit"
}

/// The outcome of one hook run.
struct HookRun {
    var status: Int32
    var stderr: String
}

extension Repository {
    /// Where hook `h` lives.
    public func hookPath(_ h: Hook) -> String { dvsDir + "/hooks/" + h.rawValue }

    /// Runs hook `h` when it exists and is executable.
    /// - Parameters:
    ///   - arguments: passed after the hook's path.
    ///   - makeInput: what to write to the hook's stdin (called only when the hook exists); stdin
    ///     is closed after it (a hook that does not read it is fine).
    ///   - output: receives the hook's stdout chunk by chunk as it is written, all of it before
    ///     this returns; nil discards it.
    /// - Returns: nil when there is no such hook; else its exit status (128+N when killed by
    ///   signal N) and what it wrote to stderr (the caller shows it).
    /// - Throws: `DVSError.io` when the hook cannot be started.
    func runHook(
        _ h: Hook, arguments: [String] = [], input makeInput: () -> Data, output: (@Sendable (Data) -> Void)?
    ) throws -> HookRun? {
        let path = hookPath(h)
        guard access(path, X_OK) == 0 else { return nil }
        let input = makeInput()
        signal(SIGPIPE, SIG_IGN)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        var env = context.environment
        env["DVS_DIR"] = dvsDir
        p.environment = env
        let stdin = Pipe()
        let stderr = Pipe()
        let stdout = output.map { _ in Pipe() }
        p.standardInput = stdin
        p.standardOutput = stdout ?? FileHandle.nullDevice
        p.standardError = stderr
        do { try p.run() } catch {
            throw DVSError(
                .io, "cannot run hook '\(path)': \(error.localizedDescription)",
                hint: "check its #! line and that it is executable (chmod +x), or remove it", underlying: error)
        }
        // Feed stdin on its own thread while stderr is drained here, so neither pipe can fill up.
        let writer = Thread {
            let fd = stdin.fileHandleForWriting.fileDescriptor
            input.withUnsafeBytes { buf in
                var off = 0
                while off < buf.count {
                    let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                    if n < 0 {
                        if errno == EINTR { continue }
                        break
                    }  // EPIPE: the hook stopped reading
                    off += n
                }
            }
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        // Forward stdout on its own thread as it arrives, so the caller sees it as the hook runs.
        let forwarded = DispatchSemaphore(value: 0)
        if let stdout, let output {
            Thread {
                let handle = stdout.fileHandleForReading
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    output(chunk)
                }
                forwarded.signal()
            }.start()
        } else {
            forwarded.signal()
        }
        let errData = stderr.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        forwarded.wait()
        let text = String(decoding: errData, as: UTF8.self)
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return HookRun(status: status, stderr: text)
    }

    /// The JSON Lines a `pre-commit` hook reads: one sample per line, in path order.
    func preCommitInput(_ entries: [ManifestEntry]) -> Data {
        var out = ""
        out.reserveCapacity(entries.count * 300)
        for e in entries where e.audio != nil {
            SampleJSON.write(e, to: &out)
            out.append("\n")
        }
        return Data(out.utf8)
    }
}
