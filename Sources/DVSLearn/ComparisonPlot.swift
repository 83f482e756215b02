import Foundation

/// Accuracy against real-time factor as an SVG 1.1 document, one point per model and slice, the
/// Pareto front of each slice marked: its points filled and joined by a dashed line, the others
/// hollow. Written as text (no drawing library).
///
/// The real-time factor axis is logarithmic (decades), accuracy linear from the lowest tenth
/// below the worst point up to 1. Each point is a `<circle class="point">` (with `front` added
/// on the front) carrying `data-model`, `data-slice`, `data-accuracy` and `data-rtf`, and a
/// `<title>` a browser shows on hover, so the file can be checked or scraped as well as looked at.
public struct ComparisonPlot: Sendable {
    /// One model on one slice.
    public struct Point: Sendable, Equatable {
        /// The model's display name.
        public var model: String
        /// The slice (`all`, `cohort=telephony`).
        public var slice: String
        /// Accuracy, 0…1.
        public var accuracy: Double
        /// Real-time factor: processing seconds per second of audio, > 0.
        public var realTimeFactor: Double

        /// Creates a point.
        public init(model: String, slice: String, accuracy: Double, realTimeFactor: Double) {
            self.model = model
            self.slice = slice
            self.accuracy = accuracy
            self.realTimeFactor = realTimeFactor
        }
    }

    /// The points; those without a finite accuracy or a positive finite real-time factor are left out.
    public var points: [Point]
    /// The title above the plot.
    public var title: String

    /// Creates a plot of `points`.
    public init(points: [Point], title: String) {
        self.points = points.filter { $0.accuracy.isFinite && $0.realTimeFactor.isFinite && $0.realTimeFactor > 0 }
        self.title = title
    }

    /// The slices in first-seen order.
    public var slices: [String] {
        var seen: Set<String> = []
        return points.map(\.slice).filter { seen.insert($0).inserted }
    }

    /// Indexes into `points` of each slice's Pareto front (higher accuracy, lower real-time factor).
    public var front: Set<Int> {
        var out: Set<Int> = []
        for s in slices {
            let idx = points.indices.filter { points[$0].slice == s }
            for k in ParetoFront.indexes(idx.map { (points[$0].accuracy, points[$0].realTimeFactor) }) { out.insert(idx[k]) }
        }
        return out
    }

