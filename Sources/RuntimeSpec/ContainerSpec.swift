// RuntimeSpec owns what a container is made of before it starts: the process (argv, env, cwd,
// user), the root filesystem plan and the namespaces, built from the image config and the flags.
import Registry

/// Everything the container's init needs, written by the parent, read by init.
public struct ContainerSpec: Codable, Sendable {
    public var process: ProcessSpec
    public var rootfs: RootfsPlan
    public var hostname: String
    public var network: NetworkMode
    /// Host paths that become files in the container (resolv.conf, hosts, hostname).
    public var generatedFiles: [GeneratedFile]

    public init(process: ProcessSpec, rootfs: RootfsPlan, hostname: String, network: NetworkMode, generatedFiles: [GeneratedFile] = []) {
        self.process = process
        self.rootfs = rootfs
        self.hostname = hostname
        self.network = network
        self.generatedFiles = generatedFiles
    }
}

public struct ProcessSpec: Codable, Sendable, Equatable {
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String
    /// As the user wrote it (`name`, `uid`, `name:group`, `uid:gid`); resolved against the
    /// container's /etc/passwd and /etc/group by init.
    public var user: String
    public var terminal: Bool

    public init(arguments: [String], environment: [String], workingDirectory: String, user: String, terminal: Bool) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.terminal = terminal
    }
}

/// A kernel overlay: read-only layers (lowest first) under a writable layer.
public struct RootfsPlan: Codable, Sendable {
    public var lowerDirectories: [String]
    public var upperDirectory: String
    public var workDirectory: String
    public var mountPoint: String

    public init(lowerDirectories: [String], upperDirectory: String, workDirectory: String, mountPoint: String) {
        self.lowerDirectories = lowerDirectories
        self.upperDirectory = upperDirectory
        self.workDirectory = workDirectory
        self.mountPoint = mountPoint
    }
}

public enum NetworkMode: String, Codable, Sendable {
    /// A network namespace with only loopback.
    case none
    /// The host's network namespace.
    case host

    public var needsNamespace: Bool { self == .none }
}

public struct GeneratedFile: Codable, Sendable {
    public var hostPath: String
    public var containerPath: String

    public init(hostPath: String, containerPath: String) {
        self.hostPath = hostPath
        self.containerPath = containerPath
    }
}
