import Foundation

/// Inline SVG charts of the snapshot page.
enum Charts {
    /// Horizontal bars: one per `(label, value)`, longest first as given, value printed with `format`.
    static func bars(_ rows: [(String, Double)], title: String, format: (Double) -> String) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(HTML.escape(title)): no values</p>" }
        let top = max(rows.map(\.1).max() ?? 1, 1e-9)
        let rowHeight = 20
        let height = rows.count * rowHeight + 8
        var svg = "<svg viewBox=\"0 0 600 \(height)\" width=\"100%\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        for (i, (label, value)) in rows.enumerated() {
            let y = 4 + i * rowHeight
            let w = 360 * value / top
            svg += "<text x=\"150\" y=\"\(y + 14)\" text-anchor=\"end\" font-size=\"12\">\(HTML.escape(String(label.prefix(24))))</text>"
            svg += String(format: "<rect x=\"158\" y=\"%d\" width=\"%.1f\" height=\"15\" fill=\"#4c8bd6\"/>", y + 2, max(w, 1))
            svg +=
                String(format: "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"#333\">", 164 + w, y + 14) + HTML.escape(format(value))
                + "</text>"
        }
        return svg + "</svg>"
    }

    /// A histogram of `counts` in equal bins from 0 to `top` seconds.
    static func histogram(counts bins: [Int], top: Double, title: String) -> String {
        guard top > 0, !bins.isEmpty else { return "<p class=\"muted\">\(HTML.escape(title)): no durations</p>" }
        let binCount = bins.count
        let most = max(bins.max() ?? 1, 1)
        var svg = "<svg viewBox=\"0 0 600 200\" width=\"100%\" role=\"img\" aria-label=\"\(HTML.escape(title))\">"
        let w = 560.0 / Double(binCount)
        for (i, n) in bins.enumerated() {
            let h = 160.0 * Double(n) / Double(most)
            svg += String(
                format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#6aa84f\"><title>%@</title></rect>",
                30 + Double(i) * w, 170 - h, w - 1, h,
                String(format: "%.2f–%.2f s: %d", top * Double(i) / Double(binCount), top * Double(i + 1) / Double(binCount), n) as NSString
            )
        }
        svg += "<line x1=\"30\" x2=\"590\" y1=\"170\" y2=\"170\" stroke=\"#555\"/>"
        for k in 0...4 {
            let x = 30 + 560 * Double(k) / 4
            svg += String(
                format: "<text x=\"%.1f\" y=\"188\" font-size=\"11\" text-anchor=\"middle\">%.1f s</text>", x, top * Double(k) / 4)
        }
        svg += "<text x=\"26\" y=\"16\" font-size=\"11\" text-anchor=\"end\">\(most)</text>"
        return svg + "</svg>"
    }
}
