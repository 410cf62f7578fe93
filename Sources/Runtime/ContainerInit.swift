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

    /// The init forked from the process that wrote `spec` (`NamespacedProcess.start(inProcess:)`).
    /// With `mapsPending`, it was forked into a prepared user namespace before that namespace's
    /// maps were written, and waits for them before anything else.
    /// With `namespacesSent`, its user and network namespaces were handed over already (by the
    /// child that made them), and it does not send them.
    public static func main(spec: ContainerSpec, mapsPending: Bool = false, namespacesSent: Bool = false) -> Never {
        guard let channel = RoleChannel.current else {
            FileDescriptor.standardError.writeAllIgnoringErrors("swctr: internal role started without its namespaces\n")
            _exit(125)
        }
        if mapsPending {
            channel.waitForMaps()
            // What entering the namespace did not manage before the gid map was there: drop the
            // host's supplementary groups.
            _ = setgroups(0, nil)
        }
        ContainerInit(spec: spec, channel: channel).run(namespacesSent: namespacesSent)
    }

    func run(namespacesSent: Bool = false) -> Never {
        // Read while the host's filesystem is still in view.
        let seccompProgram = spec.seccompProgramPath.flatMap { try? FileSystem.readFile($0) }
        do {
            // Nothing we mount may propagate back to the host's namespace.
            try mounter.mount(nil, "/", nil, MountFlag.recursive | MountFlag.privatePropagation, nil, step: "make the mount namespace private")
            // The FUSE overlay first: its server starts while the rest is set up.
            if spec.rootfs.driver == .fuseOverlay { try mountFuseOverlay(spec.rootfs) }
        } catch {
            channel.fail(error.call + (error.subject.map { " " + $0 } ?? ""), errno: error.errno)
        }
        // The network helper and the FUSE overlay's server enter through these (this process is
        // undumpable, so the host side could not open its /proc/PID/ns, nor join by pidfd).
        // First thing: tap0 is made, and the rootfs served, while we mount.
        var shared: [(Int32, String)] = []
        var slirp = false
        if case .slirp = spec.network { slirp = true }
        if !namespacesSent {
            if spec.rootfs.driver == .fuseOverlay || slirp { shared.append((NamespaceSet.user.rawValue, "user")) }
            if slirp { shared.append((NamespaceSet.network.rawValue, "net")) }
        }
        if !shared.isEmpty {
            for (flag, name) in shared {
                let fd = open("/proc/self/ns/" + name, O_RDONLY | O_CLOEXEC)
                if fd < 0 { channel.fail("open /proc/self/ns/\(name)", errno: errno) }
                channel.send(type: Int(SWCTR_SYNC_NAMESPACE), value: flag, fd: fd)
                close(fd)
            }
        }
        do {
            try mountRootfs()
            try pivotIntoRoot()
        } catch {
            channel.fail(error.call + (error.subject.map { " " + $0 } ?? ""), errno: error.errno)
        }
        if !spec.hostname.isEmpty && sethostname(spec.hostname, spec.hostname.utf8.count) != 0 {
            channel.fail("sethostname \(spec.hostname)", errno: errno)
        }
        if spec.network.needsNamespace && swctr_loopback_up() != 0 {
            channel.fail("bring up the loopback interface", errno: errno)
        }
        var launcher = ProcessLauncher(process: spec.process, channel: channel, seccompProgram: seccompProgram)
        launcher.loadBuiltinFilterEarly()
        // The parent starts what the container needs around it (the network helper) and writes a
        // foreground run's record meanwhile.
        channel.waitForGo()
        launcher.launch()
    }

    // MARK: - Filesystems

    private func mountRootfs() throws(SystemCallError) {
        let plan = spec.rootfs
        switch plan.driver {
        case .overlay: try Self.mountOverlay(plan)
        case .fuseOverlay: break  // mounted first thing
        case .copy:
            try mounter.mount(plan.upperDirectory, plan.mountPoint, nil, MountFlag.bind, nil, step: "bind the container's copy of the image")
        }
        let root = try RootDirectory(path: plan.mountPoint)
        defer { root.fd.close() }

        try mountAt(root, "proc", directory: true) { (target) throws(SystemCallError) in
            try mounter.mount("proc", target, "proc", MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec, nil, step: "mount /proc")
        }
        try mountDev(root)
        try mountSys(root)
        // Parents before children, whatever order the flags came in.
        let mounts = spec.mounts.sorted { $0.destination.split(separator: "/").count < $1.destination.split(separator: "/").count }
        for mount in mounts {
            try mountVolume(mount, root: root)
        }
        // After the volumes (a volume on /etc gets them too), unless the user mounted that file.
        let userPaths = Set(mounts.map { "/" + $0.destination.split(separator: "/").map(String.init).concatenated(separator: "/") })
        for file in spec.generatedFiles where !userPaths.contains("/" + file.containerPath) {
            try mountAt(root, file.containerPath, directory: false) { (target) throws(SystemCallError) in
                try mounter.mount(file.hostPath, target, nil, MountFlag.bind, nil, step: "bind \(file.containerPath)")
            }
        }
        for path in spec.maskedPaths {
            try mask(path, root: root)
        }
        for path in spec.readOnlyPaths {
            try makeReadOnly(path, root: root)
        }
        if spec.readOnlyRoot {
            try mounter.mount(nil, plan.mountPoint, nil, MountFlag.remount | MountFlag.bind | MountFlag.readOnly, nil,
                              step: "make the root filesystem read-only (--read-only)")
        }
    }

    /// A bind mount (volumes are bind mounts of their data directory) or a tmpfs, at a
    /// destination resolved inside the root: a symlink in the image cannot send it elsewhere.
    private func mountVolume(_ mount: ContainerMount, root: RootDirectory) throws(SystemCallError) {
        let destination = mount.destination
        switch mount.kind {
        case .tmpfs:
            var flags: UInt = 0
            if mount.noExec { flags |= MountFlag.noExec }
            if mount.noSetuid { flags |= MountFlag.noSetuid }
            if mount.noDevices { flags |= MountFlag.noDevices }
            if mount.readOnly { flags |= MountFlag.readOnly }
            try mountAt(root, destination, directory: true) { (target) throws(SystemCallError) in
                try mounter.mount("tmpfs", target, "tmpfs", flags, mount.options.isEmpty ? nil : mount.options.concatenated(separator: ","),
                                  step: "mount a tmpfs on \(destination)")
            }
        case .bind:
            guard let source = mount.source else { return }
            var info = stat()
            guard stat(source, &info) == 0 else {
                throw SystemCallError("bind mount \(source) on \(destination): the host path", errno: errno)
            }
            let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
            let target = try root.ensure(destination, directory: isDirectory)
            defer { target.close() }
            if mount.copyImageContent && isDirectory {
                try copyImageContent(from: target, into: source, destination: destination)
            }
            try mounter.mount(source, RootDirectory.procPath(target), nil, MountFlag.bind | MountFlag.recursive, nil,
                              step: "bind mount \(source) on \(destination)")
            if mount.readOnly {
                try remountReadOnly(destination, root: root, step: "make \(destination) read-only")
            }
        }
    }

    /// A volume's first use: what the image has at the mount point goes into the empty volume.
    private func copyImageContent(from target: FileDescriptor, into source: String, destination: String) throws(SystemCallError) {
        let volume = open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard volume >= 0 else { throw SystemCallError("open the volume for \(destination)", on: source, errno: errno) }
        defer { close(volume) }
        guard (try? FileSystem.listDirectory(source))?.isEmpty ?? false else { return }
        let image = swctr_openat2(target.rawValue, ".", UInt64(O_RDONLY | O_DIRECTORY | O_CLOEXEC), 0, 0)
        guard image >= 0 else { return }
        defer { close(image) }
        do {
            try TreeCopy.copyContents(from: image, to: volume)
        } catch {
            throw SystemCallError("copy the image's \(destination) into its new volume: \(error.call)", on: error.subject, errno: error.errno)
        }
        TreeCopy.copyAttributes(of: image, to: volume)
    }

    /// Hides a path: an empty read-only tmpfs over a directory, /dev/null over a file.
    private func mask(_ path: String, root: RootDirectory) throws(SystemCallError) {
        guard let target = root.existing(path) else { return }
        defer { target.close() }
        var info = stat()
        guard fstat(target.rawValue, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            try mounter.mount("tmpfs", RootDirectory.procPath(target), "tmpfs", MountFlag.readOnly | MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec,
                              "size=0,mode=555", step: "mask \(path)")
        } else {
            try mounter.mount("/dev/null", RootDirectory.procPath(target), nil, MountFlag.bind, nil, step: "mask \(path)")
        }
    }

    private func makeReadOnly(_ path: String, root: RootDirectory) throws(SystemCallError) {
        guard let target = root.existing(path) else { return }
        let targetPath = RootDirectory.procPath(target)
        do {
            try mounter.mount(targetPath, targetPath, nil, MountFlag.bind | MountFlag.recursive, nil, step: "bind \(path) to make it read-only")
        } catch {
            target.close()
            throw error
        }
        target.close()
        try remountReadOnly(path, root: root, step: "make \(path) read-only")
    }

    /// Remounts the mount now at `path` read-only, keeping the flags the kernel locks (a user
    /// namespace may not clear nosuid, nodev or noexec set by its parent).
    private func remountReadOnly(_ path: String, root: RootDirectory, step: String) throws(SystemCallError) {
        guard let mounted = root.existing(path) else { throw SystemCallError(step, errno: ENOENT) }
        defer { mounted.close() }
        var info = statvfs()
        var flags = MountFlag.remount | MountFlag.bind | MountFlag.readOnly
        if fstatvfs(mounted.rawValue, &info) == 0 {
            let kept: [(UInt, UInt)] = [(2, MountFlag.noSetuid), (4, MountFlag.noDevices), (8, MountFlag.noExec),
                                        (1024, MountFlag.noAccessTime), (2048, MountFlag.noDirectoryAccessTime), (4096, MountFlag.relativeAccessTime)]
            for (statFlag, mountFlag) in kept where info.f_flag & statFlag != 0 { flags |= mountFlag }
        }
        try mounter.mount(nil, RootDirectory.procPath(mounted), nil, flags, nil, step: step)
    }

    /// Mounts FUSE at the plan's mount point and hands the /dev/fuse fd to the parent, which starts
    /// the overlay's server on it (in this user namespace, outside this mount namespace). Until
    /// the server answers, the first access to the mount waits.
    private func mountFuseOverlay(_ plan: RootfsPlan) throws(SystemCallError) {
        let device = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        guard device >= 0 else { throw SystemCallError("open /dev/fuse for the FUSE overlay", errno: errno) }
        defer { close(device) }
        let options = "fd=\(device),rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions"
        try systemCall("mount the FUSE overlay root filesystem", on: plan.mountPoint) {
            Glibc.mount("swctr-overlay", plan.mountPoint, "fuse.swctr-overlay", 0, options)
        }
        channel.send(type: Int(SWCTR_SYNC_FUSE), fd: device)
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
        let options = "lowerdir=\(lowers.concatenated(separator: ":")),upperdir=\(plan.upperDirectory),workdir=\(plan.workDirectory),userxattr"
            + (plan.volatile ? ",volatile" : "")
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
        defer { mountCgroup(root) }
        try mountAt(root, "sys", directory: true) { (target) throws(SystemCallError) in
            let flags = (spec.privileged ? 0 : MountFlag.readOnly) | MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec
            if spec.network.isolatesNetwork, (try? mounter.mount("sysfs", target, "sysfs", flags, nil, step: "mount /sys")) != nil {
                return
            }
            // Without a network namespace of our own sysfs cannot be mounted: bind the host's, read-only.
            try mounter.mount("/sys", target, nil, MountFlag.bind | MountFlag.recursive, nil, step: "bind /sys")
            _ = Glibc.mount(nil, target, nil, MountFlag.remount | MountFlag.bind | MountFlag.readOnly | flags, nil)
        }
    }

    /// The container's own cgroup (its cgroup namespace makes it the root) at /sys/fs/cgroup,
    /// read-only, where the host has cgroup v2; nothing where it has not.
    private func mountCgroup(_ root: RootDirectory) {
        guard let target = root.existing("sys/fs/cgroup") else { return }
        defer { target.close() }
        let flags = (spec.privileged ? 0 : MountFlag.readOnly) | MountFlag.noSetuid | MountFlag.noDevices | MountFlag.noExec
        _ = Glibc.mount("cgroup2", RootDirectory.procPath(target), "cgroup2", flags, nil)
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
