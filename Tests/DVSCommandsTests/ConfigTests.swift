import DVS
import Testing

@testable import DVSCommands

/// `dvs config`'s checks of a value before it is stored.
@Suite struct ConfigTests {
    /// Sizes take git's 1024-based suffixes and the IEC names; SI units, signs, fractions and
    /// overflow are refused.
    /// Every setting a user may set has its default named, for `dvs config KEY` when unset
    /// (the hint said only "it has its default"), and the codec's is the one the code uses.
    @Test func everyKnownSettingNamesItsDefault() {
        #expect(Set(Config.defaults.keys) == Config.known)
        #expect(Config.defaults["pack.audio-codec"] == Repository.AudioCodecChoice.lpc.rawValue)
    }

    @Test func sizesTakeSuffixesOf1024() {
        #expect(Config.byteCount("0") == 0)
        #expect(Config.byteCount("67108864") == 67_108_864)
        #expect(Config.byteCount("64m") == 67_108_864)
        #expect(Config.byteCount("64M") == 67_108_864)
        #expect(Config.byteCount("64MiB") == 67_108_864)
        #expect(Config.byteCount("5k") == 5120)
        #expect(Config.byteCount("10g") == 10_737_418_240)
        #expect(Config.byteCount("1TiB") == 1_099_511_627_776)
        #expect(Config.byteCount("64mib") == 67_108_864 && Config.byteCount("64KIB") == 65536)
        #expect(Config.byteCount("16777215t") == 16_777_215 << 40)
        #expect(Config.byteCount("16777216t") == nil)  // 2^64: past UInt64
        for bad in ["", "m", "64MB", "64 m", "-5", "+5", "1.5g", "0x10", "64mm", "٣"] {
            #expect(Config.byteCount(bad) == nil, "\(bad)")
        }
    }

    /// The reasons name what is taken, and single out SI units.
    @Test func aRefusedSizeSaysWhatIsTaken() {
        #expect(Config.problem(key: "pack.defer-audio-after", value: "100M") == nil)
        #expect(Config.problem(key: "pack.defer-audio-after", value: "never") == nil)
        #expect(
            Config.problem(key: "pack.defer-audio-after", value: "64MB")
                == "SI units are ambiguous here; write bytes, or k, m, g (powers of 1024: 64m is 67108864), or never")
        #expect(
            Config.problem(key: "cache.max-size", value: "lots")
                == "not a whole number of bytes (or with k, m, g: 64m is 67108864)")
        #expect(Config.problem(key: "pack.defer-audio-after", value: "10gb")?.hasPrefix("SI units are ambiguous") == true)
        #expect(Config.problem(key: "cache.max-size", value: "16777216t") == "too large: at most 18446744073709551615 bytes (16777215t)")
        #expect(
            Config.problem(key: "cache.max-size", value: "99999999999999999999")
                == "too large: at most 18446744073709551615 bytes (16777215t)")
        #expect(Config.problem(key: "pack.target-size", value: "1m") == nil)
        #expect(Config.problem(key: "pack.target-size", value: "1023k") == "must be at least 1048576 bytes (1m)")
    }
}
