import DVSCore
import DVSTestSupport
import Foundation
import Testing

@testable import DVSLearn

/// Baselines trained on real recordings with a clearly separable label must score well above
/// chance on held-out clips. The numbers are held here; if a change to the features or the
/// learners lowers them, these tests say so.
@Suite struct BaselineTests {
    /// Telephony (8 kHz μ-law) against wideband: every other recording of each source goes
    /// through the telephone channel, so content, speaker and language do not predict the label —
    /// only the missing band above 4 kHz does. Chance is 0.5.
    @Test func telephonyVersusWidebandIsLearnedFromRecordings() throws {
        let sources = ["ktuberling-en", "ktuberling-de", "klettres-en"].map(RecordedAudio.wideband)
        try #require(sources.allSatisfy { $0.count >= 20 }, "install ktuberling-data and klettres-data (scripts/install-deps.sh)")
        var jobs: [(String, RecordedAudio.Channel)] = []
        for files in sources {
            for (i, f) in files.enumerated() { jobs.append((f, i % 2 == 0 ? .telephony : .wideband)) }
        }
        let audio = try RecordedAudio.samples(jobs)
        let extractor = try FeatureExtractor()
        let examples = zip(jobs, audio).map { job, pcm in
            LabeledExample(
                key: job.0, blobID: ObjectID.hashing(Array(job.0.utf8)), features: extractor.features(pcm),
                label: { if case .telephony = job.1 { return "telephony" } else { return "wideband" } }())
        }
        let result = try Baseline.train(
            examples, task: .classify, labelField: "channel", features: extractor.config,
            parameters: TrainingParameters(task: .classify, holdoutFraction: 0.3))
        #expect(result.holdoutCount >= 40)
        #expect(result.trainingCount + result.holdoutCount == examples.count)
        guard case .classification(let m)? = result.holdoutMetrics else {
            Issue.record("no holdout metrics")
            return
        }
        #expect(m.classNames == ["telephony", "wideband"])
        #expect(m.accuracy >= 0.95, "holdout accuracy \(m.accuracy), chance 0.5")  // 1.0 (50 of 50) today
        #expect(m.macroF1 >= 0.95, "holdout macro-F1 \(m.macroF1)")
        #expect(result.model.trainingBlobIDs.count == result.trainingCount)
        // The file keeps the model exactly: predictions from a decoded copy are identical.
        let copy = try ModelFile.decode(try ModelFile.encode(result.model))
        #expect(copy == result.model)
        #expect(Baseline.score(copy, examples) == Baseline.score(result.model, examples))
    }

    /// Two languages of ktuberling's recorded words (the same word list read in English and in
    /// German). Chance is 0.5.
    @Test func englishVersusGermanIsLearnedFromRecordings() throws {
        let en = RecordedAudio.wideband("ktuberling-en")
        let de = RecordedAudio.wideband("ktuberling-de")
        try #require(en.count >= 40 && de.count >= 40, "install ktuberling-data (scripts/install-deps.sh)")
        let jobs = (en + de).map { ($0, RecordedAudio.Channel.wideband) }
        let audio = try RecordedAudio.samples(jobs)
        let extractor = try FeatureExtractor()
        let examples = zip(jobs, audio).map { job, pcm in
            LabeledExample(key: job.0, features: extractor.features(pcm), label: job.0.contains("/en/") ? "en" : "de")
        }
        let result = try Baseline.train(
            examples, task: .classify, labelField: "lang", features: extractor.config,
            parameters: TrainingParameters(task: .classify, holdoutFraction: 0.3))
        guard case .classification(let m)? = result.holdoutMetrics else {
            Issue.record("no holdout metrics")
            return
        }
        #expect(m.sampleCount >= 30)
        #expect(m.accuracy >= 0.9, "holdout accuracy \(m.accuracy), chance 0.5")  // 1.0 (42 of 42) today
    }

