import Foundation

extension Model {
    /// Learned parameters: the weights and biases (K × D + K for `classify`, D + 1 for `regress`).
    /// The standardisation's 2 × D means and scales, fitted but not learned, are not counted (as
    /// PyTorch counts a normalisation's running statistics as buffers, not parameters).
    public var parameterCount: Int { weights.count + bias.count }
}
