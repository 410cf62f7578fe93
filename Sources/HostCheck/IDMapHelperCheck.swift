import CLinux
import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// newuidmap/newgidmap: found where swctr looks (PATH, then the system directories), setuid root
/// (or with file capabilities), and actually mapping the user's subordinate ranges.
struct IDMapHelperCheck: Check {
    let name = "newuidmap"

    func run(on host: HostContext) -> CheckResult {
        let tools = ["newuidmap", "newgidmap"]
        let found = tools.map { ChildProcess.findExecutable($0) }
        let missing = zip(tools, found).filter { $0.1 == nil }.map(\.0)
        if !missing.isEmpty {
            return result(.failed, "\(missing.joined(separator: " and ")) not found on PATH or in the system directories: only a single-id user namespace is possible",
                          fix: PackageInstaller.command(for: "uidmap"))
        }
        let paths = found.compactMap { $0 }
        let unprivileged = paths.filter { !Self.isPrivileged($0) }
        if !unprivileged.isEmpty {
            return result(.failed, "\(unprivileged.joined(separator: " and ")) not setuid root (and no file capabilities): they cannot write id maps",
                          fix: "sudo chown root:root \(unprivileged.joined(separator: " ")) && sudo chmod u+s \(unprivileged.joined(separator: " "))")
        }
        let plan = IDMapPlan.forCurrentUser(
            subuidText: try? FileSystem.readText("/etc/subuid"), subgidText: try? FileSystem.readText("/etc/subgid"),
            userName: host.userName, uid: host.uid, gid: host.gid, newuidmap: paths[0], newgidmap: paths[1])
        guard case .helpers = plan.writer else {
            return result(.ok, "\(paths.joined(separator: " and ")) are setuid root (not tried: \(host.userName) has no subordinate ids)")
        }
        var written: (uid: String, gid: String)?
        let failure = NamespaceTrial.run(.hold, namespaces: .user, idMaps: plan) { pid in
            written = ((try? FileSystem.readText("/proc/\(pid.rawValue)/uid_map")) ?? "", (try? FileSystem.readText("/proc/\(pid.rawValue)/gid_map")) ?? "")
        }
        if let failure {
            return result(.failed, "newuidmap/newgidmap could not map \(host.userName)'s subordinate ids: \(failure)",
                          fix: "sudo chmod u+s \(paths.joined(separator: " "))")
        }
        let uids = Self.mappedCount(written?.uid ?? "")
        let gids = Self.mappedCount(written?.gid ?? "")
        let expectedUIDs = plan.uidMappings.reduce(UInt64(0)) { $0 + UInt64($1.size) }
        let expectedGIDs = plan.gidMappings.reduce(UInt64(0)) { $0 + UInt64($1.size) }
        guard uids == expectedUIDs, gids == expectedGIDs else {
            return result(.failed, "the namespace got \(uids) uids and \(gids) gids, not the \(expectedUIDs) and \(expectedGIDs) planned",
                          fix: "grep \(host.userName) /etc/subuid /etc/subgid")
        }
        return result(.ok, "\(paths[0]) (setuid root) mapped \(uids) uids and \(gids) gids into a new user namespace")
    }

    /// Setuid root, or carrying file capabilities (some distributions ship them that way).
    static func isPrivileged(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        if info.st_uid == 0 && info.st_mode & S_ISUID != 0 { return true }
        return swctr_xattr_size(path, "security.capability") > 0
    }

    /// The ids a /proc/PID/uid_map text maps in total.
    static func mappedCount(_ text: String) -> UInt64 {
        text.split(separator: "\n").reduce(0) { total, line in
            let fields = line.split(separator: " ")
            return total + (fields.count == 3 ? UInt64(fields[2]) ?? 0 : 0)
        }
    }
}

/// The command that installs a distribution package, for the package managers swctr knows.
enum PackageInstaller {
    static func command(for debianPackage: String) -> String {
        if ChildProcess.findExecutable("apt-get") != nil { return "sudo apt-get install \(debianPackage)" }
        let names = ["uidmap": "shadow-utils"]
        let package = names[debianPackage] ?? debianPackage
        if ChildProcess.findExecutable("dnf") != nil { return "sudo dnf install \(package)" }
        if ChildProcess.findExecutable("zypper") != nil { return "sudo zypper install \(package)" }
        if ChildProcess.findExecutable("pacman") != nil { return "sudo pacman -S \(debianPackage == "uidmap" ? "shadow" : package)" }
        return "install your distribution's \(debianPackage) (or shadow-utils) package"
    }
}
