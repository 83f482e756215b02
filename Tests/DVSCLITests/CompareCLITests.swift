import DVSTestSupport
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `dvs models --compare`, `dvs eval` of several models, and metrics of models trained elsewhere
/// (`dvs model add --metrics`, `dvs model add-eval`), on ktuberling's recorded English and German
/// words: a general language-id baseline, one trained on a cohort of half the speaker groups,
/// and two outside models whose metrics come from files.
@Suite(.serialized) struct CompareCLITests {
    /// The 95 % Wilson interval (the formula of `WilsonInterval`, unit-tested against hand
    /// computation in DVSLearnTests).
    func wilson(_ k: Int, _ n: Int) -> [Double] {
        let z = 1.959963984540054
        let p = Double(k) / Double(n)
        let d = 1 + z * z / Double(n)
        let c = (p + z * z / (2 * Double(n))) / d
        let h = z / d * (p * (1 - p) / Double(n) + z * z / (4 * Double(n * n))).squareRoot()
        return [max(0, c - h), min(1, c + h)]
    }

    @Test func compareGeneralSpecialisedAndOutsideModels() throws {
        try T.withTemporaryDirectory { dir in
            let repo = dir + "/data"
            _ = try LearnCLITests().writeDataset(repo, words: 0..<36)
            // Deterministic outputs (records only).
            let g = Golden(replacing: [dir: "$TMP"])
            // Outputs with timings (real-time factor, samples/s, and the Pareto front, which
            // follows from them), normalised.
            let timed = Golden(replacing: [dir: "$TMP"], variant: "timed")
            timed.replace(matching: #"\b\d+\.\d{4}( +)\d+\.\d\b"#, with: #"\$RTF \$RATE"#)
            timed.replace(matching: #"(?m) +\*$"#, with: "")
            #expect(try g.dvs("init", in: repo).status == 0)
            try #require(try g.dvs("commit", "-m", "words 0-35", in: repo).status == 0)
            let half = try g.dvs("cohort", "create", "half", "--where", "speaker IN ('en0', 'en1', 'de0', 'de1')", in: repo)
            try #require(half.status == 0, "\(half.stderr)")
            let general = dir + "/general.dvsm"
            let t1 = try g.dvs(
                "train", "--rev", "main", "--label", "lang", "--holdout", "0.25", "--split-by", "speaker", "--out", general, "--json",
                in: repo, record: .stderr)
            try #require(t1.status == 0, "\(t1.stderr)")
            let trainedCount = try #require(((try json(t1.stdout) as? [String: Any])?["samples"] as? [String: Int])?["training"])
            let t2 = try g.dvs(
                "train", "--rev", "cohort/half", "--label", "lang", "--holdout", "0", "--out", dir + "/half.dvsm", "--json", in: repo,
                record: .stderr)
            try #require(t2.status == 0, "\(t2.stderr)")
            // A speaker-group classifier: near chance on other words, so its slices hold errors.
            let t3 = try dvs("train", "--rev", "main", "--label", "speaker", "--holdout", "0", "--out", dir + "/speaker.dvsm", in: repo)
            try #require(t3.status == 0, "\(t3.stderr)")

            // The evaluation snapshot: other words, and a cohort cut from it.
            try T.sh("rm -r '\(repo)/clips'")
            _ = try LearnCLITests().writeDataset(repo, words: 36..<72)
            try #require(try g.dvs("commit", "-m", "words 36-71", in: repo).status == 0)
            let tel = try g.dvs("cohort", "create", "tel", "--where", "speaker IN ('en0', 'de0')", in: repo)
            try #require(tel.status == 0, "\(tel.stderr)")

            // Per-slice macro-F1 averages over the classes present in the slice. In slice
            // speaker=X only X is true, so precision is 1 and macro-F1 = F1(X) = 2a/(1 + a) for
            // the slice's accuracy a; averaging over the absent classes (the old bug) gave less.
            let s = try dvs("eval", "--model", dir + "/speaker.dvsm", "--rev", "main", "--by", "speaker", "--json", "--no-record", in: repo)
            try #require(s.status == 0, "\(s.stderr)")
            let sj = try #require(try json(s.stdout) as? [String: Any])
            let sslices = try #require(sj["slices"] as? [String: [String: Any]])
            #expect(sslices.count == 8, "\(sslices.keys.sorted())")
            var absentClassesSeen = false
            for (name, m) in sslices {
                let a = try #require(m["accuracy"] as? Double)
                let f1 = try #require(m["macro_f1"] as? Double)
                #expect(abs(f1 - 2 * a / (1 + a)) < 1e-9, "\(name): macro-F1 \(f1), accuracy \(a)")
                if (m["class_names"] as? [String])?.count ?? 0 > 1 { absentClassesSeen = true }
            }
            #expect(absentClassesSeen, "no slice had a wrong prediction: the test would not see the bug")

            // Two built-in models on one snapshot by cohort: one table with a Wilson interval per cell.
            let e = try timed.dvs("eval", "--model", general, "--model", dir + "/half.dvsm", "--rev", "main", "--by", "cohort", in: repo)
            try #require(e.status == 0, "\(e.stderr)")
            #expect(e.stdout.contains("accuracy (95% CI)") && e.stdout.contains("cohort=tel"), "\(e.stdout)")
            let ej = try dvs(
                "eval", "--model", general, "--model", dir + "/half.dvsm", "--rev", "main", "--by", "cohort", "--json", "--no-record",
                in: repo)
            try #require(ej.status == 0, "\(ej.stderr)")
            let eo = try #require(try json(ej.stdout) as? [String: Any])
            let evaluated = try #require(eo["models"] as? [[String: Any]])
            #expect(evaluated.map { $0["name"] as? String } == ["general.dvsm", "half.dvsm"])
            for m in evaluated {
                let ev = try #require(m["evaluation"] as? [String: Any])
                #expect(ev["overlaps_training"] as? Bool == false && ev["overlap_samples"] as? Int == 0)
                let slices = try #require(ev["slices"] as? [[String: Any]])
                #expect(slices.map { $0["name"] as? String } == ["all", "cohort=(none)", "cohort=tel"])
                #expect(slices.map { $0["samples"] as? Int } == [72, 54, 18])
                for sl in slices {
                    let n = try #require(sl["samples"] as? Int)
                    let a = try #require(sl["accuracy"] as? Double)
                    let ci = try #require(sl["accuracy_ci95"] as? [Double])
                    let expected = wilson(Int((a * Double(n)).rounded()), n)
                    #expect(abs(ci[0] - expected[0]) < 1e-12 && abs(ci[1] - expected[1]) < 1e-12, "\(sl)")
                }
                #expect((m["parameter_count"] as? Int) == 2 * 106 + 2, "\(m)")  // 2 classes × 106 features (mean and std of 53) + 2 biases
            }
            // Every slice has a Pareto front.
            for slice in 0..<3 {
                #expect(
                    evaluated.contains { m in
                        (((m["evaluation"] as? [String: Any])?["slices"] as? [[String: Any]])?[slice]["pareto_front"] as? Bool) == true
                    })
            }

            // Two models trained elsewhere, with their metrics; the overlap comes from lineage:
            // the first was trained on the first snapshot (only the unlabelled clip is in both),
            // the second on the cohort tel of the evaluation snapshot itself.
            try T.write(Data("weights of a model trained elsewhere".utf8), to: dir + "/tiny.pt")
            try T.write(Data("weights of a telephony model".utf8), to: dir + "/tel.pt")
            try T.write(
                Data(
                    #"{"samples": 72, "metrics": {"accuracy": 0.875, "macro_f1": 0.8712, "real_time_factor": 0.004, "samples_per_second": 900}, "slices": {"cohort=tel": {"samples": 18, "accuracy": 0.6667}, "cohort=(none)": {"samples": 54, "accuracy": 0.9444, "macro_f1": 0.9443}}}"#
                        .utf8), to: dir + "/tiny.json")
            try T.write(
                Data(
                    #"{"samples": 18, "metrics": {"accuracy": 1.0, "real_time_factor": 0.002, "samples_per_second": 1500}, "slices": {"cohort=tel": {"samples": 3, "accuracy": 1.0}}}"#
                        .utf8), to: dir + "/tel.json")
            let a1 = try g.dvs(
                "model", "add", dir + "/tiny.pt", "--rev", "main~1", "--name", "tiny", "--label", "lang", "--task", "classify",
                "--parameter-count", "1200000", "--metrics", dir + "/tiny.json", "--eval-rev", "main", in: repo)
            try #require(a1.status == 0, "\(a1.stderr)")
            let a2 = try g.dvs("model", "add", dir + "/tel.pt", "--rev", "cohort/tel", "--name", "tel-ext", "--label", "lang", in: repo)
            try #require(a2.status == 0, "\(a2.stderr)")
            let a3 = try g.dvs("model", "add-eval", "tel-ext", "--rev", "main", "--metrics", dir + "/tel.json", in: repo)
            try #require(a3.status == 0, "\(a3.stderr)")

            // The outside models alone: everything comes from records, so the table and the JSON are golden.
            #expect(try g.dvs("models", "--compare", "tiny", "tel-ext", "--rev", "main", "--by", "cohort", in: repo).status == 0)
            let cj = try g.dvs("models", "--compare", "tiny", "tel-ext", "--rev", "main", "--by", "cohort", "--json", in: repo)
            try #require(cj.status == 0, "\(cj.stderr)")
            let co = try #require(try json(cj.stdout) as? [String: Any])
            let outside = try #require(co["models"] as? [[String: Any]])
            let tinyEval = try #require(outside[0]["evaluation"] as? [String: Any])
            #expect(tinyEval["overlap_samples"] as? Int == 1, "\(tinyEval)")  // the unlabelled clip
            let telEval = try #require(outside[1]["evaluation"] as? [String: Any])
            #expect(telEval["overlap_samples"] as? Int == 18, "\(telEval)")  // the whole cohort
            #expect(((outside[1]["trained_on"] as? [String: Any])?["cohort"] as? String) == "tel")
            let telSlices = try #require(telEval["slices"] as? [[String: Any]])
            // 3 of 3: the interval says "somewhere between 0.44 and 1", not "1".
            let ci33 = try #require(telSlices.last?["accuracy_ci95"] as? [Double])
            #expect(abs(ci33[0] - wilson(3, 3)[0]) < 1e-12 && ci33[1] == 1, "\(ci33)")  // 0.4385…

            // Metrics from outside for a dvs train model: the overlap is its training side (the
            // content hashes in the .dvsm), not the whole training snapshot.
            try T.write(Data(#"{"metrics": {"accuracy": 0.99}}"#.utf8), to: dir + "/again.json")
            let again = try dvs("model", "add-eval", general, "--rev", "main~1", "--metrics", dir + "/again.json", "--json", in: repo)
            try #require(again.status == 0, "\(again.stderr)")
            let ao = try #require(try json(again.stdout) as? [String: Any])
            #expect(ao["leaked_samples"] as? Int == trainedCount && ao["sample_count"] as? Int == 73, "\(ao)")

            // Every model on main by cohort, with the plot.
            let svg = dir + "/front.svg"
            let all = try timed.dvs("models", "--compare", "--rev", "main", "--by", "cohort", "--plot", svg, in: repo)
            try #require(all.status == 0, "\(all.stderr)")
            let parsed = try #require(PlotPoints.parse(try String(contentsOfFile: svg, encoding: .utf8)))
            // speaker.dvsm has no evaluation on main (its eval ran with --no-record); the two
            // built-in models have 3 slices each, tiny 3 and tel-ext 2.
            #expect(parsed.circles.count == 3 + 3 + 3 + 2, "\(parsed.circles.map { "\($0.model)/\($0.slice)" })")
            #expect(all.stdout.contains("speaker.dvsm has no evaluation on main"), "\(all.stdout)")
            let tinyTel = try #require(parsed.circles.first { $0.model == "tiny" && $0.slice == "cohort=tel" })
            #expect(abs(tinyTel.accuracy - 0.6667) < 1e-9 && abs(tinyTel.rtf - 0.004) < 1e-9)
            // tel-ext is the fastest and on cohort=tel the most accurate: on that slice's front.
            #expect(parsed.circles.first { $0.model == "tel-ext" && $0.slice == "cohort=tel" }?.front == true)
            for slice in Set(parsed.circles.map(\.slice)) { #expect(parsed.circles.contains { $0.slice == slice && $0.front }) }
            try g.verify()
            try timed.verify()
        }
    }

    /// Bad metrics files and misplaced options are refused with exit 1 or 64, and nothing is recorded.
    @Test func badMetricsAreRefusedAndNothingIsRecorded() throws {
        try T.withTemporaryDirectory { dir in
            let repo = dir + "/data"
            _ = try LearnCLITests().writeDataset(repo, words: 0..<4)
            #expect(try dvs("init", in: repo).status == 0)
            try #require(try dvs("commit", "-m", "few", in: repo).status == 0)
            try T.write(Data("model".utf8), to: dir + "/m.pt")
            let g = Golden(replacing: [dir: "$TMP"])
            for (name, body) in [
                ("notjson", "{\"metrics\": "), ("nometrics", #"{"samples": 3}"#),
                ("range", #"{"metrics": {"accuracy": 1.5}}"#), ("slice", #"{"metrics": {"accuracy": 0.5}, "slices": {"tel": {}}}"#),
                ("typo", #"{"metric": {"accuracy": 0.5}}"#), ("rtf", #"{"metrics": {"real_time_factor": 0}}"#),
            ] {
                try T.write(Data(body.utf8), to: "\(dir)/\(name).json")
                let r = try g.dvs(
                    "model", "add", dir + "/m.pt", "--rev", "main", "--metrics", "\(dir)/\(name).json", "--eval-rev", "main", in: repo)
                #expect(r.status == 1, "\(name): \(r.stderr)")
            }
            try T.write(
                Data(#"{"samples": 8, "metrics": {"accuracy": 0.5}, "slices": {"lang=en": {"samples": 9}}}"#.utf8), to: dir + "/big.json")
            // A slice of more samples than the whole: refused before the model is registered.
            #expect(
                try g.dvs("model", "add", dir + "/m.pt", "--rev", "main", "--metrics", dir + "/big.json", "--eval-rev", "main", in: repo)
                    .status == 1)
            #expect(try g.dvs("model", "add", dir + "/m.pt", "--rev", "main", in: repo).status == 0)
            #expect(try g.dvs("model", "add-eval", "m.pt", "--rev", "main", "--metrics", dir + "/big.json", in: repo).status == 1)
            #expect(try g.dvs("model", "add", dir + "/m.pt", "--rev", "main", "--metrics", dir + "/big.json", in: repo).status == 64)
            #expect(try g.dvs("models", "main", in: repo).status == 64)
            // One model record (the plain add), no eval record.
            let listed = try #require(try json(dvs("models", "--json", in: repo).stdout) as? [[String: Any]])
            #expect(listed.count == 1 && (listed[0]["evals"] as? [String])?.isEmpty == true, "\(listed)")
            // A model with no evaluation is listed as such, with what to run.
            #expect(try g.dvs("models", "--compare", "--rev", "main", in: repo).status == 0)
            #expect(try g.dvs("models", "--compare", "--plot", dir + "/p.svg", in: repo).status == 1)
            try g.verify()
        }
    }
}

/// The points of a comparison plot, read with Foundation's XML parser (tests only).
final class PlotPoints: NSObject, XMLParserDelegate {
    struct Circle {
        var model: String
        var slice: String
        var accuracy: Double
        var rtf: Double
        var front: Bool
    }
    var circles: [Circle] = []

    /// Parses `svg`; nil when it is not well-formed XML.
    static func parse(_ svg: String) -> PlotPoints? {
        let p = XMLParser(data: Data(svg.utf8))
        let d = PlotPoints()
        p.delegate = d
        return p.parse() ? d : nil
    }

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes a: [String: String] = [:]
    ) {
        guard name == "circle", let cls = a["class"], cls.hasPrefix("point") else { return }
        circles.append(
            Circle(
                model: a["data-model"] ?? "", slice: a["data-slice"] ?? "", accuracy: Double(a["data-accuracy"] ?? "") ?? -1,
                rtf: Double(a["data-rtf"] ?? "") ?? -1, front: cls.split(separator: " ").contains("front")))
    }
}
