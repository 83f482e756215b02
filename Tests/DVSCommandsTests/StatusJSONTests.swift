import Testing

@testable import DVSCommands

/// `dvs status --json`'s fields that are parsed from text.
@Suite struct StatusJSONTests {
    /// The pid of a repack's lock holder, as dvs records it and as the system shows another
    /// program; none in a text without one.
    @Test func theRunningRepacksPidIsReadFromItsHolder() {
        #expect(Status.JSONPendingRepack.pid(inHolder: "pid 1234: dvs repack --background") == 1234)
        #expect(Status.JSONPendingRepack.pid(inHolder: "process 77 (flock .dvs/repack.lock sleep 9) since 12:00:01") == 77)
        #expect(Status.JSONPendingRepack.pid(inHolder: "a process whose pid the system does not show") == nil)
        #expect(Status.JSONPendingRepack.pid(inHolder: "pid : dvs repack") == nil)
    }
}
