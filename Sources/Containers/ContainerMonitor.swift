import CLinux
import Cgroups
import FoundationEssentials
import Rootfs
import Network
import Runtime
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The hidden subcommand that the container's init runs as.
public enum ContainerInitRole {
    public static let name = "__init"
}

/// A start that failed, with the exit code Docker would give (125 setup, 126 not executable,
/// 127 not found).
public struct StartFailure: Error, UserFacingError {
    public let exitCode: Int32
    public let userMessage: String
}

/// Starts a container's init from the spec `create` wrote, with the given stdio; returns once
/// its command runs, with the pty master when it has a terminal.
enum ContainerLauncher {
    struct Launched {
        let pid: ProcessID
        let master: FileDescriptor?
        let network: NetworkHelperProcess?
        let cgroup: ContainerCgroup?
        let directory: ContainerDirectory
        /// The FUSE overlay's server, for a container on the fuse-overlay driver.
        var storage: FuseOverlayProcess?

        /// After the container has ended: reaps the network helper and the FUSE overlay's
        /// server, notes an OOM kill and removes the container's cgroup.
        func finish() {
            network?.finish()
            storage?.finish()
            ContainerResources.finish(cgroup, directory: directory)
        }
    }

    /// With `userNamespace`, the container joins that one (mapped already), and the network
    /// namespace it may hold, instead of making its own; with `spec` (the one in its directory), a
    /// forked init need not read it.
    /// `beforeCommand` runs once the init is cloned and placed, while it sets the container up,
    /// before it is let run the command; what it throws stops the init.
    static func launch(_ record: ContainerRecord, context: ContainerContext, stdio: [Int32: FileDescriptor],
                       userNamespace prepared: PreparedUserNamespace? = nil, spec: ContainerSpec? = nil,
                       beforeCommand: () throws(StartFailure) -> Void = {}) throws(StartFailure) -> Launched {
        let directory = context.directory(of: record.id)
        // A prepared namespace has the context's maps: only for a container that would make its
        // own with those (not keep-id, not sharing another container's). Taken before the cgroup:
        // its holder and the id-map helpers must be gone by then (no child may be left where
        // controllers get enabled). Where there is no cgroup to make, the init is forked into it
        // at once and waits for the maps while the helpers finish (`mapsPending`).
        var namespaces: PreparedUserNamespace.Opened?
        var mapsPending: PreparedUserNamespace?
        var sharesNetwork = false
        if case .container = record.settings.network { sharesNetwork = true }
        let host = CgroupHost.current()
        if let prepared, record.settings.userNamespace == nil, !sharesNetwork {
            do {
                if host.isAvailable {
                    namespaces = try prepared.open()
                } else {
                    namespaces = try prepared.openBeforeMaps(network: ContainerLauncher.namespaces(of: record).contains(.network))
                    mapsPending = prepared
                }
            } catch {
                throw StartFailure(exitCode: error.exitCode, userMessage: error.userMessage)
            }
        }
        defer { namespaces?.close() }
        // The cgroup before any child exists: this process moves into a leaf of its own first.
        let cgroup: ContainerCgroup?
        do {
            cgroup = try ContainerResources.prepare(record, directory: directory, host: host)
        } catch {
            mapsPending?.abandon()
            throw error
        }
        do {
            return try ContainerResources.withOOMScoreAdjustment(record.settings.resources) { () throws(StartFailure) in
                try launch(record, context: context, stdio: stdio, cgroup: cgroup, prepared: namespaces, mapsPending: mapsPending, spec: spec,
                           beforeCommand: beforeCommand)
            }
        } catch {
            ContainerResources.finish(cgroup, directory: directory)
            throw error
        }
    }

