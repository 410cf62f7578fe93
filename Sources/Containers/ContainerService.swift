import CLinux
import Cgroups
import FoundationEssentials
import ImageReference
import ImageStore
import Network
import Registry
import Rootfs
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `create` (and `run`) was asked for.
public struct CreateRequest: Sendable {
    public var image: String
    public var name: String?
    public var process = ProcessOptions()
    public var interactive = false
    public var autoRemove = false
    public var network = NetworkRequest()
    public var restartPolicy = RestartPolicy.never
    public var stopSignal: Int32 = SIGTERM
    public var stopTimeout = 10
    public var logMaxSize: Int64 = 10 << 20
    /// How to reach registries when the image must be pulled.
    public var registryAccess = RegistryAccess()
    /// `--platform`: the image variant to pull (and to require of a local image).
    public var platform: Platform?
    /// Progress of an implicit pull.
    public var pullEvents: @Sendable (PullEvent) -> Void = { _ in }
    public var mounts: [MountRequest] = []
    public var readOnlyRoot = false
    public var privileged = false
    public var capabilitiesAdded: [String] = []
    public var capabilitiesDropped: [String] = []
    public var noNewPrivileges = false
    public var seccomp: SeccompSetting = .builtinDefault
    public var resourceLimits: [ResourceLimit] = []
    public var additionalGroups: [String] = []
    public var runsInit = false
    /// `--userns=keep-id`.
    public var keepUserID = false
    /// `--memory`, `--cpus`, `--pids-limit`…: checked against what the host delegates before anything is made.
    public var resources = ResourceLimits()
    /// How the rootfs is put together (chosen by the caller: flag, environment, configuration or probe).
    public var storageDriver = StorageDriver.overlay

    public init(image: String) { self.image = image }
}

public enum CreateError: Error, UserFacingError {
    case spec(ProcessSpecError)
    case storage(SystemCallError)
    case capability(CapabilityError)
    case mountSource(String, errno: Int32)
    case duplicateMountPoint(String)

    public var userMessage: String {
        switch self {
        case .spec(let error): return error.userMessage
        case .storage(let error): return "cannot prepare the container: \(error.description)"
        case .capability(let error): return error.message
        case .mountSource(let path, let code):
            return "bind mount source \(path): \(String(cString: strerror(code))) — create it first, or fix the path"
        case .duplicateMountPoint(let path): return "duplicate mount point \(path): give each container path only once"
        }
    }
}

/// The container lifecycle: create, start, stop, kill, remove, list, wait. Every state change is
/// one conditional update in the database, made while holding the container's lock, so that
/// concurrent commands and processes killed at any instant leave consistent state.
public final class ContainerService {
    public let context: ContainerContext
    let warn: (String) -> Void

    public init(context: ContainerContext, warn: @escaping (String) -> Void) {
        self.context = context
        self.warn = warn
    }

    var database: ContainerDatabase { context.database }

    // MARK: - Finding

    /// Finds a container (id, name or id prefix) and corrects it if its state is stale.
    public func find(_ text: String) throws -> ContainerRecord {
        let record = try database.find(text)
        guard let current = try reconcile(record) else { throw ContainerError.notFound(text) }
        return current
    }

    /// Every container, stale states corrected (and lock files that no container owns removed).
    public func list() throws -> [ContainerRecord] {
        let records = try database.all().compactMap { try reconcile($0) }
        removeOrphanLockFiles(known: Set(records.map(\.id)))
        removeOrphanDirectories(known: Set(records.map(\.id)))
        return records
    }

