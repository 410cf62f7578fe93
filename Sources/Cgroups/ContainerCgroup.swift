import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// One container's cgroup: a leaf under the delegated cgroup the container's monitor runs in.
///
/// Layout (the no-internal-process rule: a cgroup that hands controllers to children holds no
/// processes itself):
///
///     BASE/                      the monitor's delegated cgroup (its systemd scope)
///     BASE/supervisor            the monitor, moved here first
///     BASE/container             the container's processes, with the limits
public struct ContainerCgroup: Sendable, Equatable {
    /// Path under the cgroup2 mount, e.g. /user.slice/…/app.slice/swctr-0123abcd.scope/container.
    public let path: String
    /// The leaf the monitor sits in (beside `path`), when this process made the cgroup.
    public let supervisorPath: String?

    public init(path: String, supervisorPath: String? = nil) {
        self.path = path
        self.supervisorPath = supervisorPath
    }

    public var directory: String { CgroupHost.mountPoint + path }

    /// Run by the process that will start the container, inside its delegated cgroup: moves
    /// itself into a leaf, enables the controllers the host offers, makes the container's cgroup
    /// and applies `limits`. `names` are the leaves' names (unique per container under a shared
    /// cgroup).
    public static func prepare(
        host: CgroupHost, limits: ResourceLimits,
        supervisorName: String = "supervisor", containerName: String = "container"
    ) throws(CgroupError) -> ContainerCgroup {
        guard let base = CgroupHost.parseOwnPath((try? FileSystem.readText("/proc/self/cgroup")) ?? "") else {
            throw .file(SystemCallError("read", on: "/proc/self/cgroup", errno: ENOENT))
        }
        let baseDirectory = CgroupHost.mountPoint + base
        let supervisor = baseDirectory + "/" + supervisorName
        try CgroupFiles.makeDirectory(supervisor)
        try CgroupFiles.write(supervisor + "/cgroup.procs", "0")
        let offered = CgroupController.parseList((try? FileSystem.readText(baseDirectory + "/cgroup.controllers")) ?? "")
        let needed = Set(limits.requirements.map(\.controller))
        for controller in offered.union(needed).sorted() {
            do {
                try CgroupFiles.write(baseDirectory + "/cgroup.subtree_control", "+" + controller.rawValue)
            } catch {
                if needed.contains(controller) { throw error }
            }
        }
        let cgroup = ContainerCgroup(path: base + "/" + containerName, supervisorPath: base + "/" + supervisorName)
        try CgroupFiles.makeDirectory(cgroup.directory)
        do {
            try cgroup.apply(limits)
        } catch {
            try? cgroup.remove()
            throw error
        }
        return cgroup
    }

    /// Writes the limits' files (memory.swap.max only where swap is accounted).
    public func apply(_ limits: ResourceLimits) throws(CgroupError) {
        for (file, value) in limits.fileValues {
            let path = directory + "/" + file
            if file == "memory.swap.max" && !FileSystem.exists(path) { continue }
            try CgroupFiles.write(path, value)
        }
    }

    /// Moves a process (the container's init, before it runs its command) into the cgroup.
    public func add(_ pid: ProcessID) throws(CgroupError) {
        try CgroupFiles.write(directory + "/cgroup.procs", String(pid.rawValue))
    }

    /// Runs `body` (which starts the container's init) with this process in the container's
    /// cgroup, then moves it back to its leaf: the children it starts are born in the cgroup, so
    /// a cgroup namespace they make has the container's cgroup as its root.
    public func whileInside<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        guard let supervisorPath, (try? CgroupFiles.write(directory + "/cgroup.procs", "0")) != nil else { return try body() }
        defer { _ = try? CgroupFiles.write(CgroupHost.mountPoint + supervisorPath + "/cgroup.procs", "0") }
        return try body()
    }

    /// cgroup.freeze, waiting (up to 5 s) until cgroup.events says the cgroup is (un)frozen.
    public func setFrozen(_ frozen: Bool) throws(CgroupError) {
        try CgroupFiles.write(directory + "/cgroup.freeze", frozen ? "1" : "0")
        let deadline = MonotonicClock.now + 5
        while MonotonicClock.now < deadline {
            if isFrozen == frozen { return }
            MonotonicClock.sleep(0.01)
        }
    }

    public var isFrozen: Bool {
        CgroupFiles.keyedValues((try? FileSystem.readText(directory + "/cgroup.events")) ?? "")["frozen"] == 1
    }

    public var exists: Bool { FileSystem.isDirectory(directory) }

    /// SIGKILLs every process in the cgroup (cgroup.kill, Linux 5.14; else each pid in cgroup.procs).
    public func killAll() {
        if (try? CgroupFiles.write(directory + "/cgroup.kill", "1")) != nil { return }
        for line in ((try? FileSystem.readText(directory + "/cgroup.procs")) ?? "").split(separator: "\n") {
            if let pid = Int32(line) { kill(pid, SIGKILL) }
        }
    }

    /// How many times the kernel's OOM killer killed a process here (memory.events oom_kill).
    public var oomKillCount: Int64 {
        CgroupFiles.keyedValues((try? FileSystem.readText(directory + "/memory.events")) ?? "")["oom_kill"] ?? 0
    }

    /// Kills what is left and removes the cgroup (children first), retrying while the last
    /// processes are still exiting (up to 2 s).
    public func remove() throws(CgroupError) {
        guard exists else { return }
        killAll()
        let deadline = MonotonicClock.now + 2
        while true {
            do {
                try Self.removeTree(directory)
                return
            } catch {
                if MonotonicClock.now > deadline { throw error }
                MonotonicClock.sleep(0.02)
            }
        }
    }

    static func removeTree(_ directory: String) throws(CgroupError) {
        for entry in (try? FileSystem.listDirectory(directory)) ?? [] where FileSystem.isDirectory(directory + "/" + entry) {
            try removeTree(directory + "/" + entry)
        }
        if rmdir(directory) != 0 && errno != ENOENT { throw .file(SystemCallError("rmdir", on: directory)) }
    }

    /// Sets this process's oom_score_adj (inherited by the children it starts next); returns the
    /// old value. Raising needs no privilege, and lowering back to the old value neither.
    public static func setOwnOOMScoreAdjustment(_ value: Int) throws(CgroupError) -> Int {
        let path = "/proc/self/oom_score_adj"
        let old = CgroupFiles.number(path).map(Int.init) ?? 0
        do { try CgroupFiles.write(path, String(value)) } catch {
            if case .file(let cause) = error { throw .oomScoreAdjustment(value, cause) }
            throw error
        }
        return old
    }
}
