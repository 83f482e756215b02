import DVSCore
import Foundation

extension HoldoutSplit {
    /// Which examples are held out, keeping byte-identical audio on one side: an example goes
    /// to the side ``isHeldOut(key:fraction:)`` gives its split key (`group ?? key`), except
    /// that every copy of the same audio (equal `blobID`) goes to the side of the copy whose
    /// split key is smallest (bytewise). A jingle copied into every speaker's folder thus lands
    /// on one side only, and each speaker's own clips still stay together. Without repeated
    /// audio this is the split by split key alone.
    /// - Parameters:
    ///   - examples: the labelled samples, in any order.
    ///   - fraction: the holdout fraction (0…1).
    /// - Returns: per example, in order, whether it is held out.
    /// - Complexity: O(n) hashes.
    public static func heldOut(_ examples: [LabeledExample], fraction: Double) -> [Bool] {
        var firstKey: [ObjectID: String] = [:]
        for e in examples {
            guard let blob = e.blobID else { continue }
            let key = e.group ?? e.key
            if let k = firstKey[blob], !Array(key.utf8).lexicographicallyPrecedes(Array(k.utf8)) { continue }
            firstKey[blob] = key
        }
        var decided: [String: Bool] = [:]
        return examples.map { e in
            let key = e.blobID.flatMap { firstKey[$0] } ?? e.group ?? e.key
            if let d = decided[key] { return d }
            let d = isHeldOut(key: key, fraction: fraction)
            decided[key] = d
            return d
        }
    }

    /// How many examples ``heldOut(_:fraction:)`` puts on another side than their own split key
    /// would: copies of audio that another split key also carries.
    public static func movedCopies(_ examples: [LabeledExample], fraction: Double) -> Int {
        zip(examples, heldOut(examples, fraction: fraction)).filter { e, held in
            isHeldOut(key: e.group ?? e.key, fraction: fraction) != held
        }.count
    }
}
