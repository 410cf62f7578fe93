// swift-tools-version:6.0
// swctr: a rootless, daemonless container tool. The target list follows the data flow:
// reference → registry → store → rootfs → spec → runtime → network → containers → CLI.
import PackageDescription

let package = Package(
    name: "swctr",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "swctr", targets: ["swctr"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // C: system-library shims (no logic of ours beyond typed wrappers for variadic calls).
        .target(name: "CLinux", linkerSettings: []),
        // libcurl is loaded with dlopen on first use: only registry work pays for its ~30 libraries.
        .target(name: "CCurl"),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap", providers: [.apt(["libcap-dev"])]),
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        // C: the code that must run before any thread exists (user namespace entry).
        .target(name: "CNamespaces"),
        // C: the network helper's children inside the container (TAP, connector) and libslirp via dlopen.
        .target(name: "CNetwork"),

        .target(name: "SystemSupport", dependencies: ["CLinux"]),
        .target(name: "ImageReference"),
        .target(name: "Registry", dependencies: ["ImageReference", "SystemSupport", "CCurl", "CCrypto"]),
        .target(name: "ImageStore", dependencies: ["ImageReference", "Registry", "SystemSupport", "CArchive", "CCrypto", "CZlib", "CZstd", "CLinux"]),
        .target(name: "Rootfs", dependencies: ["ImageStore", "RuntimeSpec", "SystemSupport"]),
        .target(name: "RuntimeSpec", dependencies: ["ImageStore"]),
        .target(name: "Runtime", dependencies: ["RuntimeSpec", "SystemSupport", "CLinux", "CNamespaces", "CSeccomp", "CCap"]),
        .target(name: "Network", dependencies: ["RuntimeSpec", "SystemSupport", "CLinux", "CNetwork"]),
        .target(name: "Cgroups", dependencies: ["SystemSupport"]),
        .target(name: "FuseOverlay", dependencies: ["SystemSupport", "CFuse"]),
        .target(name: "Containers", dependencies: ["ImageStore", "Rootfs", "RuntimeSpec", "Runtime", "Network", "Cgroups", "FuseOverlay", "Registry", "SystemSupport", "CSQLite", "CLinux", "CArchive"]),
        .target(name: "HostCheck", dependencies: ["Runtime", "RuntimeSpec", "SystemSupport", "CLinux"]),
        .target(name: "SwctrCLI", dependencies: [
            "Containers", "Cgroups", "HostCheck", "ImageStore", "Registry", "ImageReference", "Runtime", "SystemSupport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "swctr", dependencies: ["SwctrCLI", "Containers", "HostCheck", "Runtime", "Network", "ImageStore", "FuseOverlay", "CNamespaces"]),

        .testTarget(name: "ImageReferenceTests", dependencies: ["ImageReference"]),
        .testTarget(name: "ImageStoreTests", dependencies: ["ImageStore", "Registry"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "ImageReference"]),
        .testTarget(name: "CgroupsTests", dependencies: ["Cgroups"]),
        .testTarget(name: "RuntimeSpecTests", dependencies: ["RuntimeSpec", "Runtime", "Network"]),
        .testTarget(name: "HostCheckTests", dependencies: ["HostCheck"]),
        .testTarget(name: "IntegrationTests", dependencies: []),
    ]
)
