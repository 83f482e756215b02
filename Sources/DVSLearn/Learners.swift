import Foundation

/// Per-feature standardisation, (x − mean) / scale, with mean and scale from the training set.
public struct Standardizer: Sendable, Equatable {
    /// Per-feature mean of the training rows.
    public var mean: [Float]
    /// Per-feature population standard deviation of the training rows; 1 where that is 0 or not
    /// finite, so constant features map to 0 rather than dividing by zero.
    public var scale: [Float]

    /// Creates a standardiser from stored values.
    public init(mean: [Float], scale: [Float]) {
        self.mean = mean
        self.scale = scale
    }

    /// Fits mean and scale to `rows` (each of the same length).
    /// - Complexity: O(rows × dimension).
    public init(fitting rows: [[Float]]) {
        let d = rows.first?.count ?? 0
        var m = [Double](repeating: 0, count: d)
        var s = [Double](repeating: 0, count: d)
        for r in rows { for j in 0..<d { m[j] += Double(r[j]) } }
        let n = Double(max(rows.count, 1))
        for j in 0..<d { m[j] /= n }
        for r in rows {
            for j in 0..<d {
                let v = Double(r[j]) - m[j]
                s[j] += v * v
            }
        }
        mean = m.map { Float($0) }
        scale = s.map { v in
            let sd = (v / n).squareRoot()
            return sd > 1e-12 && sd.isFinite ? Float(sd) : 1
        }
    }

    /// Number of features.
    public var dimension: Int { mean.count }

    /// `x` standardised, as `Double`s for the solvers.
    public func apply(_ x: [Float]) -> [Double] {
        (0..<mean.count).map { (Double(x[$0]) - Double(mean[$0])) / Double(scale[$0]) }
    }
}

/// Minimises a smooth function with limited-memory BFGS: the two-loop recursion of Nocedal &
/// Wright, *Numerical Optimization* (2nd ed., 2006), Algorithm 7.4, with the initial Hessian
/// scaling of their eq. (7.20) and a backtracking line search on the Armijo condition
/// (Algorithm 3.1, c₁ = 10⁻⁴). Deterministic: the same start and function give the same result.
enum LBFGS {
    /// - Parameters:
    ///   - x: start point, overwritten with the minimiser found.
    ///   - maxIterations: iteration limit.
    ///   - tolerance: stop when the largest gradient component falls below this.
    ///   - history: number of correction pairs kept (m).
    ///   - objective: returns f(x) and writes ∇f(x) into its second argument.
    /// - Returns: iterations performed.
    static func minimize(
        _ x: inout [Double], maxIterations: Int, tolerance: Double = 1e-6, history: Int = 10,
        objective: ([Double], inout [Double]) -> Double
    ) -> Int {
        let n = x.count
        var g = [Double](repeating: 0, count: n)
        var f = objective(x, &g)
        var s: [[Double]] = []
        var y: [[Double]] = []
        var rho: [Double] = []
        var newG = [Double](repeating: 0, count: n)
        for iteration in 0..<maxIterations {
            if g.reduce(0, { max($0, abs($1)) }) < tolerance { return iteration }
            // Two-loop recursion: d = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                for j in 0..<n { q[j] -= alpha[i] * y[i][j] }
            }
            let gamma =
                s.isEmpty
                ? 1 / max(dot(g, g).squareRoot(), 1e-12) : dot(s[s.count - 1], y[y.count - 1]) / dot(y[y.count - 1], y[y.count - 1])
            for j in 0..<n { q[j] *= gamma }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                for j in 0..<n { q[j] += s[i][j] * (alpha[i] - beta) }
            }
            var d = q.map { -$0 }
            var slope = dot(g, d)
            if slope >= 0 {  // not a descent direction (rounding): restart from steepest descent
                s.removeAll()
                y.removeAll()
                rho.removeAll()
                d = g.map { -$0 / max(dot(g, g).squareRoot(), 1e-12) }
                slope = dot(g, d)
            }
            var step = 1.0
            var xNew = x
            var fNew = f
            var accepted = false
            for _ in 0..<40 {
                for j in 0..<n { xNew[j] = x[j] + step * d[j] }
                fNew = objective(xNew, &newG)
                if fNew.isFinite, fNew <= f + 1e-4 * step * slope {
                    accepted = true
                    break
                }
                step *= 0.5
            }
            if !accepted { return iteration }
            let sk = (0..<n).map { xNew[$0] - x[$0] }
            let yk = (0..<n).map { newG[$0] - g[$0] }
            let sy = dot(sk, yk)
            if sy > 1e-12 {
                s.append(sk)
                y.append(yk)
                rho.append(1 / sy)
                if s.count > history {
                    s.removeFirst()
                    y.removeFirst()
                    rho.removeFirst()
                }
            }
            let decrease = f - fNew
            x = xNew
            f = fNew
            g = newG
            if decrease <= 1e-12 * max(1, abs(f)) { return iteration + 1 }
        }
        return maxIterations
    }

    static func dot(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { s += a[i] * b[i] }
        return s
    }
}

