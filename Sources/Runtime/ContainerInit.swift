import CLinux
import CNamespaces
import FoundationEssentials
import RuntimeSpec
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// The container's first process, after the pre-exec stage put it in its namespaces as pid 1:
/// mounts the root filesystem and the kernel filesystems, pivots into the root, switches user and
/// executes the command. Synchronous, single-threaded; every failure goes back to the parent with
/// the step that failed, then the process exits.
public struct ContainerInit {
    let spec: ContainerSpec
    let channel: RoleChannel
    let mounter: Mounter

    public init(spec: ContainerSpec, channel: RoleChannel) {
        self.spec = spec
        self.channel = channel
        self.mounter = Mounter(channel: channel)
    }

    /// Loads the spec the parent wrote and runs; never returns.
    public static func main(specPath: String) -> Never {
        guard let channel = RoleChannel.current else {
            FileDescriptor.standardError.writeAllIgnoringErrors("swctr: internal role started without its namespaces\n")
            _exit(125)
        }
        let spec: ContainerSpec
        do {
            spec = try JSONDecoder().decode(ContainerSpec.self, from: Data(FileSystem.readFile(specPath)))
        } catch {
            channel.fail("read the container spec \(specPath): \(error)")
        }
        ContainerInit(spec: spec, channel: channel).run()
    }

    func run() -> Never {
        do {
            try mountRootfs()
            try pivotIntoRoot()
        } catch {
            channel.fail(error.call + (error.subject.map { " " + $0 } ?? ""), errno: error.errno)
        }
        if !spec.hostname.isEmpty && sethostname(spec.hostname, spec.hostname.utf8.count) != 0 {
            channel.fail("sethostname \(spec.hostname)", errno: errno)
        }
        ProcessLauncher(process: spec.process, channel: channel).launch()
    }

    // MARK: - Filesystems

    private func mountRootfs() throws(SystemCallError) {
        // Nothing we mount may propagate back to the host's namespace.
        try mounter.mount(nil, "/", nil, MountFlag.recursive | MountFlag.privatePropagation, nil, step: "make the mount namespace private")
        let plan = spec.rootfs
        try Self.mountOverlay(plan)
        let root = try RootDirectory(path: plan.mountPoint)
        defer { root.fd.close() }

        try mountAt(root, "proc", directory: true) { (target) throws(SystemCallError) in
            try mounter.mount("proc", target, "proc", MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec, nil, step: "mount /proc")
        }
        try mountDev(root)
        try mountSys(root)
        for file in spec.generatedFiles {
            try mountAt(root, file.containerPath, directory: false) { (target) throws(SystemCallError) in
                try mounter.mount(file.hostPath, target, nil, MountFlag.bind, nil, step: "bind \(file.containerPath)")
            }
        }
    }

