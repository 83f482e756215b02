import Foundation

/// A confidence interval for a proportion (such as accuracy: correct samples out of samples) by
/// Wilson's score method.
///
/// For k successes in n trials, p̂ = k/n and the normal quantile z (1.96 for 95 %):
///
///     centre = (p̂ + z²/2n) / (1 + z²/n)
///     half   = z / (1 + z²/n) · √(p̂(1 − p̂)/n + z²/4n²)
///     [centre − half, centre + half]
///
/// Unlike the textbook p̂ ± z·√(p̂(1 − p̂)/n), it never leaves 0…1 and does not shrink to a point
/// at p̂ = 0 or 1, so 3 of 3 correct reads as "somewhere between 0.44 and 1", not as "1".
///
/// Reference: E. B. Wilson, "Probable inference, the law of succession, and statistical
/// inference", Journal of the American Statistical Association 22 (158), 209–212 (1927).
public struct WilsonInterval: Sendable, Equatable, Codable {
    /// The lower bound, 0…1.
    public var lower: Double
    /// The upper bound, 0…1.
    public var upper: Double

    /// z for a two-sided 95 % interval: the 0.975 quantile of the standard normal distribution.
    public static let z95 = 1.959963984540054

    /// The interval for `successes` of `trials`; nil when there are no trials (nothing to say).
    /// - Precondition: 0 ≤ `successes` ≤ `trials`, `z` > 0.
    public init?(successes: Int, trials: Int, z: Double = WilsonInterval.z95) {
        guard trials > 0 else { return nil }
        let n = Double(trials)
        let p = Double(min(max(successes, 0), trials)) / n
        let z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z / denominator * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        lower = max(0, centre - half)
        upper = min(1, centre + half)
    }

    /// Whether the two intervals share a point: then the data cannot tell the two proportions
    /// apart at this confidence (a conservative reading; not a significance test).
    public func overlaps(_ other: WilsonInterval) -> Bool { lower <= other.upper && other.lower <= upper }
}