    /// A create killed between taking its lock and recording the container leaves a lock file
    /// with no row; nobody holds it, so it can go.
    private func removeOrphanLockFiles(known: Set<String>) {
        let directory = context.runtime + "/containers"
        for entry in (try? FileSystem.listDirectory(directory)) ?? [] where entry.hasSuffix(".lock") {
            let id = String(entry.dropLast(5))
            if known.contains(id) || ContainerLock.isHeld(runtime: context.runtime, id: id) { continue }
            // Checked again under the lock, so a create that just took it is never disturbed.
            guard let lock = try? ContainerLock.acquire(runtime: context.runtime, id: id) else { continue }
            if (try? database.get(id: id)) == nil { ContainerLock.removeFile(runtime: context.runtime, id: id) }
            lock.release()
        }
    }

    /// A busy state with nobody holding the lock was left by a process that died (killed, or the
    /// machine rebooted): finish or undo what it was doing. Returns the record as it now is, or
    /// nil when it was half-made and is now gone.
    @discardableResult
    func reconcile(_ record: ContainerRecord) throws -> ContainerRecord? {
        guard record.status.needsLockHolder, !context.isHeld(record) else { return record }
        switch record.status {
        case .creating, .removing:
            guard let lock = try ContainerLock.acquire(runtime: context.runtime, id: record.id) else { return record }
            defer { lock.release() }
            guard let fresh = try database.get(id: record.id), fresh.status == record.status else { return try database.get(id: record.id) }
            try removeFiles(of: record.id)
            try database.delete(id: record.id)
            ContainerLock.removeFile(runtime: context.runtime, id: record.id)
            return nil
        case .starting:
            try database.update(id: record.id, from: [.starting], set: [
                "status": .text(record.started == nil ? ContainerStatus.created.rawValue : ContainerStatus.exited.rawValue),
                "pid": .null])
        case .running:
            try database.update(id: record.id, from: [.running], set: [
                "status": .text(ContainerStatus.exited.rawValue), "pid": .null,
                "exit_code": .integer(Int64(record.exitCode ?? 137)), "finished": .real(Timestamp.now),
                "error": .text("the container's monitor ended without recording an exit (killed, or the machine restarted)")])
        case .created, .exited:
            break
        }
        return try database.get(id: record.id)
    }

    // MARK: - Create

    /// Makes a container: its record (name reserved), directory, writable layer and spec. With
    /// `keepLock`, returns still holding the container's lock (for `run`, which starts it next).
    public func create(_ request: CreateRequest, store: ImageStore, keepLock: Bool = false) throws -> (ContainerRecord, ContainerLock?) {
        let (record, lock, _) = try createContainer(request, store: store, keepLock: keepLock)
        return (record, lock)
    }

