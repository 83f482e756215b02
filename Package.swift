// swift-tools-version:6.0
// dvs — version control for voice training data. Layout and layering: Documentation/ARCHITECTURE.md.
import PackageDescription

/// Release on Linux: the Swift runtime and Foundation linked statically (start-up: bench/README.md).
/// The modules were compiled against the shared runtime, whose Foundation names only
/// -lFoundation, so the static archives behind it are listed here (in one group: they refer to
/// each other). SQLite, zstd and libstdc++ are static too: GRDB's module map, CZstd and the Swift
/// runtime ask for -lsqlite3, -lzstd and -lstdc++, and Sources/dvs/static, searched first, answers
/// those with linker scripts that name the .a archives (Debian's -dev packages, GCC's
/// libstdc++.a; a library loaded later through CLazyLibs that needs libstdc++.so gets its own).
/// lld packs the ≈100k relative relocations of the PIE binary (-z pack-relative-relocs, DT_RELR:
/// glibc ≥ 2.36), which the loader then applies from a 20 KB table instead of a 2.4 MB one.
let staticRelease: [LinkerSetting] = [
    .unsafeFlags(
        ["-static-stdlib", "-L", Context.packageDirectory + "/Sources/dvs/static", "-use-ld=lld"]
            + [
                "--start-group", "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims",
                "-l_FoundationCollections", "-l_CFURLSessionInterface", "-lswiftSynchronization",
                "-lFoundation", "-lFoundationEssentials", "-lFoundationInternationalization",
                "-lFoundationNetworking", "-lswiftCore", "--end-group", "-z", "pack-relative-relocs",
            ].flatMap { ["-Xlinker", $0] },
        .when(platforms: [.linux], configuration: .release))
]

