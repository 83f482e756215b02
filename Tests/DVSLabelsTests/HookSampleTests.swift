import DVSTestSupport
import Foundation
import Testing

/// The pre-commit hook samples in `hooks/`, which `dvs init` installs as `.dvs/hooks/*.sample`:
/// run with python3, fed a snapshot as JSON Lines on stdin, checked by exit status and stderr.
@Suite struct HookSampleTests {
    static let audioHook = TestSupport.packageRoot + "/hooks/pre-commit-audio.sample"
    static let labelsHook = TestSupport.packageRoot + "/hooks/pre-commit-labels.sample"

    /// A snapshot: a good stereo clip with a silent channel, a short clip, a good clip, a quiet
    /// clip with a non-ASCII name, a blank line, and a clip without labels.
    static let snapshot = """
        {"path":"clips/a.wav","sha256":"00","format":"WAV","encoding":"PCM_16","sample_rate":16000,"channels":2,"frames":8000,"duration_s":0.5,"channel_peak":[0.41,0.0],"channel_rms_dbfs":[-23.1,null],"labels":{"speaker_id":"007","label":"agent"},"transcript":"hi"}
        {"path":"clips/short.wav","channels":1,"duration_s":0.3,"channel_peak":[0.5],"channel_rms_dbfs":[-20.0],"labels":{"label":null}}
        {"path":"clips/ok.wav","channels":1,"duration_s":1.25,"channel_peak":[0.5],"channel_rms_dbfs":[-20.0],"labels":{"label":"customer"}}
        {"path":"clips/quiet Zoë.wav","channels":1,"duration_s":2.0,"channel_peak":[0.001],"channel_rms_dbfs":[-72.44],"labels":{"label":""}}

        {"path":"clips/nolabels.wav","channels":1,"duration_s":2.0,"channel_peak":[0.3],"channel_rms_dbfs":[-30]}

        """

    /// The line of `snapshot` whose path is `clips/ok.wav`.
    static var goodLine: String { snapshot.split(separator: "\n").first { $0.contains("clips/ok.wav") }.map { $0 + "\n" } ?? "" }

    func run(_ script: String, _ input: String, environment: [String: String] = [:]) throws -> TestSupport.Result {
        try TestSupport.run("/usr/bin/env", ["python3", script], environment: environment, stdin: Data(input.utf8))
    }

    @Test func samplesAreExecutablePythonScripts() throws {
        for script in [Self.audioHook, Self.labelsHook] {
            #expect(FileManager.default.isExecutableFile(atPath: script))
            let text = String(decoding: try TestSupport.read(script), as: UTF8.self)
            #expect(text.hasPrefix("#!/usr/bin/env python3\n"))
            #expect(text.contains("mv .dvs/hooks/\((script as NSString).lastPathComponent) .dvs/hooks/pre-commit"))
        }
    }

    @Test func audioHookRejectsShortClipsAndSilentChannels() throws {
        let r = try run(Self.audioHook, Self.snapshot)
        #expect(r.status == 1)
        #expect(
            r.stderr == """
                clips/a.wav: channel 1 is silent (peak 0)
                clips/short.wav: 0.30 s is shorter than 0.5 s
                clips/quiet Zoë.wav: channel 0 is silent (RMS -72.4 dBFS, below -60 dBFS)

                """)
        #expect(r.stdout.isEmpty)
    }

    @Test func audioHookReportsEveryProblemOfASampleOnOneLine() throws {
        let line = #"{"path":"b.wav","duration_s":0.1,"channel_peak":[0,0.2],"channel_rms_dbfs":[null,-61]}"# + "\n"
        let r = try run(Self.audioHook, line)
        #expect(r.status == 1)
        #expect(
            r.stderr
                == "b.wav: 0.10 s is shorter than 0.5 s; channel 0 is silent (peak 0); channel 1 is silent (RMS -61.0 dBFS, below -60 dBFS)\n"
        )
    }

    @Test func audioHookAcceptsGoodClipsAndAnEmptySnapshot() throws {
        for input in [Self.goodLine, ""] {
            let r = try run(Self.audioHook, input)
            #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        }
    }

    @Test func labelsHookRejectsMissingNullAndEmptyLabels() throws {
        let r = try run(Self.labelsHook, Self.snapshot)
        #expect(r.status == 1)
        #expect(
            r.stderr == """
                clips/short.wav: label 'label' is null
                clips/quiet Zoë.wav: label 'label' is empty
                clips/nolabels.wav: label 'label' is missing

                """)
    }

    @Test func labelsHookFieldComesFromTheEnvironment() throws {
        let r = try run(Self.labelsHook, Self.snapshot, environment: ["DVS_REQUIRED_LABEL": "speaker_id"])
        #expect(r.status == 1)
        #expect(
            r.stderr.split(separator: "\n") == [
                "clips/short.wav: label 'speaker_id' is missing", "clips/ok.wav: label 'speaker_id' is missing",
                "clips/quiet Zoë.wav: label 'speaker_id' is missing", "clips/nolabels.wav: label 'speaker_id' is missing",
            ])
        let ok = try run(Self.labelsHook, Self.goodLine)
        #expect(ok.status == 0 && ok.stderr.isEmpty, "\(ok.stderr)")
    }

    @Test func hooksRefuseASnapshotThatIsNotJSON() throws {
        for script in [Self.audioHook, Self.labelsHook] {
            let r = try run(script, "{not json\n")
            #expect(r.status == 1)
            #expect(r.stderr.contains("line 1 of the snapshot is not JSON"))
        }
    }
}