    /// `create`, also returning the spec it wrote (a foreground run hands it to the init it forks).
    /// `status`: what the record says once it is made (a foreground run, holding the lock, goes
    /// straight to starting: one write of the state database fewer).
    /// `reservation`: the id, lock and directory to use (discarded if the create fails first).
    /// `deferringRecord`: the record is not written (nor its name checked) here; the caller inserts
    /// it (`insert(_:nameGiven:)`) or removes what was made, holding the lock throughout.
    func createContainer(_ request: CreateRequest, store: ImageStore, keepLock: Bool,
                         status: ContainerStatus = .created,
                         reservation: ContainerReservation? = nil,
                         deferringRecord: Bool = false) throws -> (ContainerRecord, ContainerLock?, ContainerSpec) {
        defer { reservation?.discard() }
        if let name = request.name, !ContainerNames.isValid(name) { throw ContainerError.invalidName(name) }
        // Only limits need the host's cgroups (looking them up reads /proc and /sys).
        if !request.resources.requirements.isEmpty { try CgroupHost.current().check(request.resources) }
        let image = try resolveImage(request.image, store: store, access: request.registryAccess, platform: request.platform, events: request.pullEvents)
        let configuration = try store.configuration(of: image)
        let id = reservation?.id ?? FileSystem.randomHex(bytes: 32)
        let hostname = request.process.hostname ?? String(id.prefix(12))
        var options = request.process
        if request.keepUserID {
            _ = try context.idMaps.keepingIDs(uid: getuid(), gid: getgid())
            // As Podman: the user's own ids, unless -u says otherwise.
            if options.user == nil { options.user = "\(getuid()):\(getgid())" }
        }
        var process: ProcessSpec
        do {
            process = try ProcessSpecBuilder.build(image: configuration.config, options: options, hostname: hostname,
                                                   hostEnvironment: ProcessEnvironment.current)
        } catch { throw CreateError.spec(error) }
        do {
            process.capabilities = try Capability.resolve(add: request.capabilitiesAdded, drop: request.capabilitiesDropped,
                                                          privileged: request.privileged)
        } catch { throw CreateError.capability(error) }
        process.noNewPrivileges = request.noNewPrivileges
        process.seccomp = request.privileged ? .unconfined : request.seccomp
        process.resourceLimits = request.resourceLimits
        process.additionalGroups = request.additionalGroups
        process.runsInit = request.runsInit
        let network = try resolveNetwork(request.network, image: configuration.config?.ExposedPorts.map { Array($0.keys) } ?? [],
                                         keepUserID: request.keepUserID)
        let mountRequests = try Self.mountRequests(request.mounts, imageVolumes: configuration.config?.Volumes.map { Array($0.keys) } ?? [])
        var settings = ContainerSettings(
            image: request.image, imageID: image.id.description, process: process, hostname: hostname, network: network.mode,
            interactive: request.interactive, autoRemove: request.autoRemove, restartPolicy: request.restartPolicy,
            stopSignal: request.stopSignal, stopTimeout: request.stopTimeout, logMaxSize: request.logMaxSize)
        settings.userNamespace = request.keepUserID ? "keep-id" : nil
        settings.privileged = request.privileged ? true : nil
        settings.readOnlyRoot = request.readOnlyRoot ? true : nil
        settings.publishedPorts = network.publishedPorts.isEmpty ? nil : network.publishedPorts
        settings.dnsServers = network.dnsServers.isEmpty ? nil : network.dnsServers
        settings.dnsSearch = network.dnsSearch.isEmpty ? nil : network.dnsSearch
        settings.dnsOptions = network.dnsOptions.isEmpty ? nil : network.dnsOptions
        settings.extraHosts = network.extraHosts.isEmpty ? nil : network.extraHosts
        settings.resources = request.resources.isEmpty ? nil : request.resources
        settings.storageDriver = request.storageDriver

        // A fresh id: the only other holder can be a `ps` sweeping lock files without a row, which
        // let go at once (and may have removed the file: acquire starts over then).
        guard let lock = try reservation?.take() ?? ContainerLock.acquire(runtime: context.runtime, id: id, wait: true) else {
            throw ContainerError.busy(id)
        }
        var keep = false
        defer { if !keep { lock.release() } }
        var record = ContainerRecord(id: id, name: request.name ?? ContainerNames.generate(), settings: settings, created: Timestamp.now,
                                     status: deferringRecord ? status : .creating, restartCount: 0, stopRequested: false)
        do {
            if !deferringRecord { try insert(&record, nameGiven: request.name != nil) }
        } catch {
            // A reserved directory is still empty.
            if reservation != nil { try? FileSystem.removeTree(context.directory(of: id).path) }
            ContainerLock.removeFile(runtime: context.runtime, id: id)
            throw error
        }

        let directory = context.directory(of: id)
        var anonymous: [String] = []
        let written: ContainerSpec
        do {
            let (mounts, resolved, made) = try resolveMounts(mountRequests)
            anonymous = made
            if !mounts.isEmpty || !made.isEmpty {
                record.settings.mounts = resolved
                record.settings.anonymousVolumes = made.isEmpty ? nil : made
                if !deferringRecord {
                    try database.update(id: id, set: ["settings": .text(String(decoding: try JSONEncoder().encode(record.settings), as: UTF8.self))])
                }
            }
            if reservation == nil { try directory.create(reusing: context.spareContainers) }
            // A foreground run removes it once its container runs (`runForeground`).
            if !deferringRecord { directory.removeStaleWork() }
            var hosts = try NetworkFiles.hosts(hostname: hostname, mode: network.mode, extraHosts: network.extraHosts)
            var resolvConf = try NetworkFiles.resolvConf(mode: network.mode, request: network,
                                                         hostResolvConf: (try? FileSystem.readText(HostResolver.path)) ?? "")
            if case .container(let other) = network.mode {
                // The same network as that container: its names and resolvers too.
                let shared = context.directory(of: other)
                hosts = (try? FileSystem.readText(shared.hostsFile)) ?? hosts
                if network.dnsServers.isEmpty { resolvConf = (try? FileSystem.readText(shared.resolvConfFile)) ?? resolvConf }
            }
            let files = try directory.writeNetworkFiles(hostname: hostname, hosts: hosts, resolvConf: resolvConf)
            var layers = store.layerDirectories(of: image)
            // The mount points of those files come from a layer shared by all containers, unless
            // it would hide the image's /etc, or its owner (the user) would not be root inside.
            if !request.keepUserID && MountPointLayer.fits(over: layers) {
                let mountPoints = MountPointLayer(path: context.layout.mountPointLayer)
                try mountPoints.ensure(temporaryDirectory: context.layout.temporaryDirectory)
                layers.append(mountPoints.path)
            }
            var plan = directory.overlayPlan(layers: layers)
            plan.driver = request.storageDriver
            plan.volatile = request.autoRemove
            var spec = ContainerSpec(process: process, rootfs: plan,
                                     hostname: hostname, network: network.mode, generatedFiles: files)
            spec.mounts = mounts
            // Not fsynced: an empty program after a power cut is compiled again at start.
            let programs = SeccompProgramCache(context: context)
            if request.autoRemove {
                spec.seccompProgramPath = try programs.cachedPath(for: process)
            } else if try programs.install(for: process, at: directory.seccompProgramPath) {
                spec.seccompProgramPath = directory.seccompProgramPath
            }
            spec.readOnlyRoot = request.readOnlyRoot
            spec.privileged = request.privileged
            if request.privileged {
                spec.maskedPaths = []
                spec.readOnlyPaths = []
            }
            // With the record deferred, the spec is written with it (`writeSpec`), unless the
            // storage needs it before the init runs (the FUSE server and the copy read it).
            if !deferringRecord || request.storageDriver != .overlay {
                try writeSpec(spec, of: id, autoRemove: request.autoRemove)
            }
            if request.storageDriver == .copy {
                try UserNamespaceTools(idMaps: context.idMaps).materializeRootfs(specPath: directory.specPath)
            }
            written = spec
        } catch {
            try? removeFiles(of: id)
            if !deferringRecord { try? database.delete(id: id) }
            ContainerLock.removeFile(runtime: context.runtime, id: id)
            if let volumes = try? VolumeStore(context: context) {
                for name in anonymous { try? volumes.remove(name) }
            }
            if let error = error as? SystemCallError { throw CreateError.storage(error) }
            throw error
        }
        if !deferringRecord { try database.update(id: id, from: [.creating], set: ["status": .text(status.rawValue)]) }
        record.status = status
        keep = keepLock
        return (record, keepLock ? lock : nil, written)
    }

