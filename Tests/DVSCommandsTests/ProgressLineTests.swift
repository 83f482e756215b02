import DVS
import Testing

@testable import DVSCommands

/// The progress line long operations draw on a terminal.
@Suite struct ProgressLineTests {
    /// The rate is over the phase's own time, so an upload that began after 9 s of listing
    /// gets its real rate and ETA (they were over the command's time: 10× too slow, ETA 10× too
    /// long); a phase that is done shows no ETA.
    @Test func rateAndETACountFromThePhasesStartAndStopWhenItIsDone() {
        let mib: UInt64 = 1 << 20
        let upload = DVS.Progress(phase: .uploading, done: 2, total: 5, bytes: 4 * mib, totalBytes: 10 * mib)
        #expect(Output.progressLine(upload, elapsed: 1) == "uploading: 40% (2/5), 4.0 MiB, 4.0 MiB/s, ETA 2 s")
        let done = DVS.Progress(phase: .uploading, done: 5, total: 5, bytes: 9 * mib, totalBytes: 10 * mib)
        #expect(Output.progressLine(done, elapsed: 3) == "uploading: 100% (5/5), 9.0 MiB, 3.0 MiB/s")
        // Too early for a rate; a phase with no bytes gets none.
        #expect(Output.progressLine(upload, elapsed: 0.2) == "uploading: 40% (2/5), 4.0 MiB")
        #expect(Output.progressLine(DVS.Progress(phase: .hashing, done: 3, total: 0, bytes: 0), elapsed: 5) == "hashing: (3/0)")
    }

    /// The phase's start is its first report: a new phase name, or a second meter of the same
    /// phase (its counts start again); the rate was over the whole command's time.
    @Test func aPhaseStartsAtItsFirstReport() {
        let draw = Output.LastDraw()
        #expect(draw.shouldDraw(100, final: false, phase: "hashing", done: 1, bytes: 10) == 100)
        #expect(draw.shouldDraw(109, final: false, phase: "uploading", done: 0, bytes: 0) == 109)
        #expect(draw.shouldDraw(110, final: false, phase: "uploading", done: 1, bytes: 500) == 109)
        #expect(draw.shouldDraw(110.05, final: false, phase: "uploading", done: 2, bytes: 900) == nil, "at most 10 lines a second")
        // Reports of several threads out of order: the phase goes on.
        #expect(draw.shouldDraw(110.2, final: false, phase: "uploading", done: 2, bytes: 800) == 109)
        #expect(draw.shouldDraw(110.35, final: true, phase: "uploading", done: 3, bytes: 1000) == 109, "the last one is drawn")
        // Fetch's download, then a partial checkout's: the second starts over.
        #expect(draw.shouldDraw(130, final: false, phase: "uploading", done: 0, bytes: 0) == 130)
    }
}
