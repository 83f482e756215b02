/// The two G.711 companding laws (ITU-T Recommendation G.711, "Pulse code modulation (PCM) of
/// voice frequencies", 1988, Tables 1a/1b (A-law) and 2a/2b (μ-law)), as tables over the 256 codes.
///
/// `linear` is the decoded value of each code on the 16-bit scale (the same figures as the
/// reference decoder in ITU-T G.191's `g711.c`: μ-law ±0…±32124, A-law ±8…±32256). The codec in
/// `LPCAudio` predicts on these values and codes each sample as its *rank*: the position of its
/// code among the 256 codes sorted by decoded value. Ranks are a bijection on the codes (μ-law's
/// two zeros, codes 0x7F and 0xFF, get the adjacent ranks 127 and 128), so a residual on ranks
/// restores the exact byte whatever the linear values are.
public struct G711Law: Sendable {
    /// Decoded value of each code (index: the code byte).
    public let linear: [Int32]
    /// Rank of each code (index: the code byte).
    public let rankOfCode: [UInt8]
    /// Code of each rank (index: the rank); the inverse of `rankOfCode`.
    public let codeOfRank: [UInt8]
    /// Decoded value of each rank, ascending.
    public let linearOfRank: [Int32]
    /// For each value `v` in −32768…32767 (index `v + 32768`), the rank whose decoded value is
    /// nearest (the lower one on a tie): the quantiser a prediction goes through.
    public let nearestRank: [UInt8]

    /// μ-law (G.711 Table 2a/2b; the North American and Japanese telephone law).
    public static let muLaw = G711Law(decode: G711Law.decodeMuLaw)
    /// A-law (G.711 Table 1a/1b; the European telephone law).
    public static let aLaw = G711Law(decode: G711Law.decodeALaw)

    /// μ-law decoding of one code: invert the bits, then segment (3 bits) and step (4 bits) give
    /// `((step << 3) + 0x84) << segment − 0x84`, negative when the top (inverted) bit is set.
    public static func decodeMuLaw(_ code: UInt8) -> Int32 {
        let u = ~code
        let t = ((Int32(u & 0x0F) << 3) + 0x84) << Int32((u & 0x70) >> 4)
        return u & 0x80 != 0 ? 0x84 - t : t - 0x84
    }

    /// A-law decoding of one code: toggle the even bits (0x55), then segment (3 bits) and step
    /// (4 bits) give `(step << 4) + 8` in segment 0 and `((step << 4) + 0x108) << (segment − 1)`
    /// above it, positive when the top bit is set.
    public static func decodeALaw(_ code: UInt8) -> Int32 {
        let a = code ^ 0x55
        var t = Int32(a & 0x0F) << 4
        let segment = Int32((a & 0x70) >> 4)
        if segment == 0 { t += 8 } else { t = (t + 0x108) << (segment - 1) }
        return a & 0x80 != 0 ? t : -t
    }

    private init(decode: (UInt8) -> Int32) {
        let lin = (0...255).map { decode(UInt8($0)) }
        // Sorted by value; μ-law's equal zeros by code, so the order is total and fixed.
        let order = (0...255).sorted { lin[$0] != lin[$1] ? lin[$0] < lin[$1] : $0 < $1 }
        var rank = [UInt8](repeating: 0, count: 256)
        for (r, c) in order.enumerated() { rank[c] = UInt8(r) }
        let ofRank = order.map { lin[$0] }
        var nearest = [UInt8](repeating: 0, count: 65536)
        var r = 0
        for i in 0..<65536 {
            let v = Int32(i) - 32768
            while r < 255 && (ofRank[r + 1] == ofRank[r] || abs(ofRank[r + 1] - v) < abs(ofRank[r] - v)) { r += 1 }
            nearest[i] = UInt8(r)
        }
        linear = lin
        rankOfCode = rank
        codeOfRank = order.map { UInt8($0) }
        linearOfRank = ofRank
        nearestRank = nearest
    }
}