    /// Checks the network flags against each other and the image: `-P` publishes the image's
    /// `ExposedPorts` on host ports picked at start; `container:NAME` becomes the container's id.
    func resolveNetwork(_ request: NetworkRequest, image exposed: [String], keepUserID: Bool) throws -> NetworkRequest {
        var resolved = request
        if request.publishAll {
            for entry in exposed.sorted() {
                let (port, transport) = entry.splitPort()
                guard let number = Int(port), (1...65535).contains(number) else { continue }
                let mapping = PortMapping(hostPort: 0, containerPort: number, transport: PortMapping.TransportProtocol(rawValue: transport) ?? .tcp)
                if !resolved.publishedPorts.contains(where: { $0.containerPort == mapping.containerPort && $0.transport == mapping.transport }) {
                    resolved.publishedPorts.append(mapping)
                }
            }
        }
        switch request.mode {
        case .slirp:
            break
        case .container(let target):
            if keepUserID { throw NetworkRequestError.containerNetworkWithUserNamespace }
            resolved.mode = .container(try find(target).id)
            fallthrough
        case .none, .host:
            if !resolved.publishedPorts.isEmpty { throw NetworkRequestError.portsNeedSlirp(request.mode) }
        }
        return resolved
    }

    /// The user's mounts plus an anonymous volume for each of the image's `Volumes` that no user
    /// mount covers; a container path given twice is an error.
    static func mountRequests(_ given: [MountRequest], imageVolumes: [String]) throws -> [MountRequest] {
        func normal(_ path: String) -> String { "/" + path.split(separator: "/").joined(separator: "/") }
        var seen = Set<String>()
        for mount in given {
            guard seen.insert(normal(mount.destination)).inserted else { throw CreateError.duplicateMountPoint(mount.destination) }
        }
        var all = given
        for path in imageVolumes.sorted() where path.hasPrefix("/") && !seen.contains(normal(path)) {
            all.append(MountRequest(kind: .volume, source: nil, destination: normal(path)))
            seen.insert(normal(path))
        }
        return all
    }

