import Foundation
import Testing

@testable import DVSLearn

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Confidence intervals, per-slice macro-F1, the Pareto front and the SVG plot of a model comparison.
@Suite struct ComparisonTests {
    /// Wilson score intervals (95 %), each worked by hand with z = 1.959964, z² = 3.841459:
    /// centre = (p̂ + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·√(p̂(1−p̂)/n + z²/4n²).
    @Test func wilsonIntervalsMatchHandComputation() throws {
        func check(_ k: Int, _ n: Int, _ lower: Double, _ upper: Double, _ tolerance: Double = 5e-7) throws {
            let w = try #require(WilsonInterval(successes: k, trials: n))
            #expect(abs(w.lower - lower) < tolerance && abs(w.upper - upper) < tolerance, "\(k)/\(n): \(w)")
        }
        // 3 of 3: 1 + z²/3 = 2.280486; centre = (1 + 0.640243)/2.280486 = 0.719252;
        // half = (1.959964/2.280486)·√(3.841459/36) = 0.859451·0.326661 = 0.280749 → 0.438503 … 1.
        try check(3, 3, 0.438503, 1)
        // 0 of 3: the mirror image.
        try check(0, 3, 0, 0.561497)
        // 8 of 10: 1 + z²/10 = 1.384146; centre = (0.8 + 0.192073)/1.384146 = 0.716740;
        // half = (1.959964/1.384146)·√(0.016 + 0.009604) = 1.416010·0.160013 = 0.226580 → 0.490162 … 0.943318.
        try check(8, 10, 0.490162, 0.943318)
        // 1 of 2: centre 0.5, half = (1.959964/2.920729)·√(0.125 + 0.240091) = 0.671052·0.604228 → 0.094531 … 0.905469.
        try check(1, 2, 0.094531, 0.905469)
        try check(36, 36, 0.903581, 1)
        // Newcombe (Statistics in Medicine 17, 857–872, 1998), Table I, method 3, to 4 decimals.
        try check(81, 263, 0.2553, 0.3662, 5e-5)
        try check(15, 148, 0.0624, 0.1605, 5e-5)
        try check(0, 20, 0, 0.1611, 5e-5)
        try check(1, 29, 0.0061, 0.1718, 5e-5)
        #expect(WilsonInterval(successes: 0, trials: 0) == nil)
        // 3 of 3 (0.44–1) cannot be told from 8 of 10 (0.49–0.94); 36 of 36 (0.90–1) is told from 81 of 263 (0.26–0.37).
        let small = try #require(WilsonInterval(successes: 3, trials: 3))
        #expect(small.overlaps(try #require(WilsonInterval(successes: 8, trials: 10))))
        #expect(
            !(try #require(WilsonInterval(successes: 36, trials: 36))).overlaps(try #require(WilsonInterval(successes: 81, trials: 263))))
    }

    /// A slice's macro-F1 averages over the classes present in it: the regression of `eval --by
    /// lang`, where a `de` sample predicted `en` added an F1 of 0 for the absent class `en`.
    @Test func sliceMacroF1AveragesOverPresentClassesOnly() {
        // Slice lang=de: truth de de de de, predicted de de de en. de: precision 3/3, recall 3/4,
        // F1 = 2·1·0.75/1.75 = 6/7; en has no true sample.
        let truth = ["de", "de", "de", "de"]
        let predicted = ["de", "de", "de", "en"]
        let slice = ClassificationMetrics(truth: truth, predicted: predicted, macroAveragingOver: .truth)
        #expect(abs(slice.macroF1 - 6.0 / 7) < 1e-12, "\(slice.macroF1)")
        #expect(slice.classNames == ["de", "en"] && slice.confusion == [[3, 1], [0, 0]] && slice.correctCount == 3)
        // The whole-set reading keeps scikit-learn's default: (6/7 + 0)/2.
        #expect(abs(ClassificationMetrics(truth: truth, predicted: predicted).macroF1 - 3.0 / 7) < 1e-12)
        // Two classes present, a third only predicted: a = 2·1·0.5/1.5 = 2/3, b = 1 → 5/6 (not 5/9).
        let two = ClassificationMetrics(truth: ["a", "a", "b", "b"], predicted: ["a", "c", "b", "b"], macroAveragingOver: .truth)
        #expect(abs(two.macroF1 - 5.0 / 6) < 1e-12, "\(two.macroF1)")
    }

    @Test func paretoFrontKeepsWhatNothingBeatsOnBoth() {
        // (accuracy, real-time factor): c is beaten by a (more accurate, faster); d ties a exactly.
        let points: [(quality: Double, cost: Double)] = [(0.9, 0.01), (0.95, 0.1), (0.85, 0.05), (0.9, 0.01), (0.99, .nan)]
        #expect(ParetoFront.indexes(points) == [0, 1, 3])
        #expect(ParetoFront.indexes([]) == [])
    }

    /// The SVG parses as XML, has one point per model and slice with its values, and marks each
    /// slice's front (filled, joined by a line).
    @Test func plotIsWellFormedSVGWithTheFrontMarked() throws {
        let plot = ComparisonPlot(
            points: [
                .init(model: "general", slice: "all", accuracy: 0.92, realTimeFactor: 0.02),
                .init(model: "small & fast", slice: "all", accuracy: 0.88, realTimeFactor: 0.002),
                .init(model: "telephony", slice: "all", accuracy: 0.80, realTimeFactor: 0.03),
                .init(model: "general", slice: "cohort=<tel>", accuracy: 0.70, realTimeFactor: 0.02),
                .init(model: "telephony", slice: "cohort=<tel>", accuracy: 0.90, realTimeFactor: 0.03),
                .init(model: "no speed", slice: "all", accuracy: 0.99, realTimeFactor: 0),
            ], title: "Accuracy \"against\" RTF")
        #expect(plot.points.count == 5)
        let svg = plot.svg()
        let parsed = try #require(SVGPoints.parse(svg), "not well-formed XML:\n\(svg)")
        #expect(parsed.root == "svg")
        #expect(parsed.circles.count == 5)
        let front = Set(parsed.circles.filter { $0.front }.map { "\($0.model)/\($0.slice)" })
        #expect(front == ["general/all", "small & fast/all", "general/cohort=<tel>", "telephony/cohort=<tel>"])
        let tel = try #require(parsed.circles.first { $0.model == "telephony" && $0.slice == "all" })
        #expect(tel.accuracy == 0.8 && tel.rtf == 0.03 && !tel.front)
        // Lower real-time factor is further left (log axis); higher accuracy is higher up.
        let fast = try #require(parsed.circles.first { $0.model == "small & fast" })
        let general = try #require(parsed.circles.first { $0.model == "general" && $0.slice == "all" })
        #expect(fast.cx < general.cx && general.cy < fast.cy)
        #expect(parsed.polylines == 2)  // one front line per slice with two or more front points
    }
}

/// The circles and front lines of a comparison plot, read with Foundation's XML parser (in the
/// tests only: the dvs binary does not link FoundationXML).
final class SVGPoints: NSObject, XMLParserDelegate {
    struct Circle {
        var model: String
        var slice: String
        var accuracy: Double
        var rtf: Double
        var front: Bool
        var cx: Double
        var cy: Double
    }
    var root: String?
    var circles: [Circle] = []
    var polylines = 0

    /// Parses `svg`; nil when it is not well-formed.
    static func parse(_ svg: String) -> SVGPoints? {
        let p = XMLParser(data: Data(svg.utf8))
        let d = SVGPoints()
        p.delegate = d
        return p.parse() ? d : nil
    }

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes a: [String: String] = [:]
    ) {
        if root == nil { root = name }
        if name == "polyline", a["class"] == "front" { polylines += 1 }
        guard name == "circle", let cls = a["class"], cls.hasPrefix("point") else { return }
        circles.append(
            Circle(
                model: a["data-model"] ?? "", slice: a["data-slice"] ?? "", accuracy: Double(a["data-accuracy"] ?? "") ?? -1,
                rtf: Double(a["data-rtf"] ?? "") ?? -1, front: cls.split(separator: " ").contains("front"),
                cx: Double(a["cx"] ?? "") ?? -1, cy: Double(a["cy"] ?? "") ?? -1))
    }
}