    /// Mounts the kernel overlay of `plan` at its mount point (in this process's mount namespace).
    public static func mountOverlay(_ plan: RootfsPlan) throws(SystemCallError) {
        // Lower directories as short relative names (the options must fit in a page).
        guard let layersDirectory = plan.lowerDirectories.first.map({ String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) }) else {
            throw SystemCallError("the image has no layers", errno: EINVAL)
        }
        guard chdir(layersDirectory) == 0 else { throw SystemCallError("chdir", on: layersDirectory, errno: errno) }
        var lowers: [String] = []
        for directory in plan.lowerDirectories.reversed() {
            let name = directory.hasPrefix(layersDirectory + "/") ? String(directory.dropFirst(layersDirectory.count + 1)) : directory
            lowers.append(name)
        }
        let options = "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(plan.upperDirectory),workdir=\(plan.workDirectory),userxattr"
        try systemCall("mount the overlay root filesystem (kernel overlay with userxattr)", on: plan.mountPoint) {
            Glibc.mount("overlay", plan.mountPoint, "overlay", 0, options)
        }
    }

    private func mountAt(_ root: RootDirectory, _ path: String, directory: Bool, _ body: (String) throws(SystemCallError) -> Void) throws(SystemCallError) {
        let target = try root.ensure(path, directory: directory)
        defer { target.close() }
        try body(RootDirectory.procPath(target))
    }

    private func mountDev(_ root: RootDirectory) throws(SystemCallError) {
        try mountAt(root, "dev", directory: true) { (target) throws(SystemCallError) in
            try mounter.mount("tmpfs", target, "tmpfs", MountFlag.noSetuid | MountFlag.strictAccessTime, "mode=755,size=65536k", step: "mount /dev")
        }
        // Device nodes cannot be made in a user namespace: bind the host's.
        for node in ["null", "zero", "full", "random", "urandom", "tty"] {
            try mountAt(root, "dev/" + node, directory: false) { (target) throws(SystemCallError) in
                try mounter.mount("/dev/" + node, target, nil, MountFlag.bind, nil, step: "bind /dev/\(node)")
            }
        }
        try mountAt(root, "dev/pts", directory: true) { (target) throws(SystemCallError) in
            let flags = MountFlag.noSetuid | MountFlag.noExec
            do {
                try mounter.mount("devpts", target, "devpts", flags, "newinstance,ptmxmode=0666,mode=0620,gid=5", step: "mount /dev/pts")
            } catch {
                // gid 5 (tty) is not mapped in a single-id user namespace.
                try mounter.mount("devpts", target, "devpts", flags, "newinstance,ptmxmode=0666,mode=0620", step: "mount /dev/pts")
            }
        }
        try mountAt(root, "dev/shm", directory: true) { (target) throws(SystemCallError) in
            try mounter.mount("shm", target, "tmpfs", MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec, "mode=1777,size=65536k", step: "mount /dev/shm")
        }
        try? mountAt(root, "dev/mqueue", directory: true) { (target) throws(SystemCallError) in
            try mounter.mount("mqueue", target, "mqueue", MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec, nil, step: "mount /dev/mqueue")
        }
        let dev = try root.ensure("dev", directory: true)
        defer { dev.close() }
        let devFD = try FileDescriptor(rawValue: systemCall("open /dev") { openat(dev.rawValue, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) })
        defer { devFD.close() }
        for (name, target) in [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                               ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore")] {
            symlinkat(target, devFD.rawValue, name)
        }
    }

    private func mountSys(_ root: RootDirectory) throws(SystemCallError) {
        try mountAt(root, "sys", directory: true) { (target) throws(SystemCallError) in
            let flags = MountFlag.readOnly | MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec
            if spec.network.needsNamespace, (try? mounter.mount("sysfs", target, "sysfs", flags, nil, step: "mount /sys")) != nil {
                return
            }
            // Without a network namespace of our own sysfs cannot be mounted: bind the host's, read-only.
            try mounter.mount("/sys", target, nil, MountFlag.bind | MountFlag.recursive, nil, step: "bind /sys")
            _ = Glibc.mount(nil, target, nil, MountFlag.remount | MountFlag.bind | MountFlag.readOnly | flags, nil)
        }
    }

    private func pivotIntoRoot() throws(SystemCallError) {
        let root = spec.rootfs.mountPoint
        guard chdir(root) == 0 else { throw SystemCallError("chdir", on: root, errno: errno) }
        try systemCall("pivot_root", on: root) { swctr_pivot_root(".", ".") }
        // The old root is stacked under the new one: detach it.
        try mounter.mount(nil, ".", nil, MountFlag.recursive | MountFlag.slavePropagation, nil, step: "make the old root a slave")
        try systemCall("umount the old root") { umount2(".", Int32(MNT_DETACH)) }
        try systemCall("chdir /") { chdir("/") }
    }
}

extension FileDescriptor {
    func writeAllIgnoringErrors(_ text: String) {
        try? writeAll(text)
    }
}
