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
    /// Volumes, bind mounts and tmpfs mounts, in the order given.
    public var mounts: [ContainerMount] = []
    /// The compiled seccomp program for the process, when it has a filter.
    public var seccompProgramPath: String?
    /// `--privileged`: /sys and the cgroup filesystem writable (still inside the user namespace).
    public var privileged = false
    /// `--read-only`: the root filesystem is mounted read-only.
    public var readOnlyRoot = false
    /// Paths hidden from the container (an empty file or directory is mounted over them).
    public var maskedPaths: [String] = ContainerSpec.defaultMaskedPaths
    /// Paths the container may read but not write.
    public var readOnlyPaths: [String] = ContainerSpec.defaultReadOnlyPaths

    public init(process: ProcessSpec, rootfs: RootfsPlan, hostname: String, network: NetworkMode, generatedFiles: [GeneratedFile] = []) {
        self.process = process
        self.rootfs = rootfs
        self.hostname = hostname
        self.network = network
        self.generatedFiles = generatedFiles
    }

    /// The OCI/runc defaults: kernel information a container has no business reading.
    public static let defaultMaskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    /// The OCI/runc defaults: kernel settings a container may read but not change.
    public static let defaultReadOnlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
}

public struct ProcessSpec: Codable, Sendable, Equatable {
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String
    /// As the user wrote it (`name`, `uid`, `name:group`, `uid:gid`); resolved against the
    /// container's /etc/passwd and /etc/group by init.
    public var user: String
    public var terminal: Bool
    /// `--group-add`: more groups (names from the container's /etc/group, or numbers).
    public var additionalGroups: [String] = []
    /// The capability set (CAP_ names): bounding set always, effective and permitted for uid 0.
    public var capabilities: [String] = Capability.defaultSet
    public var noNewPrivileges = false
    public var seccomp: SeccompSetting = .builtinDefault
    public var resourceLimits: [ResourceLimit] = []
    /// `--init`: pid 1 stays a small init of swctr's that reaps orphans and forwards signals.
    public var runsInit = false

    public init(arguments: [String], environment: [String], workingDirectory: String, user: String, terminal: Bool) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.terminal = terminal
    }

    enum CodingKeys: String, CodingKey {
        case arguments, environment, workingDirectory, user, terminal, additionalGroups, capabilities, noNewPrivileges,
             seccomp, resourceLimits, runsInit
    }

    /// Records written before a field existed get its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        arguments = try container.decode([String].self, forKey: .arguments)
        environment = try container.decode([String].self, forKey: .environment)
        workingDirectory = try container.decode(String.self, forKey: .workingDirectory)
        user = try container.decode(String.self, forKey: .user)
        terminal = try container.decode(Bool.self, forKey: .terminal)
        additionalGroups = try container.decodeIfPresent([String].self, forKey: .additionalGroups) ?? []
        capabilities = try container.decodeIfPresent([String].self, forKey: .capabilities) ?? Capability.defaultSet
        noNewPrivileges = try container.decodeIfPresent(Bool.self, forKey: .noNewPrivileges) ?? false
        seccomp = try container.decodeIfPresent(SeccompSetting.self, forKey: .seccomp) ?? .builtinDefault
        resourceLimits = try container.decodeIfPresent([ResourceLimit].self, forKey: .resourceLimits) ?? []
        runsInit = try container.decodeIfPresent(Bool.self, forKey: .runsInit) ?? false
    }
}

/// How a container's root filesystem is assembled from the image's unpacked layers.
public enum StorageDriver: String, Codable, Sendable, CaseIterable {
    /// The kernel's overlayfs, mounted with `userxattr` inside the user namespace.
    case overlay
    /// swctr's own overlay filesystem in FUSE, served by the `__fuse-overlay` role.
    case fuseOverlay = "fuse-overlay"
    /// A full copy of the merged layers in the writable directory, bind-mounted.
    case copy
}

/// The root filesystem: read-only layers (lowest first) under a writable layer, put together by
/// `driver`. Layout of the writable layer for every driver:
/// - overlay, fuse-overlay: `upperDirectory` holds only what the container changed, in the kernel
///   overlay's format: a deleted path is a whiteout (a character device 0/0), a directory that
///   hides everything below it carries the xattr `user.overlay.opaque` = "y". Other
///   `user.overlay.*` xattrs the kernel leaves there are bookkeeping, not content.
/// - copy: `upperDirectory` holds the whole tree (the merged layers copied at create).
public struct RootfsPlan: Codable, Sendable {
    public var lowerDirectories: [String]
    public var upperDirectory: String
    public var workDirectory: String
    public var mountPoint: String
    public var driver: StorageDriver
    /// A kernel overlay mounted `volatile`: its writes are never synced (for a --rm container,
    /// whose layer is thrown away; else unmounting it waits for the upper layer's writeback).
    public var volatile: Bool

    public init(lowerDirectories: [String], upperDirectory: String, workDirectory: String, mountPoint: String,
                driver: StorageDriver = .overlay, volatile: Bool = false) {
        self.lowerDirectories = lowerDirectories
        self.upperDirectory = upperDirectory
        self.workDirectory = workDirectory
        self.mountPoint = mountPoint
        self.driver = driver
        self.volatile = volatile
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lowerDirectories = try container.decode([String].self, forKey: .lowerDirectories)
        upperDirectory = try container.decode(String.self, forKey: .upperDirectory)
        workDirectory = try container.decode(String.self, forKey: .workDirectory)
        mountPoint = try container.decode(String.self, forKey: .mountPoint)
        driver = try container.decodeIfPresent(StorageDriver.self, forKey: .driver) ?? .overlay
        volatile = try container.decodeIfPresent(Bool.self, forKey: .volatile) ?? false
    }
}

public struct GeneratedFile: Codable, Sendable {
    public var hostPath: String
    public var containerPath: String

    public init(hostPath: String, containerPath: String) {
        self.hostPath = hostPath
        self.containerPath = containerPath
    }
}
