/// An error from feature extraction, training or the model file, ready to show a user: what
/// failed (lower-case, subject quoted), a hint with the next step, and the underlying cause.
public struct LearnError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Broad classes, so callers can map them to exit codes.
    public enum Code: Sendable, Equatable {
        /// The input cannot be learned from: no samples, one class only, a non-finite label.
        case badInput
        /// A model file that is not one, is damaged, or comes from a newer dvs.
        case badModelFile
        /// Features of a different shape than the model expects.
        case shapeMismatch
        /// A numerical step failed (a matrix that is not positive definite, an FFT plan FFTW refused).
        case numerical
    }

    /// Which failure of its code, where the command layer suggests a next step for it (the
    /// library names no commands).
    public enum Reason: Sendable, Equatable {
        /// The file is not a model file at all.
        case notAModelFile
        /// A model file that is truncated, damaged or holds impossible values.
        case damagedModelFile
        /// No sample carries the label field to train on (``subject`` names the field).
        case noLabeledSamples
        /// A regression label that is not a number (a categorical label).
        case categoricalLabel
        /// The holdout fraction left no samples to train on.
        case holdoutLeavesNothingToTrain
        /// The training side holds fewer than two classes of the label.
        case tooFewClasses
    }

    /// Broad class.
    public var code: Code
    /// Which failure of ``code``, when a next step depends on it.
    public var reason: Reason?
    /// What the error is about (a model file's source, a label field).
    public var subject: String?
    /// What failed, lower-case, subject quoted, no full stop.
    public var message: String
    /// The exact next step, if there is one.
    public var hint: String?
    /// The underlying cause (a C function and its message), if any.
    public var cause: String?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, hint: String? = nil, cause: String? = nil, reason: Reason? = nil, subject: String? = nil
    ) {
        self.code = code
        self.reason = reason
        self.subject = subject
        self.message = message
        self.hint = hint
        self.cause = cause
    }

    public var description: String { message }
}
