import CLinux
import CNamespaces
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// Which namespaces a role process gets (clone flags).
public struct NamespaceSet: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let user = NamespaceSet(rawValue: 0x10000000)  // CLONE_NEWUSER
    public static let mount = NamespaceSet(rawValue: 0x00020000)  // CLONE_NEWNS
    public static let pid = NamespaceSet(rawValue: 0x20000000)  // CLONE_NEWPID
    public static let uts = NamespaceSet(rawValue: 0x04000000)  // CLONE_NEWUTS
    public static let ipc = NamespaceSet(rawValue: 0x08000000)  // CLONE_NEWIPC
    public static let network = NamespaceSet(rawValue: 0x40000000)  // CLONE_NEWNET
    public static let cgroup = NamespaceSet(rawValue: 0x02000000)  // CLONE_NEWCGROUP
}

/// A copy of swctr started in new namespaces (the parent's side of the handshake in
/// cnamespaces.h): spawned, mapped, and told to go on; then it reports its setup over `sync`.
public final class NamespacedProcess {
    /// The process that goes on in the namespaces (pid 1 of a new pid namespace, if any).
    public let pid: ProcessID
    private let sync: FileDescriptor
    private var closed = false
    /// Namespace fds pid 1 sent before the intermediate process reported the pid (the two write
    /// the same socket, in either order), kept for `receiveNamespaces`.
    private var early: [Int32: FileDescriptor] = [:]
    /// The /dev/fuse fd pid 1 sent (SWCTR_SYNC_FUSE) while something else was awaited.
    private var earlyFuse: FileDescriptor?

    /// The fd number the sync socket has in the child.
    static let childSyncFD: Int32 = 3
    /// The fd a user namespace to enter has in the child (`enteringUserNamespace`).
    static let userNamespaceFD: Int32 = 5
    /// The fd a network namespace to enter has in the child (`enteringNetworkNamespace`).
    static let networkNamespaceFD: Int32 = 6

    private init(pid: ProcessID, sync: FileDescriptor) {
        self.pid = pid
        self.sync = sync
    }

    deinit {
        closeSync()
        for (_, fd) in early { fd.close() }
        earlyFuse?.close()
    }

    public func closeSync() {
        if !closed { sync.close(); closed = true }
    }

