import DVSCatalog
import DVSCore
import DVSLearn
import DVSTestSupport
import Foundation
import Testing

@testable import DVS

/// Issue 18: a new column is a schema change, not a relabel of every row; training keeps
/// identical audio on one side of the split; Deepgram summaries as stored and indexed.
@Suite struct DatasetHygieneTests {
    /// Speaks `count` clips under `clips/` and writes `metadata.csv` with the given columns.
    func writeClips(_ repo: Repository, count: Int, header: String, row: (Int) -> String) throws {
        var csv = "file_name," + header + "\n"
        for i in 0..<count {
            let path = "clips/\(i).wav"
            try TestSupport.speak("number \(i)", to: repo.root + "/" + path, sampleRate: 8000)
            csv += path + "," + row(i) + "\n"
        }
        try TestSupport.write(Data(csv.utf8), to: repo.root + "/metadata.csv")
    }

    @Test func anEmptyNewColumnIsOneSchemaChangeNotARelabelOfEveryRow() throws {
        try TestSupport.withTemporaryRepository { repo in
            try writeClips(repo, count: 5, header: "lang") { _ in "en" }
            let first = try repo.commit(CommitOptions(message: "clips")).id
            try TestSupport.write(Data("x".utf8), to: repo.root + "/../m.bin")
            var reg = ModelRegistration(artifactPath: repo.root + "/../m.bin", revision: "main")
            reg.labelField = "lang"
            let (model, _) = try repo.registerModel(reg)
            // The same table with a new empty column.
            var csv = "file_name,lang,notes\n"
            for i in 0..<5 { csv += "clips/\(i).wav,en,\n" }
            try TestSupport.write(Data(csv.utf8), to: repo.root + "/metadata.csv")
            let worktree = try repo.diff(nil, nil)
            #expect(worktree.relabeled.isEmpty, "\(worktree.relabeled)")
            #expect(worktree.schemaChanges == [FieldSchemaChange(field: "notes", kind: .added, samples: 5, filled: 0)])
            let second = try repo.commit(CommitOptions(message: "notes column")).id
            for d in [try repo.diff(first, second), try repo.diff(Revision(first), Revision(second))] {
                #expect(d.relabeled.isEmpty)
                #expect(d.schemaChanges == [FieldSchemaChange(field: "notes", kind: .added, samples: 5, filled: 0)])
            }
            let audit = try repo.audit(model: model)
            #expect(audit.relabeled.isEmpty)
            #expect(audit.schemaChanges == [FieldSchemaChange(field: "notes", kind: .added, samples: 5, filled: 0)])

            // Two cells filled and one label really changed: the column is still one schema
            // change (with its fill count), the changed label is the one relabel.
            csv = "file_name,lang,notes\n"
            for i in 0..<5 { csv += "clips/\(i).wav,\(i == 4 ? "de" : "en"),\(i < 2 ? "noisy" : "")\n" }
            try TestSupport.write(Data(csv.utf8), to: repo.root + "/metadata.csv")
            let third = try repo.commit(CommitOptions(message: "fill")).id
            let d = try repo.diff(first, third)
            #expect(d.schemaChanges == [FieldSchemaChange(field: "notes", kind: .added, samples: 5, filled: 2)])
            #expect(d.relabeled.map(\.path.string) == ["clips/4.wav"])
            #expect(d.relabeled.first?.fields == [FieldChange(name: "lang", old: .string("en"), new: .string("de"))])
            // From the second commit the column exists: filling cells are relabels there.
            let later = try repo.diff(second, third)
            #expect(later.schemaChanges.isEmpty)
            #expect(later.relabeled.map(\.path.string) == ["clips/0.wav", "clips/1.wav", "clips/4.wav"])
            // Dropping the column again is one schema change the other way.
            try TestSupport.write(
                Data(("file_name,lang\n" + (0..<5).map { "clips/\($0).wav,en\n" }.joined()).utf8), to: repo.root + "/metadata.csv")
            let fourth = try repo.commit(CommitOptions(message: "drop notes")).id
            let dropped = try repo.diff(third, fourth)
            #expect(dropped.schemaChanges == [FieldSchemaChange(field: "notes", kind: .removed, samples: 5, filled: 2)])
            #expect(dropped.relabeled.map(\.path.string) == ["clips/4.wav"])
        }
    }