    /// Ridge regression recovers the RMS level (dBFS) that recordings were scaled to (−40…−16 dBFS,
    /// RMS over the whole clip). Log-mel energy moves linearly with level, but pooled log energy
    /// is not log mean energy (silences, crest factor), so the fit is close, not exact: on this
    /// data holdout r ≈ 0.90 and MAE ≈ 2.7 dB, against ≈ 6 dB for always predicting the mean.
    @Test func rmsLevelIsRegressedFromRecordings() throws {
        let files =
            RecordedAudio.wideband("ktuberling-en") + RecordedAudio.wideband("ktuberling-de") + RecordedAudio.wideband("klettres-en")
        try #require(files.count >= 100, "install ktuberling-data and klettres-data (scripts/install-deps.sh)")
        let audio = try RecordedAudio.samples(files.map { ($0, .wideband) })
        let extractor = try FeatureExtractor()
        let examples = files.indices.map { i -> LabeledExample in
            let level = -16 - Double((i * 7) % 25)
            let pcm = audio[i]
            let rms = (pcm.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(pcm.count, 1))).squareRoot()
            let gain = Float(pow(10, level / 20) / max(rms, 1e-9))
            return LabeledExample(key: files[i], features: extractor.features(pcm.map { $0 * gain }), label: String(level))
        }
        let result = try Baseline.train(
            examples, task: .regress, labelField: "rms_dbfs", features: extractor.config,
            parameters: TrainingParameters(task: .regress, holdoutFraction: 0.3))
        guard case .regression(let m)? = result.holdoutMetrics else {
            Issue.record("no holdout metrics")
            return
        }
        #expect(m.sampleCount >= 30)
        // Chance: predicting the training mean for every held-out clip.
        let trainingMean = Double(result.model.bias[0])
        let heldOut = examples.filter { HoldoutSplit.isHeldOut(key: $0.key, fraction: 0.3) }.map { Double($0.label)! }
        let chanceMAE = heldOut.reduce(0) { $0 + abs($1 - trainingMean) } / Double(heldOut.count)
        #expect(chanceMAE >= 5, "chance MAE \(chanceMAE) dB")
        #expect((m.pearsonR ?? 0) >= 0.85, "holdout r \(String(describing: m.pearsonR))")
        #expect(m.meanAbsoluteError <= 3.5, "holdout MAE \(m.meanAbsoluteError) dB, chance \(chanceMAE) dB")
        #expect(m.meanAbsoluteError <= 0.5 * chanceMAE)
    }

    /// Splitting by a group field keeps every member of a group on one side.
    @Test func splitByGroupKeepsGroupsTogether() throws {
        let extractor = try FeatureExtractor()
        let f = extractor.features([Float](repeating: 0, count: 1600))
        let examples = (0..<400).map { i in
            LabeledExample(key: "clip\(i).wav", group: "spk\(i % 40)", features: f, label: i % 2 == 0 ? "a" : "b")
        }
        var side: [String: Bool] = [:]
        for e in examples {
            let held = HoldoutSplit.isHeldOut(key: e.group!, fraction: 0.25)
            if let s = side[e.group!] { #expect(s == held) }
            side[e.group!] = held
        }
        let heldGroups = side.values.filter { $0 }.count
        #expect(heldGroups > 0 && heldGroups < 40)
        // By path, the fraction held out is near the one asked for.
        let byPath = (0..<4000).filter { HoldoutSplit.isHeldOut(key: "clips/\($0).wav", fraction: 0.2) }.count
        #expect(abs(Double(byPath) / 4000 - 0.2) < 0.03)
        // Fixed: the split of a key never changes between runs or versions.
        #expect(HoldoutSplit.isHeldOut(key: "clips/0.wav", fraction: 0.2) == HoldoutSplit.isHeldOut(key: "clips/0.wav", fraction: 0.2))
        #expect(!HoldoutSplit.isHeldOut(key: "x", fraction: 0) && HoldoutSplit.isHeldOut(key: "x", fraction: 1))
    }

    /// Training refuses what it cannot learn from, saying why.
    @Test func trainingRejectsUnlearnableInput() throws {
        let extractor = try FeatureExtractor()
        let f = extractor.features([Float](repeating: 0.1, count: 1600))
        let one = (0..<20).map { LabeledExample(key: "\($0)", features: f, label: "same") }
        #expect(throws: LearnError.self) {
            try Baseline.train(
                one, task: .classify, labelField: "lang", features: extractor.config,
                parameters: TrainingParameters(task: .classify))
        }
        do {
            _ = try Baseline.train(
                [LabeledExample(key: "a.wav", features: f, label: "loud")], task: .regress, labelField: "snr",
                features: extractor.config, parameters: TrainingParameters(task: .regress, holdoutFraction: 0))
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "sample 'a.wav': label 'snr' = 'loud' is not a number")
            #expect(error.reason == .categoricalLabel && error.subject == "snr")
        }
        #expect(throws: LearnError.self) {
            try Baseline.train(
                [], task: .classify, labelField: "lang", features: extractor.config,
                parameters: TrainingParameters(task: .classify))
        }
    }
}