    /// Spawns `/proc/self/exe arguments…` in `namespaces`, writes its id maps, and returns once
    /// it has reported its final pid. Throws (and leaves no process behind) if any step fails.
    /// With `joining`, the namespaces are those of that running process instead of new ones; with
    /// `joiningOnly` too, only those of its namespaces are joined and `namespaces` are made new.
    /// With `enteringUserNamespace`, that (mapped) user namespace is joined instead of a new one
    /// made, and with `enteringNetworkNamespace` too that network namespace (one it owns).
    /// With `inProcess`, a single-threaded caller forks instead and the child runs that (the same
    /// role as `arguments`) without loading the binary again: a few milliseconds less per start.
    /// With `sendingNamespaces` too, the forked child that enters a user namespace sends its user
    /// and network namespaces before the pid (for `receiveNamespaces`), pid 1 then need not.
    public static func start(arguments: [String], environment: [String], namespaces: NamespaceSet,
                             idMaps: IDMapPlan, stdio: [Int32: FileDescriptor] = [:],
                             joining target: ProcessID? = nil, joiningOnly joined: NamespaceSet? = nil,
                             enteringUserNamespace userNamespace: FileDescriptor? = nil,
                             enteringNetworkNamespace networkNamespace: FileDescriptor? = nil,
                             executable: String = "/proc/self/exe", sendingNamespaces: Bool = false,
                             inProcess body: (() -> Never)? = nil) throws(RuntimeError) -> NamespacedProcess {
        var pair: [Int32] = [0, 0]
        do {
            try systemCall("socketpair") { socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) }
        } catch { throw .spawn(error) }
        let parentEnd = FileDescriptor(rawValue: pair[0])
        let childEnd = FileDescriptor(rawValue: pair[1])
        var layout = stdio
        layout[childSyncFD] = childEnd
        var extra: [String] = []
        if let userNamespace {
            layout[userNamespaceFD] = userNamespace
            extra.append("_SWCTR_NSINIT_USERNS=\(userNamespaceFD)")
            if let networkNamespace {
                layout[networkNamespaceFD] = networkNamespace
                extra.append("_SWCTR_NSINIT_NETNS=\(networkNamespaceFD)")
            }
        }
        let spawned: ProcessID
        if let body, isSingleThreaded {
            do {
                spawned = try fork(layout: layout, namespaces: namespaces, joining: target, joiningOnly: joined,
                                   enteringUserNamespace: userNamespace, enteringNetworkNamespace: networkNamespace,
                                   sendingNamespaces: sendingNamespaces, body: body)
            } catch {
                parentEnd.close(); childEnd.close()
                throw .spawn(error)
            }
        } else {
            do {
                spawned = try ChildProcess.spawn(
                executable, arguments: ["swctr"] + arguments,
                environment: environment + extra + ["_SWCTR_NSINIT=\(childSyncFD),\(namespaces.rawValue)" + (target.map { ",\($0.rawValue)" } ?? "")
                                            + (target != nil ? joined.map { ",\($0.rawValue)" } ?? "" : "")],
                fileDescriptors: layout)
            } catch {
                parentEnd.close(); childEnd.close()
                throw .spawn(error)
            }
        }
        childEnd.close()
        let process = NamespacedProcess(pid: spawned, sync: parentEnd)
        do {
            if namespaces.contains(.user) && target == nil {
                _ = try process.expect(UInt32(SWCTR_SYNC_USERNS_READY), spawned: spawned)
                do {
                    try idMaps.apply(to: spawned)
                } catch {
                    kill(spawned.rawValue, SIGKILL)
                    _ = try? ChildProcess.wait(spawned)
                    throw error
                }
                process.send(UInt32(SWCTR_SYNC_MAPS_WRITTEN))
            }
            let finalPid = try process.expect(UInt32(SWCTR_SYNC_PID), spawned: spawned)
            if finalPid != spawned.rawValue {
                // The intermediate process exits right after the clone into the new pid namespace.
                _ = try? ChildProcess.wait(spawned)
            }
            let final = NamespacedProcess(pid: ProcessID(rawValue: finalPid), sync: process.takeSync())
            final.early = process.early
            final.earlyFuse = process.earlyFuse
            process.early = [:]
            process.earlyFuse = nil
            return final
        }
    }

    /// The child of `start(inProcess:)`: swctr_nsinit_fork lays out its fds and enters the
    /// namespaces as the constructor would have, then runs `body`.
    private static func fork(layout: [Int32: FileDescriptor], namespaces: NamespaceSet, joining target: ProcessID?,
                             joiningOnly joined: NamespaceSet?, enteringUserNamespace userNamespace: FileDescriptor?,
                             enteringNetworkNamespace networkNamespace: FileDescriptor?, sendingNamespaces: Bool,
                             body: @escaping () -> Never) throws(SystemCallError) -> ProcessID {
        var layout = layout
        for standard in Int32(0)...2 where layout[standard] == nil { layout[standard] = FileDescriptor(rawValue: standard) }
        let targets = layout.keys.sorted()
        let sources = targets.map { layout[$0]!.rawValue }
        let role = Unmanaged.passRetained(RoleBody(body))
        defer { role.release() }
        let pid = swctr_nsinit_fork(
            targets, sources, Int32(targets.count), childSyncFD, UInt(namespaces.rawValue), target?.rawValue ?? 0,
            target != nil ? UInt(joined?.rawValue ?? 0) : 0, userNamespace != nil ? userNamespaceFD : -1,  // where the layout put them
            userNamespace != nil && networkNamespace != nil ? networkNamespaceFD : -1, sendingNamespaces ? 1 : 0,
            { context in Unmanaged<RoleBody>.fromOpaque(context!).takeUnretainedValue().run() }, role.toOpaque())
        if pid < 0 { throw SystemCallError("fork") }
        return ProcessID(rawValue: pid)
    }

    private final class RoleBody {
        let run: () -> Never
        init(_ run: @escaping () -> Never) { self.run = run }
    }

    /// Whether this process has one thread (fork without exec is safe only then, and `start`
    /// runs `inProcess` only then).
    public static var isSingleThreaded: Bool {
        guard let directory = opendir("/proc/self/task") else { return false }
        defer { closedir(directory) }
        var threads = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != 0x2E { threads += 1 }  // not "." or ".."
        }
        return threads == 1
    }

    /// Receives the namespace fds the container's init sends (SWCTR_SYNC_NAMESPACE), keyed by
    /// CLONE_NEW* flag: `count` of them.
    public func receiveNamespaces(count: Int) throws(RuntimeError) -> [Int32: FileDescriptor] {
        var namespaces = early
        early = [:]
        while namespaces.count < count {
            guard let (message, fd) = receive() else { throw .childVanished((try? ChildProcess.wait(pid)) ?? .exited(125)) }
            if message.type == UInt32(SWCTR_SYNC_ERROR) {
                fd?.close()
                _ = try? ChildProcess.wait(pid)
                throw .initFailed(step: Self.text(of: message), errno: message.value)
            }
            if message.type == UInt32(SWCTR_SYNC_FUSE), let fd {
                earlyFuse?.close()
                earlyFuse = fd
                continue
            }
            guard message.type == UInt32(SWCTR_SYNC_NAMESPACE), let fd else {
                fd?.close()
                for (_, open) in namespaces { open.close() }
                throw .namespaceSetup(step: "handshake (expected a namespace, got message \(message.type))", errno: EPROTO)
            }
            namespaces[message.value] = fd
        }
        return namespaces
    }

    /// Receives the /dev/fuse fd the container's init mounted its root filesystem with
    /// (SWCTR_SYNC_FUSE), keeping namespace fds that come first for `receiveNamespaces`.
    public func receiveFuseDevice() throws(RuntimeError) -> FileDescriptor {
        if let fd = earlyFuse {
            earlyFuse = nil
            return fd
        }
        while true {
            guard let (message, fd) = receive() else { throw .childVanished((try? ChildProcess.wait(pid)) ?? .exited(125)) }
            switch message.type {
            case UInt32(SWCTR_SYNC_FUSE):
                if let fd { return fd }
                throw .namespaceSetup(step: "handshake (a FUSE message without its fd)", errno: EPROTO)
            case UInt32(SWCTR_SYNC_NAMESPACE):
                if let fd { early[message.value] = fd }
            case UInt32(SWCTR_SYNC_ERROR):
                fd?.close()
                _ = try? ChildProcess.wait(pid)
                throw .initFailed(step: Self.text(of: message), errno: message.value)
            default:
                fd?.close()
                throw .namespaceSetup(step: "handshake (expected the FUSE device, got message \(message.type))", errno: EPROTO)
            }
        }
    }

    /// Tells a container's init, waiting after its mounts, to run its command (once what must
    /// exist around it, such as the network, does).
    public func release() {
        send(UInt32(SWCTR_SYNC_GO))
    }

    private func takeSync() -> FileDescriptor {
        closed = true
        return sync
    }

    /// Tells the process that waits for them (`RoleChannel.waitForMaps`) that the maps of the user
    /// namespace it entered are written.
    public func sendMapsWritten() {
        send(UInt32(SWCTR_SYNC_MAPS_WRITTEN))
    }

    private func send(_ type: UInt32) {
        var message = swctr_sync_message()
        message.type = type
        _ = withUnsafeBytes(of: &message) { Glibc.send(sync.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Receives one message; returns nil at end of file.
    private func receive() -> (message: swctr_sync_message, fd: FileDescriptor?)? {
        var message = swctr_sync_message()
        var received: Int32 = -1
        let n = withUnsafeMutableBytes(of: &message) { swctr_recv_fd(sync.rawValue, $0.baseAddress, $0.count, &received) }
        if n <= 0 { return nil }
        return (message, received >= 0 ? FileDescriptor(rawValue: received) : nil)
    }

    private func expect(_ type: UInt32, spawned: ProcessID) throws(RuntimeError) -> Int32 {
        var next = receive()
        while let (message, fd) = next, message.type == UInt32(SWCTR_SYNC_NAMESPACE) || message.type == UInt32(SWCTR_SYNC_FUSE),
              type != message.type {
            if let fd {
                if message.type == UInt32(SWCTR_SYNC_FUSE) {
                    earlyFuse?.close()
                    earlyFuse = fd
                } else {
                    early[message.value] = fd
                }
            }
            next = receive()
        }
        guard let (message, fd) = next else {
            let status = (try? ChildProcess.wait(spawned)) ?? .exited(125)
            throw .childVanished(status)
        }
        fd?.close()
        if message.type == UInt32(SWCTR_SYNC_ERROR) {
            _ = try? ChildProcess.wait(spawned)
            throw .namespaceSetup(step: Self.text(of: message), errno: message.value)
        }
        guard message.type == type else {
            kill(spawned.rawValue, SIGKILL)
            _ = try? ChildProcess.wait(spawned)
            throw .namespaceSetup(step: "handshake (unexpected message \(message.type))", errno: EPROTO)
        }
        return message.value
    }

    static func text(of message: swctr_sync_message) -> String {
        withUnsafeBytes(of: message.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Follows the role's setup until it executes its command (end of file on the sync socket,
    /// which is close-on-exec) or reports a failure. `onTerminal` receives a pty master.
    public func waitForExec(onTerminal: (FileDescriptor) -> Void = { $0.close() }) throws(RuntimeError) {
        defer { closeSync() }
        while let (message, fd) = receive() {
            switch message.type {
            case UInt32(SWCTR_SYNC_TTY):
                if let fd { onTerminal(fd) }
            case UInt32(SWCTR_SYNC_EXEC_ERROR):
                _ = try? ChildProcess.wait(pid)
                let command = Self.text(of: message)
                if message.value == ENOENT { throw .executableNotFound(command: command) }
                throw .notExecutable(command: command, errno: message.value)
            case UInt32(SWCTR_SYNC_ERROR):
                _ = try? ChildProcess.wait(pid)
                throw .initFailed(step: Self.text(of: message), errno: message.value)
            default:
                fd?.close()
            }
        }
    }
}

/// The child's side of the sync socket, for the Swift part of a role.
public struct RoleChannel {
    public let fd: Int32

    /// The channel when this process was started as a namespaced role, else nil.
    public static var current: RoleChannel? {
        let fd = swctr_nsinit_sync_fd()
        return fd >= 0 ? RoleChannel(fd: fd) : nil
    }

    public func send(type: Int, value: Int32 = 0, text: String = "", fd passing: Int32 = -1) {
        var message = swctr_sync_message()
        message.type = UInt32(type)
        message.value = value
        withUnsafeMutableBytes(of: &message.text) { raw in
            let bytes = Array(text.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        _ = withUnsafeBytes(of: &message) { raw in
            if passing >= 0 { return swctr_send_fd(fd, passing, raw.baseAddress, raw.count) }
            return Int32(Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)))
        }
    }

    /// Waits for the parent's go-ahead (SWCTR_SYNC_GO); ends the process if the parent gives up
    /// or goes away.
    public func waitForGo() {
        waitFor(UInt32(SWCTR_SYNC_GO))
    }

    /// Waits until the parent says the user namespace's maps are written (SWCTR_SYNC_MAPS_WRITTEN);
    /// ends the process if it gives up or goes away.
    public func waitForMaps() {
        waitFor(UInt32(SWCTR_SYNC_MAPS_WRITTEN))
    }

    private func waitFor(_ type: UInt32) {
        var message = swctr_sync_message()
        let n = withUnsafeMutableBytes(of: &message) { raw in
            var received: Int
            repeat { received = recv(fd, raw.baseAddress, raw.count, 0) } while received < 0 && errno == EINTR
            return received
        }
        if n != MemoryLayout<swctr_sync_message>.size || message.type != type { _exit(1) }
    }

    /// Reports a failed step to the parent and ends the process.
    public func fail(_ step: String, errno code: Int32 = 0) -> Never {
        send(type: SWCTR_SYNC_ERROR, value: code, text: step)
        _exit(1)
    }
}