    /// The SVG document (UTF-8 text, 720 × 480 user units).
    public func svg() -> String {
        let width = 720.0
        let height = 480.0
        let left = 70.0
        let right = 180.0
        let top = 40.0
        let bottom = 60.0
        let plotW = width - left - right
        let plotH = height - top - bottom
        let rtfs = points.map(\.realTimeFactor)
        var lo = (rtfs.min().map(log10) ?? -3).rounded(.down)
        var hi = (rtfs.max().map(log10) ?? 0).rounded(.up)
        if hi <= lo {
            lo -= 1
            hi += 1
        }
        let worst = points.map(\.accuracy).min() ?? 0
        let yLo = max(0, min(0.9, (worst * 10).rounded(.down) / 10))
        let yStep = 1 - yLo <= 0.2 ? 0.05 : 0.1
        func x(_ rtf: Double) -> Double { left + (log10(rtf) - lo) / (hi - lo) * plotW }
        func y(_ a: Double) -> Double { top + (1 - (min(max(a, yLo), 1) - yLo) / (1 - yLo)) * plotH }
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
        let sliceList = slices
        func colour(_ slice: String) -> String { palette[(sliceList.firstIndex(of: slice) ?? 0) % palette.count] }
        let onFront = front
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(f(width))\" height=\"\(f(height))\" "
        s += "viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<title>\(Self.escape(title))</title>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(left))\" y=\"24\" font-size=\"14\">\(Self.escape(title))</text>\n"
        // Axes, grid and ticks.
        s += "<g class=\"axes\" stroke=\"#888\" fill=\"none\">\n"
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\"/>\n"
        s += "</g>\n<g class=\"ticks\" fill=\"#333\">\n"
        for d in Int(lo)...Int(hi) {
            let px = x(pow(10, Double(d)))
            s += "<line x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(f(px))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(Self.decade(d))</text>\n"
        }
        var tick = yLo
        while tick <= 1 + 1e-9 {
            let py = y(tick)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py))\" stroke=\"#eee\"/>\n"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(String(format: "%.2f", tick))</text>\n"
            tick += yStep
        }
        s +=
            "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 16))\" text-anchor=\"middle\">real-time factor (processing s per s of audio; log scale; lower is faster)</text>\n"
        s +=
            "<text x=\"16\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotH / 2)))\">accuracy</text>\n"
        s += "</g>\n"
        // The front of each slice, joined in order of cost.
        for slice in sliceList {
            let idx = onFront.filter { points[$0].slice == slice }.sorted {
                (points[$0].realTimeFactor, -points[$0].accuracy) < (points[$1].realTimeFactor, -points[$1].accuracy)
            }
            guard idx.count > 1 else { continue }
            let coords = idx.map { "\(f(x(points[$0].realTimeFactor))),\(f(y(points[$0].accuracy)))" }.joined(separator: " ")
            s += "<polyline class=\"front\" data-slice=\"\(Self.escape(slice))\" points=\"\(coords)\" fill=\"none\" "
            s += "stroke=\"\(colour(slice))\" stroke-dasharray=\"4 3\"/>\n"
        }
        // The points, labelled with the model.
        s += "<g class=\"points\">\n"
        for (i, p) in points.enumerated() {
            let c = colour(p.slice)
            let isFront = onFront.contains(i)
            let px = x(p.realTimeFactor)
            let py = y(p.accuracy)
            s += "<circle class=\"point\(isFront ? " front" : "")\" cx=\"\(f(px))\" cy=\"\(f(py))\" r=\"5\" "
            s += "fill=\"\(isFront ? c : "white")\" stroke=\"\(c)\" stroke-width=\"2\" "
            s += "data-model=\"\(Self.escape(p.model))\" data-slice=\"\(Self.escape(p.slice))\" "
            s += "data-accuracy=\"\(String(format: "%.6f", p.accuracy))\" data-rtf=\"\(String(format: "%.6g", p.realTimeFactor))\">"
            s +=
                "<title>\(Self.escape("\(p.model), \(p.slice): accuracy \(String(format: "%.3f", p.accuracy)), real-time factor \(String(format: "%.4g", p.realTimeFactor))\(isFront ? " (Pareto front)" : "")"))</title></circle>\n"
            s += "<text x=\"\(f(px + 8))\" y=\"\(f(py - 6))\" fill=\"#333\">\(Self.escape(p.model))</text>\n"
        }
        s += "</g>\n"
        // Legend: one entry per slice, then what filled means.
        s += "<g class=\"legend\">\n"
        let lx = left + plotW + 16
        for (k, slice) in sliceList.enumerated() {
            let ly = top + 10 + Double(k) * 18
            s += "<circle cx=\"\(f(lx))\" cy=\"\(f(ly))\" r=\"5\" fill=\"\(colour(slice))\"/>"
            s += "<text x=\"\(f(lx + 10))\" y=\"\(f(ly + 4))\">\(Self.escape(slice))</text>\n"
        }
        let ny = top + 10 + Double(sliceList.count) * 18 + 8
        s += "<text x=\"\(f(lx - 5))\" y=\"\(f(ny + 4))\" fill=\"#555\">filled: Pareto front</text>\n"
        s += "<text x=\"\(f(lx - 5))\" y=\"\(f(ny + 20))\" fill=\"#555\">hollow: beaten on both</text>\n"
        s += "</g>\n</svg>\n"
        return s
    }

    /// A coordinate with two decimals, no trailing zeros beyond them.
    private func f(_ v: Double) -> String { String(format: "%.2f", v) }

    /// `0.001`, `0.01`, `0.1`, `1`, `10` for decade `d`.
    private static func decade(_ d: Int) -> String {
        d >= 0 ? String(format: "%.0f", pow(10, Double(d))) : "0." + String(repeating: "0", count: -d - 1) + "1"
    }

    /// `s` with the five XML special characters escaped, for text and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 has no way to write most control characters, even as references.
                if let a = ch.asciiValue, a < 0x20, a != 0x09, a != 0x0A, a != 0x0D { out += " " } else { out.append(ch) }
            }
        }
        return out
    }
}
