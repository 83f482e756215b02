import CFFTW
import Foundation

/// A single-precision real-to-complex FFT of one size, through FFTW 3 (`fftwf_plan_dft_r2c_1d`).
///
/// FFTW's planner is not thread-safe, so plans are made once per size under a process-wide lock
/// (`RealFFT.plan(size:)`) and kept for the life of the process. Executing is thread-safe:
/// `transform` uses FFTW's new-array execute function on buffers that each caller allocates with
/// `fftwf_malloc`, so they have the alignment the plan was made for. C types stay inside this file.
final class RealFFT: @unchecked Sendable {
    /// Transform length in samples.
    let size: Int
    /// Number of complex output bins, `size / 2 + 1`.
    var binCount: Int { size / 2 + 1 }
    private let plan: fftwf_plan

    private init(size: Int) throws(LearnError) {
        self.size = size
        // Plan on scratch arrays from fftwf_malloc; FFTW_ESTIMATE neither measures nor touches them.
        let input = fftwf_alloc_real(size)
        let output = fftwf_alloc_complex(size / 2 + 1)
        defer {
            fftwf_free(input)
            fftwf_free(output)
        }
        guard let input, let output,
            let p = fftwf_plan_dft_r2c_1d(Int32(size), input, output, UInt32(FFTW_ESTIMATE) | UInt32(FFTW_DESTROY_INPUT))
        else {
            throw LearnError(.numerical, "cannot plan an FFT of \(size) samples", cause: "fftwf_plan_dft_r2c_1d returned NULL")
        }
        plan = p
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var plans: [Int: RealFFT] = [:]

    /// The shared plan for `size` samples, made on first use under the planner lock.
    /// - Throws: `LearnError.Code.numerical` if FFTW cannot plan that size.
    static func plan(size: Int) throws(LearnError) -> RealFFT {
        lock.lock()
        defer { lock.unlock() }
        if let p = plans[size] { return p }
        let p = try RealFFT(size: size)
        plans[size] = p
        return p
    }

    /// Working buffers for one thread: `size` real inputs and `binCount` complex outputs,
    /// aligned by `fftwf_malloc`.
    final class Workspace {
        let input: UnsafeMutablePointer<Float>
        let output: UnsafeMutablePointer<fftwf_complex>
        init(size: Int) {
            input = fftwf_alloc_real(size)!
            output = fftwf_alloc_complex(size / 2 + 1)!
        }
        deinit {
            fftwf_free(input)
            fftwf_free(output)
        }
    }

    /// Makes buffers for `transform`.
    func makeWorkspace() -> Workspace { Workspace(size: size) }

    /// Computes the power spectrum |X[k]|² for k in 0...size/2 of `workspace.input` into `power`
    /// (`binCount` values). The input buffer is destroyed. The corresponding C function is
    /// `fftwf_execute_dft_r2c`.
    func powerSpectrum(_ workspace: Workspace, into power: UnsafeMutablePointer<Float>) {
        fftwf_execute_dft_r2c(plan, workspace.input, workspace.output)
        for k in 0..<binCount {
            let c = workspace.output[k]
            power[k] = c.0 * c.0 + c.1 * c.1
        }
    }
}