let package = Package(
    name: "dvs",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dvs", targets: ["dvs"]),
        .executable(name: "dvs-serve", targets: ["dvs-serve"]),
        .library(name: "DVS", targets: ["DVS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // `dvs serve`'s web server (Sources/DVSServe): HTTP/1.1 on SwiftNIO, only in dvs-serve.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // C libraries (Debian's -dev packages, scripts/install-deps.sh). zstd is linked as usual; the
        // others are header-only modules here: CLazyLibs defines the functions dvs calls and loads each
        // library on its first call, so start-up does not load what a command does not use.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSndfile"),
        .systemLibrary(name: "CGit2"),
        .systemLibrary(name: "CSamplerate"),
        .systemLibrary(name: "CArchive"),
        .systemLibrary(name: "CFFTW"),
        // Forwarding functions for libgit2, libarchive, libsndfile, libsamplerate, libfftw3f and libcurl
        // that dlopen the library on first use (Sources/CLazyLibs/lazy.c; scripts/gen-lazy-stubs.sh).
        .target(name: "CLazyLibs", exclude: ["symbols"], linkerSettings: [.linkedLibrary("dl")]),

        .target(name: "DVSCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "DVSStorage", dependencies: ["DVSCore", "CZstd", "CArchive", "CLazyLibs"]),
        .target(name: "DVSAudio", dependencies: ["DVSCore", "CSndfile", "CSamplerate", "CLazyLibs"]),
        .target(name: "DVSLabels", dependencies: ["DVSCore"]),
        .target(
            name: "DVSRemote",
            dependencies: ["DVSCore", "DVSStorage", "CLazyLibs", .product(name: "Crypto", package: "swift-crypto")],
            // Release: Foundation is static (see dvs below) and libcurl comes through CLazyLibs, loaded
            // on the first request, instead of the -lcurl that FoundationNetworking asks for.
            swiftSettings: [
                .unsafeFlags(
                    ["-Xfrontend", "-disable-autolink-library", "-Xfrontend", "curl"],
                    .when(platforms: [.linux], configuration: .release))
            ]),
        // Features (FFTW log-mel/MFCC), baseline learners, metrics and the .dvsm model file; no I/O on repositories.
        .target(name: "DVSLearn", dependencies: ["DVSCore", "CFFTW", "CLazyLibs"]),
        .target(
            name: "DVSCatalog",
            dependencies: ["DVSCore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // DVSRemote is a storage-level module (RemoteStore beside ObjectStore): DVS's push/fetch use it.
        .target(
            name: "DVS",
            dependencies: ["DVSCore", "DVSStorage", "DVSAudio", "DVSCatalog", "DVSLabels", "DVSRemote", "DVSLearn", "CGit2", "CLazyLibs"]),
        .target(
            name: "DVSCommands",
            dependencies: [
                "DVS", "DVSCatalog", "DVSStorage", "DVSRemote", "DVSLabels", "DVSLearn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Release: the Swift runtime and Foundation linked statically (start-up: bench/README.md). The
        // modules were compiled against the shared runtime, whose Foundation names only -lFoundation, so
        // the static archives behind it are listed here (in one group: they refer to each other).
        // SQLite, zstd and libstdc++ are static too: GRDB's module map, CZstd and the Swift runtime ask
        // for -lsqlite3, -lzstd and -lstdc++, and Sources/dvs/static, searched first, answers those
        // with linker scripts that name the .a archives (Debian's -dev packages, GCC's libstdc++.a;
        // a library loaded later through CLazyLibs that needs libstdc++.so gets its own). lld packs the
        // ≈100k relative relocations of the PIE binary (-z pack-relative-relocs, DT_RELR: glibc ≥
        // 2.36), which the loader then applies from a 20 KB table instead of a 2.4 MB one.
        .executableTarget(name: "dvs", dependencies: ["DVSCommands"], exclude: ["static"], linkerSettings: staticRelease),
        // `dvs serve`: the read-only web server over a repository. Its own executable, which `dvs serve`
        // execs (the way git runs its helpers), so that SwiftNIO never loads with `dvs` (start-up).
        .target(
            name: "DVSServe",
            dependencies: [
                "DVS", "DVSCatalog", "DVSCore", "DVSLabels", "DVSLearn", "DVSAudio",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]),
        // Linked as dvs is, so a container with only the runtime packages runs it too
        // (scripts/runtime-packages.txt).
        .executableTarget(
            name: "dvs-serve",
            dependencies: ["DVSServe", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            linkerSettings: staticRelease),
        // bench/lineage.sh's helper: snapshot reader vs libsndfile from disk, same run.
        .executableTarget(name: "dvs-read-bench", dependencies: ["DVS", "CSndfile"]),
        // bench/codec.sh's helper: the audio codec alone, one thread, per format.
        .executableTarget(name: "dvs-codec-bench", dependencies: ["DVSAudio"]),
        .target(name: "DVSTestSupport", dependencies: ["DVS"]),

        .testTarget(name: "DVSCoreTests", dependencies: ["DVSCore", "DVSTestSupport"]),
        .testTarget(name: "DVSStorageTests", dependencies: ["DVSStorage", "DVSTestSupport"]),
        .testTarget(name: "DVSLabelsTests", dependencies: ["DVSLabels", "DVSTestSupport"]),
        .testTarget(name: "DVSAudioTests", dependencies: ["DVSAudio", "DVSTestSupport"]),
        .testTarget(name: "DVSTests", dependencies: ["DVS", "DVSCatalog", "DVSLabels", "DVSTestSupport"]),
        .testTarget(name: "DVSRemoteTests", dependencies: ["DVSRemote", "DVSTestSupport"]),
        .testTarget(name: "DVSLearnTests", dependencies: ["DVSLearn", "DVSTestSupport"]),
        .testTarget(name: "DVSCLITests", dependencies: ["DVSTestSupport", "DVSRemote"], exclude: ["Golden"]),
        .testTarget(
            name: "DVSServeTests",
            dependencies: ["DVSServe", "DVSAudio", "DVSTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird")],
            exclude: ["browser_test.py"]),
        .testTarget(name: "DVSCommandsTests", dependencies: ["DVSCommands", "DVS", "DVSCatalog", "DVSStorage", "DVSRemote", "DVSLearn"]),
    ],
    swiftLanguageModes: [.v6]
)
