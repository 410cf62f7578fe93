// Rootfs owns how a container's root filesystem is assembled: the writable layer's directories
// and the overlay plan over the image's unpacked layers.
import ImageStore
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A container's directory in the store: its writable layer, the overlay's work directory and
/// the files generated for it. The root filesystem is mounted on `mountPoint`, a directory all
/// containers of the store share: each mounts there in its own mount namespace, so no directory
/// is made and removed per container for it.
public struct ContainerDirectory: Sendable {
    public let path: String
    public let mountPoint: String

    /// `mountPoint`: where the container's root filesystem is mounted (`StoreLayout.rootfsMountPoint`).
    public init(path: String, mountPoint: String) {
        self.path = path
        self.mountPoint = mountPoint
    }

    public var upper: String { path + "/upper" }
    public var work: String { path + "/work" }
    public var specPath: String { path + "/spec.json" }
    /// The compiled seccomp program of the container's processes.
    public var seccompProgramPath: String { path + "/seccomp.bpf" }
    /// Output of the container, in the json-file log format.
    public var logPath: String { path + "/ctr.log" }
    public var hostnameFile: String { path + "/hostname" }
    public var hostsFile: String { path + "/hosts" }
    public var resolvConfFile: String { path + "/resolv.conf" }

    /// Makes the directories (private to this user).
    public func create() throws(SystemCallError) {
        try systemCall("mkdir", on: path) { mkdir(path, 0o700) }
        for directory in [upper, work] {
            try systemCall("mkdir", on: directory) { mkdir(directory, 0o755) }
        }
    }

    /// The kernel overlay plan: the image's layers (bottom first) under this container's writable layer.
    public func overlayPlan(layers: [String]) -> RootfsPlan {
        RootfsPlan(lowerDirectories: layers, upperDirectory: upper, workDirectory: work, mountPoint: mountPoint)
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf for the container (not fsynced: like
    /// Docker's, they are the container's runtime configuration, not data). Written in place: the
    /// directory is new, and nothing reads them before the container starts.
    public func writeNetworkFiles(hostname: String, hosts: String, resolvConf: String) throws(SystemCallError) -> [GeneratedFile] {
        try FileSystem.writeNew(hostnameFile, Array((hostname + "\n").utf8))
        try FileSystem.writeNew(hostsFile, Array(hosts.utf8))
        try FileSystem.writeNew(resolvConfFile, Array(resolvConf.utf8))
        return [
            GeneratedFile(hostPath: hostnameFile, containerPath: "etc/hostname"),
            GeneratedFile(hostPath: hostsFile, containerPath: "etc/hosts"),
            GeneratedFile(hostPath: resolvConfFile, containerPath: "etc/resolv.conf"),
        ]
    }
}

/// The layer every container's overlay gets on top of its image's layers (as Docker's per-container
/// "init" layer, but one for the whole store): an /etc with empty hostname, hosts and resolv.conf,
/// the mount points of the container's generated files. Without it, the init makes them in the
/// writable layer at every start (a copy-up of /etc, three files), and they are removed with it.
public struct MountPointLayer: Sendable {
    public let path: String
    /// The files of the layer, relative to its root (the destinations of `GeneratedFile`s).
    public static let files = ["etc/hostname", "etc/hosts", "etc/resolv.conf"]

    public init(path: String) { self.path = path }

    /// Makes the layer unless it is there: built under `temporaryDirectory` and renamed into
    /// place, so that a concurrent `swctr` sees all of it or none.
    public func ensure(temporaryDirectory: String) throws(SystemCallError) {
        var info = stat()
        if lstat(path + "/" + Self.files[Self.files.count - 1], &info) == 0 { return }
        let temp = temporaryDirectory + "/mount-point-layer-" + FileSystem.randomHex(bytes: 6)
        do throws(SystemCallError) {
            try systemCall("mkdir", on: temp) { mkdir(temp, 0o755) }
            try systemCall("mkdir", on: temp + "/etc") { mkdir(temp + "/etc", 0o755) }
            for file in Self.files { try FileSystem.writeNew(temp + "/" + file, [], mode: 0o644) }
            try systemCall("chmod", on: temp) { chmod(temp, 0o755) }
            if rename(temp, path) != 0 {
                let code = errno
                guard code == EEXIST || code == ENOTEMPTY else { throw SystemCallError("rename", on: path, errno: code) }
                try? FileSystem.removeTree(temp)  // another swctr made it first
            }
        } catch {
            try? FileSystem.removeTree(temp)
            throw error
        }
    }

    /// Whether the layer can go over these image layers (bottom first) without changing what the
    /// image shows: its /etc must be a directory, or absent. (An /etc that is a symlink or a file
    /// would be hidden by the layer's directory.)
    public static func fits(over layers: [String]) -> Bool {
        for layer in layers.reversed() {
            var info = stat()
            guard lstat(layer + "/etc", &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR { return true }
            // A whiteout (character device 0/0) deletes the /etc of the layers below.
            return type == S_IFCHR && info.st_rdev == 0
        }
        return true
    }
}
