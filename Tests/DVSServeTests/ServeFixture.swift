import DVS
import DVSCore
import DVSServe
import DVSTestSupport
import Foundation

/// One repository for all the server tests (the server never writes, so they share it): the
/// fixture dataset (8 clips, Deepgram responses, metadata.csv) plus a μ-law clip and a symlink
/// to /etc/passwd, committed and tagged `v1`; then `clips/ana_0001.wav` relabeled agent →
/// customer and committed on `main`; branch `review` at that commit.
enum ServeFixture {
    struct Made: Sendable {
        let root: String
        let first: CommitID
        let second: CommitID
    }

    /// The sample with a Deepgram transcript (words) that the page tests use.
    static let transcribed = "clips/call_0001_mono.wav"
    /// The sample whose `label` changes between `v1` and `main`.
    static let relabeled = "clips/ana_0001.wav"
    /// The μ-law sample.
    static let mulaw = "clips/mulaw_8k.wav"

    static let made: Result<Made, TestError> = {
        do {
            let root = NSTemporaryDirectory() + "dvs-serve-tests-\(getpid())"
            try? FileManager.default.removeItem(atPath: root)
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            // The clips and their Deepgram responses; the fixture's label tables carry planted
            // problems that stop a commit, so one clean table replaces them.
            try TestSupport.sh("cp -R '\(TestSupport.fixtures)/dataset/clips' '\(TestSupport.fixtures)/dataset/deepgram' '\(root)/'")
            try TestSupport.sh("cp '\(TestSupport.fixtures)/audio_edge/mulaw_8k_mono.wav' '\(root)/\(mulaw)'")
            try TestSupport.sh("ln -s /etc/passwd '\(root)/secret.wav'")
            var context = TestSupport.processContext
            context.environment["DVS_AUTHOR_NAME"] = "Serve Test"
            context.environment["DVS_AUTHOR_EMAIL"] = "serve@example.com"
            try table(ana0001: "agent").write(toFile: root + "/metadata.csv", atomically: true, encoding: .utf8)
            let repo = try Repository.initialize(at: root, context: context)
            let first = try repo.commit(CommitOptions(message: "the fixture dataset")).id
            _ = try repo.createTag("v1", at: Revision(first.hex))
            try table(ana0001: "customer").write(toFile: root + "/metadata.csv", atomically: true, encoding: .utf8)
            let second = try repo.commit(CommitOptions(message: "relabel ana_0001: agent → customer")).id
            _ = try repo.createBranch("review")
            _ = try repo.createCohort("customers", predicate: "label = 'customer'")
            // Two models trained on main, each evaluated there (accuracy and real-time factor: the
            // comparison chart has points).
            for (name, accuracy, rtf) in [("tiny", 0.8, 0.02), ("large", 0.95, 0.3)] {
                let artifact = NSTemporaryDirectory() + "dvs-serve-\(name)-\(getpid()).bin"
                try Data(name.utf8).write(to: URL(fileURLWithPath: artifact))
                var registration = ModelRegistration(artifactPath: artifact, revision: "main", name: name)
                registration.message = "test model \(name)"
                let model = try repo.registerModel(registration).id
                _ = try repo.recordEval(
                    EvalRegistration(
                        model: model, revision: "main", metrics: ["accuracy": .number(accuracy), "real_time_factor": .number(rtf)],
                        sampleCount: 9))
            }
            return .success(Made(root: root, first: first, second: second))
        } catch let e as TestError {
            return .failure(e)
        } catch {
            return .failure(TestError("cannot make the fixture repository: \(error)"))
        }
    }()

    /// The label table (Hugging Face audiofolder `metadata.csv`), with `ana0001` as the label of
    /// `clips/ana_0001.wav`.
    static func table(ana0001: String) -> String {
        """
        file_name,transcription,speaker_id,label
        clips/ana_0001.wav,"Yes, the parcel left on Monday.",021,\(ana0001)
        clips/ana_0002.wav,"He wrote ""urgent"" on the box",021,customer
        clips/ben_0001.wav,first line,034,billing
        clips/ben 0002.wav,a short reply,034,agent
        clips/chloé_0001.wav,Chloé's crème brûlée,046,customer
        clips/call_0001_mono.wav,a call,060,agent
        clips/call_0002_stereo.wav,a stereo call,060,customer
        clips/call_0003_silence.wav,,060,silence
        clips/mulaw_8k.wav,a tone,070,tone

        """
    }

    /// The fixture repository, opened.
    static func repository() throws -> Repository {
        let m = try made.get()
        return try Repository.discover(from: m.root, context: TestSupport.processContext)
    }
}
