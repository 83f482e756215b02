import DVSCore
import DVSLearn
import DVSTestSupport
import Foundation
import Testing

/// The holdout split keeps byte-identical audio on one side, and training names classes only
/// the holdout has (issue 18).
@Suite struct SplitHygieneTests {
    /// Speakers whose own key falls on each side at `fraction`: some held out, some not.
    static func speakers(fraction: Double) -> (held: [String], kept: [String]) {
        let names = (0..<40).map { "spk\($0)" }
        return (
            names.filter { HoldoutSplit.isHeldOut(key: $0, fraction: fraction) },
            names.filter { !HoldoutSplit.isHeldOut(key: $0, fraction: fraction) }
        )
    }

    @Test func aJingleInEverySpeakersFolderLandsOnOneSide() throws {
        let (held, kept) = Self.speakers(fraction: 0.5)
        let group = Array(held.prefix(2) + kept.prefix(2)).sorted()
        let jingle = ObjectID.hashing(Array("jingle".utf8))
        var examples: [LabeledExample] = []
        for s in group {
            for i in 0..<2 {
                examples.append(
                    LabeledExample(
                        key: "\(s)/\(i).wav", group: s, blobID: ObjectID.hashing(Array("\(s)-\(i)".utf8)), features: [], label: "speech"))
            }
            examples.append(LabeledExample(key: "\(s)/jingle.wav", group: s, blobID: jingle, features: [], label: "jingle"))
        }
        // Split by speaker alone, the jingle's copies would be on both sides.
        let bySpeaker = examples.map { HoldoutSplit.isHeldOut(key: $0.group!, fraction: 0.5) }
        #expect(Set(zip(examples, bySpeaker).filter { $0.0.blobID == jingle }.map(\.1)).count == 2)
        let sides = HoldoutSplit.heldOut(examples, fraction: 0.5)
        let jingleSides = Set(zip(examples, sides).filter { $0.0.blobID == jingle }.map(\.1))
        #expect(jingleSides.count == 1)
        // All copies follow the smallest speaker's side; every speaker's own clips stay on its side.
        #expect(jingleSides.first == HoldoutSplit.isHeldOut(key: group[0], fraction: 0.5))
        for (e, side) in zip(examples, sides) where e.blobID != jingle {
            #expect(side == HoldoutSplit.isHeldOut(key: e.group!, fraction: 0.5))
        }
        // Two of the four copies moved: those of the speakers on the other side.
        #expect(HoldoutSplit.movedCopies(examples, fraction: 0.5) == 2)
        // Without repeated audio nothing changes.
        let unique = examples.filter { $0.blobID != jingle }
        #expect(HoldoutSplit.heldOut(unique, fraction: 0.5) == unique.map { HoldoutSplit.isHeldOut(key: $0.group!, fraction: 0.5) })
        #expect(HoldoutSplit.movedCopies(unique, fraction: 0.5) == 0)
    }

    @Test func aClassOnlyInTheHoldoutIsNamed() throws {
        let extractor = try FeatureExtractor()
        let (held, kept) = Self.speakers(fraction: 0.3)
        var examples: [LabeledExample] = []
        // Speech from real recordings, so the fit has something to separate.
        let recordings = Array(RecordedAudio.wideband("ktuberling-en").prefix(6))
        try #require(recordings.count >= 4)
        for (i, path) in recordings.enumerated() {
            let pcm = try RecordedAudio.samples(path)
            let speaker = i % 2 == 0 ? kept[i] : kept[i + 10]
            examples.append(
                LabeledExample(key: path, group: speaker, features: extractor.features(pcm), label: i % 2 == 0 ? "a" : "b"))
        }
        let silence = extractor.features([Float](repeating: 0, count: 16000))
        examples.append(LabeledExample(key: "quiet.wav", group: held[0], features: silence, label: "silence"))
        let r = try Baseline.train(
            examples, task: .classify, labelField: "kind", features: extractor.config,
            parameters: TrainingParameters(task: .classify, holdoutFraction: 0.3, splitBy: "speaker"))
        #expect(r.holdoutOnlyClasses == ["silence"])
        #expect(r.holdoutCount == 1 && !r.model.classNames.contains("silence"))
    }
}
