import CLinux
import FoundationEssentials
import ImageStore
import Rootfs
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// What `exec` was asked for.
public struct ExecRequest: Sendable {
    public var command: [String]
    public var interactive = false
    public var terminal = false
    public var user: String?
    public var workingDirectory: String?
    public var environment: [String] = []

    public init(command: [String]) { self.command = command }
}

extension ContainerService {
    /// `swctr run` without -d: creates a container from `request` and runs it in the foreground.
    /// Its user namespace is mapped while it is created, and its init, forked from this process,
    /// gets the spec as written instead of reading it back. Returns the container's exit code.
    /// `prepared`: the namespaces `prepareUserNamespace` began for this request, earlier still.
    /// `reservation`: the container's id, lock and directory, made ahead (`reserveContainer`).
    public func runForeground(creating request: CreateRequest, store: ImageStore, prepared: PreparedUserNamespace? = nil,
                              reservation: ContainerReservation? = nil) throws -> Int32 {
        if request.autoRemove { database.leaveCheckpointToOthers() }
        let userNamespace = prepared
            ?? Self.prepareUserNamespace(keepUserID: request.keepUserID, network: request.network.mode, idMaps: context.idMaps)
        // The record is written once the init is cloned, while it sets the container up on the
        // other CPU (docs/runtime.md, "Start-up time"): opening the database and the insert were
        // about 0.7 ms before the clone, on a CPU the id-mapping helpers wanted too.
        let (record, lock, spec) = try createContainer(request, store: store, keepLock: true, status: .starting, reservation: reservation,
                                                       deferringRecord: true)
        guard let lock else { throw ContainerError.busy(record.name) }
        return try runForeground(record, lock: lock, userNamespace: userNamespace, spec: spec, recording: .beforeCommand(nameGiven: request.name != nil))
    }

    /// When a foreground run's record is written.
    enum ForegroundRecord {
        /// It is there already: created, or already starting (made so by `create` under the lock
        /// this process holds).
        case written
        /// `createContainer` left it out (`deferringRecord`): it is inserted, its name checked,
        /// after the init is cloned and before the command runs. A name clash then stops the init
        /// and removes what the create made; the command never runs.
        case beforeCommand(nameGiven: Bool)
    }