    /// `mapsPending`: the prepared namespaces' maps are still being written; the init waits for
    /// them (`ContainerInit.main(spec:mapsPending:)`) and is told once they are.
    private static func launch(_ record: ContainerRecord, context: ContainerContext, stdio: [Int32: FileDescriptor],
                               cgroup: ContainerCgroup?, prepared: PreparedUserNamespace.Opened?, mapsPending: PreparedUserNamespace?,
                               spec: ContainerSpec?, beforeCommand: () throws(StartFailure) -> Void) throws(StartFailure) -> Launched {
        // Ports first: one in use is an error before anything runs.
        let network: NetworkStart
        do { network = try NetworkStart(record: record) } catch {
            mapsPending?.abandon()
            throw StartFailure(exitCode: 125, userMessage: error.message)
        }
        // Sharing another container's network means entering its user namespace too (the network
        // namespace belongs to it), and that container must be running.
        var joined: ProcessID?
        if case .container(let target) = record.settings.network {
            guard let other = try? context.database.get(id: target), other.status == .running, let pid = other.pid else {
                mapsPending?.abandon()
                network.abandon()
                throw StartFailure(exitCode: 125, userMessage: NetworkRequestError.containerNotRunning(target).userMessage)
            }
            joined = ProcessID(rawValue: pid)
        }
        // Only an init forked from this process, with the spec in memory, waits for the maps; one
        // exec'd from the binary (another thread is running, or no spec) is started once they are
        // written.
        var mapsPending = mapsPending
        if let pending = mapsPending, spec == nil || !NamespacedProcess.isSingleThreaded {
            do {
                try pending.finishMaps()
                pending.release()
            } catch {
                network.abandon()
                throw StartFailure(exitCode: error.exitCode, userMessage: error.userMessage)
            }
            mapsPending = nil
        }
        let initWaitsForMaps = mapsPending != nil
        let fuse = record.settings.storageDriver == .fuseOverlay
        // Such an init's first child hands the namespaces over as soon as it has made them, and the
        // network helper sets tap0 up in them while the maps are still being written (not with
        // the FUSE overlay, whose device pid 1 sends with them once it has mounted the rootfs).
        let earlyNetwork = initWaitsForMaps && network.helper != nil && !fuse
        let process: NamespacedProcess
        do {
            let idMaps = try context.idMaps(for: record)
            let kinds = joined == nil && prepared == nil
                ? ContainerLauncher.namespaces(of: record) : ContainerLauncher.namespaces(of: record).subtracting(.user)
            // A prepared network namespace only stands in for one the container would make.
            let preparedNetwork = kinds.contains(.network) ? prepared?.network : nil
            func start() throws(RuntimeError) -> NamespacedProcess {
                let specPath = context.directory(of: record.id).specPath
                return try NamespacedProcess.start(
                    arguments: [ContainerInitRole.name, specPath], environment: [],
                    namespaces: kinds, idMaps: idMaps, stdio: stdio, joining: joined, joiningOnly: joined == nil ? nil : [.user, .network],
                    enteringUserNamespace: prepared?.user, enteringNetworkNamespace: preparedNetwork, sendingNamespaces: earlyNetwork,
                    inProcess: {
                        if let spec { ContainerInit.main(spec: spec, mapsPending: initWaitsForMaps, namespacesSent: earlyNetwork) }
                        ContainerInit.main(specPath: specPath)
                    })
            }
            // Born in its cgroup (so its cgroup namespace is rooted there), when it has one.
            if let cgroup { process = try cgroup.whileInside(start) } else { process = try start() }
        } catch {
            mapsPending?.abandon()
            network.abandon()
            throw StartFailure(exitCode: error.exitCode, userMessage: error.userMessage)
        }
        func stopContainer() {
            kill(process.pid.rawValue, SIGKILL)
            process.closeSync()
            _ = try? ChildProcess.wait(process.pid)
        }
        var namespaces: [Int32: FileDescriptor] = [:]
        defer { for (_, fd) in namespaces { fd.close() } }
        if earlyNetwork {
            do {
                namespaces = try process.receiveNamespaces(count: 2)
            } catch {
                network.abandon()
                mapsPending?.abandon()
                stopContainer()
                throw StartFailure(exitCode: 125, userMessage: error.userMessage)
            }
            do {
                // On failure the helper is already gone.
                try network.handOver(containerPID: process.pid, namespaces: namespaces)
            } catch {
                mapsPending?.abandon()
                stopContainer()
                throw StartFailure(exitCode: 125, userMessage: error.message)
            }
        }
        if let mapsPending {
            do {
                try mapsPending.finishMaps()
            } catch {
                network.abandon()
                stopContainer()
                throw StartFailure(exitCode: error.exitCode, userMessage: error.userMessage)
            }
            process.sendMapsWritten()
            mapsPending.release()
        }
        // Init sends its user namespace (and network namespace) for the helpers that enter
        // them, and the /dev/fuse fd it mounted the rootfs with.
        var storage: FuseOverlayProcess?
        if !earlyNetwork && (fuse || network.helper != nil) {
            do {
                var device: FileDescriptor?
                defer { device?.close() }
                if fuse { device = try process.receiveFuseDevice() }
                namespaces = try process.receiveNamespaces(count: network.helper != nil ? 2 : 1)
                if let device, let userNamespace = namespaces[NamespaceSet.user.rawValue] {
                    storage = try FuseOverlayProcess.start(device: device, userNamespace: userNamespace,
                                                           specPath: context.directory(of: record.id).specPath, idMaps: context.idMaps)
                }
            } catch {
                network.abandon()
                stopContainer()
                throw StartFailure(exitCode: 125, userMessage: (error as? UserFacingError)?.userMessage ?? "\(error)")
            }
        }
        if network.helper != nil && !earlyNetwork {
            do {
                // On failure the helper is already gone.
                try network.handOver(containerPID: process.pid, namespaces: namespaces)
            } catch {
                stopContainer()
                storage?.abandon()
                throw StartFailure(exitCode: 125, userMessage: error.message)
            }
        }
        do {
            // Into its cgroup before it runs its command (it waits for GO). The record is written
            // while the network helper sets tap0 up.
            try ContainerResources.place(process.pid, in: cgroup)
            try beforeCommand()
        } catch {
            network.helper?.finish()
            stopContainer()
            storage?.abandon()
            throw error
        }
        if network.helper != nil {
            do {
                // On failure the helper is already gone.
                try network.waitUntilAttached()
            } catch {
                stopContainer()
                storage?.abandon()
                throw StartFailure(exitCode: 125, userMessage: error.message)
            }
        }
        PublishedPortsFile.write(network.boundPorts, directory: context.directory(of: record.id))
        process.release()
        var master: FileDescriptor?
        do {
            try process.waitForExec(onTerminal: { master = $0 })
        } catch {
            network.helper?.finish()
            storage?.finish()
            throw StartFailure(exitCode: error.exitCode, userMessage: error.userMessage)
        }
        return Launched(pid: process.pid, master: master, network: network.helper, cgroup: cgroup, directory: context.directory(of: record.id),
                        storage: storage)
    }

