/// A small deterministic random generator (SplitMix64, Steele, Lea and Flood, "Fast Splittable
/// Pseudorandom Number Generators", OOPSLA 2014): the same seed gives the same cases on every run
/// and machine, so a failure a fuzz test finds is reproduced by running it again.
public struct SeededGenerator: RandomNumberGenerator {
    /// The generator's state; the seed at first.
    public var state: UInt64
    /// A generator starting at `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D4_9BB1_3311_EB
        return z ^ (z >> 31)
    }
}
