// swift-tools-version:6.0
// dvs — version control for voice training data. Layout and layering: Documentation/ARCHITECTURE.md.
import PackageDescription

let package = Package(
    name: "dvs",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dvs", targets: ["dvs"]),
        .library(name: "DVS", targets: ["DVS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries, through pkg-config (Debian's -dev packages).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(name: "CSamplerate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3f", providers: [.apt(["libfftw3-dev"])]),

        .target(name: "DVSCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "DVSStorage", dependencies: ["DVSCore", "CZstd", "CArchive"]),
        .target(name: "DVSAudio", dependencies: ["DVSCore", "CSndfile", "CSamplerate"]),
        .target(name: "DVSLabels", dependencies: ["DVSCore", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(
            name: "DVSRemote",
            dependencies: ["DVSCore", "DVSStorage", .product(name: "Crypto", package: "swift-crypto")]),
        // Features (FFTW log-mel/MFCC), baseline learners, metrics and the .dvsm model file; no I/O on repositories.
        .target(name: "DVSLearn", dependencies: ["DVSCore", "CFFTW"]),
        .target(
            name: "DVSCatalog",
            dependencies: ["DVSCore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // DVSRemote is a storage-level module (RemoteStore beside ObjectStore): DVS's push/fetch use it.
        .target(
            name: "DVS",
            dependencies: ["DVSCore", "DVSStorage", "DVSAudio", "DVSCatalog", "DVSLabels", "DVSRemote", "DVSLearn", "CGit2"]),
        .target(
            name: "DVSCommands",
            dependencies: [
                "DVS", "DVSCatalog", "DVSStorage", "DVSRemote", "DVSLabels", "DVSLearn",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "dvs", dependencies: ["DVSCommands"]),
        // bench/lineage.sh's helper: snapshot reader vs libsndfile from disk, same run.
        .executableTarget(name: "dvs-read-bench", dependencies: ["DVS", "CSndfile"]),
        .target(name: "DVSTestSupport", dependencies: ["DVS"]),

        .testTarget(name: "DVSCoreTests", dependencies: ["DVSCore"]),
        .testTarget(name: "DVSStorageTests", dependencies: ["DVSStorage", "DVSTestSupport"]),
        .testTarget(name: "DVSLabelsTests", dependencies: ["DVSLabels", "DVSTestSupport"]),
        .testTarget(name: "DVSAudioTests", dependencies: ["DVSAudio", "DVSTestSupport"]),
        .testTarget(name: "DVSTests", dependencies: ["DVS", "DVSCatalog", "DVSLabels", "DVSTestSupport"]),
        .testTarget(name: "DVSRemoteTests", dependencies: ["DVSRemote", "DVSTestSupport"]),
        .testTarget(name: "DVSLearnTests", dependencies: ["DVSLearn", "DVSTestSupport"]),
        .testTarget(name: "DVSCLITests", dependencies: ["DVSTestSupport", "DVSRemote"], exclude: ["Golden"]),
        .testTarget(name: "DVSCommandsTests", dependencies: ["DVSCommands", "DVS", "DVSCatalog", "DVSStorage", "DVSRemote", "DVSLearn"]),
    ],
    swiftLanguageModes: [.v6]
)