    static func namespaces(of record: ContainerRecord) -> NamespaceSet {
        var namespaces: NamespaceSet = [.user, .mount, .pid, .uts, .ipc, .cgroup]
        if record.settings.network.needsNamespace { namespaces.insert(.network) }
        return namespaces
    }
}

/// The monitor of a detached container (the job conmon does for Podman): one process of the swctr
/// binary per container, its parent and subreaper, holding the container's lock for as long as it
/// lives. It keeps the container's stdio or pty, writes the log, records the exit (before reaping,
/// so a recorded pid is never a reused one), applies the restart policy, and removes `--rm`
/// containers. No daemon: it exits when its container is done.
public final class ContainerMonitor {
    public static let roleName = "__monitor"
    static let lockFD: Int32 = 3
    static let readyFD: Int32 = 4

    let context: ContainerContext
    let id: String
    let lock: ContainerLock

    init(context: ContainerContext, id: String, lock: ContainerLock) {
        self.context = context
        self.id = id
        self.lock = lock
    }

    // MARK: - The starting side

    /// Spawns the monitor for a container whose lock the caller holds (the monitor inherits it)
    /// and waits until the container's command is running or has failed to start.
    static func spawn(id: String, lock: ContainerLock) throws {
        var ends: [Int32] = [0, 0]
        try systemCall("pipe2") { swctr_pipe2(&ends, O_CLOEXEC) }
        let readEnd = FileDescriptor(rawValue: ends[0])
        let writeEnd = FileDescriptor(rawValue: ends[1])
        defer { readEnd.close() }
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        var environment = ProcessEnvironment.current.filter { !$0.key.hasPrefix("_SWCTR") }.map { "\($0.key)=\($0.value)" }
        var program = "/proc/self/exe"
        var arguments = ["swctr", roleName, id]
        // A cgroup of its own: the monitor starts in a new delegated systemd scope where there is one.
        if case .systemdScope(let systemdRun) = CgroupHost.current().placement, let executable = SystemdScope.currentExecutable() {
            program = systemdRun
            arguments = SystemdScope.command(systemdRun: systemdRun, unit: "swctr-\(id.prefix(12))-\(FileSystem.randomHex(bytes: 3))",
                                             arguments: [executable, roleName, id])
            environment.append(SystemdScope.marker + "=1")
        }
        do {
            _ = try ChildProcess.spawn(program, arguments: arguments, environment: environment,
                                       fileDescriptors: [0: devNull, 1: devNull, 2: devNull, lockFD: lock.fd, readyFD: writeEnd],
                                       newSession: true)
        } catch {
            writeEnd.close(); devNull.close()
            throw error
        }
        writeEnd.close()
        devNull.close()
        let answer = String(decoding: (try? readEnd.readAll(limit: 4096)) ?? [], as: UTF8.self)
        if answer.hasPrefix("ok") { return }
        if answer.hasPrefix("error ") {
            let rest = answer.dropFirst(6)
            let code = Int32(rest.prefix { $0.isNumber }) ?? 125
            let message = String(rest.drop { $0.isNumber }).trimmed
            throw StartFailure(exitCode: code, userMessage: message)
        }
        throw StartFailure(exitCode: 125, userMessage: "the container's monitor ended before the container started")
    }