/// Learners and metrics against values worked out by hand.
@Suite struct LearnerTests {
    @Test func ridgeRecoversAnExactLinearRelation() throws {
        // y = 3·x0 − 2·x1 + 0.5·x2 + 7 on standardised-looking rows.
        var rows: [[Double]] = []
        var y: [Double] = []
        for i in 0..<200 {
            let x = [sin(Double(i)), cos(Double(i) * 0.7), Double(i % 13) / 6 - 1]
            rows.append(x)
            y.append(3 * x[0] - 2 * x[1] + 0.5 * x[2] + 7)
        }
        // Centre the rows as standardisation would.
        let means = (0..<3).map { j in rows.map { $0[j] }.reduce(0, +) / 200 }
        rows = rows.map { r in (0..<3).map { r[$0] - means[$0] } }
        let fit = try RidgeRegression.fit(rows: rows, targets: y, l2: 1e-9)
        #expect(abs(fit.weights[0] - 3) < 1e-3 && abs(fit.weights[1] + 2) < 1e-3 && abs(fit.weights[2] - 0.5) < 1e-3)
        let predicted0 = Double(fit.bias) + (0..<3).reduce(0.0) { $0 + Double(fit.weights[$1]) * rows[0][$1] }
        #expect(abs(predicted0 - y[0]) < 1e-3)
    }

    @Test func softmaxSeparatesThreeClustersAndIsDeterministic() {
        var rows: [[Double]] = []
        var classes: [Int] = []
        let centres = [[2.0, 0.0], [-2.0, 1.0], [0.0, -2.5]]
        for i in 0..<150 {
            let c = i % 3
            rows.append([centres[c][0] + 0.5 * sin(Double(i)), centres[c][1] + 0.5 * cos(Double(i) * 1.3)])
            classes.append(c)
        }
        let a = SoftmaxRegression.fit(rows: rows, classes: classes, classCount: 3, l2: 0.01, maxIterations: 300)
        let b = SoftmaxRegression.fit(rows: rows, classes: classes, classCount: 3, l2: 0.01, maxIterations: 300)
        #expect(a.weights == b.weights && a.bias == b.bias)
        let correct = (0..<150).filter { i in
            let s = SoftmaxRegression.scores(rows[i], weights: a.weights, bias: a.bias)
            return s.firstIndex(of: s.max()!) == classes[i]
        }.count
        #expect(correct == 150)
    }

    @Test func classificationMetricsMatchHandComputation() {
        // truth a a a b b c ; predicted a a b b c c
        let m = ClassificationMetrics(truth: ["a", "a", "a", "b", "b", "c"], predicted: ["a", "a", "b", "b", "c", "c"])
        #expect(m.classNames == ["a", "b", "c"])
        #expect(m.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
        #expect(abs(m.accuracy - 4.0 / 6) < 1e-12)
        // F1: a = 2·1·(2/3)/(1+2/3) = 0.8; b = p 1/2, r 1/2 → 0.5; c = p 1/2, r 1 → 2/3.
        #expect(abs(m.f1[0] - 0.8) < 1e-12 && abs(m.f1[1] - 0.5) < 1e-12 && abs(m.f1[2] - 2.0 / 3) < 1e-12)
        #expect(abs(m.macroF1 - (0.8 + 0.5 + 2.0 / 3) / 3) < 1e-12)
    }

    @Test func regressionMetricsMatchHandComputation() {
        let m = RegressionMetrics(truth: [1, 2, 3, 4], predicted: [1.5, 2, 2, 5])
        #expect(abs(m.meanAbsoluteError - 0.625) < 1e-12)  // (0.5 + 0 + 1 + 1) / 4
        #expect(abs(m.rootMeanSquaredError - (2.25 / 4).squareRoot()) < 1e-12)
        // r = Σ(t−2.5)(p−2.625) / √(Σ(t−2.5)² Σ(p−2.625)²) = 5.25 / √(5 · 7.6875)
        #expect(abs(m.pearsonR! - 5.25 / (5 * 7.6875).squareRoot()) < 1e-12)
        #expect(RegressionMetrics(truth: [1, 1], predicted: [2, 3]).pearsonR == nil)
    }

    @Test func inferenceSpeedRatios() {
        let s = InferenceSpeed(sampleCount: 50, audioSeconds: 100, processingSeconds: 2)
        #expect(s.realTimeFactor == 0.02)
        #expect(s.samplesPerSecond == 25)
    }
}
