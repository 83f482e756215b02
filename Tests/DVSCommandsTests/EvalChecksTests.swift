import DVSLearn
import Testing

@testable import DVSCommands

/// `dvs eval` names the true labels a model cannot output (issue 18).
@Suite struct EvalChecksTests {
    @Test func labelsTheModelCannotOutputAreCountedByName() {
        // Truth has 'silence' twice, which the model (classes a, b) never learnt.
        let m = Metrics.classification(
            ClassificationMetrics(truth: ["a", "b", "silence", "silence", "a"], predicted: ["a", "a", "a", "b", "a"]))
        let unknown = MetricsText.unpredictable(m, classNames: ["a", "b"])
        #expect(unknown.map(\.name) == ["silence"] && unknown.map(\.count) == [2])
        #expect(MetricsText.unpredictable(m, classNames: ["a", "b", "silence"]).isEmpty)
        // A class only predicted (never true) is not reported.
        let p = Metrics.classification(ClassificationMetrics(truth: ["a", "a"], predicted: ["z", "a"]))
        #expect(MetricsText.unpredictable(p, classNames: ["a"]).isEmpty)
    }
}