    /// Checks bind sources, finds or makes volumes; returns the mounts for init, the requests with
    /// volume names filled in (for the record), and the anonymous volumes made.
    private func resolveMounts(_ requests: [MountRequest]) throws -> ([ContainerMount], [MountRequest], [String]) {
        guard !requests.isEmpty else { return ([], [], []) }
        let volumes = try VolumeStore(context: context)
        var mounts: [ContainerMount] = []
        var resolved: [MountRequest] = []
        var made: [String] = []
        do {
            for var request in requests {
                switch request.kind {
                case .bind:
                    guard let source = request.source else { continue }
                    var info = stat()
                    if stat(source, &info) != 0 { throw CreateError.mountSource(source, errno: errno) }
                    mounts.append(ContainerMount(kind: .bind, source: source, destination: request.destination, readOnly: request.readOnly))
                case .volume:
                    let volume = try volumes.ensure(request.source)
                    if request.source == nil { made.append(volume.name) }
                    request.source = volume.name
                    mounts.append(ContainerMount(kind: .bind, source: volume.mountpoint, destination: request.destination,
                                                 readOnly: request.readOnly, copyImageContent: !request.noCopy))
                case .tmpfs:
                    mounts.append(ContainerMount(kind: .tmpfs, source: nil, destination: request.destination, readOnly: request.readOnly,
                                                 options: request.tmpfsOptions, noExec: request.noExec, noSetuid: request.noSetuid,
                                                 noDevices: request.noDevices))
                }
                resolved.append(request)
            }
        } catch {
            for name in made { try? volumes.remove(name) }
            throw error
        }
        return (mounts, resolved, made)
    }

    /// Writes a container's spec.json (what exec, cp, diff and a later start read). A --rm
    /// container does not outlive its run: its spec need not survive a power cut.
    func writeSpec(_ spec: ContainerSpec, of id: String, autoRemove: Bool) throws {
        try FileSystem.writeOver(context.directory(of: id).specPath, Array(try JSONEncoder().encode(spec)), mode: 0o600,
                                 durable: !autoRemove)
    }

    /// Inserts the record; a name taken by a stale half-made container is freed first, and a
    /// generated name that collides is made again.
    func insert(_ record: inout ContainerRecord, nameGiven: Bool) throws {
        for _ in 0..<20 {
            do {
                try database.insert(record)
                return
            } catch ContainerError.nameInUse(let name, let holder) {
                if let other = try database.get(id: holder), try reconcile(other) == nil { continue }
                if nameGiven { throw ContainerError.nameInUse(name, by: holder) }
                record.name = ContainerNames.generate()
            }
        }
        throw ContainerError.nameInUse(record.name, by: "")
    }

