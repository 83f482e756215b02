import Foundation
import Testing

@testable import DVSCommands

/// The dates dvs prints are computed without ICU (start-up); they must read as `DateFormatter` wrote them.
@Suite struct OutputDateTests {
    /// Moments around the edges that calendar arithmetic gets wrong (leap days, century years, day and
    /// year boundaries, before 1970) and a deterministic spread over 1600–9999.
    static var moments: [Int64] {
        let days: [Int64] = [
            -11_676_096_000, -2_208_988_800, -1, 0, 1, 86_399, 86_400, 951_782_400, 951_868_800, 1_709_164_800,
            4_107_542_400, 4_107_628_799, 1_796_256_000, 253_402_300_799,
        ]
        var out = days.flatMap { [$0 - 1, $0, $0 + 1, $0 + 43_200] }
        var x: UInt64 = 7
        for _ in 0..<400 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(-11_676_000_000 + Int64(x >> 20) % 265_000_000_000)
        }
        return out
    }

    @Test func commitDatesReadAsDateFormatterWritesThem() {
        let offsets = [0, 60, -60, 330, -210, 345, 765, -720, 840, -840, 525]  // real offsets: UTC−14:00…UTC+14:00
        var mismatches: [String] = []
        for (i, t) in Self.moments.enumerated() {
            let tz = offsets[i % offsets.count]
            let fast = Output.date(t, tzMinutes: tz)
            let reference = Output.formatterDate(t, tzMinutes: tz)
            if fast != reference { mismatches.append("\(t) \(tz): \(fast) != \(reference)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        #expect(Output.date(1_796_322_217, tzMinutes: 0) == "Thu Dec 3 18:23:37 2026 +0000")
        #expect(Output.date(1_796_322_217, tzMinutes: -90) == "Thu Dec 3 16:53:37 2026 -0130")
    }

    @Test func lineageTimesReadAsDateFormatterWritesThem() {
        var mismatches: [String] = []
        for (i, t) in Self.moments.enumerated() {
            let seconds = Double(t) + [0, 0.25, 0.5, 0.999][i % 4]
            let fast = LineageOutput.time(seconds)
            let reference = LineageOutput.formatterTime(seconds)
            if fast != reference { mismatches.append("\(seconds): \(fast) != \(reference)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        #expect(LineageOutput.time(1_796_322_217.5) == "2026-12-03 18:23:37 UTC")
    }
}