    // MARK: - The monitor process

    /// The body of `swctr __monitor ID`. Never returns.
    public static func main(arguments: [String]) -> Never {
        let ready = FileDescriptor(rawValue: readyFD)
        _ = fcntl(ready.rawValue, F_SETFD, FD_CLOEXEC)
        func giveUp(_ message: String) -> Never {
            try? ready.writeAll("error 125 \(message)\n")
            _exit(1)
        }
        guard let id = arguments.first else { giveUp("monitor started without a container id") }
        let lock = ContainerLock.inherited(FileDescriptor(rawValue: lockFD))
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        _ = swctr_set_child_subreaper()
        let context: ContainerContext
        do {
            context = try ContainerContext(directories: .current(), idMaps: .current())
        } catch {
            giveUp("cannot open the state: \((error as? UserFacingError)?.userMessage ?? "\(error)")")
        }
        ContainerMonitor(context: context, id: id, lock: lock).run(ready: ready)
    }

    func run(ready: FileDescriptor) -> Never {
        var ready: FileDescriptor? = ready
        func report(_ line: String) {
            try? ready?.writeAll(line + "\n")
            ready?.close()
            ready = nil
        }
        ForwardedSignals.block()
        while true {
            guard let record = try? context.database.get(id: id) else {
                report("error 125 the container was removed while it started")
                _exit(0)
            }
            let log: LogWriter
            do {
                log = try LogWriter(path: context.directory(of: id).logPath, maxSize: record.settings.logMaxSize)
            } catch {
                fail(record, message: "cannot open the log: \(error.description)", code: 125, report: report)
            }
            let stdio: ContainerStdio
            do { stdio = try ContainerStdio.make(terminal: record.settings.process.terminal, interactive: record.settings.interactive) } catch {
                fail(record, message: "cannot make the container's stdio: \(error.description)", code: 125, report: report)
            }
            let launched: ContainerLauncher.Launched
            do {
                launched = try ContainerLauncher.launch(record, context: context, stdio: stdio.childSide)
            } catch {
                stdio.closeAll()
                fail(record, message: error.userMessage, code: error.exitCode, report: report)
            }
            stdio.closeChildSide()
            let started = Timestamp.now
            _ = try? context.database.update(id: id, set: [
                "status": .text(ContainerStatus.running.rawValue), "pid": .integer(Int64(launched.pid.rawValue)),
                "monitor_pid": .integer(Int64(getpid())), "started": .real(started), "finished": .null, "exit_code": .null, "error": .null])
            let attach = AttachServer(runtime: context.runtime, id: id)
            report("ok")

            let status = supervise(pid: launched.pid, master: launched.master, stdio: stdio, log: log, attach: attach)
            attach?.closeAll()
            let finished = Timestamp.now
            _ = try? context.database.update(id: id, from: [.running], set: [
                "status": .text(ContainerStatus.exited.rawValue), "pid": .null,
                "exit_code": .integer(Int64(status.shellCode)), "finished": .real(finished)])
            _ = try? ChildProcess.wait(launched.pid)
            launched.finish()
            stdio.closeAll()
            launched.master?.close()

            guard let after = try? context.database.get(id: id) else { _exit(0) }
            let restarts = after.settings.restartPolicy.shouldRestart(
                exitCode: status.shellCode, restartsSoFar: after.restartCount, stopRequested: after.stopRequested)
            if restarts && waitBeforeRestart(restartCount: after.restartCount, ranFor: finished - started),
               (try? context.database.update(id: id, from: [.exited], set: [
                   "status": .text(ContainerStatus.starting.rawValue), "restart_count": .integer(Int64(after.restartCount + 1))])) == true {
                continue
            }
            if after.settings.autoRemove { removeContainer() }
            _exit(0)
        }
    }