    /// Finds the image locally, or pulls it as `docker run` does. A local image of another
    /// platform than the one asked for (default: this machine's) does not count, as in Podman.
    public func resolveImage(_ name: String, store: ImageStore, access: RegistryAccess, platform: Platform?,
                             events: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws -> ImageRecord {
        if let record = try access.localImage(name, in: store), (platform ?? .current).accepts(record.platform) { return record }
        warn("Unable to find image '\((try? ImageReference.parse(name))?.description ?? name)' locally")
        return try access.pull(name, into: store, unpacker: context.tools, platform: platform ?? .current, events: events, note: warn)
    }

    // MARK: - Start

    /// Starts a created or exited container under a detached monitor; returns once the
    /// container's command is running (or throws what went wrong).
    public func start(_ text: String) throws -> ContainerRecord {
        let record = try find(text)
        if record.status == .running { throw ContainerError.alreadyRunning(text) }
        guard let lock = try ContainerLock.acquire(runtime: context.runtime, id: record.id) else { throw ContainerError.busy(text) }
        defer { lock.release() }
        return try startDetached(record.id, lock: lock, name: text)
    }

    /// Hands an already-locked container to a new monitor process.
    public func startDetached(_ id: String, lock: ContainerLock, name: String) throws -> ContainerRecord {
        guard try database.update(id: id, from: [.created, .exited], set: [
            "status": .text(ContainerStatus.starting.rawValue), "stop_requested": .integer(0), "error": .null]) else {
            throw ContainerError.alreadyRunning(name)
        }
        do {
            try ContainerMonitor.spawn(id: id, lock: lock)
        } catch {
            _ = try? reconcileAfterFailedStart(id)
            throw error
        }
        guard let record = try database.get(id: id) else { throw ContainerError.notFound(name) }
        return record
    }

    /// After a start that failed before its monitor recorded anything, put the status back.
    private func reconcileAfterFailedStart(_ id: String) throws {
        guard let record = try database.get(id: id), record.status == .starting else { return }
        try database.update(id: id, from: [.starting], set: [
            "status": .text(record.started == nil ? ContainerStatus.created.rawValue : ContainerStatus.exited.rawValue)])
    }

    // MARK: - Signals, stop, wait

    /// Sends a signal to the container's init through a pidfd checked against the record, so the
    /// signal can never reach a process that merely reused the pid.
    public func signal(_ record: ContainerRecord, _ number: Int32) throws {
        guard record.status == .running, let pid = record.pid else { throw ContainerError.notRunning(record.name) }
        let pidfd = swctr_pidfd_open(pid)
        guard pidfd >= 0 else { throw ContainerError.notRunning(record.name) }
        defer { close(pidfd) }
        // The monitor records the exit before it reaps the process: a record that still says
        // running with this pid, read after the pidfd was opened, means the pidfd is the container's.
        guard let fresh = try database.get(id: record.id), fresh.status == .running, fresh.pid == pid else {
            throw ContainerError.notRunning(record.name)
        }
        if swctr_pidfd_send_signal(pidfd, number) != 0 && errno != ESRCH {
            throw SystemCallError("pidfd_send_signal", on: record.name)
        }
    }

    /// Stops a running container: its stop signal, then SIGKILL after `timeout` seconds. Returns
    /// once its monitor has recorded the exit.
    public func stop(_ record: ContainerRecord, timeout: Int? = nil) throws {
        guard context.isHeld(record) else { return }
        try database.update(id: record.id, set: ["stop_requested": .integer(1)])
        guard record.status == .running else {
            _ = ContainerLock.waitUntilFree(runtime: context.runtime, id: record.id, timeout: Double(timeout ?? record.settings.stopTimeout))
            return
        }
        try? signal(record, record.settings.stopSignal)
        if ContainerLock.waitUntilFree(runtime: context.runtime, id: record.id, timeout: Double(timeout ?? record.settings.stopTimeout)) { return }
        if let fresh = try database.get(id: record.id), fresh.status == .running { try? signal(fresh, SIGKILL) }
        _ = ContainerLock.waitUntilFree(runtime: context.runtime, id: record.id)
    }

    /// Blocks until the container is not running; returns its exit code.
    public func wait(_ text: String) throws -> Int32 {
        let record = try find(text)
        if context.isHeld(record) {
            _ = ContainerLock.waitUntilFree(runtime: context.runtime, id: record.id)
        }
        guard let final = try database.get(id: record.id) else { return record.exitCode ?? 0 }
        return (try reconcile(final))?.exitCode ?? final.exitCode ?? 0
    }

    // MARK: - Remove

    /// Removes a container; a running one only with `force` (killed first).
    public func remove(_ text: String, force: Bool, volumes: Bool = false) throws {
        var record = try find(text)
        var lock = try ContainerLock.acquire(runtime: context.runtime, id: record.id)
        if lock == nil {
            guard record.status == .running || record.status == .starting else { throw ContainerError.busy(text) }
            guard force else { throw ContainerError.isRunning(text) }
            try database.update(id: record.id, set: ["stop_requested": .integer(1)])
            if record.status == .running {
                // Everything in its cgroup (exec'd processes too), then its init.
                ContainerResources.cgroup(of: context.directory(of: record.id))?.killAll()
                try? signal(record, SIGKILL)
            }
            _ = ContainerLock.waitUntilFree(runtime: context.runtime, id: record.id, timeout: 30)
            lock = try ContainerLock.acquire(runtime: context.runtime, id: record.id)
            guard lock != nil else { throw ContainerError.busy(text) }
            guard let fresh = try database.get(id: record.id) else { lock?.release(); return }  // its --rm removed it
            record = fresh
        }
        defer { lock?.release() }
        guard try database.update(id: record.id, from: [.created, .exited, .running, .starting], set: ["status": .text(ContainerStatus.removing.rawValue)]) else {
            return
        }
        ContainerResources.removeCgroup(of: context.directory(of: record.id), shortID: record.shortID)
        try removeFiles(of: record.id, keepingForReuse: true)
        try database.delete(id: record.id)
        ContainerLock.removeFile(runtime: context.runtime, id: record.id)
        if volumes { context.removeAnonymousVolumes(of: record.settings) }
    }

    /// Removes a container's directory (its writable layer may hold subordinate-owned files).
    /// `keepingForReuse`: a container that was removed as asked (not a create undone, nor a
    /// directory left by a crash) may leave its directory to a new container instead, when
    /// nothing of its own is left in it (`SpareContainerDirectories`).
    func removeFiles(of id: String, keepingForReuse: Bool = false) throws {
        let directory = context.directory(of: id)
        // A start that failed before removing it (keep() takes only what a new directory has).
        directory.removeStaleWork()
        if keepingForReuse && context.spareContainers.keep(directory) { return }
        if FileSystem.exists(directory.path) { try context.tools.removeTree(directory.path) }
    }

    // MARK: - Rename

    public func rename(_ text: String, to name: String) throws {
        guard ContainerNames.isValid(name) else { throw ContainerError.invalidName(name) }
        let record = try find(text)
        try database.rename(id: record.id, to: name)
    }
}

extension String {
    /// "80/tcp" → ("80", "tcp"); "80" → ("80", "tcp").
    func splitPort() -> (String, String) {
        guard let slash = firstIndex(of: "/") else { return (self, "tcp") }
        return (String(self[..<slash]), String(self[index(after: slash)...]).lowercased())
    }
}
