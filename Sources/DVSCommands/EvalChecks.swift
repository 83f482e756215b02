import DVS
import DVSCore
import DVSLearn
import Foundation

extension Eval {
    /// Warns on stderr when the evaluation scored true labels the model cannot output (classes
    /// absent from its training side): those samples count as errors whatever the audio.
    static func warnUnpredictable(_ r: EvalReport) {
        guard r.model.task == .classify else { return }
        let unknown = MetricsText.unpredictable(r.overall, classNames: r.model.classNames)
        guard !unknown.isEmpty else { return }
        let total = unknown.reduce(0) { $0 + $1.count }
        Output.err(
            "warning: \(total) evaluated sample\(total == 1 ? " has" : "s have") a '\(r.model.labelField)' value the model cannot output ("
                + unknown.map { "'\($0.name)' \($0.count)" }.joined(separator: ", ")
                + "); \(total == 1 ? "it scores as an error" : "they all score as errors"). The model knows: \(r.model.classNames.joined(separator: ", "))"
        )
    }
}
