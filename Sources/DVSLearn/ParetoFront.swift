import Foundation

/// The Pareto front of models trading quality against cost: the points no other point beats on
/// both at once.
public enum ParetoFront {
    /// Indexes of the points on the front when `quality` is better higher and `cost` better lower
    /// (accuracy against real-time factor): a point is on it unless another has quality ≥ and
    /// cost ≤ with one of them strictly. Equal points are all on the front.
    /// - Parameter points: (quality, cost) pairs; non-finite values are never on the front.
    /// - Returns: the indexes, ascending.
    /// - Complexity: O(n²); n is a handful of models.
    public static func indexes(_ points: [(quality: Double, cost: Double)]) -> [Int] {
        points.indices.filter { i in
            let p = points[i]
            guard p.quality.isFinite, p.cost.isFinite else { return false }
            return !points.indices.contains { j in
                let q = points[j]
                guard j != i, q.quality.isFinite, q.cost.isFinite else { return false }
                return q.quality >= p.quality && q.cost <= p.cost && (q.quality > p.quality || q.cost < p.cost)
            }
        }
    }
}
