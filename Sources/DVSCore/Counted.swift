/// `n` and `noun` for a message, the noun in the plural unless `n` is 1: "1 pack", "3 packs",
/// "0 uncommitted changes". The plural adds "s" to the last word, or is `plural` when given
/// ("1 branch", "2 branches"). Every count a message shows goes through this, so none reads
/// "1 file(s)".
public func counted(_ n: some BinaryInteger, _ noun: String, plural: String? = nil) -> String {
    n == 1 ? "1 \(noun)" : "\(n) \(plural ?? noun + "s")"
}
