import Cgroups
import RuntimeSpec

/// Where a container is in its life. The busy states (creating, starting, running, removing) are
/// only true while some process holds the container's lock; see `ContainerLock`.
public enum ContainerStatus: String, Codable, Sendable {
    case creating, created, starting, running, exited, removing

    /// States that a live process must back with the container's lock.
    public var needsLockHolder: Bool {
        switch self {
        case .creating, .starting, .running, .removing: return true
        case .created, .exited: return false
        }
    }
}

/// `--restart`: no, on-failure[:N], always, unless-stopped.
public struct RestartPolicy: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case no, onFailure = "on-failure", always, unlessStopped = "unless-stopped" }
    public var kind: Kind
    /// For on-failure: how many restarts at most (0: no limit).
    public var maximumRetries: Int

    public static let never = RestartPolicy(kind: .no, maximumRetries: 0)

    public init(kind: Kind, maximumRetries: Int) {
        self.kind = kind
        self.maximumRetries = maximumRetries
    }

    /// Parses Docker's spelling; nil when it is not one.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let kind = Kind(rawValue: parts[0]) else { return nil }
        var retries = 0
        if parts.count == 2 {
            guard kind == .onFailure, let number = Int(parts[1]), number >= 0 else { return nil }
            retries = number
        }
        self.init(kind: kind, maximumRetries: retries)
    }

    /// Whether the monitor starts the container again after it ended this way.
    public func shouldRestart(exitCode: Int32, restartsSoFar: Int, stopRequested: Bool) -> Bool {
        if stopRequested { return false }
        switch kind {
        case .no: return false
        case .always, .unlessStopped: return true
        case .onFailure: return exitCode != 0 && (maximumRetries == 0 || restartsSoFar < maximumRetries)
        }
    }

    public var description: String {
        kind == .onFailure && maximumRetries > 0 ? "on-failure:\(maximumRetries)" : kind.rawValue
    }
}

/// What `create` decided for a container; fixed for its life (stored as JSON in the database).
public struct ContainerSettings: Codable, Sendable {
    /// The image as the user named it.
    public var image: String
    public var imageID: String
    public var process: ProcessSpec
    public var hostname: String
    public var network: NetworkMode
    public var interactive: Bool
    public var autoRemove: Bool
    public var restartPolicy: RestartPolicy
    public var stopSignal: Int32
    public var stopTimeout: Int
    /// Log rotation threshold in bytes (0: never rotate).
    public var logMaxSize: Int64
    /// Mounts as resolved at create (volume names filled in for anonymous volumes).
    public var mounts: [MountRequest]?
    /// Anonymous volumes this container made (removed with it by --rm and rm -v).
    public var anonymousVolumes: [String]?
    /// "keep-id" for `--userns=keep-id`; nil for the default mapping.
    public var userNamespace: String?
    public var privileged: Bool?
    public var readOnlyRoot: Bool?
    /// `-p` and `-P` as asked (host port 0: picked at each start).
    public var publishedPorts: [PortMapping]?
    /// `--dns`, `--dns-search`, `--dns-option`, `--add-host` (for inspect; the files are written at create).
    public var dnsServers: [String]?
    public var dnsSearch: [String]?
    public var dnsOptions: [String]?
    public var extraHosts: [String]?
    /// `--memory`, `--cpus`, `--pids-limit`… (changed by `update`); nil when none was given.
    public var resources: ResourceLimits?
    /// The storage driver the rootfs was made with ("overlay", "fuse-overlay", "copy"); nil: overlay.
    public var storageDriver: StorageDriver?

    /// The named and anonymous volumes the container mounts.
    public var volumeNames: [String] {
        (mounts ?? []).compactMap { $0.kind == .volume ? $0.source : nil }
    }

    public init(image: String, imageID: String, process: ProcessSpec, hostname: String, network: NetworkMode,
                interactive: Bool, autoRemove: Bool, restartPolicy: RestartPolicy, stopSignal: Int32, stopTimeout: Int, logMaxSize: Int64) {
        self.image = image
        self.imageID = imageID
        self.process = process
        self.hostname = hostname
        self.network = network
        self.interactive = interactive
        self.autoRemove = autoRemove
        self.restartPolicy = restartPolicy
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.logMaxSize = logMaxSize
    }
}

/// One row of the containers table.
public struct ContainerRecord: Sendable {
    public var id: String
    public var name: String
    public var settings: ContainerSettings
    /// Seconds since the epoch.
    public var created: Double
    public var status: ContainerStatus
    /// The container's init (host pid), while running.
    public var pid: Int32?
    public var monitorPID: Int32?
    public var started: Double?
    public var finished: Double?
    public var exitCode: Int32?
    public var restartCount: Int
    public var stopRequested: Bool
    /// Why the last start failed, or why the container was found dead.
    public var error: String?

    public var shortID: String { String(id.prefix(12)) }
    public var isRunning: Bool { status == .running }
}