    /// Runs a just-created container in the foreground: this process is its monitor, holding the
    /// lock, with the container on this terminal. Returns its exit code. `userNamespace` is
    /// joined instead of making one; `spec` is the one `create` made (and wrote, unless it left that
    /// to the deferred record).
    func runForeground(_ record: ContainerRecord, lock: ContainerLock, userNamespace: PreparedUserNamespace?,
                       spec: ContainerSpec?, recording: ForegroundRecord = .written) throws -> Int32 {
        defer { lock.release() }
        var record = record
        var written = true
        var nameGiven = false
        if case .beforeCommand(let given) = recording { (written, nameGiven) = (false, given) }
        // The spec first (createContainer left it too, for the kernel overlay): a recorded
        // container has one.
        func writeRecord() throws {
            if record.settings.storageDriver == .overlay, let spec {
                try writeSpec(spec, of: record.id, autoRemove: record.settings.autoRemove)
            }
            try insert(&record, nameGiven: nameGiven)
            written = true
        }
        if written && record.status != .starting {
            guard try database.update(id: record.id, from: [.created], set: ["status": .text(ContainerStatus.starting.rawValue)]) else {
                throw ContainerError.busy(record.name)
            }
        }
        var stdio: [Int32: FileDescriptor] = [:]
        var devNull: FileDescriptor?
        if !record.settings.interactive && !record.settings.process.terminal {
            devNull = try? FileDescriptor.open("/dev/null", O_RDONLY)
            if let devNull { stdio[0] = devNull }
        }
        ForwardedSignals.block()
        defer { ForwardedSignals.unblock() }
        let launched: ContainerLauncher.Launched
        do {
            launched = try ContainerLauncher.launch(record, context: context, stdio: stdio, userNamespace: userNamespace, spec: spec,
                                                    beforeCommand: { () throws(StartFailure) in
                guard !written else { return }
                do {
                    try writeRecord()
                } catch {
                    throw StartFailure(exitCode: 125, userMessage: (error as? UserFacingError)?.userMessage ?? "\(error)")
                }
            })
        } catch {
            devNull?.close()
            // A start that failed before the record was written: a kept container is recorded
            // now (as Docker, it stays, created, with the error); a --rm one leaves nothing.
            if !written && !record.settings.autoRemove { try? writeRecord() }
            if written {
                _ = try? database.update(id: record.id, from: [.starting], set: [
                    "status": .text(ContainerStatus.created.rawValue), "error": .text(error.userMessage), "exit_code": .integer(Int64(error.exitCode))])
                if record.settings.autoRemove { try? removeLocked(record.id, settings: record.settings) }
            } else {
                try? removeFiles(of: record.id, keepingForReuse: true)
                ContainerLock.removeFile(runtime: context.runtime, id: record.id)
                context.removeAnonymousVolumes(of: record.settings)
            }
            throw error
        }
        devNull?.close()
        // While the command runs, nothing waits for this (see SpareContainerDirectories.take).
        context.directory(of: record.id).removeStaleWork()
        _ = try? database.update(id: record.id, set: [
            "status": .text(ContainerStatus.running.rawValue), "pid": .integer(Int64(launched.pid.rawValue)),
            "monitor_pid": .integer(Int64(getpid())), "started": .real(Timestamp.now)])
        let status = ForegroundSession(pid: launched.pid, terminalMaster: launched.master, forwardInput: record.settings.interactive)
            .waitForExit(reap: false)
        // A --rm container's row goes at once (`removeExited`); a kept one's records the exit.
        let autoRemove = record.settings.autoRemove
        if !autoRemove {
            _ = try? database.update(id: record.id, from: [.running], set: [
                "status": .text(ContainerStatus.exited.rawValue), "pid": .null,
                "exit_code": .integer(Int64(status.shellCode)), "finished": .real(Timestamp.now)])
        }
        _ = try? ChildProcess.wait(launched.pid)
        launched.finish()
        if autoRemove { try? removeExited(record.id, settings: record.settings) }
        return status.shellCode
    }

    /// Starts mapping the user namespace (and making the network namespace) that a container
    /// with these settings would make at start, so that the work overlaps `create`; nil where that
    /// container makes a different one (keep-id) or joins another's (`--network container:`).
    /// `idMaps` must be the ones the service's context has.
    public static func prepareUserNamespace(keepUserID: Bool, network: NetworkMode, idMaps: IDMapPlan) -> PreparedUserNamespace? {
        guard joinsPreparedNamespaces(keepUserID: keepUserID, network: network) else { return nil }
        return PreparedUserNamespace.begin(idMaps: idMaps, network: network.needsNamespace)
    }

    /// Whether a container with these settings makes its own user namespace with the usual maps,
    /// the kind a prepared one stands in for (keep-id has other maps; `--network container:`
    /// enters another container's).
    public static func joinsPreparedNamespaces(keepUserID: Bool, network: NetworkMode) -> Bool {
        if keepUserID { return false }
        if case .container = network { return false }
        return true
    }

    /// Removes a --rm container that this process ran in the foreground, once its process has
    /// exited (its lock held): the row first, in one statement (marking it `removing` and then
    /// deleting it took two write transactions after the command's exit), then its files. Killed
    /// in between, this leaves a directory with no row and a lock nobody holds, which `list()`
    /// removes (`removeOrphanDirectories`).
    func removeExited(_ id: String, settings: ContainerSettings) throws {
        try database.delete(id: id)
        try removeFiles(of: id, keepingForReuse: true)
        ContainerLock.removeFile(runtime: context.runtime, id: id)
        context.removeAnonymousVolumes(of: settings)
    }

