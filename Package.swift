// swift-tools-version:6.0
// swctr: a rootless, daemonless container tool. The target list follows the data flow:
// reference → registry → store → rootfs → spec → runtime → network → containers → CLI.
import PackageDescription

// The C libraries are linked statically (their .a files come with the -dev packages): each
// shared library costs the dynamic loader symbol lookups at every start of the binary, and
// swctr starts often (CLI, container init, monitor, network helper, FUSE server).
let staticArchives: [String] = ["archive", "fuse3", "sqlite3", "seccomp", "cap", "xml2", "nettle", "lzma", "bz2", "zstd", "z"]
var staticLinkFlags: [String] = ["--push-state", "-Bstatic"]
staticLinkFlags += staticArchives.map { "-l" + $0 }
staticLinkFlags += ["--pop-state", "-ldl", "-lpthread"]
// Not exported: a library swctr dlopens (libcurl → gnutls or libssl) must bind to its own dependencies.
staticLinkFlags += ["--exclude-libs", "ALL"]
// Only what is called is kept (else libarchive's XAR support pulls libxml2 and ICU in).
staticLinkFlags += ["--gc-sections"]
// The release binary (Swift's stdlib linked statically too) at a fixed address: no relative
// relocations to apply at start. Not in debug builds, whose stdlib is shared (the loader would
// warn about its protected symbols).
// libstdc++ (which Swift's runtime uses) is linked statically there too, through the linker script
// in link/: the driver's own -lstdc++ finds it first.
let staticLibraries: [LinkerSetting] = [
    .unsafeFlags(staticLinkFlags.flatMap { ["-Xlinker", $0] }),
    .unsafeFlags(["-Xclang-linker", "-no-pie", "-L", Context.packageDirectory + "/link"], .when(configuration: .release)),
    // The static stdlib's link arguments export every symbol of the binary (-export-dynamic): the
    // runtime's dladdr at start then scans 4,600 of them, and the loader reads their tables. Nothing
    // looks our symbols up dynamically. libgcc statically too: no libgcc_s to load, nor its
    // constructor (CPUID, slow in a VM). Together 0.3 ms of every start of the binary here.
    .unsafeFlags(["-Xlinker", "--no-export-dynamic", "-Xclang-linker", "-static-libgcc"], .when(configuration: .release)),
]
// The test executable links the same libraries.
let testLibraries: [LinkerSetting] = [.unsafeFlags(staticLinkFlags.flatMap { ["-Xlinker", $0] })]

// Generic types named in our code (KeyedDecodingContainer<CodingKeys>, Set<Element>…) get their
// metadata through accessors that take the witness tables directly, not by demangling a name at run
// time: that lookup scans all ~4,600 protocol conformance records of the binary for each new
// (type, protocol) pair, 28 of the 70 scans a `run` made (about 1 ms of every start).
let swiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"])
]

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
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev"])]),
        // libarchive's calls into libacl (a shared library only), which it loads on first use.
        .target(name: "CArchiveACL"),
        .systemLibrary(name: "CCrypto", providers: [.apt(["nettle-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CSeccomp", providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", providers: [.apt(["libcap-dev"])]),
        .systemLibrary(name: "CFuse", providers: [.apt(["libfuse3-dev"])]),
        // C: the code that must run before any thread exists (user namespace entry).
        .target(name: "CNamespaces", dependencies: ["CLinux"]),
        // C: the network helper's children inside the container (TAP, connector) and libslirp via dlopen.
        .target(name: "CNetwork"),

        .target(name: "SystemSupport", dependencies: ["CLinux"], swiftSettings: swiftSettings),
        .target(name: "ImageReference", swiftSettings: swiftSettings),
        .target(name: "Registry", dependencies: ["ImageReference", "SystemSupport", "CCurl", "CCrypto"], swiftSettings: swiftSettings),
        .target(name: "ImageStore", dependencies: ["ImageReference", "Registry", "SystemSupport", "CArchive", "CArchiveACL", "CCrypto", "CZlib", "CZstd", "CLinux"], swiftSettings: swiftSettings),
        .target(name: "Rootfs", dependencies: ["ImageStore", "RuntimeSpec", "SystemSupport", "CLinux"], swiftSettings: swiftSettings),
        .target(name: "RuntimeSpec", dependencies: ["ImageStore"], swiftSettings: swiftSettings),
        .target(name: "Runtime", dependencies: ["RuntimeSpec", "SystemSupport", "CLinux", "CNamespaces", "CSeccomp", "CCap"], swiftSettings: swiftSettings),
        .target(name: "Network", dependencies: ["RuntimeSpec", "SystemSupport", "CLinux", "CNetwork"], swiftSettings: swiftSettings),
        .target(name: "Cgroups", dependencies: ["SystemSupport"], swiftSettings: swiftSettings),
        .target(name: "FuseOverlay", dependencies: ["SystemSupport", "CFuse"], swiftSettings: swiftSettings),
        .target(name: "Containers", dependencies: ["ImageStore", "Rootfs", "RuntimeSpec", "Runtime", "Network", "Cgroups", "FuseOverlay", "Registry", "SystemSupport", "CSQLite", "CLinux", "CArchive"], swiftSettings: swiftSettings),
        .target(name: "HostCheck", dependencies: ["Runtime", "RuntimeSpec", "SystemSupport", "CLinux"], swiftSettings: swiftSettings),
        .target(name: "SwctrCLI", dependencies: [
            "Containers", "Cgroups", "HostCheck", "ImageStore", "Registry", "ImageReference", "Runtime", "SystemSupport", "CNamespaces",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: swiftSettings),
        .executableTarget(name: "swctr", dependencies: ["SwctrCLI", "Containers", "HostCheck", "Runtime", "Network", "ImageStore", "FuseOverlay", "CNamespaces"],
                          swiftSettings: swiftSettings, linkerSettings: staticLibraries),

        .testTarget(name: "ImageReferenceTests", dependencies: ["ImageReference"]),
        .testTarget(name: "ImageStoreTests", dependencies: ["ImageStore", "Registry"], linkerSettings: testLibraries),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "ImageReference"], linkerSettings: testLibraries),
        .testTarget(name: "CgroupsTests", dependencies: ["Cgroups"], linkerSettings: testLibraries),
        .testTarget(name: "RuntimeSpecTests", dependencies: ["RuntimeSpec", "Runtime", "Network", "Rootfs"], linkerSettings: testLibraries),
        .testTarget(name: "HostCheckTests", dependencies: ["HostCheck"], linkerSettings: testLibraries),
        .testTarget(name: "SwctrCLITests", dependencies: ["SwctrCLI", "RuntimeSpec"], linkerSettings: testLibraries),
        .testTarget(name: "IntegrationTests", dependencies: []),
    ]
)
