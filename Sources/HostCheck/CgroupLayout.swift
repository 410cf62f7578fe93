import CLinux
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// How this host mounts cgroups and where this process's own cgroup is (read, never changed).
public struct CgroupLayout: Codable, Sendable {
    public enum Version: String, Codable, Sendable {
        /// cgroup v2 only, at /sys/fs/cgroup.
        case unified = "v2"
        /// v1 hierarchies hold the controllers; a v2 hierarchy at /sys/fs/cgroup/unified.
        case hybrid = "v1 (hybrid)"
        case legacy = "v1"
    }

    public let version: Version
    /// `systemd` when systemd runs the host (it owns the cgroup tree), else `cgroupfs`.
    public let manager: String
    /// This process's cgroup in the v2 hierarchy, as in /proc/self/cgroup.
    public let path: String
    /// The v2 controllers available in that cgroup (cgroup.controllers).
    public let controllers: [String]
    /// The controllers enabled for its children (cgroup.subtree_control).
    public let subtreeControl: [String]
    /// The user may create child cgroups there and enable controllers for them.
    public let writable: Bool

    static let cgroup2Magic = 0x6367_7270

    public static func current() -> CgroupLayout {
        let manager = FileSystem.isDirectory("/run/systemd/system") ? "systemd" : "cgroupfs"
        let version: Version
        let mountPoint: String
        if isCgroup2("/sys/fs/cgroup") {
            (version, mountPoint) = (.unified, "/sys/fs/cgroup")
        } else if isCgroup2("/sys/fs/cgroup/unified") {
            (version, mountPoint) = (.hybrid, "/sys/fs/cgroup/unified")
        } else {
            return CgroupLayout(version: .legacy, manager: manager, path: "", controllers: [], subtreeControl: [], writable: false)
        }
        let lines = ((try? FileSystem.readText("/proc/self/cgroup")) ?? "").split(separator: "\n")
        let path = lines.first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) } ?? "/"
        let directory = mountPoint + (path == "/" ? "" : path)
        func words(_ file: String) -> [String] {
            ((try? FileSystem.readText(directory + "/" + file)) ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        }
        let writable = access(directory, W_OK) == 0 && access(directory + "/cgroup.subtree_control", W_OK) == 0
        return CgroupLayout(version: version, manager: manager, path: path, controllers: words("cgroup.controllers"),
                            subtreeControl: words("cgroup.subtree_control"), writable: writable)
    }

    static func isCgroup2(_ path: String) -> Bool {
        swctr_filesystem_type(path) == cgroup2Magic
    }
}

/// cgroup v2 with cpu, memory and pids delegated to the user: what resource limits need.
struct CgroupCheck: Check {
    let name = "cgroups"
    static let needed = ["cpu", "memory", "pids"]
    static let delegationFix = "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload"
    static let unifiedFix = "sudo sed -i 's/^GRUB_CMDLINE_LINUX=\"/&systemd.unified_cgroup_hierarchy=1 /' /etc/default/grub && sudo update-grub && sudo reboot"

    func run(on host: HostContext) -> CheckResult {
        let layout = CgroupLayout.current()
        let limits = "--memory, --cpus and --pids-limit cannot be honoured"
        switch layout.version {
        case .legacy:
            return result(.warning, "cgroup v1 only: not delegated; \(limits)", fix: Self.unifiedFix)
        case .hybrid:
            let v2 = layout.controllers.isEmpty ? "none" : layout.controllers.joined(separator: " ")
            return result(.warning, "hybrid cgroups (v1 holds the controllers; v2 has only: \(v2)): not delegated; \(limits)", fix: Self.unifiedFix)
        case .unified:
            let missing = Self.needed.filter { !layout.controllers.contains($0) }
            if !layout.writable || !missing.isEmpty {
                let why = !layout.writable ? "\(layout.path) is not writable by \(host.userName)" : "\(layout.path) lacks \(missing.joined(separator: " "))"
                return result(.warning, "cgroup v2, not delegated: \(why); \(limits)", fix: Self.delegationFix)
            }
            return result(.ok, "cgroup v2, \(layout.path) delegated with \(layout.controllers.joined(separator: " "))")
        }
    }
}