/// Multinomial logistic regression (softmax) with an L2 penalty on the weights (not the biases),
/// fitted by L-BFGS from all-zero weights, so training is deterministic.
///
/// Objective: (1/N) Σᵢ −log softmax(W·xᵢ + b)[yᵢ] + (λ/2)·‖W‖², convex, so the start point does not
/// change the optimum.
public enum SoftmaxRegression {
    /// Fits weights to standardised rows.
    /// - Parameters:
    ///   - rows: N standardised feature vectors of dimension D.
    ///   - classes: N class indices in 0..<classCount.
    ///   - classCount: K ≥ 2.
    ///   - l2: λ ≥ 0.
    ///   - maxIterations: L-BFGS iteration limit.
    /// - Returns: weights (K × D, row-major), biases (K) and the iterations run.
    /// - Complexity: O(iterations × N × D × K).
    public static func fit(
        rows: [[Double]], classes: [Int], classCount k: Int, l2: Double,
        maxIterations: Int
    ) -> (weights: [Float], bias: [Float], iterations: Int) {
        let n = rows.count
        let d = rows.first?.count ?? 0
        var theta = [Double](repeating: 0, count: k * d + k)  // W row-major, then b
        let iterations = LBFGS.minimize(&theta, maxIterations: maxIterations) { t, grad in
            for j in 0..<grad.count { grad[j] = 0 }
            var loss = 0.0
            var z = [Double](repeating: 0, count: k)
            for i in 0..<n {
                let x = rows[i]
                for c in 0..<k {
                    var s = t[k * d + c]
                    let base = c * d
                    for j in 0..<d { s += t[base + j] * x[j] }
                    z[c] = s
                }
                let zmax = z.max() ?? 0
                var sum = 0.0
                for c in 0..<k {
                    z[c] = exp(z[c] - zmax)
                    sum += z[c]
                }
                loss -= log(max(z[classes[i]] / sum, 1e-300))
                for c in 0..<k {
                    let r = z[c] / sum - (c == classes[i] ? 1 : 0)
                    let base = c * d
                    for j in 0..<d { grad[base + j] += r * x[j] }
                    grad[k * d + c] += r
                }
            }
            let inv = 1 / Double(max(n, 1))
            var penalty = 0.0
            for j in 0..<(k * d) {
                grad[j] = grad[j] * inv + l2 * t[j]
                penalty += t[j] * t[j]
            }
            for c in 0..<k { grad[k * d + c] *= inv }
            return loss * inv + 0.5 * l2 * penalty
        }
        return (theta[0..<(k * d)].map { Float($0) }, theta[(k * d)...].map { Float($0) }, iterations)
    }

    /// Class scores W·x + b for one standardised row (argmax is the predicted class).
    public static func scores(_ x: [Double], weights: [Float], bias: [Float]) -> [Double] {
        let k = bias.count
        let d = x.count
        return (0..<k).map { c in
            var s = Double(bias[c])
            for j in 0..<d { s += Double(weights[c * d + j]) * x[j] }
            return s
        }
    }
}

/// Ridge regression, closed form: w = (XᵀX + λI)⁻¹ Xᵀ(y − ȳ), b = ȳ, on standardised (so
/// centred) features, solved by Cholesky factorisation (Golub & Van Loan, *Matrix
/// Computations*, 4th ed., Algorithm 4.2.2). Exact and deterministic.
public enum RidgeRegression {
    /// Fits weights to standardised rows.
    /// - Parameters:
    ///   - rows: N standardised feature vectors of dimension D.
    ///   - targets: N finite values.
    ///   - l2: λ > 0 (keeps XᵀX + λI positive definite).
    /// - Returns: D weights and the bias.
    /// - Throws: `LearnError.Code.numerical` if the system is not positive definite (λ ≤ 0 with
    ///   collinear features).
    /// - Complexity: O(N·D² + D³).
    public static func fit(rows: [[Double]], targets: [Double], l2: Double) throws(LearnError) -> (weights: [Float], bias: Float) {
        let n = rows.count
        let d = rows.first?.count ?? 0
        let ybar = targets.reduce(0, +) / Double(max(n, 1))
        var a = [Double](repeating: 0, count: d * d)
        var rhs = [Double](repeating: 0, count: d)
        for i in 0..<n {
            let x = rows[i]
            let yc = targets[i] - ybar
            for p in 0..<d {
                rhs[p] += x[p] * yc
                for q in 0...p { a[p * d + q] += x[p] * x[q] }
            }
        }
        for p in 0..<d { a[p * d + p] += l2 }
        // Cholesky A = L·Lᵀ in the lower triangle.
        for j in 0..<d {
            var diag = a[j * d + j]
            for k in 0..<j { diag -= a[j * d + k] * a[j * d + k] }
            guard diag > 0, diag.isFinite else {
                throw LearnError(
                    .numerical, "ridge regression: the normal equations are not positive definite",
                    hint: "use a larger L2 penalty")
            }
            let l = diag.squareRoot()
            a[j * d + j] = l
            for i in (j + 1)..<max(d, j + 1) {
                var v = a[i * d + j]
                for k in 0..<j { v -= a[i * d + k] * a[j * d + k] }
                a[i * d + j] = v / l
            }
        }
        // Solve L·z = rhs, then Lᵀ·w = z.
        var z = rhs
        for i in 0..<d {
            for k in 0..<i { z[i] -= a[i * d + k] * z[k] }
            z[i] /= a[i * d + i]
        }
        for i in stride(from: d - 1, through: 0, by: -1) {
            for k in (i + 1)..<max(d, i + 1) { z[i] -= a[k * d + i] * z[k] }
            z[i] /= a[i * d + i]
        }
        return (z.map { Float($0) }, Float(ybar))
    }
}
