// Rootfs owns how a container's root filesystem is assembled: the writable layer's directories
// and the overlay plan over the image's unpacked layers.
import ImageStore
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A container's directory in the store: its writable layer, the overlay's work directory, the
/// mount point, and the files generated for it.
public struct ContainerDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var upper: String { path + "/upper" }
    public var work: String { path + "/work" }
    public var mountPoint: String { path + "/rootfs" }
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
        for directory in [upper, work, mountPoint] {
            try systemCall("mkdir", on: directory) { mkdir(directory, 0o755) }
        }
    }

    /// The kernel overlay plan: the image's layers under this container's writable layer.
    public func overlayPlan(layers: [String]) -> RootfsPlan {
        RootfsPlan(lowerDirectories: layers, upperDirectory: upper, workDirectory: work, mountPoint: mountPoint)
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf for the container (not fsynced: like
    /// Docker's, they are the container's runtime configuration, not data).
    public func writeNetworkFiles(hostname: String, hosts: String, resolvConf: String) throws(SystemCallError) -> [GeneratedFile] {
        try FileSystem.writeAtomically(hostnameFile, hostname + "\n", durable: false)
        try FileSystem.writeAtomically(hostsFile, hosts, durable: false)
        try FileSystem.writeAtomically(resolvConfFile, resolvConf, durable: false)
        return [
            GeneratedFile(hostPath: hostnameFile, containerPath: "etc/hostname"),
            GeneratedFile(hostPath: hostsFile, containerPath: "etc/hosts"),
            GeneratedFile(hostPath: resolvConfFile, containerPath: "etc/resolv.conf"),
        ]
    }
}
