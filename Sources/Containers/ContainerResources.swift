import Cgroups
import Rootfs
import Runtime
import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// Where a container's cgroup is recorded while it exists, and what its end leaves behind: the
/// bridge between the container's lifecycle and the Cgroups module.
enum ContainerResources {
    /// The file in the container's directory naming its cgroup (and the monitor's leaf).
    static func cgroupFile(_ directory: ContainerDirectory) -> String { directory.path + "/cgroup" }
    /// Present after a run that the OOM killer ended.
    static func oomFile(_ directory: ContainerDirectory) -> String { directory.path + "/oom-killed" }

    /// Run by the container's monitor before it starts the container: moves the monitor into a
    /// leaf of its delegated cgroup and makes the container's cgroup with the limits. Nil when
    /// the host gives no cgroup and none is needed.
    static func prepare(_ record: ContainerRecord, directory: ContainerDirectory,
                        host: CgroupHost = CgroupHost.current()) throws(StartFailure) -> ContainerCgroup? {
        let limits = record.settings.resources ?? ResourceLimits()
        do {
            try host.check(limits)
        } catch {
            throw StartFailure(exitCode: 125, userMessage: error.userMessage)
        }
        guard host.isAvailable else { return nil }
        let names: (supervisor: String, container: String)
        if SystemdScope.isInside() {
            names = ("supervisor", "container")
        } else {
            names = ("swctr-\(record.shortID)-monitor", "swctr-\(record.shortID)")
        }
        do {
            let cgroup = try ContainerCgroup.prepare(host: host, limits: limits, supervisorName: names.supervisor, containerName: names.container)
            try? FileSystem.writeAtomically(cgroupFile(directory), cgroup.path + "\n", mode: 0o600)
            try? FileSystem.removeTree(oomFile(directory))
            return cgroup
        } catch {
            // Without limits a container runs without a cgroup rather than not at all.
            if limits.requirements.isEmpty { return nil }
            throw StartFailure(exitCode: 125, userMessage: error.userMessage)
        }
    }

    /// Puts the container's init (not yet running its command) in its cgroup.
    static func place(_ pid: ProcessID, in cgroup: ContainerCgroup?) throws(StartFailure) {
        do { try cgroup?.add(pid) } catch { throw StartFailure(exitCode: 125, userMessage: error.userMessage) }
    }

    /// Runs `body` (which starts the container's init) with this process's oom_score_adj set to
    /// --oom-score-adj, so the init inherits it (its own /proc file belongs to its mapped root).
    static func withOOMScoreAdjustment<T>(_ limits: ResourceLimits?, _ body: () throws(StartFailure) -> T) throws(StartFailure) -> T {
        guard let value = limits?.oomScoreAdjustment else { return try body() }
        let old: Int
        do { old = try ContainerCgroup.setOwnOOMScoreAdjustment(value) } catch {
            throw StartFailure(exitCode: 125, userMessage: error.userMessage)
        }
        defer { _ = try? ContainerCgroup.setOwnOOMScoreAdjustment(old) }
        return try body()
    }

    /// After the container's init ended: notes an OOM kill, kills what is left, removes the cgroup.
    static func finish(_ cgroup: ContainerCgroup?, directory: ContainerDirectory) {
        guard let cgroup else { return }
        if cgroup.oomKillCount > 0 { try? FileSystem.writeAtomically(oomFile(directory), "1\n", mode: 0o600) }
        try? cgroup.remove()
        try? FileSystem.removeTree(cgroupFile(directory))
    }

    /// The container's cgroup while it has one.
    static func cgroup(of directory: ContainerDirectory) -> ContainerCgroup? {
        guard let text = try? FileSystem.readText(cgroupFile(directory)) else { return nil }
        let path = text.split(separator: "\n").first.map(String.init) ?? ""
        guard path.hasPrefix("/") else { return nil }
        let cgroup = ContainerCgroup(path: path)
        return cgroup.exists ? cgroup : nil
    }

    /// Whether the OOM killer ended the container's last run.
    static func wasOOMKilled(_ directory: ContainerDirectory) -> Bool { FileSystem.exists(oomFile(directory)) }

    /// For `rm`: kills anything still in the container's cgroup and removes it (and the
    /// monitor's leaf when it sat beside it in a shared cgroup).
    static func removeCgroup(of directory: ContainerDirectory, shortID: String) {
        guard let text = try? FileSystem.readText(cgroupFile(directory)) else { return }
        for line in text.split(separator: "\n") where line.hasPrefix("/") {
            let cgroup = ContainerCgroup(path: String(line))
            try? cgroup.remove()
            if cgroup.path.hasSuffix("/swctr-\(shortID)") { try? ContainerCgroup(path: cgroup.path + "-monitor").remove() }
        }
    }
}
