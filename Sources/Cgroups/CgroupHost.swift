import SystemSupport
#if canImport(Glibc)
    import Glibc
#endif

/// How the host mounts cgroups.
public enum CgroupHierarchy: String, Sendable {
    /// cgroup2 at /sys/fs/cgroup: the only hierarchy.
    case unified
    /// v1 controllers at /sys/fs/cgroup/*, a cgroup2 (usually controller-less) at /sys/fs/cgroup/unified.
    case hybrid
    /// v1 only.
    case legacy
}

/// Where this user's containers can get a cgroup of their own.
public enum CgroupPlacement: Sendable, Equatable {
    /// Each container's monitor runs in a transient systemd user scope with `Delegate=yes`
    /// (made by `systemd-run --user --scope`), the sanctioned way to get a delegated cgroup out
    /// of a login session. `systemdRun` is the program's path.
    case systemdScope(systemdRun: String)
    /// The process's own cgroup (from /proc/self/cgroup) is writable: container cgroups go under it.
    case ownCgroup(path: String)
    /// No cgroup for containers; `reason` says why and what to do.
    case unavailable(reason: String)
}

/// What the host offers this user: the hierarchy, the user's own cgroup, the controllers it may
/// enable, and where container cgroups go. Found once per command from /proc and /sys.
public struct CgroupHost: Sendable {
    public static let mountPoint = "/sys/fs/cgroup"

    public let hierarchy: CgroupHierarchy
    /// The process's cgroup v2 path (relative to the mount point), from the "0::" line.
    public let ownPath: String?
    /// Controllers containers can be given.
    public let controllers: Set<CgroupController>
    public let placement: CgroupPlacement
    /// The cgroup whose controller list `controllers` came from (for messages).
    public let delegatingCgroup: String?

    public init(
        hierarchy: CgroupHierarchy, ownPath: String?, controllers: Set<CgroupController>, placement: CgroupPlacement,
        delegatingCgroup: String?
    ) {
        self.hierarchy = hierarchy
        self.ownPath = ownPath
        self.controllers = controllers
        self.placement = placement
        self.delegatingCgroup = delegatingCgroup
    }

    /// The host as this process sees it. `SWCTR_CGROUP_MANAGER=cgroupfs` skips systemd (own cgroup
    /// only), `=none` turns container cgroups off.
    public static func current(environment: [String: String] = ProcessEnvironment.current) -> CgroupHost {
        let hierarchy: CgroupHierarchy
        if FileSystem.exists(mountPoint + "/cgroup.controllers") {
            hierarchy = .unified
        } else if FileSystem.exists(mountPoint + "/unified/cgroup.controllers") {
            hierarchy = .hybrid
        } else {
            hierarchy = .legacy
        }
        let own = parseOwnPath((try? FileSystem.readText("/proc/self/cgroup")) ?? "")
        guard hierarchy == .unified, let own else {
            let reason: String
            switch hierarchy {
            case .hybrid:
                reason =
                    "this host has a hybrid cgroup hierarchy (v1 controllers) — boot with systemd.unified_cgroup_hierarchy=1, and delegate with \(CgroupAdvice.delegateDropIn)"
            case .legacy:
                reason = "this host has only cgroup v1 — boot with systemd.unified_cgroup_hierarchy=1, and delegate with \(CgroupAdvice.delegateDropIn)"
            case .unified: reason = "this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup)"
            }
            return CgroupHost(hierarchy: hierarchy, ownPath: own, controllers: [], placement: .unavailable(reason: reason), delegatingCgroup: nil)
        }
        let manager = environment["SWCTR_CGROUP_MANAGER"] ?? ""
        if manager == "none" {
            return CgroupHost(
                hierarchy: hierarchy, ownPath: own, controllers: [],
                placement: .unavailable(reason: "container cgroups are off (SWCTR_CGROUP_MANAGER=none)"), delegatingCgroup: nil)
        }
        let uid = getuid()
        // systemd's user manager: its cgroup lists what user@UID.service was delegated.
        let userService = "/user.slice/user-\(uid).slice/user@\(uid).service"
        if manager != "cgroupfs", uid != 0, FileSystem.isDirectory(mountPoint + userService),
            let runtime = environment["XDG_RUNTIME_DIR"], FileSystem.exists(runtime + "/bus"),
            let systemdRun = ChildProcess.findExecutable("systemd-run")
        {
            let controllers = CgroupController.parseList((try? FileSystem.readText(mountPoint + userService + "/cgroup.controllers")) ?? "")
            return CgroupHost(
                hierarchy: hierarchy, ownPath: own, controllers: controllers,
                placement: .systemdScope(systemdRun: systemdRun), delegatingCgroup: "user@\(uid).service")
        }
        let directory = mountPoint + own
        if access(directory, W_OK) == 0, access(directory + "/cgroup.procs", W_OK) == 0,
            access(directory + "/cgroup.subtree_control", W_OK) == 0
        {
            let controllers = CgroupController.parseList((try? FileSystem.readText(directory + "/cgroup.controllers")) ?? "")
            return CgroupHost(
                hierarchy: hierarchy, ownPath: own, controllers: controllers, placement: .ownCgroup(path: own),
                delegatingCgroup: own)
        }
        let reason =
            "your cgroup \(own) is not writable by you and there is no systemd user manager to ask for a delegated scope"
            + " — log in through systemd-logind (so user@\(uid).service runs), with \(CgroupAdvice.delegateDropIn)"
        return CgroupHost(hierarchy: hierarchy, ownPath: own, controllers: [], placement: .unavailable(reason: reason), delegatingCgroup: nil)
    }

    /// The path of the "0::PATH" line of /proc/self/cgroup.
    public static func parseOwnPath(_ text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("0::") {
            let path = String(line.dropFirst(3))
            return path.isEmpty ? nil : path
        }
        return nil
    }

    /// Why `controller` cannot be had, or nil when it can.
    public func missingReason(for controller: CgroupController) -> String? {
        if case .unavailable(let reason) = placement { return reason }
        if controllers.contains(controller) { return nil }
        let have = controllers.isEmpty ? "no controllers" : "only " + controllers.sorted().map(\.rawValue).joined(separator: " ")
        return "\(delegatingCgroup ?? "your cgroup") has \(have) — add \(CgroupAdvice.delegateDropIn), then systemctl daemon-reload and log in again"
    }

    /// Checks that every controller `limits` needs is available; the error names the first flag
    /// that cannot be honoured.
    public func check(_ limits: ResourceLimits) throws(CgroupError) {
        for (flag, controller) in limits.requirements {
            if let reason = missingReason(for: controller) {
                throw .controllerUnavailable(flag: flag, controller: controller, reason: reason)
            }
        }
    }

    public var isAvailable: Bool {
        if case .unavailable = placement { return false }
        return true
    }
}