    /// Removes a container whose lock this process holds; `settings` are its record's (the
    /// anonymous volumes it made go too).
    func removeLocked(_ id: String, settings: ContainerSettings) throws {
        try database.update(id: id, set: ["status": .text(ContainerStatus.removing.rawValue)])
        try removeFiles(of: id, keepingForReuse: true)
        try database.delete(id: id)
        ContainerLock.removeFile(runtime: context.runtime, id: id)
        context.removeAnonymousVolumes(of: settings)
    }

    /// Runs one more process in a running container, joining all its namespaces; returns its
    /// exit code (126/127 as Docker for a command that cannot run).
    public func exec(_ text: String, _ request: ExecRequest) throws -> Int32 {
        let record = try find(text)
        guard record.status == .running, let pid = record.pid, context.isHeld(record) else { throw ContainerError.notRunning(text) }
        var process = record.settings.process
        process.arguments = request.command
        process.terminal = request.terminal
        process.runsInit = false
        if let user = request.user { process.user = user }
        if let directory = request.workingDirectory { process.workingDirectory = directory }
        process.environment = Self.merge(process.environment, request.environment + (request.terminal ? ["TERM=xterm"] : []),
                                         host: ProcessEnvironment.current, onlyIfMissing: ["TERM"])
        let json = String(decoding: try JSONEncoder().encode(process), as: UTF8.self)
        var stdio: [Int32: FileDescriptor] = [:]
        var devNull: FileDescriptor?
        if !request.interactive && !request.terminal {
            devNull = try? FileDescriptor.open("/dev/null", O_RDONLY)
            if let devNull { stdio[0] = devNull }
        }
        let executable = try SealedExecutable.forEnteringContainer()
        if let memfd = executable.descriptor { stdio[SealedExecutable.childDescriptor] = memfd }
        ForwardedSignals.block()
        defer { ForwardedSignals.unblock() }
        let started: NamespacedProcess
        do {
            started = try NamespacedProcess.start(
                arguments: [ContainerExec.roleName, json, seccompArgument(record)], environment: [], namespaces: ContainerLauncher.namespaces(of: record),
                idMaps: context.idMaps, stdio: stdio, joining: ProcessID(rawValue: pid), executable: executable.path)
        } catch {
            executable.descriptor?.close()
            devNull?.close()
            throw error
        }
        executable.descriptor?.close()
        devNull?.close()
        var master: FileDescriptor?
        try started.waitForExec(onTerminal: { master = $0 })
        let status = ForegroundSession(pid: started.pid, terminalMaster: master, forwardInput: request.interactive).waitForExit()
        return status.shellCode
    }

    /// The container's compiled seccomp program, base64, for the exec role ("" when none, and
    /// the role then compiles it): the copy in its directory, or for a `--rm` container, which
    /// uses the cached program itself, that one.
    func seccompArgument(_ record: ContainerRecord) -> String {
        var program = try? FileSystem.readFile(context.directory(of: record.id).seccompProgramPath)
        if program == nil || program?.isEmpty == true, record.settings.autoRemove {
            program = try? SeccompProgramCache(context: context).program(for: record.settings.process)
        }
        guard let program, !program.isEmpty else { return "" }
        return Data(program).base64EncodedString()
    }

    /// `-e` entries over a base environment: NAME=VALUE sets, NAME takes the host's value.
    static func merge(_ base: [String], _ additions: [String], host: [String: String], onlyIfMissing: Set<String> = []) -> [String] {
        var result = base
        func name(_ entry: String) -> String { String(entry.prefix { $0 != "=" }) }
        for entry in additions {
            let key = name(entry)
            var value = entry
            if !entry.contains("=") {
                guard let hostValue = host[key] else { continue }
                value = key + "=" + hostValue
            }
            if let index = result.firstIndex(where: { name($0) == key }) {
                if !onlyIfMissing.contains(key) { result[index] = value }
            } else {
                result.append(value)
            }
        }
        return result
    }
}