    /// A multichannel diarized summary stored by an older version (speakers counted over all
    /// channels: 1) is counted as channel/speaker pairs (2) by queries, from its words object.
    @Test func olderMultichannelSpeakerCountsAreRecountedFromTheWords() throws {
        try TestSupport.withTemporaryRepository { repo in
            let words = [
                TranscriptWord(text: "Hello", start: 0.1, end: 0.4, confidence: 0.9, speaker: 0, channel: 0),
                TranscriptWord(text: "hi", start: 0.5, end: 0.7, confidence: 0.8, speaker: 0, channel: 1),
            ]
            let wordsID = try repo.objects.write(TranscriptWords.encode(words))
            var legacy = TranscriptSummary(
                source: "call.json", text: "Hello\nhi", confidence: 0.8, meanWordConfidence: 0.85, wordCount: 2, speakerCount: 1,
                channels: [
                    ChannelTranscript(channel: 0, text: "Hello", confidence: 0.9),
                    ChannelTranscript(channel: 1, text: "hi", confidence: 0.8),
                ],
                words: wordsID)
            legacy.speakersCountedAcrossChannels = true
            let audio = AudioFacts(container: "WAV", encoding: "PCM_16", sampleRate: 8000, channelCount: 2, frameCount: 8000)
            let entry = ManifestEntry(
                path: RepoPath("call.wav"), kind: .file, blob: ObjectID.hashing([1]), byteCount: 44, audio: audio,
                annotations: SampleAnnotations(transcript: legacy))
            let r = try repo.query("SELECT speaker_count, confidence, mean_word_confidence FROM sample", entries: [entry])
            #expect(r.rows == [[.int(2), .double(0.8), .double(0.85)]])
            var entries = [entry]
            try repo.recountSpeakers(&entries)
            #expect(entries[0].annotations?.transcript?.speakerCount == 2)
            #expect(entries[0].annotations?.transcript?.speakersCountedAcrossChannels == false)
        }
    }

    @Test func theSameJingleInEverySpeakersFolderStaysOnOneSideAndCountsAgree() throws {
        try TestSupport.withTemporaryRepository { repo in
            // Speakers chosen so that, split by speaker alone, the jingle would be on both sides.
            let names = (0..<40).map { "spk\($0)" }
            let held = names.filter { HoldoutSplit.isHeldOut(key: $0, fraction: 0.5) }
            let kept = names.filter { !HoldoutSplit.isHeldOut(key: $0, fraction: 0.5) }
            // The smallest name is on the training side, so the jingles train (two classes there).
            let speakers = ([kept[0], kept[1]] + held.filter { $0 > kept[0] }.prefix(2)).sorted()
            #expect(speakers[0] == kept[0])
            try TestSupport.sh("sox -n -r 16000 -c 1 -b 16 '\(repo.root)/jingle.wav' synth 0.6 sine 660 sine 880")
            let jingle = try TestSupport.read(repo.root + "/jingle.wav")
            try FileManager.default.removeItem(atPath: repo.root + "/jingle.wav")
            var csv = "file_name,speaker,kind\n"
            for (k, s) in speakers.enumerated() {
                for i in 0..<2 {
                    try TestSupport.speak("hello from speaker \(k) take \(i)", to: repo.root + "/\(s)/\(i).wav")
                    csv += "\(s)/\(i).wav,\(s),speech\n"
                }
                try TestSupport.write(jingle, to: repo.root + "/\(s)/jingle.wav")
                csv += "\(s)/jingle.wav,\(s),jingle\n"
            }
            try TestSupport.write(Data(csv.utf8), to: repo.root + "/metadata.csv")
            try repo.commit(CommitOptions(message: "speakers with a jingle"))
            var options = TrainOptions(revision: "main", labelField: "kind", outputPath: repo.root + "/../kind.dvsm")
            options.splitBy = "speaker"
            options.holdoutFraction = 0.5
            let r = try repo.train(options)
            let jingleID = ObjectID.hashing(Array(jingle))
            let training = Set(r.result.model.trainingBlobIDs)
            // Every copy on the first speaker's side: all 4 in training or none.
            let jingleTrained = training.contains(jingleID)
            #expect(jingleTrained == !HoldoutSplit.isHeldOut(key: speakers[0], fraction: 0.5))
            #expect(r.result.movedCopies == 2)
            #expect(jingleTrained)
            #expect(r.result.trainingCount == 8 && r.result.holdoutCount == 4)
            // The record, the printout and the audit count the same training samples.
            #expect(r.record.sampleCount == r.result.trainingCount)
            #expect(r.record.parameters["training_samples"] == String(r.result.trainingCount))
            let hits = try repo.auditSamples("kind = 'jingle'")
            #expect(hits.first?.trained == (jingleTrained ? 4 : 0))
            #expect(hits.first?.matched == 4)
        }
    }
}