    /// Records a failed start (and tells the starting command, if it still waits); never returns.
    private func fail(_ record: ContainerRecord, message: String, code: Int32, report: (String) -> Void) -> Never {
        _ = try? context.database.update(id: id, from: [.starting], set: [
            "status": .text(record.started == nil && record.restartCount == 0 ? ContainerStatus.created.rawValue : ContainerStatus.exited.rawValue),
            "error": .text(message), "exit_code": .integer(Int64(code)), "pid": .null])
        report("error \(code) \(message)")
        if record.settings.autoRemove { removeContainer() }
        _exit(1)
    }

    /// Docker's back-off: 100 ms doubling per restart, reset once a run lasted 10 s; false when a
    /// stop was asked for meanwhile.
    private func waitBeforeRestart(restartCount: Int, ranFor: Double) -> Bool {
        let delay = ranFor >= 10 ? 0.1 : min(0.1 * pow2(restartCount), 60)
        let deadline = MonotonicClock.now + delay
        while MonotonicClock.now < deadline {
            MonotonicClock.sleep(min(0.05, max(0, deadline - MonotonicClock.now)))
            if let record = try? context.database.get(id: id), record.stopRequested { return false }
        }
        return true
    }

    private func pow2(_ n: Int) -> Double { Double(1 << min(n, 20)) }

    private func removeContainer() {
        let record = try? context.database.get(id: id)
        _ = try? context.database.update(id: id, set: ["status": .text(ContainerStatus.removing.rawValue)])
        let directory = context.directory(of: id)
        try? context.tools.removeTree(directory.path)
        try? context.database.delete(id: id)
        ContainerLock.removeFile(runtime: context.runtime, id: id)
        if let record { context.removeAnonymousVolumes(of: record.settings) }
    }

    /// Copies output to the log and forwards signals until the container's init ends; returns how
    /// it ended, leaving it unreaped.
    private func supervise(pid: ProcessID, master: FileDescriptor?, stdio: ContainerStdio, log: LogWriter, attach: AttachServer?) -> ExitStatus {
        let pidfd = swctr_pidfd_open(pid.rawValue)
        let signals = swctr_signalfd(ForwardedSignals.all, Int32(ForwardedSignals.all.count))
        defer {
            if pidfd >= 0 { close(pidfd) }
            if signals >= 0 { close(signals) }
        }
        var outputs: [(fd: Int32, stream: String)] = []
        if let master { outputs.append((master.rawValue, "stdout")) }
        if let out = stdio.stdout { outputs.append((out.rawValue, "stdout")) }
        if let err = stdio.stderr { outputs.append((err.rawValue, "stderr")) }
        for output in outputs { _ = fcntl(output.fd, F_SETFL, fcntl(output.fd, F_GETFL) | O_NONBLOCK) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        func drain(_ fd: Int32, _ stream: String) -> Bool {
            while true {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    log.append(buffer[0..<n], stream: stream)
                    attach?.broadcast(stream: stream == "stderr" ? 2 : 1, buffer[0..<n])
                    continue
                }
                return n < 0 && (errno == EAGAIN || errno == EINTR)
            }
        }
        var open = outputs
        while pidfd >= 0 {
            var fds = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)]
            if signals >= 0 { fds.append(pollfd(fd: signals, events: Int16(POLLIN), revents: 0)) }
            fds += open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if let attach {
                fds.append(pollfd(fd: attach.listener, events: Int16(POLLIN), revents: 0))
                fds += attach.clients.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { if errno == EINTR { continue } else { break } }
            for entry in fds where entry.revents != 0 {
                if entry.fd == pidfd {
                    for output in open { _ = drain(output.fd, output.stream) }
                    log.flush()
                    return ChildProcess.waitLeavingZombie(pidfd: pidfd) ?? .exited(125)
                } else if entry.fd == signals {
                    while true {
                        let number = swctr_read_signal(signals)
                        if number < 0 { break }
                        if number == SIGTERM || number == SIGINT || number == SIGQUIT || number == SIGUSR1 || number == SIGUSR2 {
                            _ = swctr_pidfd_send_signal(pidfd, number)
                        }
                    }
                } else if let index = open.firstIndex(where: { $0.fd == entry.fd }) {
                    if !drain(entry.fd, open[index].stream) { open.remove(at: index) }
                } else if let attach, entry.fd == attach.listener {
                    attach.acceptClients()
                } else if let attach, attach.clients.contains(entry.fd) {
                    // A client's keystrokes or piped input: to the pty, or to the stdin pipe (-i).
                    let n = read(entry.fd, &buffer, buffer.count)
                    if n <= 0 { attach.drop(entry.fd); continue }
                    if let input = master ?? stdio.stdinWriter {
                        _ = buffer.withUnsafeBytes { try? input.writeAll(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    }
                }
            }
        }
        log.flush()
        return (try? ChildProcess.wait(pid)) ?? .exited(125)
    }
}

/// The monitor's ends of a detached container's stdio: pipes for stdout and stderr, stdin a pipe
/// held open (with -i) or /dev/null. With a terminal, init replaces all three with the pty.
struct ContainerStdio {
    var stdout: FileDescriptor?
    var stderr: FileDescriptor?
    var stdinWriter: FileDescriptor?
    var childSide: [Int32: FileDescriptor]

    static func make(terminal: Bool, interactive: Bool) throws(SystemCallError) -> ContainerStdio {
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        if terminal {
            return ContainerStdio(childSide: [0: devNull, 1: devNull, 2: devNull])
        }
        func pipe() throws(SystemCallError) -> (read: FileDescriptor, write: FileDescriptor) {
            var ends: [Int32] = [0, 0]
            try systemCall("pipe2") { swctr_pipe2(&ends, O_CLOEXEC) }
            return (FileDescriptor(rawValue: ends[0]), FileDescriptor(rawValue: ends[1]))
        }
        let out = try pipe()
        let err = try pipe()
        var stdio = ContainerStdio(stdout: out.read, stderr: err.read, childSide: [1: out.write, 2: err.write])
        if interactive {
            let input = try pipe()
            stdio.stdinWriter = input.write
            stdio.childSide[0] = input.read
            devNull.close()
        } else {
            stdio.childSide[0] = devNull
        }
        return stdio
    }

    func closeChildSide() {
        for fd in Set(childSide.values) { fd.close() }
    }

    func closeAll() {
        stdout?.close()
        stderr?.close()
        stdinWriter?.close()
    }
}
